// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask package`: the Debian packages `mydev-dkms` (the module's source for DKMS, the
//! udev rule, the commented `modules-load.d` entry and the helper that prepares Debian's kernels
//! for Rust modules) and `mydev-tools` (`user_test`, `mydevctl`, `mydev.h`, the man pages, the
//! unit that applies `/etc/mydev/buffers.conf` and its example), built with `dpkg-deb` and
//! checked with `lintian`; and the test that installs them in a fresh Debian chroot as a user
//! would.

mod build;
mod chroot_test;
mod system;

pub use build::build;
use build::build_into;
#[cfg(test)]
use build::{debian_version, source_date_epoch, tracked_files};

use crate::kernels::stock;
use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::tools::Tools;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The two packages, built.
#[derive(Debug, Clone)]
pub struct Packages {
    pub dkms: PathBuf,
    pub tools: PathBuf,
}

/// Lintian tags that remain, each with the reason it is accepted.
pub const ACCEPTED_TAGS: &[(&str, &str)] = &[
    (
        "shared-library-lacks-prerequisites",
        "user_test is a static-pie musl binary (so that the same file runs in the harness's \
         busybox guests and on any amd64 system): an ET_DYN file without NEEDED entries, which \
         lintian takes for a shared library",
    ),
    (
        "maintainer-script-should-not-use-dpkg-maintscript-helper",
        "the packages are built by package.rs with dpkg-deb, not debhelper, so the \
         dpkg-maintscript-helper rm_conffile call that dh_installdeb would write from a \
         .maintscript file (for the kernel hook that left /etc/kernel/postrm.d) is written by hand",
    ),
    (
        "initial-upload-closes-no-bugs",
        "a package built outside the Debian archive has no ITP bug to close",
    ),
    (
        "package-supports-alternative-init-but-no-init.d-script",
        "mydev-buffers.service is no daemon: the udev rule 61-mydev-buffers.rules starts it each \
         time the module is loaded; without systemd, `mydevctl apply` is run by hand or from a \
         boot script (mydevctl(1))",
    ),
];

/// The files of `mydev-tools` copied as they are: (installed path, source in the repository,
/// mode).
const TOOLS_FILES: &[(&str, &str, u32)] = &[
    (
        "usr/lib/systemd/system/mydev-buffers.service",
        "packaging/mydev-buffers.service",
        0o644,
    ),
    (
        "usr/lib/udev/rules.d/61-mydev-buffers.rules",
        "packaging/61-mydev-buffers.rules",
        0o644,
    ),
    ("etc/mydev/buffers.conf", "packaging/buffers.conf", 0o644),
];

/// Runs lintian on both packages: the tags it reports that are not in [`ACCEPTED_TAGS`].
pub fn lintian(paths: &Paths, p: &Packages) -> Result<Vec<String>> {
    let out = Command::new("lintian")
        .args(["--no-tag-display-limit", "--display-info"])
        .arg(&p.dkms)
        .arg(&p.tools)
        .output()
        .context("running lintian")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(paths.logs.join("lintian.log"), &text)?;
    Ok(unaccepted_tags(&text))
}

/// The lines of a lintian report whose tag is not accepted (`N:` notes and blank lines aside).
pub fn unaccepted_tags(report: &str) -> Vec<String> {
    report
        .lines()
        .filter(|l| l.len() > 2 && !l.starts_with("N:"))
        .filter(|l| {
            // `W: package: tag extra...`
            let tag = l
                .splitn(3, ": ")
                .nth(2)
                .and_then(|r| r.split_whitespace().next());
            tag.is_none_or(|t| !ACCEPTED_TAGS.iter().any(|(a, _)| *a == t))
        })
        .map(str::to_string)
        .collect()
}

/// Counts `r` as the test `name`.
fn record<T>(tally: &mut Tally, name: &str, r: &Result<T>) {
    match r {
        Ok(_) => {
            eprintln!("    [package] ok: {name}");
            tally.pass("package", name);
        }
        Err(e) => {
            eprintln!("    [package] FAILED: {name}: {e:#}");
            tally.failure("package", &format!("{name}: {e:#}"));
        }
    }
}

/// The parts of the installation test (`cargo xtask package --test --only PART`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// The packages in a Debian system booted with systemd, on Debian's 7.3 and 7.2.
    Systems,
    /// The packages' life in a trixie chroot: upgrades, other kernels, a full disk, removal.
    Life,
}

impl Part {
    pub const ALL: &[Part] = &[Part::Systems, Part::Life];
}

/// Builds the packages and runs lintian (two tests), then the installation test's `parts`.
pub fn run(paths: &Paths, tools: &Tools, parts: &[Part], tally: &mut Tally) -> Result<()> {
    let built = build(paths, tools);
    record(tally, "packages_build_with_dpkg_deb", &built);
    let Ok(p) = built else { return Ok(()) };
    let lint = lintian(paths, &p).and_then(|tags| {
        if tags.is_empty() {
            Ok(())
        } else {
            bail!("lintian reports:\n{}", tags.join("\n"))
        }
    });
    record(
        tally,
        "packages_are_lintian_clean_but_for_accepted_tags",
        &lint,
    );
    let again = build_into(paths, tools, &paths.work.join("packages-again"))
        .and_then(|q| same_bytes(&p, &q));
    record(tally, "packages_are_reproducible", &again);
    std::fs::remove_dir_all(paths.work.join("packages-again")).ok();
    if parts.contains(&Part::Systems) {
        for d in [stock::DEBIAN_73, stock::DEBIAN_72] {
            let kernel = stock::ensure(paths, d)?;
            system::test(paths, &p, d, &kernel.version, tally);
        }
    }
    if parts.contains(&Part::Life) {
        let kernel = stock::ensure(paths, stock::DEBIAN_73)?;
        chroot_test::chroot_test(paths, &p, &kernel, stock::DEBIAN_73, tally)?;
    }
    Ok(())
}

/// A package's file name, as it is copied into a root's `/tmp`.
fn file_name(p: &Path) -> Result<String> {
    p.file_name()
        .and_then(|n| n.to_str())
        .map(str::to_string)
        .context("a package's file name")
}

/// `apt-get` as the package test runs it (the registry's Release files are past Valid-Until).
fn apt(args: &str) -> String {
    format!("apt-get -q -y -o Acquire::Check-Valid-Until=false {args}")
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Two builds of the packages made the same files, byte for byte.
fn same_bytes(a: &Packages, b: &Packages) -> Result<()> {
    for (x, y) in [(&a.dkms, &b.dkms), (&a.tools, &b.tools)] {
        if std::fs::read(x)? != std::fs::read(y)? {
            bail!(
                "{} and {} differ (diffoscope tells how)",
                x.display(),
                y.display()
            );
        }
    }
    Ok(())
}

/// The module DKMS installed under `dir`: `mmap.ko`, possibly compressed as the kernel's own
/// modules are (`.xz`, `.zst`, `.gz`).
fn find_module(dir: &Path) -> Result<PathBuf> {
    ["mmap.ko", "mmap.ko.xz", "mmap.ko.zst", "mmap.ko.gz"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .with_context(|| format!("no mmap.ko in {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accepted_lintian_tags_pass() {
        let report = "W: mydev-tools: shared-library-lacks-prerequisites [usr/bin/user_test]\n\
                      N: a note\n\
                      E: mydev-dkms: dir-or-file-in-var-lib x\n\
                      I: mydev-dkms: initial-upload-closes-no-bugs\n";
        assert_eq!(
            unaccepted_tags(report),
            vec!["E: mydev-dkms: dir-or-file-in-var-lib x".to_string()]
        );
        assert!(unaccepted_tags("").is_empty());
    }

    fn packaging_file(name: &str) -> String {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        std::fs::read_to_string(repo.join("packaging").join(name)).unwrap()
    }

    /// The unit, its udev trigger and the files they name are where the package puts them.
    #[test]
    fn boot_time_files_name_each_other() {
        let installs = |rel: &str| TOOLS_FILES.iter().any(|(r, _, _)| *r == rel);
        let unit = packaging_file("mydev-buffers.service");
        assert!(unit.contains("\nExecStart=/usr/bin/mydevctl apply /etc/mydev/buffers.conf\n"));
        assert!(unit.contains("\nConditionPathExists=/etc/mydev/buffers.conf\n"));
        assert!(unit.contains("\nType=oneshot\n") && !unit.contains("RemainAfterExit"));
        assert!(installs("etc/mydev/buffers.conf"));
        assert!(installs("usr/lib/systemd/system/mydev-buffers.service"));
        assert!(installs("usr/lib/udev/rules.d/61-mydev-buffers.rules"));
        let rule = packaging_file("61-mydev-buffers.rules");
        let rule: Vec<&str> = rule.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            rule,
            [
                "ACTION==\"add\", SUBSYSTEM==\"misc\", KERNEL==\"mydev\", TAG+=\"systemd\", \
                 ENV{SYSTEMD_WANTS}+=\"mydev-buffers.service\""
            ]
        );
        // Shipped commented out: nothing is loaded at boot until the administrator says so.
        let load = packaging_file("modules-load.conf");
        assert!(
            load.lines()
                .all(|l| l.trim().is_empty() || l.starts_with('#'))
        );
        assert!(load.lines().any(|l| l == "#mmap"));
    }

    #[test]
    fn udev_rule_covers_dev_mydev_and_every_buffer_node() {
        let rules = packaging_file("60-mydev.rules");
        for kernel in ["KERNEL==\"mydev\"", "KERNEL==\"mydev-*\""] {
            let line = rules
                .lines()
                .find(|l| !l.starts_with('#') && l.contains(kernel))
                .unwrap_or_else(|| panic!("no rule with {kernel}"));
            for want in ["SUBSYSTEM==\"misc\"", "GROUP=\"mydev\"", "MODE=\"0660\""] {
                assert!(line.contains(want), "{line}: {want}");
            }
        }
    }

    /// An in-tree build's outputs in module/ are not shipped: only what git tracks.
    #[test]
    fn only_tracked_module_files_are_shipped() {
        let dir = std::env::temp_dir().join(format!("mydev-tracked-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        std::fs::create_dir_all(dir.join("module")).unwrap();
        std::fs::write(dir.join("module/dkms.conf"), "x").unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args(["-c", "user.name=t", "-c", "user.email=t@t"])
                .args(args)
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        git(&["add", "module/dkms.conf"]);
        std::fs::write(dir.join("module/mmap.ko"), "built").unwrap();
        std::fs::write(dir.join("module/.mmap.o.cmd"), "built").unwrap();
        assert_eq!(tracked_files(&dir, "module").unwrap(), ["dkms.conf"]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_version_comes_from_the_changelog() {
        let log = "mydev (0.1.0-2) unstable; urgency=medium\n\n  * x\n\n \
                   -- A <a@b.invalid>  Sun, 06 Dec 2026 00:00:00 +0000\n";
        assert_eq!(debian_version(log).as_deref(), Some("0.1.0-2"));
        assert_eq!(source_date_epoch(log).unwrap(), "1796515200");
        assert_eq!(debian_version("mydev unstable"), None);
    }

    /// The README's install line is the one the system image runs, with the files that
    /// `cargo xtask package` makes.
    #[test]
    fn readme_install_line_names_the_built_packages() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let log = std::fs::read_to_string(repo.join("packaging/debian/changelog")).unwrap();
        let v = debian_version(&log).unwrap();
        let readme = std::fs::read_to_string(repo.join("README.md")).unwrap();
        let line = format!(
            "$ sudo apt install linux-headers-$(uname -r) ./mydev-dkms_{v}_all.deb \
             ./mydev-tools_{v}_amd64.deb"
        );
        assert_eq!(readme.matches(&line).count(), 2, "{line}");
        let p = Packages {
            dkms: format!("/x/mydev-dkms_{v}_all.deb").into(),
            tools: format!("/x/mydev-tools_{v}_amd64.deb").into(),
        };
        let run = system::readme_install_line("7.3.4+deb13-amd64", &p).unwrap();
        assert!(
            run.ends_with(&format!(
                "install linux-headers-7.3.4+deb13-amd64 /tmp/mydev-dkms_{v}_all.deb \
                 /tmp/mydev-tools_{v}_amd64.deb"
            )),
            "{run}"
        );
    }

    #[test]
    fn maintainer_scripts_name_the_dkms_version() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for s in ["postinst", "prerm"] {
            let t = std::fs::read_to_string(repo.join(format!("packaging/debian/mydev-dkms.{s}")))
                .unwrap();
            assert!(t.contains("@UPSTREAM@"), "{s} uses the substituted version");
        }
    }
}

#[cfg(test)]
mod helper_tests;
