// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`: every test the project has, counted into one closing line.

use crate::cmd::test::env::suite_env;
use crate::cmd::test::host::host_tests;
use crate::cmd::test::opts::{TestOpts, guest_timeout};
use crate::cmd::test::queue::{GUEST_WORKERS, run_queue};
use crate::cmd::test::suites::{
    FAULT_SUITES, ONE_THREAD_SUITES, count_guest, guest_groups, selected_suites, suites_script,
};
use crate::guest::run::GuestRun;
use crate::guest::spec::{GuestSpec, Job};
use crate::kernels::choice::{KernelChoice, refuse_others};
use crate::kernels::ensure::{self, Built};
use crate::paths::Paths;
use crate::report::ktap::{self, Outcome};
use crate::report::tally::Tally;
use crate::selftest::run::run_matching;
use crate::setup::KernelSource;
use crate::tools::Tools;
use crate::ui::fmt_duration;
use crate::{install, package, setup, tools};
use anyhow::Result;
use std::process::ExitCode;
use std::time::Instant;

/// The kernels `test` accepts with `--kernel`.
const KERNELS: [KernelChoice; 3] = [
    KernelChoice::Test,
    KernelChoice::Debian73,
    KernelChoice::Debian72,
];

/// The kernels of one run, each with its modules.
struct Kernels {
    /// The minimal kernel with `mmap.ko` and `cref.ko`: installation is checked against it
    /// (gcc-built, the common case), and the self-tests and scenarios boot it. Not with
    /// `--suite` or `--kernel`.
    minimal: Option<Built>,
    /// The test kernel, unless `--kernel` names one of Debian's.
    test: Option<Built>,
    /// Debian's kernels: both, or the one `--kernel` names.
    stocks: Vec<Built>,
}

/// Builds (or finds cached) the kernels and modules of the run.
fn kernels(paths: &Paths, source: &KernelSource, o: &TestOpts, only: bool) -> Result<Kernels> {
    let (with_test, distros) = match o.guest.kernel {
        None => (true, KERNELS[1..].to_vec()),
        Some(KernelChoice::Test) => (true, Vec::new()),
        Some(c) => (false, vec![c]),
    };
    let minimal = if only {
        None
    } else {
        Some(ensure::ensure(paths, source, KernelChoice::Minimal, true)?)
    };
    let test = if with_test {
        let k = ensure::kernel(paths, source, KernelChoice::Test)?;
        // `ensure` checked every fragment setting in the built .config; show the debugging aids.
        let debug: Vec<&str> = k
            .settings
            .iter()
            .filter(|s| {
                minimal
                    .as_ref()
                    .is_none_or(|m| !m.kernel.settings.contains(s))
            })
            .map(String::as_str)
            .collect();
        eprintln!(
            "    [kernel] verified in the test kernel's .config: {}",
            debug.join(" ")
        );
        Some(ensure::modules(paths, k, false)?)
    } else {
        None
    };
    let stocks = distros
        .into_iter()
        .map(|d| ensure::ensure(paths, source, d, false))
        .collect::<Result<_>>()?;
    Ok(Kernels {
        minimal,
        test,
        stocks,
    })
}

/// The in-guest suites of the run: all of them, or those that `--suite` names; the fault
/// injection only with `--full` or when named (in a warm default run it would push the time
/// past five minutes).
fn suite_names(tools: &Tools, o: &TestOpts) -> Result<Vec<String>> {
    let names = selected_suites(
        tools.suites.iter().map(|(n, _)| n.clone()).collect(),
        &o.suite,
    )?;
    if o.full || !o.suite.is_empty() {
        return Ok(names);
    }
    eprintln!("==> [guest] the faults suite runs with --full or --suite faults");
    Ok(names
        .into_iter()
        .filter(|n| !FAULT_SUITES.contains(&n.as_str()))
        .collect())
}

/// One guest of the run: its label, its suites and its kernel.
struct Group<'a> {
    label: String,
    suites: Vec<String>,
    built: &'a Built,
    /// A Debian kernel (the long tests' sizes differ).
    stock: bool,
}

/// The guests, in the order of the queue that two workers take from: first the two of the test
/// kernel (the fuzzer, the longest suite with one busy vCPU, in one; every other suite in the
/// other), then one per Debian kernel. On two cores this keeps both busy to the end, whichever
/// guest finishes first.
fn groups<'a>(k: &'a Kernels, names: &[String]) -> Vec<Group<'a>> {
    let mut groups = Vec::new();
    if let Some(built) = &k.test {
        for (label, suites) in guest_groups(names) {
            groups.push(Group {
                label: label.to_string(),
                suites,
                built,
                stock: false,
            });
        }
    }
    for built in &k.stocks {
        let suites: Vec<String> = names
            .iter()
            .filter(|n| built.kernel.has("FAULT_INJECTION") || !FAULT_SUITES.contains(&n.as_str()))
            .cloned()
            .collect();
        if !suites.is_empty() {
            groups.push(Group {
                label: built.kernel.profile.name.to_string(),
                suites,
                built,
                stock: true,
            });
        }
    }
    groups
}

/// The guest of each group.
fn specs<'a>(groups: &'a [Group<'a>], o: &'a TestOpts, tools: &'a Tools) -> Vec<GuestSpec<'a>> {
    groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let env = suite_env(o, &g.built.kernel, g.stock);
            GuestSpec {
                timeout: Some(guest_timeout(o)),
                memory_mib: o.guest.memory.max(2048),
                // One guest's output streams as it arrives; the others' is in their logs.
                stream: i == 0,
                // See `ONE_THREAD_SUITES`. The other suites' races (two readers of one file,
                // rmmod against users) want vCPUs that truly run at once.
                one_thread: g
                    .suites
                    .iter()
                    .all(|n| ONE_THREAD_SUITES.contains(&n.as_str())),
                ..GuestSpec::new(
                    &g.label,
                    &g.built.kernel,
                    &g.built.module,
                    tools,
                    Job::Script(suites_script(&g.suites, &env)),
                )
                .with_opts(&o.guest)
            }
        })
        .collect()
}

/// Beside the guests: the installation checks and the packages (about 30 s that the guests
/// need not wait for), then the self-tests.
fn side(paths: &Paths, k: &Kernels, tools: &Tools, o: &TestOpts, selftests: bool) -> Result<Tally> {
    let mut side = Tally::default();
    if let Some(m) = &k.minimal {
        install::run(paths, &m.kernel, &mut side);
        // The Debian packages: built and linted every time; installed in a fresh chroot and
        // booted in Debian's systems with --full.
        let parts = if o.full { package::Part::ALL } else { &[] };
        package::run(paths, tools, parts, &mut side)?;
        if selftests {
            run_matching(paths, m, tools, &o.guest, &mut side, &[])?;
        }
    }
    Ok(side)
}

/// Counts every guest's results into `tally`, with the KUnit results merged across guests.
fn count_guests(
    specs: &[GuestSpec<'_>],
    groups: &[Group<'_>],
    runs: &[GuestRun],
    tally: &mut Tally,
) {
    let before = (tally.passed, tally.failed, tally.skipped);
    let mut kunit_results = Vec::new();
    let mut kunit_runs = 0;
    // `specs` were made from `groups`, in the same order.
    for ((spec, g), run) in specs.iter().zip(groups).zip(runs) {
        if !spec.stream && !run.output.is_empty() {
            eprintln!("    [guest] output of the {} guest:", spec.label);
            eprint!("{}", run.output);
        }
        kunit_runs += count_guest(
            spec.label,
            spec.kernel,
            &g.suites,
            run,
            tally,
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
}

/// `cargo xtask test`.
pub fn test(paths: &Paths, o: &TestOpts) -> Result<ExitCode> {
    refuse_others(
        "test",
        o.guest.kernel,
        &KERNELS,
        "the suites run on the test kernel and on Debian's kernels, not on the minimal one",
    )?;
    // `--suite` or `--kernel`: only those in-guest suites on that kernel, for a quick loop.
    let only = !o.suite.is_empty() || o.guest.kernel.is_some();
    let selftests = !o.no_selftest && !only;
    let start = Instant::now();
    let mut tally = Tally::default();
    let source = setup::setup(paths)?;
    let k = kernels(paths, &source, o, only)?;
    let tools = tools::build(paths)?;
    let names = suite_names(&tools, o)?;
    if k.minimal.is_some() {
        host_tests(paths, &mut tally)?;
    } else {
        eprintln!(
            "==> [host] skipped: only the suites {} (--suite/--kernel)",
            names.join(", ")
        );
    }
    let groups = groups(&k, &names);
    let specs = specs(&groups, o, &tools);
    let (runs, side) = std::thread::scope(|scope| {
        let side = scope.spawn(|| side(paths, &k, &tools, o, selftests));
        let runs = run_queue(paths, &specs, GUEST_WORKERS);
        let side = side
            .join()
            .map_err(|_| anyhow::anyhow!("the self-test thread panicked"));
        (runs, side)
    });
    let side = side??;
    let runs = runs?;
    count_guests(&specs, &groups, &runs, &mut tally);
    if selftests {
        eprintln!(
            "    [side] {} passed, {} failed (installation, packages, and the self-tests and \
             scenarios on the minimal kernel)",
            side.passed, side.failed
        );
    } else if k.minimal.is_some() {
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
    }
    let logs: Vec<String> = runs
        .iter()
        .map(|r| r.console_log.display().to_string())
        .collect();
    Ok(tally.finish(&format!(
        "test: finished in {}; guest console logs: {}",
        fmt_duration(start.elapsed()),
        logs.join(" ")
    )))
}
