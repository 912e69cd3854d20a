// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask package`: the Debian packages built and linted, and with `--test` installed in
//! a fresh chroot and booted (the work is `package/`'s). It boots Debian's 7.3 only, and takes
//! no `--kernel`.

use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::{package, setup, tools};
use anyhow::Result;
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct PackageOpts {
    /// Also run the installation test in a fresh chroot (about 5 minutes).
    #[arg(long)]
    pub test: bool,
}

pub fn package(paths: &Paths, o: &PackageOpts) -> Result<ExitCode> {
    setup::setup(paths)?;
    let tools = tools::build(paths)?;
    let mut tally = Tally::default();
    package::run(paths, &tools, o.test, &mut tally)?;
    Ok(tally.finish(""))
}
