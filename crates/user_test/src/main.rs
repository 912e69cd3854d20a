// SPDX-License-Identifier: GPL-2.0

//! `user_test`: the command-line tool of mydev.
//!
//! Exit status: 0 on success, 1 when the device fails or the output cannot be written, 2 for a
//! usage error (bad arguments, or an offset or length outside the buffer). Output to a closed
//! pipe is not an error. Every error is one line on stderr starting with `user_test: `.

mod cli;
mod hint;
#[cfg(test)]
mod man;
mod output;

use clap::Parser;
use cli::{Cli, Command};
use mydev::{Device, MapOptions};
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
        Err(e) => return clap_exit(&e),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => output_failed(&e),
        Err(Failure::Usage(msg)) => {
            eprintln!("user_test: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Device(e)) => {
            let node = hint::Node::inspect(&cli.device);
            eprintln!("user_test: {}", hint::describe(&e, &node));
            ExitCode::from(1)
        }
    }
}

/// Help and version go to stdout with status 0 (1 if they cannot be written); usage errors to
/// stderr with 2, with the same `user_test: ` prefix as every other error.
fn clap_exit(e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let printed = e.print().and_then(|()| io::stdout().flush());
        return match printed {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => output_failed(&err),
        };
    }
    let text = e.render().to_string();
    eprint!(
        "user_test: {}",
        text.strip_prefix("error: ").unwrap_or(&text)
    );
    ExitCode::from(2)
}

/// A failed write of the output: an error with status 1, except for a closed pipe.
fn output_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        return ExitCode::SUCCESS;
    }
    eprintln!("user_test: cannot write the output: {e}");
    ExitCode::from(1)
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
            // Without DATA nothing is stored: a read-only open and a read-only mapping do.
            let dev = match data {
                Some(_) => Device::open(path)?,
                None => Device::open_read_only(path)?,
            };
            let data = data.as_ref().map(|d| d.as_bytes()).unwrap_or_default();
            check_fits(&dev, *offset, data.len())?;
            let len = span(&dev, *offset, *len, 4096)?;
            // Map only the bytes that are stored or shown.
            let mut buf = vec![0u8; len];
            let touched = len.max(data.len());
            if touched > 0 {
                let map = MapOptions::new().offset(*offset).len(touched).map(&dev)?;
                if !data.is_empty() {
                    map.write(0, data)?;
                }
                map.read(0, &mut buf)?;
            }
            print_bytes(&buf, *offset, *hex)
        }
        Command::Peek { offset } => {
            let dev = Device::open_read_only(path)?;
            span(&dev, *offset, Some(1), 1)?;
            let map = dev.map_range(*offset, 1)?;
            let b = map.byte(0)?;
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

/// The number of bytes to show from `offset`: `len` if given (0 is zero bytes, as for every
/// command), else `default` capped at the end. Both must lie inside the buffer.
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
        assert_eq!(
            parse_number("-1").unwrap_err(),
            "\"-1\" is negative: offsets and lengths count bytes from the start of the buffer"
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
        // A negative number reaches the tool's own parser, not clap's "unexpected argument".
        for args in [
            &["user_test", "p", "-1"][..],
            &["user_test", "r", "--offset", "-1"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert_eq!(
                e.kind(),
                clap::error::ErrorKind::ValueValidation,
                "{args:?}"
            );
            assert!(e.to_string().contains("is negative"), "{e}");
        }
        assert!(Cli::try_parse_from(["user_test", "x"]).is_err());
        assert!(Cli::try_parse_from(["user_test", "w"]).is_err());
    }
}
