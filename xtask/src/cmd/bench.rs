// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask bench`: its options, and its two boots of the minimal kernel, one that times and
//! one that counts guest instructions (the pieces are in `bench/`).

use crate::bench::counts::{COUNT_CPUS, CountRun, count_qemu_args, parse_profile_arg};
use crate::bench::figures::{self, Figure, Huge};
use crate::bench::plot::human;
use crate::bench::report::{self, Counted, Timed};
use crate::bench::sweep::{self, DEFAULT_SIZES, Sweep, fit_to_host, host_available_mib};
use crate::bench::{charts, plugin};
use crate::guest::opts::GuestOpts;
use crate::guest::qemu::Accel;
use crate::guest::run::{self, GuestRun};
use crate::guest::spec::{GuestSpec, Job};
use crate::kernels::choice::{KernelChoice, refuse_others};
use crate::kernels::ensure::{self, Built};
use crate::paths::Paths;
use crate::tools::{self, Tools};
use crate::{setup, ui};
use anyhow::{Context, Result, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Args)]
pub struct BenchOpts {
    #[command(flatten)]
    pub guest: GuestOpts,
    /// The buffer sizes to sweep, comma-separated, in bytes or with K, M or G (default: 4K to
    /// 1G in powers of 4: 4K,16K,64K,256K,1M,4M,16M,64M,256M,1G).
    #[arg(long, value_delimiter = ',', value_parser = sweep::parse_size, conflicts_with = "size")]
    pub sizes: Vec<u64>,
    /// One buffer size only (the sweep of one point).
    #[arg(long, value_parser = sweep::parse_size)]
    pub size: Option<u64>,
    /// Leave out the sizes above this one (a quick run: --max-size 4M).
    #[arg(long, value_parser = sweep::parse_size)]
    pub max_size: Option<u64>,
    /// Repeats of each measurement (the table shows the median and the spread).
    #[arg(long, default_value = "5")]
    pub repeat: u32,
    /// Skip the second boot that counts guest instructions per operation (QEMU -icount and
    /// the project's TCG plugin, built from Debian's QEMU source on first use).
    #[arg(long)]
    pub no_count: bool,
    /// After the counts, compare mydev's kernel instructions function by function with cref's
    /// (or CONTENDER's) for this measurement, METRIC:PARAM[:CONTENDER] (repeatable; `none` for
    /// no profile), e.g. mmap_touch_all:1G:memfd-thp.
    #[arg(long, value_name = "METRIC:PARAM", default_values = ["pread_latency:64"])]
    pub profile: Vec<String>,
}

impl BenchOpts {
    /// The buffer sizes this run sweeps.
    pub fn sizes(&self) -> Result<Vec<u64>> {
        let mut sizes = match (self.size, self.sizes.is_empty()) {
            (Some(s), _) => vec![s],
            (None, true) => DEFAULT_SIZES.to_vec(),
            (None, false) => self.sizes.clone(),
        };
        if let Some(max) = self.max_size {
            sizes.retain(|&s| s <= max);
        }
        if sizes.is_empty() {
            bail!("no buffer size is at most --max-size");
        }
        Ok(sizes)
    }
}

/// What both boots share: the kernel and modules, the tools, the sweep and the machine.
struct Boots<'a> {
    paths: &'a Paths,
    built: &'a Built,
    tools: &'a Tools,
    opts: &'a GuestOpts,
    sweep: &'a Sweep,
    memory_mib: u32,
    timeout: u64,
}

impl Boots<'_> {
    /// Boots the minimal kernel with both modules for the benchmark program with `args`, with
    /// `extra` QEMU arguments (a counting boot's, with one vCPU).
    fn boot(&self, label: &str, args: &str, extra: &[String]) -> Result<GuestRun> {
        let spec = GuestSpec {
            // The benchmark program reloads the module for every size.
            params: &[],
            extra_modules: std::slice::from_ref(self.built.cref()?),
            timeout: Some(Duration::from_secs(self.timeout)),
            memory_mib: self.memory_mib,
            cpus: if extra.is_empty() {
                self.opts.cpus
            } else {
                COUNT_CPUS
            },
            qemu_extra: extra,
            ..GuestSpec::new(
                label,
                &self.built.kernel,
                &self.built.module,
                self.tools,
                Job::Script(sweep::script(self.sweep, args)),
            )
            .with_opts(self.opts)
        };
        let run = run::run(self.paths, &spec)?;
        for p in run.problems() {
            eprintln!("bench: {p}");
        }
        Ok(run)
    }

    /// The timing boot: its figures (also written as JSON and SVG), what is missing, and the
    /// boot's status.
    fn timing(&self, repeat: u32, dir: &std::path::Path) -> Result<(Timed, Vec<String>)> {
        let run = self.boot("bench", &format!("--repeat {repeat}"), &[])?;
        let json = figures::extract_json(&run.output)
            .with_context(|| format!("the benchmark printed no results:\n{}", run.output))?;
        let figures: Vec<Figure> = figures::parse(json)?;
        let skipped = figures::parse_skipped(&run.output)?;
        let huge: Vec<Huge> = figures::parse_huge(&run.output)?;
        let skipped_sizes: Vec<u64> = skipped.iter().map(|(s, _)| *s).collect();
        let missing = figures::missing(&figures, self.sweep, &skipped_sizes);
        std::fs::write(dir.join("bench.json"), json)?;
        std::fs::write(dir.join("bench.svg"), charts::svg(&figures)?)?;
        Ok((
            Timed {
                figures,
                skipped,
                huge,
                elapsed: run.elapsed,
                status: run.status,
            },
            missing,
        ))
    }

    /// The counting boot with the plugin `so`: its counts and profiles, what is missing, and
    /// whether it went well.
    fn counting(
        &self,
        so: &std::path::Path,
        profiles: &[String],
    ) -> Result<(Counted, Vec<String>, bool)> {
        let extra = count_qemu_args(so, &self.paths.work.join("runs/bench-count"))?;
        let run = self.boot("bench-count", "--count", &extra)?;
        let mut ok = run.status == Some(0);
        let skipped = figures::parse_skipped(&run.output)?;
        let skipped_sizes: Vec<u64> = skipped.iter().map(|(s, _)| *s).collect();
        let c = CountRun::read(&run, &self.built.kernel)?;
        let missing = c.missing(self.sweep, &skipped_sizes);
        let reports = c.profile_reports(profiles).unwrap_or_else(|e| {
            ok = false;
            vec![format!("bench: no profile: {e:#}\n")]
        });
        let counted = Counted {
            counts: c.counts,
            reports,
            skipped,
            huge: figures::parse_huge(&run.output)?,
            elapsed: run.elapsed,
        };
        Ok((counted, missing, ok))
    }
}

/// The counting plugin, when counting under TCG.
fn plugin(paths: &Paths, count: bool, accel: Accel) -> Result<Option<PathBuf>> {
    Ok(match (count, accel) {
        (true, Accel::Tcg) => Some(plugin::ensure_plugin(paths)?),
        (true, _) => {
            eprintln!("bench: instruction counts need TCG (QEMU plugins); skipped under KVM");
            None
        }
        (false, _) => None,
    })
}

/// `cargo xtask bench`.
pub fn bench(paths: &Paths, o: &BenchOpts) -> Result<ExitCode> {
    refuse_others(
        "bench",
        o.guest.kernel,
        &[KernelChoice::Minimal],
        "the benchmark runs on the minimal kernel only (its counting boot needs its symbols)",
    )?;
    let started = Instant::now();
    for w in o.profile.iter().filter(|w| w.as_str() != "none") {
        parse_profile_arg(w)?;
    }
    let requested = Sweep::new(o.sizes()?)?;
    let (sweep, host_skipped) = fit_to_host(requested, host_available_mib())?;
    for (size, why) in &host_skipped {
        eprintln!("bench: {} not run: {why}", human(*size));
    }
    let source = setup::setup(paths)?;
    let built = ensure::ensure(paths, &source, KernelChoice::Minimal, true)?;
    let tools = tools::build(paths)?;
    let plugin = plugin(paths, !o.no_count, o.guest.accel)?;
    let boots = Boots {
        paths,
        built: &built,
        tools: &tools,
        opts: &o.guest,
        sweep: &sweep,
        memory_mib: o.guest.memory.max(sweep.guest_memory_mib()),
        timeout: o.guest.timeout.max(sweep.timeout_secs()),
    };
    let dir = paths.work.join("bench");
    std::fs::create_dir_all(&dir)?;
    let (timed, mut missing) = boots.timing(o.repeat, &dir)?;
    let mut ok = timed.status == Some(0);
    let counted = match &plugin {
        Some(so) => {
            let (c, m, good) = boots.counting(so, &o.profile)?;
            missing.extend(m);
            ok &= good;
            Some(c)
        }
        None => None,
    };
    let header = report::Header {
        sweep: &sweep,
        host_skipped: &host_skipped,
        repeat: o.repeat,
        accel: o.guest.accel,
        memory_mib: boots.memory_mib,
    };
    report::print_timings(&header, &timed);
    if let Some(c) = &counted {
        report::print_counts(&header, c, &timed.huge, &dir)?;
    }
    println!(
        "raw figures: {}\nplot: {}",
        dir.join("bench.json").display(),
        dir.join("bench.svg").display()
    );
    println!(
        "bench: {} (timing boot {}{})",
        ui::fmt_duration(started.elapsed()),
        ui::fmt_duration(timed.elapsed),
        counted.as_ref().map_or(String::new(), |c| format!(
            ", counting boot {}",
            ui::fmt_duration(c.elapsed)
        ))
    );
    Ok(verdict(&missing, ok, &timed))
}

/// The run's exit status: a failure if a figure is missing, a boot failed or the guest skipped a
/// size, each said on stderr.
fn verdict(missing: &[String], ok: bool, timed: &Timed) -> ExitCode {
    if !missing.is_empty() {
        eprintln!("bench: missing figures: {missing:?}");
    }
    if !timed.skipped.is_empty() {
        eprintln!("bench: the guest could not run some sizes (see the tables)");
    }
    if !missing.is_empty() || !ok || !timed.skipped.is_empty() {
        eprintln!(
            "bench: failed (timing boot's guest status {:?})",
            timed.status
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
