// SPDX-License-Identifier: GPL-2.0

//! The workspace's host-side unit tests, counted.

use crate::paths::Paths;
use crate::report::tally::{Tally, libtest_counts};
use crate::setup;
use crate::ui::Phase;
use anyhow::Result;

/// Runs the workspace's host-side unit tests and counts them.
pub fn host_tests(paths: &Paths, tally: &mut Tally) -> Result<()> {
    let phase = Phase::start("host", "cargo test --workspace (host-side unit tests)");
    let log = paths.logs.join("host-tests.log");
    let out = setup::cargo()
        .current_dir(&paths.repo)
        .args(["test", "--workspace", "--color", "never"])
        .output()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&log, &text)?;
    let (passed, failed, ignored, names) = libtest_counts(&text);
    tally.passed += passed;
    tally.skipped += ignored;
    tally.failed += failed;
    tally
        .failures
        .extend(names.iter().map(|n| format!("host: {n}")));
    if !out.status.success() && failed == 0 {
        tally.failure(
            "host",
            &format!(
                "cargo test failed without a failing test (build error?); log: {}",
                log.display()
            ),
        );
    }
    phase.done(&format!(
        "{passed} passed, {failed} failed, {ignored} ignored; log: {}",
        log.display()
    ));
    Ok(())
}
