// SPDX-License-Identifier: GPL-2.0

//! The package test's life part: both packages installed with `apt` in a fresh Debian chroot as
//! a user would, and then what a Debian system does to a DKMS package over its life, each step one test: a reinstall and an upgrade, a full `/var`, kernels
//! installed after mydev (one DKMS can build for, one of a series mydev does not support, one
//! whose rustc is missing), a newer `linux-source`, a kernel's removal, `apt remove` and purge.
//! The kernels and the source are fakes that `scenarios.sh` makes with `dpkg-deb` inside the
//! chroot; their maintainer scripts run the real kernel hooks (`linux-run-hooks`).

use super::{Packages, TOOLS_FILES, apt, file_name, find_module, record, tail};
use crate::kernels::chroot::Chroot;
use crate::kernels::kernel::Kernel;
use crate::kernels::stock;
use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::shell::shell_quote;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The fakes (see the file's header).
const SCENARIOS: &str = include_str!("scenarios.sh");

/// Where the prepared trees live.
const TREES: &str = "/var/lib/mydev-dkms";

/// A file the test leaves in the prepared tree: still there after a step means the step kept
/// the tree (a rebuilt tree replaces the whole directory).
const MARK: &str = "build/.mydev-test-mark";

/// The chroot, its log, and the release of its real kernel.
struct Sandbox {
    chroot: Chroot,
    log: PathBuf,
    real: String,
}

/// A step's exit status and its output (stdout and stderr, interleaved).
struct Ran {
    ok: bool,
    out: String,
}

impl Sandbox {
    /// Runs `script` with `sh` in the chroot, the fakes' functions defined, and logs it.
    fn sh(&self, script: &str) -> Result<Ran> {
        self.run(self.script(script), script)
    }

    /// [`Sandbox::sh`] with a `mb` MB tmpfs over the prepared trees' directory.
    fn sh_on_tmpfs(&self, mb: u32, script: &str) -> Result<Ran> {
        let cmd = self
            .chroot
            .command_on_tmpfs(TREES, mb, &["sh", "-c", &self.full(script)]);
        self.run(cmd, script)
    }

    fn script(&self, script: &str) -> Command {
        self.chroot.command(&["sh", "-c", &self.full(script)])
    }

    /// `script` after the fakes' functions.
    fn full(&self, script: &str) -> String {
        format!(
            "exec 2>&1\nREAL={}\n. /tmp/mydev-scenarios.sh\n{script}",
            shell_quote(&self.real)
        )
    }

    fn run(&self, mut cmd: Command, script: &str) -> Result<Ran> {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .context("running a step in the chroot")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&self.log)?;
        writeln!(log, "$ {script}\n{text}[{}]", out.status)?;
        Ok(Ran {
            ok: out.status.success(),
            out: text,
        })
    }

    /// [`Sandbox::sh`], failing with the output's end unless the script succeeds.
    fn ok(&self, script: &str) -> Result<String> {
        let r = self.sh(script)?;
        if !r.ok {
            bail!(
                "`{}` failed:\n{}",
                script.lines().last().unwrap_or(script),
                tail(&r.out, 25)
            );
        }
        Ok(r.out)
    }

    fn path(&self, inside: &str) -> PathBuf {
        self.chroot.root.join(inside.trim_start_matches('/'))
    }

    /// The `mmap.ko` DKMS installed for `release`.
    fn module(&self, release: &str) -> Result<PathBuf> {
        find_module(&self.path(&format!("/usr/lib/modules/{release}/updates/dkms")))
    }

    fn no_module(&self, release: &str) -> Result<()> {
        match self.module(release) {
            Ok(m) => bail!("DKMS installed {} all the same", m.display()),
            Err(_) => Ok(()),
        }
    }

    /// The mark in `release`'s tree is still there, with the tree's module.
    fn tree_kept(&self, release: &str) -> Result<()> {
        self.module(release)?;
        let mark = self.path(&format!("{TREES}/{release}/{MARK}"));
        if !mark.exists() {
            bail!("the prepared tree of {release} was deleted or rebuilt");
        }
        Ok(())
    }
}

/// Runs `f` as the test `name`, timed.
fn check<T>(tally: &mut Tally, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T, ()> {
    let start = Instant::now();
    let r = f();
    eprintln!(
        "    [package] {name}: {}",
        crate::ui::fmt_duration(start.elapsed())
    );
    record(tally, name, &r);
    r.map_err(drop)
}

/// Installs the packages in a fresh chroot of `d`'s release with its kernel's headers, lets
/// DKMS build, then takes the packages through the rest of their life (see the module's
/// header). Each step is one test in `tally`.
pub fn chroot_test(
    paths: &Paths,
    p: &Packages,
    kernel: &Kernel,
    d: stock::Distro,
    tally: &mut Tally,
) -> Result<()> {
    let phase = Phase::start(
        "package",
        &format!(
            "apt install of both packages in a fresh {} chroot, DKMS for {}, upgrade, \
             kernels, a full /var, removal",
            d.suite, kernel.version
        ),
    );
    let base = paths.work.join("package-test");
    if base.exists() {
        std::fs::remove_dir_all(&base)?;
    }
    std::fs::create_dir_all(&base)?;
    let log = paths.logs.join("package-test.log");
    std::fs::write(&log, "")?;
    let root = base.join("root");
    let extra = (d.kernel_suite != d.suite).then_some(d.kernel_suite);
    run_logged(
        "mmdebstrap (fresh chroot)",
        &mut stock::mmdebstrap(d.suite, extra, &[], &root),
        &log,
        Duration::from_secs(30),
    )?;
    for deb in [&p.dkms, &p.tools] {
        std::fs::copy(deb, root.join("tmp").join(file_name(deb)?))?;
    }
    std::fs::write(root.join("tmp/mydev-scenarios.sh"), SCENARIOS)?;
    let sb = Sandbox {
        chroot: Chroot { root: root.clone() },
        log: log.clone(),
        real: kernel.version.clone(),
    };
    let life = Life {
        sb: &sb,
        real: &kernel.version,
        series: d.series,
        dkms_deb: format!("/tmp/{}", file_name(&p.dkms)?),
        tools_deb: format!("/tmp/{}", file_name(&p.tools)?),
    };
    if life.run(tally).is_err() {
        phase.done(&format!("failed; log: {}", log.display()));
        return Ok(());
    }
    phase.done(&format!("log: {}", log.display()));
    std::fs::remove_dir_all(&base).ok();
    Ok(())
}

/// The steps of the test, in order; each later one relies on the state the earlier ones left.
struct Life<'a> {
    sb: &'a Sandbox,
    real: &'a str,
    series: &'a str,
    dkms_deb: String,
    tools_deb: String,
}

/// The fake kernels: one DKMS builds for at once, a 7.4, and a 7.3 by a rustc not installed.
const SECOND: &str = "7.3.4-mydev2-amd64";
const UNSUPPORTED: &str = "7.4.0-mydev3-amd64";
const OTHER_RUSTC: &str = "7.3.9-mydev4-amd64";

impl Life<'_> {
    fn run(&self, tally: &mut Tally) -> Result<(), ()> {
        let sb = self.sb;
        let out = check(tally, "apt_install_builds_mmap_ko_through_dkms", || {
            sb.ok(&apt("update"))?;
            sb.ok(&apt(&format!("install linux-headers-{}", self.real)))?;
            let out = sb.ok(&apt(&format!(
                "install {} {}",
                self.dkms_deb, self.tools_deb
            )))?;
            sb.module(self.real)?;
            Ok(out)
        })?;
        check(
            tally,
            "install_says_for_which_kernels_mmap_ko_is_built",
            || install_summary(&out, self.real),
        )
        .ok();
        check(
            tally,
            "prepared_tree_is_stripped_and_nothing_else_is_left",
            || self.tree_is_lean(),
        )
        .ok();
        self.upgrades(tally);
        self.full_var(tally);
        self.kernels(tally);
        check(
            tally,
            "a_newer_linux_source_keeps_the_finished_tree",
            || self.newer_source(),
        )
        .ok();
        check(
            tally,
            "removing_a_kernel_removes_only_its_prepared_tree",
            || self.kernel_removal(),
        )
        .ok();
        check(
            tally,
            "apt_remove_leaves_no_module_prepared_tree_tool_or_unit",
            || self.remove(),
        )
        .ok();
        check(tally, "apt_purge_leaves_no_file_of_either_package", || {
            self.purge()
        })
        .ok();
        Ok(())
    }

    /// The tree holds `build` and its stamp, stripped proc-macro libraries, and nothing of the
    /// preparation is left beside it. Prints its size.
    fn tree_is_lean(&self) -> Result<()> {
        let out = self.sb.ok(&format!(
            "cd {TREES}; echo \"trees: $(ls -A | tr '\\n' ' ')\"
echo \"in tree: $(ls -A {r} | tr '\\n' ' ')\"
echo \"size: $(du -sm {r} | cut -f1) MB, rust/ $(du -sm {r}/build/rust | cut -f1) MB\"
for so in {r}/build/rust/*.so; do
	readelf -S \"$so\" | grep -q '\\.debug_info' && echo \"unstripped: $so\"
done
grep -h 'is ready' /var/lib/dkms/mydev/*/{r}/*/log/make.log 2>/dev/null || true",
            r = self.real
        ))?;
        eprintln!(
            "    [package] prepared tree: {}",
            out.trim().replace('\n', "; ")
        );
        for want in [
            format!("trees: {} \n", self.real),
            "in tree: .mydev-prepared build \n".to_string(),
        ] {
            if !out.contains(&want) {
                bail!("expected {want:?} in:\n{out}");
            }
        }
        if out.contains("unstripped:") {
            bail!("proc-macro libraries keep their debug information:\n{out}");
        }
        Ok(())
    }

    /// A reinstall, then an upgrade to a newer version: the module comes back, the tree stays.
    fn upgrades(&self, tally: &mut Tally) {
        let (sb, real) = (self.sb, self.real);
        let marked = sb.ok(&format!("touch {TREES}/{real}/{MARK}"));
        check(
            tally,
            "reinstall_keeps_the_prepared_tree_and_the_module",
            || {
                marked.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
                sb.ok(&apt(&format!("install --reinstall {}", self.dkms_deb)))?;
                sb.tree_kept(real)
            },
        )
        .ok();
        check(
            tally,
            "upgrade_keeps_the_prepared_tree_and_the_module",
            || {
                let out = sb.ok(&format!(
                    "v=$(dpkg-query -W -f '${{Version}}' mydev-dkms)
repack {deb} \"$v+upgrade1\" /tmp/fake/mydev-dkms-upgrade.deb
{}
dpkg-query -W -f 'now: ${{Version}} ${{Status}}\\n' mydev-dkms",
                    apt("install /tmp/fake/mydev-dkms-upgrade.deb"),
                    deb = self.dkms_deb
                ))?;
                if !out.contains("+upgrade1 install ok installed") {
                    bail!("mydev-dkms was not upgraded:\n{}", tail(&out, 10));
                }
                sb.tree_kept(real)
            },
        )
        .ok();
    }

    /// The helper, for a kernel without a tree, with 64 MB free where trees go: it stops before
    /// writing anything; and told to go ahead (`MYDEV_NEED_MB`), it runs out of space and
    /// leaves nothing behind.
    fn full_var(&self, tally: &mut Tally) {
        let attempt = |env: &str| {
            self.sb.sh_on_tmpfs(
                64,
                &format!(
                    "s=0; {env} /usr/libexec/mydev-dkms/mydev-prepare-kernel {} || s=$?
echo \"status=$s\"; echo \"left:$(ls -A {TREES} | tr '\\n' ' ')\"",
                    self.real
                ),
            )
        };
        let judge = |out: &str| -> Result<()> {
            if !out.contains("status=") {
                bail!("the step did not run to its end:\n{}", tail(out, 10));
            }
            if out.contains("status=0\n") {
                bail!("the helper succeeded on a 64 MB /var:\n{}", tail(out, 10));
            }
            if !out.contains("left:\n") {
                bail!("the helper left files behind:\n{}", tail(out, 10));
            }
            Ok(())
        };
        check(tally, "full_var_stops_a_prepare_before_it_writes", || {
            let out = attempt("")?.out;
            judge(&out)?;
            if !out.contains("MB free") {
                bail!(
                    "the helper did not say how much space it needs:\n{}",
                    tail(&out, 10)
                );
            }
            Ok(())
        })
        .ok();
        check(
            tally,
            "a_prepare_that_runs_out_of_space_leaves_nothing_behind",
            || judge(&attempt("MYDEV_NEED_MB=1")?.out),
        )
        .ok();
    }

    /// Kernels installed after mydev: each one's installation must succeed; DKMS builds for the
    /// one it can, and skips the others saying why.
    fn kernels(&self, tally: &mut Tally) {
        let sb = self.sb;
        let install = |release: &str, kind: &str| {
            sb.sh(&format!(
                "fake_kernel {release} {kind} 1
dpkg -i /tmp/fake/linux-image-{release}.deb"
            ))
        };
        check(
            tally,
            "a_second_kernel_installed_after_mydev_gets_the_module",
            || {
                let r = install(SECOND, "rust-tree")?;
                if !r.ok {
                    bail!("the kernel's installation failed:\n{}", tail(&r.out, 25));
                }
                sb.module(SECOND)
            },
        )
        .ok();
        let skipped = |r: Ran, release: &str, why: &[&str]| -> Result<()> {
            if !r.ok {
                bail!("the kernel's installation failed:\n{}", tail(&r.out, 25));
            }
            sb.no_module(release)?;
            for w in why.iter().chain(&["was skipped for module(s) mydev"]) {
                if !r.out.contains(w) {
                    bail!("the installation did not say {w:?}:\n{}", tail(&r.out, 25));
                }
            }
            Ok(())
        };
        check(
            tally,
            "an_unsupported_kernel_installs_and_mydev_is_skipped_with_a_message",
            || {
                let r = install(UNSUPPORTED, "linux-7.4")?;
                skipped(r, UNSUPPORTED, &["Linux 7.2 and 7.3"])
            },
        )
        .ok();
        check(
            tally,
            "a_kernel_by_another_rustc_installs_and_mydev_says_which_rustc",
            || {
                let r = install(OTHER_RUSTC, "other-rustc")?;
                skipped(r, OTHER_RUSTC, &["built by 'rustc 1.99.0"])
            },
        )
        .ok();
    }

    /// A newer linux-source, then a reinstall of mydev-dkms (which rebuilds for every kernel):
    /// the finished tree is not the source's business any more.
    fn newer_source(&self) -> Result<()> {
        let sb = self.sb;
        sb.ok(&format!(
            "fake_source {}.99
dpkg -i /tmp/fake/linux-source-{}.deb
{}",
            self.series,
            self.series,
            apt("install --reinstall /tmp/fake/mydev-dkms-upgrade.deb")
        ))?;
        sb.tree_kept(self.real)?;
        sb.module(SECOND).map(drop)
    }

    /// A kernel's tree goes with the kernel's removal, not with its reinstall (the hook is
    /// called for both), and no other kernel's tree goes with it.
    fn kernel_removal(&self) -> Result<()> {
        let out = self.sb.ok(&format!(
            "mkdir -p {TREES}/{SECOND}/build && echo fake >{TREES}/{SECOND}/.mydev-prepared
dpkg -i /tmp/fake/linux-image-{SECOND}.deb
[ -d {TREES}/{SECOND} ] && echo kept-on-reinstall
dpkg -r linux-image-{SECOND} linux-image-{UNSUPPORTED} linux-image-{OTHER_RUSTC}
[ -d {TREES}/{SECOND} ] || echo gone-with-its-kernel"
        ))?;
        for want in ["kept-on-reinstall", "gone-with-its-kernel"] {
            if !out.contains(want) {
                bail!("expected {want}:\n{}", tail(&out, 20));
            }
        }
        self.sb.tree_kept(self.real)
    }

    /// `apt remove`: no module, no prepared tree, nothing registered with DKMS, no tool.
    fn remove(&self) -> Result<()> {
        let sb = self.sb;
        sb.ok(&apt("remove mydev-dkms mydev-tools"))?;
        let mut left = Vec::new();
        for r in [self.real, SECOND] {
            if let Ok(m) = sb.module(r) {
                left.push(m.display().to_string());
            }
        }
        // The tools and the boot-time unit go with `mydev-tools`; its conffile
        // (/etc/mydev/buffers.conf) stays until a purge, as Debian's policy has it.
        let tool_files = TOOLS_FILES
            .iter()
            .map(|(rel, _, _)| *rel)
            .filter(|rel| !rel.starts_with("etc/"));
        for rel in ["usr/bin/user_test", "usr/bin/mydevctl"]
            .into_iter()
            .chain(tool_files)
            .chain([TREES, "var/lib/dkms/mydev"])
        {
            let p = sb.path(rel);
            if p.exists() {
                left.push(p.display().to_string());
            }
        }
        if std::fs::read_dir(sb.path("usr/src"))?
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("mydev"))
        {
            left.push("usr/src/mydev-*".into());
        }
        if left.is_empty() {
            Ok(())
        } else {
            bail!("apt-get remove left {}", left.join(", "))
        }
    }

    /// `apt purge` after the removal: no configuration file, hook or state of either package.
    fn purge(&self) -> Result<()> {
        let out = self.sb.ok(&format!(
            "{}
for p in mydev-dkms mydev-tools; do
	echo \"$p: $(dpkg-query -W -f '${{db:Status-Status}}' $p 2>/dev/null || echo unknown)\"
done",
            apt("purge mydev-dkms mydev-tools")
        ))?;
        for p in ["mydev-dkms", "mydev-tools"] {
            if !out.contains(&format!("{p}: not-installed"))
                && !out.contains(&format!("{p}: unknown"))
            {
                bail!("{p} is not purged:\n{}", tail(&out, 10));
            }
        }
        let left: Vec<String> = [
            "etc/mydev",
            "etc/modules-load.d/mydev.conf",
            "etc/kernel/postrm.d/mydev-dkms",
            "usr/share/kernel/postrm.d/mydev-dkms",
            "usr/lib/sysusers.d/mydev-dkms.conf",
            TREES,
        ]
        .iter()
        .map(|rel| self.sb.path(rel))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
        if left.is_empty() {
            Ok(())
        } else {
            bail!("apt-get purge left {}", left.join(", "))
        }
    }
}

/// The postinst's closing lines name each kernel it looked at: the real one has the module; the
/// chroot's running kernel (the host's) is not one mydev supports.
fn install_summary(out: &str, real: &str) -> Result<()> {
    let want = format!("mydev: mmap.ko is installed for {real}");
    if !out.contains(&want) {
        bail!("the installation did not say {want:?}:\n{}", tail(out, 30));
    }
    if !out
        .lines()
        .any(|l| l.starts_with("mydev: ") && l.contains("(running)"))
    {
        bail!(
            "the installation said nothing of the running kernel:\n{}",
            tail(out, 30)
        );
    }
    Ok(())
}
