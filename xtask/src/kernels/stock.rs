// SPDX-License-Identifier: GPL-2.0

//! Debian's own Rust-enabled kernels: the signed images that users run, unmodified.
//!
//! A Debian kernel is built by the `rustc` of its release, and the Rust symbols it exports carry
//! a hash of that exact compiler, so modules for it must be built by the same one. For each
//! kernel the harness keeps a chroot of that release (made with `mmdebstrap`, cached under
//! `$XDG_CACHE_HOME/mydev/chroots`, keyed by what went in) with the kernel's headers and source
//! installed from the registry. Inside it, `packaging/mydev-prepare-kernel` (the same helper the
//! `mydev-dkms` package ships) rebuilds the Rust outputs that Debian's headers lack, and the
//! module is built against that tree. The image itself comes from `linux-binary-<release>`
//! (the signed `vmlinuz`), unpacked, not installed.

use crate::cache::cache_key;
use crate::kernels::chroot::Chroot;
use crate::kernels::kernel::Kernel;
use crate::kernels::profile::Profile;
use crate::kernels::stock_modules;
// For `package.rs`, which names it here.
use crate::paths::Paths;
use crate::setup;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The kernel command line of every boot of a Debian kernel, beside the harness's own: two
/// emulated NUMA nodes with balancing off (see the profile in `ensure`).
pub const STOCK_CMDLINE: &str = "numa=fake=2 numa_balancing=disable";

/// A Debian kernel series and the release whose compiler built it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Distro {
    /// The harness's name, e.g. `debian-7.3`.
    pub name: &'static str,
    /// The Debian release of the chroot, e.g. `trixie`.
    pub suite: &'static str,
    /// The suite the kernel comes from, when not the release itself (`trixie-backports`).
    pub kernel_suite: &'static str,
    /// `<major>.<minor>`.
    pub series: &'static str,
}

/// 7.3 from trixie-backports, built by trixie's rustc (1.85).
pub const DEBIAN_73: Distro = Distro {
    name: "debian-7.3",
    suite: "trixie",
    kernel_suite: "trixie-backports",
    series: "7.3",
};

/// 7.2 from forky (testing), built by forky's rustc.
pub const DEBIAN_72: Distro = Distro {
    name: "debian-7.2",
    suite: "forky",
    kernel_suite: "forky",
    series: "7.2",
};

/// Bump when the chroot recipe changes.
const CHROOT_RECIPE: &str = "mydev chroot recipe 1: mmdebstrap --variant=apt";

/// The build tools of a module build chroot (the helper's needs, as the package declares them).
pub const BUILD_PACKAGES: &[&str] = &[
    "bc",
    "bindgen",
    "bison",
    "cpio",
    "flex",
    "gcc",
    "kmod",
    "libclang-dev",
    "libelf-dev",
    "libssl-dev",
    "make",
    "python3",
    "rust-src",
    "rustc",
    "xz-utils",
];

/// The `mmdebstrap` command for a `suite` root in `dir` with `include`d packages, from the
/// release and (when different) the kernel's suite.
pub fn mmdebstrap(
    suite: &str,
    extra_suite: Option<&str>,
    include: &[String],
    dir: &Path,
) -> Command {
    let mirror = setup::debian_mirror();
    let mut cmd = Command::new("mmdebstrap");
    cmd.args(["--variant=apt", "--mode=root"])
        // The registry's copies of forky and sid carry an expired Valid-Until (signatures are
        // still checked), as the private apt configuration does.
        .arg("--aptopt=Acquire::Check-Valid-Until \"false\"");
    if !include.is_empty() {
        cmd.arg(format!("--include={}", include.join(",")));
    }
    cmd.arg(suite)
        .arg(dir)
        .arg(format!("deb {mirror} {suite} main"));
    if let Some(s) = extra_suite {
        cmd.arg(format!("deb {mirror} {s} main"));
    }
    cmd
}

/// The chroot in which modules for `d` are built: its release, the build tools, and the
/// kernel's headers and source (`linux-headers-amd64` of the kernel's suite names the newest).
fn ensure_chroot(paths: &Paths, d: Distro, phase: &Phase) -> Result<Chroot> {
    let pin = |p: &str| {
        if d.kernel_suite == d.suite {
            p.to_string()
        } else {
            format!("{p}/{}", d.kernel_suite)
        }
    };
    let mut include: Vec<String> = BUILD_PACKAGES.iter().map(|p| p.to_string()).collect();
    include.push(pin(&format!("linux-source-{}", d.series)));
    include.push(pin("linux-headers-amd64"));
    let key = cache_key(&[
        ("recipe".into(), CHROOT_RECIPE.into()),
        ("suite".into(), d.suite.into()),
        ("kernel suite".into(), d.kernel_suite.into()),
        ("mirror".into(), setup::debian_mirror()),
        ("include".into(), include.join(",")),
    ]);
    let chroots = paths.cache.join("chroots");
    std::fs::create_dir_all(&chroots)?;
    let root = chroots.join(format!("{}-{key}", d.name));
    let lock = std::fs::File::create(chroots.join(format!("{}-{key}.lock", d.name)))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .context("locking the chroot cache entry")?;
    let done = root.join(".mydev-complete");
    let chroot = Chroot { root: root.clone() };
    if done.is_file() {
        phase.note(&format!("chroot cached: {}", root.display()));
        return Ok(chroot);
    }
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let log = paths.logs.join(format!("chroot-{}.log", d.name));
    std::fs::write(&log, "")?;
    phase.note(&format!(
        "making a {} chroot with mmdebstrap (about a minute; log: {})",
        d.suite,
        log.display()
    ));
    let extra = (d.kernel_suite != d.suite).then_some(d.kernel_suite);
    run_logged(
        "mmdebstrap",
        &mut mmdebstrap(d.suite, extra, &include, &root),
        &log,
        Duration::from_secs(30),
    )?;
    // mmdebstrap empties the package lists; apt-get download needs them.
    chroot.run(
        "apt-get update (chroot)",
        &[
            "apt-get",
            "-q",
            "-o",
            "Acquire::Check-Valid-Until=false",
            "update",
        ],
        &log,
    )?;
    std::fs::write(&done, include.join("\n"))?;
    Ok(chroot)
}

/// The kernel release whose headers the chroot has, e.g. `7.3.4+deb13-amd64`.
fn headers_release(chroot: &Chroot, d: Distro) -> Result<String> {
    let prefix = format!("linux-headers-{}.", d.series);
    let mut found: Vec<String> = std::fs::read_dir(chroot.root.join("usr/src"))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with(&prefix) && n.ends_with("-amd64"))
        .map(|n| n["linux-headers-".len()..].to_string())
        .collect();
    found.sort();
    found
        .pop()
        .with_context(|| format!("no {prefix}*-amd64 headers in {}", chroot.root.display()))
}

/// `CONFIG_NAME`'s value in a `.config` text, unquoted.
pub fn config_value<'a>(config: &'a str, name: &str) -> Option<&'a str> {
    config.lines().find_map(|l| {
        let v = l.strip_prefix(name)?.strip_prefix('=')?;
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v),
        )
    })
}

/// Returns Debian's `d` kernel, ready to boot, with a tree to build modules against.
pub fn ensure(paths: &Paths, d: Distro) -> Result<Kernel> {
    let phase = Phase::start(
        "kernel",
        &format!(
            "{}: Debian's own kernel from {}, built in a {} chroot",
            d.name, d.kernel_suite, d.suite
        ),
    );
    let chroot = ensure_chroot(paths, d, &phase)?;
    let release = headers_release(&chroot, d)?;
    let headers = chroot.root.join(format!("usr/src/linux-headers-{release}"));
    let config = std::fs::read_to_string(headers.join(".config"))
        .with_context(|| format!("reading {}/.config", headers.display()))?;
    let log = paths.logs.join(format!("kernel-{}.log", d.name));
    std::fs::write(&log, "")?;

    // The helper of the mydev-dkms package prepares the Rust outputs (or finds them ready).
    let helper = paths.repo.join("packaging/mydev-prepare-kernel");
    std::fs::copy(
        &helper,
        chroot.root.join("usr/local/bin/mydev-prepare-kernel"),
    )
    .context("copying mydev-prepare-kernel into the chroot")?;
    let build_inside = format!("/var/lib/mydev-dkms/{release}");
    if !chroot
        .root
        .join(build_inside.trim_start_matches('/'))
        .join("build/rust/libkernel.rmeta")
        .is_file()
    {
        phase.note(&format!(
            "preparing the Rust build outputs of {release} (about 2½ minutes; log: {})",
            log.display()
        ));
    }
    chroot.run(
        "mydev-prepare-kernel",
        &["mydev-prepare-kernel", &release, &build_inside],
        &log,
    )?;

    let image = ensure_image(&chroot, &release, &log)?;
    let preload = stock_modules::preload(&chroot, &release, &log)?;
    let settings = config
        .lines()
        .filter(|l| l.starts_with("CONFIG_") && l.ends_with("=y"))
        .map(str::to_string)
        .collect();
    let kernel = Kernel {
        profile: Profile {
            name: d.name,
            fragments: &[],
            // Two NUMA nodes (NUMA emulation: Debian's kernels have `NUMA_EMU`), so that the
            // NUMA-balancing test has somewhere to migrate to; balancing stays off until that
            // test turns it on (`kernel.numa_balancing`), as on a one-node machine.
            cmdline: STOCK_CMDLINE,
            llvm: None,
            tcg_one_thread: true,
        },
        dir: chroot
            .root
            .join(build_inside.trim_start_matches('/'))
            .join("build"),
        version: release.clone(),
        settings,
        image,
        chroot: Some(chroot),
        preload,
    };
    phase.done(&format!(
        "{release} ({}), image {}",
        config_value(&config, "CONFIG_RUSTC_VERSION_TEXT").unwrap_or("?"),
        kernel.image.display()
    ));
    Ok(kernel)
}

/// Debian's signed image of `release`: `linux-binary-<release>`, downloaded in the chroot and
/// unpacked (not installed) beside it.
fn ensure_image(chroot: &Chroot, release: &str, log: &Path) -> Result<PathBuf> {
    let dir = stock_modules::image_dir(chroot);
    let image = dir.join(format!("root/usr/lib/modules/{release}/vmlinuz"));
    let boot = dir.join(format!("root/boot/vmlinuz-{release}"));
    for p in [&image, &boot] {
        if p.is_file() {
            return Ok(p.clone());
        }
    }
    let package = format!("linux-binary-{release}");
    stock_modules::unpack_package(chroot, &package, log)?;
    [image, boot]
        .into_iter()
        .find(|p| p.is_file())
        .with_context(|| format!("{package} has no vmlinuz for {release}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "CONFIG_RUST=y\nCONFIG_RUSTC_VERSION_TEXT=\"rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)\"\n";

    #[test]
    fn config_values_are_unquoted() {
        assert_eq!(config_value(CONFIG, "CONFIG_RUST"), Some("y"));
        assert_eq!(
            config_value(CONFIG, "CONFIG_RUSTC_VERSION_TEXT"),
            Some("rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)")
        );
        assert_eq!(config_value(CONFIG, "CONFIG_RUSTC"), None);
    }

    /// The helper that prepares a Debian kernel (and that the package ships) stops at once, with
    /// the rustc it needs, when the machine's rustc is not the kernel's.
    #[test]
    fn a_different_rustc_stops_the_build_and_names_the_one_needed() {
        let dir = std::env::temp_dir().join(format!("mydev-rustc-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let helper =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/mydev-prepare-kernel");
        let run = |config: &str, rustc_says: &str| {
            std::fs::write(dir.join(".config"), config).unwrap();
            let fake = dir.join("rustc");
            std::fs::write(&fake, format!("#!/bin/sh\necho '{rustc_says}'\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
            let out = Command::new("sh")
                .arg(&helper)
                .args(["7.3.4+deb13-amd64", dir.join("out").to_str().unwrap()])
                .env("MYDEV_HEADERS", &dir)
                .env("RUSTC", &fake)
                .output()
                .unwrap();
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let same = "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)";
        // The same rustc passes the check (and the helper goes on, to fail later here for want
        // of the rest of a headers tree).
        let (_, e) = run(CONFIG, same);
        assert!(!e.contains("was built by"), "{e}");
        let (ok, e) = run(CONFIG, "rustc 1.95.0 (59807616e 2026-04-14)");
        assert!(!ok);
        assert!(e.contains("built by 'rustc 1.85.1"), "{e}");
        assert!(e.contains("'rustc 1.95.0"), "{e}");
        let (ok, _) = run("CONFIG_RUST=y\n", same);
        assert!(!ok);
        std::fs::remove_dir_all(&dir).ok();
    }
}
