// SPDX-License-Identifier: GPL-2.0

//! The harness's layout, checked as host-side unit tests (`cargo test -p xtask layout`): no
//! module of `xtask/src` imports one that imports it back (directly or through others), none
//! imports from the crate root (`main.rs`), and no file grows past a few screens.
//!
//! The graph is read from the sources: every `crate::a::b…` or `super::…` path in a file (its
//! unit tests left out) is an edge to the longest module prefix that exists. A child naming its
//! own parent (`super::Packages` in `package/build.rs`) is how Rust nests modules, not a cycle,
//! and is left out, except for the root: nothing may import from `main.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The longest a harness file may be, in lines.
const MAX_LINES: usize = 650;

/// Module path (`kernels::stock`, `""` for the root) → source, for every `.rs` under `dir`.
fn modules(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(dir).unwrap_or(&p).with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts.last().is_some_and(|l| l == "mod" || l == "main") {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                out.insert(parts.join("::"), text);
            }
        }
    }
    out
}

/// The module a `crate::…` or `super::…` path in module `from` names: the longest prefix that
/// is a module.
fn target(path: &str, from: &str, mods: &BTreeMap<String, String>) -> Option<String> {
    let mut parts: Vec<&str> = path.split("::").collect();
    let mut base: Vec<&str> = if from.is_empty() {
        Vec::new()
    } else {
        from.split("::").collect()
    };
    match parts.first() {
        Some(&"crate") => {
            parts.remove(0);
            base.clear();
        }
        Some(&"super") => {
            while parts.first() == Some(&"super") {
                parts.remove(0);
                base.pop();
            }
        }
        _ => return None,
    }
    base.extend(parts);
    (0..=base.len())
        .rev()
        .map(|i| base[..i].join("::"))
        .find(|m| mods.contains_key(m))
}

/// `text` with one-level grouped imports spelled out: `use crate::{a, b::c};` becomes
/// `crate::a crate::b::c`, so that each item is a path of its own.
fn expand_groups(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("::{") {
        let head = &rest[..at];
        let start = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .map_or(0, |i| i + 1);
        let prefix = &head[start..];
        let Some(end) = rest[at..].find('}') else {
            break;
        };
        out.push_str(&rest[..start]);
        for item in rest[at + 3..at + end].split(',') {
            let item = item.split_whitespace().next().unwrap_or("");
            if !item.is_empty() {
                out.push_str(&format!(" {prefix}::{item} "));
            }
        }
        rest = &rest[at + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Every module's imports of other modules (not its own ancestors).
fn graph(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let mut g = BTreeMap::new();
    for (m, text) in mods {
        let code: String = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or("")
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let code = expand_groups(&code);
        let mut edges = BTreeSet::new();
        for word in code.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')) {
            let word = word.trim_end_matches(':');
            if !(word.starts_with("crate::") || word.starts_with("super::")) {
                continue;
            }
            if let Some(t) = target(word, m, mods) {
                // The root is everyone's ancestor, but importing from it is what is ruled out.
                let ancestor = !t.is_empty() && m.starts_with(&format!("{t}::"));
                if &t != m && !ancestor {
                    edges.insert(t);
                }
            }
        }
        g.insert(m.clone(), edges);
    }
    g
}

/// The modules that lie on a cycle of `g`, each cycle's members together (Tarjan's strongly
/// connected components of more than one module).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        g: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        for w in s.g.get(v).into_iter().flatten() {
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let lw = s.low[w.as_str()];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.stack.contains(&w.as_str()) {
                let iw = s.index[w.as_str()];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                comp.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if comp.len() > 1 {
                comp.sort();
                s.out.push(comp);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn harness() -> BTreeMap<String, String> {
        modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
    }

    #[test]
    fn the_harness_has_no_import_cycle_and_no_import_from_the_root() {
        let mods = harness();
        assert!(mods.len() > 40, "only {} modules found", mods.len());
        let g = graph(&mods);
        assert_eq!(cycles(&g), Vec::<Vec<String>>::new());
        let from_root: Vec<&String> = g
            .iter()
            .filter(|(m, e)| !m.is_empty() && e.contains(""))
            .map(|(m, _)| m)
            .collect();
        assert!(from_root.is_empty(), "import from main.rs: {from_root:?}");
    }

    #[test]
    fn harness_files_stay_within_a_few_screens() {
        let long: Vec<(String, usize)> = harness()
            .into_iter()
            .map(|(m, t)| (m, t.lines().count()))
            .filter(|(_, n)| *n > MAX_LINES)
            .collect();
        assert!(long.is_empty(), "longer than {MAX_LINES} lines: {long:?}");
    }

    #[test]
    fn the_checks_find_a_planted_cycle_and_a_root_import() {
        let mods: BTreeMap<String, String> = [
            ("", "mod a; mod b; pub struct Opts;"),
            ("a", "use crate::{b::thing, b};"),
            ("b", "use super::a::other; use crate::Opts;"),
            ("b::c", "use super::Thing;"),
        ]
        .into_iter()
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect();
        let g = graph(&mods);
        assert_eq!(cycles(&g), vec![vec!["a".to_string(), "b".to_string()]]);
        assert!(g["b"].contains(""), "{g:?}");
        assert!(
            g["b::c"].is_empty(),
            "a child naming its parent is no edge: {g:?}"
        );
    }
}
