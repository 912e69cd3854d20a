// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask`: the mydev harness.
//!
//! Builds a small Linux 7.3 kernel (cached outside the clone), the `mmap.ko` module and the
//! static user-space tools, boots the kernel under QEMU with the module loaded, and runs the
//! demo, the tests, or a shell. Every command first runs the set-up, which installs what is
//! missing.

mod bench;
mod cache;
mod cmd;
mod guest;
mod install;
mod kernels;
#[cfg(test)]
mod layout;
mod package;
mod paths;
mod report;
mod selftest;
mod setup;
mod shell;
#[cfg(test)]
mod tidy;
mod tools;
mod ui;

use anyhow::Result;
use clap::{Parser, Subcommand};
use cmd::bench::BenchOpts;
use cmd::package::PackageOpts;
use cmd::selftest::SelftestOpts;
use cmd::test::opts::TestOpts;
use cmd::vm::VmOpts;
use guest::opts::GuestOpts;
use paths::Paths;
use std::process::ExitCode;

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
        Cmd::Setup => cmd::setup::setup(&paths),
        Cmd::Build => cmd::build::build(&paths),
        Cmd::Demo(o) => cmd::demo::demo(&paths, &o),
        Cmd::Test(o) => cmd::test::run::test(&paths, &o),
        Cmd::Vm(o) => cmd::vm::vm(&paths, &o),
        Cmd::Lint => cmd::lint::lint(&paths),
        Cmd::Selftest(o) => cmd::selftest::selftest(&paths, &o),
        Cmd::Package(o) => cmd::package::package(&paths, &o),
        Cmd::Bench(o) => cmd::bench::bench(&paths, &o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::path::PathBuf;

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
        assert_eq!(sizes(&[]).unwrap(), bench::sweep::DEFAULT_SIZES);
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
        assert_eq!(v.guest.accel, guest::qemu::Accel::Tcg);
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
        let debug = cmd::test::opts::sizes(&d, false);
        let stock = cmd::test::opts::sizes(&d, true);
        assert_eq!((debug.fuzz_ops, debug.concurrent_ops), (40_000, 1_000));
        assert_eq!((stock.fuzz_ops, stock.concurrent_ops), (10_000, 10_000));
        assert_eq!((debug.cycles, stock.cycles), (80, 16));
        let f = parse(&["cargo xtask", "test", "--full"]);
        let debug = cmd::test::opts::sizes(&f, false);
        let stock = cmd::test::opts::sizes(&f, true);
        assert_eq!((debug.fuzz_ops, debug.concurrent_ops), (500_000, 25_000));
        assert_eq!((stock.fuzz_ops, stock.concurrent_ops), (500_000, 100_000));
        assert_eq!((debug.cycles, stock.cycles), (1000, 1000));
        let more = parse(&["cargo xtask", "test", "--concurrent-ops", "50000"]);
        assert_eq!(cmd::test::opts::sizes(&more, true).concurrent_ops, 500_000);
    }
}
