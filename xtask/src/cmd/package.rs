// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask package`: the Debian packages built and linted, and with `--test` installed
//! with `apt` in Debian systems of 7.3 and 7.2 booted with systemd, and taken through their
//! life in a chroot (the work is `package/`'s). It takes no `--kernel`: the kernels are
//! Debian's own.

use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::{package, setup, tools};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct PackageOpts {
    /// Also run the installation test: both systems and the life in a chroot (about 20
    /// minutes cold, when the system images must be made).
    #[arg(long)]
    pub test: bool,
    /// With --test, only these parts of it.
    #[arg(long, value_enum, requires = "test")]
    pub only: Vec<package::Part>,
}

pub fn package(paths: &Paths, o: &PackageOpts) -> Result<ExitCode> {
    setup::setup(paths)?;
    let tools = tools::build(paths)?;
    let mut tally = Tally::default();
    let parts = match (o.test, o.only.is_empty()) {
        (false, _) => &[][..],
        (true, true) => package::Part::ALL,
        (true, false) => &o.only[..],
    };
    package::run(paths, &tools, parts, &mut tally)?;
    Ok(tally.finish(""))
}
