// SPDX-License-Identifier: GPL-2.0

//! Command-line interface of `user_test`, compatible with the original `./user_test [m,r,w,p] {data}`.

use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// What `--help` and the man page say about numbers.
pub const NUMBERS: &str = "\
Offsets and lengths are byte counts in decimal, or in hexadecimal with 0x (0x10 is 16);
they cannot be negative. --len 0 means zero bytes for every command.";

/// How to get the device: `--help`'s and the man page's set-up paragraph.
pub const SETUP: &str = "\
The device /dev/mydev exists while the kernel module mmap is loaded: sudo modprobe mmap
(the package mydev-dkms builds and installs it). Its udev rule gives the group mydev read
and write access: sudo usermod -aG mydev $USER, then log in again.";

/// The exit status, for `--help` and the man page.
pub const EXIT_STATUS: &str = "\
0 on success; 1 when the device cannot be opened, read, written or mapped, or the output
cannot be written (the message names the operation, the device and the system's error);
2 for bad arguments, including an offset or length outside the buffer.";

/// The examples, for `--help` and the man page.
pub const EXAMPLES: &str = "\
Examples:
  user_test w \"Hello, World!\"   write at offset 0
  user_test r                   read it back
  user_test m \"This is a test\"  write through a mapping, then show the mapping
  user_test p 5                 the byte at offset 5 of the mapping
  user_test r --offset 0x10 --len 32 --hex
  user_test info";

/// Read, write, map and inspect the shared buffer of the mydev kernel module.
#[derive(Debug, Parser)]
#[command(
    name = "user_test",
    version,
    after_help = after_help(),
    after_long_help = after_help()
)]
pub struct Cli {
    /// The device node.
    #[arg(long, global = true, value_name = "PATH", default_value = mydev::DEFAULT_PATH)]
    pub device: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

/// What `--help` prints after the options: numbers, set-up, exit status, examples.
fn after_help() -> String {
    format!("{NUMBERS}\n\nSetup:\n{SETUP}\n\nExit status:\n{EXIT_STATUS}\n\n{EXAMPLES}")
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
        /// Where to start reading (decimal or 0x hex).
        #[arg(long, default_value = "0", value_parser = parse_number, allow_negative_numbers = true)]
        offset: Number,
        /// How many bytes to read at most [default: 4096, capped at the end of the buffer].
        #[arg(long, value_parser = parse_number, allow_negative_numbers = true)]
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
        /// Where to write (decimal or 0x hex).
        #[arg(long, default_value = "0", value_parser = parse_number, allow_negative_numbers = true)]
        offset: Number,
        /// Write only the first N bytes of DATA.
        #[arg(long, value_parser = parse_number, allow_negative_numbers = true)]
        len: Option<Number>,
    },
    /// Map the device (read-only without DATA); with DATA, store it through the mapping; print
    /// what the mapping holds.
    #[command(
        name = "m",
        visible_alias = "map",
        after_help = "Example: user_test m \"This is a test\""
    )]
    Map {
        /// Bytes to store through the mapping.
        data: Option<OsString>,
        /// Where in the buffer to store DATA and start printing (decimal or 0x hex).
        #[arg(long, default_value = "0", value_parser = parse_number, allow_negative_numbers = true)]
        offset: Number,
        /// How many bytes to print at most [default: 4096, capped at the end of the buffer].
        #[arg(long, value_parser = parse_number, allow_negative_numbers = true)]
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
        /// Offset of the byte in the buffer (decimal or 0x hex).
        #[arg(value_parser = parse_number, allow_negative_numbers = true)]
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
    if s.starts_with('-') {
        return Err(format!(
            "{s:?} is negative: offsets and lengths count bytes from the start of the buffer"
        ));
    }
    parsed.map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => format!("{s:?} is too large"),
        std::num::IntErrorKind::Empty => "a number is required".to_string(),
        _ => format!("{s:?} is not a non-negative number (decimal or 0x hex)"),
    })
}
