// SPDX-License-Identifier: GPL-2.0

//! `user_test` against the real device: the original walkthrough, errors and exit codes.

use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
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

fn a_typo_in_device_gets_no_hint() -> TestResult {
    let (st, _, err) = user_test(&["--device", "/dev/nonexistent", "r"])?;
    check_eq!(st, 1);
    check_eq!(
        err,
        "user_test: cannot open /dev/nonexistent read-only: No such file or directory (os error 2)\n"
    );
    Ok(())
}

/// The advice for a permission error on a node that only root may open.
const ROOT_ONLY_HINT: &str = "run as root, or install the package mydev-dkms, whose udev rule \
                              gives the group mydev access, and join that group";

/// Runs `user_test ARGS` as `user`; returns (status, stdout, stderr).
fn user_test_as(user: &str, args: &str) -> Result<(i32, String, String), String> {
    let o = Command::new("su")
        .args([user, "-s", "/bin/sh", "-c", &format!("user_test {args}")])
        .output()
        .map_err(|e| e.to_string())?;
    Ok((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

fn permission_denied_for_a_non_root_user() -> TestResult {
    // As `nobody`, the 0600 root-owned node refuses the open.
    let (st, _, err) = user_test_as("nobody", "r")?;
    check_eq!(st, 1);
    check_eq!(
        err,
        format!(
            "user_test: cannot open /dev/mydev read-only: Permission denied (os error 13); \
             {ROOT_ONLY_HINT}\n"
        )
    );
    Ok(())
}

fn read_only_access_reads_and_maps_but_cannot_write() -> TestResult {
    reset()?;
    ok_out(&["w", "readable"])?;
    let (st, _, err) = sh(&format!("chmod 644 {DEVICE}"));
    check!(st == 0, "chmod: {err}");
    let result = (|| {
        check_eq!(
            user_test_as("nobody", "r")?,
            (0, "readable\n".into(), String::new())
        );
        // `m` without DATA opens and maps read-only.
        check_eq!(
            user_test_as("nobody", "m")?,
            (0, "readable\n".into(), String::new())
        );
        let (st, out, err) = user_test_as("nobody", "w x")?;
        check_eq!((st, out.as_str()), (1, ""));
        check_eq!(
            err,
            format!(
                "user_test: cannot open /dev/mydev for reading and writing: Permission denied \
                 (os error 13); {ROOT_ONLY_HINT}\n"
            )
        );
        Ok(())
    })();
    let (st, _, err) = sh(&format!("chmod 600 {DEVICE}"));
    check!(st == 0, "restoring the node: {err}");
    result
}

fn map_shows_at_most_4096_bytes_and_len_0_is_zero_bytes() -> TestResult {
    with_module("size=65536", || {
        let out = ok_out(&["m", "--hex"])?;
        check_eq!(out.lines().count(), 4096 / 16);
        check_eq!(ok_out(&["r", "--hex"])?.lines().count(), 4096 / 16);
        check_eq!(ok_out(&["m", "--hex", "--len", "0"])?, "");
        check_eq!(ok_out(&["r", "--hex", "--len", "0"])?, "");
        check_eq!(ok_out(&["m", "--len", "0"])?, "\n");
        check_eq!(ok_out(&["r", "--len", "0"])?, "\n");
        check_eq!(ok_out(&["w", "--len", "0", "abc"])?, "wrote 0 bytes\n");
        check_eq!(ok_out(&["m", "--len", "0", "xy"])?, "\n");
        check_eq!(ok_out(&["r", "--len", "2"])?, "xy\n");
        Ok(())
    })
}

/// Runs `user_test` with raw (possibly non-UTF-8) arguments.
fn user_test_os(args: &[&std::ffi::OsStr]) -> Result<(i32, Vec<u8>, String), String> {
    let o = Command::new("user_test")
        .args(args)
        .output()
        .map_err(|e| format!("user_test: {e}"))?;
    Ok((
        o.status.code().unwrap_or(-1),
        o.stdout,
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

fn ok_out(args: &[&str]) -> Result<String, String> {
    let (st, out, err) = user_test(args)?;
    check!(st == 0, "user_test {args:?}: status {st}, stderr {err}");
    Ok(out)
}

fn reset() -> TestResult {
    clear(&open_rw().map_err(|e| e.to_string())?)
}

fn long_forms_are_aliases() -> TestResult {
    reset()?;
    check_eq!(ok_out(&["write", "alias"])?, "wrote 5 bytes\n");
    check_eq!(ok_out(&["read"])?, "alias\n");
    check_eq!(ok_out(&["map"])?, "alias\n");
    check_eq!(ok_out(&["peek", "0"])?, "offset 0: 0x61 'a'\n");
    Ok(())
}

fn read_offset_len_and_hex() -> TestResult {
    reset()?;
    ok_out(&["w", "Hello, World!"])?;
    check_eq!(ok_out(&["r", "--offset", "7", "--len", "5"])?, "World\n");
    check_eq!(
        ok_out(&["r", "--offset", "0x7", "--len", "0x5"])?,
        "World\n"
    );
    check_eq!(
        ok_out(&["r", "--len", "16", "--hex"])?,
        "00000000  48 65 6c 6c 6f 2c 20 57 6f 72 6c 64 21 00 00 00  |Hello, World!...|\n"
    );
    Ok(())
}

fn write_offset_and_len() -> TestResult {
    reset()?;
    check_eq!(ok_out(&["w", "--offset", "100", "xyz"])?, "wrote 3 bytes\n");
    check_eq!(ok_out(&["w", "--len", "2", "abcdef"])?, "wrote 2 bytes\n");
    let fd = open_ro().map_err(|e| e.to_string())?;
    let mut b = [0u8; 3];
    pread(&fd, &mut b, 100).map_err(|e| e.to_string())?;
    check_eq!(&b, b"xyz");
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"ab\0");
    let (st, _, err) = user_test(&["w", "--len", "9", "abc"])?;
    check!(
        st == 2 && err.contains("longer than DATA"),
        "--len past DATA: {st} {err}"
    );
    Ok(())
}

fn write_that_does_not_fit_is_a_usage_error() -> TestResult {
    let n = device_size()?;
    let big = "x".repeat(n + 1);
    let (st, out, err) = user_test(&["w", &big])?;
    check_eq!(st, 2);
    check!(out.is_empty());
    check!(err.contains(&format!("{n}-byte buffer")), "stderr: {err}");
    let (st, _, err) = user_test(&["w", "--offset", &(n - 1).to_string(), "ab"])?;
    check!(
        st == 2 && err.contains(&format!("{n}-byte buffer")),
        "crossing the end: {st} {err}"
    );
    Ok(())
}

fn map_offset_len_and_hex() -> TestResult {
    reset()?;
    check_eq!(ok_out(&["m", "--offset", "10", "mapped"])?, "mapped\n");
    check_eq!(ok_out(&["m", "--offset", "10", "--len", "3"])?, "map\n");
    check_eq!(
        ok_out(&["m", "--offset", "8", "--len", "8", "--hex"])?,
        "00000008  00 00 6d 61 70 70 65 64                          |..mapped|\n"
    );
    check_eq!(ok_out(&["r", "--offset", "10", "--len", "6"])?, "mapped\n");
    Ok(())
}

fn clear_and_info() -> TestResult {
    let n = device_size()?;
    ok_out(&["w", "something"])?;
    check_eq!(ok_out(&["clear"])?, format!("cleared {n} bytes\n"));
    check_eq!(ok_out(&["r"])?, "\n");
    check_eq!(
        ok_out(&["info"])?,
        format!("device: /dev/mydev\nsize: {n} bytes\npage size: 4096 bytes\n")
    );
    Ok(())
}

fn device_option_selects_the_node() -> TestResult {
    let _ = std::fs::remove_file("/tmp/mydev-link");
    std::os::unix::fs::symlink(DEVICE, "/tmp/mydev-link").map_err(|e| e.to_string())?;
    let out = ok_out(&["--device", "/tmp/mydev-link", "info"])?;
    check!(out.starts_with("device: /tmp/mydev-link\n"), "{out}");
    let (st, _, err) = user_test(&["--device", "/dev/null", "info"])?;
    check!(
        st == 1 && err.contains("/dev/null") && err.contains("is it a mydev device node?"),
        "{st} {err}"
    );
    Ok(())
}

fn help_shows_examples() -> TestResult {
    let out = ok_out(&["--help"])?;
    check!(
        out.contains("Examples:") && out.contains("user_test w \"Hello, World!\""),
        "{out}"
    );
    for cmd in ["r", "w", "m", "p"] {
        let out = ok_out(&[cmd, "--help"])?;
        check!(out.contains("Example: user_test"), "{cmd} --help: {out}");
    }
    Ok(())
}

fn empty_and_non_utf8_data_are_written_as_given() -> TestResult {
    use std::os::unix::ffi::OsStrExt;
    reset()?;
    check_eq!(ok_out(&["w", ""])?, "wrote 0 bytes\n");
    let raw = std::ffi::OsStr::from_bytes(b"\xff\xfeok");
    let (st, out, err) = user_test_os(&["w".as_ref(), raw])?;
    check!(st == 0, "non-UTF-8 write: {err}");
    check_eq!(out, b"wrote 4 bytes\n".to_vec());
    let (st, out, _) = user_test_os(&["r".as_ref()])?;
    check_eq!(st, 0);
    check_eq!(out, b"\xff\xfeok\n".to_vec());
    let (st, _, err) = user_test_os(&[
        "--device".as_ref(),
        std::ffi::OsStr::from_bytes(b"/tmp/\xff"),
        "r".as_ref(),
    ])?;
    check!(
        st == 1 && !err.contains("panicked"),
        "non-UTF-8 device path: {st} {err}"
    );
    Ok(())
}

fn closed_pipe_is_not_an_error() -> TestResult {
    let mut child = Command::new("user_test")
        .args(["m", "--hex"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    drop(child.stdout.take());
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    check_eq!(o.status.code(), Some(0));
    check_eq!(String::from_utf8_lossy(&o.stderr), "");
    Ok(())
}

fn module_not_loaded_is_reported_with_advice() -> TestResult {
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let r = user_test(&["r"]);
    let back = restore();
    let (st, _, err) = r?;
    back?;
    check_eq!(st, 1);
    check_eq!(
        err,
        "user_test: cannot open /dev/mydev read-only: No such file or directory (os error 2); \
         is the module loaded? Load it with: sudo modprobe mmap\n"
    );
    Ok(())
}

fn c_example_uses_read_write_mmap_and_ioctls() -> TestResult {
    let o = Command::new("/opt/mydev/mydev_example")
        .output()
        .map_err(|e| e.to_string())?;
    let out = String::from_utf8_lossy(&o.stdout);
    check!(
        o.status.success(),
        "status {:?}\n{out}{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    let n = device_size()?;
    check_eq!(
        out.as_ref(),
        format!("size: {n} bytes\nmapping says: Hello from C\nread() says: Mapped from C\nok\n")
    );
    Ok(())
}

/// The GROUP and MODE that the shipped udev rule gives `/dev/mydev`.
fn udev_rule_permissions() -> Result<(String, u32), String> {
    let rule =
        std::fs::read_to_string("/etc/udev/rules.d/60-mydev.rules").map_err(|e| e.to_string())?;
    let line = rule
        .lines()
        .find(|l| l.contains("KERNEL==\"mydev\""))
        .ok_or("no rule for mydev")?;
    let field = |key: &str| {
        line.split(',')
            .map(str::trim)
            .find_map(|f| f.strip_prefix(key))
            .map(|v| v.trim_matches('"').to_string())
    };
    let group = field("GROUP=").ok_or("the rule sets no GROUP")?;
    let mode = field("MODE=").ok_or("the rule sets no MODE")?;
    Ok((
        group,
        u32::from_str_radix(&mode, 8).map_err(|e| e.to_string())?,
    ))
}

fn udev_rule_gives_group_members_access_and_others_eacces() -> TestResult {
    let (group, mode) = udev_rule_permissions()?;
    check_eq!((group.as_str(), mode), ("mydev", 0o660));
    // What udev does with the rule: chgrp and chmod of the node.
    let (st, _, err) = sh(&format!(
        "chgrp {group} {DEVICE} && chmod {mode:o} {DEVICE}"
    ));
    check!(st == 0, "applying the rule: {err}");
    let result = (|| {
        let member = Command::new("su")
            .args([
                "alice",
                "-s",
                "/bin/sh",
                "-c",
                "user_test clear >/dev/null && user_test w 'from alice' && user_test r && user_test m",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        check!(
            member.status.success(),
            "alice (in group {group}): {}",
            String::from_utf8_lossy(&member.stderr)
        );
        check_eq!(
            String::from_utf8_lossy(&member.stdout),
            "wrote 10 bytes\nfrom alice\nfrom alice\n"
        );
        let (st, _, err) = user_test_as("nobody", "r")?;
        check_eq!(st, 1);
        check_eq!(
            err,
            "user_test: cannot open /dev/mydev read-only: Permission denied (os error 13); the \
             group mydev may use the device: sudo usermod -aG mydev $USER, then log in again\n"
        );
        Ok(())
    })();
    let (st, _, err) = sh(&format!("chgrp root {DEVICE} && chmod 600 {DEVICE}"));
    check!(st == 0, "restoring the node: {err}");
    result
}

fn dd_seek_and_skip_go_to_offsets_of_the_device() -> TestResult {
    reset()?;
    // Output seek: the C module's users wrote at an offset this way.
    let (st, _, err) = sh("printf abc | dd of=/dev/mydev bs=1 seek=3 conv=notrunc 2>&1");
    check!(st == 0, "dd seek=3: {err}");
    check_eq!(device_bytes(0, 8)?, b"\0\0\0abc\0\0".to_vec());
    let (st, _, err) = sh("printf XY | dd of=/dev/mydev bs=512 seek=2 conv=notrunc 2>&1");
    check!(st == 0, "dd bs=512 seek=2: {err}");
    check_eq!(device_bytes(1024, 2)?, b"XY".to_vec());
    // Input skip.
    let (st, out, err) = sh("dd if=/dev/mydev bs=1 skip=3 count=3 2>/dev/null");
    check!(st == 0, "dd skip=3: {err}");
    check_eq!(out, b"abc".to_vec());
    let (st, out, err) = sh("dd if=/dev/mydev bs=512 skip=2 count=1 2>/dev/null");
    check!(st == 0, "dd bs=512 skip=2: {err}");
    check_eq!(out.len(), 512);
    check_eq!(out[..2].to_vec(), b"XY".to_vec());
    // A seek past the end of the buffer fails instead of writing somewhere else.
    let (st, _, _) = sh("printf z | dd of=/dev/mydev bs=1 seek=1000000 conv=notrunc 2>/dev/null");
    check!(st != 0, "dd seek past the end succeeded");
    Ok(())
}

fn tail_c_prints_the_last_bytes() -> TestResult {
    reset()?;
    let fd = open_rw().map_err(|e| e.to_string())?;
    let n = device_size()? as i64;
    pwrite(&fd, b"the end", n - 7).map_err(|e| e.to_string())?;
    let (st, out, err) = sh("tail -c 7 /dev/mydev");
    check!(st == 0, "tail -c 7: {err}");
    check_eq!(out, b"the end".to_vec());
    let (st, out, err) = sh("tail -c 3 /dev/mydev");
    check!(st == 0, "tail -c 3: {err}");
    check_eq!(out, b"end".to_vec());
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        original_walkthrough_output,
        map_from_one_process_is_read_by_another,
        out_of_range_offset_is_a_usage_error_naming_the_size,
        bad_numbers_are_usage_errors_without_panics,
        a_typo_in_device_gets_no_hint,
        permission_denied_for_a_non_root_user,
        read_only_access_reads_and_maps_but_cannot_write,
        map_shows_at_most_4096_bytes_and_len_0_is_zero_bytes,
        long_forms_are_aliases,
        read_offset_len_and_hex,
        write_offset_and_len,
        write_that_does_not_fit_is_a_usage_error,
        map_offset_len_and_hex,
        clear_and_info,
        device_option_selects_the_node,
        help_shows_examples,
        empty_and_non_utf8_data_are_written_as_given,
        closed_pipe_is_not_an_error,
        module_not_loaded_is_reported_with_advice,
        c_example_uses_read_write_mmap_and_ioctls,
        udev_rule_gives_group_members_access_and_others_eacces,
        dd_seek_and_skip_go_to_offsets_of_the_device,
        tail_c_prints_the_last_bytes,
    ])
}
