// SPDX-License-Identifier: GPL-2.0

//! The benchmark's zero-copy figures (the program's `zero_copy.rs`): which contenders and sizes
//! they are measured for, and their goals in the counting boot.
//!
//! - `dmabuf_map_touch`: mydev's dma-buf export against mainline udmabuf's of each memfd;
//!   goal: mydev costs no more than the cheapest udmabuf.
//! - `dio_write_map` and `dio_write_copy`: an `O_DIRECT` write of the whole buffer from a
//!   mapping of it, and the same after a `read()` copy; goal: the mapping saves at least what
//!   the copy costs (the sweep's `read_1m`, once per MiB).

use crate::bench::count::Count;
use crate::bench::plot::human;

/// The smallest buffer size they are measured at.
pub const FROM: u64 = super::protocol::ZERO_COPY_FROM;

/// The figures (their descriptions are in `bench::SWEEP_METRICS`).
pub const METRICS: [&str; 3] = {
    let m = super::protocol::SWEEP_METRICS;
    [m[6], m[7], m[8]]
};

/// Whether `metric` is one of these figures.
pub fn is_zero_copy(metric: &str) -> bool {
    METRICS.contains(&metric)
}

/// Whether the benchmark measures zero-copy `metric` for `contender` (at sizes from [`FROM`]):
/// cref has no export and memcpy no file; the `O_DIRECT` figures compare mydev with itself.
pub fn applies(contender: &str, metric: &str) -> bool {
    match metric {
        "dmabuf_map_touch" => !matches!(contender, "cref" | "memcpy"),
        _ => contender == "mydev",
    }
}

fn total(counts: &[Count], contender: &str, metric: &str, size: u64) -> Option<f64> {
    counts
        .iter()
        .find(|c| c.contender == contender && c.metric == metric && c.param == size)
        .map(|c| c.total)
}

fn sizes(counts: &[Count], metric: &str) -> Vec<u64> {
    let mut v: Vec<u64> = counts
        .iter()
        .filter(|c| c.metric == metric && c.param >= FROM)
        .map(|c| c.param)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

/// A line per size: mydev's export against the cheapest udmabuf.
pub fn dmabuf_goal(counts: &[Count]) -> Vec<String> {
    let metric = "dmabuf_map_touch";
    sizes(counts, metric)
        .into_iter()
        .filter_map(|size| {
            let m = total(counts, "mydev", metric, size)?;
            let (name, u) = ["memfd", "memfd-thp", "memfd-hugetlb"]
                .into_iter()
                .filter_map(|c| Some((c, total(counts, c, metric, size)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1))?;
            let ratio = m / u;
            Some(format!(
                "{} {metric}: mydev {m:.0} insn/op, udmabuf of {name} {u:.0}, mydev/udmabuf \
                 {ratio:.3} (goal: at most 1): {}",
                human(size),
                met(ratio <= 1.0)
            ))
        })
        .collect()
}

/// A line per size: what writing from the mapping saves against the `read()` copy's cost.
pub fn dio_goal(counts: &[Count]) -> Vec<String> {
    sizes(counts, "dio_write_map")
        .into_iter()
        .filter_map(|size| {
            let map = total(counts, "mydev", "dio_write_map", size)?;
            let copy = total(counts, "mydev", "dio_write_copy", size)?;
            let read = total(counts, "mydev", "read_1m", size)? * (size >> 20) as f64;
            let saved = copy - map;
            Some(format!(
                "{} O_DIRECT write: from the mapping {map:.0} insn/op, after a read() copy {copy:.0}, \
                 saved {saved:.0}; the read() alone costs {read:.0}, saved/read {:.3} (goal: at least \
                 1): {}",
                human(size),
                saved / read,
                met(saved >= read)
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(contender: &str, metric: &str, size: u64, total: f64) -> Count {
        Count {
            contender: contender.into(),
            metric: metric.into(),
            param: size,
            size,
            total,
            kernel: 0.0,
            module: 0.0,
            spread: 0.0,
            min: total,
            max: total,
        }
    }

    #[test]
    fn zero_copy_figures_are_for_the_exporters() {
        assert!(applies("mydev", "dmabuf_map_touch"));
        assert!(applies("memfd-hugetlb", "dmabuf_map_touch"));
        assert!(!applies("cref", "dmabuf_map_touch"));
        assert!(!applies("memcpy", "dmabuf_map_touch"));
        assert!(applies("mydev", "dio_write_copy"));
        assert!(!applies("memfd", "dio_write_map"));
    }

    #[test]
    fn goals_compare_with_the_cheapest_udmabuf_and_the_copy() {
        let m = 4 << 20;
        let counts = [
            count("mydev", "dmabuf_map_touch", m, 90.0),
            count("memfd", "dmabuf_map_touch", m, 100.0),
            count("memfd-hugetlb", "dmabuf_map_touch", m, 80.0),
            count("mydev", "dio_write_map", m, 1000.0),
            count("mydev", "dio_write_copy", m, 1500.0),
            count("mydev", "read_1m", m, 100.0),
        ];
        let d = dmabuf_goal(&counts);
        assert_eq!(d.len(), 1);
        assert!(d[0].contains("udmabuf of memfd-hugetlb 80"), "{}", d[0]);
        assert!(d[0].ends_with("MISSED"), "{}", d[0]);
        let o = dio_goal(&counts);
        assert!(
            o[0].contains("saved 500; the read() alone costs 400"),
            "{}",
            o[0]
        );
        assert!(o[0].ends_with(": met"), "{}", o[0]);
    }
}
