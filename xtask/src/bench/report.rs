// SPDX-License-Identifier: GPL-2.0

//! What `cargo xtask bench` prints (the tables, the goals, the profiles) and writes beside
//! `bench.json` and `bench.svg` (the counts as JSON and SVG).

use crate::bench::charts;
use crate::bench::counts::{COUNT_CPUS, Count, ICOUNT};
use crate::bench::figures::{Figure, Huge, huge_table};
use crate::bench::goals::{GOAL_FROM, GOAL_METRICS, create_goal, touch_goal};
use crate::bench::plot::human;
use crate::bench::sweep::{OTHERS, Sweep};
use crate::bench::tables::{count_table, sweep_count_table, sweep_table, table};
use crate::bench::zero_copy as zc;
use crate::guest::qemu::Accel;
use anyhow::Result;
use std::path::Path;
use std::time::Duration;

/// The timing boot's results.
#[derive(Debug)]
pub struct Timed {
    pub figures: Vec<Figure>,
    /// The sizes the guest could not set up, and why.
    pub skipped: Vec<(u64, String)>,
    pub huge: Vec<Huge>,
    pub elapsed: Duration,
    pub status: Option<i32>,
}

/// The counting boot's results.
#[derive(Debug)]
pub struct Counted {
    pub counts: Vec<Count>,
    /// The `--profile` comparisons.
    pub reports: Vec<String>,
    pub skipped: Vec<(u64, String)>,
    pub huge: Vec<Huge>,
    pub elapsed: Duration,
}

/// What every table's heading needs.
#[derive(Debug)]
pub struct Header<'a> {
    pub sweep: &'a Sweep,
    /// The sizes the host could not afford, and why.
    pub host_skipped: &'a [(u64, String)],
    pub repeat: u32,
    pub accel: Accel,
    pub memory_mib: u32,
}

impl Header<'_> {
    /// The swept sizes and those the host left out.
    fn all_sizes(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.sweep.sizes.clone();
        v.extend(self.host_skipped.iter().map(|(s, _)| *s));
        v
    }

    /// The sizes a boot skipped and those the host did.
    fn with_host(&self, guest: &[(u64, String)]) -> Vec<(u64, String)> {
        guest.iter().chain(self.host_skipped).cloned().collect()
    }
}

/// The heading and the timing boot's tables.
pub fn print_timings(h: &Header<'_>, t: &Timed) {
    let all_sizes = h.all_sizes();
    let list: Vec<String> = all_sizes.iter().map(|&s| human(s)).collect();
    println!(
        "mydev benchmarks: buffer sizes {}, {} repeats, accelerator {}, guest {} MiB — \
         wall-clock times under TCG emulation: compare the ratios (same boot), not the absolute figures",
        list.join(" "),
        h.repeat,
        h.accel.name(),
        h.memory_mib
    );
    println!(
        "\nper-call figures at {} (mydev/X: X's cost over mydev's, above 1 means mydev is better):",
        human(h.sweep.detail)
    );
    print!("{}", table(&t.figures));
    println!(
        "\nthe sweep, time per operation (median ± half the spread; best other: the cheapest of {}; \
         mydev/best: mydev's time over its, at most 1 means mydev is no slower):",
        OTHERS.join(", ")
    );
    print!(
        "{}",
        sweep_table(&t.figures, &all_sizes, &h.with_host(&t.skipped))
    );
    println!(
        "\nhuge pages (share of a touched mapping mapped with huge page-table entries, from /proc/self/smaps; \
         memfd-thp below 2M: no 2 MiB folio fits; memfd-hugetlb below 2M: one 2 MiB page):"
    );
    print!("{}", huge_table(&t.huge, &h.sweep.sizes));
}

/// The counting boot's tables, goals and profiles; writes `counts.json` and `counts.svg` into
/// `dir`. `timed_huge`: the timing boot's huge-page lines (the counting boot's are shown only
/// where they differ).
pub fn print_counts(h: &Header<'_>, c: &Counted, timed_huge: &[Huge], dir: &Path) -> Result<()> {
    let sizes = &h.sweep.sizes;
    println!(
        "\nguest instructions per operation (second boot: QEMU -icount {ICOUNT} and a fixed RTC, \
         {COUNT_CPUS} vCPU, counted by the mydev_icount plugin; median ± half the spread of the rounds after \
         the warm-up; in brackets: in module code), per-call figures at {}:",
        human(h.sweep.detail)
    );
    print!("{}", count_table(&c.counts));
    println!(
        "\nthe sweep in guest instructions per operation (goal: from {} on, mydev's {} cost no more \
         than the best other, i.e. mydev/best at most 1):",
        human(GOAL_FROM),
        GOAL_METRICS.join(" and ")
    );
    print!(
        "{}",
        sweep_count_table(&c.counts, &h.all_sizes(), &h.with_host(&c.skipped))
    );
    if let Some(goal) = touch_goal(&c.counts) {
        println!("{goal}");
    }
    for goal in create_goal(&c.counts)
        .into_iter()
        .chain(zc::dmabuf_goal(&c.counts))
        .chain(zc::dio_goal(&c.counts))
    {
        println!("{goal}");
    }
    if huge_table(&c.huge, sizes) != huge_table(timed_huge, sizes) {
        println!("\nhuge pages in the counting boot:");
        print!("{}", huge_table(&c.huge, sizes));
    }
    let path = dir.join("counts.json");
    let svg_path = dir.join("counts.svg");
    std::fs::write(&path, counts_json(&c.counts)?)?;
    std::fs::write(&svg_path, charts::count_svg(&c.counts)?)?;
    println!("instruction counts: {}", path.display());
    println!("instruction plot: {}", svg_path.display());
    for r in &c.reports {
        print!("\n{r}");
    }
    Ok(())
}

/// `counts.json`: a record per measurement.
fn counts_json(counts: &[Count]) -> Result<String> {
    let rows: Vec<serde_json::Value> = counts
        .iter()
        .map(|c| {
            serde_json::json!({
                "contender": c.contender, "metric": c.metric, "param": c.param,
                "size": c.size, "total_per_op": c.total, "kernel_per_op": c.kernel,
                "module_per_op": c.module, "spread_percent": c.spread,
                "min_total_per_op": c.min, "max_total_per_op": c.max,
            })
        })
        .collect();
    Ok(serde_json::to_string_pretty(&rows)?)
}
