// SPDX-License-Identifier: GPL-2.0

//! The library's buffers API (`mydev::buffers`) and `mydevctl` against the real module's
//! configfs subsystem: create, list, open, remove and apply, and the errors that say what to do.

use guest_tests::cfs::{self, mkdir, scoped};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use mydev::Device;
use mydev::buffers::{Buffers, Cause, MAX_BUFFERS};
use std::path::Path;
use std::process::{Command, ExitCode};

/// Runs `mydevctl ARGS`: (status, stdout, stderr).
fn mydevctl(args: &[&str]) -> Result<(i32, String, String), String> {
    let o = Command::new("mydevctl")
        .args(args)
        .output()
        .map_err(|e| format!("mydevctl: {e}"))?;
    Ok((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

/// `mydevctl ARGS` that must succeed: its output.
fn ok(args: &[&str]) -> Result<String, String> {
    let (st, out, err) = mydevctl(args)?;
    check!(st == 0, "mydevctl {args:?}: status {st}, stderr {err}");
    Ok(out)
}

/// `mydevctl ARGS` that must fail with `status`, saying `advice` in one line: its stderr.
fn refused(args: &[&str], status: i32, advice: &str) -> Result<String, String> {
    let (st, out, err) = mydevctl(args)?;
    check!(
        st == status && out.is_empty(),
        "mydevctl {args:?}: status {st} (not {status}), stdout {out:?}, stderr {err}"
    );
    check!(
        err.starts_with("mydevctl: ") && err.lines().count() == 1 && err.contains(advice),
        "mydevctl {args:?}: stderr {err:?} does not say {advice:?}"
    );
    Ok(err)
}

fn exists(path: &str) -> bool {
    Path::new(path).exists()
}

fn e(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// A configuration file in `/tmp` with `text`: its path.
fn conf(text: &str) -> Result<String, String> {
    let path = "/tmp/buffers.conf".to_string();
    std::fs::write(&path, text).map_err(e)?;
    Ok(path)
}

fn library_creates_opens_lists_and_removes_a_buffer() -> TestResult {
    scoped(|| {
        let b = Buffers::new();
        let info = b.create("lib", 4 << 20, true).map_err(e)?;
        check_eq!(
            (info.size, info.huge, info.live, info.parts),
            (4 << 20, true, true, 2)
        );
        check!(info.huge_parts <= 2, "{info:?}");
        check_eq!(info.node(), Path::new("/dev/mydev-lib"));
        let dev = Device::open_buffer("lib").map_err(e)?;
        check_eq!(dev.size(), 4 << 20);
        dev.write_at(5000, b"through the library").map_err(e)?;
        let again = Device::open("/dev/mydev-lib").map_err(e)?;
        let mut back = [0u8; 19];
        again.read_at(5000, &mut back).map_err(e)?;
        check_eq!(&back, b"through the library");
        check_eq!(b.list().map_err(e)?, vec![info.clone()]);
        check_eq!(b.get("lib").map_err(e)?, Some(info));
        b.remove("lib").map_err(e)?;
        check!(!exists("/dev/mydev-lib") && !exists(&cfs::dir("lib")));
        check_eq!(b.get("lib").map_err(e)?, None);
        // The open file keeps the bytes of the removed buffer.
        again.read_at(5000, &mut back).map_err(e)?;
        check_eq!(&back, b"through the library");
        Ok(())
    })
}

fn library_failed_creates_leave_no_directory() -> TestResult {
    scoped(|| {
        let b = Buffers::new();
        let err = b
            .create("odd", 4097, true)
            .err()
            .ok_or("size 4097 was taken")?;
        check_eq!(err.cause(), Cause::InvalidSize);
        check!(
            err.to_string().contains("multiple of the page size"),
            "{err}"
        );
        check!(
            !exists(&cfs::dir("odd")),
            "a directory after a refused size"
        );
        // A 1 GiB buffer when less than that is available.
        let _short = squeeze_memory(900)?;
        let err = b
            .create("big", 1 << 30, true)
            .err()
            .ok_or("a 1 GiB buffer was made with 900 MiB available")?;
        check_eq!(err.cause(), Cause::OutOfMemory);
        check!(err.cleanup_failure().is_none(), "{err}");
        check!(!exists(&cfs::dir("big")), "big's directory after ENOMEM");
        check!(!exists(&cfs::node("big")), "big's node after ENOMEM");
        Ok(())
    })
}

fn library_errors_name_their_cause() -> TestResult {
    scoped(|| {
        let b = Buffers::new();
        b.create("one", 4096, false).map_err(e)?;
        check_eq!(
            b.create("one", 8192, true).err().map(|e| e.cause()),
            Some(Cause::Exists)
        );
        check_eq!(cfs::get("one", "size")?, "4096");
        check_eq!(
            b.remove("none").err().map(|e| e.cause()),
            Some(Cause::NotFound)
        );
        check_eq!(
            b.activate("one", 4096, false).err().map(|e| e.cause()),
            Some(Cause::Busy)
        );
        for i in 1..MAX_BUFFERS {
            mkdir(&format!("d{i}")).map_err(|err| format!("mkdir d{i}: {err}"))?;
        }
        let err = b
            .create("extra", 4096, true)
            .err()
            .ok_or("a 257th buffer")?;
        check_eq!(err.cause(), Cause::TooMany);
        check!(err.to_string().contains("at most 256 buffers"), "{err}");
        Ok(())
    })
}

fn library_reads_and_activates_a_directory_that_is_not_live() -> TestResult {
    scoped(|| {
        mkdir("dormant").map_err(e)?;
        let b = Buffers::new();
        let info = b.get("dormant").map_err(e)?.ok_or("no dormant")?;
        check_eq!(
            (info.size, info.huge, info.live, info.parts, info.huge_parts),
            (4096, true, false, 0, 0)
        );
        let info = b.activate("dormant", 8192, false).map_err(e)?;
        check_eq!(
            (info.size, info.huge, info.live, info.parts, info.huge_parts),
            (8192, false, true, 0, 0)
        );
        check!(exists("/dev/mydev-dormant"));
        Ok(())
    })
}

fn library_tells_an_absent_subsystem_from_unmounted_configfs() -> TestResult {
    let err = Buffers::at("/sys/kernel/config/nomydev")
        .list()
        .err()
        .ok_or("listed")?;
    check_eq!(err.cause(), Cause::ModuleNotLoaded);
    check!(err.to_string().contains("modprobe mmap"), "{err}");
    let err = Buffers::at("/tmp/nothing/mydev")
        .list()
        .err()
        .ok_or("listed")?;
    check_eq!(err.cause(), Cause::ConfigfsNotMounted);
    check!(
        err.to_string()
            .contains("mount -t configfs none /tmp/nothing"),
        "{err}"
    );
    Ok(())
}

fn tool_creates_lists_and_removes_and_user_test_uses_the_node() -> TestResult {
    scoped(|| {
        let out = ok(&["create", "cam", "4M"])?;
        let hp = cfs::get("cam", "huge_parts")?;
        check_eq!(
            out,
            format!("created cam: 4M, huge (/dev/mydev-cam), {hp} of its 2 2 MiB parts huge\n")
        );
        ok(&["create", "flat", "8K", "--no-huge"])?;
        check_eq!(
            (cfs::get("flat", "huge")?, cfs::get("flat", "size")?),
            ("0".into(), "8192".into())
        );
        check_eq!(
            ok(&["list"])?,
            format!(
                "NAME  SIZE  HUGE  HUGE PARTS  NODE             LIVE\n\
                 cam   4M    yes   {hp} of 2      /dev/mydev-cam   yes\n\
                 flat  8K    no    0 of 0      /dev/mydev-flat  yes\n"
            )
        );
        let ut = |args: &[&str]| {
            Command::new("user_test")
                .args(["--device", "/dev/mydev-cam"])
                .args(args)
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .map_err(e)
        };
        let seed = device_bytes(0, 10)?;
        check_eq!(ut(&["w", "Hello, cam"])?, "wrote 10 bytes\n");
        check_eq!(ut(&["r"])?, "Hello, cam\n");
        check_eq!(device_bytes(0, 10)?, seed);
        check_eq!(ok(&["remove", "cam"])?, "removed cam\n");
        check!(!exists("/dev/mydev-cam") && !exists(&cfs::dir("cam")));
        check_eq!(cfs::list()?, vec!["flat".to_string()]);
        Ok(())
    })
}

fn tool_apply_creates_recreates_leaves_alone_and_is_idempotent() -> TestResult {
    scoped(|| {
        cfs::create("b", 4096, true)?;
        cfs::create("other", 4096, true)?;
        let fd = open(&cfs::node("b"), libc::O_RDWR).map_err(e)?;
        pwrite(&fd, b"old bytes", 0).map_err(e)?;
        drop(fd);
        let file = conf("# two buffers\na 8K no-huge\nb 2M   # bigger\n")?;
        let out = ok(&["apply", &file])?;
        let want = format!(
            "created a: 8K, no-huge (/dev/mydev-a)\n\
             removed b to re-create it: it was 4K, huge, the file says 2M, huge; its contents are \
             gone (open files and mappings keep the old buffer until they close)\n\
             re-created b: 2M, huge (/dev/mydev-b)\n\
             left alone: other (not in {file})\n\
             {file}: 2 changed, 0 unchanged, 1 left alone\n"
        );
        check_eq!(out, want);
        check_eq!(
            (cfs::get("a", "size")?, cfs::get("a", "huge")?),
            ("8192".into(), "0".into())
        );
        check_eq!(cfs::get("b", "size")?, "2097152");
        let fd = open(&cfs::node("b"), libc::O_RDONLY).map_err(e)?;
        let mut head = [1u8; 9];
        pread(&fd, &mut head, 0).map_err(e)?;
        check_eq!(head, [0u8; 9]);
        check_eq!(cfs::get("other", "live")?, "1");
        // Again: nothing to do.
        check_eq!(
            ok(&["apply", &file])?,
            format!(
                "left alone: other (not in {file})\n{file}: 0 changed, 2 unchanged, 1 left alone\n"
            )
        );
        check_eq!(cfs::list()?, ["a", "b", "other"].map(String::from).to_vec());
        Ok(())
    })
}

fn tool_apply_makes_a_directory_that_is_not_live_live() -> TestResult {
    scoped(|| {
        mkdir("d").map_err(e)?;
        let file = conf("d 64K no-huge\n")?;
        let out = ok(&["apply", &file])?;
        check!(out.starts_with("made d live: 64K, no-huge"), "{out}");
        check_eq!(
            (
                cfs::get("d", "live")?,
                cfs::get("d", "size")?,
                cfs::get("d", "huge")?
            ),
            ("1".into(), "65536".into(), "0".into())
        );
        Ok(())
    })
}

fn tool_apply_refuses_a_bad_line_and_changes_nothing() -> TestResult {
    scoped(|| {
        cfs::create("keep", 4096, true)?;
        let file = conf("new 4M\nkeep 8K\nbad 4097\n")?;
        refused(
            &["apply", &file],
            2,
            "line 3: 4097 is not a multiple of the page size",
        )?;
        check_eq!(cfs::list()?, vec!["keep".to_string()]);
        check_eq!(cfs::get("keep", "size")?, "4096");
        Ok(())
    })
}

fn tool_errors_say_what_to_do() -> TestResult {
    scoped(|| {
        refused(
            &["remove", "ghost"],
            1,
            "there is no buffer ghost; `mydevctl list` shows them",
        )?;
        ok(&["create", "twice", "4K"])?;
        refused(
            &["create", "twice", "4K"],
            1,
            "a buffer of this name exists: remove it first",
        )?;
        let (st, _, err) = mydevctl(&["create", "toolarge", "2G"])?;
        check!(
            st == 2 && err.contains("2G is larger than the largest buffer, 1G"),
            "{st}: {err}"
        );
        check!(!exists(&cfs::dir("toolarge")));
        let o = Command::new("su")
            .args(["nobody", "-s", "/bin/sh", "-c", "mydevctl create mine 4K"])
            .output()
            .map_err(e)?;
        let err = String::from_utf8_lossy(&o.stderr);
        check_eq!(o.status.code(), Some(1));
        check!(
            err.contains("Permission denied") && err.contains("run as root"),
            "{err}"
        );
        check!(!exists(&cfs::dir("mine")));
        Ok(())
    })
}

fn tool_says_how_to_mount_configfs_and_load_the_module() -> TestResult {
    cfs::remove_all()?;
    let (st, _, err) = sh("umount /sys/kernel/config");
    check!(st == 0, "umount: {err}");
    let unmounted = refused(&["list"], 1, "mount -t configfs none /sys/kernel/config");
    let (st, _, err) = sh("mount -t configfs configfs /sys/kernel/config");
    check!(st == 0, "mount again: {err}");
    unmounted?;
    rmmod().map_err(|err| format!("rmmod: {err}"))?;
    let unloaded = refused(&["create", "x", "4K"], 1, "load it with `modprobe mmap`");
    restore()?;
    unloaded?;
    check!(exists(cfs::ROOT), "no subsystem after reloading");
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        library_creates_opens_lists_and_removes_a_buffer,
        library_failed_creates_leave_no_directory,
        library_errors_name_their_cause,
        library_reads_and_activates_a_directory_that_is_not_live,
        library_tells_an_absent_subsystem_from_unmounted_configfs,
        tool_creates_lists_and_removes_and_user_test_uses_the_node,
        tool_apply_creates_recreates_leaves_alone_and_is_idempotent,
        tool_apply_makes_a_directory_that_is_not_live_live,
        tool_apply_refuses_a_bad_line_and_changes_nothing,
        tool_errors_say_what_to_do,
        tool_says_how_to_mount_configfs_and_load_the_module,
    ])
}
