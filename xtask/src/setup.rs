// SPDX-License-Identifier: GPL-2.0

//! Set-up: the Debian packages, the Rust pieces the kernel needs, and the kernel source.
//!
//! Everything is installed through the ordinary clients (`apt-get`, `rustup`, `cargo install`).
//! The kernel source comes from Debian's `linux-source-7.3` in trixie-backports, downloaded with
//! a private apt configuration under the cache: the system's own sources stay untouched.

use crate::paths::Paths;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Debian packages the harness needs on the host.
pub const PACKAGES: &[&str] = &[
    "bc",
    "bison",
    "busybox-static",
    "clang-19",
    "cpio",
    "dkms",
    "flex",
    "gcc",
    "kmod",
    "libc6-dev",
    "libclang-19-dev",
    "libelf-dev",
    "libssl-dev",
    "lintian",
    "lld-19",
    "llvm-19",
    "make",
    "mmdebstrap",
    "qemu-system-x86",
    "xz-utils",
];

/// Where libclang 19 lives (bindgen needs libclang >= 17; bookworm's default is 14).
pub const LIBCLANG_PATH: &str = "/usr/lib/llvm-19/lib";

/// The Debian package and suite of the kernel source.
pub const SOURCE_PACKAGE: &str = "linux-source-7.3";
pub const SOURCE_SUITE: &str = "trixie-backports";

/// The oldest bindgen that Linux 7.3 accepts.
const MIN_BINDGEN: (u32, u32, u32) = (0, 71, 1);

/// The unpacked kernel source tree.
#[derive(Debug, Clone)]
pub struct KernelSource {
    pub dir: PathBuf,
    /// The Debian package version, e.g. `7.3.4-1~bpo13+1`.
    pub deb_version: String,
    /// The kernel version from its Makefile, e.g. `7.3.4`.
    pub version: String,
    /// Written when unpacking finished; nothing in the tree may be newer after a build.
    pub stamp: PathBuf,
}

/// Runs every set-up step; cheap when everything is already there.
pub fn setup(paths: &Paths) -> Result<KernelSource> {
    let phase = Phase::start(
        "setup",
        "checking host packages, Rust components and the kernel source",
    );
    ensure_packages(&phase)?;
    ensure_rust(paths, &phase)?;
    let source = ensure_source(paths, &phase)?;
    phase.done(&format!(
        "ready: Linux {} source ({} {})",
        source.version, SOURCE_PACKAGE, source.deb_version
    ));
    Ok(source)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// The packages of `wanted` that dpkg does not list as installed.
fn missing_packages(wanted: &[&str]) -> Result<Vec<String>> {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package} ${db:Status-Abbrev}\\n"])
        .args(wanted)
        .output()
        .context("running dpkg-query (this harness needs a Debian-based host)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(wanted
        .iter()
        .filter(|p| {
            !text
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [**p, "ii"])
        })
        .map(|p| p.to_string())
        .collect())
}

/// The `apt-get install` line for `packages`.
pub fn install_line(packages: &[String]) -> String {
    format!(
        "apt-get install -y --no-install-recommends {}",
        packages.join(" ")
    )
}

fn ensure_packages(phase: &Phase) -> Result<()> {
    let missing = missing_packages(PACKAGES)?;
    if missing.is_empty() {
        phase.note("host packages: all installed");
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages: {}\nrun as root, then try again:\n    sudo apt-get update && sudo {}",
            missing.join(" "),
            install_line(&missing)
        );
    }
    phase.note(&format!("installing {}", missing.join(" ")));
    let log = std::env::temp_dir().join("mydev-apt.log");
    run_logged(
        "apt-get update",
        Command::new("apt-get").args(["update", "-q"]),
        &log,
        Duration::from_secs(30),
    )?;
    run_logged(
        "apt-get install",
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing),
        &log,
        Duration::from_secs(30),
    )?;
    Ok(())
}

/// The sysroot of the `rustc` on `PATH`, the one that builds the kernel and the module.
fn rust_sysroot() -> Result<PathBuf> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("running rustc")?;
    if !out.status.success() {
        bail!("rustc --print sysroot failed");
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

fn ensure_rust(paths: &Paths, phase: &Phase) -> Result<()> {
    let sysroot = rust_sysroot()?;
    let log = paths.logs.join("setup-rust.log");
    if !sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .is_file()
    {
        phase.note("installing the rust-src component (the kernel builds `core` from it)");
        run_logged(
            "rustup component add rust-src",
            Command::new("rustup").args(["component", "add", "rust-src"]),
            &log,
            Duration::from_secs(30),
        )?;
    }
    if !sysroot
        .join("lib/rustlib/x86_64-unknown-linux-musl/lib")
        .is_dir()
    {
        phase.note("installing the x86_64-unknown-linux-musl target (static guest binaries)");
        run_logged(
            "rustup target add",
            Command::new("rustup").args(["target", "add", "x86_64-unknown-linux-musl"]),
            &log,
            Duration::from_secs(30),
        )?;
    }
    match bindgen_version() {
        Some(v) if v >= MIN_BINDGEN => phase.note(&format!("bindgen {}.{}.{}", v.0, v.1, v.2)),
        found => {
            phase.note(&format!(
                "installing bindgen-cli with cargo install (found: {}; takes about 2 minutes)",
                found
                    .map(|v| format!("{}.{}.{}", v.0, v.1, v.2))
                    .unwrap_or_else(|| "none".into())
            ));
            run_logged(
                "cargo install bindgen-cli",
                cargo().args(["install", "--locked", "bindgen-cli"]),
                &log,
                Duration::from_secs(30),
            )?;
            if bindgen_version().is_none_or(|v| v < MIN_BINDGEN) {
                bail!(
                    "bindgen is still missing after `cargo install bindgen-cli`: is {} on PATH?",
                    cargo_bin().display()
                );
            }
        }
    }
    Ok(())
}

/// The cargo that runs the harness (`$CARGO`), for the builds and tests it starts.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `$CARGO_HOME/bin`, where `cargo install` puts bindgen.
pub fn cargo_bin() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| PathBuf::from("/root/.cargo"))
        .join("bin")
}

/// `PATH` with `$CARGO_HOME/bin` in front.
pub fn tool_path() -> std::ffi::OsString {
    let mut parts = vec![cargo_bin()];
    if let Some(p) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(parts).unwrap_or_default()
}

fn bindgen_version() -> Option<(u32, u32, u32)> {
    let out = Command::new("bindgen")
        .env("PATH", tool_path())
        .arg("--version")
        .output()
        .ok()?;
    parse_version(
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)?,
    )
}

/// Parses `major.minor.patch`.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.trim().split('.').map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

/// The Debian mirror that the system's own sources use, for the private apt configuration.
pub(crate) fn debian_mirror() -> String {
    let mut texts = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        for e in rd.flatten() {
            texts.push(std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    texts.push(std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default());
    mirror_from_sources(&texts.join("\n"))
        .unwrap_or_else(|| "http://deb.debian.org/debian".to_string())
}

/// Finds the main Debian archive URI in apt sources (deb822 `URIs:` or one-line `deb` format).
pub fn mirror_from_sources(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|l| l.split_whitespace())
        .map(|w| w.trim_end_matches('/'))
        .find(|w| (w.starts_with("http://") || w.starts_with("https://")) && w.ends_with("/debian"))
        .map(str::to_string)
}

fn ensure_source(paths: &Paths, phase: &Phase) -> Result<KernelSource> {
    let src_root = paths.cache.join("src");
    std::fs::create_dir_all(&src_root)?;
    let deb_dir = src_root.join("deb");
    let deb = match find_deb(&deb_dir)? {
        Some(deb) => deb,
        None => {
            phase.note(&format!(
                "downloading {SOURCE_PACKAGE} from {SOURCE_SUITE} with a private apt configuration"
            ));
            download_source(paths, &deb_dir)?;
            find_deb(&deb_dir)?.context("apt-get download produced no .deb")?
        }
    };
    let deb_version =
        deb_version(&deb).context("cannot read the package version from the file name")?;
    let dir = src_root.join(format!("linux-{}", deb_version.replace(['~', '+'], "_")));
    let stamp = dir.join(".mydev-unpacked");
    if !stamp.is_file() {
        phase.note(&format!(
            "unpacking {} into {}",
            deb.display(),
            dir.display()
        ));
        unpack(&deb, &dir, paths)?;
        std::fs::write(&stamp, &deb_version)?;
    }
    let version = kernel_version(&dir.join("Makefile"))?;
    Ok(KernelSource {
        dir,
        deb_version,
        version,
        stamp,
    })
}

fn find_deb(dir: &Path) -> Result<Option<PathBuf>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SOURCE_PACKAGE) && n.ends_with(".deb"))
        })
        .collect();
    debs.sort();
    Ok(debs.pop())
}

/// `linux-source-7.3_7.3.4-1~bpo13+1_all.deb` → `7.3.4-1~bpo13+1` (apt escapes `:` as `%3a`).
pub fn deb_version(deb: &Path) -> Option<String> {
    let name = deb.file_name()?.to_str()?;
    let mut parts = name.strip_suffix(".deb")?.split('_');
    parts.next()?;
    Some(parts.next()?.replace("%3a", ":"))
}

/// A private apt configuration under `dir`: its own sources list, package lists and cache. The
/// system's sources, lists and package status are neither read nor written.
pub(crate) struct PrivateApt {
    dir: PathBuf,
}

impl PrivateApt {
    /// Sets up `dir` with `sources` (one-line format) as its only sources list.
    pub(crate) fn new(dir: PathBuf, sources: &str) -> Result<Self> {
        std::fs::create_dir_all(dir.join("lists/partial"))?;
        std::fs::create_dir_all(dir.join("cache/archives/partial"))?;
        std::fs::write(dir.join("sources.list"), sources)?;
        Ok(Self { dir })
    }

    /// `apt-get` with this configuration; add the subcommand.
    pub(crate) fn apt_get(&self) -> Command {
        let mut cmd = Command::new("apt-get");
        let opt = |cmd: &mut Command, name: &str, value: &Path| {
            cmd.arg("-o").arg(format!("{name}={}", value.display()));
        };
        opt(
            &mut cmd,
            "Dir::Etc::SourceList",
            &self.dir.join("sources.list"),
        );
        opt(&mut cmd, "Dir::State::Lists", &self.dir.join("lists"));
        opt(&mut cmd, "Dir::Cache", &self.dir.join("cache"));
        cmd.args([
            "-o",
            "Dir::Etc::SourceParts=/dev/null",
            "-o",
            "Dir::State::Status=/dev/null",
            "-o",
            "APT::Sandbox::User=root",
            // The registry's copies of some suites carry a `Valid-Until` that has passed (forky
            // and sid's did by 2026-11-06; trixie-backports' runs out on 2026-12-05), which
            // `apt-get update` would refuse. The signatures are still checked.
            "-o",
            "Acquire::Check-Valid-Until=false",
            "-q",
        ]);
        cmd
    }
}

fn download_source(paths: &Paths, deb_dir: &Path) -> Result<()> {
    std::fs::create_dir_all(deb_dir)?;
    let apt = PrivateApt::new(
        paths.cache.join("apt"),
        &format!(
            "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] {} {SOURCE_SUITE} main\n",
            debian_mirror()
        ),
    )?;
    let log = paths.logs.join("setup-source.log");
    let mut update = apt.apt_get();
    update.arg("update");
    run_logged(
        "apt-get update (private trixie-backports list)",
        &mut update,
        &log,
        Duration::from_secs(30),
    )?;
    let mut download = apt.apt_get();
    download
        .args(["download", SOURCE_PACKAGE])
        .current_dir(deb_dir);
    run_logged(
        &format!("apt-get download {SOURCE_PACKAGE}"),
        &mut download,
        &log,
        Duration::from_secs(30),
    )
}

fn unpack(deb: &Path, dir: &Path, paths: &Paths) -> Result<()> {
    let work = dir.with_extension("unpacking");
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(&work)?;
    let log = paths.logs.join("setup-source.log");
    run_logged(
        "dpkg-deb -x",
        Command::new("dpkg-deb").arg("-x").arg(deb).arg(&work),
        &log,
        Duration::from_secs(30),
    )?;
    let tarball = std::fs::read_dir(work.join("usr/src"))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.xz"))
        .context("no .tar.xz in the linux-source package")?;
    run_logged(
        "tar xf (kernel source)",
        Command::new("tar")
            .arg("xf")
            .arg(&tarball)
            .current_dir(&work),
        &log,
        Duration::from_secs(15),
    )?;
    let top = std::fs::read_dir(&work)?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("Makefile").is_file())
        .context("no kernel tree in the unpacked tarball")?;
    std::fs::rename(&top, dir)?;
    std::fs::remove_dir_all(&work)?;
    Ok(())
}

/// `VERSION.PATCHLEVEL.SUBLEVEL` from a kernel Makefile.
pub fn kernel_version(makefile: &Path) -> Result<String> {
    let text = std::fs::read_to_string(makefile)
        .with_context(|| format!("reading {}", makefile.display()))?;
    let get = |key: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.trim_start().strip_prefix('='))
                    .map(|v| v.trim().to_string())
            })
            .with_context(|| format!("no {key} in {}", makefile.display()))
    };
    Ok(format!(
        "{}.{}.{}",
        get("VERSION")?,
        get("PATCHLEVEL")?,
        get("SUBLEVEL")?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_apt_reads_only_its_own_lists_and_accepts_an_expired_valid_until() {
        let dir = std::env::temp_dir().join(format!("mydev-apt-test-{}", std::process::id()));
        let apt = PrivateApt::new(dir.clone(), "deb x y main\n").unwrap();
        let cmd = apt.apt_get();
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        for want in [
            "Dir::Etc::SourceParts=/dev/null",
            "Dir::State::Status=/dev/null",
            "Acquire::Check-Valid-Until=false",
        ] {
            assert!(
                args.iter().any(|a| a == want),
                "{want} missing from {args:?}"
            );
        }
        let list = format!(
            "Dir::Etc::SourceList={}",
            dir.join("sources.list").display()
        );
        assert!(args.contains(&list), "{args:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn deb_versions_from_file_names() {
        assert_eq!(
            deb_version(Path::new("/c/linux-source-7.3_7.3.4-1~bpo13+1_all.deb")).as_deref(),
            Some("7.3.4-1~bpo13+1")
        );
        assert_eq!(
            deb_version(Path::new("x_1%3a2.0_all.deb")).as_deref(),
            Some("1:2.0")
        );
        assert_eq!(deb_version(Path::new("nonsense")), None);
    }

    #[test]
    fn mirror_from_deb822_and_one_line_sources() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/x\nURIs: http://deb.debian.org/debian\nSuites: bookworm\n";
        assert_eq!(
            mirror_from_sources(deb822).as_deref(),
            Some("http://deb.debian.org/debian")
        );
        let one = "deb http://ftp.de.debian.org/debian/ bookworm main\ndeb http://security.debian.org/debian-security bookworm-security main\n";
        assert_eq!(
            mirror_from_sources(one).as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        assert_eq!(
            mirror_from_sources("deb https://packages.cloud.google.com/apt x main"),
            None
        );
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("0.73.2"), Some((0, 73, 2)));
        assert_eq!(parse_version("1.2"), Some((1, 2, 0)));
        assert!(parse_version("0.71.0").unwrap() < MIN_BINDGEN);
        assert_eq!(parse_version("x"), None);
    }

    #[test]
    fn kernel_version_from_makefile() {
        let f = std::env::temp_dir().join(format!("mydev-mk-{}", std::process::id()));
        std::fs::write(
            &f,
            "# SPDX\nVERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\nEXTRAVERSION =\n",
        )
        .unwrap();
        let v = kernel_version(&f);
        std::fs::remove_file(&f).ok();
        assert_eq!(v.unwrap(), "7.3.4");
    }

    #[test]
    fn install_line_is_exact() {
        assert_eq!(
            install_line(&["a".into(), "b".into()]),
            "apt-get install -y --no-install-recommends a b"
        );
    }
}
