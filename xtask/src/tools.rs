// SPDX-License-Identifier: GPL-2.0

//! The user-space programs for the guest, built statically for musl.

use crate::paths::Paths;
use crate::ui::{Phase, run_logged};
use anyhow::Result;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const GUEST_TARGET: &str = "x86_64-unknown-linux-musl";

/// The guest programs: the tools, and the in-guest test suites.
#[derive(Debug, Clone)]
pub struct Tools {
    pub user_test: PathBuf,
    /// `mydevctl`, which creates, removes and lists buffers through configfs.
    pub mydevctl: PathBuf,
    /// In-guest suites, in the order they run: (name, binary).
    pub suites: Vec<(String, PathBuf)>,
    /// `examples/mydev_example.c`, built statically.
    pub c_example: PathBuf,
    /// `packaging/60-mydev.rules`.
    pub udev_rule: PathBuf,
    /// The benchmark program (`bench/`).
    pub bench: PathBuf,
}

/// The in-guest suites (binaries of the `guest-tests` package).
pub const SUITES: &[&str] = &[
    "module-tests",
    "mm-tests",
    "buffers",
    "dmabuf",
    "pinning",
    "library-tests",
    "tool-tests",
    "buffer-tools",
    "fuzz",
    "concurrent",
    "stress",
    "faults",
];

pub fn build(paths: &Paths) -> Result<Tools> {
    let phase = Phase::start(
        "tools",
        &format!(
            "building user_test, mydevctl and the guest test suites for {GUEST_TARGET}, and the C example"
        ),
    );
    let log = paths.logs.join("tools.log");
    std::fs::write(&log, "")?;
    run_logged(
        "cargo build (guest programs)",
        crate::setup::cargo()
            .current_dir(&paths.repo)
            .args([
                "build",
                "--release",
                "--target",
                GUEST_TARGET,
                "-p",
                "user_test",
                "-p",
                "mydevctl",
                "-p",
                "guest-tests",
                "-p",
                "mydev-bench",
            ])
            .env_remove("RUSTFLAGS"),
        &log,
        Duration::from_secs(30),
    )?;
    let bin = paths.repo.join("target").join(GUEST_TARGET).join("release");
    let c_example = paths.work.join("mydev_example");
    run_logged(
        "cc -static examples/mydev_example.c",
        Command::new("cc")
            .current_dir(&paths.repo)
            .args([
                "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-I", "module",
            ])
            .args(["examples/mydev_example.c", "-o"])
            .arg(&c_example),
        &log,
        Duration::from_secs(30),
    )?;
    let tools = Tools {
        user_test: bin.join("user_test"),
        mydevctl: bin.join("mydevctl"),
        suites: SUITES
            .iter()
            .map(|s| (s.to_string(), bin.join(s)))
            .collect(),
        c_example,
        udev_rule: paths.repo.join("packaging/60-mydev.rules"),
        bench: bin.join("mydev-bench"),
    };
    phase.done(&format!("{}", bin.display()));
    Ok(tools)
}
