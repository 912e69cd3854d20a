// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask bench`: mydev against the C reference module, three memfds (4 KiB pages,
//! transparent huge pages, hugetlb) and memcpy, at buffer sizes from 4 KiB to 1 GiB, in one boot
//! of the minimal kernel, then the same in a second boot that counts guest instructions. Prints
//! tables of medians with their spread and the ratios the goals are stated in, writes every
//! sample as JSON and draws cost against buffer size as SVG.

use crate::bench_zero_copy as zc;
use crate::guest::{self, GuestSpec, Job};
use crate::paths::Paths;
use crate::plot::{self, human};
use crate::{GuestOpts, kernel, setup, tools};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const BEGIN: &str = "# mydev-bench-json-begin";
const END: &str = "# mydev-bench-json-end";
const HUGE_LINE: &str = "# mydev-bench-huge ";
const SKIPPED_LINE: &str = "# mydev-bench-skipped ";

/// The contenders, in table order.
pub const CONTENDERS: &[&str] = &[
    "mydev",
    "cref",
    "memfd",
    "memfd-thp",
    "memfd-hugetlb",
    "memcpy",
];

/// The file contenders that the goals compare mydev with: "the best of the four other file
/// contenders".
pub const OTHERS: &[&str] = &["cref", "memfd", "memfd-thp", "memfd-hugetlb"];

/// The sweep's figures, measured at every buffer size (microseconds or instructions per
/// operation), with what one operation is.
pub const SWEEP_METRICS: &[(&str, &str)] = &[
    (
        "mmap_munmap",
        "mmap + munmap of the whole buffer, untouched",
    ),
    ("mmap_touch_all", "mmap, a store to every page, munmap"),
    (
        "warm_copy",
        "copy of the whole buffer out of a populated mapping",
    ),
    (
        "create_map_touch",
        "a new buffer: create, size, mmap, a store to every page, munmap, remove",
    ),
    ("read_1m", "one read() of 1 MiB (or of the whole buffer)"),
    ("write_1m", "one write() of 1 MiB (or of the whole buffer)"),
    // The zero-copy figures, from 4 MiB on (see `bench_zero_copy.rs`).
    (
        "dmabuf_map_touch",
        "export as a dma-buf (udmabuf for a memfd), vgem attach, mmap, a store to every page",
    ),
    (
        "dio_write_map",
        "O_DIRECT write of the whole buffer to a RAM disk from a mapping of it",
    ),
    (
        "dio_write_copy",
        "O_DIRECT write of the whole buffer after read() into anonymous memory",
    ),
];

/// The chunk sizes of the per-call sequential reads and writes (the benchmark program's
/// `CHUNKS`), measured at the detail size.
const CHUNKS: [u64; 4] = [64, 4096, 65536, 1 << 20];

/// The sweep of a plain `cargo xtask bench`: 4 KiB to 1 GiB in powers of 4.
pub const DEFAULT_SIZES: [u64; 10] = [
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
    256 << 20,
    1 << 30,
];

/// Where the per-call figures are measured when the sweep has this size.
const DETAIL: u64 = 64 << 20;
/// mydev's largest buffer (its `size` parameter's limit).
const MAX_SIZE: u64 = 1 << 30;

/// The goals: from this size on, mydev's `mmap_touch_all` and `warm_copy` cost no more guest
/// instructions than the best of `OTHERS`.
const GOAL_FROM: u64 = 4 << 20;
const GOAL_METRICS: [&str; 2] = ["mmap_touch_all", "warm_copy"];
/// And at 1 GiB, mydev's `mmap_touch_all` is at least this many times cheaper than before its
/// 2 MiB mappings: `TOUCH_1G_BEFORE` guest instructions, the median of the counting boot of the
/// first full sweep (mydev of commit 68be9d9: 4 KiB page-table entries only, inserted at `mmap`).
const TOUCH_1G_GOAL: f64 = 10.0;
const TOUCH_1G_BEFORE: f64 = 224_638_432.0;

/// The vCPUs of a counting boot: `-icount` runs every vCPU in one thread anyway, and with two
/// the idle one's timers starved (an RCU stall warning in every run).
pub const COUNT_CPUS: u32 = 1;

/// The `-icount` setting of a counting boot.
const ICOUNT: &str = "shift=0,align=off,sleep=off";

/// `N`, `NK`, `NM` or `NG` bytes (`--sizes`, `--size`, `--max-size`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or a number with K, M or G)"))
}

/// The buffer sizes of one run, and the one at which the per-call figures are measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub sizes: Vec<u64>,
    pub detail: u64,
}

impl Sweep {
    /// `sizes` in ascending order; the detail size is 64 MiB if swept, else the largest swept
    /// size below it, else the smallest.
    pub fn new(mut sizes: Vec<u64>) -> Result<Self> {
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.is_empty() {
            bail!("no buffer size to run");
        }
        for &s in &sizes {
            if s == 0 || s % 4096 != 0 || s > MAX_SIZE {
                bail!(
                    "buffer size {s}: must be a positive multiple of 4096, at most {} (mydev's limit)",
                    human(MAX_SIZE)
                );
            }
        }
        let detail = sizes
            .iter()
            .copied()
            .filter(|&s| s <= DETAIL)
            .max()
            .unwrap_or(sizes[0]);
        Ok(Self { sizes, detail })
    }

    /// The benchmark program's arguments for this sweep.
    pub fn args(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(u64::to_string).collect();
        format!("--sizes {} --detail {}", sizes.join(","), self.detail)
    }

    /// Guest memory for the largest size: five file contenders of that size, the memcpy source
    /// and the warm copies' destination hold seven buffers at once, `create_map_touch` two more
    /// (mydev's new buffer, and the hugetlb pages reserved for the new hugetlb memfd), plus the
    /// memcpy destination (at most 64 MiB) and the RAM disk of the `O_DIRECT` writes (64 MiB),
    /// plus 1 GiB for the kernel, the page tables and the rest.
    pub fn guest_memory_mib(&self) -> u32 {
        let largest = self.sizes.last().copied().unwrap_or(0);
        let mib = |b: u64| b.div_ceil(1 << 20);
        (1024 + 9 * mib(largest) + mib(largest.min(64 << 20)) + 64) as u32
    }

    /// The least guest timeout of a boot: ten minutes and two seconds per MiB of the largest
    /// buffer (a counting boot runs about 20 million guest instructions a second, and the 1 GiB
    /// point alone takes billions).
    pub fn timeout_secs(&self) -> u64 {
        600 + 2 * self.sizes.last().copied().unwrap_or(0).div_ceil(1 << 20)
    }

    /// Every (contender, metric, param) the benchmark must report, leaving out the sizes in
    /// `skipped`.
    pub fn expected(&self, skipped: &[u64]) -> Vec<(&'static str, &'static str, u64)> {
        let mut e = Vec::new();
        for &size in self.sizes.iter().filter(|s| !skipped.contains(s)) {
            for c in CONTENDERS {
                for (m, _) in SWEEP_METRICS {
                    if applies(c, m) && (size >= zc::FROM || !zc::is_zero_copy(m)) {
                        e.push((*c, *m, size));
                    }
                }
                if size != self.detail {
                    continue;
                }
                let mut detail = Vec::new();
                for chunk in CHUNKS {
                    detail.push(("seq_read", chunk));
                    detail.push(("seq_write", chunk));
                }
                detail.extend([
                    ("pread_latency", 64),
                    ("pread_latency", 4096),
                    ("mmap_munmap_page", 4096),
                ]);
                e.extend(
                    detail
                        .into_iter()
                        .filter(|(m, _)| applies(c, m))
                        .map(|(m, p)| (*c, m, p)),
                );
            }
        }
        e
    }
}

/// Whether the benchmark measures `metric` for `contender`: memcpy has no mapping to make, and
/// hugetlbfs has no `write` (the zero-copy figures also depend on the size: see
/// `bench_zero_copy::applies`).
pub fn applies(contender: &str, metric: &str) -> bool {
    let mapping = metric.starts_with("mmap_");
    let write = metric == "seq_write" || metric == "write_1m";
    let create = metric == "create_map_touch";
    !(mapping && contender == "memcpy"
        || write && contender == "memfd-hugetlb"
        || create && (contender == "memcpy" || contender == "cref")
        || zc::is_zero_copy(metric) && !zc::applies(contender, metric))
}

/// One figure: a contender's samples for a metric and parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub contender: String,
    pub metric: String,
    pub param: u64,
    /// The buffer size it was measured at.
    pub size: u64,
    pub unit: String,
    pub samples: Vec<f64>,
}

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
    crate::verdict::between(output, BEGIN, END)
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
    missing_from(figures, sweep, skipped, |f| !f.samples.is_empty())
}

/// The figures of `sweep.expected(skipped)` that no entry with `usable` true has.
fn missing_from<T: Entry>(
    entries: &[T],
    sweep: &Sweep,
    skipped: &[u64],
    usable: impl Fn(&T) -> bool,
) -> Vec<String> {
    sweep
        .expected(skipped)
        .into_iter()
        .filter(|&(c, m, p)| !entries.iter().any(|e| e.key() == (m, p, c) && usable(e)))
        .map(|(c, m, p)| format!("{c} {m} {p}"))
        .collect()
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
        .iter()
        .copied()
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

/// One entry of a table: a contender's result for a metric at a parameter.
trait Entry {
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
    for c in CONTENDERS {
        let _ = write!(s, " {c:>width$}");
    }
    s.push_str("  mydev/memfd mydev/cref\n");
    for ((metric, param), by) in &rows {
        let unit = by.values().next().map(|e| e.unit()).unwrap_or("");
        let _ = write!(s, "{metric:<18} {:>6} {unit:>7}", human(*param));
        for c in CONTENDERS {
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

/// How far above the best other a count may be and still be called a tie: counts of the same
/// work differ by the guest's background work (a timer tick, about 2,000 instructions, every 4
/// million; deferred frees), which is below 1% of any operation from `GOAL_FROM` on (a 4 MiB warm
/// copy is 524,563 instructions).
const GOAL_NOISE: f64 = 0.01;

/// The goal verdict for mydev's cost over the best other's: `met` at or below 1, `within 1%`
/// just above it, `MISSED` beyond.
fn verdict(ratio: Option<f64>) -> &'static str {
    match ratio {
        Some(r) if r <= 1.0 => "met",
        Some(r) if r <= 1.0 + GOAL_NOISE => "within 1%",
        Some(_) => "MISSED",
        None => "-",
    }
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
    for c in CONTENDERS {
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
        for (metric, _) in SWEEP_METRICS {
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
            for c in CONTENDERS {
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

/// The label the benchmark program prints in counting mode after each stop marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub seq: u64,
    pub round: u32,
    /// The buffer size, which decides the modules' symbols (they are reloaded per size).
    pub size: u64,
    pub contender: String,
    pub metric: String,
    pub param: u64,
    pub ops: u64,
}

const LABEL: &str = "# mydev-bench-count ";
const KALLSYMS_BEGIN: &str = "# mydev-kallsyms-begin ";
const KALLSYMS_END: &str = "# mydev-kallsyms-end";

/// The counting-mode labels in the guest's output, in order.
pub fn parse_labels(output: &str) -> Result<Vec<Label>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(LABEL))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let [seq, round, size, contender, metric, param, ops] = w[..] else {
                bail!("bad count label: {l:?}");
            };
            let num = |x: &str| x.parse::<u64>().with_context(|| format!("in {l:?}"));
            Ok(Label {
                seq: num(seq)?,
                round: round.parse().with_context(|| format!("in {l:?}"))?,
                size: num(size)?,
                contender: contender.to_string(),
                metric: metric.to_string(),
                param: num(param)?,
                ops: num(ops)?.max(1),
            })
        })
        .collect()
}

/// The modules' `/proc/kallsyms` lines the guest printed after loading them for each size.
pub fn parse_kallsyms(output: &str) -> Result<BTreeMap<u64, String>> {
    let mut m = BTreeMap::new();
    let mut current: Option<(u64, String)> = None;
    for line in output.lines() {
        if let Some(size) = line.strip_prefix(KALLSYMS_BEGIN) {
            let size = size
                .trim()
                .parse()
                .with_context(|| format!("bad kallsyms marker: {line:?}"))?;
            current = Some((size, String::new()));
        } else if line.starts_with(KALLSYMS_END) {
            let (size, text) = current.take().context("a kallsyms end without a begin")?;
            m.insert(size, text);
        } else if let Some((_, text)) = &mut current {
            text.push_str(line);
            text.push('\n');
        }
    }
    Ok(m)
}

/// Guest instructions per operation of one measurement, from the counting boot.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub contender: String,
    pub metric: String,
    pub param: u64,
    /// The buffer size it was measured at.
    pub size: u64,
    /// Every instruction the guest executed (user and kernel), per operation: the median over
    /// the rounds after the first.
    pub total: f64,
    /// Instructions at kernel addresses, per operation (median).
    pub kernel: f64,
    /// Instructions in module code (the contender's own driver), per operation (median).
    pub module: f64,
    /// (max - min) / median of `total` over those rounds, in percent: the guest's background
    /// work (timer ticks, deferred frees) lands in some rounds and not others.
    pub spread: f64,
    /// The smallest and largest `total` of those rounds.
    pub min: f64,
    pub max: f64,
}

/// (max - min) / median of `v`, in percent.
fn spread(v: &[f64]) -> f64 {
    let (min, max) = min_max(v);
    (max - min) / median(v.to_vec()) * 100.0
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Pairs each label with the plugin's count of the same sequence number and summarises every
/// measurement over its rounds, leaving out round 0 (a warm-up).
pub fn join_counts(labels: &[Label], counts: &[crate::plugin::Counts]) -> Result<Vec<Count>> {
    let by_seq: BTreeMap<u64, &crate::plugin::Counts> = counts.iter().map(|c| (c.seq, c)).collect();
    if by_seq.len() != labels.len() {
        bail!(
            "{} counts from the plugin for {} labels from the guest",
            by_seq.len(),
            labels.len()
        );
    }
    // Per measurement: its buffer size and, per round, [total, kernel, module] per operation.
    type Rounds = (u64, Vec<[f64; 3]>);
    let mut rounds: BTreeMap<(String, String, u64), Rounds> = BTreeMap::new();
    for l in labels {
        let c = by_seq
            .get(&l.seq)
            .with_context(|| format!("the plugin reported no count for marker {}", l.seq))?;
        let per = |x: u64| x as f64 / l.ops as f64;
        let entry = rounds
            .entry((l.contender.clone(), l.metric.clone(), l.param))
            .or_insert((l.size, Vec::new()));
        if l.round > 0 {
            entry.1.push([per(c.total), per(c.kernel), per(c.module)]);
        }
    }
    rounds
        .into_iter()
        .map(|((contender, metric, param), (size, r))| {
            if r.is_empty() {
                bail!("{contender} {metric} {param}: no counted round after the warm-up");
            }
            let col = |i: usize| r.iter().map(|x| x[i]).collect::<Vec<f64>>();
            let (min, max) = min_max(&col(0));
            Ok(Count {
                contender,
                metric,
                param,
                size,
                total: median(col(0)),
                kernel: median(col(1)),
                module: median(col(2)),
                spread: spread(&col(0)),
                min,
                max,
            })
        })
        .collect()
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

/// The on-demand goal: from 4 MiB, making, mapping and touching a new mydev buffer through
/// configfs costs no more guest instructions than a new hugetlb memfd; a line per size.
pub fn create_goal(counts: &[Count]) -> Vec<String> {
    let total = |contender: &str, size: u64| {
        counts
            .iter()
            .find(|c| c.contender == contender && c.metric == "create_map_touch" && c.param == size)
            .map(|c| c.total)
    };
    let mut sizes: Vec<u64> = counts
        .iter()
        .filter(|c| c.metric == "create_map_touch" && c.param >= GOAL_FROM)
        .map(|c| c.param)
        .collect();
    sizes.sort_unstable();
    sizes.dedup();
    sizes
        .into_iter()
        .filter_map(|size| {
            let (m, h) = (total("mydev", size)?, total("memfd-hugetlb", size)?);
            let ratio = m / h;
            Some(format!(
                "{} create_map_touch: mydev {m:.0} insn/op, memfd-hugetlb {h:.0}, mydev/hugetlb {ratio:.3} \
                 (goal: at most 1): {}",
                human(size),
                if ratio <= 1.0 { "met" } else { "MISSED" }
            ))
        })
        .collect()
}

/// The 1 GiB goal: mydev's `mmap_touch_all` against its cost before 2 MiB mappings.
pub fn touch_goal(counts: &[Count]) -> Option<String> {
    let c = counts
        .iter()
        .find(|c| c.contender == "mydev" && c.metric == "mmap_touch_all" && c.param == MAX_SIZE)?;
    let times = TOUCH_1G_BEFORE / c.total;
    Some(format!(
        "1G mmap_touch_all: mydev {:.0} insn/op, {times:.2}x cheaper than the {TOUCH_1G_BEFORE:.0} before 2 MiB \
         mappings (goal: at least {TOUCH_1G_GOAL:.0}x): {}",
        c.total,
        if times >= TOUCH_1G_GOAL {
            "met"
        } else {
            "MISSED"
        }
    ))
}

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

fn is_sweep(metric: &str) -> bool {
    SWEEP_METRICS.iter().any(|(m, _)| *m == metric)
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

/// The guest script of a benchmark boot: the benchmark program over `sweep` with `args`.
pub fn script(sweep: &Sweep, args: &str) -> String {
    format!("/opt/mydev/mydev-bench {} {args}\n", sweep.args())
}

/// The plugin's files in a counting boot's run directory (the console log's directory).
fn count_files(run_dir: &Path) -> (PathBuf, PathBuf) {
    (run_dir.join("icount.txt"), run_dir.join("profile.txt"))
}

/// The QEMU arguments of a counting boot whose run directory is `run_dir`.
pub fn count_qemu_args(plugin: &Path, run_dir: &Path) -> Result<Vec<String>> {
    let (out, profile) = count_files(run_dir);
    std::fs::create_dir_all(run_dir)?;
    for f in [&out, &profile] {
        if f.exists() {
            std::fs::remove_file(f)?;
        }
    }
    Ok(vec![
        // One instruction per nanosecond of guest time: the 250 Hz tick comes every 4 million
        // instructions. (With shift=7, 128 ns each, timer interrupts were 16% of every count.)
        "-icount".to_string(),
        ICOUNT.to_string(),
        // The RTC would start from the host's clock, and the guest's path through its timers
        // with it: counts then varied by up to 4% from boot to boot. A fixed start on the
        // virtual clock makes them identical.
        "-rtc".to_string(),
        "base=2020-01-01T00:00:00,clock=vm".to_string(),
        "-plugin".to_string(),
        format!(
            "{},out={},profile={}",
            plugin.display(),
            out.display(),
            profile.display()
        ),
    ])
}

/// `METRIC:PARAM[:OTHER]` of `--profile` (PARAM in bytes or with K, M or G; OTHER defaults to
/// cref).
fn parse_profile_arg(w: &str) -> Result<(&str, u64, &str)> {
    let mut parts = w.split(':');
    let parsed = (|| {
        let metric = parts.next()?;
        let param = parse_size(parts.next()?).ok()?;
        let other = parts.next().unwrap_or("cref");
        (parts.next().is_none() && CONTENDERS.contains(&other)).then_some((metric, param, other))
    })();
    parsed.with_context(|| {
        format!("--profile {w}: expected METRIC:PARAM[:CONTENDER], e.g. pread_latency:64 or mmap_touch_all:1G:memfd-thp")
    })
}

/// Everything a counting boot produced.
pub struct CountRun {
    pub counts: Vec<Count>,
    pub labels: Vec<Label>,
    pub blocks: BTreeMap<u64, Vec<(u64, u64)>>,
    /// The kernel's `System.map`.
    pub system_map: String,
    /// Per buffer size, the modules' symbols while they held that size.
    pub kallsyms: BTreeMap<u64, String>,
}

impl CountRun {
    /// Reads the plugin's files next to `run`'s console log and the labels and module symbols
    /// in its output; `kernel` gives `System.map`.
    pub fn read(run: &guest::GuestRun, kernel: &kernel::Kernel) -> Result<Self> {
        let dir = run.console_log.parent().context("run directory")?;
        let (out, profile) = count_files(dir);
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .with_context(|| format!("the plugin wrote nothing to {}", p.display()))
        };
        let labels = parse_labels(&run.output)?;
        let counts = join_counts(&labels, &crate::plugin::parse_counts(&read(&out)?)?)?;
        let blocks = crate::profile::parse_blocks(&read(&profile)?)?;
        Ok(Self {
            counts,
            labels,
            blocks,
            system_map: read(&kernel.dir.join("System.map"))?,
            kallsyms: parse_kallsyms(&run.output)?,
        })
    }

    /// The figures of `sweep` that have no count.
    pub fn missing(&self, sweep: &Sweep, skipped: &[u64]) -> Vec<String> {
        missing_from(&self.counts, sweep, skipped, |_| true)
            .into_iter()
            .map(|m| format!("count: {m}"))
            .collect()
    }

    /// `contender`'s kernel instructions per operation by function in the last round of
    /// `metric` `param`.
    pub fn per_function(
        &self,
        contender: &str,
        metric: &str,
        param: u64,
    ) -> Result<BTreeMap<String, f64>> {
        // The last round of this measurement (large sizes run fewer rounds).
        let l = self
            .labels
            .iter()
            .filter(|l| l.contender == contender && l.metric == metric && l.param == param)
            .max_by_key(|l| l.round)
            .with_context(|| format!("no count of {contender} {metric} {param}"))?;
        let mut symbols = crate::profile::Symbols::default();
        symbols.add(&self.system_map);
        symbols.add(self.kallsyms.get(&l.size).map_or("", String::as_str));
        let b = self.blocks.get(&l.seq).map(Vec::as_slice).unwrap_or(&[]);
        Ok(crate::profile::by_function(b, &symbols, l.ops))
    }

    /// For every `METRIC:PARAM[:OTHER]` in `wanted` (`none` for nothing), mydev's and the other
    /// contender's kernel instructions per operation by function.
    pub fn profile_reports(&self, wanted: &[String]) -> Result<Vec<String>> {
        let mut reports = Vec::new();
        for w in wanted.iter().filter(|w| w.as_str() != "none") {
            let (metric, param, other) = parse_profile_arg(w)?;
            let mydev = self.per_function("mydev", metric, param)?;
            let theirs = self.per_function(other, metric, param)?;
            reports.push(format!(
                "kernel instructions per operation by function, {metric} {} (counting boot, last round):\n{}",
                human(param),
                crate::profile::compare(["mydev", other], &mydev, &theirs, 25)
            ));
        }
        Ok(reports)
    }
}

/// The host's available memory in MiB (`MemAvailable`).
fn host_available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// The host memory left for everything else while a benchmark guest runs.
const HOST_RESERVE_MIB: u64 = 2048;

/// Drops the largest sizes of `sweep` until its guest fits in `available` MiB of host memory
/// (keeping `HOST_RESERVE_MIB`), and says why for each.
pub fn fit_to_host(sweep: Sweep, available: Option<u64>) -> Result<(Sweep, Vec<(u64, String)>)> {
    let Some(available) = available else {
        return Ok((sweep, Vec::new()));
    };
    let mut sizes = sweep.sizes.clone();
    let mut dropped = Vec::new();
    loop {
        let s = Sweep::new(sizes.clone())?;
        let need = u64::from(s.guest_memory_mib());
        if need + HOST_RESERVE_MIB <= available || sizes.len() == 1 {
            return Ok((s, dropped));
        }
        let largest = sizes.pop().context("no size left")?;
        dropped.push((
            largest,
            format!(
                "the guest would need {need} MiB and the host has {available} MiB available \
                 (keeping {HOST_RESERVE_MIB} MiB)"
            ),
        ));
    }
}

pub fn bench(
    paths: &Paths,
    opts: &GuestOpts,
    sizes: Vec<u64>,
    repeat: u32,
    count: bool,
    profiles: &[String],
) -> Result<ExitCode> {
    let started = Instant::now();
    for w in profiles.iter().filter(|w| w.as_str() != "none") {
        parse_profile_arg(w)?;
    }
    let requested = Sweep::new(sizes)?;
    let (sweep, host_skipped) = fit_to_host(requested, host_available_mib())?;
    for (size, why) in &host_skipped {
        eprintln!("bench: {} not run: {why}", human(*size));
    }
    let source = setup::setup(paths)?;
    let k = kernel::ensure(paths, &source, kernel::MINIMAL)?;
    let module = kernel::build_module(paths, &k)?;
    let cref = kernel::build_cref(paths, &k)?;
    let tools = tools::build(paths)?;
    let plugin = match (count, opts.accel) {
        (true, crate::qemu::Accel::Tcg) => Some(crate::plugin::ensure_plugin(paths)?),
        (true, _) => {
            eprintln!("bench: instruction counts need TCG (QEMU plugins); skipped under KVM");
            None
        }
        (false, _) => None,
    };
    let memory_mib = opts.memory.max(sweep.guest_memory_mib());
    let timeout = opts.timeout.max(sweep.timeout_secs());
    let boot = |label: &str, job: String, extra: &[String]| {
        let spec = GuestSpec {
            label,
            kernel: &k,
            module: &module,
            tools: &tools,
            // The benchmark program reloads the module for every size.
            params: &[],
            files: &[],
            extra_modules: std::slice::from_ref(&cref),
            job: Job::Script(job),
            timeout: Some(Duration::from_secs(timeout)),
            accel: opts.accel,
            memory_mib,
            cpus: if extra.is_empty() {
                opts.cpus
            } else {
                COUNT_CPUS
            },
            stream: false,
            qemu_extra: extra,
            one_thread: false,
        };
        let run = guest::run(paths, &spec)?;
        for p in run.problems() {
            eprintln!("bench: {p}");
        }
        anyhow::Ok(run)
    };

    let run = boot("bench", script(&sweep, &format!("--repeat {repeat}")), &[])?;
    let timing_elapsed = run.elapsed;
    let json = extract_json(&run.output)
        .with_context(|| format!("the benchmark printed no results:\n{}", run.output))?;
    let figures = parse(json)?;
    let guest_skipped = parse_skipped(&run.output)?;
    let huge = parse_huge(&run.output)?;
    let skipped_sizes: Vec<u64> = guest_skipped.iter().map(|(s, _)| *s).collect();
    let mut missing = missing(&figures, &sweep, &skipped_sizes);
    let mut ok = run.status == Some(0);
    let dir = paths.work.join("bench");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("bench.json");
    let svg_path = dir.join("bench.svg");
    let count_svg_path = dir.join("counts.svg");
    std::fs::write(&json_path, json)?;
    std::fs::write(&svg_path, svg(&figures)?)?;

    let counted = match &plugin {
        Some(so) => {
            let extra = count_qemu_args(so, &paths.work.join("runs/bench-count"))?;
            let run = boot("bench-count", script(&sweep, "--count"), &extra)?;
            ok &= run.status == Some(0);
            let skipped = parse_skipped(&run.output)?;
            let skipped_sizes: Vec<u64> = skipped.iter().map(|(s, _)| *s).collect();
            let c = CountRun::read(&run, &k)?;
            missing.extend(c.missing(&sweep, &skipped_sizes));
            let reports = c.profile_reports(profiles).unwrap_or_else(|e| {
                ok = false;
                vec![format!("bench: no profile: {e:#}\n")]
            });
            Some((
                c.counts,
                reports,
                skipped,
                parse_huge(&run.output)?,
                run.elapsed,
            ))
        }
        None => None,
    };

    let all_sizes: Vec<u64> = {
        let mut v: Vec<u64> = sweep.sizes.clone();
        v.extend(host_skipped.iter().map(|(s, _)| *s));
        v
    };
    let with_host = |guest: &[(u64, String)]| -> Vec<(u64, String)> {
        guest.iter().chain(&host_skipped).cloned().collect()
    };
    let list: Vec<String> = all_sizes.iter().map(|&s| human(s)).collect();
    println!(
        "mydev benchmarks: buffer sizes {}, {repeat} repeats, accelerator {}, guest {memory_mib} MiB — \
         wall-clock times under TCG emulation: compare the ratios (same boot), not the absolute figures",
        list.join(" "),
        opts.accel.name()
    );
    println!(
        "\nper-call figures at {} (mydev/X: X's cost over mydev's, above 1 means mydev is better):",
        human(sweep.detail)
    );
    print!("{}", table(&figures));
    println!(
        "\nthe sweep, time per operation (median ± half the spread; best other: the cheapest of {}; \
         mydev/best: mydev's time over its, at most 1 means mydev is no slower):",
        OTHERS.join(", ")
    );
    print!(
        "{}",
        sweep_table(&figures, &all_sizes, &with_host(&guest_skipped))
    );
    println!(
        "\nhuge pages (share of a touched mapping mapped with huge page-table entries, from /proc/self/smaps; \
         memfd-thp below 2M: no 2 MiB folio fits; memfd-hugetlb below 2M: one 2 MiB page):"
    );
    print!("{}", huge_table(&huge, &sweep.sizes));
    let mut count_elapsed = None;
    if let Some((counts, reports, skipped, count_huge, elapsed)) = &counted {
        count_elapsed = Some(*elapsed);
        println!(
            "\nguest instructions per operation (second boot: QEMU -icount {ICOUNT} and a fixed RTC, \
             {COUNT_CPUS} vCPU, counted by the mydev_icount plugin; median ± half the spread of the rounds after \
             the warm-up; in brackets: in module code), per-call figures at {}:",
            human(sweep.detail)
        );
        print!("{}", count_table(counts));
        println!(
            "\nthe sweep in guest instructions per operation (goal: from {} on, mydev's {} cost no more \
             than the best other, i.e. mydev/best at most 1):",
            human(GOAL_FROM),
            GOAL_METRICS.join(" and ")
        );
        print!(
            "{}",
            sweep_count_table(counts, &all_sizes, &with_host(skipped))
        );
        if let Some(goal) = touch_goal(counts) {
            println!("{goal}");
        }
        for goal in create_goal(counts)
            .into_iter()
            .chain(zc::dmabuf_goal(counts))
            .chain(zc::dio_goal(counts))
        {
            println!("{goal}");
        }
        if huge_table(count_huge, &sweep.sizes) != huge_table(&huge, &sweep.sizes) {
            println!("\nhuge pages in the counting boot:");
            print!("{}", huge_table(count_huge, &sweep.sizes));
        }
        let path = dir.join("counts.json");
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
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
        std::fs::write(&count_svg_path, count_svg(counts)?)?;
        println!("instruction counts: {}", path.display());
        println!("instruction plot: {}", count_svg_path.display());
        for r in reports {
            print!("\n{r}");
        }
    }
    println!(
        "raw figures: {}\nplot: {}",
        json_path.display(),
        svg_path.display()
    );
    println!(
        "bench: {} (timing boot {}{})",
        crate::ui::fmt_duration(started.elapsed()),
        crate::ui::fmt_duration(timing_elapsed),
        count_elapsed.map_or(String::new(), |d| format!(
            ", counting boot {}",
            crate::ui::fmt_duration(d)
        ))
    );
    if !missing.is_empty() {
        eprintln!("bench: missing figures: {missing:?}");
    }
    if !guest_skipped.is_empty() {
        eprintln!("bench: the guest could not run some sizes (see the tables)");
    }
    if !missing.is_empty() || !ok || !guest_skipped.is_empty() {
        eprintln!(
            "bench: failed (timing boot's guest status {:?})",
            run.status
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(c: &str, m: &str, p: u64, unit: &str, samples: &[f64]) -> Figure {
        Figure {
            contender: c.into(),
            metric: m.into(),
            param: p,
            size: p,
            unit: unit.into(),
            samples: samples.to_vec(),
        }
    }

    #[test]
    fn the_create_goal_compares_mydev_with_a_new_hugetlb_memfd_from_4m() {
        let m = "create_map_touch";
        let counts = [
            count("mydev", m, 1 << 20, 50.0),
            count("memfd-hugetlb", m, 1 << 20, 10.0),
            count("mydev", m, 4 << 20, 90.0),
            count("memfd-hugetlb", m, 4 << 20, 100.0),
            count("mydev", m, 16 << 20, 300.0),
            count("memfd-hugetlb", m, 16 << 20, 200.0),
        ];
        let g = create_goal(&counts);
        assert_eq!(g.len(), 2, "{g:?}");
        assert!(
            g[0].starts_with("4M ") && g[0].ends_with(": met"),
            "{}",
            g[0]
        );
        assert!(g[0].contains("mydev/hugetlb 0.900"), "{}", g[0]);
        assert!(
            g[1].starts_with("16M ") && g[1].ends_with(": MISSED"),
            "{}",
            g[1]
        );
    }

    fn count(contender: &str, metric: &str, param: u64, total: f64) -> Count {
        Count {
            contender: contender.into(),
            metric: metric.into(),
            param,
            size: param,
            total,
            kernel: total,
            module: 10.0,
            spread: 0.0,
            min: total,
            max: total,
        }
    }

    #[test]
    fn median_and_spread() {
        let f = fig("mydev", "seq_read", 64, "MB/s", &[3.0, 1.0, 2.0]);
        assert_eq!(f.median(), 2.0);
        assert_eq!(f.spread(), 100.0);
        assert_eq!(fig("a", "b", 1, "ns/op", &[1.0, 3.0]).median(), 2.0);
    }

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn the_default_sweep_is_powers_of_four_from_4k_to_1g() {
        let s = Sweep::new(DEFAULT_SIZES.to_vec()).unwrap();
        assert_eq!(s.sizes.first(), Some(&4096));
        assert_eq!(s.sizes.last(), Some(&(1 << 30)));
        assert!(s.sizes.windows(2).all(|w| w[1] == 4 * w[0]));
        assert_eq!(s.detail, 64 << 20);
        // Nine buffers of 1 GiB, a 64 MiB one, the 64 MiB disk, and 1 GiB for the rest.
        assert_eq!(s.guest_memory_mib(), 1024 + 9 * 1024 + 64 + 64);
        assert_eq!(
            s.args(),
            format!(
                "--sizes {} --detail 67108864",
                DEFAULT_SIZES.map(|x| x.to_string()).join(",")
            )
        );
    }

    #[test]
    fn the_detail_size_is_64m_or_the_largest_below_it() {
        assert_eq!(
            Sweep::new(vec![1 << 30, 4096, 1 << 20]).unwrap().detail,
            1 << 20
        );
        assert_eq!(Sweep::new(vec![1 << 30]).unwrap().detail, 1 << 30);
        let s = Sweep::new(vec![4 << 20, 4096, 4096]).unwrap();
        assert_eq!(
            (s.sizes.as_slice(), s.detail),
            ([4096, 4 << 20].as_slice(), 4 << 20)
        );
        assert!(Sweep::new(vec![]).is_err());
        assert!(Sweep::new(vec![4097]).is_err());
        assert!(Sweep::new(vec![2 << 30]).is_err());
    }

    #[test]
    fn expected_figures_per_size_and_at_the_detail_size() {
        let s = Sweep::new(vec![4096, 1 << 20]).unwrap();
        let e = s.expected(&[]);
        // memcpy maps nothing (2 metrics); hugetlbfs has no write (1); neither memcpy nor cref
        // makes a new buffer (2).
        let sweep_per_size = 6 * 6 - 2 - 1 - 2;
        // 8 sequential, 2 pread, 1 one-page map; memcpy maps nothing, hugetlbfs writes nothing.
        let detail = 6 * 11 - 1 - 4;
        assert_eq!(e.len(), 2 * sweep_per_size + detail);
        assert!(e.contains(&("memfd-thp", "mmap_touch_all", 4096)));
        assert!(e.contains(&("memfd-hugetlb", "read_1m", 1 << 20)));
        assert!(!e.contains(&("memfd-hugetlb", "write_1m", 1 << 20)));
        assert!(!e.contains(&("memfd-hugetlb", "seq_write", 64)));
        assert!(!e.contains(&("memcpy", "mmap_munmap", 4096)));
        assert!(e.contains(&("memcpy", "warm_copy", 4096)));
        assert!(e.contains(&("mydev", "create_map_touch", 4096)));
        assert!(e.contains(&("memfd-hugetlb", "create_map_touch", 4096)));
        assert!(!e.contains(&("cref", "create_map_touch", 4096)));
        assert!(!e.contains(&("memcpy", "create_map_touch", 4096)));
        // The per-call figures only at the detail size (1M), not at 4K.
        assert!(e.contains(&("mydev", "pread_latency", 64)));
        assert_eq!(e.iter().filter(|x| x.1 == "seq_read").count(), 6 * 4);
        // A skipped size expects nothing.
        assert_eq!(s.expected(&[4096]).len(), sweep_per_size + detail);
    }

    #[test]
    fn json_round_trip_and_missing_figures() {
        let out = "noise\n# mydev-bench-json-begin\n{\"sizes\":[4096],\"figures\":[{\"contender\":\"mydev\",\"metric\":\"warm_copy\",\
                   \"param\":4096,\"size\":4096,\"unit\":\"us/op\",\"bytes\":4096,\"samples\":[1.5,2.5]}]}\n# mydev-bench-json-end\n";
        let figures = parse(extract_json(out).unwrap()).unwrap();
        assert_eq!(
            figures,
            [fig("mydev", "warm_copy", 4096, "us/op", &[1.5, 2.5])]
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
    fn the_1g_goal_reads_mydevs_touch_count() {
        assert_eq!(
            touch_goal(&[count("mydev", "mmap_touch_all", 4096, 1.0)]),
            None
        );
        let g = touch_goal(&[count("mydev", "mmap_touch_all", 1 << 30, TOUCH_1G_BEFORE)]).unwrap();
        assert!(g.contains("1.00x cheaper") && g.ends_with("MISSED"), "{g}");
        let g = touch_goal(&[count(
            "mydev",
            "mmap_touch_all",
            1 << 30,
            TOUCH_1G_BEFORE / 10.0,
        )])
        .unwrap();
        assert!(g.contains("10.00x cheaper") && g.ends_with("met"), "{g}");
    }

    #[test]
    fn the_host_drops_the_largest_sizes_that_do_not_fit() {
        let s = Sweep::new(vec![4096, 256 << 20, 1 << 30]).unwrap();
        let (fit, dropped) = fit_to_host(s.clone(), Some(64 * 1024)).unwrap();
        assert_eq!((fit, dropped.len()), (s.clone(), 0));
        // 256M needs 1024 + 9 * 256 + 64 + 64 = 3456 MiB, 1G 10368 MiB.
        let (fit, dropped) = fit_to_host(s.clone(), Some(6000)).unwrap();
        assert_eq!(fit.sizes, [4096, 256 << 20]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0, 1 << 30);
        assert!(dropped[0].1.contains("10368 MiB"), "{}", dropped[0].1);
        // The smallest size always runs.
        let (fit, dropped) = fit_to_host(s.clone(), Some(100)).unwrap();
        assert_eq!((fit.sizes, dropped.len()), (vec![4096], 2));
        assert_eq!(fit_to_host(s.clone(), None).unwrap().0, s);
    }

    #[test]
    fn count_labels_pair_with_plugin_counts_and_skip_the_warm_up() {
        use crate::plugin::Counts;
        let out = "x\n# mydev-bench-count 0 0 4096 mydev seq_read 64 16\n\
                   # mydev-bench-count 1 1 4096 mydev seq_read 64 16\n\
                   # mydev-bench-count 2 2 4096 mydev seq_read 64 16\n\
                   # mydev-bench-count 3 3 4096 mydev seq_read 64 16\n";
        let labels = parse_labels(out).unwrap();
        assert_eq!(labels.len(), 4);
        assert_eq!(labels[1].round, 1);
        assert_eq!(labels[1].size, 4096);
        assert_eq!(labels[1].ops, 16);
        let c = |seq, total| Counts {
            seq,
            total,
            kernel: total / 2,
            module: 32,
        };
        // Round 0 (a warm-up, 10x slower) is left out; the median of 1600, 1760, 1600 per 16.
        let counts = [c(0, 16000), c(1, 1600), c(2, 1760), c(3, 1600)];
        let j = join_counts(&labels, &counts).unwrap();
        assert_eq!(j.len(), 1);
        assert_eq!((j[0].total, j[0].kernel, j[0].module), (100.0, 50.0, 2.0));
        assert_eq!((j[0].min, j[0].max, j[0].size), (100.0, 110.0, 4096));
        assert!((j[0].spread - 10.0).abs() < 1e-9, "{}", j[0].spread);
        // A label without its count, or a count without its label, is an error.
        assert!(join_counts(&labels, &counts[..3]).is_err());
        assert!(join_counts(&labels[..3], &counts).is_err());
        assert!(parse_labels("# mydev-bench-count 0 0 4096 mydev seq_read 64\n").is_err());
        assert!(parse_labels("# mydev-bench-count 0 x 4096 mydev seq_read 64 1\n").is_err());
    }

    #[test]
    fn kallsyms_blocks_per_size() {
        let out = "# mydev-kallsyms-begin 4096\nffffffffa0000000 t a\t[mmap]\n# mydev-kallsyms-end\n\
                   noise\n# mydev-kallsyms-begin 8192\nffffffffa0001000 t a\t[mmap]\n# mydev-kallsyms-end\n";
        let k = parse_kallsyms(out).unwrap();
        assert_eq!(k.len(), 2);
        assert_eq!(k[&4096], "ffffffffa0000000 t a\t[mmap]\n");
        assert!(k[&8192].starts_with("ffffffffa0001000"));
        assert!(parse_kallsyms("# mydev-kallsyms-end\n").is_err());
    }

    #[test]
    fn profile_arguments() {
        assert_eq!(
            parse_profile_arg("pread_latency:64").unwrap(),
            ("pread_latency", 64, "cref")
        );
        assert_eq!(
            parse_profile_arg("mmap_touch_all:1G:memfd-thp").unwrap(),
            ("mmap_touch_all", 1 << 30, "memfd-thp")
        );
        assert!(parse_profile_arg("pread_latency").is_err());
        assert!(parse_profile_arg("x:64:nobody").is_err());
        assert!(parse_profile_arg("x:64:cref:more").is_err());
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

    #[test]
    fn plots_have_a_panel_per_sweep_metric_and_a_line_per_contender() {
        let mut figures = Vec::new();
        for c in CONTENDERS {
            for (m, _) in SWEEP_METRICS {
                if applies(c, m) {
                    for size in [4096, 16384] {
                        figures.push(fig(c, m, size, "us/op", &[1.0, 2.0, 3.0]));
                    }
                }
            }
        }
        figures.push(fig("mydev", "pread_latency", 64, "ns/op", &[1.0]));
        let s = svg(&figures).unwrap();
        for (m, what) in SWEEP_METRICS {
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
