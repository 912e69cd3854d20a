// SPDX-License-Identifier: GPL-2.0

//! Boots of the minimal kernel beside the main test run: the harness's own tests, each a guest
//! that misbehaves on purpose and passes only if the harness reports the failure (without them,
//! a harness that counted a crash as a pass would look green), and module scenarios that need a
//! guest of another size (a buffer larger than memory, the largest buffer). They run in a thread
//! of their own while the test kernel's guest runs, which mostly keeps one core busy.

use crate::bench::counts::CountRun;
use crate::bench::{figures, sweep::Sweep};
use crate::guest::qemu::Ended;
use crate::guest::run::GuestRun;
use crate::guest::spec::Job;
use crate::kernels::kernel::Kernel;
use crate::report::ktap;

/// The larger size of the benchmark's smoke tests: one 2 MiB page, the smallest buffer that THP
/// can map huge.
pub const QUICK_LARGE: u64 = 2 << 20;

/// The benchmark's smoke tests sweep 4 KiB and 2 MiB (the per-call figures at 2 MiB).
fn quick_sweep() -> Sweep {
    Sweep::new(vec![4096, QUICK_LARGE]).expect("a valid sweep")
}

/// The program that the first case copies into the guest, as `vm --with` does.
pub const WITH_FILE: &str = "selftest-exit-3.sh";

pub struct Case {
    /// `selftest` for the harness's own tests, `scenario` for module scenarios.
    pub source: &'static str,
    pub name: &'static str,
    pub job: Job,
    pub timeout: u64,
    /// Module parameters and guest memory, when not the run's own.
    pub params: Option<&'static [&'static str]>,
    pub memory_mib: Option<u32>,
    /// Loads the benchmarks' C reference module too.
    pub cref: bool,
    /// Boots as `cargo xtask bench` does for its instruction counts: one vCPU, `-icount`, and the
    /// counting plugin (built on first use).
    pub count: bool,
    /// Whether the harness judged the run as it should (the kernel gives `System.map`).
    pub check: fn(&GuestRun, &Kernel) -> Result<(), String>,
}

impl Case {
    /// The fields most cases share: the run's own parameters and memory, mydev alone, a plain
    /// boot, two minutes. Every case names itself and gives its job and check.
    fn base(source: &'static str) -> Self {
        Case {
            source,
            name: "",
            job: Job::Script(String::new()),
            timeout: 120,
            params: None,
            memory_mib: None,
            cref: false,
            count: false,
            check: |_, _| Err("this case has no check".into()),
        }
    }
}

pub fn cases() -> Vec<Case> {
    vec![
        Case {
            // What `cargo xtask vm --with ./prog -- ./prog` does: copy, run in /work, return.
            name: "a_with_file_runs_and_its_exit_status_reaches_the_host",
            job: Job::Script(format!("./{WITH_FILE}\n")),
            check: |r, _| match (r.status, r.problems().is_empty(), r.output.contains("hello from the guest")) {
                (Some(3), true, true) => Ok(()),
                other => Err(format!("expected status 3, no problems and the output; got {other:?}")),
            },
            ..Case::base("selftest")
        },
        Case {
            name: "a_guest_that_panics_fails_the_run",
            job: Job::Crash,
            check: |r, _| {
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
            ..Case::base("selftest")
        },
        Case {
            name: "a_test_that_never_reports_fails_the_run",
            job: Job::Script("echo 'TAP version 13'\necho '1..2'\necho 'ok 1 - reported'\n".into()),
            check: |r, _| {
                let doc = ktap::parse(&r.output);
                if doc.has_failure() && doc.errors.iter().any(|e| e.contains("planned 2 tests, 1 reported")) {
                    Ok(())
                } else {
                    Err(format!("a missing result went unnoticed: {doc:?}"))
                }
            },
            ..Case::base("selftest")
        },
        Case {
            name: "a_kernel_warning_fails_the_run",
            // The scan reads the console text, so a warning-level message in the kernel's
            // format exercises it exactly as a WARN_ON() report would.
            job: Job::Script(
                "echo '<4>WARNING: CPU: 0 PID: 1 at xtask/selftest: injected warning' > /dev/kmsg\n".into(),
            ),
            check: |r, _| {
                let p = r.problems();
                if r.status == Some(0) && p.iter().any(|p| p.contains("injected warning")) {
                    Ok(())
                } else {
                    Err(format!("a kernel warning went unnoticed: {p:?}"))
                }
            },
            ..Case::base("selftest")
        },
        Case {
            // What `cargo xtask vm -- CMD` and `demo` exit with when the command exits 0 but the
            // kernel reported trouble: the oops of a kernel bug, and the fault path's complaint
            // about a fault handler that returned VM_FAULT_OOM (issue 19).
            name: "a_kernel_report_makes_vm_and_demo_exit_non_zero",
            job: Job::Script(
                "echo '<1>Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP' > /dev/kmsg\n\
                 echo '<3>Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF' > /dev/kmsg\n"
                    .into(),
            ),
            check: |r, _| {
                let p = r.problems().join("\n");
                if r.status == Some(0)
                    && p.contains("Oops: general protection fault")
                    && p.contains("Huh VM_FAULT_OOM")
                    && r.exit_status(false) != 0
                {
                    Ok(())
                } else {
                    Err(format!(
                        "status {:?}, exit status {}, problems {p:?}",
                        r.status,
                        r.exit_status(false)
                    ))
                }
            },
            ..Case::base("selftest")
        },
        Case {
            name: "a_hung_guest_is_killed_at_the_timeout",
            job: Job::Script("echo sleeping\nsleep 100000\n".into()),
            timeout: 10,
            check: |r, _| {
                if r.ended == Ended::TimedOut
                    && r.status.is_none()
                    && r.problems().iter().any(|p| p.contains("timed out"))
                {
                    Ok(())
                } else {
                    Err(format!("a hang was not caught: ended {:?}, status {:?}", r.ended, r.status))
                }
            },
            ..Case::base("selftest")
        },
        Case {
            name: "a_buffer_larger_than_memory_fails_the_load_with_enomem",
            job: Job::Script("true\n".into()),
            params: Some(&["size=1073741824"]),
            memory_mib: Some(512),
            check: |r, _| {
                let logged = r.console.contains("mmap: cannot allocate 1073741824 bytes");
                let refused = r.output.contains("insmod mmap.ko size=1073741824 failed");
                match (r.status, logged, refused, r.problems().is_empty()) {
                    (Some(125), true, true, true) => Ok(()),
                    other => Err(format!("expected insmod to fail with the log line and nothing else; got {other:?}")),
                }
            },
            ..Case::base("scenario")
        },
        Case {
            name: "largest_buffer_loads_maps_and_is_freed_at_unload",
            job: Job::Script("/opt/mydev/module-tests largest_size\n".into()),
            timeout: 300,
            memory_mib: Some(1536),
            check: |r, _| {
                let doc = ktap::parse(&r.output);
                let passed = doc.results.len() == 1 && !doc.has_failure();
                if passed && r.status == Some(0) && r.problems().is_empty() {
                    Ok(())
                } else {
                    Err(format!("status {:?}, problems {:?}\n{}", r.status, r.problems(), r.output))
                }
            },
            ..Case::base("scenario")
        },
        Case {
            // The smoke test of `cargo xtask bench`: a short run over two sizes (4 KiB, where the
            // hugetlb memfd rounds up to one 2 MiB page, and 2 MiB, where THP must map a 2 MiB
            // page) must produce every figure and find the huge pages mapped huge.
            name: "benchmark_program_produces_every_figure",
            job: Job::Script(crate::bench::sweep::script(&quick_sweep(), "--quick")),
            timeout: 300,
            params: Some(&[]),
            cref: true,
            check: |r, _| {
                let json = figures::extract_json(&r.output).ok_or("no JSON in the output")?;
                let figures = figures::parse(json).map_err(|e| format!("{e:#}"))?;
                let missing = figures::missing(&figures, &quick_sweep(), &[]);
                let huge = figures::parse_huge(&r.output).map_err(|e| format!("{e:#}"))?;
                let huge_at = |c: &str, size: u64| {
                    huge.iter().any(|h| h.contender == c && h.size == size && h.which == "touch" && h.percent() == 100.0)
                };
                if !(huge_at("memfd-thp", QUICK_LARGE) && huge_at("memfd-hugetlb", 4096) && huge_at("memfd-hugetlb", QUICK_LARGE)) {
                    return Err(format!("huge pages not reported as mapped huge: {huge:?}"));
                }
                if r.status == Some(0) && missing.is_empty() && r.problems().is_empty() {
                    Ok(())
                } else {
                    Err(format!("status {:?}, missing {missing:?}, problems {:?}", r.status, r.problems()))
                }
            },
            ..Case::base("scenario")
        },
        Case {
            // The smoke test of `cargo xtask bench`'s counting boot: every figure is counted at
            // both sizes, the module counter sees the two drivers' code and nothing else's, and
            // the profile finds mydev's read in its own module (with the symbols of the module
            // as loaded for that size).
            name: "instruction_counts_cover_every_figure_and_find_the_module",
            job: Job::Script(crate::bench::sweep::script(&quick_sweep(), "--count --quick")),
            timeout: 300,
            params: Some(&[]),
            cref: true,
            count: true,
            check: |r, kernel| {
                if r.status != Some(0) || !r.problems().is_empty() {
                    return Err(format!("status {:?}, problems {:?}", r.status, r.problems()));
                }
                let c = CountRun::read(r, kernel).map_err(|e| format!("{e:#}"))?;
                let missing = c.missing(&quick_sweep(), &[]);
                if !missing.is_empty() {
                    return Err(format!("missing {missing:?}"));
                }
                for x in &c.counts {
                    let driver = x.contender == "mydev" || x.contender == "cref";
                    let io = x.metric.starts_with("seq_")
                        || x.metric == "pread_latency"
                        || x.metric == "read_1m"
                        || x.metric == "write_1m";
                    if (driver && io && x.module < 1.0) || (!driver && x.module != 0.0) || x.total < 1.0 {
                        return Err(format!("implausible count {x:?}"));
                    }
                }
                let f = c.per_function("mydev", "pread_latency", 64).map_err(|e| format!("{e:#}"))?;
                // `pread` goes through the module's own `.read` file operation.
                if f.keys().any(|name| name.contains("Mydev>>::read [mmap]")) {
                    Ok(())
                } else {
                    Err(format!("no mydev read in the profile: {:?}", f.keys().collect::<Vec<_>>()))
                }
            },
            ..Case::base("scenario")
        },
    ]
}

/// The names of every case, `source-name`.
pub fn names() -> Vec<String> {
    cases()
        .iter()
        .map(|c| format!("{}-{}", c.source, c.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_names_are_unique_so_a_name_picks_its_own_run() {
        // `cargo xtask selftest NAME` and the run directories (`runs/<source>-<name>`) tell
        // the cases apart by name.
        let names = names();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("selftest-") || n.starts_with("scenario-")),
            "{names:?}"
        );
    }
}
