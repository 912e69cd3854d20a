// SPDX-License-Identifier: GPL-2.0

//! Progress output: phases with their durations, and long commands that show they are alive.

use anyhow::{Context, Result, bail};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Formats a duration as `4.2s` or `3m07s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 60.0 {
        format!("{s:.1}s")
    } else {
        let whole = d.as_secs();
        format!("{}m{:02}s", whole / 60, whole % 60)
    }
}

/// A named phase of the work; prints its start and, via [`Phase::done`], its duration.
pub struct Phase {
    name: &'static str,
    start: Instant,
}

impl Phase {
    pub fn start(name: &'static str, what: &str) -> Self {
        eprintln!("==> [{name}] {what}");
        Self {
            name,
            start: Instant::now(),
        }
    }

    /// Prints a detail line of this phase.
    pub fn note(&self, what: &str) {
        eprintln!("    [{}] {what}", self.name);
    }

    pub fn done(self, what: &str) {
        eprintln!(
            "    [{}] {what} ({})",
            self.name,
            fmt_duration(self.start.elapsed())
        );
    }
}

/// Runs `cmd` with its output appended to `log`. While it runs, prints a line every
/// `heartbeat` with the elapsed time and the last line of the log; on failure, the error names
/// `step`, the log, and shows the log's last lines.
pub fn run_logged(step: &str, cmd: &mut Command, log: &Path, heartbeat: Duration) -> Result<()> {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let line = command_line(cmd);
    writeln!(file, "$ {line}")?;
    let out = file.try_clone()?;
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(file))
        .spawn()
        .with_context(|| format!("{step}: cannot start {:?}", cmd.get_program()))?;
    let mut next = heartbeat;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if start.elapsed() >= next {
            eprintln!(
                "    ... {step}: still running after {}; last: {}",
                fmt_duration(start.elapsed()),
                last_line(log)
            );
            next += heartbeat;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    if !status.success() {
        let tail = tail_lines(log, 15);
        let dir = cmd
            .get_current_dir()
            .map(|d| format!(" (in {})", d.display()))
            .unwrap_or_default();
        bail!(
            "{step} failed ({status}); command{dir}: {line}\nfull log: {}\n--- last lines ---\n{tail}",
            log.display()
        );
    }
    Ok(())
}

/// `cmd` as a line to paste into a shell.
pub fn command_line(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| crate::shell::shell_quote(&a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn last_line(log: &Path) -> String {
    let line = tail_lines(log, 1);
    let line = line.trim();
    let mut short: String = line.chars().take(100).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    short
}

/// The last `n` lines of a file (lossily decoded).
pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(4200)), "4.2s");
        assert_eq!(fmt_duration(Duration::from_secs(187)), "3m07s");
    }

    #[test]
    fn a_failing_step_names_itself_and_its_log() {
        let log = std::env::temp_dir().join(format!("mydev-ui-{}.log", std::process::id()));
        let err = run_logged(
            "demo step",
            Command::new("sh").args(["-c", "echo boom; exit 3"]),
            &log,
            Duration::from_secs(60),
        )
        .unwrap_err()
        .to_string();
        std::fs::remove_file(&log).ok();
        assert!(
            err.contains("demo step failed")
                && err.contains(&log.display().to_string())
                && err.contains("boom"),
            "{err}"
        );
    }

    #[test]
    fn commands_are_quoted_for_the_shell() {
        let mut c = Command::new("apt-get");
        c.args(["-o", "Dir::Cache=/a b", "source", "qemu=1:7.2+dfsg-7"]);
        assert_eq!(
            command_line(&c),
            "apt-get -o 'Dir::Cache=/a b' source qemu=1:7.2+dfsg-7"
        );
    }

    #[test]
    fn a_failed_command_is_named_in_its_error() {
        let log = std::env::temp_dir().join(format!("mydev-ui-test-{}.log", std::process::id()));
        let mut c = Command::new("sh");
        c.args(["-c", "echo oops; exit 3"]).current_dir("/");
        let e = format!(
            "{:#}",
            run_logged("failing", &mut c, &log, Duration::from_secs(30)).unwrap_err()
        );
        let _ = std::fs::remove_file(&log);
        assert!(
            e.contains("command (in /): sh -c 'echo oops; exit 3'"),
            "{e}"
        );
        assert!(e.contains("oops"), "{e}");
    }
}
