// SPDX-License-Identifier: GPL-2.0

//! `user_test` against the real device: the original walkthrough, errors and exit codes.

use guest_tests::sys::*;
use guest_tests::{Test, TestResult, check, check_eq};
use std::process::{Command, ExitCode};

/// Runs `user_test ARGS`; returns (status, stdout, stderr).
fn user_test(args: &[&str]) -> Result<(i32, String, String), String> {
    let o = Command::new("user_test")
        .args(args)
        .output()
        .map_err(|e| format!("user_test: {e}"))?;
    Ok((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

fn original_walkthrough_output() -> TestResult {
    let fd = open_rw().map_err(|e| e.to_string())?;
    ioctl(&fd, mydev::uapi::MYDEV_IOC_CLEAR, 0).map_err(|e| e.to_string())?;
    let steps: [(&[&str], &str); 5] = [
        (&["w", "Hello, World!"], "wrote 13 bytes\n"),
        (&["r"], "Hello, World!\n"),
        (&["m", "This is a test"], "This is a test\n"),
        (&["r"], "This is a test\n"),
        (&["p", "5"], "offset 5: 0x69 'i'\n"),
    ];
    for (args, want) in steps {
        let (st, out, err) = user_test(args)?;
        check!(st == 0, "user_test {args:?}: status {st}, stderr {err}");
        check_eq!(out.as_str(), want);
    }
    Ok(())
}

fn map_from_one_process_is_read_by_another() -> TestResult {
    let (st, _, err) = user_test(&["m", "written through a mapping"])?;
    check!(st == 0, "m: {err}");
    let (st, out, err) = user_test(&["r"])?;
    check!(st == 0, "r: {err}");
    check!(
        out.starts_with("written through a mapping"),
        "r printed {out:?}"
    );
    Ok(())
}

fn out_of_range_offset_is_a_usage_error_naming_the_size() -> TestResult {
    let n = device_size()?;
    for args in [
        vec!["p".to_string(), n.to_string()],
        vec!["r".into(), "--offset".into(), n.to_string()],
    ] {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (st, out, err) = user_test(&a)?;
        check_eq!(st, 2);
        check!(out.is_empty());
        check!(err.contains(&format!("{n}-byte buffer")), "stderr: {err}");
    }
    Ok(())
}

fn bad_numbers_are_usage_errors_without_panics() -> TestResult {
    for bad in ["-1", "18446744073709551616", "", "0x", "abc"] {
        let (st, _, err) = user_test(&["p", bad])?;
        check_eq!(st, 2);
        check!(!err.contains("panicked"), "{bad}: {err}");
    }
    Ok(())
}

fn missing_node_is_a_device_error_with_advice() -> TestResult {
    let (st, _, err) = user_test(&["--device", "/dev/nonexistent", "r"])?;
    check_eq!(st, 1);
    check!(
        err.contains("/dev/nonexistent") && err.contains("is the mmap module loaded?"),
        "stderr: {err}"
    );
    Ok(())
}

fn permission_denied_for_a_non_root_user() -> TestResult {
    // As `nobody`, the 0600 root-owned node refuses the open.
    let o = Command::new("su")
        .args(["nobody", "-s", "/bin/sh", "-c", "user_test r"])
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&o.stderr);
    check_eq!(o.status.code(), Some(1));
    check!(
        err.contains("Permission denied") && err.contains("run as root"),
        "stderr: {err}"
    );
    Ok(())
}

fn main() -> ExitCode {
    macro_rules! tests {
        ($($f:ident),* $(,)?) => { &[$(Test { name: stringify!($f), run: $f }),*] };
    }
    guest_tests::main(tests![
        original_walkthrough_output,
        map_from_one_process_is_read_by_another,
        out_of_range_offset_is_a_usage_error_naming_the_size,
        bad_numbers_are_usage_errors_without_panics,
        missing_node_is_a_device_error_with_advice,
        permission_denied_for_a_non_root_user,
    ])
}
