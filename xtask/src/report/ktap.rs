// SPDX-License-Identifier: GPL-2.0

//! A parser for the TAP 13 / KTAP output of the guest suites and of KUnit.
//!
//! Only leaf results count as tests: a result line that closes a block of indented subtests is
//! that suite's summary. Every block must carry a plan (`1..N`) and exactly N results; a
//! document that stops early (a crash, a hang, a test that never reports) is an error, never a
//! pass.

use std::collections::BTreeMap;

/// The verdict of one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Pass,
    Skip,
    Fail,
}

/// One leaf test result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestResult {
    /// The names of the enclosing subtests and of the test, joined with `.`.
    pub name: String,
    pub outcome: Outcome,
}

/// What one document said.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Document {
    pub results: Vec<TestResult>,
    /// Structural problems: missing or unmet plans.
    pub errors: Vec<String>,
}

impl Document {
    /// Whether its results include a failure, or it has a structural problem.
    pub fn has_failure(&self) -> bool {
        !self.errors.is_empty() || self.results.iter().any(|r| r.outcome == Outcome::Fail)
    }
}

struct Level {
    indent: usize,
    plan: Option<usize>,
    count: usize,
    /// Name announced by `# Subtest: NAME`, used until the closing result line names it.
    subtest: Option<String>,
}

/// Opens a nested level at `indent` unless the innermost one is already that deep.
fn open_level(stack: &mut Vec<Level>, indent: usize) {
    if stack.last().is_none_or(|l| indent > l.indent) {
        stack.push(Level {
            indent,
            plan: None,
            count: 0,
            subtest: None,
        });
    }
}

/// Parses a result line (`ok 3 - name # SKIP why`), without its indentation.
fn parse_result(line: &str) -> Option<(bool, String, bool)> {
    let (ok, rest) = if let Some(r) = line.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = line.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    let rest = rest.strip_prefix(' ')?;
    let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
    num.parse::<usize>().ok()?;
    let (desc, directive) = match rest.split_once(" # ") {
        Some((d, dir)) => (d, dir),
        None => match rest.strip_prefix("# ") {
            Some(dir) => ("", dir),
            None => (rest, ""),
        },
    };
    let desc = desc.trim().trim_start_matches("- ").trim().to_string();
    let skip = directive
        .trim_start()
        .to_ascii_uppercase()
        .starts_with("SKIP");
    Some((ok, desc, skip))
}

/// Parses one TAP/KTAP document.
pub fn parse(text: &str) -> Document {
    let mut doc = Document::default();
    let mut stack: Vec<Level> = Vec::new();
    let mut just_closed: Option<Level> = None;
    let mut started = false;

    for raw in text.lines() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        if trimmed.is_empty() {
            continue;
        }
        if trimmed.starts_with("KTAP version") || trimmed.starts_with("TAP version") {
            started = true;
            open_level(&mut stack, indent);
            continue;
        }
        if !started {
            continue;
        }
        if level_line(&mut stack, trimmed, indent) {
            continue;
        }
        let Some((ok, desc, skip)) = parse_result(trimmed) else {
            continue;
        };
        // Close deeper levels: this result line is their summary.
        while stack.len() > 1 && stack.last().is_some_and(|l| l.indent > indent) {
            if let Some(child) = stack.pop() {
                check_plan(&child, &mut doc);
                just_closed = Some(child);
            }
        }
        open_level(&mut stack, indent);
        // KUnit announces `# Subtest: NAME` at the indentation of the suite's own results.
        let prefix: Vec<String> = stack.iter().filter_map(|l| l.subtest.clone()).collect();
        if let Some(l) = stack.last_mut() {
            l.count += 1;
        }
        if just_closed.take().is_some() {
            summary(&mut doc, &prefix, &desc, ok);
            continue;
        }
        let outcome = match (ok, skip) {
            (_, true) => Outcome::Skip,
            (true, false) => Outcome::Pass,
            (false, false) => Outcome::Fail,
        };
        doc.results.push(TestResult {
            name: join(&prefix, &desc),
            outcome,
        });
    }
    if !started {
        doc.errors
            .push("no TAP output (no `TAP version` line)".to_string());
    }
    while let Some(level) = stack.pop() {
        check_plan(&level, &mut doc);
    }
    doc
}

/// A `# Subtest:` or plan line opens its level (KUnit announces the subtest at the child's
/// indentation) and names it or gives its plan. Whether `trimmed` was one.
fn level_line(stack: &mut Vec<Level>, trimmed: &str, indent: usize) -> bool {
    if let Some(name) = trimmed.strip_prefix("# Subtest: ") {
        open_level(stack, indent);
        if let Some(l) = stack.last_mut() {
            l.subtest = Some(name.trim().to_string());
        }
        return true;
    }
    if let Some(plan) = trimmed.strip_prefix("1..") {
        let n = plan
            .split_whitespace()
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        open_level(stack, indent);
        if let Some(l) = stack.last_mut() {
            l.plan = n;
        }
        return true;
    }
    false
}

/// A suite's summary line: its failure is already counted in its leaves, unless it failed with
/// no failing leaf (e.g. the suite's init failed), which must not pass.
fn summary(doc: &mut Document, prefix: &[String], desc: &str, ok: bool) {
    if !ok
        && !doc
            .results
            .iter()
            .any(|r| r.outcome == Outcome::Fail && r.name.starts_with(desc))
    {
        doc.results.push(TestResult {
            name: join(prefix, desc),
            outcome: Outcome::Fail,
        });
    }
}

fn join(prefix: &[String], name: &str) -> String {
    let mut parts = prefix.to_vec();
    parts.push(name.to_string());
    parts.join(".")
}

fn check_plan(level: &Level, doc: &mut Document) {
    let what = level.subtest.as_deref().unwrap_or("document");
    match level.plan {
        None => doc.errors.push(format!(
            "{what}: no plan (1..N) after {} results",
            level.count
        )),
        Some(n) if n != level.count => doc.errors.push(format!(
            "{what}: planned {n} tests, {} reported",
            level.count
        )),
        Some(_) => {}
    }
}

/// Extracts the KTAP documents that KUnit printed into a kernel console log.
///
/// Each line's `[ timestamp] ` prefix is removed; a document starts at a top-level
/// `KTAP version` line and runs to the next one or to the end of the log. Lines that are not
/// KTAP (other kernel messages) are ignored by [`parse`].
pub fn kunit_documents(console: &str) -> Vec<String> {
    let mut docs: Vec<String> = Vec::new();
    for line in console.lines() {
        let line = strip_timestamp(line.trim_end_matches('\r'));
        if line.starts_with("KTAP version") {
            docs.push(String::new());
        }
        if let Some(doc) = docs.last_mut() {
            doc.push_str(line);
            doc.push('\n');
        }
    }
    docs
}

/// Removes a printk `[    1.234567] ` prefix.
pub fn strip_timestamp(line: &str) -> &str {
    if let Some(rest) = line.strip_prefix('[') {
        if let Some((stamp, after)) = rest.split_once("] ") {
            if stamp.trim().chars().all(|c| c.is_ascii_digit() || c == '.') {
                return after;
            }
        }
    }
    line
}

/// Merges results that appear several times (KUnit runs again at every `insmod`): one entry per
/// name, with its worst outcome.
pub fn merge_by_name(results: impl IntoIterator<Item = TestResult>) -> Vec<TestResult> {
    let mut map: BTreeMap<String, Outcome> = BTreeMap::new();
    for r in results {
        let e = map.entry(r.name).or_insert(r.outcome);
        *e = (*e).max(r.outcome);
    }
    map.into_iter()
        .map(|(name, outcome)| TestResult { name, outcome })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(doc: &Document, outcome: Outcome) -> Vec<&str> {
        doc.results
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.name.as_str())
            .collect()
    }

    #[test]
    fn flat_tap13() {
        let doc = parse(
            "TAP version 13\n1..3\nok 1 - a\nnot ok 2 - b\n# diag\nok 3 - c # SKIP no madvise\n",
        );
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        assert_eq!(names(&doc, Outcome::Pass), ["a"]);
        assert_eq!(names(&doc, Outcome::Fail), ["b"]);
        assert_eq!(names(&doc, Outcome::Skip), ["c"]);
    }

    #[test]
    fn a_document_that_stops_early_is_an_error() {
        let doc = parse("TAP version 13\n1..3\nok 1 - a\nok 2 - b\n");
        assert_eq!(doc.errors, ["document: planned 3 tests, 2 reported"]);
        let doc = parse("TAP version 13\nok 1 - a\n");
        assert_eq!(doc.errors.len(), 1);
        assert!(parse("").errors[0].contains("no TAP output"));
    }

    #[test]
    fn plan_at_the_end_is_accepted() {
        let doc = parse("TAP version 13\nok 1 - a\n1..1\n");
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
    }

    const KUNIT: &str = "\
[    1.000000] mmap: loading out-of-tree module taints kernel.
[    1.100000] KTAP version 1
[    1.100001] 1..1
[    1.100002]     KTAP version 1
[    1.100003]     # Subtest: mydev_range
[    1.100004]     # speed: normal
[    1.100005]     1..2
[    1.100006]     ok 1 size_parameter
[    1.100007]     not ok 2 io_span
[    1.100008] # mydev_range: pass:1 fail:1 skip:0 total:2
[    1.100009] # Totals: pass:1 fail:1 skip:0 total:2
[    1.100010] not ok 1 mydev_range
[    1.200000] mmap: created /dev/mydev, size 4096 bytes
";

    #[test]
    fn kunit_from_the_console() {
        let docs = kunit_documents(KUNIT);
        assert_eq!(docs.len(), 1);
        let doc = parse(&docs[0]);
        assert!(doc.errors.is_empty(), "{:?}", doc.errors);
        assert_eq!(names(&doc, Outcome::Pass), ["mydev_range.size_parameter"]);
        assert_eq!(names(&doc, Outcome::Fail), ["mydev_range.io_span"]);
    }

    #[test]
    fn a_failing_suite_without_failing_cases_fails() {
        let doc = parse(
            "KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: s\n    1..0\nnot ok 1 s\n",
        );
        assert_eq!(names(&doc, Outcome::Fail), ["s"]);
    }

    #[test]
    fn truncated_kunit_is_an_error() {
        let cut = KUNIT.lines().take(8).collect::<Vec<_>>().join("\n");
        let doc = parse(&kunit_documents(&cut)[0]);
        assert!(!doc.errors.is_empty());
    }

    #[test]
    fn repeated_runs_merge_to_the_worst() {
        let r = |n: &str, o| TestResult {
            name: n.into(),
            outcome: o,
        };
        let merged = merge_by_name([
            r("a", Outcome::Pass),
            r("b", Outcome::Pass),
            r("a", Outcome::Fail),
        ]);
        assert_eq!(merged, [r("a", Outcome::Fail), r("b", Outcome::Pass)]);
    }

    #[test]
    fn timestamps_are_stripped() {
        assert_eq!(strip_timestamp("[    0.123456] ok 1 x"), "ok 1 x");
        assert_eq!(strip_timestamp("[x] y"), "[x] y");
        assert_eq!(strip_timestamp("plain"), "plain");
    }
}
