// SPDX-License-Identifier: GPL-2.0

//! The counting boot: its QEMU arguments, the guest's labels and module symbols, the plugin's
//! counts joined to them, and the kernel profile by function.

pub use crate::bench::count::Count;
use crate::bench::figures::{median, min_max, spread};
use crate::bench::plot::human;
use crate::bench::protocol::{CONTENDERS, COUNT_LINE, KALLSYMS_BEGIN, KALLSYMS_END};
use crate::bench::sweep::{Sweep, parse_size};
use crate::bench::{plugin, profile};
use crate::guest::run::GuestRun;
use crate::kernels::kernel::Kernel;
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The vCPUs of a counting boot: `-icount` runs every vCPU in one thread anyway, and with two
/// the idle one's timers starved (an RCU stall warning in every run).
pub const COUNT_CPUS: u32 = 1;

/// The `-icount` setting of a counting boot.
pub const ICOUNT: &str = "shift=0,align=off,sleep=off";

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

/// The counting-mode labels in the guest's output, in order.
pub fn parse_labels(output: &str) -> Result<Vec<Label>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(COUNT_LINE))
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

/// Pairs each label with the plugin's count of the same sequence number and summarises every
/// measurement over its rounds, leaving out round 0 (a warm-up).
pub fn join_counts(labels: &[Label], counts: &[plugin::Counts]) -> Result<Vec<Count>> {
    let by_seq: BTreeMap<u64, &plugin::Counts> = counts.iter().map(|c| (c.seq, c)).collect();
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
pub fn parse_profile_arg(w: &str) -> Result<(&str, u64, &str)> {
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
    pub fn read(run: &GuestRun, kernel: &Kernel) -> Result<Self> {
        let dir = run.console_log.parent().context("run directory")?;
        let (out, profile) = count_files(dir);
        let read = |p: &Path| {
            std::fs::read_to_string(p)
                .with_context(|| format!("the plugin wrote nothing to {}", p.display()))
        };
        let labels = parse_labels(&run.output)?;
        let counts = join_counts(&labels, &plugin::parse_counts(&read(&out)?)?)?;
        let blocks = profile::parse_blocks(&read(&profile)?)?;
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
        sweep
            .missing(skipped, |c, m, p| {
                self.counts
                    .iter()
                    .any(|x| (x.contender.as_str(), x.metric.as_str(), x.param) == (c, m, p))
            })
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
        let mut symbols = profile::Symbols::default();
        symbols.add(&self.system_map);
        symbols.add(self.kallsyms.get(&l.size).map_or("", String::as_str));
        let b = self.blocks.get(&l.seq).map(Vec::as_slice).unwrap_or(&[]);
        Ok(profile::by_function(b, &symbols, l.ops))
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
                profile::compare(["mydev", other], &mydev, &theirs, 25)
            ));
        }
        Ok(reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_labels_pair_with_plugin_counts_and_skip_the_warm_up() {
        use crate::bench::plugin::Counts;
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
}
