// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask vm`: a shell in a guest, or one command there, on any kernel.

use crate::guest::opts::GuestOpts;
use crate::guest::run;
use crate::guest::spec::{GuestSpec, Job};
use crate::kernels::choice::{self, KernelChoice, refuse_others};
use crate::kernels::ensure;
use crate::paths::Paths;
use crate::shell::shell_words;
use crate::{setup, tools};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct VmOpts {
    #[command(flatten)]
    pub guest: GuestOpts,
    /// Host files to copy into the guest's working directory (/work), where COMMAND runs.
    #[arg(long = "with", value_name = "FILE", num_args = 1..)]
    pub with: Vec<PathBuf>,
    /// The command to run in the guest (after `--`); without one, an interactive shell.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn vm(paths: &Paths, opts: &VmOpts) -> Result<ExitCode> {
    refuse_others("vm", opts.guest.kernel, &choice::ALL, "")?;
    for f in &opts.with {
        if !f.is_file() {
            bail!("--with {}: no such file", f.display());
        }
    }
    let source = setup::setup(paths)?;
    let choice = opts.guest.kernel.unwrap_or(KernelChoice::Minimal);
    let built = ensure::ensure(paths, &source, choice, false)?;
    let tools = tools::build(paths)?;
    let interactive = opts.command.is_empty();
    let (job, timeout) = if interactive {
        if !opts.with.is_empty() {
            eprintln!("vm: the --with files are in /work");
        }
        (Job::Interactive, None)
    } else {
        let script = format!("{}\n", shell_words(&opts.command));
        (
            Job::Script(script),
            Some(Duration::from_secs(opts.guest.timeout)),
        )
    };
    let spec = GuestSpec {
        files: &opts.with,
        timeout,
        stream: true,
        ..GuestSpec::new("vm", &built.kernel, &built.module, &tools, job).with_opts(&opts.guest)
    };
    let run = run::run(paths, &spec)?;
    for p in &run.problems() {
        eprintln!("vm: {p}");
    }
    // Quitting an interactive guest with Ctrl-A X reports nothing, and is not a failure; kernel
    // trouble is, whatever the command's own status.
    let status = run.exit_status(interactive);
    if status != 0 && run.status == Some(0) {
        eprintln!(
            "vm: the command exited 0, but the run failed; console log: {}",
            run.console_log.display()
        );
    } else if run.status.is_none() && status != 0 {
        eprintln!(
            "vm: the guest reported no exit status; console log: {}",
            run.console_log.display()
        );
    }
    Ok(ExitCode::from(status))
}
