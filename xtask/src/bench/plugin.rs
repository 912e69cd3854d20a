// SPDX-License-Identifier: GPL-2.0

//! The QEMU TCG plugin `bench/plugin/mydev_icount.c`, which counts the guest instructions
//! between start/stop markers that a guest program executes (see the C file's header).
//!
//! The plugin is compiled against `qemu-plugin.h` from Debian's `qemu` source package of the
//! exact version of the installed `qemu-system-x86`, downloaded with a private apt
//! configuration under the cache (`apt-qemu/`): the system's own sources stay untouched. The
//! header and the compiled plugin are cached by QEMU version and by a hash of the plugin source
//! and of the compiler command, so later runs skip all of it.

use crate::cache::cache_key;
use crate::paths::Paths;
use crate::setup::{PrivateApt, debian_mirror};
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The plugin source, relative to the repository.
const PLUGIN_SOURCE: &str = "bench/plugin/mydev_icount.c";
/// The compiled plugin's file name.
const PLUGIN_SO: &str = "libmydev_icount.so";
/// The binary package whose source version decides which `qemu` source is fetched.
const QEMU_PACKAGE: &str = "qemu-system-x86";
/// The compiler flags (part of the cache key).
const CFLAGS: &[&str] = &["-O2", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror"];
/// Debian's security archive, which carries the point updates of the stable `qemu`.
const SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// One line of the plugin's output: the instructions between a start and the `seq`-th stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// The stop's sequence number (0, 1, 2, ...).
    pub seq: u64,
    /// Every guest instruction.
    pub total: u64,
    /// Instructions at kernel addresses.
    pub kernel: u64,
    /// Instructions in the module area.
    pub module: u64,
}

/// Builds the plugin (or finds it in the cache) and returns the path of the `.so`.
pub fn ensure_plugin(paths: &Paths) -> Result<PathBuf> {
    let phase = Phase::start("plugin", "the QEMU instruction-counting plugin");
    let version = qemu_source_version()?;
    let source_path = paths.repo.join(PLUGIN_SOURCE);
    let source = std::fs::read_to_string(&source_path)
        .with_context(|| format!("reading {}", source_path.display()))?;
    let key = cache_key(&[
        ("qemu".to_string(), version.clone()),
        ("source".to_string(), source),
        ("cflags".to_string(), CFLAGS.join(" ")),
    ]);
    let root = paths.cache.join("plugin");
    std::fs::create_dir_all(&root)?;
    // One fetch and build at a time, across clones.
    let lock = std::fs::File::create(root.join(".lock"))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .context("locking the plugin cache")?;
    let dir = root.join(format!("{}-{key}", sanitize(&version)));
    let so = dir.join(PLUGIN_SO);
    if so.is_file() {
        phase.done(&format!("cached: {}", so.display()));
        return Ok(so);
    }

    let include = root.join(format!("include-{}", sanitize(&version)));
    let header = include.join("qemu-plugin.h");
    if header.is_file() {
        phase.note(&format!("cached: {}", header.display()));
    } else {
        phase.note(&format!(
            "downloading the qemu {version} source with a private apt configuration"
        ));
        fetch_header(paths, &version, &include)?;
    }

    phase.note(&format!("compiling {PLUGIN_SOURCE}"));
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{PLUGIN_SO}.tmp"));
    let mut cc = Command::new("cc");
    cc.args(CFLAGS)
        .arg("-I")
        .arg(&include)
        .arg("-o")
        .arg(&tmp)
        .arg(&source_path);
    run_logged(
        &format!("compiling {PLUGIN_SOURCE}"),
        &mut cc,
        &paths.logs.join("plugin.log"),
        Duration::from_secs(30),
    )?;
    std::fs::rename(&tmp, &so)?;
    phase.done(&format!("built {}", so.display()));
    Ok(so)
}

/// The source version of the installed QEMU, e.g. `1:7.2+dfsg-7+deb12u18` for the binary
/// `1:7.2+dfsg-7+deb12u18+b3` (a binNMU has the version of its source plus `+bN`).
fn qemu_source_version() -> Result<String> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${source:Version}", QEMU_PACKAGE])
        .output()
        .context("cannot run dpkg-query")?;
    if !out.status.success() {
        bail!(
            "dpkg-query: {QEMU_PACKAGE} is not installed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if version.is_empty() {
        bail!("dpkg-query gave no source version for {QEMU_PACKAGE}");
    }
    Ok(strip_binnmu(&version).to_string())
}

/// `version` without a binNMU suffix `+bN`.
fn strip_binnmu(version: &str) -> &str {
    match version.rsplit_once("+b") {
        Some((head, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => head,
        _ => version,
    }
}

/// `version` as a file-name component.
fn sanitize(version: &str) -> String {
    version.replace([':', '~', '+'], "_")
}

/// Downloads the `qemu` source of `version` and puts its `include/qemu/qemu-plugin.h` into
/// `include`. The downloaded source files are removed afterwards: only the header is kept.
fn fetch_header(paths: &Paths, version: &str, include: &Path) -> Result<()> {
    let src = paths.cache.join("apt-qemu/src");
    if src.exists() {
        std::fs::remove_dir_all(&src)?;
    }
    std::fs::create_dir_all(&src)?;
    let keyring = "[signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]";
    let mirror = debian_mirror();
    // The installed QEMU comes from the machine's own release.
    let suite = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| codename(&t))
        .unwrap_or_else(|| "bookworm".to_string());
    let apt = PrivateApt::new(
        paths.cache.join("apt-qemu"),
        &format!(
            "deb-src {keyring} {mirror} {suite} main\n\
             deb-src {keyring} {mirror} {suite}-updates main\n\
             deb-src {keyring} {SECURITY_MIRROR} {suite}-security main\n"
        ),
    )?;
    let apt_get = || apt.apt_get();
    let log = paths.logs.join("plugin.log");

    let mut update = apt_get();
    update.arg("update");
    run_logged(
        &format!("apt-get update (private {suite} deb-src list)"),
        &mut update,
        &log,
        Duration::from_secs(30),
    )?;

    let mut download = apt_get();
    download
        .args(["source", "--download-only"])
        .arg(format!("qemu={version}"))
        .current_dir(&src);
    run_logged(
        &format!("apt-get source --download-only qemu={version}"),
        &mut download,
        &log,
        Duration::from_secs(30),
    )?;

    let found = extract_header(&src, &log)?;
    std::fs::create_dir_all(include)?;
    let tmp = include.join("qemu-plugin.h.tmp");
    std::fs::copy(&found, &tmp)?;
    std::fs::rename(&tmp, include.join("qemu-plugin.h"))?;
    std::fs::remove_dir_all(&src)?;
    Ok(())
}

/// Extracts `qemu-plugin.h` from the `qemu_*.orig.tar.*` that `apt-get source` left in `src`;
/// its path.
fn extract_header(src: &Path, log: &Path) -> Result<PathBuf> {
    let orig = std::fs::read_dir(src)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("qemu_") && n.contains(".orig.tar."))
        })
        .with_context(|| {
            format!(
                "apt-get source left no qemu_*.orig.tar.* in {}",
                src.display()
            )
        })?;
    let unpack = src.join("unpack");
    std::fs::create_dir_all(&unpack)?;
    let mut tar = Command::new("tar");
    tar.arg("-xf")
        .arg(&orig)
        .arg("-C")
        .arg(&unpack)
        .args(["--wildcards", "*/include/qemu/qemu-plugin.h"]);
    run_logged(
        "extracting qemu-plugin.h",
        &mut tar,
        log,
        Duration::from_secs(30),
    )?;
    std::fs::read_dir(&unpack)?
        .flatten()
        .map(|e| e.path().join("include/qemu/qemu-plugin.h"))
        .find(|p| p.is_file())
        .with_context(|| format!("{} has no */include/qemu/qemu-plugin.h", orig.display()))
}

/// Parses the plugin's output file: one `<n> <total> <kernel> <module>` line per stop marker.
/// A line `<n> error <why>` (a stop without a start) is an error, as is anything else.
pub fn parse_counts(text: &str) -> Result<Vec<Counts>> {
    let mut counts = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let lineno = i + 1;
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.get(1) == Some(&"error") {
            bail!(
                "instruction counts, line {lineno}: stop marker {} reported {}",
                words[0],
                words[2..].join(" ")
            );
        }
        let numbers: Vec<u64> = words
            .iter()
            .map(|w| w.parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .ok()
            .filter(|n: &Vec<u64>| n.len() == 4)
            .with_context(|| {
                format!("instruction counts, line {lineno}: expected `<n> <total> <kernel> <module>`, got `{line}`")
            })?;
        let c = Counts {
            seq: numbers[0],
            total: numbers[1],
            kernel: numbers[2],
            module: numbers[3],
        };
        if c.kernel > c.total || c.module > c.total {
            bail!("instruction counts, line {lineno}: a part exceeds the total in `{line}`");
        }
        counts.push(c);
    }
    Ok(counts)
}

/// `VERSION_CODENAME` of an `/etc/os-release` text.
fn codename(os_release: &str) -> Option<String> {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_lines() {
        let c = parse_counts("0 1000 10 0\n1 123456 120000 4000\n\n").unwrap();
        assert_eq!(
            c,
            vec![
                Counts {
                    seq: 0,
                    total: 1000,
                    kernel: 10,
                    module: 0
                },
                Counts {
                    seq: 1,
                    total: 123456,
                    kernel: 120000,
                    module: 4000
                },
            ]
        );
        assert!(parse_counts("").unwrap().is_empty());
    }

    #[test]
    fn error_lines_are_errors() {
        let e = parse_counts("0 5 0 0\n1 error no-start\n").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("line 2") && msg.contains("marker 1") && msg.contains("no-start"),
            "{msg}"
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in [
            "hello",
            "0 1 2",
            "0 1 2 3 4",
            "0 -1 0 0",
            "0 x 0 0",
            "0 10 11 0",
            "0 10 0 11",
            "0 error",
        ] {
            assert!(parse_counts(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn binnmu_suffix_is_stripped() {
        assert_eq!(
            strip_binnmu("1:7.2+dfsg-7+deb12u18+b3"),
            "1:7.2+dfsg-7+deb12u18"
        );
        assert_eq!(
            strip_binnmu("1:7.2+dfsg-7+deb12u18"),
            "1:7.2+dfsg-7+deb12u18"
        );
        assert_eq!(strip_binnmu("1.0+build"), "1.0+build");
        assert_eq!(sanitize("1:7.2+dfsg-7~x"), "1_7.2_dfsg-7_x");
    }

    #[test]
    fn codename_from_os_release() {
        assert_eq!(
            codename("NAME=\"Debian\"\nVERSION_CODENAME=bookworm\n").as_deref(),
            Some("bookworm")
        );
        assert_eq!(
            codename("VERSION_CODENAME=\"trixie\"").as_deref(),
            Some("trixie")
        );
        assert_eq!(codename("VERSION_CODENAME=\n"), None);
        assert_eq!(codename("ID=debian\n"), None);
    }
}
