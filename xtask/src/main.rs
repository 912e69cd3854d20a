// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask`: the mydev harness.
//!
//! Builds a small Linux 7.3 kernel (cached outside the clone), the `mmap.ko` module and the
//! static user-space tools, boots the kernel under QEMU with the module loaded, and runs the
//! demo, the tests, or a shell. Every command first runs the set-up, which installs what is
//! missing.

mod bench;
mod bench_zero_copy;
mod guest;
mod initramfs;
mod install;
mod kconfig;
mod kernel;
mod ktap;
mod lint;
mod package;
mod paths;
mod plot;
mod plugin;
mod profile;
mod qemu;
mod selftest;
mod setup;
mod stock;
mod stock_modules;
mod tally;
mod tests_cmd;
#[cfg(test)]
mod tidy;
mod tools;
mod ui;
mod verdict;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};
use guest::{GuestSpec, Job};
use paths::Paths;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The mydev harness: build the kernel, the module and the tools; boot; run.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Install what the harness needs (Debian packages, rust-src, the musl target, bindgen, the
    /// kernel source). Every other command does this first.
    Setup,
    /// Build the kernels (and prepare Debian's), the module for each, and the tools, without
    /// booting anything.
    Build,
    /// Boot the minimal kernel, load the module and run the classic user_test walkthrough.
    Demo(GuestOpts),
    /// Run every test: host unit tests, KUnit, the in-guest suites on the test kernel, and the
    /// harness's own self-tests. Ends with `N passed, M failed`.
    Test(TestOpts),
    /// Benchmarks: mydev against a C reference module, memfds (4 KiB pages, transparent huge
    /// pages, hugetlb) and memcpy at buffer sizes from 4 KiB to 1 GiB, in one boot of the minimal
    /// kernel and a second that counts instructions; prints tables, writes JSON and SVG plots.
    Bench(BenchOpts),
    /// The lint gates: cargo fmt and clippy for the workspace, the tidy rules (SPDX lines,
    /// SAFETY comments), rustdoc, and for the module rustfmt with the kernel's .rustfmt.toml and a
    /// CLIPPY=1 W=e build.
    Lint,
    /// Build the Debian packages mydev-dkms and mydev-tools (target/mydev/packages) and check
    /// them with lintian; with --test, also install them in a fresh Debian 13 chroot, let DKMS
    /// build for Debian's 7.3 kernel, boot that kernel's image with the installed module and
    /// tool, and remove them again.
    Package(PackageOpts),
    /// Boot the minimal kernel with the module loaded: a shell on the serial console, or, after
    /// `--`, run COMMAND in the guest and exit with its status.
    Vm(VmOpts),
    /// Run only the harness self-tests and scenarios on the minimal kernel (the part of `test`
    /// that runs beside the test kernel's guests): every one, or those whose name contains one
    /// of NAME (e.g. `benchmark`).
    Selftest(SelftestOpts),
}

#[derive(Debug, Clone, Args)]
struct SelftestOpts {
    #[command(flatten)]
    guest: GuestOpts,
    /// Run only the cases whose name (`selftest-...` or `scenario-...`) contains one of these.
    #[arg(value_name = "NAME")]
    names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
struct GuestOpts {
    /// A module parameter for insmod, NAME=VALUE (repeatable), e.g. --param size=8192.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    params: Vec<String>,
    /// QEMU accelerator. TCG (software emulation) is the default because KVM guests hang at boot
    /// on these machines; the one used is always printed.
    #[arg(long, value_enum, default_value = "tcg")]
    accel: qemu::Accel,
    /// Kill the guest after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "600")]
    timeout: u64,
    /// Guest memory in MiB.
    #[arg(long, value_name = "MIB", default_value = "1024")]
    memory: u32,
    /// Guest CPUs.
    #[arg(long, default_value = "2")]
    cpus: u32,
    /// The kernel to boot: `minimal` (the default of demo and vm), `test` (with the debugging
    /// aids), or Debian's own signed `debian-7.3` (trixie-backports) or `debian-7.2` (forky). For
    /// `test`: run the in-guest suites on that kernel only (default: the test kernel and both
    /// Debian kernels).
    #[arg(long, value_enum)]
    kernel: Option<KernelChoice>,
}

#[derive(Debug, Clone, Args)]
pub struct TestOpts {
    #[command(flatten)]
    guest: GuestOpts,
    /// Skip the harness self-tests (the boots that check that crashes, hangs and kernel warnings
    /// fail a run).
    #[arg(long)]
    no_selftest: bool,
    /// Operations the model-based fuzzer runs on the test kernel (at least 500,000 with --full;
    /// a longer run: --fuzz-ops 5000000 --timeout 3600).
    #[arg(long, value_name = "N", default_value = "60000")]
    fuzz_ops: u64,
    /// Operations each process of the concurrent model checker runs on the test kernel (the
    /// `concurrent` suite: 4 processes on one device), ten times as many on Debian's kernels;
    /// with --full at least 25,000 on the test kernel and 100,000 on Debian's.
    #[arg(long, value_name = "N", default_value = "1000")]
    concurrent_ops: u64,
    /// The fuzzer's seed (a mismatch report names the seed that reproduces it).
    #[arg(long, value_name = "N", default_value = "1")]
    fuzz_seed: u64,
    /// Seconds the concurrent stress test runs.
    #[arg(long, value_name = "SECONDS", default_value = "10")]
    stress_seconds: u64,
    /// Module load/unload cycles of the lifecycle test (each takes 0.25 to 0.5 s on the debug
    /// kernel under emulation on two cores; --full runs 1000). The test's own timeout grows with
    /// it (a second a cycle, at least 2 minutes).
    #[arg(long, value_name = "N", default_value = "120")]
    load_cycles: u64,
    /// The full sizes, as CI runs them: 1000 load/unload cycles, 500,000 fuzzer operations,
    /// 20,000 mmap/munmap cycles, the same sizes on Debian's kernels, the Debian packages
    /// installed and booted, every failure point of a load, and a guest timeout of at least 40
    /// minutes; the default keeps a warm run under five minutes on two cores.
    #[arg(long)]
    full: bool,
    /// mmap/munmap cycles of the mapping test (at least 20,000 with --full).
    #[arg(long, value_name = "N", default_value = "5000")]
    map_cycles: u64,
    /// Run only this in-guest suite on the test kernel (repeatable: module-tests,
    /// library-tests, tool-tests, fuzz, concurrent, stress, faults), with KUnit and the kmemleak scan, and nothing
    /// else (no host tests, install checks or self-tests): the quick loop.
    #[arg(long, value_name = "NAME")]
    suite: Vec<String>,
}

#[derive(Debug, Clone, Args)]
struct BenchOpts {
    #[command(flatten)]
    guest: GuestOpts,
    /// The buffer sizes to sweep, comma-separated, in bytes or with K, M or G (default: 4K to
    /// 1G in powers of 4: 4K,16K,64K,256K,1M,4M,16M,64M,256M,1G).
    #[arg(long, value_delimiter = ',', value_parser = bench::parse_size, conflicts_with = "size")]
    sizes: Vec<u64>,
    /// One buffer size only (the sweep of one point).
    #[arg(long, value_parser = bench::parse_size)]
    size: Option<u64>,
    /// Leave out the sizes above this one (a quick run: --max-size 4M).
    #[arg(long, value_parser = bench::parse_size)]
    max_size: Option<u64>,
    /// Repeats of each measurement (the table shows the median and the spread).
    #[arg(long, default_value = "5")]
    repeat: u32,
    /// Skip the second boot that counts guest instructions per operation (QEMU -icount and
    /// the project's TCG plugin, built from Debian's QEMU source on first use).
    #[arg(long)]
    no_count: bool,
    /// After the counts, compare mydev's kernel instructions function by function with cref's
    /// (or CONTENDER's) for this measurement, METRIC:PARAM[:CONTENDER] (repeatable; `none` for
    /// no profile), e.g. mmap_touch_all:1G:memfd-thp.
    #[arg(long, value_name = "METRIC:PARAM", default_values = ["pread_latency:64"])]
    profile: Vec<String>,
}

impl BenchOpts {
    /// The buffer sizes this run sweeps.
    fn sizes(&self) -> Result<Vec<u64>> {
        let mut sizes = match (self.size, self.sizes.is_empty()) {
            (Some(s), _) => vec![s],
            (None, true) => bench::DEFAULT_SIZES.to_vec(),
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

#[derive(Debug, Clone, Args)]
struct PackageOpts {
    /// Also run the installation test in a fresh chroot (about 5 minutes).
    #[arg(long)]
    test: bool,
}

#[derive(Debug, Clone, Args)]
struct VmOpts {
    #[command(flatten)]
    guest: GuestOpts,
    /// Host files to copy into the guest's working directory (/work), where COMMAND runs.
    #[arg(long = "with", value_name = "FILE", num_args = 1..)]
    with: Vec<PathBuf>,
    /// The command to run in the guest (after `--`); without one, an interactive shell.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelChoice {
    Minimal,
    Test,
    #[value(name = "debian-7.3")]
    Debian73,
    #[value(name = "debian-7.2")]
    Debian72,
}

impl KernelChoice {
    /// The Debian kernel this names, if it names one.
    pub fn distro(self) -> Option<stock::Distro> {
        match self {
            KernelChoice::Minimal | KernelChoice::Test => None,
            KernelChoice::Debian73 => Some(stock::DEBIAN_73),
            KernelChoice::Debian72 => Some(stock::DEBIAN_72),
        }
    }
}

/// Checks a `NAME=VALUE` module parameter: a C identifier, `=`, and a value without spaces.
fn parse_param(s: &str) -> Result<String, String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let ident = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ident {
        return Err(format!("{name:?} is not a parameter name"));
    }
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '"')
    {
        return Err(format!(
            "the value of {name} must be non-empty, without spaces or quotes"
        ));
    }
    Ok(s.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let paths = Paths::discover()?;
    match cli.command {
        Cmd::Setup => {
            setup::setup(&paths)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Build => {
            let source = setup::setup(&paths)?;
            for profile in [kernel::MINIMAL, kernel::TEST] {
                let k = kernel::ensure(&paths, &source, profile)?;
                kernel::build_module(&paths, &k)?;
            }
            for d in stock::ALL {
                let k = stock::ensure(&paths, d)?;
                kernel::build_module(&paths, &k)?;
            }
            tools::build(&paths)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Demo(opts) => demo(&paths, &opts),
        Cmd::Test(opts) => tests_cmd::test(&paths, &opts),
        Cmd::Vm(opts) => vm(&paths, &opts),
        Cmd::Lint => lint::lint(&paths),
        Cmd::Selftest(o) => selftest_cmd(&paths, &o),
        Cmd::Package(o) => package_cmd(&paths, o.test),
        Cmd::Bench(o) if o.guest.kernel.is_some_and(|k| k != KernelChoice::Minimal) => {
            bail!("bench runs on the minimal kernel only (its counting boot needs its symbols)")
        }
        Cmd::Bench(o) => bench::bench(
            &paths,
            &o.guest,
            o.sizes()?,
            o.repeat,
            !o.no_count,
            &o.profile,
        ),
    }
}

/// `cargo xtask selftest`: the self-tests and scenarios alone, on the minimal kernel.
fn selftest_cmd(paths: &Paths, o: &SelftestOpts) -> Result<ExitCode> {
    let all = selftest::names();
    for n in &o.names {
        if !all.iter().any(|a| a.contains(n.as_str())) {
            bail!("no self-test matches {n:?}; the cases: {}", all.join(", "));
        }
    }
    let source = setup::setup(paths)?;
    let k = kernel::ensure(paths, &source, kernel::MINIMAL)?;
    let module = kernel::build_module(paths, &k)?;
    let cref = kernel::build_cref(paths, &k)?;
    let tools = tools::build(paths)?;
    let mut tally = tally::Tally::default();
    selftest::run_matching(
        paths, &k, &module, &cref, &tools, &o.guest, &mut tally, &o.names,
    )?;
    Ok(finish(&tally))
}

/// Prints a command's failures and its tally line; its exit status.
fn finish(tally: &tally::Tally) -> ExitCode {
    for f in &tally.failures {
        eprintln!("  {f}");
    }
    println!("{}", tally.line());
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `cargo xtask package`: build, lint, and with `test` install and boot.
fn package_cmd(paths: &Paths, test: bool) -> Result<ExitCode> {
    setup::setup(paths)?;
    let tools = tools::build(paths)?;
    let mut tally = tally::Tally::default();
    package::run(paths, &tools, test, &mut tally)?;
    Ok(finish(&tally))
}

/// The steps of the demo: the original C project's walkthrough, then a buffer made at run time
/// through configfs, the same commands on it, and its removal.
pub const DEMO_STEPS: &[&[&str]] = &[
    &["user_test", "w", "Hello, World!"],
    &["user_test", "r"],
    &["user_test", "m", "This is a test"],
    &["user_test", "r"],
    &["user_test", "p", "5"],
    &["mydevctl", "create", "cam", "4M"],
    &["mydevctl", "list"],
    &[
        "user_test",
        "--device",
        "/dev/mydev-cam",
        "w",
        "Hello, cam!",
    ],
    &["user_test", "--device", "/dev/mydev-cam", "r"],
    &["user_test", "--device", "/dev/mydev-cam", "p", "7"],
    &["user_test", "r"],
    &["mydevctl", "remove", "cam"],
];

/// The demo's guest script: echo each step, run it, then show the module's kernel log lines.
pub fn demo_script() -> String {
    let mut s = String::from("fail=0\n");
    for step in DEMO_STEPS {
        let words: Vec<String> = step.iter().map(|w| w.to_string()).collect();
        let line = guest::shell_words(&words);
        s.push_str(&format!(
            "echo {}\n",
            qemu::shell_quote(&format!("$ {line}"))
        ));
        s.push_str(&format!(
            "{line} || {{ echo \"demo: step failed with status $?\"; fail=1; }}\n"
        ));
    }
    s.push_str("echo '$ dmesg | grep mmap:'\ndmesg | grep 'mmap:'\nexit $fail\n");
    s
}

/// Builds what a guest of the chosen kernel needs.
fn prepare(paths: &Paths, choice: KernelChoice) -> Result<(kernel::Kernel, PathBuf, tools::Tools)> {
    let source = setup::setup(paths)?;
    let k = match (choice, choice.distro()) {
        (_, Some(d)) => stock::ensure(paths, d)?,
        (KernelChoice::Test, None) => kernel::ensure(paths, &source, kernel::TEST)?,
        _ => kernel::ensure(paths, &source, kernel::MINIMAL)?,
    };
    let module = kernel::build_module(paths, &k)?;
    let tools = tools::build(paths)?;
    Ok((k, module, tools))
}

fn spec<'a>(
    label: &'a str,
    opts: &'a GuestOpts,
    built: &'a (kernel::Kernel, PathBuf, tools::Tools),
    files: &'a [PathBuf],
    job: Job,
    timeout: Option<Duration>,
) -> GuestSpec<'a> {
    GuestSpec {
        label,
        kernel: &built.0,
        module: &built.1,
        tools: &built.2,
        params: &opts.params,
        files,
        extra_modules: &[],
        job,
        timeout,
        accel: opts.accel,
        memory_mib: opts.memory,
        cpus: opts.cpus,
        stream: true,
        qemu_extra: &[],
        one_thread: false,
    }
}

fn demo(paths: &Paths, opts: &GuestOpts) -> Result<ExitCode> {
    let built = prepare(paths, opts.kernel.unwrap_or(KernelChoice::Minimal))?;
    let run = guest::run(
        paths,
        &spec(
            "demo",
            opts,
            &built,
            &[],
            Job::Script(demo_script()),
            Some(Duration::from_secs(opts.timeout)),
        ),
    )?;
    let problems = run.problems();
    for p in &problems {
        eprintln!("demo: {p}");
    }
    match run.exit_status(false) {
        0 => {
            eprintln!(
                "demo: every step succeeded ({} in the guest)",
                ui::fmt_duration(run.elapsed)
            );
            Ok(ExitCode::SUCCESS)
        }
        s => {
            eprintln!(
                "demo: failed (guest status {:?}, exit status {s}); console log: {}",
                run.status,
                run.console_log.display()
            );
            Ok(ExitCode::from(s))
        }
    }
}

fn vm(paths: &Paths, opts: &VmOpts) -> Result<ExitCode> {
    for f in &opts.with {
        if !f.is_file() {
            bail!("--with {}: no such file", f.display());
        }
    }
    let built = prepare(paths, opts.guest.kernel.unwrap_or(KernelChoice::Minimal))?;
    let interactive = opts.command.is_empty();
    let (job, timeout) = if interactive {
        if !opts.with.is_empty() {
            eprintln!("vm: the --with files are in /work");
        }
        (Job::Interactive, None)
    } else {
        let script = format!("{}\n", guest::shell_words(&opts.command));
        (
            Job::Script(script),
            Some(Duration::from_secs(opts.guest.timeout)),
        )
    };
    let run = guest::run(
        paths,
        &spec("vm", &opts.guest, &built, &opts.with, job, timeout),
    )?;
    let problems = run.problems();
    for p in &problems {
        eprintln!("vm: {p}");
    }
    // Quitting an interactive guest with Ctrl-A X reports nothing, and is not a failure; kernel
    // trouble is, whatever the command's own status.
    let status = run.exit_status(interactive);
    if status != 0 && run.status == Some(0) {
        eprintln!(
            "vm: the command exited 0, but the run failed; console log: {}",
            run.console_log.display()
        );
    } else if run.status.is_none() && status != 0 {
        eprintln!(
            "vm: the guest reported no exit status; console log: {}",
            run.console_log.display()
        );
    }
    Ok(ExitCode::from(status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bench_sizes_default_to_the_sweep_and_narrow_with_flags() {
        let sizes = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["cargo xtask", "bench"], args].concat())?;
            let Cmd::Bench(b) = cli.command else {
                panic!("not bench")
            };
            b.sizes()
        };
        assert_eq!(sizes(&[]).unwrap(), bench::DEFAULT_SIZES);
        assert_eq!(
            sizes(&["--max-size", "4M"]).unwrap(),
            [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20]
        );
        assert_eq!(sizes(&["--size", "64M"]).unwrap(), [64 << 20]);
        assert_eq!(
            sizes(&["--sizes", "4K,1G", "--max-size", "1M"]).unwrap(),
            [4096]
        );
        assert!(sizes(&["--sizes", "4K", "--size", "8K"]).is_err());
        assert!(sizes(&["--size", "4K", "--max-size", "1K"]).is_err());
        assert!(sizes(&["--sizes", "4X"]).is_err());
    }

    #[test]
    fn params_are_checked() {
        assert_eq!(parse_param("size=8192"), Ok("size=8192".to_string()));
        assert!(parse_param("size").is_err());
        assert!(parse_param("=1").is_err());
        assert!(parse_param("1x=1").is_err());
        assert!(parse_param("size=").is_err());
        assert!(parse_param("size=1 2").is_err());
        assert!(parse_param("size='1'").is_err());
    }

    #[test]
    fn vm_takes_files_and_a_command_after_dashes() {
        let cli = Cli::try_parse_from([
            "cargo xtask",
            "vm",
            "--param",
            "size=8192",
            "--with",
            "./a",
            "./b",
            "--",
            "./a",
            "-x",
        ])
        .unwrap();
        let Cmd::Vm(v) = cli.command else {
            panic!("not vm")
        };
        assert_eq!(v.with, [PathBuf::from("./a"), PathBuf::from("./b")]);
        assert_eq!(v.command, ["./a", "-x"]);
        assert_eq!(v.guest.params, ["size=8192"]);
        assert_eq!(v.guest.accel, qemu::Accel::Tcg);
    }

    #[test]
    fn long_test_sizes_per_kernel_by_default_and_with_full() {
        let parse = |args: &[&str]| {
            let Cmd::Test(t) = Cli::try_parse_from(args).unwrap().command else {
                panic!("not test")
            };
            t
        };
        let d = parse(&["cargo xtask", "test"]);
        let debug = tests_cmd::sizes(&d, false);
        let stock = tests_cmd::sizes(&d, true);
        assert_eq!((debug.fuzz_ops, debug.concurrent_ops), (60_000, 1_000));
        assert_eq!((stock.fuzz_ops, stock.concurrent_ops), (15_000, 10_000));
        assert_eq!((debug.cycles, stock.cycles), (120, 24));
        let f = parse(&["cargo xtask", "test", "--full"]);
        let debug = tests_cmd::sizes(&f, false);
        let stock = tests_cmd::sizes(&f, true);
        assert_eq!((debug.fuzz_ops, debug.concurrent_ops), (500_000, 25_000));
        assert_eq!((stock.fuzz_ops, stock.concurrent_ops), (500_000, 100_000));
        assert_eq!((debug.cycles, stock.cycles), (1000, 1000));
        let more = parse(&["cargo xtask", "test", "--concurrent-ops", "50000"]);
        assert_eq!(tests_cmd::sizes(&more, true).concurrent_ops, 500_000);
    }

    #[test]
    fn demo_script_echoes_and_runs_each_step() {
        let s = demo_script();
        assert!(
            s.contains(
                "echo '$ user_test w '\\''Hello, World!'\\'''\nuser_test w 'Hello, World!' ||"
            ),
            "{s}"
        );
        assert!(s.contains("user_test p 5 ||"));
        assert!(s.contains("mydevctl create cam 4M ||"));
        assert!(s.contains("user_test --device /dev/mydev-cam r ||"));
        assert!(s.ends_with("exit $fail\n"));
    }
}
