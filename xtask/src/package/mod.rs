// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask package`: the Debian packages `mydev-dkms` (the module's source for DKMS, the
//! udev rule, the commented `modules-load.d` entry and the helper that prepares Debian's kernels
//! for Rust modules) and `mydev-tools` (`user_test`, `mydevctl`, `mydev.h`, the man pages, the
//! unit that applies `/etc/mydev/buffers.conf` and its example), built with `dpkg-deb` and
//! checked with `lintian`; and the test that installs them in a fresh Debian chroot as a user
//! would.

use crate::guest::{self, GuestSpec, Job};
use crate::kernel::Kernel;
use crate::paths::Paths;
use crate::stock::{self, Chroot};
use crate::tally::Tally;
use crate::tools::Tools;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `text` to `root/rel` with `mode`, creating the directories.
fn put(root: &Path, rel: &str, text: &[u8], mode: u32) -> Result<()> {
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

/// `DEBIAN/control` (with the size) and `DEBIAN/md5sums`, then `dpkg-deb --build`.
fn build_deb(root: &Path, control: &str, out: &Path, log: &Path) -> Result<()> {
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
        "dpkg-deb --build",
        Command::new("dpkg-deb")
            .args(["--root-owner-group", "-Zxz", "--build"])
            .arg(root)
            .arg(out),
        log,
        Duration::from_secs(30),
    )
}

/// Builds both packages into `target/mydev/packages`.
pub fn build(paths: &Paths, tools: &Tools) -> Result<Packages> {
    let phase = Phase::start("package", "mydev-dkms and mydev-tools with dpkg-deb");
    let upstream = crate::install::dkms_version(&read(&paths.repo.join("module/dkms.conf"))?)
        .context("no PACKAGE_VERSION in module/dkms.conf")?;
    let version = format!("{upstream}-1");
    let out = paths.work.join("packages");
    let stage = out.join("stage");
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    let log = paths.logs.join("package.log");
    std::fs::write(&log, "")?;
    let deb = paths.repo.join("packaging/debian");
    let subst = |t: String| {
        t.replace("@VERSION@", &version)
            .replace("@UPSTREAM@", &upstream)
    };

    // mydev-dkms: the module's sources as DKMS expects them, the helper, the rules, the hooks.
    let root = stage.join("mydev-dkms");
    for entry in std::fs::read_dir(paths.repo.join("module"))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .context("file name")?;
        if path.is_file() {
            put(
                &root,
                &format!("usr/src/mydev-{upstream}/{name}"),
                &std::fs::read(&path)?,
                if name.ends_with(".sh") { 0o755 } else { 0o644 },
            )?;
        }
    }
    put(
        &root,
        "usr/libexec/mydev-dkms/mydev-prepare-kernel",
        &std::fs::read(paths.repo.join("packaging/mydev-prepare-kernel"))?,
        0o755,
    )?;
    put(
        &root,
        "usr/lib/udev/rules.d/60-mydev.rules",
        &std::fs::read(&tools.udev_rule)?,
        0o644,
    )?;
    put(
        &root,
        "etc/kernel/postrm.d/mydev-dkms",
        &std::fs::read(deb.join("kernel-postrm"))?,
        0o755,
    )?;
    // Commented out: loading the module at every boot is the administrator's choice.
    put(
        &root,
        "etc/modules-load.d/mydev.conf",
        &std::fs::read(paths.repo.join("packaging/modules-load.conf"))?,
        0o644,
    )?;
    docs(paths, &root, "mydev-dkms", &version)?;
    for script in ["postinst", "prerm", "postrm"] {
        let text = subst(read(&deb.join(format!("mydev-dkms.{script}")))?);
        put(&root, &format!("DEBIAN/{script}"), text.as_bytes(), 0o755)?;
    }
    put(
        &root,
        "DEBIAN/conffiles",
        b"/etc/kernel/postrm.d/mydev-dkms\n/etc/modules-load.d/mydev.conf\n",
        0o644,
    )?;
    let dkms = out.join(format!("mydev-dkms_{version}_all.deb"));
    build_deb(
        &root,
        &subst(read(&deb.join("mydev-dkms.control"))?),
        &dkms,
        &log,
    )?;

    // mydev-tools: the tools, the header, the man pages, the boot-time unit and its files.
    let root = stage.join("mydev-tools");
    for (name, bin) in [
        ("user_test", &tools.user_test),
        ("mydevctl", &tools.mydevctl),
    ] {
        // Without the compiler's `.comment` section (lintian: binary-has-unneeded-section).
        put(
            &root,
            &format!("usr/bin/{name}"),
            &std::fs::read(bin)?,
            0o755,
        )?;
        run_logged(
            "objcopy --remove-section=.comment",
            Command::new("objcopy")
                .arg("--remove-section=.comment")
                .arg(root.join("usr/bin").join(name)),
            &log,
            Duration::from_secs(30),
        )?;
    }
    put(
        &root,
        "usr/include/mydev.h",
        &std::fs::read(paths.repo.join("module/mydev.h"))?,
        0o644,
    )?;
    for page in ["user_test", "mydevctl"] {
        put(
            &root,
            &format!("usr/share/man/man1/{page}.1.gz"),
            &gzip(&std::fs::read(
                paths.repo.join(format!("packaging/{page}.1")),
            )?)?,
            0o644,
        )?;
    }
    for (rel, src, mode) in TOOLS_FILES {
        put(&root, rel, &std::fs::read(paths.repo.join(src))?, *mode)?;
    }
    put(
        &root,
        "DEBIAN/conffiles",
        b"/etc/mydev/buffers.conf\n",
        0o644,
    )?;
    put(
        &root,
        "DEBIAN/postinst",
        subst(read(&deb.join("mydev-tools.postinst"))?).as_bytes(),
        0o755,
    )?;
    docs(paths, &root, "mydev-tools", &version)?;
    let tools_deb = out.join(format!("mydev-tools_{version}_amd64.deb"));
    build_deb(
        &root,
        &subst(read(&deb.join("mydev-tools.control"))?),
        &tools_deb,
        &log,
    )?;
    phase.done(&format!("{} and {}", dkms.display(), tools_deb.display()));
    Ok(Packages {
        dkms,
        tools: tools_deb,
    })
}

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

/// Installs the packages in a fresh chroot of `d`'s release with its kernel's headers, lets
/// DKMS build, boots Debian's image with the module DKMS installed and runs the walkthrough with
/// the installed `user_test`, then removes the packages and checks that nothing is left.
/// Each step is one test in `tally`.
pub fn chroot_test(
    paths: &Paths,
    p: &Packages,
    kernel: &Kernel,
    d: stock::Distro,
    tools: &Tools,
    tally: &mut Tally,
) -> Result<()> {
    let phase = Phase::start(
        "package",
        &format!(
            "apt install of both packages in a fresh {} chroot, DKMS for {}, boot, apt remove",
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
    let chroot = Chroot { root: root.clone() };
    for deb in [&p.dkms, &p.tools] {
        std::fs::copy(deb, root.join("tmp").join(deb.file_name().context("name")?))?;
    }
    let headers = format!("linux-headers-{}", kernel.version);
    let dkms_deb = format!(
        "/tmp/{}",
        p.dkms
            .file_name()
            .and_then(|n| n.to_str())
            .context("name")?
    );
    let tools_deb = format!(
        "/tmp/{}",
        p.tools
            .file_name()
            .and_then(|n| n.to_str())
            .context("name")?
    );
    let apt = |args: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "apt-get",
            "-q",
            "-y",
            "-o",
            "Acquire::Check-Valid-Until=false",
        ]
        .map(String::from)
        .to_vec();
        v.extend(args.iter().map(|s| s.to_string()));
        v
    };
    let run = |step: &str, args: Vec<String>| -> Result<()> {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        chroot.run(step, &refs, &log)
    };

    // What a user on this release runs: the headers of the running kernel, then the packages.
    let install = run("apt-get update", apt(&["update"]))
        .and_then(|()| {
            run(
                &format!("apt-get install {headers}"),
                apt(&["install", &headers]),
            )
        })
        .and_then(|()| {
            run(
                "apt-get install ./mydev-dkms ./mydev-tools",
                apt(&["install", &dkms_deb, &tools_deb]),
            )
        });
    let modules = root.join(format!("usr/lib/modules/{}/updates/dkms", kernel.version));
    let installed = install.and_then(|()| find_module(&modules));
    record(tally, "apt_install_builds_mmap_ko_through_dkms", &installed);
    let installed = match installed {
        Ok(m) => m,
        Err(_) => {
            phase.done(&format!("failed; log: {}", log.display()));
            return Ok(());
        }
    };

    // Boot Debian's image with the module DKMS built and the user_test the package installed.
    let ko = base.join("mmap.ko");
    let walkthrough = crate::stock::unpack_module(&installed, &ko).and_then(|()| {
        let installed_tools = Tools {
            user_test: root.join("usr/bin/user_test"),
            mydevctl: root.join("usr/bin/mydevctl"),
            ..tools.clone()
        };
        // What udev and systemd would do when the module loads: the installed rule names the
        // installed unit, whose command applies a two-line configuration.
        let boot_files = [
            root.join("usr/lib/systemd/system/mydev-buffers.service"),
            root.join("usr/lib/udev/rules.d/61-mydev-buffers.rules"),
        ];
        let run = guest::run(
            paths,
            &GuestSpec {
                label: "package-test",
                kernel,
                module: &ko,
                tools: &installed_tools,
                params: &[],
                files: &boot_files,
                extra_modules: &[],
                job: Job::Script(format!("{BOOT_UNIT_SCRIPT}{}", crate::demo_script())),
                timeout: Some(Duration::from_secs(300)),
                accel: crate::qemu::Accel::Tcg,
                memory_mib: 1024,
                cpus: 2,
                stream: false,
                qemu_extra: &[],
                one_thread: false,
            },
        )?;
        eprint!("{}", run.output);
        let problems = run.problems();
        if run.status != Some(0) || !problems.is_empty() {
            bail!(
                "the walkthrough failed (status {:?}) {problems:?}; console: {}",
                run.status,
                run.console_log.display()
            );
        }
        check_boot_unit(&run.output)?;
        check_walkthrough(&run.output)
    });
    record(
        tally,
        "installed_module_and_tool_run_the_walkthrough_on_debian",
        &walkthrough,
    );

    // Removal: no module, no prepared tree, nothing registered with DKMS.
    let removed = run(
        "apt-get remove mydev-dkms mydev-tools",
        apt(&["remove", "mydev-dkms", "mydev-tools"]),
    )
    .and_then(|()| {
        let mut left = Vec::new();
        if find_module(&modules).is_ok() {
            left.push(modules.display().to_string());
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
        {
            let p = root.join(rel);
            if p.exists() {
                left.push(p.display().to_string());
            }
        }
        for rel in ["var/lib/mydev-dkms", "var/lib/dkms/mydev", "usr/src"] {
            let p = root.join(rel);
            let leftover = if rel == "usr/src" {
                std::fs::read_dir(&p)?
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("mydev"))
            } else {
                p.exists()
            };
            if leftover {
                left.push(p.display().to_string());
            }
        }
        if left.is_empty() {
            Ok(())
        } else {
            bail!("apt-get remove left {}", left.join(", "))
        }
    });
    record(
        tally,
        "apt_remove_leaves_no_module_prepared_tree_tool_or_unit",
        &removed,
    );
    phase.done(&format!("log: {}", log.display()));
    std::fs::remove_dir_all(&base).ok();
    Ok(())
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

/// Builds the packages and runs lintian (two tests), and with `install_test` the chroot test
/// on Debian's 7.3 kernel.
pub fn run(paths: &Paths, tools: &Tools, install_test: bool, tally: &mut Tally) -> Result<()> {
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
    if install_test {
        let kernel = stock::ensure(paths, stock::DEBIAN_73)?;
        chroot_test(paths, &p, &kernel, stock::DEBIAN_73, tools, tally)?;
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

/// The package test's boot-time step, in the guest (busybox: no udev, no systemd): checks that
/// the installed udev rule starts the installed unit, runs the unit's `ExecStart` with a
/// two-line `/etc/mydev/buffers.conf`, lists the buffers it made, and removes them.
const BOOT_UNIT_SCRIPT: &str = r#"unit=/work/mydev-buffers.service
grep -q 'SYSTEMD_WANTS.*mydev-buffers.service' /work/61-mydev-buffers.rules || { echo "boot: the udev rule does not start the unit"; exit 3; }
mkdir -p /etc/mydev
printf '# two buffers
cam0 4M
scratch 64K no-huge
' > /etc/mydev/buffers.conf
cmd=$(sed -n 's/^ExecStart=//p' $unit)
echo "boot: \$ $cmd"
# The guest has the package's mydevctl on its PATH (in /bin), not in /usr/bin.
set -- $cmd
[ "$1" = /usr/bin/mydevctl ] || { echo "boot: the unit runs $1, not the packaged /usr/bin/mydevctl"; exit 3; }
shift
cmd="mydevctl $*"
$cmd || { echo "boot: the unit's command failed with status $?"; exit 3; }
for n in cam0 scratch; do [ -c /dev/mydev-$n ] || { echo "boot: no /dev/mydev-$n"; exit 3; }; done
echo "boot: buffers: $(ls /sys/kernel/config/mydev | tr '
' ' ')"
echo "boot: cam0 $(cat /sys/kernel/config/mydev/cam0/size) bytes, scratch $(cat /sys/kernel/config/mydev/scratch/size) bytes"
$cmd | sed 's/^/boot: again: /'
mydevctl remove cam0 && mydevctl remove scratch || exit 3
"#;

/// The boot-time step's output must show both buffers made from the configuration, of its
/// sizes, and a second `apply` that changed nothing.
pub fn check_boot_unit(output: &str) -> Result<()> {
    for want in [
        "boot: buffers: cam0 scratch ",
        "boot: cam0 4194304 bytes, scratch 65536 bytes",
        "boot: again: /etc/mydev/buffers.conf: 0 changed, 2 unchanged",
    ] {
        if !output.contains(want) {
            bail!("the boot-time unit's output lacks {want:?}:\n{output}");
        }
    }
    if output
        .lines()
        .any(|l| l.starts_with("boot: again: created"))
    {
        bail!("a second apply made buffers again:\n{output}");
    }
    Ok(())
}

/// The walkthrough's output must show each step's effect: the seed's on `/dev/mydev`, then a
/// configfs buffer made, listed, written and read (`cam` has its own bytes: offset 7 of
/// "Hello, cam!" is `c`), while `/dev/mydev` kept its own, and removed.
pub fn check_walkthrough(output: &str) -> Result<()> {
    for want in [
        "Hello, World!",
        "This is a test",
        "0x69 'i'",
        "created cam: ",
        "/dev/mydev-cam",
        "Hello, cam!",
        "offset 7: 0x63 'c'",
        "removed cam",
    ] {
        if !output.contains(want) {
            bail!("the walkthrough's output lacks {want:?}:\n{output}");
        }
    }
    Ok(())
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

    #[test]
    fn walkthrough_output_is_checked() {
        let seed = "Hello, World!\nThis is a test\noffset 5: 0x69 'i'\n";
        let cam = "created cam: 4 MiB\nNAME  /dev/mydev-cam\nHello, cam!\noffset 7: 0x63 'c'\nremoved cam\n";
        check_walkthrough(&format!("{seed}{cam}")).unwrap();
        assert!(check_walkthrough(seed).is_err(), "no configfs buffer");
        let boot = "boot: buffers: cam0 scratch \nboot: cam0 4194304 bytes, scratch 65536 bytes\n\
                    boot: again: /etc/mydev/buffers.conf: 0 changed, 2 unchanged, 0 left alone\n";
        check_boot_unit(boot).unwrap();
        assert!(check_boot_unit(&boot.replace("cam0 scratch", "cam0")).is_err());
        let twice = format!("{boot}boot: again: created cam0: 4 MiB\n");
        assert!(check_boot_unit(&twice).is_err());
        assert!(check_walkthrough("Hello, World!\n").is_err());
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
