// SPDX-License-Identifier: GPL-2.0

//! Building and caching guest kernels, and building the module against them.
//!
//! A kernel is `make tinyconfig` plus the committed fragments of its profile (`kernel/*.config`),
//! built with `O=` into `$XDG_CACHE_HOME/mydev/kernels/<version>-<profile>-<key>`, where the key
//! hashes everything that changes the result: the source package, the fragments, the compilers
//! and bindgen. A changed fragment or toolchain gives a new key, hence a new build; an unchanged
//! one reuses the cached build. Nothing is written into the source tree, and the build checks it.

use crate::kconfig;
use crate::paths::Paths;
use crate::setup::{self, KernelSource};
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A kernel configuration: tinyconfig plus these fragments, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub fragments: &'static [&'static str],
    /// Extra kernel command-line arguments for guests of this kernel.
    pub cmdline: &'static str,
    /// `LLVM=` for a clang build (the kernel and its modules), e.g. `-19`; `None` for gcc.
    pub llvm: Option<&'static str>,
    /// Under TCG, run the vCPUs in one host thread. Debian's kernels patch their code with
    /// `text_poke_bp()` while other CPUs run (static keys flipped at boot, e.g. when sched_clock
    /// becomes stable); with one host thread per vCPU, QEMU 7.2's TCG sometimes lets another
    /// vCPU execute the temporary `int3`, and the kernel oopses ("Oops: int3" in
    /// `sched_clock_cpu`, seen once in about ten boots). One thread keeps the guest SMP.
    pub tcg_one_thread: bool,
}

/// The small kernel for `demo`, `vm` and benchmarks.
pub const MINIMAL: Profile = Profile {
    name: "minimal",
    fragments: &["minimal.config"],
    // One RAM disk of 64 MiB (allocated as it is written): the benchmark's O_DIRECT writes.
    // udmabuf takes memfds of up to 64 MiB by default; the benchmark exports up to 1 GiB.
    cmdline: "brd.rd_nr=1 brd.rd_size=65536 udmabuf.size_limit_mb=1024",
    llvm: None,
    tcg_one_thread: false,
};

/// The kernel for `test`: the minimal one plus KUnit and the kernel's debugging aids, built with
/// clang 19 (Rust and KASAN together need a clang-built kernel in 7.3).
pub const TEST: Profile = Profile {
    name: "test",
    fragments: &["minimal.config", "test.config"],
    // rcu_expedited: module unloading waits for RCU grace periods, which take tens of
    // milliseconds each under emulation; expedited ones keep the load/unload cycles affordable.
    // vivid.allocators=1: the virtual camera imports dma-bufs with the dma-contig allocator,
    // which maps the attachment (the dmabuf suite).
    cmdline: "slub_debug=FZPU debug_pagealloc=on page_poison=1 kmemleak=on rcupdate.rcu_expedited=1 \
              vivid.allocators=1",
    llvm: Some("-19"),
    tcg_one_thread: false,
};

/// Bump when the build recipe below changes in a way that changes its output.
const RECIPE: &str = "mydev kernel recipe 2: tinyconfig + fragments, olddefconfig, make all, LLVM=";

/// A built kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub profile: Profile,
    pub dir: PathBuf,
    pub version: String,
    /// The fragments' settings, each verified in the built `.config` (for a distribution's
    /// kernel: every `=y` line of its `.config`).
    pub settings: Vec<String>,
    /// The image QEMU boots.
    pub image: PathBuf,
    /// Where modules for it are built: `None` on the host, or a chroot with the compiler that
    /// built the kernel (a distribution's kernel, see `stock.rs`).
    pub chroot: Option<crate::stock::Chroot>,
    /// The kernel's own modules that the guest loads before `mmap.ko`, in this order: on
    /// Debian's kernels `configfs.ko` (`CONFIGFS_FS=m`) and the suites' peer drivers (see
    /// `stock_modules.rs`); none on ours, which build them in.
    pub preload: Vec<crate::stock_modules::Preload>,
}

impl Kernel {
    /// Whether the kernel has `CONFIG_<name>=y`.
    pub fn has(&self, name: &str) -> bool {
        self.settings
            .iter()
            .any(|s| s == &format!("CONFIG_{name}=y"))
    }
}

/// The cache key of a build: a hash of named inputs, 16 hex digits.
pub fn cache_key(inputs: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (name, value) in inputs {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tool_version(cmd: &str, arg: &str) -> String {
    Command::new(cmd)
        .env("PATH", setup::tool_path())
        .arg(arg)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_else(|_| format!("{cmd}: not found"))
}

/// The environment of every kernel and module `make`; `llvm` is the profile's `LLVM=` value.
pub fn make_command(source: &Path, llvm: Option<&str>) -> Command {
    let mut cmd = Command::new("make");
    cmd.arg("-C").arg(source);
    if let Some(v) = llvm {
        cmd.arg(format!("LLVM={v}"));
    }
    cmd.env("PATH", setup::tool_path())
        .env("LIBCLANG_PATH", setup::LIBCLANG_PATH);
    // Cargo's variables must not leak into Kbuild's own rustc calls.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "MAKEFLAGS",
        "MFLAGS",
        "CARGO_MAKEFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn jobs() -> String {
    format!(
        "-j{}",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    )
}

/// Returns the kernel of `profile`, building it unless the cache has it.
pub fn ensure(paths: &Paths, source: &KernelSource, profile: Profile) -> Result<Kernel> {
    let phase = Phase::start(
        "kernel",
        &format!(
            "{} kernel (Linux {}, fragments: {})",
            profile.name,
            source.version,
            profile.fragments.join(" + ")
        ),
    );
    let mut settings = Vec::new();
    let mut inputs = vec![
        ("recipe".to_string(), RECIPE.to_string()),
        ("source".to_string(), source.deb_version.clone()),
        ("rustc".to_string(), tool_version("rustc", "-vV")),
        ("bindgen".to_string(), tool_version("bindgen", "--version")),
        ("gcc".to_string(), tool_version("gcc", "--version")),
        (
            "clang".to_string(),
            profile
                .llvm
                .map(|v| tool_version(&format!("clang{v}"), "--version"))
                .unwrap_or_default(),
        ),
        ("llvm".to_string(), profile.llvm.unwrap_or("").to_string()),
    ];
    for name in profile.fragments {
        let path = paths.repo.join("kernel").join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        settings.extend(kconfig::parse_fragment(&text, &path.display().to_string())?);
        inputs.push((format!("fragment {name}"), text));
    }
    let key = cache_key(&inputs);
    let kernels = paths.cache.join("kernels");
    std::fs::create_dir_all(&kernels)?;
    let dir = kernels.join(format!("{}-{}-{key}", source.version, profile.name));
    let kernel = Kernel {
        profile,
        dir: dir.clone(),
        version: source.version.clone(),
        settings: settings.iter().map(kconfig::Setting::line).collect(),
        image: dir.join("arch/x86/boot/bzImage"),
        chroot: None,
        preload: Vec::new(),
    };
    let done = dir.join(".mydev-complete");

    // One build at a time per kernel, across clones and CI.
    let lock = std::fs::File::create(
        kernels.join(format!("{}-{}-{key}.lock", source.version, profile.name)),
    )?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .context("locking the kernel cache entry")?;

    if done.is_file() && kernel.image.is_file() {
        verify_config(&dir, profile, &settings)?;
        phase.done(&format!("cached: {}", dir.display()));
        return Ok(kernel);
    }
    if dir.exists() {
        phase.note("removing an incomplete earlier build");
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let log = dir.join("build.log");
    phase.note(&format!(
        "building into {} (log: {})",
        dir.display(),
        log.display()
    ));
    let make = |target: &str| {
        let mut cmd = make_command(&source.dir, profile.llvm);
        cmd.arg(format!("O={}", dir.display())).arg(target);
        cmd
    };
    run_logged(
        "make tinyconfig",
        &mut make("tinyconfig"),
        &log,
        Duration::from_secs(30),
    )?;
    let config_path = dir.join(".config");
    let config = std::fs::read_to_string(&config_path)?;
    std::fs::write(&config_path, kconfig::merge(&config, &settings))?;
    run_logged(
        "make olddefconfig",
        &mut make("olddefconfig"),
        &log,
        Duration::from_secs(30),
    )?;
    verify_config(&dir, profile, &settings)?;
    phase.note(&format!(
        "configuration checked: all {} fragment settings present",
        settings.len()
    ));
    let mut build = make("all");
    build.arg(jobs());
    run_logged(
        &format!("building the {} kernel", profile.name),
        &mut build,
        &log,
        Duration::from_secs(30),
    )?;
    check_source_untouched(source)?;
    std::fs::write(&done, cache_inputs_text(&inputs))?;
    phase.done(&format!("built {}", kernel.image.display()));
    Ok(kernel)
}

/// Fails unless the `.config` in `dir` has every setting the profile's fragments ask for (some
/// need options that Kconfig drops silently when a dependency is missing).
fn verify_config(dir: &Path, profile: Profile, settings: &[kconfig::Setting]) -> Result<()> {
    let config_path = dir.join(".config");
    let config = std::fs::read_to_string(&config_path)
        .with_context(|| format!("reading {}", config_path.display()))?;
    let missing = kconfig::missing(&config, settings);
    if !missing.is_empty() {
        let list: Vec<String> = missing
            .iter()
            .map(|(want, got)| format!("    wanted {want}, got {got}"))
            .collect();
        bail!(
            "the {} kernel configuration lacks options its fragments ask for \
             (a dependency is missing?):\n{}\nconfig: {}",
            profile.name,
            list.join("\n"),
            config_path.display()
        );
    }
    Ok(())
}

fn cache_inputs_text(inputs: &[(String, String)]) -> String {
    inputs
        .iter()
        .map(|(k, v)| format!("== {k}\n{v}\n"))
        .collect()
}

/// Fails if anything in the source tree changed after it was unpacked.
fn check_source_untouched(source: &KernelSource) -> Result<()> {
    let out = Command::new("find")
        .arg(&source.dir)
        .arg("-newer")
        .arg(&source.stamp)
        .args(["-not", "-path"])
        .arg(&source.stamp)
        .args(["-print", "-quit"])
        .output()
        .context("running find")?;
    let written = String::from_utf8_lossy(&out.stdout);
    if !written.trim().is_empty() {
        bail!(
            "the kernel build wrote into the source tree ({}); builds must use O=",
            written.trim()
        );
    }
    Ok(())
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(fragment: &str) -> Vec<(String, String)> {
        vec![
            ("source".into(), "7.3.4-1".into()),
            ("fragment a".into(), fragment.into()),
        ]
    }

    #[test]
    fn key_is_stable_and_changes_with_any_input() {
        let k = cache_key(&inputs("CONFIG_A=y\n"));
        assert_eq!(k.len(), 16);
        assert_eq!(k, cache_key(&inputs("CONFIG_A=y\n")));
        assert_ne!(k, cache_key(&inputs("CONFIG_A=n\n")));
        // Names and values cannot run into each other.
        let a = cache_key(&[("ab".into(), "c".into())]);
        let b = cache_key(&[("a".into(), "bc".into())]);
        assert_ne!(a, b);
    }

    #[test]
    fn profiles_use_committed_fragments() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for p in [MINIMAL, TEST] {
            for f in p.fragments {
                let text = std::fs::read_to_string(repo.join("kernel").join(f)).unwrap();
                let settings = kconfig::parse_fragment(&text, f).unwrap();
                assert!(!settings.is_empty(), "{f} has settings");
            }
        }
        assert!(
            TEST.fragments.starts_with(MINIMAL.fragments),
            "the test kernel extends the minimal one"
        );
    }
}
