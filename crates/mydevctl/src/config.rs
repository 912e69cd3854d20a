// SPDX-License-Identifier: GPL-2.0

//! The configuration file of `mydevctl apply`: one `NAME SIZE [no-huge]` a line, `#` comments.

use crate::cli::{parse_name, parse_size_with_page};
use std::fmt;

/// A buffer that the file asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The line it is on, from 1.
    pub line: usize,
    pub name: String,
    pub size: u64,
    pub huge: bool,
}

/// A line the parser refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Parses the whole file: every entry, or the first line that is wrong. `page` is the page size
/// that sizes must be multiples of.
pub fn parse(text: &str, page: u64) -> Result<Vec<Entry>, ParseError> {
    let mut entries: Vec<Entry> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |message: String| ParseError { line, message };
        let content = raw.split_once('#').map_or(raw, |(before, _)| before);
        let words: Vec<&str> = content.split_whitespace().collect();
        let (name, size, huge) = match words.as_slice() {
            [] => continue,
            [name, size] => (name, size, true),
            [name, size, "no-huge"] => (name, size, false),
            [_, _, other] => {
                return Err(err(format!(
                    "{other:?} is not an option: the only one is \"no-huge\""
                )));
            }
            [_] => {
                return Err(err(
                    "a SIZE must follow the name: NAME SIZE [no-huge]".into()
                ));
            }
            _ => {
                return Err(err(format!(
                    "{} words where NAME SIZE [no-huge] has at most 3",
                    words.len()
                )));
            }
        };
        let name = parse_name(name).map_err(err)?;
        let size = parse_size_with_page(size, page).map_err(err)?;
        if let Some(first) = entries.iter().find(|e| e.name == name) {
            return Err(err(format!(
                "{name} is already on line {}: a buffer is described once",
                first.line
            )));
        }
        entries.push(Entry {
            line,
            name,
            size,
            huge,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(line: usize, name: &str, size: u64, huge: bool) -> Entry {
        Entry {
            line,
            name: name.into(),
            size,
            huge,
        }
    }

    #[test]
    fn entries_comments_and_blank_lines() {
        let text = "# buffers\n\ncam 4M\n  scratch\t64K   no-huge  # for tests\nbig 1G#trailing\n";
        assert_eq!(
            parse(text, 4096),
            Ok(vec![
                entry(3, "cam", 4 << 20, true),
                entry(4, "scratch", 64 << 10, false),
                entry(5, "big", 1 << 30, true),
            ])
        );
        assert_eq!(parse("", 4096), Ok(vec![]));
        assert_eq!(parse("# only comments\n#cam 4M\n   \n", 4096), Ok(vec![]));
    }

    #[test]
    fn a_wrong_line_is_refused_with_its_number() {
        let refused = [
            ("cam\n", 1, "a SIZE must follow"),
            ("# c\ncam 4M\nother 4X\n", 3, "not a size"),
            ("cam 4M huge\n", 1, "\"huge\" is not an option"),
            ("cam 4M no-huge extra\n", 1, "4 words"),
            ("\n\n.cam 4M\n", 3, "cannot start with '.'"),
            ("cam 4097\n", 1, "multiple of the page size"),
            ("cam 2G\n", 1, "larger than the largest buffer"),
            ("cam 4M\nx 4K\ncam 8M\n", 3, "cam is already on line 1"),
            ("n234567890123456789012345678901234 4K\n", 1, "limit is 32"),
        ];
        for (text, line, why) in refused {
            let e = parse(text, 4096).unwrap_err();
            assert_eq!(e.line, line, "{text:?}: {e}");
            assert!(e.message.contains(why), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("line {line}: ")));
        }
    }

    /// `/etc/mydev/buffers.conf` as the package ships it: nothing, and its examples once
    /// uncommented.
    #[test]
    fn the_shipped_example_creates_nothing_and_its_examples_parse() {
        let text = include_str!("../../../packaging/buffers.conf");
        assert_eq!(parse(text, 4096), Ok(vec![]));
        let uncommented: String = text
            .lines()
            .map(|l| {
                l.strip_prefix('#')
                    .filter(|r| !r.starts_with([' ', '\t']))
                    .unwrap_or(l)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let names: Vec<String> = parse(&uncommented, 4096)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["cam0", "cam1", "scratch"]);
    }

    #[test]
    fn a_name_of_32_characters_is_accepted() {
        let name = "n".repeat(32);
        assert_eq!(
            parse(&format!("{name} 4K"), 4096),
            Ok(vec![entry(1, &name, 4096, true)])
        );
    }
}
