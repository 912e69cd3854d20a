// SPDX-License-Identifier: GPL-2.0

//! The sweep's two SVG plots: time, and guest instructions, against buffer size.

use crate::bench::counts::Count;
use crate::bench::figures::{Figure, min_max};
use crate::bench::plot;
use crate::bench::protocol::CONTENDERS;
use crate::bench::sweep::{SWEEP_METRICS, is_sweep};
use anyhow::Result;

/// The sweep's panels: one per metric, a line per contender through the medians, bars from the
/// smallest to the largest sample.
fn panels(points: &[(&str, &str, u64, f64, f64, f64)], y_label: &str) -> Vec<plot::Panel> {
    SWEEP_METRICS
        .iter()
        .map(|(metric, what)| plot::Panel {
            title: format!("{metric}: {what}"),
            y_label: y_label.to_string(),
            series: CONTENDERS
                .iter()
                .enumerate()
                .map(|(i, c)| plot::Series {
                    name: c.to_string(),
                    color: i,
                    points: points
                        .iter()
                        .filter(|p| p.0 == *c && p.1 == *metric)
                        .map(|p| plot::Point {
                            x: p.2 as f64,
                            median: p.3,
                            min: p.4,
                            max: p.5,
                        })
                        .collect(),
                })
                .filter(|s| !s.points.is_empty())
                .collect(),
        })
        .filter(|p| !p.series.is_empty())
        .collect()
}

/// The timing plot of the sweep.
pub fn svg(figures: &[Figure]) -> Result<String> {
    let points: Vec<_> = figures
        .iter()
        .filter(|f| is_sweep(&f.metric) && !f.samples.is_empty())
        .map(|f| {
            let (min, max) = min_max(&f.samples);
            (
                f.contender.as_str(),
                f.metric.as_str(),
                f.param,
                f.median(),
                min,
                max,
            )
        })
        .collect();
    plot::svg(
        "mydev benchmark: wall-clock time against buffer size (guest under QEMU TCG; median, bars from the fastest to the slowest sample)",
        &panels(&points, "time per operation (µs, log scale)"),
    )
}

/// The instruction-count plot of the sweep.
pub fn count_svg(counts: &[Count]) -> Result<String> {
    let points: Vec<_> = counts
        .iter()
        .filter(|c| is_sweep(&c.metric))
        .map(|c| {
            (
                c.contender.as_str(),
                c.metric.as_str(),
                c.param,
                c.total,
                c.min,
                c.max,
            )
        })
        .collect();
    plot::svg(
        "mydev benchmark: guest instructions against buffer size (counting boot; median, bars from the smallest to the largest round)",
        &panels(&points, "guest instructions per operation (log scale)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::{count, fig};
    use crate::bench::sweep::applies;

    #[test]
    fn plots_have_a_panel_per_sweep_metric_and_a_line_per_contender() {
        let mut figures = Vec::new();
        for c in CONTENDERS.iter() {
            for (m, _) in SWEEP_METRICS.iter() {
                if applies(c, m) {
                    for size in [4096, 16384] {
                        figures.push(fig(c, m, size, "us/op", &[1.0, 2.0, 3.0]));
                    }
                }
            }
        }
        figures.push(fig("mydev", "pread_latency", 64, "ns/op", &[1.0]));
        let s = svg(&figures).unwrap();
        for (m, what) in SWEEP_METRICS.iter() {
            assert!(s.contains(&format!("{m}: {what}")), "no panel for {m}");
        }
        assert!(
            !s.contains("pread_latency"),
            "per-call figures are not swept"
        );
        // Every contender is in the legend of every panel it has figures in.
        let legend = |c: &str| s.matches(&format!(">\n{c}\n<")).count();
        assert_eq!(legend("mydev"), SWEEP_METRICS.len());
        assert_eq!(legend("memcpy"), 3, "memcpy maps nothing");
        assert_eq!(
            legend("memfd-hugetlb"),
            6,
            "hugetlbfs has no write; O_DIRECT is mydev's alone"
        );
        assert_eq!(
            legend("cref"),
            5,
            "cref makes no new buffer and exports nothing; O_DIRECT is mydev's"
        );
        assert_eq!(
            s.matches("time per operation (µs, log scale)").count(),
            SWEEP_METRICS.len()
        );
        // A contender keeps its colour in panels that lack others (write_1m has no hugetlb).
        let points: Vec<_> = figures
            .iter()
            .map(|f| {
                (
                    f.contender.as_str(),
                    f.metric.as_str(),
                    f.param,
                    1.0,
                    1.0,
                    1.0,
                )
            })
            .collect();
        for p in panels(&points, "y") {
            for s in &p.series {
                assert_eq!(CONTENDERS[s.color], s.name, "in {}", p.title);
            }
        }
        let counts: Vec<Count> = figures
            .iter()
            .map(|f| count(&f.contender, &f.metric, f.param, 100.0))
            .collect();
        let c = count_svg(&counts).unwrap();
        assert_eq!(
            c.matches("guest instructions per operation (log scale)")
                .count(),
            SWEEP_METRICS.len()
        );
    }
}
