// SPDX-License-Identifier: GPL-2.0

//! `mydevctl apply`: what to change so that the buffers match the configuration file, and
//! doing it. Buffers that the file does not name are left alone.

use crate::cli::format_size;
use crate::config::Entry;
use mydev::buffers::{BufferInfo, Buffers, Error};

/// What to do about one entry of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step<'a> {
    /// Live with the right size and huge setting: nothing.
    Keep(&'a Entry),
    /// No such buffer: create it.
    Create(&'a Entry),
    /// The directory exists but is not live: set its size and huge setting, make it live.
    MakeLive { entry: &'a Entry, was: BufferInfo },
    /// Live with another size or huge setting: remove it and create it again (its bytes go).
    Recreate { entry: &'a Entry, was: BufferInfo },
}

/// The steps, in the file's order, and the buffers the file does not name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    pub steps: Vec<Step<'a>>,
    pub left_alone: Vec<String>,
}

/// The plan that makes `current` match `wanted`.
pub fn plan<'a>(current: &[BufferInfo], wanted: &'a [Entry]) -> Plan<'a> {
    let steps = wanted
        .iter()
        .map(
            |entry| match current.iter().find(|b| b.name == entry.name) {
                None => Step::Create(entry),
                Some(b) if !b.live => Step::MakeLive {
                    entry,
                    was: b.clone(),
                },
                Some(b) if b.size == entry.size && b.huge == entry.huge => Step::Keep(entry),
                Some(b) => Step::Recreate {
                    entry,
                    was: b.clone(),
                },
            },
        )
        .collect();
    let left_alone = current
        .iter()
        .filter(|b| !wanted.iter().any(|e| e.name == b.name))
        .map(|b| b.name.clone())
        .collect();
    Plan { steps, left_alone }
}

/// `4M, huge` or `64K, no-huge`.
pub fn shape(size: u64, huge: bool) -> String {
    format!(
        "{}, {}",
        format_size(size),
        if huge { "huge" } else { "no-huge" }
    )
}

/// Carries out `plan`, calling `report` with a line for each change as it is made; returns how
/// many buffers were left unchanged. Stops at the first failure.
pub fn execute(
    buffers: &Buffers,
    plan: &Plan<'_>,
    mut report: impl FnMut(String),
) -> Result<usize, Error> {
    let mut unchanged = 0;
    for step in &plan.steps {
        match step {
            Step::Keep(_) => unchanged += 1,
            Step::Create(e) => {
                let b = buffers.create(&e.name, e.size, e.huge)?;
                report(format!(
                    "created {}: {} ({})",
                    e.name,
                    shape(e.size, e.huge),
                    b.node().display()
                ));
            }
            Step::MakeLive { entry: e, was } => {
                let b = buffers.activate(&e.name, e.size, e.huge)?;
                report(format!(
                    "made {} live: {} (its directory was there, not live, with {}) ({})",
                    e.name,
                    shape(e.size, e.huge),
                    shape(was.size, was.huge),
                    b.node().display()
                ));
            }
            Step::Recreate { entry: e, was } => {
                buffers.remove(&e.name)?;
                report(format!(
                    "removed {} to re-create it: it was {}, the file says {}; its contents \
                     are gone (open files and mappings keep the old buffer until they close)",
                    e.name,
                    shape(was.size, was.huge),
                    shape(e.size, e.huge)
                ));
                let b = buffers.create(&e.name, e.size, e.huge)?;
                report(format!(
                    "re-created {}: {} ({})",
                    e.name,
                    shape(e.size, e.huge),
                    b.node().display()
                ));
            }
        }
    }
    Ok(unchanged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use crate::fake::Tree;

    #[test]
    fn plan_against_a_fake_configfs_tree() {
        let t = Tree::new();
        t.buffer("same", 4 << 20, true, true);
        t.buffer("bigger", 2 << 20, true, true);
        t.buffer("flat", 4 << 20, true, true);
        t.buffer("dormant", 8192, true, false);
        t.buffer("other", 4096, true, true);
        let wanted = parse(
            "same 4M\nbigger 4M\nflat 4M no-huge\ndormant 64K\nnew 1M no-huge\n",
            4096,
        )
        .unwrap();
        let current = t.buffers().list().unwrap();
        let p = plan(&current, &wanted);
        let get = |n: &str| current.iter().find(|b| b.name == n).unwrap().clone();
        assert_eq!(
            p.steps,
            vec![
                Step::Keep(&wanted[0]),
                Step::Recreate {
                    entry: &wanted[1],
                    was: get("bigger")
                },
                Step::Recreate {
                    entry: &wanted[2],
                    was: get("flat")
                },
                Step::MakeLive {
                    entry: &wanted[3],
                    was: get("dormant")
                },
                Step::Create(&wanted[4]),
            ]
        );
        assert_eq!(p.left_alone, ["other"]);
    }

    #[test]
    fn a_tree_that_matches_plans_nothing_to_change() {
        let t = Tree::new();
        t.buffer("cam", 4 << 20, true, true);
        t.buffer("raw", 64 << 10, false, true);
        let wanted = parse("cam 4M\nraw 64K no-huge\n", 4096).unwrap();
        let p = plan(&t.buffers().list().unwrap(), &wanted);
        assert!(p.steps.iter().all(|s| matches!(s, Step::Keep(_))), "{p:?}");
        assert!(p.left_alone.is_empty());
        let mut lines = Vec::new();
        assert_eq!(execute(&t.buffers(), &p, |l| lines.push(l)).unwrap(), 2);
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn executing_a_make_live_step_reports_what_changed() {
        let t = Tree::new();
        t.buffer("dormant", 8192, true, false);
        let wanted = parse("dormant 64K no-huge\n", 4096).unwrap();
        let p = plan(&t.buffers().list().unwrap(), &wanted);
        let mut lines = Vec::new();
        let unchanged = execute(&t.buffers(), &p, |l| lines.push(l)).unwrap();
        assert_eq!(unchanged, 0);
        assert_eq!(
            lines,
            [
                "made dormant live: 64K, no-huge (its directory was there, not live, with 8K, huge) \
              (/dev/mydev-dormant)"
            ]
        );
        let b = t.buffers().get("dormant").unwrap().unwrap();
        assert_eq!((b.size, b.huge, b.live), (64 << 10, false, true));
    }
}
