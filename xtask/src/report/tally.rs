// SPDX-License-Identifier: GPL-2.0

//! Counting results from every source (host unit tests, in-guest suites, KUnit, harness
//! self-tests) into the one closing line `N passed, M failed`.

use crate::report::ktap::{Outcome, TestResult};
use std::process::ExitCode;

#[derive(Debug, Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// `source: name (why)` of each failure, for the report.
    pub failures: Vec<String>,
}

impl Tally {
    pub fn result(&mut self, source: &str, r: &TestResult) {
        match r.outcome {
            Outcome::Pass => self.passed += 1,
            Outcome::Skip => self.skipped += 1,
            Outcome::Fail => {
                self.failed += 1;
                self.failures.push(format!("{source}: {}", r.name));
            }
        }
    }

    /// Counts one passing test that has no TAP result of its own.
    pub fn pass(&mut self, _source: &str, _name: &str) {
        self.passed += 1;
    }

    /// Counts one failure that is not a named test's (a crash, a missing report).
    pub fn failure(&mut self, source: &str, why: &str) {
        self.failed += 1;
        self.failures.push(format!("{source}: {why}"));
    }

    /// Adds another tally's counts and failures.
    pub fn merge(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.skipped += other.skipped;
        self.failures.extend(other.failures);
    }

    /// Prints the failures, `note` (if any) and the closing line; the exit status of the
    /// command whose tally this is.
    pub fn finish(&self, note: &str) -> ExitCode {
        for f in &self.failures {
            eprintln!("  {f}");
        }
        if !note.is_empty() {
            eprintln!("{note}");
        }
        println!("{}", self.line());
        if self.failed == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }

    /// The closing line.
    pub fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            s.push_str(&format!(", {} skipped", self.skipped));
        }
        s
    }
}

/// Counts from libtest's summary lines (`test result: ok. 7 passed; 0 failed; 1 ignored; …`),
/// and the names of failed tests (`test a::b ... FAILED`).
pub fn libtest_counts(output: &str) -> (usize, usize, usize, Vec<String>) {
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    let mut names = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix("test result: ") {
            for part in rest.split(';') {
                let words: Vec<&str> = part.split_whitespace().collect();
                let (n, what) = match words.as_slice() {
                    [.., n, what] => (n.parse::<usize>().unwrap_or(0), *what),
                    _ => continue,
                };
                match what {
                    "passed" => passed += n,
                    "failed" => failed += n,
                    "ignored" => ignored += n,
                    _ => {}
                }
            }
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|l| l.strip_suffix(" ... FAILED"))
        {
            names.push(name.to_string());
        }
    }
    (passed, failed, ignored, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_line() {
        let mut t = Tally::default();
        t.result(
            "s",
            &TestResult {
                name: "p".into(),
                outcome: Outcome::Pass,
            },
        );
        t.result(
            "s",
            &TestResult {
                name: "a".into(),
                outcome: Outcome::Fail,
            },
        );
        assert_eq!(t.line(), "1 passed, 1 failed");
        t.result(
            "s",
            &TestResult {
                name: "b".into(),
                outcome: Outcome::Skip,
            },
        );
        assert_eq!(t.line(), "1 passed, 1 failed, 1 skipped");
        assert_eq!(t.failures, ["s: a"]);
    }

    #[test]
    fn libtest_summaries_add_up() {
        let out = "running 3 tests\ntest a ... ok\ntest m::b ... FAILED\n\
            test result: FAILED. 2 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
            test result: ok. 5 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n";
        assert_eq!(libtest_counts(out), (7, 1, 1, vec!["m::b".to_string()]));
    }
}
