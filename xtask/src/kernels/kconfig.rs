// SPDX-License-Identifier: GPL-2.0

//! Kernel configuration fragments: parsing, merging onto a `.config`, and checking the result.
//!
//! A fragment has the syntax of `.config`: `CONFIG_X=value` and `# CONFIG_X is not set`; other
//! comments and blank lines are ignored. Merging replaces an option's line or appends it, as
//! `scripts/kconfig/merge_config.sh` does; after `olddefconfig`, [`missing`] lists every request
//! that Kconfig did not honour (a dependency was missing), so that a build never silently lacks
//! an option a fragment asked for.

use anyhow::{Result, bail};

/// One option setting: `CONFIG_NAME=value`, or `value == None` for "is not set".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: String,
    pub value: Option<String>,
}

impl Setting {
    /// The `.config` line for this setting.
    pub fn line(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}", self.name),
            None => format!("# {} is not set", self.name),
        }
    }
}

/// Parses one line: a setting, or `None` for blank lines and comments.
fn parse_line(line: &str) -> Option<Setting> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("# ") {
        let name = rest.strip_suffix(" is not set")?;
        return name.starts_with("CONFIG_").then(|| Setting {
            name: name.to_string(),
            value: None,
        });
    }
    let (name, value) = line.split_once('=')?;
    (name.starts_with("CONFIG_") && !name.contains(char::is_whitespace)).then(|| Setting {
        name: name.to_string(),
        value: Some(value.to_string()),
    })
}

/// Parses a fragment; any line that is neither a setting, a comment nor blank is an error.
pub fn parse_fragment(text: &str, origin: &str) -> Result<Vec<Setting>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        match parse_line(trimmed) {
            Some(s) => out.push(s),
            None if trimmed.is_empty() || trimmed.starts_with('#') => {}
            None => bail!("{origin}:{}: not a kernel config line: {trimmed:?}", i + 1),
        }
    }
    Ok(out)
}

/// Applies `settings` (later ones win) to the text of a `.config`.
pub fn merge(config: &str, settings: &[Setting]) -> String {
    let mut lines: Vec<String> = config.lines().map(str::to_string).collect();
    for s in settings {
        let existing = lines
            .iter()
            .position(|l| parse_line(l).is_some_and(|o| o.name == s.name));
        match existing {
            Some(i) => lines[i] = s.line(),
            None => lines.push(s.line()),
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The requested settings that the final `.config` does not have, as `(request, actual)` lines.
///
/// An option that is absent from `.config` counts as "is not set".
pub fn missing(config: &str, requested: &[Setting]) -> Vec<(String, String)> {
    let actual: Vec<Setting> = config.lines().filter_map(parse_line).collect();
    // Later requests win, as in `merge`: check only the last request for each option.
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for want in requested.iter().rev() {
        if !seen.insert(want.name.clone()) {
            continue;
        }
        let have = actual.iter().find(|a| a.name == want.name);
        let have_value = have.and_then(|a| a.value.clone());
        let ok = match (&want.value, &have_value) {
            (None, None) => true,
            (None, Some(v)) => v == "n",
            (Some(w), Some(v)) => w == v,
            (Some(_), None) => false,
        };
        if !ok {
            let got = have
                .map(Setting::line)
                .unwrap_or_else(|| format!("{} absent", want.name));
            out.push((want.line(), got));
        }
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: Option<&str>) -> Setting {
        Setting {
            name: name.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn parses_settings_and_skips_comments() {
        let f = parse_fragment(
            "# comment\n\nCONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=\"x y\"\n",
            "f",
        )
        .unwrap();
        assert_eq!(
            f,
            vec![
                set("CONFIG_A", Some("y")),
                set("CONFIG_B", None),
                set("CONFIG_C", Some("\"x y\""))
            ]
        );
    }

    #[test]
    fn rejects_garbage_with_its_line_number() {
        let err = parse_fragment("CONFIG_A=y\nRUST=y\n", "frag.config")
            .unwrap_err()
            .to_string();
        assert!(err.contains("frag.config:2"), "{err}");
    }

    #[test]
    fn merge_replaces_and_appends() {
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=m\n";
        let merged = merge(
            config,
            &[
                set("CONFIG_B", Some("y")),
                set("CONFIG_C", None),
                set("CONFIG_D", Some("1")),
            ],
        );
        assert_eq!(
            merged,
            "CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\nCONFIG_D=1\n"
        );
    }

    #[test]
    fn later_settings_win() {
        let merged = merge("", &[set("CONFIG_A", Some("y")), set("CONFIG_A", None)]);
        assert_eq!(merged, "# CONFIG_A is not set\n");
        assert!(
            missing(
                &merged,
                &[set("CONFIG_A", Some("y")), set("CONFIG_A", None)]
            )
            .is_empty()
        );
    }

    #[test]
    fn missing_reports_dropped_options() {
        let config = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_N=n\n";
        let want = [
            set("CONFIG_A", Some("y")),
            set("CONFIG_B", Some("y")),
            set("CONFIG_C", Some("y")),
            set("CONFIG_N", None),
            set("CONFIG_Z", None),
        ];
        assert_eq!(
            missing(config, &want),
            vec![
                (
                    "CONFIG_B=y".to_string(),
                    "# CONFIG_B is not set".to_string()
                ),
                ("CONFIG_C=y".to_string(), "CONFIG_C absent".to_string()),
            ]
        );
    }
}
