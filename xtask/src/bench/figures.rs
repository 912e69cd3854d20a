// SPDX-License-Identifier: GPL-2.0

//! The timing boot's results: the figures' JSON, the sizes the guest skipped, and the huge-page
//! lines; medians and spreads.

use crate::bench::plot::human;
pub use crate::bench::protocol::Figure;
use crate::bench::protocol::{CONTENDERS, HUGE_LINE, JSON_BEGIN, JSON_END, SKIPPED_LINE};
use crate::bench::sweep::{Sweep, applies};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;

impl Figure {
    pub fn median(&self) -> f64 {
        median(self.samples.clone())
    }

    /// (max - min) / median, in percent.
    pub fn spread(&self) -> f64 {
        spread(&self.samples)
    }

    /// Whether more is better (throughput) or less (time).
    pub fn higher_is_better(&self) -> bool {
        self.unit == "MB/s"
    }
}

/// The JSON document between the markers of the guest's output.
pub fn extract_json(output: &str) -> Option<&str> {
    crate::guest::verdict::between(output, JSON_BEGIN, JSON_END)
}

/// Parses the benchmark program's JSON.
pub fn parse(json: &str) -> Result<Vec<Figure>> {
    let v: serde_json::Value = serde_json::from_str(json).context("the benchmark's JSON")?;
    let figures = v["figures"].as_array().context("no figures")?;
    figures
        .iter()
        .map(|f| {
            Ok(Figure {
                contender: f["contender"].as_str().context("contender")?.to_string(),
                metric: f["metric"].as_str().context("metric")?.to_string(),
                param: f["param"].as_u64().context("param")?,
                size: f["size"].as_u64().context("size")?,
                unit: f["unit"].as_str().context("unit")?.to_string(),
                bytes: f["bytes"].as_u64().unwrap_or(0),
                ops: f["ops"].as_u64().unwrap_or(0),
                samples: f["samples"]
                    .as_array()
                    .context("samples")?
                    .iter()
                    .map(|x| x.as_f64().context("sample"))
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}

/// The figures that `sweep` expects and `figures` lacks (or has without samples); sizes in
/// `skipped` are reported on their own.
pub fn missing(figures: &[Figure], sweep: &Sweep, skipped: &[u64]) -> Vec<String> {
    sweep.missing(skipped, |c, m, p| {
        figures.iter().any(|f| {
            (f.contender.as_str(), f.metric.as_str(), f.param) == (c, m, p) && !f.samples.is_empty()
        })
    })
}

/// A size the guest could not set up, and why (`# mydev-bench-skipped SIZE REASON`).
pub fn parse_skipped(output: &str) -> Result<Vec<(u64, String)>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(SKIPPED_LINE))
        .map(|l| {
            let (size, why) = l.split_once(' ').unwrap_or((l, ""));
            let size = size
                .parse()
                .with_context(|| format!("bad skipped line: {l:?}"))?;
            Ok((size, why.trim().to_string()))
        })
        .collect()
}

/// How much of a touched mapping the guest saw mapped with huge entries.
#[derive(Debug, Clone, PartialEq)]
pub struct Huge {
    pub size: u64,
    pub contender: String,
    /// `touch` (a fresh mapping, touched as `mmap_touch_all` does) or `warm` (the mapping the
    /// warm copies read).
    pub which: String,
    pub touched_kb: u64,
    /// The smaps fields that count huge entries, summed.
    pub huge_kb: u64,
    /// The mapping's `KernelPageSize`.
    pub page_kb: u64,
    /// The non-zero huge fields, `Name=kB,...`, or `-`.
    pub fields: String,
}

impl Huge {
    /// The share of the touched bytes mapped huge, in percent (a hugetlb page larger than the
    /// buffer counts as the whole buffer).
    pub fn percent(&self) -> f64 {
        100.0 * self.huge_kb.min(self.touched_kb) as f64 / self.touched_kb.max(1) as f64
    }
}

/// The `# mydev-bench-huge SIZE CONTENDER WHICH TOUCHED HUGE PAGE FIELDS` lines.
pub fn parse_huge(output: &str) -> Result<Vec<Huge>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(HUGE_LINE))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let [size, contender, which, touched, huge, page, fields] = w[..] else {
                bail!("bad huge-page line: {l:?}");
            };
            let num = |x: &str| x.parse::<u64>().with_context(|| format!("in {l:?}"));
            Ok(Huge {
                size: num(size)?,
                contender: contender.to_string(),
                which: which.to_string(),
                touched_kb: num(touched)?,
                huge_kb: num(huge)?,
                page_kb: num(page)?,
                fields: fields.to_string(),
            })
        })
        .collect()
}

/// The huge-page table: per size and file contender, the share of a touched mapping mapped
/// with huge entries (`touch/warm` where the warm copies' mapping differs).
pub fn huge_table(huge: &[Huge], sizes: &[u64]) -> String {
    let files: Vec<&str> = CONTENDERS
        .into_iter()
        .filter(|c| applies(c, "mmap_touch_all"))
        .collect();
    let mut s = format!("{:>6}", "size");
    for c in &files {
        let _ = write!(s, " {c:>15}");
    }
    s.push('\n');
    for &size in sizes {
        let _ = write!(s, "{:>6}", human(size));
        for c in &files {
            let find = |which: &str| {
                huge.iter()
                    .find(|h| h.size == size && h.contender == *c && h.which == which)
            };
            let cell = match (find("touch"), find("warm")) {
                (None, _) => "-".to_string(),
                (Some(t), Some(w)) if (t.percent() - w.percent()).abs() >= 0.5 => {
                    format!("{:.0}%/{:.0}%", t.percent(), w.percent())
                }
                (Some(t), _) => format!("{:.0}%", t.percent()),
            };
            let note = match *c {
                "memfd-thp" if size < 2 << 20 => " (<2M)",
                "memfd-hugetlb" if size < 2 << 20 => " (2M pg)",
                _ => "",
            };
            let _ = write!(s, " {:>15}", format!("{cell}{note}"));
        }
        s.push('\n');
    }
    s
}

/// (max - min) / median of `v`, in percent.
pub fn spread(v: &[f64]) -> f64 {
    let (min, max) = min_max(v);
    (max - min) / median(v.to_vec()) * 100.0
}

pub fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::fixtures::fig;

    #[test]
    fn median_and_spread() {
        let f = fig("mydev", "seq_read", 64, "MB/s", &[3.0, 1.0, 2.0]);
        assert_eq!(f.median(), 2.0);
        assert_eq!(f.spread(), 100.0);
        assert_eq!(fig("a", "b", 1, "ns/op", &[1.0, 3.0]).median(), 2.0);
    }

    #[test]
    fn json_round_trip_and_missing_figures() {
        let out = "noise\n# mydev-bench-json-begin\n{\"sizes\":[4096],\"figures\":[{\"contender\":\"mydev\",\"metric\":\"warm_copy\",\
                   \"param\":4096,\"size\":4096,\"unit\":\"us/op\",\"bytes\":4096,\"samples\":[1.5,2.5]}]}\n# mydev-bench-json-end\n";
        let figures = parse(extract_json(out).unwrap()).unwrap();
        assert_eq!(
            figures,
            [Figure {
                bytes: 4096,
                ..fig("mydev", "warm_copy", 4096, "us/op", &[1.5, 2.5])
            }]
        );
        let s = Sweep::new(vec![4096]).unwrap();
        let m = missing(&figures, &s, &[]);
        assert_eq!(m.len(), s.expected(&[]).len() - 1);
        assert!(m.contains(&"memcpy warm_copy 4096".to_string()));
        assert!(!m.contains(&"mydev warm_copy 4096".to_string()));
        // A figure without samples is missing too.
        let empty = [fig("mydev", "warm_copy", 4096, "us/op", &[])];
        assert!(missing(&empty, &s, &[]).contains(&"mydev warm_copy 4096".to_string()));
        assert!(missing(&figures, &s, &[4096]).is_empty());
    }

    #[test]
    fn skipped_and_huge_lines() {
        let out = "x\n# mydev-bench-skipped 1073741824 only 3 of the 512 2 MiB hugetlb pages could be reserved\n\
                   # mydev-bench-huge 4194304 memfd-thp touch 4096 4096 4 ShmemPmdMapped=4096\n\
                   # mydev-bench-huge 4194304 memfd-thp warm 4096 2048 4 ShmemPmdMapped=2048\n\
                   # mydev-bench-huge 4096 memfd-hugetlb touch 4 2048 2048 Shared_Hugetlb=2048\n\
                   # mydev-bench-huge 4096 mydev touch 4 0 4 -\n";
        assert_eq!(
            parse_skipped(out).unwrap(),
            [(
                1 << 30,
                "only 3 of the 512 2 MiB hugetlb pages could be reserved".to_string()
            )]
        );
        let h = parse_huge(out).unwrap();
        assert_eq!(h.len(), 4);
        assert_eq!(
            (h[0].touched_kb, h[0].huge_kb, h[0].page_kb),
            (4096, 4096, 4)
        );
        assert_eq!(h[1].percent(), 50.0);
        // One 2 MiB page for a 4 KiB buffer covers the whole buffer, not 51200%.
        assert_eq!(h[2].percent(), 100.0);
        let t = huge_table(&h, &[4096, 4 << 20]);
        let row = |size: &str| {
            t.lines()
                .find(|l| l.trim_start().starts_with(size))
                .unwrap()
                .to_string()
        };
        assert!(
            row("4K").contains("100% (2M pg)") && row("4K").contains(" 0%"),
            "{t}"
        );
        assert!(row("4M").contains("100%/50%"), "{t}");
        assert!(parse_huge("# mydev-bench-huge 1 2 3\n").is_err());
        assert!(parse_skipped("# mydev-bench-skipped x why\n").is_err());
    }
}
