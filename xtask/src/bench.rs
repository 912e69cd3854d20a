// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask bench`: mydev against the C reference module, a memfd and memcpy, in one boot of
//! the minimal kernel. Prints a table of medians with their spread and the ratios the goals are
//! stated in, writes every sample as JSON and draws throughput against chunk size as SVG.

use crate::guest::{self, GuestSpec, Job};
use crate::paths::Paths;
use crate::{GuestOpts, kernel, setup, tools};
use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

const BEGIN: &str = "# mydev-bench-json-begin";
const END: &str = "# mydev-bench-json-end";

/// The contenders, in table order.
pub const CONTENDERS: &[&str] = &["mydev", "cref", "memfd", "memcpy"];

/// The chunk sizes of the sequential reads and writes (the benchmark program's `CHUNKS`).
const CHUNKS: [u64; 4] = [64, 4096, 65536, 1 << 20];

/// The vCPUs of a counting boot: `-icount` runs every vCPU in one thread anyway, and with two
/// the idle one's timers starved (an RCU stall warning in every run).
pub const COUNT_CPUS: u32 = 1;

/// The `-icount` setting of a counting boot.
const ICOUNT: &str = "shift=0,align=off,sleep=off";

/// One figure: a contender's samples for a metric and parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub contender: String,
    pub metric: String,
    pub param: u64,
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

/// Every (contender, metric, param) the benchmark must report, for a buffer of `size` bytes.
pub fn expected(size: u64) -> Vec<(&'static str, &'static str, u64)> {
    let mut e = Vec::new();
    for c in CONTENDERS {
        for chunk in CHUNKS {
            e.push((*c, "seq_read", chunk));
            e.push((*c, "seq_write", chunk));
        }
        e.push((*c, "pread_latency", 64));
        e.push((*c, "pread_latency", 4096));
        e.push((*c, "warm_copy", size));
        if *c != "memcpy" {
            e.push((*c, "mmap_touch_all", size));
            e.push((*c, "mmap_munmap_page", 4096));
        }
    }
    e
}

/// The figures that `expected` names and `figures` lacks (or has without samples).
pub fn missing(figures: &[Figure], size: u64) -> Vec<String> {
    missing_from(figures, size, |f| !f.samples.is_empty())
}

/// The figures of `expected(size)` that no entry with `usable` true has.
fn missing_from<T: Entry>(entries: &[T], size: u64, usable: impl Fn(&T) -> bool) -> Vec<String> {
    expected(size)
        .into_iter()
        .filter(|&(c, m, p)| !entries.iter().any(|e| e.key() == (m, p, c) && usable(e)))
        .map(|(c, m, p)| format!("{c} {m} {p}"))
        .collect()
}

fn human(param: u64) -> String {
    match param {
        p if p >= 1 << 20 && p % (1 << 20) == 0 => format!("{}M", p >> 20),
        p if p >= 1024 && p % 1024 == 0 => format!("{}K", p >> 10),
        p => p.to_string(),
    }
}

/// One entry of a table: a contender's result for a metric at a parameter.
trait Entry {
    fn key(&self) -> (&str, u64, &str);
    fn unit(&self) -> &str;
    /// The formatted result (the table pads it to its column).
    fn cell(&self) -> String;
    /// How many times better `self` (mydev) is than `other`: above 1 is better.
    fn better_than(&self, other: &Self) -> f64;
}

/// A row per metric and parameter, a column of `width` per contender, and the ratios
/// mydev/memfd and mydev/cref (above 1 is better for mydev).
fn grid<T: Entry>(entries: &[T], width: usize) -> String {
    let mut rows: BTreeMap<(&str, u64), BTreeMap<&str, &T>> = BTreeMap::new();
    for e in entries {
        let (metric, param, contender) = e.key();
        rows.entry((metric, param))
            .or_default()
            .insert(contender, e);
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
            (Some(m), Some(o)) => format!("{:.3}", m.better_than(o)),
            _ => "-".into(),
        };
        let _ = writeln!(s, "  {:>11} {:>10}", ratio("memfd"), ratio("cref"));
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
        format!("{:>10.1} (±{:>3.0}%)", self.median(), self.spread() / 2.0)
    }
    fn better_than(&self, other: &Self) -> f64 {
        if self.higher_is_better() {
            self.median() / other.median()
        } else {
            other.median() / self.median()
        }
    }
}

/// The timing table: median (± half the spread) per contender.
pub fn table(figures: &[Figure]) -> String {
    grid(figures, 17)
}

/// The label the benchmark program prints in counting mode after each stop marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub seq: u64,
    pub round: u32,
    pub contender: String,
    pub metric: String,
    pub param: u64,
    pub ops: u64,
}

const LABEL: &str = "# mydev-bench-count ";
const KALLSYMS_BEGIN: &str = "# mydev-kallsyms-begin";
const KALLSYMS_END: &str = "# mydev-kallsyms-end";

/// The counting-mode labels in the guest's output, in order.
pub fn parse_labels(output: &str) -> Result<Vec<Label>> {
    output
        .lines()
        .filter_map(|l| l.strip_prefix(LABEL))
        .map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let [seq, round, contender, metric, param, ops] = w[..] else {
                bail!("bad count label: {l:?}");
            };
            let num = |x: &str| x.parse::<u64>().with_context(|| format!("in {l:?}"));
            Ok(Label {
                seq: num(seq)?,
                round: round.parse().with_context(|| format!("in {l:?}"))?,
                contender: contender.to_string(),
                metric: metric.to_string(),
                param: num(param)?,
                ops: num(ops)?.max(1),
            })
        })
        .collect()
}

/// Guest instructions per operation of one measurement, from the counting boot.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub contender: String,
    pub metric: String,
    pub param: u64,
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
}

/// (max - min) / median of `v`, in percent.
fn spread(v: &[f64]) -> f64 {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - min) / median(v.to_vec()) * 100.0
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
    // Per measurement, per round: [total, kernel, module] per operation.
    let mut rounds: BTreeMap<(String, String, u64), Vec<[f64; 3]>> = BTreeMap::new();
    for l in labels {
        let c = by_seq
            .get(&l.seq)
            .with_context(|| format!("the plugin reported no count for marker {}", l.seq))?;
        let per = |x: u64| x as f64 / l.ops as f64;
        let entry = rounds
            .entry((l.contender.clone(), l.metric.clone(), l.param))
            .or_default();
        if l.round > 0 {
            entry.push([per(c.total), per(c.kernel), per(c.module)]);
        }
    }
    rounds
        .into_iter()
        .map(|((contender, metric, param), r)| {
            if r.is_empty() {
                bail!("{contender} {metric} {param}: no counted round after the warm-up");
            }
            let col = |i: usize| r.iter().map(|x| x[i]).collect::<Vec<f64>>();
            Ok(Count {
                contender,
                metric,
                param,
                total: median(col(0)),
                kernel: median(col(1)),
                module: median(col(2)),
                spread: spread(&col(0)),
            })
        })
        .collect()
}

impl Entry for Count {
    fn key(&self) -> (&str, u64, &str) {
        (&self.metric, self.param, &self.contender)
    }
    fn unit(&self) -> &str {
        "insn/op"
    }
    fn cell(&self) -> String {
        format!(
            "{:>9.0} ±{:<2.0}% ({:>5.0})",
            self.total,
            self.spread / 2.0,
            self.module
        )
    }
    fn better_than(&self, other: &Self) -> f64 {
        other.total / self.total
    }
}

/// The counting table: instructions per operation, whole guest ± half the spread and (in
/// brackets) in module code, and the ratios of the totals (above 1: mydev executes fewer).
pub fn count_table(counts: &[Count]) -> String {
    grid(counts, 22)
}

/// An SVG plot of throughput against chunk size (log scale), one line per contender, for
/// sequential read and write side by side.
pub fn svg(figures: &[Figure]) -> String {
    let colors = ["#d62728", "#1f77b4", "#2ca02c", "#7f7f7f"];
    let (w, h, pad) = (420.0, 300.0, 50.0);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n",
        2.0 * w,
        h + 40.0
    );
    for (panel, metric) in ["seq_read", "seq_write"].iter().enumerate() {
        let x0 = panel as f64 * w;
        let pts: Vec<&Figure> = figures.iter().filter(|f| f.metric == *metric).collect();
        let ymax = pts.iter().map(|f| f.median()).fold(1.0, f64::max) * 1.1;
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"16\" font-size=\"13\">{metric}: MB/s by chunk size (median)</text>",
            x0 + pad
        );
        let _ = writeln!(
            s,
            "<rect x=\"{}\" y=\"{pad}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>",
            x0 + pad,
            w - 1.5 * pad,
            h - 1.5 * pad
        );
        let x = |chunk: u64| x0 + pad + ((chunk as f64).log2() - 6.0) / 14.0 * (w - 1.5 * pad);
        let y = |v: f64| pad + (1.0 - v / ymax) * (h - 1.5 * pad);
        for chunk in CHUNKS {
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(chunk),
                h + 2.0,
                human(chunk)
            );
        }
        let _ = writeln!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{ymax:.0}</text>",
            x0 + pad - 4.0,
            pad + 4.0
        );
        for (i, c) in CONTENDERS.iter().enumerate() {
            let mut line: Vec<(u64, f64)> = pts
                .iter()
                .filter(|f| f.contender == *c)
                .map(|f| (f.param, f.median()))
                .collect();
            line.sort_by_key(|p| p.0);
            let path: Vec<String> = line
                .iter()
                .map(|(cx, v)| format!("{:.1},{:.1}", x(*cx), y(*v)))
                .collect();
            let _ = writeln!(
                s,
                "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
                colors[i],
                path.join(" ")
            );
            let _ = writeln!(
                s,
                "<text x=\"{}\" y=\"{}\" fill=\"{}\">{c}</text>",
                x0 + pad + 6.0,
                pad + 14.0 + 13.0 * i as f64,
                colors[i]
            );
        }
    }
    s.push_str("</svg>\n");
    s
}

/// The guest script of a benchmark boot: loads cref (mydev is loaded by the harness), runs the
/// benchmark program with `args`, then `after`.
pub fn script(size: u64, args: &str, after: &str) -> String {
    format!("insmod /lib/modules/cref.ko size={size}\n/opt/mydev/mydev-bench {args}\n{after}")
}

/// What the counting boot runs after the benchmark: the modules' symbols, for the profile
/// (`System.map` has only the kernel's).
pub fn kallsyms_script() -> String {
    format!(
        "echo '{KALLSYMS_BEGIN}'\ngrep -E '\\[(mmap|cref)\\]' /proc/kallsyms\necho '{KALLSYMS_END}'\n"
    )
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

/// `METRIC:PARAM` of `--profile`.
fn parse_profile_arg(w: &str) -> Result<(&str, u64)> {
    w.split_once(':')
        .and_then(|(m, p)| Some((m, p.parse::<u64>().ok()?)))
        .with_context(|| format!("--profile {w}: expected METRIC:PARAM, e.g. pread_latency:64"))
}

/// Everything a counting boot produced.
pub struct CountRun {
    pub counts: Vec<Count>,
    pub labels: Vec<Label>,
    pub blocks: BTreeMap<u64, Vec<(u64, u64)>>,
    pub symbols: crate::profile::Symbols,
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
        let mut symbols = crate::profile::Symbols::default();
        symbols.add(&read(&kernel.dir.join("System.map"))?);
        symbols
            .add(crate::verdict::between(&run.output, KALLSYMS_BEGIN, KALLSYMS_END).unwrap_or(""));
        Ok(Self {
            counts,
            labels,
            blocks,
            symbols,
        })
    }

    /// The figures of `expected(size)` that have no count.
    pub fn missing(&self, size: u64) -> Vec<String> {
        missing_from(&self.counts, size, |_| true)
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
        let last = self.labels.iter().map(|l| l.round).max().unwrap_or(0);
        let l = self
            .labels
            .iter()
            .find(|l| {
                l.round == last
                    && l.contender == contender
                    && l.metric == metric
                    && l.param == param
            })
            .with_context(|| format!("no count of {contender} {metric} {param}"))?;
        let b = self.blocks.get(&l.seq).map(Vec::as_slice).unwrap_or(&[]);
        Ok(crate::profile::by_function(b, &self.symbols, l.ops))
    }

    /// For every `METRIC:PARAM` in `wanted` (`none` for nothing), mydev's and cref's kernel
    /// instructions per operation by function.
    pub fn profile_reports(&self, wanted: &[String]) -> Result<Vec<String>> {
        let mut reports = Vec::new();
        for w in wanted.iter().filter(|w| w.as_str() != "none") {
            let (metric, param) = parse_profile_arg(w)?;
            let mydev = self.per_function("mydev", metric, param)?;
            let cref = self.per_function("cref", metric, param)?;
            reports.push(format!(
                "kernel instructions per operation by function, {metric} {param} (counting boot, last round):\n{}",
                crate::profile::compare(["mydev", "cref"], &mydev, &cref, 25)
            ));
        }
        Ok(reports)
    }
}

pub fn bench(
    paths: &Paths,
    opts: &GuestOpts,
    size: u64,
    repeat: u32,
    count: bool,
    profiles: &[String],
) -> Result<ExitCode> {
    if size == 0 || size % 4096 != 0 {
        bail!("--size must be a positive multiple of 4096");
    }
    for w in profiles.iter().filter(|w| w.as_str() != "none") {
        parse_profile_arg(w)?;
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
    let params = vec![format!("size={size}")];
    let boot = |label: &str, job: String, extra: &[String]| {
        let spec = GuestSpec {
            label,
            kernel: &k,
            module: &module,
            tools: &tools,
            params: &params,
            files: &[],
            extra_modules: std::slice::from_ref(&cref),
            job: Job::Script(job),
            timeout: Some(Duration::from_secs(opts.timeout)),
            accel: opts.accel,
            memory_mib: opts.memory.max(1024),
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

    let run = boot(
        "bench",
        script(size, &format!("--repeat {repeat}"), ""),
        &[],
    )?;
    let json = extract_json(&run.output)
        .with_context(|| format!("the benchmark printed no results:\n{}", run.output))?;
    let figures = parse(json)?;
    let mut missing = missing(&figures, size);
    let mut ok = run.status == Some(0);
    let dir = paths.work.join("bench");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("bench.json");
    let svg_path = dir.join("bench.svg");
    std::fs::write(&json_path, json)?;
    std::fs::write(&svg_path, svg(&figures))?;

    let counted = match &plugin {
        Some(so) => {
            let extra = count_qemu_args(so, &paths.work.join("runs/bench-count"))?;
            let run = boot(
                "bench-count",
                script(size, "--count", &kallsyms_script()),
                &extra,
            )?;
            ok &= run.status == Some(0);
            let c = CountRun::read(&run, &k)?;
            missing.extend(c.missing(size));
            let reports = c.profile_reports(profiles).unwrap_or_else(|e| {
                ok = false;
                vec![format!("bench: no profile: {e:#}\n")]
            });
            Some((c.counts, reports))
        }
        None => None,
    };

    println!(
        "mydev benchmarks: {} MiB buffer, {repeat} repeats, accelerator {} — wall-clock times under TCG emulation: \
         compare the ratios (same boot), not the absolute figures",
        size >> 20,
        opts.accel.name()
    );
    print!("{}", table(&figures));
    if let Some((counts, reports)) = &counted {
        println!(
            "\nguest instructions per operation (second boot: QEMU -icount {ICOUNT} and a fixed RTC, \
             {COUNT_CPUS} vCPU, counted by the mydev_icount plugin; median ± half the spread of the rounds after \
             the warm-up; in brackets: in module code):"
        );
        print!("{}", count_table(counts));
        let path = dir.join("counts.json");
        let rows: Vec<serde_json::Value> = counts
            .iter()
            .map(|c| {
                serde_json::json!({
                    "contender": c.contender, "metric": c.metric, "param": c.param,
                    "total_per_op": c.total, "kernel_per_op": c.kernel,
                    "module_per_op": c.module, "spread_percent": c.spread,
                })
            })
            .collect();
        std::fs::write(&path, serde_json::to_string_pretty(&rows)?)?;
        println!("instruction counts: {}", path.display());
        for r in reports {
            print!("\n{r}");
        }
    }
    println!(
        "raw figures: {}\nplot: {}",
        json_path.display(),
        svg_path.display()
    );
    if !missing.is_empty() {
        eprintln!("bench: missing figures: {missing:?}");
    }
    if !missing.is_empty() || !ok {
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
            unit: unit.into(),
            samples: samples.to_vec(),
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
    fn json_round_trip_and_missing_figures() {
        let out = "noise\n# mydev-bench-json-begin\n{\"size\":8192,\"figures\":[{\"contender\":\"mydev\",\"metric\":\"seq_read\",\
                   \"param\":64,\"unit\":\"MB/s\",\"bytes\":64,\"samples\":[1.5,2.5]}]}\n# mydev-bench-json-end\n";
        let figures = parse(extract_json(out).unwrap()).unwrap();
        assert_eq!(figures, [fig("mydev", "seq_read", 64, "MB/s", &[1.5, 2.5])]);
        let m = missing(&figures, 8192);
        assert_eq!(m.len(), expected(8192).len() - 1);
        assert!(m.contains(&"memcpy warm_copy 8192".to_string()));
        assert_eq!(expected(8192).len(), 4 * 11 + 3 * 2);
    }

    #[test]
    fn ratios_favour_mydev_above_one() {
        let figures = [
            fig("mydev", "seq_read", 64, "MB/s", &[200.0]),
            fig("memfd", "seq_read", 64, "MB/s", &[100.0]),
            fig("mydev", "pread_latency", 64, "ns/op", &[50.0]),
            fig("memfd", "pread_latency", 64, "ns/op", &[100.0]),
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
        assert!(svg(&figures).starts_with("<svg"));
    }

    #[test]
    fn count_labels_pair_with_plugin_counts_and_skip_the_warm_up() {
        use crate::plugin::Counts;
        let out = "x\n# mydev-bench-count 0 0 mydev seq_read 64 16\n\
                   # mydev-bench-count 1 1 mydev seq_read 64 16\n\
                   # mydev-bench-count 2 2 mydev seq_read 64 16\n\
                   # mydev-bench-count 3 3 mydev seq_read 64 16\n";
        let labels = parse_labels(out).unwrap();
        assert_eq!(labels.len(), 4);
        assert_eq!(labels[1].round, 1);
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
        assert!((j[0].spread - 10.0).abs() < 1e-9, "{}", j[0].spread);
        // A label without its count, or a count without its label, is an error.
        assert!(join_counts(&labels, &counts[..3]).is_err());
        assert!(join_counts(&labels[..3], &counts).is_err());
        assert!(parse_labels("# mydev-bench-count 0 0 mydev seq_read\n").is_err());
        assert!(parse_labels("# mydev-bench-count 0 x mydev seq_read 64 1\n").is_err());
    }

    #[test]
    fn count_table_ratios_favour_fewer_instructions() {
        let count = |contender: &str, total| Count {
            contender: contender.into(),
            metric: "pread_latency".into(),
            param: 64,
            total,
            kernel: total,
            module: 10.0,
            spread: 0.0,
        };
        let t = count_table(&[
            count("mydev", 500.0),
            count("cref", 400.0),
            count("memfd", 1000.0),
        ]);
        let row = t.lines().find(|l| l.starts_with("pread_latency")).unwrap();
        assert!(row.ends_with("2.000      0.800"), "{t}");
    }
}
