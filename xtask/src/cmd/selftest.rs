// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask selftest`: the self-tests and scenarios of `selftest/` alone, on the minimal
//! kernel.

use crate::guest::opts::GuestOpts;
use crate::kernels::choice::{KernelChoice, refuse_others};
use crate::kernels::ensure;
use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::selftest::{cases, run::run_matching};
use crate::{setup, tools};
use anyhow::{Result, bail};
use clap::Args;
use std::process::ExitCode;

#[derive(Debug, Clone, Args)]
pub struct SelftestOpts {
    #[command(flatten)]
    pub guest: GuestOpts,
    /// Run only the cases whose name (`selftest-...` or `scenario-...`) contains one of these.
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

pub fn selftest(paths: &Paths, o: &SelftestOpts) -> Result<ExitCode> {
    refuse_others(
        "selftest",
        o.guest.kernel,
        &[KernelChoice::Minimal],
        "the self-tests and scenarios run on the minimal kernel only",
    )?;
    let all = cases::names();
    for n in &o.names {
        if !all.iter().any(|a| a.contains(n.as_str())) {
            bail!("no self-test matches {n:?}; the cases: {}", all.join(", "));
        }
    }
    let source = setup::setup(paths)?;
    let built = ensure::ensure(paths, &source, KernelChoice::Minimal, true)?;
    let tools = tools::build(paths)?;
    let mut tally = Tally::default();
    run_matching(paths, &built, &tools, &o.guest, &mut tally, &o.names)?;
    Ok(tally.finish(""))
}
