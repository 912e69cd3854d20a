// SPDX-License-Identifier: GPL-2.0

//! Building and caching our own guest kernels (the profiles of `profile.rs`).
//!
//! A kernel is `make tinyconfig` plus the committed fragments of its profile (`kernel/*.config`),
//! built with `O=` into `$XDG_CACHE_HOME/mydev/kernels/<version>-<profile>-<key>`, where the key
//! hashes everything that changes the result: the source package, the fragments, the compilers
//! and bindgen. A changed fragment or toolchain gives a new key, hence a new build; an unchanged
//! one reuses the cached build. Nothing is written into the source tree, and the build checks it.

use crate::cache::cache_key;
use crate::kernels::kconfig;
use crate::kernels::kernel::Kernel;
use crate::kernels::profile::Profile;
use crate::paths::Paths;
use crate::setup::{self, KernelSource};
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Bump when the build recipe below changes in a way that changes its output.
const RECIPE: &str = "mydev kernel recipe 2: tinyconfig + fragments, olddefconfig, make all, LLVM=";

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

/// Named inputs of a cache key.
type Inputs = Vec<(String, String)>;

/// The inputs of the cache key of `profile`'s build (the recipe, the source, the compilers and
/// bindgen, the fragments' text) and the fragments' settings.
fn key_inputs(
    paths: &Paths,
    source: &KernelSource,
    profile: Profile,
) -> Result<(Inputs, Vec<kconfig::Setting>)> {
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
    Ok((inputs, settings))
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
    let (inputs, settings) = key_inputs(paths, source, profile)?;
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
    build(source, profile, &dir, &settings, &phase)?;
    std::fs::write(&done, cache_inputs_text(&inputs))?;
    phase.done(&format!("built {}", kernel.image.display()));
    Ok(kernel)
}

/// Configures (tinyconfig, the fragments, olddefconfig, checked) and builds `profile`'s kernel
/// into `dir`, leaving the source tree untouched.
fn build(
    source: &KernelSource,
    profile: Profile,
    dir: &Path,
    settings: &[kconfig::Setting],
    phase: &Phase,
) -> Result<()> {
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
    std::fs::write(&config_path, kconfig::merge(&config, settings))?;
    run_logged(
        "make olddefconfig",
        &mut make("olddefconfig"),
        &log,
        Duration::from_secs(30),
    )?;
    verify_config(dir, profile, settings)?;
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
    check_source_untouched(source)
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
