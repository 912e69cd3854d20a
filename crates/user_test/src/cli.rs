// SPDX-License-Identifier: GPL-2.0

//! Command-line interface of `user_test`, compatible with the original `./user_test [m,r,w,p] {data}`.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

const EXAMPLES: &str = "\
Examples:
  user_test w \"Hello, World!\"   write at offset 0
  user_test r                   read it back
  user_test m \"This is a test\"  write through a mapping, then show the mapping
  user_test p 5                 the byte at offset 5 of the mapping
  user_test r --offset 0x10 --len 32 --hex
  user_test info";

/// Read, write, map and inspect the shared buffer of the mydev kernel module.
#[derive(Debug, Parser)]
#[command(name = "user_test", version, after_help = EXAMPLES)]
pub struct Cli {
    /// The device node.
    #[arg(long, global = true, value_name = "PATH", default_value = mydev::DEFAULT_PATH)]
    pub device: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// A byte offset or length: decimal, or hexadecimal with `0x`.
pub type Number = usize;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read the buffer with read(2) and print it as text up to the first NUL byte.
    #[command(
        name = "r",
        visible_alias = "read",
        after_help = "Example: user_test r --len 64 --hex"
    )]
    Read {
        /// Where to start reading.
        #[arg(long, default_value = "0", value_parser = parse_number)]
        offset: Number,
        /// How many bytes to read at most [default: 4096, capped at the end of the buffer].
        #[arg(long, value_parser = parse_number)]
        len: Option<Number>,
        /// Print a hex dump of every byte read instead of text.
        #[arg(long)]
        hex: bool,
    },
    /// Write DATA with write(2) and say how many bytes were written.
    #[command(
        name = "w",
        visible_alias = "write",
        after_help = "Example: user_test w \"Hello, World!\""
    )]
    Write {
        /// The bytes to write (taken as given, without a trailing NUL).
        data: OsString,
        /// Where to write.
        #[arg(long, default_value = "0", value_parser = parse_number)]
        offset: Number,
        /// Write only the first N bytes of DATA.
        #[arg(long, value_parser = parse_number)]
        len: Option<Number>,
    },
    /// Map the device; with DATA, store it through the mapping; print what the mapping holds.
    #[command(
        name = "m",
        visible_alias = "map",
        after_help = "Example: user_test m \"This is a test\""
    )]
    Map {
        /// Bytes to store through the mapping.
        data: Option<OsString>,
        /// Where in the mapping to store DATA and start printing.
        #[arg(long, default_value = "0", value_parser = parse_number)]
        offset: Number,
        /// How many bytes to print at most [default: to the end of the buffer].
        #[arg(long, value_parser = parse_number)]
        len: Option<Number>,
        /// Print a hex dump instead of text.
        #[arg(long)]
        hex: bool,
    },
    /// Map the device and print the byte at OFFSET, in hex and as a character when printable.
    #[command(
        name = "p",
        visible_alias = "peek",
        after_help = "Example: user_test p 5"
    )]
    Peek {
        /// Offset of the byte in the buffer.
        #[arg(value_parser = parse_number)]
        offset: Number,
    },
    /// Set every byte of the buffer to zero (the clear ioctl).
    Clear,
    /// Print the buffer size and the page size.
    Info,
}

/// Parses a decimal or `0x`-prefixed hexadecimal offset or length.
pub fn parse_number(s: &str) -> Result<Number, String> {
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() => Number::from_str_radix(hex, 16),
        _ => s.parse::<Number>(),
    };
    parsed.map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{s:?} is too large"),
        std::num::IntErrorKind::Empty => "a number is required".to_string(),
        _ => format!("{s:?} is not a non-negative number (decimal or 0x hex)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// The man page that mydev-tools installs describes every command as `--help` does.
    #[test]
    fn man_page_matches_the_help() {
        let page = include_str!("../../../packaging/user_test.1");
        let cli = Cli::command();
        let mut seen = 0;
        for sub in cli.get_subcommands() {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            let name = sub.get_name();
            assert!(
                page.contains(&format!(".BR {name} ")) || page.contains(&format!(".B {name}\n")),
                "the man page has no entry for `{name}`"
            );
            // roff breaks lines anywhere: compare the words.
            let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                words(page).contains(&words(&about)),
                "the man page's entry for `{name}` does not say {about:?}"
            );
            for alias in sub.get_visible_aliases() {
                assert!(page.contains(&format!("\", \" {alias}")), "alias {alias}");
            }
            seen += 1;
        }
        assert!(seen >= 6, "{seen} commands");
        assert!(page.contains("/dev/mydev") && page.contains(".BI \\-\\-device"));
    }
}
