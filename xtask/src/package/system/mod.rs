// SPDX-License-Identifier: GPL-2.0

//! The package test's real system: Debian's own signed kernel booted with its initramfs from a
//! disk image of a Debian system (systemd, udevd, the packages installed with `apt`; see
//! [`image`]), the harness's job run by a systemd service. Two boots of one QEMU run: in the
//! first, `modprobe mmap`, the udev rule's node, the user `alice` (group `mydev`) running the
//! walkthrough and `bob` refused; then the packaged `modules-load.d` entry is enabled, two
//! buffers configured and the system reboots; in the second, the module and the buffers are
//! back by themselves, and the packages are removed and purged. Each check is one test.

mod image;

#[cfg(test)]
pub use image::readme_install_line;

use super::{Packages, record, tail};
use crate::guest::qemu::{self, Accel, Console, Ended, QemuConfig};
use crate::guest::verdict;
use crate::kernels::stock::Distro;
use crate::paths::Paths;
use crate::report::tally::Tally;
use crate::ui::{Phase, fmt_duration};
use anyhow::{Result, bail};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The start of each boot's job: the checks' vocabulary.
const COMMON: &str = include_str!("common.sh");

/// The jobs of the first and second boot.
const BOOTS: [&str; 2] = [include_str!("boot1.sh"), include_str!("boot2.sh")];

/// The checks of each boot (1 or 2), in the order the jobs make them; each is a test.
pub const CHECKS: &[(usize, &str)] = &[
    (1, "modprobe_finds_and_loads_the_dkms_module"),
    (1, "udevd_gives_dev_mydev_to_root_and_group_mydev_mode_0660"),
    (1, "the_buffers_unit_runs_when_the_module_is_loaded"),
    (1, "alice_in_group_mydev_runs_the_walkthrough"),
    (1, "bob_outside_the_group_gets_eacces_and_the_hint"),
    (2, "a_reboot_loads_the_module_from_modules_load_d"),
    (2, "the_boot_time_unit_creates_the_configured_buffers"),
    (2, "buffer_nodes_are_root_mydev_0660_for_alice_not_bob"),
    (
        2,
        "apt_remove_then_modprobe_fails_and_no_module_tree_or_tool_is_left",
    ),
    (2, "apt_purge_leaves_no_file_of_either_package"),
];

/// The whole run's limit: two boots of about 40 s each under TCG, and the jobs.
const TIMEOUT: Duration = Duration::from_secs(900);

/// Makes (or finds) `d`'s system image with the packages for Debian's kernel `release`, boots
/// it twice and counts its checks in `tally`, each named after `d`.
pub fn test(paths: &Paths, p: &Packages, d: Distro, release: &str, tally: &mut Tally) {
    let name = |n: &str| format!("{}: {n}", d.name);
    let log = paths.logs.join(format!("system-{}.log", d.name));
    if let Err(e) = std::fs::write(&log, "") {
        record::<()>(tally, &name("system_image"), &Err(e.into()));
        return;
    }
    let img = image::ensure(paths, d, release, p, &log);
    let made = match &img {
        Ok(i) => {
            match i.made_in {
                Some(t) => eprintln!(
                    "    [package] {}: image made in {}",
                    d.name,
                    fmt_duration(t)
                ),
                None => eprintln!("    [package] {}: image cached (same packages)", d.name),
            }
            i.installed_for(release).map(|said| eprint!("{said}"))
        }
        Err(e) => Err(anyhow::anyhow!("{e:#}")),
    };
    record(
        tally,
        &name("system_image_installs_both_packages_with_apt_and_dkms_builds_mmap_ko"),
        &made,
    );
    let Ok(img) = img else {
        for (_, c) in CHECKS {
            tally.failure("package", &format!("{}: not run, no system image", name(c)));
        }
        return;
    };
    let run = boot(paths, &img, d);
    let booted = run
        .as_ref()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .and_then(|r| r.booted());
    record(
        tally,
        &name("system_boots_twice_runs_each_job_as_a_service_and_powers_off"),
        &booted,
    );
    let output = run.as_ref().map(|r| r.output.as_str()).unwrap_or("");
    for (_, c) in CHECKS {
        record(tally, &name(c), &check_result(output, c));
    }
}

/// What one QEMU run of the image gave: both boots' output, the statuses, how long each boot
/// took to reach its job.
struct SystemRun {
    output: String,
    console: String,
    statuses: Vec<i32>,
    ended: Ended,
    to_job: Vec<Duration>,
    console_log: std::path::PathBuf,
}

impl SystemRun {
    /// Both boots reached their job and reported, and the kernel had nothing to say.
    fn booted(&self) -> Result<()> {
        let trouble = verdict::kernel_trouble(&self.console);
        if self.ended == Ended::TimedOut {
            bail!("timed out; console: {}", self.console_log.display());
        }
        if !trouble.is_empty() {
            bail!("the kernel log shows trouble:\n{}", trouble.join("\n"));
        }
        if self.statuses.len() != BOOTS.len() {
            bail!(
                "{} of {} boots reported a status; console: {}",
                self.statuses.len(),
                BOOTS.len(),
                self.console_log.display()
            );
        }
        // 1 is a failed check, counted as its own test; anything else is the job's own end.
        if let Some(s) = self.statuses.iter().find(|s| **s != 0 && **s != 1) {
            bail!("a job ended with status {s}:\n{}", tail(&self.output, 15));
        }
        Ok(())
    }
}

/// The check `name`'s result in the jobs' output: its `check: NAME: ok` line, or why not.
pub fn check_result(output: &str, name: &str) -> Result<()> {
    let prefix = format!("check: {name}: ");
    match output.lines().find_map(|l| l.strip_prefix(&prefix)) {
        Some("ok") => Ok(()),
        Some(why) => bail!("{}", why.strip_prefix("FAILED: ").unwrap_or(why)),
        None => bail!("the job did not get to this check"),
    }
}

/// The job disk (`boot1.sh`, `boot2.sh`: [`COMMON`] and each boot's job) and one QEMU run:
/// the image's root read-only underneath (`snapshot=on`: what the boots write is dropped
/// afterwards), rebooting once.
fn boot(paths: &Paths, img: &image::Image, d: Distro) -> Result<SystemRun> {
    let dir = paths.work.join("runs").join(format!("system-{}", d.name));
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let jobs = dir.join("job");
    std::fs::create_dir_all(&jobs)?;
    for (i, job) in BOOTS.iter().enumerate() {
        std::fs::write(
            jobs.join(format!("boot{}.sh", i + 1)),
            format!("{COMMON}{job}"),
        )?;
    }
    let job_disk = dir.join("job.img");
    let ok = Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "mydev-job", "-d"])
        .arg(&jobs)
        .arg(&job_disk)
        .arg("8M")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()?
        .success();
    if !ok {
        bail!("mkfs.ext4 of the job disk failed");
    }
    let mut cmdline = "console=ttyS0 root=/dev/vda rw panic=-1".to_string();
    if let Some(khz) = crate::guest::run::host_tsc_khz() {
        cmdline.push_str(&format!(" tsc_early_khz={khz} tsc=reliable"));
    }
    let console_log = dir.join("console.log");
    let config = QemuConfig {
        kernel: img.vmlinuz.clone(),
        initrd: img.initrd.clone(),
        cmdline,
        accel: Accel::Tcg,
        // Debian's kernels: see `Profile::tcg_one_thread`.
        tcg_one_thread: true,
        memory_mib: 1024,
        cpus: 2,
        console: Console::File(console_log.clone()),
        output: dir.join("output.log"),
        control: dir.join("control.log"),
        reboot: true,
        extra: [
            format!(
                "file={},if=virtio,format=raw,snapshot=on",
                img.disk.display()
            ),
            format!(
                "file={},if=virtio,format=raw,readonly=on",
                job_disk.display()
            ),
        ]
        .into_iter()
        .flat_map(|d| ["-drive".to_string(), d])
        .collect(),
    };
    std::fs::write(dir.join("qemu-command.txt"), config.command_line() + "\n")?;
    let phase = Phase::start(
        "package",
        &format!(
            "booting the {} system image with Debian's kernel and systemd, twice (console: {})",
            d.name,
            console_log.display()
        ),
    );
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).replace('\r', ""))
            .unwrap_or_default()
    };
    let start = Instant::now();
    let mut to_job = Vec::new();
    let ended = qemu::run(&config, Some(TIMEOUT), || {
        let n = to_job.len() + 1;
        if n <= BOOTS.len() && read(&config.output).contains(&format!("mydev-boot {n}\n")) {
            to_job.push(start.elapsed());
        }
    })?;
    let run = SystemRun {
        output: read(&config.output),
        console: read(&console_log),
        statuses: read(&config.control)
            .lines()
            .filter_map(verdict::reported_status)
            .collect(),
        ended,
        to_job,
        console_log,
    };
    eprintln!("{}", run.output.trim_end());
    let times: Vec<String> = run.to_job.iter().map(|t| fmt_duration(*t)).collect();
    phase.done(&format!(
        "statuses {:?}; boot to job at {} (from QEMU's start); all in {}",
        run.statuses,
        times.join(", then "),
        fmt_duration(start.elapsed())
    ));
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_check_is_made_by_its_boot_and_only_there() {
        for (boot, name) in CHECKS {
            for (i, job) in BOOTS.iter().enumerate() {
                let made = job.contains(&format!("c={name}\n"));
                assert_eq!(made, i + 1 == *boot, "{name} in boot{}.sh", i + 1);
            }
        }
        let assigned = BOOTS
            .iter()
            .flat_map(|j| j.lines())
            .filter(|l| l.starts_with("c="))
            .count();
        assert_eq!(assigned, CHECKS.len(), "a check the harness does not count");
    }

    #[test]
    fn a_check_passes_only_on_its_ok_line() {
        let out = "check: a: ok\ncheck: b: FAILED: bob read the device\n";
        check_result(out, "a").unwrap();
        let e = check_result(out, "b").unwrap_err().to_string();
        assert_eq!(e, "bob read the device");
        assert!(check_result(out, "c").is_err());
        assert!(check_result("check: ab: ok\n", "a").is_err());
    }

    #[test]
    fn both_boots_must_report_and_only_checks_may_fail() {
        let run = |statuses: Vec<i32>, ended| SystemRun {
            output: String::new(),
            console: String::new(),
            statuses,
            ended,
            to_job: Vec::new(),
            console_log: "/l/c".into(),
        };
        run(vec![0, 0], Ended::Exited).booted().unwrap();
        run(vec![0, 1], Ended::Exited).booted().unwrap();
        assert!(run(vec![0], Ended::Exited).booted().is_err());
        assert!(run(vec![3, 0], Ended::Exited).booted().is_err());
        assert!(run(vec![0, 0], Ended::TimedOut).booted().is_err());
    }

    #[test]
    fn the_runner_reboots_into_the_next_job_and_reports_like_the_busybox_guests() {
        let runner = include_str!("runner.sh");
        assert!(runner.contains("echo \"mydev-status $status\" >/dev/ttyS2"));
        assert!(runner.contains(">/dev/ttyS1 2>&1"));
        assert!(runner.contains("systemctl reboot") && runner.contains("systemctl poweroff"));
    }
}
