// SPDX-License-Identifier: GPL-2.0

//! The harness's own tests against real guests: each boots a guest that misbehaves on purpose
//! and passes only if the harness reports the failure. Without them, a harness that counted a
//! crash as a pass would look green.

use crate::GuestOpts;
use crate::guest::{self, GuestRun, GuestSpec, Job};
use crate::kernel::Kernel;
use crate::ktap::{self, Outcome, TestResult};
use crate::paths::Paths;
use crate::qemu::Ended;
use crate::tally::Tally;
use crate::tests_cmd::has_failure;
use crate::tools::Tools;
use crate::ui::Phase;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// The program that the first case copies into the guest, as `vm --with` does.
const WITH_FILE: &str = "selftest-exit-3.sh";

struct Case {
    name: &'static str,
    job: Job,
    timeout: u64,
    /// Whether the harness judged the run as it should.
    check: fn(&GuestRun) -> Result<(), String>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            // What `cargo xtask vm --with ./prog -- ./prog` does: copy, run in /work, return.
            name: "a_with_file_runs_and_its_exit_status_reaches_the_host",
            job: Job::Script(format!("./{WITH_FILE}\n")),
            timeout: 120,
            check: |r| match (r.status, r.problems().is_empty(), r.output.contains("hello from the guest")) {
                (Some(3), true, true) => Ok(()),
                other => Err(format!("expected status 3, no problems and the output; got {other:?}")),
            },
        },
        Case {
            name: "a_guest_that_panics_fails_the_run",
            job: Job::Crash,
            timeout: 120,
            check: |r| {
                let p = r.problems();
                let panicked = r.console.contains("Kernel panic");
                if r.status.is_none()
                    && panicked
                    && p.iter().any(|p| p.contains("without reporting"))
                    && p.iter().any(|p| p.contains("Kernel panic"))
                {
                    Ok(())
                } else {
                    Err(format!("a panic went unnoticed: status {:?}, problems {p:?}", r.status))
                }
            },
        },
        Case {
            name: "a_test_that_never_reports_fails_the_run",
            job: Job::Script("echo 'TAP version 13'\necho '1..2'\necho 'ok 1 - reported'\n".into()),
            timeout: 120,
            check: |r| {
                let doc = ktap::parse(&r.output);
                if has_failure(&doc) && doc.errors.iter().any(|e| e.contains("planned 2 tests, 1 reported")) {
                    Ok(())
                } else {
                    Err(format!("a missing result went unnoticed: {doc:?}"))
                }
            },
        },
        Case {
            name: "a_kernel_warning_fails_the_run",
            // The scan reads the console text, so a warning-level message in the kernel's
            // format exercises it exactly as a WARN_ON() report would.
            job: Job::Script(
                "echo '<4>WARNING: CPU: 0 PID: 1 at xtask/selftest: injected warning' > /dev/kmsg\n".into(),
            ),
            timeout: 120,
            check: |r| {
                let p = r.problems();
                if r.status == Some(0) && p.iter().any(|p| p.contains("injected warning")) {
                    Ok(())
                } else {
                    Err(format!("a kernel warning went unnoticed: {p:?}"))
                }
            },
        },
        Case {
            name: "a_hung_guest_is_killed_at_the_timeout",
            job: Job::Script("echo sleeping\nsleep 100000\n".into()),
            timeout: 20,
            check: |r| {
                if r.ended == Ended::TimedOut
                    && r.status.is_none()
                    && r.problems().iter().any(|p| p.contains("timed out"))
                {
                    Ok(())
                } else {
                    Err(format!("a hang was not caught: ended {:?}, status {:?}", r.ended, r.status))
                }
            },
        },
    ]
}

pub fn run_all(
    paths: &Paths,
    kernel: &Kernel,
    module: &Path,
    tools: &Tools,
    opts: &GuestOpts,
    tally: &mut Tally,
) -> Result<()> {
    let phase = Phase::start(
        "selftest",
        "harness self-tests: guests that fail on purpose must be reported as failing",
    );
    let with_file = paths.work.join(WITH_FILE);
    std::fs::write(&with_file, "#!/bin/sh\necho hello from the guest\nexit 3\n")?;
    std::fs::set_permissions(
        &with_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let files = [with_file];
    for case in cases() {
        let label = format!("selftest-{}", case.name);
        let spec = GuestSpec {
            label: &label,
            kernel,
            module,
            tools,
            params: &opts.params,
            files: &files,
            job: case.job.clone(),
            timeout: Some(Duration::from_secs(case.timeout)),
            accel: opts.accel,
            memory_mib: opts.memory,
            cpus: opts.cpus,
            stream: false,
        };
        let run = guest::run(paths, &spec)?;
        let outcome = match (case.check)(&run) {
            Ok(()) => Outcome::Pass,
            Err(why) => {
                eprintln!("    selftest {}: {why}", case.name);
                Outcome::Fail
            }
        };
        phase.note(&format!(
            "{} {}",
            if outcome == Outcome::Pass {
                "ok"
            } else {
                "FAILED"
            },
            case.name
        ));
        tally.result(
            "selftest",
            &TestResult {
                name: case.name.to_string(),
                outcome,
            },
        );
    }
    phase.done("done");
    Ok(())
}
