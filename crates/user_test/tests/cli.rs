// SPDX-License-Identifier: GPL-2.0

//! The `user_test` binary on the host, where no device is needed: help, usage errors, output
//! errors, and the error line for a path that does not exist.

use std::process::{Command, Output, Stdio};

fn user_test(args: &[&str], stdout: Stdio) -> Output {
    Command::new(env!("CARGO_BIN_EXE_user_test"))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("running user_test")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_that_cannot_be_written_fails() {
    let full = std::fs::File::create("/dev/full").expect("/dev/full");
    let o = user_test(&["--help"], full.into());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("user_test: cannot write the output: No space left on device"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn help_says_numbers_may_be_hex_and_how_to_set_up() {
    for flag in ["-h", "--help"] {
        let o = user_test(&[flag], Stdio::piped());
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(0));
        for want in [
            "hexadecimal with 0x",
            "sudo modprobe mmap",
            "group mydev",
            "Exit status:",
        ] {
            assert!(out.contains(want), "{flag} does not say {want:?}");
        }
    }
}

#[test]
fn a_negative_offset_gets_the_tools_message_and_prefix() {
    for args in [
        &["r", "--offset", "-1"][..],
        &["p", "-1"],
        &["m", "--len", "-5"],
    ] {
        let o = user_test(args, Stdio::piped());
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr(&o);
        let first = err.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("user_test: invalid value '-"),
            "{args:?}: {err}"
        );
        assert!(
            first.ends_with(
                "is negative: offsets and lengths count bytes from the start of the buffer"
            ),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn usage_errors_use_the_same_prefix_as_device_errors() {
    let o = user_test(&["frobnicate"], Stdio::piped());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).starts_with("user_test: unrecognized subcommand 'frobnicate'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_typo_in_device_gets_no_hint() {
    let o = user_test(&["--device", "/nonexistent/mydve", "r"], Stdio::piped());
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "user_test: cannot open /nonexistent/mydve read-only: No such file or directory (os error 2)\n"
    );
}
