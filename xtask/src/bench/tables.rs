// SPDX-License-Identifier: GPL-2.0

//! The tables the benchmark prints: per-call figures and the sweep, timed or counted, with the
//! ratios the goals are stated in.

use crate::bench::counts::Count;
use crate::bench::figures::Figure;
use crate::bench::goals::{GOAL_FROM, GOAL_METRICS, verdict};
use crate::bench::plot::human;
use crate::bench::protocol::CONTENDERS;
use crate::bench::sweep::{OTHERS, SWEEP_METRICS};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One entry of a table: a contender's result for a metric at a parameter.
pub trait Entry {
    fn key(&self) -> (&str, u64, &str);
    fn unit(&self) -> &str;
    /// The formatted result (the table pads it to its column).
    fn cell(&self) -> String;
    /// The result as a cost: time or instructions per operation, the inverse of a throughput.
    fn cost(&self) -> f64;
}

/// `v` with three or four significant digits.
fn sig(v: f64) -> String {
    match v.abs() {
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 10.0 => format!("{v:.1}"),
        _ => format!("{v:.2}"),
    }
}

/// The per-call figures (everything but the sweep's): a row per metric and parameter, a column
/// of `width` per contender, and the ratios mydev/memfd and mydev/cref (above 1 is better for
/// mydev).
fn grid<T: Entry>(entries: &[T], width: usize) -> String {
    let sweep = |m: &str| SWEEP_METRICS.iter().any(|(s, _)| *s == m);
    let mut rows: BTreeMap<(&str, u64), BTreeMap<&str, &T>> = BTreeMap::new();
    for e in entries {
        let (metric, param, contender) = e.key();
        if !sweep(metric) {
            rows.entry((metric, param))
                .or_default()
                .insert(contender, e);
        }
    }
    let mut s = format!("{:<18} {:>6} {:>7}", "metric", "param", "unit");
    for c in CONTENDERS.iter() {
        let _ = write!(s, " {c:>width$}");
    }
    s.push_str("  mydev/memfd mydev/cref\n");
    for ((metric, param), by) in &rows {
        let unit = by.values().next().map(|e| e.unit()).unwrap_or("");
        let _ = write!(s, "{metric:<18} {:>6} {unit:>7}", human(*param));
        for c in CONTENDERS.iter() {
            let cell = by.get(*c).map_or("-".to_string(), |e| e.cell());
            let _ = write!(s, " {cell:>width$}");
        }
        let ratio = |other: &str| match (by.get("mydev"), by.get(other)) {
            (Some(m), Some(o)) => format!("{:.3}", o.cost() / m.cost()),
            _ => "-".into(),
        };
        let _ = writeln!(s, "  {:>11} {:>10}", ratio("memfd"), ratio("cref"));
    }
    s
}

/// The sweep: per size, a row per sweep metric with a column of `width` per contender, the
/// cheapest of `OTHERS` and mydev's cost over it (at most 1: mydev costs no more). With
/// `goals`, the rows the goals are stated for say whether mydev meets them. Sizes in `skipped`
/// get a line with the reason.
fn sweep_grid<T: Entry>(
    entries: &[T],
    sizes: &[u64],
    skipped: &[(u64, String)],
    width: usize,
    goals: bool,
) -> String {
    let mut s = format!("{:>6} {:<16} {:>7}", "size", "metric", "unit");
    for c in CONTENDERS.iter() {
        let _ = write!(s, " {c:>width$}");
    }
    s.push_str(&format!(
        " {:>13} {:>10}{}\n",
        "best other",
        "mydev/best",
        if goals { "  goal" } else { "" }
    ));
    for &size in sizes {
        if let Some((_, why)) = skipped.iter().find(|(z, _)| *z == size) {
            let _ = writeln!(s, "{:>6} not run: {why}", human(size));
            continue;
        }
        for (metric, _) in SWEEP_METRICS.iter() {
            let by: BTreeMap<&str, &T> = entries
                .iter()
                .filter(|e| e.key().0 == *metric && e.key().1 == size)
                .map(|e| (e.key().2, e))
                .collect();
            if by.is_empty() {
                continue;
            }
            let unit = by.values().next().map(|e| e.unit()).unwrap_or("");
            let _ = write!(s, "{:>6} {metric:<16} {unit:>7}", human(size));
            for c in CONTENDERS.iter() {
                let cell = by.get(*c).map_or("-".to_string(), |e| e.cell());
                let _ = write!(s, " {cell:>width$}");
            }
            let best = OTHERS
                .iter()
                .filter_map(|c| by.get(c).map(|e| (*c, e.cost())))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let (name, ratio) = match (best, by.get("mydev")) {
                (Some((name, cost)), Some(m)) => (name, Some(m.cost() / cost)),
                (Some((name, _)), None) => (name, None),
                _ => ("-", None),
            };
            let _ = write!(
                s,
                " {name:>13} {:>10}",
                ratio.map_or("-".to_string(), |r| format!("{r:.3}"))
            );
            if goals && size >= GOAL_FROM && GOAL_METRICS.contains(metric) {
                let _ = write!(s, "  {}", verdict(ratio));
            }
            s.push('\n');
        }
    }
    s
}

impl Entry for Figure {
    fn key(&self) -> (&str, u64, &str) {
        (&self.metric, self.param, &self.contender)
    }
    fn unit(&self) -> &str {
        &self.unit
    }
    fn cell(&self) -> String {
        format!("{} ±{:.0}%", sig(self.median()), self.spread() / 2.0)
    }
    fn cost(&self) -> f64 {
        if self.higher_is_better() {
            1.0 / self.median()
        } else {
            self.median()
        }
    }
}

/// The timing table of the per-call figures: median (± half the spread) per contender.
pub fn table(figures: &[Figure]) -> String {
    grid(figures, 14)
}

/// The timing table of the sweep.
pub fn sweep_table(figures: &[Figure], sizes: &[u64], skipped: &[(u64, String)]) -> String {
    sweep_grid(figures, sizes, skipped, 14, false)
}

/// A count with the module's instructions in brackets (the per-call table).
struct Detailed<'a>(&'a Count);

impl Entry for Detailed<'_> {
    fn key(&self) -> (&str, u64, &str) {
        self.0.key()
    }
    fn unit(&self) -> &str {
        "insn/op"
    }
    fn cell(&self) -> String {
        format!(
            "{:>9.0} ±{:<2.0}% ({:>5.0})",
            self.0.total,
            self.0.spread / 2.0,
            self.0.module
        )
    }
    fn cost(&self) -> f64 {
        self.0.total
    }
}

impl Entry for Count {
    fn key(&self) -> (&str, u64, &str) {
        (&self.metric, self.param, &self.contender)
    }
    fn unit(&self) -> &str {
        "insn/op"
    }
    fn cell(&self) -> String {
        format!("{:.0} ±{:.0}%", self.total, self.spread / 2.0)
    }
    fn cost(&self) -> f64 {
        self.total
    }
}

/// The counting table of the per-call figures: instructions per operation, whole guest ± half
/// the spread and (in brackets) in module code, and the ratios of the totals (above 1: mydev
/// executes fewer).
pub fn count_table(counts: &[Count]) -> String {
    let detailed: Vec<Detailed> = counts.iter().map(Detailed).collect();
    grid(&detailed, 22)
}

/// The counting table of the sweep, with the goals.
pub fn sweep_count_table(counts: &[Count], sizes: &[u64], skipped: &[(u64, String)]) -> String {
    sweep_grid(counts, sizes, skipped, 16, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::{count, fig};
    use crate::bench::goals::verdict;

    #[test]
    fn per_call_ratios_favour_mydev_above_one() {
        let figures = [
            fig("mydev", "seq_read", 64, "MB/s", &[200.0]),
            fig("memfd", "seq_read", 64, "MB/s", &[100.0]),
            fig("mydev", "pread_latency", 64, "ns/op", &[50.0]),
            fig("memfd", "pread_latency", 64, "ns/op", &[100.0]),
            // Sweep figures are not in this table.
            fig("mydev", "warm_copy", 4096, "us/op", &[1.0]),
        ];
        let t = table(&figures);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("seq_read") && l.contains("2.000")),
            "{t}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("pread_latency") && l.contains("2.000")),
            "{t}"
        );
        assert!(!t.contains("warm_copy"), "{t}");
        assert_eq!(lines.len(), 3, "{t}");
    }

    #[test]
    fn the_sweep_table_names_the_best_other_and_mydevs_ratio_per_size() {
        let figures = [
            fig("mydev", "warm_copy", 4096, "us/op", &[4.0]),
            fig("cref", "warm_copy", 4096, "us/op", &[3.0]),
            fig("memfd-thp", "warm_copy", 4096, "us/op", &[2.0]),
            // memcpy is cheaper still, but not a file contender: not the best other.
            fig("memcpy", "warm_copy", 4096, "us/op", &[1.0]),
            fig("mydev", "warm_copy", 1 << 20, "us/op", &[100.0]),
            fig("memfd", "warm_copy", 1 << 20, "us/op", &[400.0]),
        ];
        let skipped = [(1 << 30, "no memory".to_string())];
        let t = sweep_table(&figures, &[4096, 1 << 20, 1 << 30], &skipped);
        let row = |size: &str| {
            t.lines()
                .find(|l| l.trim_start().starts_with(size))
                .unwrap_or_else(|| panic!("no {size} row in\n{t}"))
                .to_string()
        };
        assert!(row("4K").ends_with("memfd-thp      2.000"), "{t}");
        assert!(row("1M").ends_with("memfd      0.250"), "{t}");
        assert!(row("1G").contains("not run: no memory"), "{t}");
        assert!(!t.contains("goal"), "timings judge no goal:\n{t}");
        // One row per size here (one metric measured).
        assert_eq!(t.lines().count(), 4, "{t}");
    }

    #[test]
    fn the_count_table_judges_the_goals_from_4m_on() {
        let counts = [
            count("mydev", "mmap_touch_all", 1 << 20, 300.0),
            count("memfd", "mmap_touch_all", 1 << 20, 200.0),
            count("mydev", "mmap_touch_all", 4 << 20, 300.0),
            count("memfd-hugetlb", "mmap_touch_all", 4 << 20, 200.0),
            count("mydev", "warm_copy", 4 << 20, 100.0),
            count("cref", "warm_copy", 4 << 20, 100.0),
            count("mydev", "read_1m", 4 << 20, 100.0),
            count("cref", "read_1m", 4 << 20, 50.0),
        ];
        let t = sweep_count_table(&counts, &[1 << 20, 4 << 20], &[]);
        let row = |size: &str, metric: &str| {
            t.lines()
                .find(|l| l.trim_start().starts_with(size) && l.contains(metric))
                .unwrap_or_else(|| panic!("no {size} {metric} in\n{t}"))
                .to_string()
        };
        // Below 4M, no verdict; from 4M on, for the two goal metrics only.
        assert!(row("1M", "mmap_touch_all").ends_with("1.500"), "{t}");
        assert!(
            row("4M", "mmap_touch_all").ends_with("1.500  MISSED"),
            "{t}"
        );
        assert!(row("4M", "warm_copy").ends_with("1.000  met"), "{t}");
        // A count a timer tick above the best is a tie, not a miss.
        assert_eq!(verdict(Some(1.004)), "within 1%");
        assert_eq!(verdict(Some(1.02)), "MISSED");
        assert_eq!(verdict(None), "-");
        assert!(row("4M", "read_1m").ends_with("2.000"), "{t}");
    }

    #[test]
    fn per_call_count_table_ratios_favour_fewer_instructions() {
        let t = count_table(&[
            count("mydev", "pread_latency", 64, 500.0),
            count("cref", "pread_latency", 64, 400.0),
            count("memfd", "pread_latency", 64, 1000.0),
        ]);
        let row = t.lines().find(|l| l.starts_with("pread_latency")).unwrap();
        assert!(row.ends_with("2.000      0.800"), "{t}");
        assert!(
            row.contains("(   10)"),
            "module instructions in brackets: {t}"
        );
    }
}
