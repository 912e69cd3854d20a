// SPDX-License-Identifier: GPL-2.0

//! Loading and unloading the module, and its node.

use super::{RW, huge::entries_since, pattern, rw, size};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use mydev::uapi::MYDEV_IOC_GET_SIZE;

pub fn node_is_a_misc_device_created_at_load() -> TestResult {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let m = std::fs::metadata(DEVICE).map_err(|e| e.to_string())?;
    check!(
        m.file_type().is_char_device(),
        "{DEVICE} is not a character device"
    );
    check_eq!(libc::major(m.rdev()), 10); // the misc major
    check_eq!(m.permissions().mode() & 0o777, 0o600);
    check!(
        dmesg().contains("mmap: created /dev/mydev, size "),
        "no load line in the kernel log"
    );
    Ok(())
}

pub fn size_ioctl_reports_the_parameter() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let mut v: u64 = 0;
        ioctl(&fd, MYDEV_IOC_GET_SIZE, &mut v as *mut u64 as usize).map_err(|e| e.to_string())?;
        check_eq!(v, 16384);
        check!(dmesg().contains("mmap: created /dev/mydev, size 16384 bytes"));
        Ok(())
    })
}

pub fn default_size_is_one_page() -> TestResult {
    with_module("", || {
        check_eq!(size()?, 4096);
        Ok(())
    })
}

pub fn buffer_is_zero_after_reload() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    pwrite(&fd, &pattern(n, 7), 0).map_err(|e| e.to_string())?;
    drop(fd);
    restore()?;
    let fd = rw()?;
    let mut buf = vec![0xffu8; n];
    check_eq!(pread(&fd, &mut buf, 0).map_err(|e| e.to_string())?, n);
    check!(
        buf.iter().all(|&b| b == 0),
        "the reloaded buffer is not zeroed"
    );
    Ok(())
}

pub fn bad_size_parameters_fail_the_load_cleanly() -> TestResult {
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let result = (|| {
        for bad in [
            "size=0",
            "size=1",
            "size=4097",
            "size=1073745920",
            "size=2147483648",
            "size=18446744073709551615",
        ] {
            expect_errno(insmod(bad), libc::EINVAL, bad)?;
            check!(!module_loaded(), "{bad}: module stayed loaded");
            check!(
                std::fs::metadata(DEVICE).is_err(),
                "{bad}: {DEVICE} left behind"
            );
            let value = bad.trim_start_matches("size=");
            check!(
                dmesg().contains(&format!("invalid parameter size={value}")),
                "{bad}: no log line naming it"
            );
        }
        // Not numbers: the parameter parser refuses them before the module's init runs.
        for bad in ["size=abc", "size=-1", "size="] {
            expect_errno(insmod(bad), libc::EINVAL, bad)?;
            check!(
                !module_loaded() && std::fs::metadata(DEVICE).is_err(),
                "{bad}: left something behind"
            );
        }
        Ok(())
    })();
    let back = restore();
    result.and(back)
}

pub fn largest_size_loads_maps_and_is_freed_at_unload() -> TestResult {
    // The guest has less than 2 GiB, so a second 1 GiB buffer loads only if unloading the first
    // gave its pages back (the module refuses a buffer larger than the available memory).
    const SIZE: usize = 1 << 30;
    let total = meminfo_kib("MemTotal:")?;
    check!(
        total > 1 << 20 && total < 2 << 20,
        "needs a guest with 1 to 2 GiB of memory, has {total} KiB"
    );
    with_module("size=1073741824", || {
        check_eq!(size()?, SIZE);
        let fd = rw()?;
        let last = SIZE - 1;
        check_eq!(
            pwrite(&fd, b"Z", last as i64).map_err(|e| e.to_string())?,
            1
        );
        // The whole buffer, mapped and touched: every part that is one 2 MiB folio gets a PMD
        // entry (after boot nearly all are: at least nine in ten).
        let huge = fdinfo_field(&fd, "mydev-huge-parts:")? as i64;
        let parts = (SIZE / PART) as i64;
        check!(
            huge * 10 >= parts * 9,
            "only {huge} of the {parts} parts are 2 MiB folios"
        );
        let before = file_pmd_mapped_kib()?;
        let start = std::time::Instant::now();
        let m = mmap(&fd, SIZE, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        for i in (0..SIZE).step_by(PAGE) {
            m.store(i, (i / PAGE) as u8 | 1);
        }
        let took = start.elapsed();
        let entries = entries_since(before)?;
        check_eq!(entries, huge);
        println!(
            "# 1 GiB: {huge} of {parts} parts huge, {entries} PMD entries; mmap and a store to every page took {:.2}s",
            took.as_secs_f64()
        );
        check_eq!(m.load(last), b'Z');
        for i in (0..SIZE).step_by(PART + PAGE) {
            check_eq!(device_bytes(i as i64, 1)?[0], (i / PAGE) as u8 | 1);
        }
        drop(m);
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })?;
    with_module("size=1073741824", || {
        check_eq!(size()?, 1 << 30);
        Ok(())
    })
    .map_err(|e| format!("a second 1 GiB buffer after unloading the first: {e}"))
}

pub fn rmmod_fails_while_open_and_succeeds_after() -> TestResult {
    let fd = rw()?;
    let r = rmmod();
    check!(
        errno(&r) == Some(libc::EWOULDBLOCK) || errno(&r) == Some(libc::EBUSY),
        "rmmod while open: {r:?}"
    );
    check!(module_loaded());
    drop(fd);
    rmmod().map_err(|e| format!("rmmod after close: {e}"))?;
    check!(!module_loaded() && std::fs::metadata(DEVICE).is_err());
    check!(dmesg().contains("mmap: removed /dev/mydev"));
    restore()
}

pub fn rmmod_fails_while_a_mapping_exists() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    drop(fd);
    let r = rmmod();
    check!(r.is_err(), "rmmod succeeded with a live mapping");
    check!(module_loaded());
    drop(m);
    rmmod().map_err(|e| format!("rmmod after munmap: {e}"))?;
    restore()
}
