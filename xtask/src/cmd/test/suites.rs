// SPDX-License-Identifier: GPL-2.0

//! The in-guest suites: which run, in which guests, the guest job that runs them, and the
//! counting of their output (TAP per suite, KUnit and kmemleak in the kernel's).

use crate::guest::run::GuestRun;
use crate::kernels::kernel::Kernel;
use crate::report::ktap::{self, Outcome};
use crate::report::tally::Tally;
use crate::shell::shell_quote;
use anyhow::Result;

/// The marker line the guest job prints before each suite's TAP output.
const SUITE_MARKER: &str = "# mydev-suite: ";

/// A passing result named `name`.
fn ok(name: &str) -> ktap::TestResult {
    ktap::TestResult {
        name: name.to_string(),
        outcome: Outcome::Pass,
    }
}

/// Markers around the kmemleak report in the guest output.
const KMEMLEAK_BEGIN: &str = "# mydev-kmemleak-begin";
const KMEMLEAK_END: &str = "# mydev-kmemleak-end";

/// After the suites: two kmemleak scans (an object is reported once it has been unreferenced
/// for 5 s), then the report between markers.
const KMEMLEAK_SCRIPT: &str = r##"mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
if [ -w /sys/kernel/debug/kmemleak ]; then
    echo scan > /sys/kernel/debug/kmemleak
    sleep 6
    echo scan > /sys/kernel/debug/kmemleak
    echo "# mydev-kmemleak-begin"
    cat /sys/kernel/debug/kmemleak
    echo "# mydev-kmemleak-end"
fi
"##;

/// The kmemleak report in the guest output: `None` when there is none at all (no scan ran).
pub fn kmemleak_report(output: &str) -> Option<String> {
    crate::guest::verdict::between(output, KMEMLEAK_BEGIN, KMEMLEAK_END).map(str::to_string)
}

/// The guest job: every suite in turn, each announced by a marker line, with `env` exported
/// first (`NAME=VALUE` pairs for the suites' options); then the kmemleak scan.
pub fn suites_script(suites: &[String], env: &[(String, String)]) -> String {
    let mut s = String::new();
    for (k, v) in env {
        s.push_str(&format!("export {k}={}\n", shell_quote(v)));
    }
    for name in suites {
        s.push_str(&format!(
            "echo '{SUITE_MARKER}{name}'\n/opt/mydev/{name}\necho \"# mydev-suite-exit: {name} $?\"\n"
        ));
    }
    s.push_str(KMEMLEAK_SCRIPT);
    s
}

/// Splits the guest output into each suite's text, by marker.
pub fn split_suites(output: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in output.lines() {
        if let Some(name) = line.strip_prefix(SUITE_MARKER) {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}
/// Counts one test-kernel guest's results into `tally`: its suites (`group`), kmemleak and
/// kernel trouble; its KUnit results go to `kunit` (merged across guests by the caller). Returns
/// the number of KUnit runs in its kernel log.
pub fn count_guest(
    label: &str,
    k: &Kernel,
    group: &[String],
    run: &GuestRun,
    tally: &mut Tally,
    kunit: &mut Vec<ktap::TestResult>,
) -> usize {
    let suites = split_suites(&run.output);
    for name in group {
        match suites.iter().find(|(n, _)| n == name) {
            None => tally.failure(name, "the suite never started (no output)"),
            Some((_, text)) => {
                let doc = ktap::parse(text);
                for r in &doc.results {
                    tally.result(name, r);
                }
                for e in &doc.errors {
                    tally.failure(name, e);
                }
            }
        }
    }
    let kunit_docs = ktap::kunit_documents(&run.console);
    if kunit_docs.is_empty() && k.has("KUNIT") {
        tally.failure(
            "kunit",
            &format!(
                "no KUnit results in the {label} guest's kernel log (is CONFIG_KUNIT on in the test kernel?)"
            ),
        );
    }
    for d in &kunit_docs {
        let doc = ktap::parse(d);
        kunit.extend(doc.results);
        for e in &doc.errors {
            tally.failure("kunit", e);
        }
    }
    let leaks = format!(
        "no_leaks_after_the_{}_guest",
        label.replace(['-', '.'], "_")
    );
    match kmemleak_report(&run.output) {
        // A distribution kernel without kmemleak: nothing to scan.
        None if !k.has("DEBUG_KMEMLEAK") => {}
        Some(r) if r.is_empty() => tally.result("kmemleak", &ok(&leaks)),
        Some(r) => tally.failure("kmemleak", &format!("{label} guest: kmemleak reports leaks:\n{r}")),
        None => tally.failure(
            "kmemleak",
            &format!("{label} guest: no kmemleak report (is CONFIG_DEBUG_KMEMLEAK on and debugfs mounted?)"),
        ),
    }
    for p in run.problems() {
        tally.failure("guest", &format!("{label}: {p}"));
    }
    kunit_docs.len()
}

/// The suites of the test kernel's second guest, which runs TCG in one host thread: the fuzzer,
/// the fault injection and the buffer tools are one process at a time, and the concurrent checker's four
/// processes still run on the guest's two vCPUs, which QEMU interleaves (the guest stays SMP:
/// IPIs, TLB shootdowns, preemption), at less CPU than a host thread per vCPU beside the other
/// guests.
pub const ONE_THREAD_SUITES: &[&str] = &["fuzz", "concurrent", "faults", "buffer-tools"];

/// The suites that need the kernel's fault injection (`CONFIG_FAULT_INJECTION`): the test
/// kernel's, not Debian's.
pub const FAULT_SUITES: &[&str] = &["faults"];

/// The test-kernel guests and their suites: the fuzzer, the concurrent checker, the fault
/// injection and the buffer tools in `test-fuzz`, the others in `test` (a group with no suite gets no guest).
pub fn guest_groups(names: &[String]) -> Vec<(&'static str, Vec<String>)> {
    let (fuzz, rest): (Vec<String>, Vec<String>) = names
        .iter()
        .cloned()
        .partition(|n| ONE_THREAD_SUITES.contains(&n.as_str()));
    [("test", rest), ("test-fuzz", fuzz)]
        .into_iter()
        .filter(|(_, group)| !group.is_empty())
        .collect()
}

/// The suites to run: all of `all`, or those that `wanted` names (an unknown name is an error
/// that lists the suites there are).
pub fn selected_suites(all: Vec<String>, wanted: &[String]) -> Result<Vec<String>> {
    if wanted.is_empty() {
        return Ok(all);
    }
    if let Some(bad) = wanted.iter().find(|w| !all.contains(w)) {
        anyhow::bail!("no suite named {bad:?}; the suites are {}", all.join(", "));
    }
    Ok(all.into_iter().filter(|n| wanted.contains(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_are_split_by_marker() {
        let out = "noise\n# mydev-suite: a\nTAP version 13\n1..1\nok 1 - x\n# mydev-suite-exit: a 0\n# mydev-suite: b\n";
        let s = split_suites(out);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].0, "a");
        assert!(s[0].1.starts_with("TAP version 13\n1..1\nok 1 - x\n"));
        assert_eq!(s[1], ("b".to_string(), String::new()));
        assert!(
            ktap::parse(&s[1].1).errors[0].contains("no TAP output"),
            "a suite that printed nothing fails"
        );
    }

    #[test]
    fn script_runs_each_suite_after_its_marker() {
        let s = suites_script(&["module-tests".to_string()], &[("A".into(), "1 2".into())]);
        assert!(s.starts_with(
            "export A='1 2'\necho '# mydev-suite: module-tests'\n/opt/mydev/module-tests\n\
             echo \"# mydev-suite-exit: module-tests $?\"\n"
        ));
        assert!(s.ends_with(KMEMLEAK_SCRIPT));
    }

    #[test]
    fn the_fuzzer_gets_a_guest_of_its_own() {
        let names: Vec<String> = ["module-tests", "fuzz", "concurrent", "stress", "faults"]
            .map(String::from)
            .to_vec();
        let g = guest_groups(&names);
        assert_eq!(g.len(), 2);
        assert_eq!(
            g[0],
            (
                "test",
                vec!["module-tests".to_string(), "stress".to_string()]
            )
        );
        assert_eq!(
            g[1],
            (
                "test-fuzz",
                vec![
                    "fuzz".to_string(),
                    "concurrent".to_string(),
                    "faults".to_string()
                ]
            )
        );
        assert_eq!(guest_groups(&["fuzz".to_string()]).len(), 1);
        assert_eq!(guest_groups(&["stress".to_string()])[0].0, "test");
    }

    #[test]
    fn suite_option_selects_suites_in_their_order_and_refuses_unknown_names() {
        let all = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        assert_eq!(selected_suites(all.clone(), &[]).unwrap(), all);
        assert_eq!(
            selected_suites(all.clone(), &["c".into(), "a".into()]).unwrap(),
            vec!["a".to_string(), "c".to_string()]
        );
        let e = selected_suites(all, &["fuzzz".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"fuzzz\"") && e.contains("a, b, c"), "{e}");
    }

    #[test]
    fn kmemleak_report_between_markers() {
        let out = "x\n# mydev-kmemleak-begin\n# mydev-kmemleak-end\n";
        assert_eq!(kmemleak_report(out).as_deref(), Some(""));
        let leak = "# mydev-kmemleak-begin\nunreferenced object 0xffff (size 64):\n  comm \"insmod\"\n\
                    # mydev-kmemleak-end\n";
        assert!(
            kmemleak_report(leak)
                .unwrap()
                .starts_with("unreferenced object")
        );
        assert_eq!(kmemleak_report("no scan"), None);
    }
}
