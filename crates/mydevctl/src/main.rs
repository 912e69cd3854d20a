// SPDX-License-Identifier: GPL-2.0

//! `mydevctl`: creates, removes and lists the buffers of the mydev kernel module through
//! configfs, and makes them match a configuration file (`apply`).
//!
//! Exit status: 0 on success, 1 when an operation fails, 2 for a usage error (bad arguments, or
//! a configuration file that does not parse, in which case nothing was changed). Output to a
//! closed pipe is not an error.

mod cli;
mod config;
#[cfg(test)]
mod fake;
mod plan;
mod table;

use clap::Parser;
use cli::{Cli, Command};
use mydev::buffers::{self, Buffers, Cause};
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

/// Why `mydevctl` stopped.
#[derive(Debug)]
enum Failure {
    /// Bad arguments or configuration: exit status 2.
    Usage(String),
    /// A configfs operation failed: exit status 1.
    Buffers(buffers::Error),
    /// Something else failed (reading the configuration file): exit status 1.
    Other(String),
    /// Writing the output failed (other than a closed pipe).
    Output(io::Error),
}

impl From<buffers::Error> for Failure {
    fn from(e: buffers::Error) -> Self {
        Failure::Buffers(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("mydevctl: cannot write output: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("mydevctl: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Other(msg)) => {
            eprintln!("mydevctl: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Buffers(e)) => {
            eprintln!("mydevctl: {}", describe(&e, &cli.command));
            ExitCode::from(1)
        }
    }
}

/// The error line of a configfs failure during `command`, with the tool's own advice where it
/// has some.
fn describe(e: &buffers::Error, command: &Command) -> String {
    match (e.cause(), command) {
        (Cause::NotFound, Command::Remove { name }) => {
            format!("{e} (there is no buffer {name}; `mydevctl list` shows them)")
        }
        _ => e.to_string(),
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let buffers = Buffers::at(&cli.configfs);
    let mut out = io::stdout().lock();
    match &cli.command {
        Command::Create {
            name,
            size,
            no_huge,
        } => {
            let b = buffers.create(name, *size, !no_huge)?;
            writeln!(
                out,
                "created {name}: {} ({}), {} of its {} 2 MiB parts huge",
                plan::shape(b.size, b.huge),
                b.node().display(),
                b.huge_parts,
                b.parts
            )?;
        }
        Command::Remove { name } => {
            buffers.remove(name)?;
            writeln!(out, "removed {name}")?;
        }
        Command::List => {
            let list = buffers.list()?;
            if list.is_empty() {
                writeln!(out, "no buffers")?;
            } else {
                out.write_all(table::table(&list).as_bytes())?;
            }
        }
        Command::Apply { file } => apply(&buffers, file, &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// `mydevctl apply FILE`: parse all of it first, then change what differs, printing each change.
fn apply(buffers: &Buffers, file: &Path, out: &mut impl Write) -> Result<(), Failure> {
    let shown = file.display();
    let text = std::fs::read_to_string(file)
        .map_err(|e| Failure::Other(format!("cannot read {shown}: {e}")))?;
    let wanted = config::parse(&text, mydev::page_size() as u64)
        .map_err(|e| Failure::Usage(format!("{shown}: {e}; nothing was changed")))?;
    let current = buffers.list()?;
    let plan = plan::plan(&current, &wanted);
    // Once changes have begun, a closed output must not stop them half-way: lines that cannot be
    // written are dropped.
    let unchanged = plan::execute(buffers, &plan, |line| {
        let _ = writeln!(out, "{line}");
    })?;
    for name in &plan.left_alone {
        let _ = writeln!(out, "left alone: {name} (not in {shown})");
    }
    let changed = plan.steps.len() - unchanged;
    writeln!(
        out,
        "{shown}: {changed} changed, {unchanged} unchanged, {} left alone",
        plan.left_alone.len()
    )?;
    Ok(())
}
