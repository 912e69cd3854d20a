// SPDX-License-Identifier: GPL-2.0

//! The user-space programs for the guest, built statically for musl.

use crate::paths::Paths;
use crate::ui::{Phase, run_logged};
use anyhow::Result;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const GUEST_TARGET: &str = "x86_64-unknown-linux-musl";

/// The guest programs: the tool, and the in-guest test suites.
#[derive(Debug, Clone)]
pub struct Tools {
    pub user_test: PathBuf,
    /// In-guest suites, in the order they run: (name, binary).
    pub suites: Vec<(String, PathBuf)>,
}

/// The in-guest suites (binaries of the `guest-tests` package).
pub const SUITES: &[&str] = &["module-tests", "library-tests", "tool-tests"];

pub fn build(paths: &Paths) -> Result<Tools> {
    let phase = Phase::start(
        "tools",
        &format!("building user_test and the guest test suites for {GUEST_TARGET}"),
    );
    let log = paths.logs.join("tools.log");
    std::fs::write(&log, "")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run_logged(
        "cargo build (guest programs)",
        Command::new(cargo)
            .current_dir(&paths.repo)
            .args([
                "build",
                "--release",
                "--target",
                GUEST_TARGET,
                "-p",
                "user_test",
                "-p",
                "guest-tests",
            ])
            .env_remove("RUSTFLAGS"),
        &log,
        Duration::from_secs(30),
    )?;
    let bin = paths.repo.join("target").join(GUEST_TARGET).join("release");
    let tools = Tools {
        user_test: bin.join("user_test"),
        suites: SUITES
            .iter()
            .map(|s| (s.to_string(), bin.join(s)))
            .collect(),
    };
    phase.done(&format!("{}", bin.display()));
    Ok(tools)
}
