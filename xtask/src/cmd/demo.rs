// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask demo`: the walkthrough (`guest/demo.rs`) in a guest, on any kernel.

use crate::guest::demo::demo_script;
use crate::guest::opts::GuestOpts;
use crate::guest::run;
use crate::guest::spec::{GuestSpec, Job};
use crate::kernels::choice::{self, KernelChoice, refuse_others};
use crate::kernels::ensure;
use crate::paths::Paths;
use crate::{setup, tools, ui};
use anyhow::Result;
use std::process::ExitCode;
use std::time::Duration;

pub fn demo(paths: &Paths, opts: &GuestOpts) -> Result<ExitCode> {
    refuse_others("demo", opts.kernel, &choice::ALL, "")?;
    let source = setup::setup(paths)?;
    let choice = opts.kernel.unwrap_or(KernelChoice::Minimal);
    let built = ensure::ensure(paths, &source, choice, false)?;
    let tools = tools::build(paths)?;
    let spec = GuestSpec {
        timeout: Some(Duration::from_secs(opts.timeout)),
        stream: true,
        ..GuestSpec::new(
            "demo",
            &built.kernel,
            &built.module,
            &tools,
            Job::Script(demo_script()),
        )
        .with_opts(opts)
    };
    let run = run::run(paths, &spec)?;
    for p in &run.problems() {
        eprintln!("demo: {p}");
    }
    match run.exit_status(false) {
        0 => {
            eprintln!(
                "demo: every step succeeded ({} in the guest)",
                ui::fmt_duration(run.elapsed)
            );
            Ok(ExitCode::SUCCESS)
        }
        s => {
            eprintln!(
                "demo: failed (guest status {:?}, exit status {s}); console log: {}",
                run.status,
                run.console_log.display()
            );
            Ok(ExitCode::from(s))
        }
    }
}
