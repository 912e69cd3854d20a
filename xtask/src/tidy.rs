// SPDX-License-Identifier: GPL-2.0

//! Repository hygiene, checked as host-side unit tests (`cargo test -p xtask tidy`): every
//! source file starts with its SPDX line, and every `unsafe` block or impl has a `SAFETY:`
//! comment right above it (as rust-analyzer's `xtask/src/tidy.rs` checks its own rules).

use std::path::{Path, PathBuf};

/// Source files that must carry an SPDX line: by extension, or by name.
fn is_source(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("rs" | "c" | "h" | "sh" | "toml" | "rules" | "conf")
    ) && name != "Cargo.lock"
        || matches!(name, "Makefile" | "Kbuild" | "run")
}

/// Files tracked by git under `repo`, or every file when git cannot answer.
fn files(repo: &Path) -> Vec<PathBuf> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => o
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| repo.join(String::from_utf8_lossy(p).as_ref()))
            .collect(),
        _ => Vec::new(),
    }
}

/// `line` with the contents of its string literals removed (so that `"unsafe {"` in a string
/// is not code).
fn without_strings(line: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in line.chars() {
        if in_string {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => escaped = false,
            }
        } else {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

/// The problems of one file's text: a missing SPDX line, and `unsafe` without `SAFETY:`.
pub fn check_text(name: &str, text: &str, rust: bool) -> Vec<String> {
    let mut problems = Vec::new();
    if !text
        .lines()
        .take(3)
        .any(|l| l.contains("SPDX-License-Identifier:"))
    {
        problems.push(format!(
            "{name}: no SPDX-License-Identifier line at the top"
        ));
    }
    if !rust {
        return problems;
    }
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let code = without_strings(line);
        let code = code.split("//").next().unwrap_or("");
        if !(code.contains("unsafe {") || code.trim_start().starts_with("unsafe impl")) {
            continue;
        }
        // Walk up through the lines of the same statement (a call or `let` split by rustfmt),
        // then through the comment block right above it.
        let mut documented = false;
        let mut in_comments = false;
        for l in lines[..i].iter().rev() {
            let t = l.trim();
            if t.starts_with("//") || t.starts_with("#[") {
                in_comments = true;
                if t.contains("SAFETY:") {
                    documented = true;
                    break;
                }
            } else if in_comments
                || t.is_empty()
                || t.ends_with(';')
                || t.ends_with('{')
                || t.ends_with('}')
            {
                break;
            }
        }
        if !documented {
            problems.push(format!(
                "{name}:{}: `unsafe` without a `// SAFETY:` comment right above it",
                i + 1
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_file_has_spdx_and_every_unsafe_a_safety_comment() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let files = files(repo);
        assert!(
            files.len() > 20,
            "git ls-files found only {} files",
            files.len()
        );
        let mut problems = Vec::new();
        let mut checked = 0;
        for f in files.iter().filter(|f| is_source(f)) {
            let Ok(text) = std::fs::read_to_string(f) else {
                continue;
            };
            let name = f.strip_prefix(repo).unwrap_or(f).display().to_string();
            problems.extend(check_text(&name, &text, name.ends_with(".rs")));
            checked += 1;
        }
        assert!(checked > 20);
        assert!(problems.is_empty(), "tidy:\n{}", problems.join("\n"));
    }

    #[test]
    fn the_checks_catch_what_they_name() {
        let bad = "fn f() {\n    let x = unsafe { g() };\n}\n";
        let p = check_text("a.rs", bad, true);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("SPDX") && p[1].contains("a.rs:2"));
        let good = "// SPDX-License-Identifier: GPL-2.0\n// SAFETY: g has no preconditions.\nlet x = unsafe { g() };\n";
        assert!(check_text("b.rs", good, true).is_empty());
        let far = "// SPDX-License-Identifier: GPL-2.0\n// SAFETY: stale\nlet y = 1;\nlet x = unsafe { g() };\n";
        assert_eq!(check_text("c.rs", far, true).len(), 1);
        assert!(
            check_text(
                "d.rs",
                "// SPDX-License-Identifier: GPL-2.0\n// unsafe { in a comment }\n",
                true
            )
            .is_empty()
        );
    }
}
