// SPDX-License-Identifier: GPL-2.0

//! Command-line interface of `mydevctl`, and the parsing of sizes and names.

use clap::{Parser, Subcommand};
use mydev::buffers;
use std::path::PathBuf;

/// The configuration file that `apply` reads by default, and the boot-time unit too.
pub const DEFAULT_CONFIG: &str = "/etc/mydev/buffers.conf";

const EXAMPLES: &str = "\
Examples:
  mydevctl create cam 4M            a 4 MiB buffer, /dev/mydev-cam
  mydevctl create scratch 64K --no-huge
  mydevctl list
  mydevctl remove cam
  mydevctl apply                    make the buffers match /etc/mydev/buffers.conf";

/// Create, remove and list the buffers of the mydev kernel module (/dev/mydev-NAME), and make
/// them match a configuration file.
#[derive(Debug, Parser)]
#[command(name = "mydevctl", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The module's configfs directory.
    #[arg(long, global = true, value_name = "DIR", default_value = buffers::CONFIGFS_ROOT)]
    pub configfs: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the buffer NAME of SIZE bytes and its node /dev/mydev-NAME.
    #[command(after_help = "Example: mydevctl create cam 4M")]
    Create {
        /// 1 to 32 characters of A-Z a-z 0-9 _ . -, not starting with a dot.
        #[arg(value_parser = parse_name)]
        name: String,
        /// Bytes, or with a suffix K, M or G (powers of 1024): a multiple of the page size, at
        /// most 1G.
        #[arg(value_parser = parse_size)]
        size: u64,
        /// Use 4 KiB pages only (by default, each whole 2 MiB part is one 2 MiB page when the
        /// kernel has one).
        #[arg(long)]
        no_huge: bool,
    },
    /// Remove the buffer NAME; open files and mappings keep its bytes until they go.
    #[command(after_help = "Example: mydevctl remove cam")]
    Remove {
        /// The buffer's name.
        #[arg(value_parser = parse_name)]
        name: String,
    },
    /// List the buffers: name, size, huge setting, huge parts of parts, node, live.
    List,
    /// Make the buffers match FILE: create those missing, re-create those of another size or
    /// huge setting, and leave alone those that FILE does not name.
    #[command(after_help = "Example: mydevctl apply /etc/mydev/buffers.conf")]
    Apply {
        /// One `NAME SIZE [no-huge]` a line; `#` starts a comment.
        #[arg(default_value = DEFAULT_CONFIG)]
        file: PathBuf,
    },
}

/// Parses a buffer name (the module's rule, see [`buffers::check_name`]).
pub fn parse_name(s: &str) -> Result<String, String> {
    buffers::check_name(s).map(|()| s.to_string())
}

/// Parses a buffer size: bytes, or a number with `K`, `M` or `G` (powers of 1024, either case),
/// which must be a positive multiple of the page size and at most [`buffers::MAX_SIZE`].
pub fn parse_size(s: &str) -> Result<u64, String> {
    parse_size_with_page(s, mydev::page_size() as u64)
}

/// [`parse_size`] with the page size given.
pub fn parse_size_with_page(s: &str, page: u64) -> Result<u64, String> {
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        _ => (s, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{s:?} is not a size: use bytes, or a number with K, M or G (4096, 64K, 4M, 1G)"
        ));
    }
    let max = format_size(buffers::MAX_SIZE);
    let bytes = digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|&n| n <= buffers::MAX_SIZE)
        .ok_or_else(|| format!("{s} is larger than the largest buffer, {max}"))?;
    if bytes == 0 {
        return Err("a buffer cannot be empty: the size must be at least one page".into());
    }
    if bytes % page != 0 {
        return Err(format!(
            "{s} is not a multiple of the page size, {page} bytes"
        ));
    }
    Ok(bytes)
}

/// A size as `parse_size` reads it back: with the largest of G, M and K that divides it exactly.
pub fn format_size(bytes: u64) -> String {
    for (unit, shift) in [("G", 30), ("M", 20), ("K", 10)] {
        if bytes != 0 && bytes % (1 << shift) == 0 {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_take_bytes_and_k_m_g_suffixes() {
        let p = |s| parse_size_with_page(s, 4096);
        assert_eq!(p("4096"), Ok(4096));
        assert_eq!(p("4K"), Ok(4096));
        assert_eq!(p("64k"), Ok(65536));
        assert_eq!(p("4M"), Ok(4 << 20));
        assert_eq!(p("2m"), Ok(2 << 20));
        assert_eq!(p("1G"), Ok(1 << 30));
        assert_eq!(p("1024M"), Ok(1 << 30));
        assert_eq!(p("1073741824"), Ok(1 << 30));
    }

    #[test]
    fn sizes_past_the_limits_are_refused_with_the_reason() {
        let p = |s| parse_size_with_page(s, 4096);
        let refused = [
            ("0", "at least one page"),
            ("0K", "at least one page"),
            ("4097", "multiple of the page size, 4096"),
            ("2K", "multiple of the page size"),
            ("1025M", "larger than the largest buffer, 1G"),
            ("2G", "larger than the largest buffer"),
            ("1073745920", "larger than the largest buffer"),
            ("18446744073709551616", "larger than the largest buffer"),
            ("99999999999G", "larger than the largest buffer"),
            ("", "not a size"),
            ("K", "not a size"),
            ("-4K", "not a size"),
            ("4 K", "not a size"),
            ("4KB", "not a size"),
            ("1.5M", "not a size"),
            ("0x1000", "not a size"),
            ("4T", "not a size"),
        ];
        for (s, why) in refused {
            let e = p(s).unwrap_err();
            assert!(e.contains(why), "{s:?}: {e}");
        }
    }

    #[test]
    fn sizes_print_with_the_largest_exact_unit() {
        assert_eq!(format_size(4096), "4K");
        assert_eq!(format_size(4 << 20), "4M");
        assert_eq!(format_size(1 << 30), "1G");
        assert_eq!(format_size(3 << 20 | 4096), "3076K");
        assert_eq!(format_size(1000), "1000");
        for s in ["4K", "4M", "1G", "3076K"] {
            assert_eq!(format_size(parse_size_with_page(s, 4096).unwrap()), s);
        }
    }

    #[test]
    fn names_at_and_past_the_limits() {
        let longest = "n".repeat(32);
        assert_eq!(parse_name(&longest), Ok(longest.clone()));
        assert_eq!(parse_name("a"), Ok("a".into()));
        assert!(
            parse_name(&format!("{longest}n"))
                .unwrap_err()
                .contains("limit is 32")
        );
        assert!(parse_name("").is_err());
        assert!(parse_name(".cam").is_err());
        assert!(parse_name("cam/0").is_err());
    }

    #[test]
    fn commands_parse() {
        let cli = Cli::try_parse_from(["mydevctl", "create", "cam", "4M", "--no-huge"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Create { ref name, size, no_huge: true } if name == "cam" && size == 4 << 20
        ));
        let cli = Cli::try_parse_from(["mydevctl", "apply"]).unwrap();
        assert!(
            matches!(cli.command, Command::Apply { ref file } if file.to_str() == Some(DEFAULT_CONFIG))
        );
        assert_eq!(cli.configfs.to_str(), Some(buffers::CONFIGFS_ROOT));
        let cli = Cli::try_parse_from(["mydevctl", "list", "--configfs", "/tmp/x"]).unwrap();
        assert_eq!(cli.configfs.to_str(), Some("/tmp/x"));
        assert!(Cli::try_parse_from(["mydevctl", "create", "cam"]).is_err());
        assert!(Cli::try_parse_from(["mydevctl", "create", ".cam", "4K"]).is_err());
        assert!(Cli::try_parse_from(["mydevctl", "create", "cam", "4097"]).is_err());
        assert!(Cli::try_parse_from(["mydevctl", "remove"]).is_err());
    }

    /// The man page that mydev-tools installs describes every command as `--help` does.
    #[test]
    fn man_page_matches_the_help() {
        let page = include_str!("../../../packaging/mydevctl.1");
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let page_words = words(&page.replace("\\-", "-"));
        let cli = Cli::command();
        let mut seen = 0;
        for sub in cli.get_subcommands().filter(|s| s.get_name() != "help") {
            let name = sub.get_name();
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            assert!(
                page.contains(&format!(".B {name}\n")) || page.contains(&format!(".BR {name} ")),
                "the man page has no entry for `{name}`"
            );
            assert!(
                page_words.contains(&words(&about)),
                "the man page's entry for `{name}` does not say {about:?}"
            );
            for arg in sub.get_arguments().filter_map(|a| a.get_long()) {
                assert!(
                    page.contains(&format!("\\-\\-{}", arg.replace('-', "\\-"))),
                    "--{arg}"
                );
            }
            seen += 1;
        }
        assert_eq!(seen, 4);
        for needed in [
            DEFAULT_CONFIG,
            buffers::CONFIGFS_ROOT,
            "/dev/mydev\\-NAME",
            "no\\-huge",
        ] {
            assert!(
                page.contains(needed),
                "the man page does not mention {needed}"
            );
        }
    }
}
