// SPDX-License-Identifier: GPL-2.0

//! A guest run: the initramfs (busybox, `/init`, the module, the tools, the job), QEMU, and what
//! came back on each channel.

use crate::guest::initramfs;
use crate::guest::qemu::{self, Accel, Console, Ended, QemuConfig};
use crate::guest::spec::{GuestSpec, Job};
use crate::guest::verdict;
use crate::paths::Paths;
use crate::ui::{Phase, fmt_duration};
use anyhow::Result;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a guest run produced.
#[derive(Debug, Clone)]
pub struct GuestRun {
    pub output: String,
    pub console: String,
    pub status: Option<i32>,
    pub ended: Ended,
    pub console_log: PathBuf,
    pub elapsed: Duration,
}

impl GuestRun {
    /// Why this run failed regardless of what its job printed: a timeout, a missing status, or
    /// kernel trouble in the log. Empty for a clean run.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.ended == Ended::TimedOut {
            p.push("the guest timed out and was killed".to_string());
        } else if self.status.is_none() {
            p.push(
                "the guest stopped without reporting a status (crashed or panicked)".to_string(),
            );
        }
        let trouble = verdict::kernel_trouble(&self.console);
        if !trouble.is_empty() {
            p.push(format!(
                "the kernel log shows trouble:\n{}",
                trouble.join("\n")
            ));
        }
        p
    }

    /// The exit status of `cargo xtask vm` and `demo` for this run: the guest command's own
    /// status, except that any of [`Self::problems`] (kernel trouble, a timeout, a crash) makes
    /// it a failure even when the command exited 0, so that a script can rely on it. An
    /// interactive session quit without a status (Ctrl-A X) is not a failure by itself.
    pub fn exit_status(&self, interactive: bool) -> u8 {
        verdict::exit_status(self.status, !self.problems().is_empty(), interactive)
    }
}

/// The host's TSC frequency in kHz, from `/proc/cpuinfo`.
pub fn host_tsc_khz() -> Option<u64> {
    cpu_mhz_khz(&std::fs::read_to_string("/proc/cpuinfo").ok()?)
}

/// The first `cpu MHz` of a `/proc/cpuinfo` text, in kHz.
pub fn cpu_mhz_khz(cpuinfo: &str) -> Option<u64> {
    let mhz: f64 = cpuinfo.lines().find_map(|l| {
        l.strip_prefix("cpu MHz")?
            .split(':')
            .nth(1)?
            .trim()
            .parse()
            .ok()
    })?;
    (mhz > 0.0).then(|| (mhz * 1000.0).round() as u64)
}

/// The kernel command line of `spec`'s boot.
fn cmdline(spec: &GuestSpec<'_>) -> String {
    let mut cmdline = "console=ttyS0 panic=-1 rdinit=/init".to_string();
    if let Some(khz) = host_tsc_khz() {
        // Under TCG the guest's TSC counts at the host's rate, but the guest cannot calibrate
        // it (no HPET or PM timer without ACPI) and would fall back to jiffies, a 4 ms clock.
        cmdline.push_str(&format!(" tsc_early_khz={khz} tsc=reliable"));
    }
    if !spec.kernel.profile.cmdline.is_empty() {
        cmdline.push(' ');
        cmdline.push_str(spec.kernel.profile.cmdline);
    }
    cmdline
}

/// The boot line: kernel, accelerator, extra QEMU arguments, CPUs, memory, module parameters.
fn describe(spec: &GuestSpec<'_>) -> String {
    format!(
        "booting the {} kernel: accelerator {}{}{}, {} CPUs, {} MiB, module parameters [{}]",
        spec.kernel.profile.name,
        spec.accel.name(),
        if spec.accel == Accel::Tcg && (spec.one_thread || spec.kernel.profile.tcg_one_thread) {
            " (software emulation, all vCPUs in one host thread; KVM guests hang at boot on \
             these machines)"
        } else if spec.accel == Accel::Tcg {
            " (software emulation; KVM guests hang at boot on these machines)"
        } else {
            ""
        },
        if spec.qemu_extra.is_empty() {
            String::new()
        } else {
            format!(" with {}", spec.qemu_extra.join(" "))
        },
        spec.cpus,
        spec.memory_mib,
        spec.params.join(" "),
    )
}

/// Boots a guest and runs its job.
pub fn run(paths: &Paths, spec: &GuestSpec<'_>) -> Result<GuestRun> {
    let dir = paths.work.join("runs").join(spec.label);
    std::fs::create_dir_all(&dir)?;
    let initrd = dir.join("initramfs.cpio");
    std::fs::write(&initrd, initramfs::build(spec)?.to_cpio())?;
    let console_log = dir.join("console.log");
    let output = dir.join("output.log");
    let control = dir.join("control.log");
    let config = QemuConfig {
        kernel: spec.kernel.image.clone(),
        initrd,
        cmdline: cmdline(spec),
        accel: spec.accel,
        tcg_one_thread: spec.one_thread || spec.kernel.profile.tcg_one_thread,
        memory_mib: spec.memory_mib,
        cpus: spec.cpus,
        console: if matches!(spec.job, Job::Interactive) {
            Console::Terminal(console_log.clone())
        } else {
            Console::File(console_log.clone())
        },
        output: output.clone(),
        control: control.clone(),
        reboot: false,
        extra: spec.qemu_extra.to_vec(),
    };
    qemu::check_kernel(&config.kernel)?;
    let command_file = dir.join("qemu-command.txt");
    std::fs::write(&command_file, config.command_line() + "\n")?;
    let phase = Phase::start("guest", &describe(spec));
    phase.note(&format!("QEMU command: {}", command_file.display()));
    phase.note(&format!("console log: {}", console_log.display()));
    if let Some(t) = spec.timeout {
        phase.note(&format!("timeout: {}", fmt_duration(t)));
    }
    let start = Instant::now();
    let mut tail = Tail::new(&output);
    let ended = qemu::run(&config, spec.timeout, || {
        if spec.stream {
            tail.copy_new_to_stdout();
        }
    })?;
    let elapsed = start.elapsed();
    let read = |p: &Path| {
        std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let run = GuestRun {
        output: read(&output),
        console: read(&console_log),
        status: verdict::reported_status(&read(&control)),
        ended,
        console_log,
        elapsed,
    };
    let how = match (run.ended, run.status) {
        (Ended::TimedOut, _) => "timed out, killed".to_string(),
        (_, Some(s)) => format!("guest reported status {s}"),
        (_, None) => "no status reported".to_string(),
    };
    phase.done(&how);
    Ok(run)
}

/// Follows a growing file and copies what is new to stdout.
struct Tail {
    path: PathBuf,
    pos: u64,
}

impl Tail {
    fn new(path: &Path) -> Self {
        Self {
            path: path.to_path_buf(),
            pos: 0,
        }
    }

    fn copy_new_to_stdout(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.pos)).is_err() {
            return;
        }
        let mut buf = Vec::new();
        if let Ok(n) = f.read_to_end(&mut buf) {
            self.pos += n as u64;
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf);
            let _ = out.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsc_frequency_from_cpuinfo() {
        assert_eq!(
            cpu_mhz_khz("processor\t: 0\ncpu MHz\t\t: 2596.124\n"),
            Some(2_596_124)
        );
        assert_eq!(cpu_mhz_khz("processor\t: 0\n"), None);
    }

    #[test]
    fn problems_of_a_run() {
        let run = |ended, status, console: &str| GuestRun {
            output: String::new(),
            console: console.to_string(),
            status,
            ended,
            console_log: PathBuf::new(),
            elapsed: Duration::ZERO,
        };
        assert!(
            run(Ended::Exited, Some(0), "[ 1.0] fine\n")
                .problems()
                .is_empty()
        );
        assert!(
            run(Ended::Exited, Some(1), "").problems().is_empty(),
            "a failing job is not a harness problem"
        );
        assert!(run(Ended::TimedOut, None, "").problems()[0].contains("timed out"));
        assert!(run(Ended::Exited, None, "").problems()[0].contains("without reporting"));
        let p = run(
            Ended::Exited,
            Some(0),
            "[ 1.0] WARNING: CPU: 0 PID: 1 at x\n",
        )
        .problems();
        assert!(p[0].contains("WARNING: CPU"), "{p:?}");
    }
}
