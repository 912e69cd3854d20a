// SPDX-License-Identifier: GPL-2.0

//! The system image: a Debian root made with `mmdebstrap` (systemd as init, udev, kmod, the
//! kernel's `linux-image-<release>` with the initramfs that `initramfs-tools` makes for it),
//! the packages installed with the README's `apt install` line (DKMS builds there), two users,
//! and the harness's job runner; turned into an ext4 disk image by `mkfs.ext4 -d` (no loop
//! mount) and cached under `$XDG_CACHE_HOME/mydev/systems`, keyed by what went in. The kernel
//! and the initramfs are copied out beside it for QEMU's `-kernel` and `-initrd`.

use crate::cache::cache_key;
use crate::kernels::chroot::Chroot;
use crate::kernels::stock::{self, Distro};
use crate::package::build::put;
use crate::package::{Packages, apt, file_name};
use crate::paths::Paths;
use crate::setup;
use crate::ui::{Phase, fmt_duration, run_logged};
use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Bump when the recipe below changes in a way its inputs do not show.
const RECIPE: &str = "mydev system image 2";

/// What the system has besides `mmdebstrap --variant=apt`'s essentials and the kernel (forky's
/// essentials no longer include `mount`, which systemd needs).
const SYSTEM_PACKAGES: &[&str] = &[
    "systemd-sysv",
    "udev",
    "kmod",
    "mount",
    "passwd",
    "initramfs-tools",
];

/// Runs the job of the current boot from the job disk (see the file).
const RUNNER: &str = include_str!("runner.sh");

/// The unit that starts [`RUNNER`] once the system is up.
const RUNNER_UNIT: &str = "[Unit]
Description=The mydev harness's job (the package test)
After=basic.target

[Service]
Type=simple
ExecStart=/usr/local/sbin/mydev-harness-job

[Install]
WantedBy=multi-user.target
";

/// The users of the test: `alice` in group `mydev` (the package made the group), `bob` not.
const USERS: &str = "useradd --create-home --shell /bin/bash --groups mydev alice
useradd --create-home --shell /bin/bash bob
echo '/dev/vda / ext4 defaults 0 0' >/etc/fstab
echo mydev-test >/etc/hostname
apt-get clean";

impl Image {
    /// The files of the image cached in `dir`, taken from the cache.
    fn in_dir(dir: &Path) -> Self {
        Image {
            disk: dir.join("disk.img"),
            vmlinuz: dir.join("vmlinuz"),
            initrd: dir.join("initrd.img"),
            summary: dir.join("install-summary.txt"),
            made_in: None,
        }
    }

    /// The installation that made the image said that `mmap.ko` is installed for `release`.
    pub fn installed_for(&self, release: &str) -> Result<String> {
        let said = std::fs::read_to_string(&self.summary)
            .with_context(|| format!("reading {}", self.summary.display()))?;
        let want = format!("mydev: mmap.ko is installed for {release}");
        if !said.lines().any(|l| l.starts_with(&want)) {
            bail!("the installation did not say {want:?}:\n{said}");
        }
        Ok(said)
    }
}

/// A built system image of one Debian release.
#[derive(Debug, Clone)]
pub struct Image {
    pub disk: PathBuf,
    pub vmlinuz: PathBuf,
    pub initrd: PathBuf,
    /// The closing lines of the installation (`mydev: …`), kept when the image was made.
    pub summary: PathBuf,
    /// How long making it took, or `None` when it came from the cache.
    pub made_in: Option<Duration>,
}

/// The `apt-get` line of the README's "Install on Debian", with the packages' files.
pub fn readme_install_line(release: &str, p: &Packages) -> Result<String> {
    Ok(apt(&format!(
        "install linux-headers-{release} /tmp/{} /tmp/{}",
        file_name(&p.dkms)?,
        file_name(&p.tools)?
    )))
}

fn sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// The packages `mmdebstrap` installs: the system's and the kernel's image from its suite.
fn include(d: Distro, release: &str) -> Vec<String> {
    let mut include: Vec<String> = SYSTEM_PACKAGES.iter().map(|p| p.to_string()).collect();
    let image = format!("linux-image-{release}");
    include.push(if d.kernel_suite == d.suite {
        image
    } else {
        format!("{image}/{}", d.kernel_suite)
    });
    include
}

/// Returns `d`'s system image with the packages `p` installed for kernel `release`, making it
/// unless the cache has one made from the same inputs.
pub fn ensure(paths: &Paths, d: Distro, release: &str, p: &Packages, log: &Path) -> Result<Image> {
    let include = include(d, release);
    let key = cache_key(&[
        ("recipe".into(), RECIPE.into()),
        ("suite".into(), d.suite.into()),
        ("kernel suite".into(), d.kernel_suite.into()),
        ("mirror".into(), setup::debian_mirror()),
        ("include".into(), include.join(",")),
        ("release".into(), release.into()),
        ("mydev-dkms".into(), sha256(&p.dkms)?),
        ("mydev-tools".into(), sha256(&p.tools)?),
        ("runner".into(), RUNNER.into()),
        ("unit".into(), RUNNER_UNIT.into()),
        ("users".into(), USERS.into()),
    ]);
    let systems = paths.cache.join("systems");
    std::fs::create_dir_all(&systems)?;
    let dir = systems.join(format!("{}-{key}", d.name));
    let lock = std::fs::File::create(systems.join(format!("{}.lock", d.name)))?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .context("locking the system image cache")?;
    let image = Image::in_dir(&dir);
    if dir.join(".mydev-complete").is_file() {
        return Ok(image);
    }
    // One image per release is kept: an older one is of packages that are gone.
    for e in std::fs::read_dir(&systems)?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{}-", d.name)) && e.path().is_dir() {
            std::fs::remove_dir_all(e.path())?;
        }
    }
    let start = Instant::now();
    let phase = Phase::start(
        "package",
        &format!(
            "a {} system image for {release}: mmdebstrap, apt install, DKMS, mkfs.ext4 -d \
             (log: {})",
            d.suite,
            log.display()
        ),
    );
    let work = paths.work.join(format!("system-{}", d.name));
    if work.exists() {
        std::fs::remove_dir_all(&work)?;
    }
    let root = work.join("root");
    std::fs::create_dir_all(&work)?;
    let made = make_root(d, release, p, &include, &root, log).and_then(|summary| {
        make_disk(&root, &dir, release, log)?;
        Ok(std::fs::write(&image.summary, summary)?)
    });
    std::fs::remove_dir_all(&work).ok();
    if let Err(e) = made {
        std::fs::remove_dir_all(&dir).ok();
        phase.done("failed");
        return Err(e);
    }
    std::fs::write(dir.join(".mydev-complete"), include.join("\n"))?;
    let took = start.elapsed();
    phase.done(&format!("made in {}", fmt_duration(took)));
    Ok(Image {
        made_in: Some(took),
        ..image
    })
}

/// The root directory: `mmdebstrap`, the README's `apt install` line, the users and the runner.
fn make_root(
    d: Distro,
    release: &str,
    p: &Packages,
    include: &[String],
    root: &Path,
    log: &Path,
) -> Result<String> {
    let extra = (d.kernel_suite != d.suite).then_some(d.kernel_suite);
    run_logged(
        "mmdebstrap (system image)",
        &mut stock::mmdebstrap(d.suite, extra, include, root),
        log,
        Duration::from_secs(30),
    )?;
    for deb in [&p.dkms, &p.tools] {
        std::fs::copy(deb, root.join("tmp").join(file_name(deb)?))?;
    }
    let chroot = Chroot {
        root: root.to_path_buf(),
    };
    let sh = |step: &str, script: &str| {
        run_logged(
            step,
            &mut chroot.command(&["sh", "-ec", script]),
            log,
            Duration::from_secs(30),
        )
    };
    let before = std::fs::metadata(log)?.len() as usize;
    sh(
        "apt install (system image)",
        &format!("{}\n{}", apt("update"), readme_install_line(release, p)?),
    )?;
    // What the installation said of each kernel (the postinst's closing lines).
    let said: String = std::fs::read_to_string(log)?
        .get(before..)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("mydev: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let dkms = root.join(format!("usr/lib/modules/{release}/updates/dkms"));
    if !["mmap.ko", "mmap.ko.xz", "mmap.ko.zst"]
        .iter()
        .any(|n| dkms.join(n).is_file())
    {
        bail!("DKMS installed no mmap.ko in {}", dkms.display());
    }
    sh("users (system image)", USERS)?;
    put(
        root,
        "usr/local/sbin/mydev-harness-job",
        RUNNER.as_bytes(),
        0o755,
    )?;
    put(
        root,
        "etc/systemd/system/mydev-harness.service",
        RUNNER_UNIT.as_bytes(),
        0o644,
    )?;
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    std::fs::create_dir_all(&wants)?;
    std::os::unix::fs::symlink(
        "/etc/systemd/system/mydev-harness.service",
        wants.join("mydev-harness.service"),
    )?;
    for f in std::fs::read_dir(root.join("tmp"))?.flatten() {
        if f.file_name().to_string_lossy().ends_with(".deb") {
            std::fs::remove_file(f.path())?;
        }
    }
    Ok(said)
}

/// The disk image of `root` in `dir` (`mkfs.ext4 -d`: a quarter more than the files need, and
/// 512 MiB free), with the kernel and its initramfs beside it.
fn make_disk(root: &Path, dir: &Path, release: &str, log: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    for (from, to) in [
        (format!("boot/vmlinuz-{release}"), "vmlinuz"),
        (format!("boot/initrd.img-{release}"), "initrd.img"),
    ] {
        std::fs::copy(root.join(&from), dir.join(to))
            .with_context(|| format!("copying {from} out of the system image"))?;
    }
    let du = std::process::Command::new("du")
        .args(["-s", "-B1M"])
        .arg(root)
        .output()?;
    let used: u64 = String::from_utf8_lossy(&du.stdout)
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .context("du of the system's root")?;
    let size_mb = used + used / 4 + 512;
    let tmp = dir.join("disk.img.tmp");
    run_logged(
        "mkfs.ext4 -d (system image)",
        std::process::Command::new("mkfs.ext4")
            .args(["-q", "-F", "-L", "mydev-root", "-d"])
            .arg(root)
            .arg(&tmp)
            .arg(format!("{size_mb}M")),
        log,
        Duration::from_secs(30),
    )?;
    std::fs::rename(&tmp, dir.join("disk.img"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_installation_must_have_said_the_module_is_installed_for_the_kernel() {
        let dir = std::env::temp_dir().join(format!("mydev-summary-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let image = Image::in_dir(&dir);
        assert!(
            image.installed_for("7.3.4+deb13-amd64").is_err(),
            "no summary"
        );
        std::fs::write(
            &image.summary,
            "mydev: 6.1.0-x-amd64 (running) cannot load mmap.ko: mydev needs Linux 7.2 or 7.3\n\
             mydev: mmap.ko is installed for 7.3.4+deb13-amd64 (newest)\n",
        )
        .unwrap();
        image.installed_for("7.3.4+deb13-amd64").unwrap();
        assert!(image.installed_for("7.2.12+deb14-amd64").is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
