// SPDX-License-Identifier: GPL-2.0

//! A small TAP test runner for the suites that run inside the guest, and helpers for them.
//!
//! Each test runs in a child process of its own (the suite binary re-executed with
//! `--run NAME`), so a test that dies of `SIGBUS` or `SIGSEGV`, hangs, or leaks a mapping or a
//! file descriptor cannot affect the others. The parent prints TAP 13: `TAP version 13`, the
//! plan, then `ok N - name`, `not ok N - name` (with the child's output as `#` lines), or
//! `ok N - name # SKIP reason`.

pub mod cfs;
pub mod churn;
pub mod inject;
pub mod marks;
pub mod race;
pub mod sys;
pub mod uring;
pub mod v4l2;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

/// The result of one test: `Err` with a message on failure. A message starting with `SKIP: `
/// marks a skip (reported as such, never as a pass). Lines that a passing test prints starting
/// with `# ` are passed on as TAP diagnostics (figures such as operation counts).
pub type TestResult = Result<(), String>;

/// One test of a suite.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    pub name: &'static str,
    pub run: fn() -> TestResult,
}

/// How long one test may run before it is killed and reported as failed, unless
/// `MYDEV_TEST_TIMEOUT` (seconds) says otherwise: the harness raises it for the long runs of
/// `--full` and `--load-cycles`.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

/// The per-test timeout in force: `MYDEV_TEST_TIMEOUT` seconds, or [`TEST_TIMEOUT`].
fn test_timeout() -> Duration {
    std::env::var("MYDEV_TEST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(TEST_TIMEOUT, Duration::from_secs)
}

/// The exit status a child uses to report a skip.
const SKIP_STATUS: i32 = 77;

/// Runs the suite: the entry point of each suite binary.
pub fn main(tests: &[Test]) -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, name] = args.as_slice() {
        if flag == "--run" {
            return run_one(tests, name);
        }
    }
    // An argument selects the tests whose names contain it; `MYDEV_TESTS_SKIP` (comma-separated)
    // leaves out those whose names contain any of its words (the harness runs them in a boot of
    // another size).
    let filter = args.get(1).cloned();
    let skip = std::env::var("MYDEV_TESTS_SKIP").unwrap_or_default();
    let skipped = |name: &str| skip.split(',').any(|w| !w.is_empty() && name.contains(w));
    let selected: Vec<&Test> = tests
        .iter()
        .filter(|t| filter.as_deref().is_none_or(|f| t.name.contains(f)) && !skipped(t.name))
        .collect();
    println!("TAP version 13");
    println!("1..{}", selected.len());
    let mut failed = 0;
    for (i, t) in selected.iter().enumerate() {
        let n = i + 1;
        let start = Instant::now();
        let result = run_child(t.name);
        let took = format!("# {}: {:.2}s", t.name, start.elapsed().as_secs_f64());
        match result {
            Ok(Passed(figures)) => {
                println!("ok {n} - {}", t.name);
                // A passing test's figures, passed on as TAP diagnostics.
                for line in figures {
                    println!("{line}");
                }
            }
            Ok(Skipped(reason)) => println!("ok {n} - {} # SKIP {reason}", t.name),
            Err(msg) => {
                failed += 1;
                println!("not ok {n} - {}", t.name);
                for line in msg.lines() {
                    println!("# {line}");
                }
            }
        }
        println!("{took}");
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_one(tests: &[Test], name: &str) -> ExitCode {
    let Some(t) = tests.iter().find(|t| t.name == name) else {
        eprintln!("no test named {name}");
        return ExitCode::FAILURE;
    };
    match (t.run)() {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => match msg.strip_prefix("SKIP: ") {
            Some(reason) => {
                print!("{reason}");
                ExitCode::from(SKIP_STATUS as u8)
            }
            None => {
                eprintln!("{msg}");
                ExitCode::FAILURE
            }
        },
    }
}

/// How a test that did not fail ended.
enum Ended {
    /// Passed, with the `# ` lines it printed.
    Passed(Vec<String>),
    /// Skipped, with the reason.
    Skipped(String),
}
use Ended::{Passed, Skipped};

/// Runs one test in a child process.
fn run_child(name: &str) -> Result<Ended, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--run", name])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stderr = child.stderr.take().ok_or("no stderr")?;
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let timeout = test_timeout();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            break Some(st);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!(
            "timed out after {}s\n{out}{err}",
            timeout.as_secs()
        ));
    };
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(Passed(
            out.lines()
                .filter(|l| l.starts_with("# "))
                .map(str::to_string)
                .collect(),
        )),
        (Some(SKIP_STATUS), _) => Ok(Skipped(out.trim().to_string())),
        (Some(code), _) => Err(format!("exit status {code}\n{out}{err}")),
        (None, Some(sig)) => Err(format!("killed by signal {sig}\n{out}{err}")),
        (None, None) => Err(format!("ended without status\n{out}{err}")),
    }
}

/// Fails the test with a formatted message unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err(format!("{}:{}: check failed: {}", file!(), line!(), stringify!($cond)));
        }
    };
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(format!("{}:{}: {}", file!(), line!(), format!($($fmt)+)));
        }
    };
}

/// Fails the test unless the two values are equal, showing both.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(format!(
                "{}:{}: {} != {}\n  left: {:?}\n right: {:?}",
                file!(),
                line!(),
                stringify!($left),
                stringify!($right),
                l,
                r
            ));
        }
    }};
}

/// The list of a suite's tests from their function names: `tests![a, b]` is
/// `&[Test { name: "a", run: a }, Test { name: "b", run: b }]`.
#[macro_export]
macro_rules! tests {
    ($($f:ident),* $(,)?) => { &[$($crate::Test { name: stringify!($f), run: $f }),*] };
}

/// A numeric option of a suite: `flag N` on the command line, else the environment variable
/// `env`, else `default`.
pub fn arg(args: &[String], flag: &str, env: &str, default: u64) -> u64 {
    args.windows(2)
        .find(|w| w[0] == flag)
        .and_then(|w| w[1].parse().ok())
        .or_else(|| std::env::var(env).ok().and_then(|v| v.parse().ok()))
        .unwrap_or(default)
}

/// xorshift64*: small, seeded, and the same everywhere (the fuzzer's and the stress workers'
/// random choices).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with the given probability in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}
