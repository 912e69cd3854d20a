// SPDX-License-Identifier: GPL-2.0

//! `user_test`: the command-line tool of mydev.
//!
//! Exit status: 0 on success, 1 when the device fails, 2 for a usage error (bad arguments, or
//! an offset or length outside the buffer). Output to a closed pipe is not an error.

mod cli;
mod output;

use clap::Parser;
use cli::{Cli, Command};
use mydev::{Device, ErrorKind};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

/// Why `user_test` stopped.
#[derive(Debug)]
enum Failure {
    /// Bad arguments: exit status 2.
    Usage(String),
    /// The device failed: exit status 1.
    Device(mydev::Error),
    /// Writing the output failed (other than a closed pipe).
    Output(io::Error),
}

impl From<mydev::Error> for Failure {
    fn from(e: mydev::Error) -> Self {
        Failure::Device(e)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0, usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("user_test: cannot write output: {e}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("user_test: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Device(e)) => {
            eprintln!("user_test: {}", describe(&e));
            ExitCode::from(1)
        }
    }
}

/// The error line for a device failure, with advice where there is something to do.
fn describe(e: &mydev::Error) -> String {
    let hint = match (
        e.kind(),
        e.io_error().map(io::Error::kind),
        e.raw_os_error(),
    ) {
        (ErrorKind::Open, Some(io::ErrorKind::NotFound), _) => {
            " (is the mmap module loaded? load it with `insmod mmap.ko`)"
        }
        (_, Some(io::ErrorKind::PermissionDenied), _) => {
            " (run as root, or ask for read/write access to the node: see the udev rule in the README)"
        }
        (ErrorKind::Ioctl, _, Some(25)) => " (is this a mydev device node?)",
        _ => "",
    };
    let cause = e.io_error().map(|c| format!(": {c}")).unwrap_or_default();
    format!("{e}{cause}{hint}")
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let path = &cli.device;
    match &cli.command {
        Command::Read { offset, len, hex } => {
            let dev = Device::open_read_only(path)?;
            let len = span(&dev, *offset, *len, 4096)?;
            let mut buf = vec![0u8; len];
            let n = dev.read_at(*offset as u64, &mut buf)?;
            buf.truncate(n);
            print_bytes(&buf, *offset, *hex)
        }
        Command::Write { data, offset, len } => {
            let dev = Device::open(path)?;
            let data = data.as_bytes();
            let data = match len {
                Some(n) if *n <= data.len() => &data[..*n],
                Some(n) => {
                    return Err(Failure::Usage(format!(
                        "--len {n} is longer than DATA ({} bytes)",
                        data.len()
                    )));
                }
                None => data,
            };
            check_fits(&dev, *offset, data.len())?;
            let n = if data.is_empty() {
                0
            } else {
                dev.write_at(*offset as u64, data)?
            };
            let mut out = io::stdout().lock();
            writeln!(out, "wrote {n} bytes")?;
            Ok(())
        }
        Command::Map {
            data,
            offset,
            len,
            hex,
        } => {
            let dev = Device::open(path)?;
            let data = data.as_ref().map(|d| d.as_bytes()).unwrap_or_default();
            check_fits(&dev, *offset, data.len())?;
            let len = span(&dev, *offset, *len, usize::MAX)?;
            let map = dev.map()?;
            map.write(*offset, data)?;
            let mut buf = vec![0u8; len];
            map.read(*offset, &mut buf)?;
            print_bytes(&buf, *offset, *hex)
        }
        Command::Peek { offset } => {
            let dev = Device::open_read_only(path)?;
            span(&dev, *offset, Some(1), 1)?;
            let map = dev.map()?;
            let b = map.byte(*offset)?;
            let mut out = io::stdout().lock();
            writeln!(out, "{}", output::peek_line(*offset, b))?;
            Ok(())
        }
        Command::Clear => {
            let dev = Device::open(path)?;
            dev.clear()?;
            let mut out = io::stdout().lock();
            writeln!(out, "cleared {} bytes", dev.size())?;
            Ok(())
        }
        Command::Info => {
            let dev = Device::open_read_only(path)?;
            let mut out = io::stdout().lock();
            writeln!(out, "device: {}", dev.path().display())?;
            writeln!(out, "size: {} bytes", dev.size())?;
            writeln!(out, "page size: {} bytes", mydev::page_size())?;
            Ok(())
        }
    }
}

/// The number of bytes to show from `offset`: `len` if given, else `default` capped at the end.
/// Both must lie inside the buffer.
fn span(dev: &Device, offset: usize, len: Option<usize>, default: usize) -> Result<usize, Failure> {
    let size = dev.size();
    if offset >= size {
        return Err(Failure::Usage(format!(
            "offset {offset} is outside the {size}-byte buffer of {} (valid offsets: 0 to {})",
            dev.path().display(),
            size - 1
        )));
    }
    let room = size - offset;
    match len {
        None => Ok(default.min(room)),
        Some(0) => Err(Failure::Usage("--len must be at least 1".to_string())),
        Some(n) if n <= room => Ok(n),
        Some(n) => Err(Failure::Usage(format!(
            "{n} bytes from offset {offset} do not fit in the {size}-byte buffer of {} (at most {room})",
            dev.path().display()
        ))),
    }
}

/// Checks that `len` bytes written at `offset` fit in the buffer.
fn check_fits(dev: &Device, offset: usize, len: usize) -> Result<(), Failure> {
    let size = dev.size();
    match offset.checked_add(len) {
        Some(end) if offset < size && end <= size => Ok(()),
        _ => Err(Failure::Usage(format!(
            "{len} bytes at offset {offset} do not fit in the {size}-byte buffer of {}",
            dev.path().display()
        ))),
    }
}

fn print_bytes(buf: &[u8], offset: usize, hex: bool) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    if hex {
        out.write_all(output::hex_dump(buf, offset).as_bytes())?;
    } else {
        out.write_all(output::text_until_nul(buf))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cli::{Cli, parse_number};
    use clap::{CommandFactory, Parser};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_accept_decimal_and_hex() {
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("4095"), Ok(4095));
        assert_eq!(parse_number("0x10"), Ok(16));
        assert_eq!(parse_number("0XfF"), Ok(255));
    }

    #[test]
    fn numbers_reject_negative_empty_and_overflow() {
        assert!(
            parse_number("-1")
                .unwrap_err()
                .contains("not a non-negative number")
        );
        assert!(parse_number("").unwrap_err().contains("required"));
        assert!(parse_number("0x").is_err());
        assert!(
            parse_number("18446744073709551616")
                .unwrap_err()
                .contains("too large")
        );
        assert!(
            parse_number("0x1ffffffffffffffff")
                .unwrap_err()
                .contains("too large")
        );
        assert!(parse_number("1.5").is_err());
    }

    #[test]
    fn classic_commands_parse() {
        use super::cli::Command;
        let cli = Cli::try_parse_from(["user_test", "w", "Hello, World!"]).unwrap();
        assert!(
            matches!(cli.command, Command::Write { ref data, offset: 0, len: None } if data == "Hello, World!")
        );
        let cli = Cli::try_parse_from(["user_test", "p", "5"]).unwrap();
        assert!(matches!(cli.command, Command::Peek { offset: 5 }));
        let cli = Cli::try_parse_from(["user_test", "m"]).unwrap();
        assert!(matches!(cli.command, Command::Map { data: None, .. }));
        let cli = Cli::try_parse_from(["user_test", "peek", "--device", "/tmp/x", "0x10"]).unwrap();
        assert!(matches!(cli.command, Command::Peek { offset: 16 }));
        assert_eq!(cli.device.to_str(), Some("/tmp/x"));
        assert!(Cli::try_parse_from(["user_test", "p", "-1"]).is_err());
        assert!(Cli::try_parse_from(["user_test", "x"]).is_err());
        assert!(Cli::try_parse_from(["user_test", "w"]).is_err());
    }
}
