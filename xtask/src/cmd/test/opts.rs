// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`'s options, and the sizes of the long tests they give on each kernel.

use crate::guest::opts::GuestOpts;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct TestOpts {
    #[command(flatten)]
    pub guest: GuestOpts,
    /// Skip the harness self-tests (the boots that check that crashes, hangs and kernel warnings
    /// fail a run).
    #[arg(long)]
    pub no_selftest: bool,
    /// Operations the model-based fuzzer runs on the test kernel (at least 500,000 with --full;
    /// a longer run: --fuzz-ops 5000000 --timeout 3600).
    #[arg(long, value_name = "N", default_value = "40000")]
    pub fuzz_ops: u64,
    /// Operations each process of the concurrent model checker runs on the test kernel (the
    /// `concurrent` suite: 4 processes on one device), ten times as many on Debian's kernels;
    /// with --full at least 25,000 on the test kernel and 100,000 on Debian's.
    #[arg(long, value_name = "N", default_value = "1000")]
    pub concurrent_ops: u64,
    /// The fuzzer's seed (a mismatch report names the seed that reproduces it).
    #[arg(long, value_name = "N", default_value = "1")]
    pub fuzz_seed: u64,
    /// Seconds the concurrent stress test runs.
    #[arg(long, value_name = "SECONDS", default_value = "10")]
    pub stress_seconds: u64,
    /// Module load/unload cycles of the lifecycle test (each takes 0.25 to 0.5 s on the debug
    /// kernel under emulation on two cores; --full runs 1000). The test's own timeout grows with
    /// it (a second a cycle, at least 2 minutes).
    #[arg(long, value_name = "N", default_value = "80")]
    pub load_cycles: u64,
    /// The full sizes, as CI runs them: 1000 load/unload cycles, 500,000 fuzzer operations,
    /// 20,000 mmap/munmap cycles, the same sizes on Debian's kernels, the Debian packages
    /// installed and booted, every failure point of a load, and a guest timeout of at least 40
    /// minutes; the default keeps a warm run under five minutes on two cores.
    #[arg(long)]
    pub full: bool,
    /// mmap/munmap cycles of the mapping test (at least 20,000 with --full).
    #[arg(long, value_name = "N", default_value = "5000")]
    pub map_cycles: u64,
    /// Run only this in-guest suite on the test kernel (repeatable: module-tests,
    /// library-tests, tool-tests, fuzz, concurrent, stress, faults), with KUnit and the kmemleak scan, and nothing
    /// else (no host tests, install checks or self-tests): the quick loop.
    #[arg(long, value_name = "NAME")]
    pub suite: Vec<String>,
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
pub fn guest_timeout(o: &TestOpts) -> Duration {
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
