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
use std::process::ExitCode;
use std::time::Duration;

const BEGIN: &str = "# mydev-bench-json-begin";
const END: &str = "# mydev-bench-json-end";

/// The contenders, in table order.
pub const CONTENDERS: &[&str] = &["mydev", "cref", "memfd", "memcpy"];

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
        let mut s = self.samples.clone();
        s.sort_by(f64::total_cmp);
        match s.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => s[n / 2],
            n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
        }
    }

    /// (max - min) / median, in percent.
    pub fn spread(&self) -> f64 {
        let min = self.samples.iter().copied().fold(f64::INFINITY, f64::min);
        let max = self
            .samples
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (max - min) / self.median() * 100.0
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
        for chunk in [64, 4096, 65536, 1 << 20] {
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
    expected(size)
        .into_iter()
        .filter(|(c, m, p)| {
            !figures.iter().any(|f| {
                f.contender == *c && f.metric == *m && f.param == *p && !f.samples.is_empty()
            })
        })
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

/// The table: a row per metric and parameter, median (spread) per contender, and the ratios
/// mydev/memfd and mydev/cref (above 1 is better for mydev either way).
pub fn table(figures: &[Figure]) -> String {
    let mut rows: BTreeMap<(String, u64), BTreeMap<String, &Figure>> = BTreeMap::new();
    for f in figures {
        rows.entry((f.metric.clone(), f.param))
            .or_default()
            .insert(f.contender.clone(), f);
    }
    let mut s = format!("{:<18} {:>6} {:>7}", "metric", "param", "unit");
    for c in CONTENDERS {
        let _ = write!(s, " {:>17}", c);
    }
    s.push_str("  mydev/memfd mydev/cref\n");
    for ((metric, param), by) in &rows {
        let unit = by.values().next().map(|f| f.unit.as_str()).unwrap_or("");
        let _ = write!(s, "{metric:<18} {:>6} {unit:>7}", human(*param));
        for c in CONTENDERS {
            match by.get(*c) {
                Some(f) => {
                    let _ = write!(s, " {:>10.1} (±{:>3.0}%)", f.median(), f.spread() / 2.0);
                }
                None => {
                    let _ = write!(s, " {:>17}", "-");
                }
            }
        }
        let ratio = |other: &str| match (by.get("mydev"), by.get(other)) {
            (Some(m), Some(o)) if m.higher_is_better() => format!("{:.3}", m.median() / o.median()),
            (Some(m), Some(o)) => format!("{:.3}", o.median() / m.median()),
            _ => "-".into(),
        };
        let _ = writeln!(s, "  {:>11} {:>10}", ratio("memfd"), ratio("cref"));
    }
    s
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
        for chunk in [64u64, 4096, 65536, 1 << 20] {
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

pub fn bench(paths: &Paths, opts: &GuestOpts, size: u64, repeat: u32) -> Result<ExitCode> {
    if size == 0 || size % 4096 != 0 {
        bail!("--size must be a positive multiple of 4096");
    }
    let source = setup::setup(paths)?;
    let k = kernel::ensure(paths, &source, kernel::MINIMAL)?;
    let module = kernel::build_module(paths, &k)?;
    let cref = kernel::build_cref(paths, &k)?;
    let tools = tools::build(paths)?;
    let params = vec![format!("size={size}")];
    let script = format!(
        "insmod /lib/modules/cref.ko size={size}\n/opt/mydev/mydev-bench --repeat {repeat}\n"
    );
    let spec = GuestSpec {
        label: "bench",
        kernel: &k,
        module: &module,
        tools: &tools,
        params: &params,
        files: &[],
        extra_modules: std::slice::from_ref(&cref),
        job: Job::Script(script),
        timeout: Some(Duration::from_secs(opts.timeout)),
        accel: opts.accel,
        memory_mib: opts.memory.max(1024),
        cpus: opts.cpus,
        stream: false,
    };
    let run = guest::run(paths, &spec)?;
    for p in run.problems() {
        eprintln!("bench: {p}");
    }
    let json = extract_json(&run.output)
        .with_context(|| format!("the benchmark printed no results:\n{}", run.output))?;
    let figures = parse(json)?;
    let missing = missing(&figures, size);
    let dir = paths.work.join("bench");
    std::fs::create_dir_all(&dir)?;
    let json_path = dir.join("bench.json");
    let svg_path = dir.join("bench.svg");
    std::fs::write(&json_path, json)?;
    std::fs::write(&svg_path, svg(&figures))?;
    println!(
        "mydev benchmarks: {} MiB buffer, {repeat} repeats, accelerator {} — wall-clock times under TCG emulation: \
         compare the ratios (same boot), not the absolute figures",
        size >> 20,
        opts.accel.name()
    );
    print!("{}", table(&figures));
    println!(
        "raw figures: {}\nplot: {}",
        json_path.display(),
        svg_path.display()
    );
    if !missing.is_empty() || run.status != Some(0) {
        eprintln!(
            "bench: missing figures: {missing:?} (guest status {:?})",
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
}
