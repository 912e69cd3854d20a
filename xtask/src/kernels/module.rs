// SPDX-License-Identifier: GPL-2.0

//! Building out-of-tree modules against a kernel: `mmap.ko` from `module/` and the benchmarks'
//! `cref.ko` from `bench/cref`, on the host for our kernels and in the chroot for Debian's.

use crate::kernels::build::make_command;
use crate::kernels::kernel::Kernel;
use crate::paths::Paths;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Builds `mmap.ko` against `kernel` with the module's own Makefile, from a copy of `module/`
/// (so the clone's `module/` directory stays free of build outputs).
pub fn build_module(paths: &Paths, kernel: &Kernel) -> Result<PathBuf> {
    build_module_with(paths, kernel, kernel.profile.name, &[])
}

/// Copies `module/` into `target/mydev/module-<name>` (only what changed, so that make's
/// timestamps stay meaningful).
pub fn copy_module_sources(paths: &Paths, name: &str) -> Result<PathBuf> {
    copy_sources(paths, "module", &format!("module-{name}"))
}

/// Copies the files of the repository directory `src` into `target/mydev/<dest>`.
pub fn copy_sources(paths: &Paths, src: &str, dest: &str) -> Result<PathBuf> {
    copy_sources_to(paths, src, &paths.work.join(dest))
}

/// Copies the files of the repository directory `src` into `out`, only those that changed.
pub fn copy_sources_to(paths: &Paths, src: &str, out: &Path) -> Result<PathBuf> {
    let out = out.to_path_buf();
    std::fs::create_dir_all(&out)?;
    for entry in std::fs::read_dir(paths.repo.join(src))? {
        let path = entry?.path();
        if path.is_file() {
            let dest = out.join(path.file_name().context("file name")?);
            if std::fs::read(&dest).ok() != Some(std::fs::read(&path)?) {
                std::fs::copy(&path, &dest)?;
            }
        }
    }
    Ok(out)
}

/// Builds `mmap.ko` as [`build_module`] does, in `target/mydev/module-<name>`, with extra make
/// arguments (`CLIPPY=1 W=e` for the lint gate). Any compiler warning fails the build.
pub fn build_module_with(
    paths: &Paths,
    kernel: &Kernel,
    name: &str,
    args: &[&str],
) -> Result<PathBuf> {
    build_out_of_tree(
        paths,
        kernel,
        "module",
        "mmap",
        &format!("module-{name}"),
        args,
    )
}

/// Builds the benchmarks' C reference module `cref.ko` (`bench/cref`) against `kernel`.
pub fn build_cref(paths: &Paths, kernel: &Kernel) -> Result<PathBuf> {
    build_out_of_tree(
        paths,
        kernel,
        "bench/cref",
        "cref",
        &format!("cref-{}", kernel.profile.name),
        &[],
    )
}

/// Builds the out-of-tree module `<ko>.ko` from the repository directory `src`, in a copy under
/// `target/mydev/<work>`, with its own Makefile. Any compiler warning fails the build.
fn build_out_of_tree(
    paths: &Paths,
    kernel: &Kernel,
    src: &str,
    ko: &str,
    work: &str,
    args: &[&str],
) -> Result<PathBuf> {
    let phase = Phase::start(
        "module",
        &format!(
            "building {ko}.ko against the {} kernel (Linux {}) {}",
            kernel.profile.name,
            kernel.version,
            args.join(" ")
        ),
    );
    // A distribution's kernel: the build runs in its chroot, on a copy of the sources there.
    let out = match &kernel.chroot {
        None => copy_sources(paths, src, work)?,
        Some(c) => copy_sources_to(paths, src, &c.root.join("work").join(work))?,
    };
    let log = paths.logs.join(format!("{work}.log"));
    std::fs::write(&log, "")?;
    if !args.is_empty() {
        // Lint flags must see every file again.
        std::fs::remove_file(out.join(format!("{ko}.o"))).ok();
    }
    let mut cmd = match &kernel.chroot {
        None => {
            let mut cmd = make_command(&out, kernel.profile.llvm);
            cmd.arg(format!("KDIR={}", kernel.dir.display()));
            cmd
        }
        Some(c) => {
            let (dir, kdir) = (c.inside(&out)?, c.inside(&kernel.dir)?);
            let (dir, kdir) = (
                dir.display().to_string(),
                format!("KDIR={}", kdir.display()),
            );
            c.command(&["make", "-C", &dir, &kdir])
        }
    };
    cmd.args(args);
    run_logged(
        &format!("building {ko}.ko"),
        &mut cmd,
        &log,
        Duration::from_secs(30),
    )?;
    let ko_path = out.join(format!("{ko}.ko"));
    let text = std::fs::read_to_string(&log)?;
    let warnings = text
        .lines()
        .filter(|l| {
            l.starts_with("warning") || l.starts_with("WARNING") || l.contains(": warning:")
        })
        .count();
    if warnings > 0 {
        bail!(
            "{ko}.ko built with {warnings} warning(s); it must build warning-free: see {}",
            log.display()
        );
    }
    phase.done(&format!(
        "{} ({} bytes)",
        ko_path.display(),
        std::fs::metadata(&ko_path)?.len()
    ));
    Ok(ko_path)
}
