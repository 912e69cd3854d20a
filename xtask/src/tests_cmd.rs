// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`: every test the project has, counted into one closing line.

use crate::guest::{self, GuestRun, GuestSpec, Job};
use crate::ktap::{self, Outcome};
use crate::paths::Paths;
use crate::tally::{Tally, libtest_counts};
use crate::ui::{Phase, fmt_duration};
use crate::{KernelChoice, TestOpts, install, kernel, package, selftest, setup, stock, tools};
use anyhow::Result;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The marker line the guest job prints before each suite's TAP output.
const SUITE_MARKER: &str = "# mydev-suite: ";

/// A passing result named `name`.
fn ok(name: &str) -> ktap::TestResult {
    ktap::TestResult {
        name: name.to_string(),
        outcome: Outcome::Pass,
    }
}

/// The load/unload cycles of the lifecycle test: `--load-cycles`, at least 1,000 with `--full`.
fn load_cycles(o: &TestOpts) -> u64 {
    if o.full {
        o.load_cycles.max(1000)
    } else {
        o.load_cycles
    }
}

/// The fuzzer's operations: `--fuzz-ops`, at least 500,000 with `--full`.
fn fuzz_ops(o: &TestOpts) -> u64 {
    if o.full {
        o.fuzz_ops.max(500_000)
    } else {
        o.fuzz_ops
    }
}

/// The guest's timeout: `--timeout`, and at least 40 minutes with `--full`, whose 1,000
/// load/unload cycles alone take about 5 minutes on the debug kernel under emulation, and whose
/// fuzzer (about 11 minutes) and fault injection at every point (about 6, 16 MiB at every 10th) share a guest.
fn guest_timeout(o: &TestOpts) -> Duration {
    let secs = if o.full {
        o.guest.timeout.max(2400)
    } else {
        o.guest.timeout
    };
    Duration::from_secs(secs)
}

/// The sizes of the long tests on a Debian kernel, from the debug kernel's: a quarter of the
/// fuzzer's operations, ten times the concurrent checker's, a fifth of the load/unload cycles,
/// half the stress seconds, unless `--full` (then the same as the debug kernel's, and 100,000
/// operations a process for the concurrent checker). Those boots prove that the module works on
/// the kernels users run (the same tests, every code path); the debug kernel, with the
/// sanitizers, is where the long runs pay off, and a warm `cargo xtask test` stays at about five
/// minutes on two cores.
fn stock_sizes(o: &TestOpts) -> Sizes {
    if o.full {
        Sizes {
            concurrent_ops: o.concurrent_ops.max(100_000),
            ..full_sizes(o)
        }
    } else {
        Sizes {
            // The concurrent checker's operations cost about 25 times less there than on the
            // debug kernel (no KASAN, page poisoning or debug_pagealloc behind every mmap,
            // munmap and fork: 4 x 10,000 took 5 s in a Debian guest, 4 x 1,000 13 s on the
            // debug kernel), so ten times as many. The same fuzzer run and 25 times the
            // concurrent one there took a warm run to 5m07s; these sizes keep it at 4m15s.
            fuzz_ops: (o.fuzz_ops / 4).max(1),
            concurrent_ops: o.concurrent_ops.saturating_mul(10),
            cycles: (o.load_cycles / 5).max(1),
            stress_seconds: (o.stress_seconds / 2).max(1),
        }
    }
}

/// The sizes of the long tests in a guest of the test kernel, or (`stock`) of a Debian kernel.
pub fn sizes(o: &TestOpts, stock: bool) -> Sizes {
    if stock { stock_sizes(o) } else { full_sizes(o) }
}

/// The sizes of the long tests in one guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub fuzz_ops: u64,
    pub concurrent_ops: u64,
    pub cycles: u64,
    pub stress_seconds: u64,
}

/// The sizes on the test kernel: the options, raised to CI's with `--full`.
fn full_sizes(o: &TestOpts) -> Sizes {
    Sizes {
        fuzz_ops: fuzz_ops(o),
        concurrent_ops: if o.full {
            o.concurrent_ops.max(25_000)
        } else {
            o.concurrent_ops
        },
        cycles: load_cycles(o),
        stress_seconds: o.stress_seconds,
    }
}

/// The suites' options, exported in the guest job: for the test kernel, or (`stock`) for a
/// Debian kernel.
fn suite_env(o: &TestOpts, k: &kernel::Kernel, stock: bool) -> Vec<(String, String)> {
    let kasan = k.has("KASAN");
    let Sizes {
        fuzz_ops,
        concurrent_ops,
        cycles,
        stress_seconds,
    } = sizes(o, stock);
    vec![
        ("MYDEV_KASAN".into(), u8::from(kasan).to_string()),
        ("MYDEV_FUZZ_OPS".into(), fuzz_ops.to_string()),
        // The fuzzer also stops after this many seconds: with --full, long enough for its
        // 500,000 operations on the debug kernel (about 650 s with other guests beside it),
        // inside the guest's time.
        (
            "MYDEV_FUZZ_SECONDS".into(),
            if o.full { "1000" } else { "600" }.to_string(),
        ),
        ("MYDEV_FUZZ_SEED".into(), o.fuzz_seed.to_string()),
        // The mm-tests race of PMD and 4 KiB faults over PR_SET_THP_DISABLE: 10,000 rounds take
        // 5 s on Debian's kernels and over a minute on the debug kernel beside other guests,
        // so a warm run there does 3,000 and `--full` the 10,000.
        (
            "MYDEV_RACE_ROUNDS".into(),
            if o.full || stock { "10000" } else { "3000" }.to_string(),
        ),
        ("MYDEV_CONCURRENT_OPS".into(), concurrent_ops.to_string()),
        // A second fuzzer run over three 2 MiB parts (PMD entries, their splits, a small part
        // after them): about 30 ms an operation on the debug kernel, whose every check reads
        // much more, so only with --full.
        (
            "MYDEV_FUZZ_HUGE_OPS".into(),
            if o.full { "5000" } else { "0" }.to_string(),
        ),
        ("MYDEV_STRESS_SECONDS".into(), stress_seconds.to_string()),
        ("MYDEV_LOAD_CYCLES".into(), cycles.to_string()),
        // Each test's own timeout: 2 minutes, or a second per load/unload cycle (they took 0.25
        // to 0.3 s each here on the debug kernel with one other guest beside it, and 0.5 s with
        // three guests and the self-tests sharing the two cores).
        (
            "MYDEV_TEST_TIMEOUT".into(),
            if o.full {
                cycles.max(1800)
            } else {
                cycles.max(120)
            }
            .to_string(),
        ),
        // The faults suite fails every failure point of a load with --full (about 350 per
        // size, up to a second or so each on the debug kernel), every 20th with --suite faults.
        (
            "MYDEV_FAULTS_STRIDE".into(),
            if o.full { "1" } else { "20" }.to_string(),
        ),
        (
            "MYDEV_MAP_CYCLES".into(),
            if o.full {
                o.map_cycles.max(20_000)
            } else {
                o.map_cycles
            }
            .to_string(),
        ),
        // Needs a guest of 1 to 2 GiB: run in a scenario boot of its own.
        ("MYDEV_TESTS_SKIP".into(), "largest_size".to_string()),
    ]
}

/// Markers around the kmemleak report in the guest output.
const KMEMLEAK_BEGIN: &str = "# mydev-kmemleak-begin";
const KMEMLEAK_END: &str = "# mydev-kmemleak-end";

/// After the suites: two kmemleak scans (an object is reported once it has been unreferenced
/// for 5 s), then the report between markers.
const KMEMLEAK_SCRIPT: &str = r##"mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -w /sys/kernel/debug/kmemleak ]; then
    echo scan > /sys/kernel/debug/kmemleak
    sleep 6
    echo scan > /sys/kernel/debug/kmemleak
    echo "# mydev-kmemleak-begin"
    cat /sys/kernel/debug/kmemleak
    echo "# mydev-kmemleak-end"
fi
"##;

/// The kmemleak report in the guest output: `None` when there is none at all (no scan ran).
pub fn kmemleak_report(output: &str) -> Option<String> {
    crate::verdict::between(output, KMEMLEAK_BEGIN, KMEMLEAK_END).map(str::to_string)
}

/// The guest job: every suite in turn, each announced by a marker line, with `env` exported
/// first (`NAME=VALUE` pairs for the suites' options); then the kmemleak scan.
pub fn suites_script(suites: &[String], env: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in env {
        s.push_str(&format!("export {k}={}\n", crate::qemu::shell_quote(v)));
    }
    for name in suites {
        s.push_str(&format!(
            "echo '{SUITE_MARKER}{name}'\n/opt/mydev/{name}\necho \"# mydev-suite-exit: {name} $?\"\n"
        ));
    }
    s.push_str(KMEMLEAK_SCRIPT);
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

pub fn test(paths: &Paths, test_opts: &TestOpts) -> Result<ExitCode> {
    let opts = &test_opts.guest;
    // `--suite` or `--kernel`: only those in-guest suites on that kernel, for a quick loop.
    let only = !test_opts.suite.is_empty() || opts.kernel.is_some();
    let selftests = !test_opts.no_selftest && !only;
    let start = Instant::now();
    let mut tally = Tally::default();
    let source = setup::setup(paths)?;
    let (with_test, distros): (bool, Vec<stock::Distro>) = match opts.kernel {
        None => (true, stock::ALL.to_vec()),
        Some(KernelChoice::Test) => (true, Vec::new()),
        Some(KernelChoice::Minimal) => {
            anyhow::bail!(
                "the suites run on the test kernel and on Debian's kernels, not on the minimal one"
            )
        }
        Some(c) => (false, c.distro().into_iter().collect()),
    };
    // The minimal kernel: installation is checked against it (gcc-built, the common case), and
    // the self-tests and scenarios boot it.
    let minimal = if only {
        None
    } else {
        Some(kernel::ensure(paths, &source, kernel::MINIMAL)?)
    };
    let k = if with_test {
        let k = kernel::ensure(paths, &source, kernel::TEST)?;
        // `ensure` checked every fragment setting in the built .config; show the debugging aids.
        let debug: Vec<&str> = k
            .settings
            .iter()
            .filter(|s| minimal.as_ref().is_none_or(|m| !m.settings.contains(s)))
            .map(String::as_str)
            .collect();
        eprintln!(
            "    [kernel] verified in the test kernel's .config: {}",
            debug.join(" ")
        );
        let module = kernel::build_module(paths, &k)?;
        Some((k, module))
    } else {
        None
    };
    let mut stocks = Vec::new();
    for d in &distros {
        let sk = stock::ensure(paths, *d)?;
        let module = kernel::build_module(paths, &sk)?;
        stocks.push((sk, module));
    }
    let extra = match &minimal {
        Some(m) => Some((
            kernel::build_module(paths, m)?,
            kernel::build_cref(paths, m)?,
        )),
        None => None,
    };
    let tools = tools::build(paths)?;

    // The in-guest suites: all of them, or those that `--suite` names.
    let names = selected_suites(
        tools.suites.iter().map(|(n, _)| n.clone()).collect(),
        &test_opts.suite,
    )?;
    // The fault injection runs with --full (every failure point) or when named: in a warm
    // default run it would push the time past five minutes.
    let names = if test_opts.full || !test_opts.suite.is_empty() {
        names
    } else {
        eprintln!("==> [guest] the faults suite runs with --full or --suite faults");
        names
            .into_iter()
            .filter(|n| !FAULT_SUITES.contains(&n.as_str()))
            .collect()
    };
    if minimal.is_some() {
        host_tests(paths, &mut tally)?;
    } else {
        eprintln!(
            "==> [host] skipped: only the suites {} (--suite/--kernel)",
            names.join(", ")
        );
    }
    // The guests, from a queue that two workers take from, beside the self-tests: first the two
    // of the test kernel (the fuzzer, the longest suite with one busy vCPU, in one; every other
    // suite in the other), then one per Debian kernel. On two cores this keeps both busy to the
    // end, whichever guest finishes first.
    let mut groups: Vec<(String, Vec<String>, &kernel::Kernel, &std::path::Path)> = Vec::new();
    if let Some((k, module)) = &k {
        for (label, group) in guest_groups(&names) {
            groups.push((label.to_string(), group, k, module));
        }
    }
    let first_stock = groups.len();
    for (sk, module) in &stocks {
        let suites: Vec<String> = names
            .iter()
            .filter(|n| sk.has("FAULT_INJECTION") || !FAULT_SUITES.contains(&n.as_str()))
            .cloned()
            .collect();
        if !suites.is_empty() {
            groups.push((sk.profile.name.to_string(), suites, sk, module));
        }
    }
    let specs: Vec<GuestSpec<'_>> = groups
        .iter()
        .enumerate()
        .map(|(i, (label, group, k, module))| {
            let env = suite_env(test_opts, k, i >= first_stock);
            GuestSpec {
                label,
                kernel: k,
                module,
                tools: &tools,
                params: &opts.params,
                files: &[],
                extra_modules: &[],
                job: Job::Script(suites_script(group, &env)),
                timeout: Some(guest_timeout(test_opts)),
                accel: opts.accel,
                memory_mib: opts.memory.max(2048),
                cpus: opts.cpus,
                // One guest's output streams as it arrives; the others' is in their logs.
                stream: i == 0,
                qemu_extra: &[],
                // See `ONE_THREAD_SUITES`. The other suites' races (two readers of one file,
                // rmmod against users) want vCPUs that truly run at once.
                one_thread: group
                    .iter()
                    .all(|n| ONE_THREAD_SUITES.contains(&n.as_str())),
            }
        })
        .collect();
    let (runs, side) = std::thread::scope(|scope| {
        // Beside the guests: the installation checks and the packages (about 30 s that the
        // guests need not wait for), then the self-tests.
        let side = scope.spawn(|| -> Result<Tally> {
            let mut side = Tally::default();
            if let Some(m) = &minimal {
                install::run(paths, m, &mut side);
                // The Debian packages: built and linted every time; installed in a fresh chroot
                // and booted on Debian's 7.3 with --full (about 5 minutes).
                package::run(paths, &tools, test_opts.full, &mut side)?;
            }
            if let (true, Some(m), Some((mm, cref))) = (selftests, &minimal, &extra) {
                selftest::run_matching(paths, m, mm, cref, &tools, opts, &mut side, &[])?;
            }
            Ok(side)
        });
        let runs = run_queue(paths, &specs, GUEST_WORKERS);
        let side = side
            .join()
            .map_err(|_| anyhow::anyhow!("the self-test thread panicked"));
        (runs, side)
    });
    let side = side??;
    let runs = runs?;
    let before = (tally.passed, tally.failed, tally.skipped);
    let mut kunit_results = Vec::new();
    let mut kunit_runs = 0;
    // `specs` were made from `groups`, in the same order.
    for ((spec, (_, group, _, _)), run) in specs.iter().zip(&groups).zip(&runs) {
        if !spec.stream && !run.output.is_empty() {
            eprintln!("    [guest] output of the {} guest:", spec.label);
            eprint!("{}", run.output);
        }
        kunit_runs += count_guest(
            spec.label,
            spec.kernel,
            group,
            run,
            &mut tally,
            &mut kunit_results,
        );
    }
    // The kernel's own KUnit suites also run at boot: only a failure of theirs counts.
    for r in ktap::merge_by_name(kunit_results) {
        if r.name.starts_with("mydev") || r.outcome == Outcome::Fail {
            tally.result("kunit", &r);
        }
    }
    eprintln!(
        "    [guest] {} passed, {} failed, {} skipped (KUnit: {} runs in the kernel logs)",
        tally.passed - before.0,
        tally.failed - before.1,
        tally.skipped - before.2,
        kunit_runs
    );

    if selftests {
        eprintln!(
            "    [side] {} passed, {} failed (installation, packages, and the self-tests and \
             scenarios on the minimal kernel)",
            side.passed, side.failed
        );
    } else if minimal.is_some() {
        eprintln!(
            "    [side] {} passed, {} failed (installation and packages; self-tests skipped: \
             --no-selftest)",
            side.passed, side.failed
        );
    } else if only {
        eprintln!("==> [selftest] skipped (--suite/--kernel)");
    }
    tally.merge(side);

    eprintln!();
    if !tally.failures.is_empty() {
        eprintln!("failures:");
        for f in &tally.failures {
            eprintln!("  {f}");
        }
    }
    let logs: Vec<String> = runs
        .iter()
        .map(|r| r.console_log.display().to_string())
        .collect();
    eprintln!(
        "test: finished in {}; guest console logs: {}",
        fmt_duration(start.elapsed()),
        logs.join(" ")
    );
    println!("{}", tally.line());
    Ok(if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Guests that run at once from the queue (besides the self-tests' own).
const GUEST_WORKERS: usize = 2;

/// Runs every guest of `specs`, `workers` at a time, each worker taking the next one when its
/// guest is done; the results come back in the order of `specs`.
fn run_queue(paths: &Paths, specs: &[GuestSpec<'_>], workers: usize) -> Result<Vec<GuestRun>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<GuestRun>>>> =
        std::sync::Mutex::new(specs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(specs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let run = guest::run(paths, spec);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(run);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a guest worker panicked"))?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a guest never ran"))))
        .collect()
}

/// Counts one test-kernel guest's results into `tally`: its suites (`group`), kmemleak and
/// kernel trouble; its KUnit results go to `kunit` (merged across guests by the caller). Returns
/// the number of KUnit runs in its kernel log.
fn count_guest(
    label: &str,
    k: &kernel::Kernel,
    group: &[String],
    run: &GuestRun,
    tally: &mut Tally,
    kunit: &mut Vec<ktap::TestResult>,
) -> usize {
    let suites = split_suites(&run.output);
    for name in group {
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
    if kunit_docs.is_empty() && k.has("KUNIT") {
        tally.failure(
            "kunit",
            &format!(
                "no KUnit results in the {label} guest's kernel log (is CONFIG_KUNIT on in the test kernel?)"
            ),
        );
    }
    for d in &kunit_docs {
        let doc = ktap::parse(d);
        kunit.extend(doc.results);
        for e in &doc.errors {
            tally.failure("kunit", e);
        }
    }
    let leaks = format!(
        "no_leaks_after_the_{}_guest",
        label.replace(['-', '.'], "_")
    );
    match kmemleak_report(&run.output) {
        // A distribution kernel without kmemleak: nothing to scan.
        None if !k.has("DEBUG_KMEMLEAK") => {}
        Some(r) if r.is_empty() => tally.result("kmemleak", &ok(&leaks)),
        Some(r) => tally.failure("kmemleak", &format!("{label} guest: kmemleak reports leaks:\n{r}")),
        None => tally.failure(
            "kmemleak",
            &format!("{label} guest: no kmemleak report (is CONFIG_DEBUG_KMEMLEAK on and debugfs mounted?)"),
        ),
    }
    for p in run.problems() {
        tally.failure("guest", &format!("{label}: {p}"));
    }
    kunit_docs.len()
}

/// The suites of the test kernel's second guest, which runs TCG in one host thread: the fuzzer
/// and the fault injection are one process at a time, and the concurrent checker's four
/// processes still run on the guest's two vCPUs, which QEMU interleaves (the guest stays SMP:
/// IPIs, TLB shootdowns, preemption), at less CPU than a host thread per vCPU beside the other
/// guests.
const ONE_THREAD_SUITES: &[&str] = &["fuzz", "concurrent", "faults"];

/// The suites that need the kernel's fault injection (`CONFIG_FAULT_INJECTION`): the test
/// kernel's, not Debian's.
const FAULT_SUITES: &[&str] = &["faults"];

/// The test-kernel guests and their suites: the fuzzer, the concurrent checker and the fault
/// injection in `test-fuzz`, the others in `test` (a group with no suite gets no guest).
fn guest_groups(names: &[String]) -> Vec<(&'static str, Vec<String>)> {
    let (fuzz, rest): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| ONE_THREAD_SUITES.contains(&n.as_str()));
    [("test", rest), ("test-fuzz", fuzz)]
        .into_iter()
        .filter(|(_, group)| !group.is_empty())
        .collect()
}

/// The suites to run: all of `all`, or those that `wanted` names (an unknown name is an error
/// that lists the suites there are).
fn selected_suites(all: Vec<String>, wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    if let Some(bad) = wanted.iter().find(|w| !all.contains(w)) {
        anyhow::bail!("no suite named {bad:?}; the suites are {}", all.join(", "));
    }
    Ok(all.into_iter().filter(|n| wanted.contains(n)).collect())
}

/// Runs the workspace's host-side unit tests and counts them.
fn host_tests(paths: &Paths, tally: &mut Tally) -> Result<()> {
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
        let s = suites_script(&["module-tests".to_string()], &[("A".into(), "1 2".into())]);
        assert!(s.starts_with(
            "export A='1 2'\necho '# mydev-suite: module-tests'\n/opt/mydev/module-tests\n\
             echo \"# mydev-suite-exit: module-tests $?\"\n"
        ));
        assert!(s.ends_with(KMEMLEAK_SCRIPT));
    }

    #[test]
    fn the_fuzzer_gets_a_guest_of_its_own() {
        let names: Vec<String> = ["module-tests", "fuzz", "concurrent", "stress", "faults"]
            .map(String::from)
            .to_vec();
        let g = guest_groups(&names);
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0],
            (
                "test",
                vec!["module-tests".to_string(), "stress".to_string()]
            )
        );
        assert_eq!(
            g[1],
            (
                "test-fuzz",
                vec![
                    "fuzz".to_string(),
                    "concurrent".to_string(),
                    "faults".to_string()
                ]
            )
        );
        assert_eq!(guest_groups(&["fuzz".to_string()]).len(), 1);
        assert_eq!(guest_groups(&["stress".to_string()])[0].0, "test");
    }

    #[test]
    fn suite_option_selects_suites_in_their_order_and_refuses_unknown_names() {
        let all = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(selected_suites(all.clone(), &[]).unwrap(), all);
        assert_eq!(
            selected_suites(all.clone(), &["c".into(), "a".into()]).unwrap(),
            vec!["a".to_string(), "c".to_string()]
        );
        let e = selected_suites(all, &["fuzzz".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"fuzzz\"") && e.contains("a, b, c"), "{e}");
    }

    #[test]
    fn kmemleak_report_between_markers() {
        let out = "x\n# mydev-kmemleak-begin\n# mydev-kmemleak-end\n";
        assert_eq!(kmemleak_report(out).as_deref(), Some(""));
        let leak = "# mydev-kmemleak-begin\nunreferenced object 0xffff (size 64):\n  comm \"insmod\"\n\
                    # mydev-kmemleak-end\n";
        assert!(
            kmemleak_report(leak)
                .unwrap()
                .starts_with("unreferenced object")
        );
        assert_eq!(kmemleak_report("no scan"), None);
    }
}
