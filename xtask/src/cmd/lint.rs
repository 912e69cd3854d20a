// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask lint`: the formatting and lint gates of the workspace and of the module.

use crate::kernels::choice::KernelChoice;
use crate::kernels::{ensure, module};
use crate::paths::Paths;
use crate::setup;
use crate::setup::cargo;
use crate::ui::{Phase, fmt_duration};
use anyhow::Result;
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Runs one gate, logging its output; returns whether it passed.
fn gate(paths: &Paths, name: &str, cmd: &mut Command) -> Result<bool> {
    let start = Instant::now();
    let out = cmd.current_dir(&paths.repo).output()?;
    let log = paths
        .logs
        .join(format!("lint-{}.log", name.replace(' ', "-")));
    std::fs::write(
        &log,
        [out.stdout.as_slice(), out.stderr.as_slice()].concat(),
    )?;
    let ok = out.status.success();
    if ok {
        eprintln!("    ok {name} ({})", fmt_duration(start.elapsed()));
    } else {
        eprintln!("    FAILED {name}: see {}", log.display());
        eprintln!("{}", crate::ui::tail_lines(&log, 30));
    }
    Ok(ok)
}

pub fn lint(paths: &Paths) -> Result<ExitCode> {
    let source = setup::setup(paths)?;
    let test_kernel = ensure::kernel(paths, &source, KernelChoice::Test)?;
    let phase = Phase::start(
        "lint",
        "formatting, clippy, the tidy rules, rustdoc, and the module's own gates",
    );
    let mut results = vec![gate(
        paths,
        "cargo fmt",
        cargo().args(["fmt", "--all", "--check"]),
    )?];
    results.push(gate(
        paths,
        "cargo clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--color",
            "never",
            "--",
            "-D",
            "warnings",
        ]),
    )?);
    results.push(gate(
        paths,
        "tidy",
        cargo().args(["test", "-p", "xtask", "--color", "never", "tidy"]),
    )?);
    results.push(gate(
        paths,
        "cargo doc",
        cargo()
            .args(["doc", "--no-deps", "-p", "mydev", "--color", "never"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?);
    let rustfmt_config = source.dir.join(".rustfmt.toml");
    results.push(gate(
        paths,
        "module rustfmt",
        Command::new("rustfmt")
            .arg("--check")
            .arg("--config-path")
            .arg(&rustfmt_config)
            .arg("module/mydev.rs"),
    )?);
    let clippy = module::build_module_with(paths, &test_kernel, "lint", &["CLIPPY=1", "W=e"]);
    match clippy {
        Ok(_) => {
            eprintln!("    ok module CLIPPY=1 W=e");
            results.push(true);
        }
        Err(e) => {
            eprintln!("    FAILED module CLIPPY=1 W=e: {e:#}");
            results.push(false);
        }
    }
    let failed = results.iter().filter(|ok| !**ok).count();
    phase.done(&format!(
        "{} gates passed, {failed} failed",
        results.len() - failed
    ));
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
