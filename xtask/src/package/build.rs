// SPDX-License-Identifier: GPL-2.0

//! Building the two packages with `dpkg-deb`: their files staged from the repository (the
//! module's tracked sources, the helper, the rules and hooks; the tools, header, man pages and
//! boot-time unit), the versions from `dkms.conf` and the changelog, every mtime clamped to the
//! changelog's date so that two builds give the same bytes.

use super::{Packages, TOOLS_FILES};
use crate::paths::Paths;
use crate::tools::Tools;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `text` to `root/rel` with `mode`, creating the directories.
pub(super) fn put(root: &Path, rel: &str, text: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().context("no parent")?)?;
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// `gzip -9n` of `data` (Debian wants changelogs and man pages compressed, reproducibly).
fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    child.stdin.take().context("stdin")?.write_all(data)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed");
    }
    Ok(out.stdout)
}

/// The shared documentation files of a package.
fn docs(paths: &Paths, root: &Path, name: &str, version: &str) -> Result<()> {
    let deb = paths.repo.join("packaging/debian");
    put(
        root,
        &format!("usr/share/doc/{name}/copyright"),
        read(&deb.join("copyright"))?.as_bytes(),
        0o644,
    )?;
    let changelog = read(&deb.join("changelog"))?.replace("@VERSION@", version);
    put(
        root,
        &format!("usr/share/doc/{name}/changelog.Debian.gz"),
        &gzip(changelog.as_bytes())?,
        0o644,
    )
}

/// `DEBIAN/control` (with the size) and `DEBIAN/md5sums`, every mtime set to `epoch`, then
/// `dpkg-deb --build` (with SOURCE_DATE_EPOCH for its own timestamps).
fn build_deb(root: &Path, control: &str, out: &Path, epoch: &str, log: &Path) -> Result<()> {
    let du = Command::new("du")
        .args(["-sk", "--exclude=DEBIAN"])
        .arg(root)
        .output()?;
    let size = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .unwrap_or("0")
        .to_string();
    put(
        root,
        "DEBIAN/control",
        control.replace("@SIZE@", &size).as_bytes(),
        0o644,
    )?;
    let sums = Command::new("sh")
        .args([
            "-c",
            "find . -type f ! -path './DEBIAN/*' -printf '%P\\0' | LC_ALL=C sort -z | xargs -0r md5sum",
        ])
        .current_dir(root)
        .output()?;
    if !sums.status.success() {
        bail!("md5sum failed");
    }
    put(root, "DEBIAN/md5sums", &sums.stdout, 0o644)?;
    run_logged(
        "touch (clamp mtimes)",
        Command::new("find").arg(root).args([
            "-exec",
            "touch",
            "-h",
            "-d",
            &format!("@{epoch}"),
            "{}",
            "+",
        ]),
        log,
        Duration::from_secs(30),
    )?;
    run_logged(
        "dpkg-deb --build",
        Command::new("dpkg-deb")
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(root)
            .arg(out),
        log,
        Duration::from_secs(30),
    )
}

/// Builds both packages into `target/mydev/packages`.
pub fn build(paths: &Paths, tools: &Tools) -> Result<Packages> {
    build_into(paths, tools, &paths.work.join("packages"))
}

/// The Debian version on the first line of a changelog: `mydev (0.1.0-2) unstable; …`.
pub(super) fn debian_version(changelog: &str) -> Option<String> {
    let first = changelog.lines().next()?;
    let v = first.split_once('(')?.1.split_once(')')?.0;
    (!v.is_empty()).then(|| v.to_string())
}

/// The date of the changelog's latest entry, in seconds since the epoch: every file's mtime in
/// the packages is clamped to it (SOURCE_DATE_EPOCH), so that the same sources build the same
/// `.deb` files.
pub(super) fn source_date_epoch(changelog: &str) -> Result<String> {
    let date = changelog
        .lines()
        .find_map(|l| l.strip_prefix(" -- ")?.split_once(">  ").map(|(_, d)| d))
        .context("no trailer line in packaging/debian/changelog")?;
    let out = Command::new("date")
        .args(["-d", date, "+%s"])
        .output()
        .context("running date")?;
    if !out.status.success() {
        bail!("date cannot read the changelog's date {date:?}");
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The files of the repository directory `dir` that git tracks (not the outputs of an in-tree
/// build), by name: the directory is flat.
pub(super) fn tracked_files(repo: &Path, dir: &str) -> Result<Vec<String>> {
    let out = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["ls-files", "-z", "--", dir])
        .output()
        .context("running git ls-files")?;
    if !out.status.success() {
        bail!(
            "git ls-files {dir} failed (the packages are built from a git checkout): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let prefix = format!("{dir}/");
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter_map(|p| p.strip_prefix(&prefix))
        .filter(|n| !n.is_empty() && !n.contains('/'))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        bail!("git tracks no file in {dir}");
    }
    Ok(names)
}

/// What both packages' files are made from: the repository's `packaging/debian`, the versions,
/// the changelog's date (every mtime) and the log.
struct Stage<'a> {
    paths: &'a Paths,
    deb: PathBuf,
    upstream: String,
    version: String,
    epoch: String,
    log: PathBuf,
    dir: PathBuf,
}

impl Stage<'_> {
    /// `@VERSION@` and `@UPSTREAM@` replaced in a packaging file's text.
    fn subst(&self, t: String) -> String {
        t.replace("@VERSION@", &self.version)
            .replace("@UPSTREAM@", &self.upstream)
    }

    /// A file of `packaging/debian`, versions substituted.
    fn debian(&self, name: &str) -> Result<String> {
        Ok(self.subst(read(&self.deb.join(name))?))
    }

    /// A file of the repository, as bytes.
    fn repo(&self, rel: &str) -> Result<Vec<u8>> {
        let p = self.paths.repo.join(rel);
        std::fs::read(&p).with_context(|| format!("reading {}", p.display()))
    }

    /// mydev-dkms: the module's sources as DKMS expects them, the helper, the rules, the hooks.
    fn dkms(&self, tools: &Tools, out: &Path) -> Result<PathBuf> {
        let root = self.dir.join("mydev-dkms");
        let upstream = &self.upstream;
        for name in tracked_files(&self.paths.repo, "module")? {
            let mode = if name.ends_with(".sh") { 0o755 } else { 0o644 };
            let text = self.repo(&format!("module/{name}"))?;
            put(
                &root,
                &format!("usr/src/mydev-{upstream}/{name}"),
                &text,
                mode,
            )?;
        }
        let files: [(&str, Vec<u8>, u32); 5] = [
            (
                "usr/libexec/mydev-dkms/mydev-prepare-kernel",
                self.repo("packaging/mydev-prepare-kernel")?,
                0o755,
            ),
            (
                "usr/lib/udev/rules.d/60-mydev.rules",
                std::fs::read(&tools.udev_rule)?,
                0o644,
            ),
            (
                "usr/share/kernel/postrm.d/mydev-dkms",
                self.repo("packaging/debian/kernel-postrm")?,
                0o755,
            ),
            (
                "usr/lib/sysusers.d/mydev-dkms.conf",
                self.repo("packaging/debian/mydev-dkms.sysusers")?,
                0o644,
            ),
            // Commented out: loading the module at every boot is the administrator's choice.
            (
                "etc/modules-load.d/mydev.conf",
                self.repo("packaging/modules-load.conf")?,
                0o644,
            ),
        ];
        for (rel, text, mode) in files {
            put(&root, rel, &text, mode)?;
        }
        docs(self.paths, &root, "mydev-dkms", &self.version)?;
        for script in ["preinst", "postinst", "prerm", "postrm"] {
            let text = self.debian(&format!("mydev-dkms.{script}"))?;
            put(&root, &format!("DEBIAN/{script}"), text.as_bytes(), 0o755)?;
        }
        put(
            &root,
            "DEBIAN/conffiles",
            b"/etc/modules-load.d/mydev.conf\n",
            0o644,
        )?;
        let deb = out.join(format!("mydev-dkms_{}_all.deb", self.version));
        let control = self.debian("mydev-dkms.control")?;
        build_deb(&root, &control, &deb, &self.epoch, &self.log)?;
        Ok(deb)
    }

    /// mydev-tools: the tools, the header, the man pages, the boot-time unit and its files.
    fn tools(&self, tools: &Tools, out: &Path) -> Result<PathBuf> {
        let root = self.dir.join("mydev-tools");
        for (name, bin) in [
            ("user_test", &tools.user_test),
            ("mydevctl", &tools.mydevctl),
        ] {
            put(
                &root,
                &format!("usr/bin/{name}"),
                &std::fs::read(bin)?,
                0o755,
            )?;
            // Without the compiler's `.comment` section (lintian: binary-has-unneeded-section).
            run_logged(
                "objcopy --remove-section=.comment",
                Command::new("objcopy")
                    .arg("--remove-section=.comment")
                    .arg(root.join("usr/bin").join(name)),
                &self.log,
                Duration::from_secs(30),
            )?;
        }
        put(
            &root,
            "usr/include/mydev.h",
            &self.repo("module/mydev.h")?,
            0o644,
        )?;
        for page in ["user_test", "mydevctl"] {
            let text = gzip(&self.repo(&format!("packaging/{page}.1"))?)?;
            put(
                &root,
                &format!("usr/share/man/man1/{page}.1.gz"),
                &text,
                0o644,
            )?;
        }
        for (rel, src, mode) in TOOLS_FILES {
            put(&root, rel, &self.repo(src)?, *mode)?;
        }
        put(
            &root,
            "DEBIAN/conffiles",
            b"/etc/mydev/buffers.conf\n",
            0o644,
        )?;
        let postinst = self.debian("mydev-tools.postinst")?;
        put(&root, "DEBIAN/postinst", postinst.as_bytes(), 0o755)?;
        docs(self.paths, &root, "mydev-tools", &self.version)?;
        let deb = out.join(format!("mydev-tools_{}_amd64.deb", self.version));
        let control = self.debian("mydev-tools.control")?;
        build_deb(&root, &control, &deb, &self.epoch, &self.log)?;
        Ok(deb)
    }
}

/// Builds both packages into `out`.
pub(super) fn build_into(paths: &Paths, tools: &Tools, out: &Path) -> Result<Packages> {
    let phase = Phase::start("package", "mydev-dkms and mydev-tools with dpkg-deb");
    let upstream = crate::install::dkms_version(&read(&paths.repo.join("module/dkms.conf"))?)
        .context("no PACKAGE_VERSION in module/dkms.conf")?;
    let deb = paths.repo.join("packaging/debian");
    let changelog = read(&deb.join("changelog"))?;
    let version = debian_version(&changelog)
        .context("no version on the first line of packaging/debian/changelog")?;
    if !version.starts_with(&format!("{upstream}-")) {
        bail!("packaging/debian/changelog's {version} is not of dkms.conf's {upstream}");
    }
    let dir = out.join("stage");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let log = paths.logs.join("package.log");
    std::fs::write(&log, "")?;
    let stage = Stage {
        paths,
        epoch: source_date_epoch(&changelog)?,
        deb,
        upstream,
        version,
        log,
        dir,
    };
    let dkms = stage.dkms(tools, out)?;
    let tools_deb = stage.tools(tools, out)?;
    phase.done(&format!("{} and {}", dkms.display(), tools_deb.display()));
    Ok(Packages {
        dkms,
        tools: tools_deb,
    })
}
