// SPDX-License-Identifier: GPL-2.0

//! The suites' options, exported in the guest job.

use crate::cmd::test::opts::{Sizes, TestOpts, sizes};
use crate::kernels::kernel::Kernel;

/// The suites' options, exported in the guest job: for the test kernel, or (`stock`) for a
/// Debian kernel.
pub fn suite_env(o: &TestOpts, k: &Kernel, stock: bool) -> Vec<(String, String)> {
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
        // so a warm run there does 2,000 and `--full` the 10,000.
        (
            "MYDEV_RACE_ROUNDS".into(),
            if o.full || stock { "10000" } else { "2000" }.to_string(),
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
