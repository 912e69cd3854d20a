// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`: every test the project has, counted into one closing line.

use crate::guest::{self, GuestSpec, Job};
use crate::ktap::{self, Outcome};
use crate::paths::Paths;
use crate::tally::{Tally, libtest_counts};
use crate::ui::{Phase, fmt_duration};
use crate::{GuestOpts, install, kernel, selftest, setup, tools};
use anyhow::Result;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// The marker line the guest job prints before each suite's TAP output.
const SUITE_MARKER: &str = "# mydev-suite: ";

/// The guest job: every suite in turn, each announced by a marker line.
pub fn suites_script(suites: &[String]) -> String {
    let mut s = String::new();
    for name in suites {
        s.push_str(&format!(
            "echo '{SUITE_MARKER}{name}'\n/opt/mydev/{name}\necho \"# mydev-suite-exit: {name} $?\"\n"
        ));
    }
    s
}

/// Splits the guest output into each suite's text, by marker.
pub fn split_suites(output: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        if let Some(name) = line.strip_prefix(SUITE_MARKER) {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

pub fn test(paths: &Paths, opts: &GuestOpts, selftests: bool) -> Result<ExitCode> {
    let start = Instant::now();
    let mut tally = Tally::default();
    let source = setup::setup(paths)?;
    let k = kernel::ensure(paths, &source, kernel::TEST)?;
    let module = kernel::build_module(paths, &k)?;
    let tools = tools::build(paths)?;

    host_tests(paths, &mut tally)?;
    install::run(paths, &k, &mut tally);

    // The in-guest suites and KUnit, in one boot of the test kernel.
    let names: Vec<String> = tools.suites.iter().map(|(n, _)| n.clone()).collect();
    let spec = GuestSpec {
        label: "test",
        kernel: &k,
        module: &module,
        tools: &tools,
        params: &opts.params,
        files: &[],
        job: Job::Script(suites_script(&names)),
        timeout: Some(Duration::from_secs(opts.timeout)),
        accel: opts.accel,
        memory_mib: opts.memory.max(2048),
        cpus: opts.cpus,
        stream: true,
    };
    let run = guest::run(paths, &spec)?;
    let before = (tally.passed, tally.failed, tally.skipped);
    let suites = split_suites(&run.output);
    for name in &names {
        match suites.iter().find(|(n, _)| n == name) {
            None => tally.failure(name, "the suite never started (no output)"),
            Some((_, text)) => {
                let doc = ktap::parse(text);
                for r in &doc.results {
                    tally.result(name, r);
                }
                for e in &doc.errors {
                    tally.failure(name, e);
                }
            }
        }
    }
    let kunit_docs = ktap::kunit_documents(&run.console);
    if kunit_docs.is_empty() {
        tally.failure(
            "kunit",
            "no KUnit results in the kernel log (is CONFIG_KUNIT on in the test kernel?)",
        );
    }
    let mut kunit_results = Vec::new();
    for d in &kunit_docs {
        let doc = ktap::parse(d);
        kunit_results.extend(doc.results);
        for e in &doc.errors {
            tally.failure("kunit", e);
        }
    }
    // The kernel's own KUnit suites also run at boot: only a failure of theirs counts.
    for r in ktap::merge_by_name(kunit_results) {
        if r.name.starts_with("mydev") || r.outcome == Outcome::Fail {
            tally.result("kunit", &r);
        }
    }
    for p in run.problems() {
        tally.failure("guest", &p);
    }
    eprintln!(
        "    [guest] {} passed, {} failed, {} skipped (KUnit: {} runs in the kernel log)",
        tally.passed - before.0,
        tally.failed - before.1,
        tally.skipped - before.2,
        kunit_docs.len()
    );

    if selftests {
        selftest::run_all(paths, &k, &module, &tools, opts, &mut tally)?;
    } else {
        eprintln!("==> [selftest] skipped (--no-selftest)");
    }

    eprintln!();
    if !tally.failures.is_empty() {
        eprintln!("failures:");
        for f in &tally.failures {
            eprintln!("  {f}");
        }
    }
    eprintln!(
        "test: finished in {}; guest console log: {}",
        fmt_duration(start.elapsed()),
        run.console_log.display()
    );
    println!("{}", tally.line());
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Runs the workspace's host-side unit tests and counts them.
fn host_tests(paths: &Paths, tally: &mut Tally) -> Result<()> {
    let phase = Phase::start("host", "cargo test --workspace (host-side unit tests)");
    let log = paths.logs.join("host-tests.log");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
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

/// Whether a TAP document's results include a failure (for the self-tests).
pub fn has_failure(doc: &ktap::Document) -> bool {
    !doc.errors.is_empty() || doc.results.iter().any(|r| r.outcome == Outcome::Fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_split_by_marker() {
        let out = "noise\n# mydev-suite: a\nTAP version 13\n1..1\nok 1 - x\n# mydev-suite-exit: a 0\n# mydev-suite: b\n";
        let s = split_suites(out);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "a");
        assert!(s[0].1.starts_with("TAP version 13\n1..1\nok 1 - x\n"));
        assert_eq!(s[1], ("b".to_string(), String::new()));
        assert!(
            ktap::parse(&s[1].1).errors[0].contains("no TAP output"),
            "a suite that printed nothing fails"
        );
    }

    #[test]
    fn script_runs_each_suite_after_its_marker() {
        let s = suites_script(&["module-tests".to_string()]);
        assert_eq!(
            s,
            "echo '# mydev-suite: module-tests'\n/opt/mydev/module-tests\necho \"# mydev-suite-exit: module-tests $?\"\n"
        );
    }
}
