// SPDX-License-Identifier: GPL-2.0

//! The QEMU command line, as data, and running it with a timeout.
//!
//! Serial ports, in order: `ttyS0` is the kernel console (a log file, or the terminal for an
//! interactive shell), `ttyS1` carries the guest command's output and `ttyS2` its exit status,
//! each on a channel of its own so that nothing is parsed out of the kernel's messages.

use crate::shell::shell_quote;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The accelerator QEMU runs with. TCG is the default: on these machines a KVM guest hangs at
/// boot, so KVM is used only when asked for by name, never picked on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// Where the console goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Console {
    /// Into a log file only.
    File(PathBuf),
    /// On the terminal (interactive; Ctrl-A X quits), and copied into a log file.
    Terminal(PathBuf),
}

/// Everything QEMU is started with.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub cmdline: String,
    pub accel: Accel,
    /// TCG only: run every vCPU in one host thread (`thread=single`), see
    /// `kernel::Profile::tcg_one_thread` and `guest::GuestSpec::one_thread`.
    pub tcg_one_thread: bool,
    pub memory_mib: u32,
    pub cpus: u32,
    pub console: Console,
    pub output: PathBuf,
    pub control: PathBuf,
    /// Let a guest reboot (QEMU restarts it) instead of exiting when it does: the package
    /// test's system image reboots into its second job.
    pub reboot: bool,
    /// More arguments, appended as they are (the benchmark's `-icount` and `-plugin`).
    pub extra: Vec<String>,
}

impl QemuConfig {
    /// The arguments of `qemu-system-x86_64`.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        if self.accel == Accel::Tcg && self.tcg_one_thread {
            push(&["-accel", "tcg,thread=single"]);
        } else {
            push(&["-accel", self.accel.name()]);
        }
        push(&["-m", &format!("{}M", self.memory_mib)]);
        // One CPU per socket: SeaBIOS's MP table then lists every CPU, which a kernel without
        // ACPI needs to bring them up.
        push(&["-smp", &format!("{},sockets={}", self.cpus, self.cpus)]);
        push(&["-nodefaults", "-display", "none"]);
        if !self.reboot {
            push(&["-no-reboot"]);
        }
        push(&["-kernel", &self.kernel.display().to_string()]);
        push(&["-initrd", &self.initrd.display().to_string()]);
        push(&["-append", &self.cmdline]);
        match &self.console {
            Console::File(log) => push(&["-serial", &format!("file:{}", log.display())]),
            Console::Terminal(log) => {
                push(&[
                    "-chardev",
                    &format!("stdio,id=con,mux=on,signal=off,logfile={}", log.display()),
                ]);
                push(&[
                    "-serial",
                    "chardev:con",
                    "-mon",
                    "chardev=con,mode=readline",
                ]);
            }
        }
        push(&["-serial", &format!("file:{}", self.output.display())]);
        push(&["-serial", &format!("file:{}", self.control.display())]);
        a.extend(self.extra.iter().cloned());
        a
    }

    /// The whole command as one shell-quoted line, for logs.
    pub fn command_line(&self) -> String {
        std::iter::once("qemu-system-x86_64".to_string())
            .chain(self.args().iter().map(|a| shell_quote(a)))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a QEMU run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// QEMU exited by itself (the guest rebooted, panicked or was quit).
    Exited,
    /// The timeout ran out and QEMU was killed.
    TimedOut,
}

/// Starts QEMU and waits for it, killing it after `timeout` (if any). `on_tick` runs about
/// every 100 ms while it runs (used to stream the guest's output).
pub fn run(
    config: &QemuConfig,
    timeout: Option<Duration>,
    mut on_tick: impl FnMut(),
) -> Result<Ended> {
    for f in [&config.output, &config.control] {
        std::fs::write(f, b"").with_context(|| format!("creating {}", f.display()))?;
    }
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(config.args());
    if matches!(config.console, Console::File(_)) {
        cmd.stdin(Stdio::null()).stdout(Stdio::null());
    }
    let mut child = cmd
        .spawn()
        .context("starting qemu-system-x86_64 (is qemu-system-x86 installed?)")?;
    let start = Instant::now();
    loop {
        on_tick();
        if let Some(status) = child.try_wait()? {
            on_tick();
            if !status.success() {
                bail!("QEMU failed ({status}): see the console log");
            }
            return Ok(Ended::Exited);
        }
        if timeout.is_some_and(|t| start.elapsed() > t) {
            kill(&mut child);
            on_tick();
            return Ok(Ended::TimedOut);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Checks that the kernel image exists before QEMU is asked to boot it.
pub fn check_kernel(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("kernel image {} is missing", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(console: Console) -> QemuConfig {
        QemuConfig {
            kernel: "/k/bzImage".into(),
            initrd: "/k/initrd.cpio".into(),
            cmdline: "console=ttyS0 panic=-1".into(),
            accel: Accel::Tcg,
            tcg_one_thread: false,
            memory_mib: 1024,
            cpus: 2,
            console,
            output: "/l/out".into(),
            control: "/l/ctl".into(),
            reboot: false,
            extra: Vec::new(),
        }
    }

    #[test]
    fn serial_ports_are_console_output_control_in_order() {
        let args = config(Console::File("/l/console.log".into())).args();
        let serials: Vec<&str> = args
            .windows(2)
            .filter(|w| w[0] == "-serial")
            .map(|w| w[1].as_str())
            .collect();
        assert_eq!(
            serials,
            ["file:/l/console.log", "file:/l/out", "file:/l/ctl"]
        );
        assert!(args.windows(2).any(|w| w[0] == "-accel" && w[1] == "tcg"));
        assert!(args.iter().any(|a| a == "-no-reboot"));
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-smp" && w[1] == "2,sockets=2")
        );
    }

    #[test]
    fn one_thread_tcg_is_asked_for_by_name_and_only_under_tcg() {
        let mut c = config(Console::File("/l/console.log".into()));
        c.tcg_one_thread = true;
        let args = c.args();
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-accel" && w[1] == "tcg,thread=single")
        );
        c.accel = Accel::Kvm;
        let args = c.args();
        assert!(args.windows(2).any(|w| w[0] == "-accel" && w[1] == "kvm"));
    }

    #[test]
    fn interactive_console_is_muxed_with_the_monitor_and_logged() {
        let args = config(Console::Terminal("/l/c.log".into())).args();
        assert!(
            args.iter()
                .any(|a| a == "stdio,id=con,mux=on,signal=off,logfile=/l/c.log")
        );
        assert!(
            args.windows(2)
                .any(|w| w[0] == "-mon" && w[1] == "chardev=con,mode=readline")
        );
    }

    #[test]
    fn command_line_quotes_what_needs_it() {
        let line = config(Console::File("/l/c".into())).command_line();
        assert!(line.contains("-append 'console=ttyS0 panic=-1'"), "{line}");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
