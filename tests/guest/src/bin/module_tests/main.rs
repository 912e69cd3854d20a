// SPDX-License-Identifier: GPL-2.0

//! The module's behaviour, one test per documented rule, against the real `/dev/mydev`.

use guest_tests::marks::{check_marks, fill_marks, mark};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use mydev::uapi::{MYDEV_IOC_CLEAR, MYDEV_IOC_GET_SIZE};
use std::os::fd::AsRawFd;
use std::process::ExitCode;

const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// A recognisable byte pattern.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 1)
        .collect()
}

fn size() -> Result<usize, String> {
    device_size()
}

fn rw() -> Result<std::os::fd::OwnedFd, String> {
    open_rw().map_err(|e| format!("open {DEVICE}: {e}"))
}

// ---- Loading and the node ----

fn node_is_a_misc_device_created_at_load() -> TestResult {
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

fn size_ioctl_reports_the_parameter() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let mut v: u64 = 0;
        ioctl(&fd, MYDEV_IOC_GET_SIZE, &mut v as *mut u64 as usize).map_err(|e| e.to_string())?;
        check_eq!(v, 16384);
        check!(dmesg().contains("mmap: created /dev/mydev, size 16384 bytes"));
        Ok(())
    })
}

fn default_size_is_one_page() -> TestResult {
    with_module("", || {
        check_eq!(size()?, 4096);
        Ok(())
    })
}

fn buffer_is_zero_after_reload() -> TestResult {
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

fn bad_size_parameters_fail_the_load_cleanly() -> TestResult {
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

fn largest_size_loads_maps_and_is_freed_at_unload() -> TestResult {
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

fn rmmod_fails_while_open_and_succeeds_after() -> TestResult {
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

fn rmmod_fails_while_a_mapping_exists() -> TestResult {
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

// ---- read / write ----

fn read_returns_min_of_count_and_rest_and_advances() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let data = pattern(n, 3);
    check_eq!(pwrite(&fd, &data, 0).map_err(|e| e.to_string())?, n);
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 1000];
    loop {
        let k = read(&fd, &mut chunk).map_err(|e| e.to_string())?;
        if k == 0 {
            break;
        }
        check!(
            k == 1000 || got.len() + k == n,
            "short read of {k} in the middle"
        );
        got.extend_from_slice(&chunk[..k]);
    }
    check_eq!(got.len(), n);
    check!(got == data, "sequential reads do not return the buffer");
    check_eq!(read(&fd, &mut chunk).map_err(|e| e.to_string())?, 0);
    Ok(())
}

fn read_at_or_past_the_end_returns_zero() -> TestResult {
    let fd = rw()?;
    let n = size()? as i64;
    let mut b = [0u8; 16];
    check_eq!(pread(&fd, &mut b, n).map_err(|e| e.to_string())?, 0);
    check_eq!(pread(&fd, &mut b, n + 12345).map_err(|e| e.to_string())?, 0);
    check_eq!(
        pread(&fd, &mut b, i64::MAX - 16).map_err(|e| e.to_string())?,
        0
    );
    check_eq!(pread(&fd, &mut b, n - 4).map_err(|e| e.to_string())?, 4);
    expect_errno(pread(&fd, &mut b, -1), libc::EINVAL, "pread at -1")?;
    // Where offset + count overflows, the VFS refuses the call before the driver sees it.
    expect_errno(
        pread(&fd, &mut b, i64::MAX),
        libc::EINVAL,
        "pread at i64::MAX",
    )
}

fn write_at_the_end_is_enospc_and_crossing_it_is_short() -> TestResult {
    let fd = rw()?;
    let n = size()? as i64;
    expect_errno(pwrite(&fd, b"x", n), libc::ENOSPC, "pwrite at the end")?;
    expect_errno(
        pwrite(&fd, b"x", i64::MAX - 1),
        libc::ENOSPC,
        "pwrite at i64::MAX - 1",
    )?;
    expect_errno(
        pwrite(&fd, b"xy", i64::MAX),
        libc::EINVAL,
        "pwrite where offset + count overflows (VFS)",
    )?;
    check_eq!(
        pwrite(&fd, b"0123456789", n - 4).map_err(|e| e.to_string())?,
        4
    );
    let mut b = [0u8; 4];
    pread(&fd, &mut b, n - 4).map_err(|e| e.to_string())?;
    check_eq!(&b, b"0123");
    check_eq!(pwrite(&fd, b"", n).map_err(|e| e.to_string())?, 0);
    Ok(())
}

fn write_advances_the_position() -> TestResult {
    let fd = rw()?;
    clear(&fd)?;
    check_eq!(write(&fd, b"Hello, ").map_err(|e| e.to_string())?, 7);
    check_eq!(write(&fd, b"World!").map_err(|e| e.to_string())?, 6);
    let mut b = [0u8; 13];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"Hello, World!");
    Ok(())
}

fn sequential_write_to_the_end_then_enospc() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let data = pattern(n + 100, 9);
    check_eq!(write(&fd, &data).map_err(|e| e.to_string())?, n);
    expect_errno(write(&fd, b"more"), libc::ENOSPC, "write at the end")
}

fn unmapped_user_buffers_give_efault() -> TestResult {
    let fd = rw()?;
    // A PROT_NONE anonymous page: a valid address range that the kernel cannot copy to or from.
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    check!(p != libc::MAP_FAILED);
    let addr = p as usize;
    // SAFETY: `addr` is inaccessible, so the kernel fails with EFAULT without writing.
    let r = unsafe { pread_raw(&fd, addr, 16, 0) };
    expect_errno(r, libc::EFAULT, "pread into PROT_NONE")?;
    expect_errno(
        pwrite_raw(&fd, addr, 16, 0),
        libc::EFAULT,
        "pwrite from PROT_NONE",
    )?;
    expect_errno(
        pwrite_raw(&fd, 8, 16, 0),
        libc::EFAULT,
        "pwrite from address 8",
    )?;
    // SAFETY: unmapping the page mapped above.
    unsafe { libc::munmap(p, PAGE) };
    Ok(())
}

fn lseek_set_cur_end_move_inside_the_buffer() -> TestResult {
    let fd = rw()?;
    let n = size()? as i64;
    let ls = |off, whence| lseek(&fd, off, whence).map_err(|e| e.to_string());
    check_eq!(ls(100, libc::SEEK_SET)?, 100);
    check_eq!(ls(0, libc::SEEK_CUR)?, 100);
    check_eq!(ls(-40, libc::SEEK_CUR)?, 60);
    check_eq!(ls(n, libc::SEEK_SET)?, n);
    check_eq!(ls(-n, libc::SEEK_CUR)?, 0);
    check_eq!(ls(0, libc::SEEK_END)?, n);
    check_eq!(ls(-10, libc::SEEK_END)?, n - 10);
    check_eq!(ls(-n, libc::SEEK_END)?, 0);
    check_eq!(ls(0, libc::SEEK_SET)?, 0);
    Ok(())
}

fn lseek_outside_the_buffer_is_einval_and_keeps_the_position() -> TestResult {
    let fd = rw()?;
    let n = size()? as i64;
    check_eq!(
        lseek(&fd, 42, libc::SEEK_SET).map_err(|e| e.to_string())?,
        42
    );
    for (off, whence, what) in [
        (-1, libc::SEEK_SET, "SEEK_SET -1"),
        (n + 1, libc::SEEK_SET, "SEEK_SET size + 1"),
        (i64::MAX, libc::SEEK_SET, "SEEK_SET i64::MAX"),
        (i64::MIN, libc::SEEK_SET, "SEEK_SET i64::MIN"),
        (-43, libc::SEEK_CUR, "SEEK_CUR before 0"),
        (n - 41, libc::SEEK_CUR, "SEEK_CUR past the end"),
        (i64::MAX, libc::SEEK_CUR, "SEEK_CUR overflowing"),
        (i64::MIN, libc::SEEK_CUR, "SEEK_CUR i64::MIN"),
        (1, libc::SEEK_END, "SEEK_END + 1"),
        (-n - 1, libc::SEEK_END, "SEEK_END before 0"),
        (i64::MAX, libc::SEEK_END, "SEEK_END overflowing"),
        (i64::MIN, libc::SEEK_END, "SEEK_END i64::MIN"),
        (0, 5, "whence 5"),
        (0, -1, "whence -1"),
    ] {
        expect_errno(lseek(&fd, off, whence), libc::EINVAL, what)?;
        check_eq!(
            lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
            42
        );
    }
    Ok(())
}

fn lseek_data_and_hole_answer_as_a_file_without_holes() -> TestResult {
    const SEEK_DATA: libc::c_int = 3;
    const SEEK_HOLE: libc::c_int = 4;
    let fd = rw()?;
    let n = size()? as i64;
    let ls = |off, whence| lseek(&fd, off, whence).map_err(|e| e.to_string());
    check_eq!(ls(0, SEEK_DATA)?, 0);
    check_eq!(ls(100, SEEK_DATA)?, 100);
    check_eq!(ls(n - 1, SEEK_DATA)?, n - 1);
    check_eq!(ls(0, SEEK_HOLE)?, n);
    check_eq!(ls(n - 1, SEEK_HOLE)?, n);
    for (off, whence, what) in [
        (n, SEEK_DATA, "SEEK_DATA at the end"),
        (-1, SEEK_DATA, "SEEK_DATA -1"),
        (i64::MAX, SEEK_DATA, "SEEK_DATA i64::MAX"),
        (n, SEEK_HOLE, "SEEK_HOLE at the end"),
        (i64::MIN, SEEK_HOLE, "SEEK_HOLE i64::MIN"),
    ] {
        expect_errno(lseek(&fd, off, whence), libc::ENXIO, what)?;
    }
    check_eq!(ls(0, libc::SEEK_CUR)?, n);
    Ok(())
}

fn read_and_write_go_where_lseek_put_them() -> TestResult {
    let fd = rw()?;
    let n = size()? as i64;
    clear(&fd)?;
    lseek(&fd, 1000, libc::SEEK_SET).map_err(|e| e.to_string())?;
    check_eq!(write(&fd, b"seek").map_err(|e| e.to_string())?, 4);
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        1004
    );
    let mut b = [0u8; 4];
    pread(&fd, &mut b, 1000).map_err(|e| e.to_string())?;
    check_eq!(&b, b"seek");
    lseek(&fd, -4, libc::SEEK_CUR).map_err(|e| e.to_string())?;
    let mut r = [0u8; 4];
    check_eq!(read(&fd, &mut r).map_err(|e| e.to_string())?, 4);
    check_eq!(&r, b"seek");
    lseek(&fd, -2, libc::SEEK_END).map_err(|e| e.to_string())?;
    check_eq!(write(&fd, b"xyz").map_err(|e| e.to_string())?, 2);
    check_eq!(lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?, n);
    check_eq!(read(&fd, &mut r).map_err(|e| e.to_string())?, 0);
    expect_errno(write(&fd, b"x"), libc::ENOSPC, "write after SEEK_END")?;
    // pread and pwrite neither use nor move the position.
    lseek(&fd, 7, libc::SEEK_SET).map_err(|e| e.to_string())?;
    pwrite(&fd, b"p", 2000).map_err(|e| e.to_string())?;
    pread(&fd, &mut r, 3000).map_err(|e| e.to_string())?;
    check_eq!(lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?, 7);
    Ok(())
}

fn read_write_and_lseek_on_a_shared_file_take_turns() -> TestResult {
    // Two threads read one byte at a time through one file: with the position updated under
    // the file's position lock (FMODE_ATOMIC_POS), every byte is read exactly once.
    let fd = std::sync::Arc::new(rw()?);
    let n = size()?;
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
    let mut rounds = 0;
    for _ in 0..8 {
        lseek(&fd, 0, libc::SEEK_SET).map_err(|e| e.to_string())?;
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let fd = fd.clone();
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut b = [0u8; 1];
                    while let Ok(1) = read(&fd, &mut b) {
                        got.push(b[0]);
                    }
                    got
                })
            })
            .collect();
        let mut total = 0;
        let mut counts = vec![0usize; 251];
        for w in workers {
            let got = w.join().map_err(|_| "reader panicked")?;
            total += got.len();
            for b in got {
                counts[b as usize] += 1;
            }
        }
        check_eq!(total, n);
        let want: Vec<usize> = (0..251)
            .map(|v| data.iter().filter(|&&b| b == v as u8).count())
            .collect();
        check!(
            counts == want,
            "some bytes were read twice and others never"
        );
        rounds += 1;
    }
    println!("# {rounds} rounds of two readers, {n} bytes each, every byte read once");
    Ok(())
}

fn every_opener_sees_the_same_bytes() -> TestResult {
    let a = rw()?;
    let b = open_ro().map_err(|e| e.to_string())?;
    pwrite(&a, b"shared!", 100).map_err(|e| e.to_string())?;
    let mut got = [0u8; 7];
    pread(&b, &mut got, 100).map_err(|e| e.to_string())?;
    check_eq!(&got, b"shared!");
    in_child(|| {
        let c = open_ro().map_err(|e| e.to_string())?;
        let mut got = [0u8; 7];
        pread(&c, &mut got, 100).map_err(|e| e.to_string())?;
        check_eq!(&got, b"shared!");
        Ok(())
    })
}

fn read_only_open_cannot_write() -> TestResult {
    let fd = open_ro().map_err(|e| e.to_string())?;
    expect_errno(pwrite(&fd, b"x", 0), libc::EBADF, "pwrite on O_RDONLY")
}

fn ordinary_clients_cat_dd_head_cmp() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let data = pattern(n, 42);
    pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
    let (st, out, err) = sh("cat /dev/mydev");
    check!(st == 0, "cat: {err}");
    check_eq!(out.len(), n);
    check!(out == data, "cat output differs from the buffer");
    let (st, out, err) = sh("dd if=/dev/mydev bs=1000 2>/dev/null");
    check!(st == 0, "dd: {err}");
    check!(out == data, "dd output differs");
    let (st, out, _) = sh("head -c 100 /dev/mydev");
    check!(st == 0 && out == data[..100], "head -c 100");
    std::fs::write("/tmp/expected", &data).map_err(|e| e.to_string())?;
    let (st, _, err) = sh("cmp /dev/mydev /tmp/expected");
    check!(st == 0, "cmp reports a difference: {err}");
    let (st, _, err) = sh("printf 'via shell' | dd of=/dev/mydev 2>/dev/null");
    check!(st == 0, "dd of=: {err}");
    let mut b = [0u8; 9];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"via shell");
    Ok(())
}

fn partially_unmapped_user_buffer_gives_a_short_count() -> TestResult {
    let fd = rw()?;
    // Two anonymous pages, the second made inaccessible: a user buffer whose first 100 bytes
    // are mapped and whose rest is not.
    // SAFETY: a fresh anonymous mapping aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            2 * PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    check!(p != libc::MAP_FAILED);
    let base = p as usize;
    // SAFETY: changing the protection of the second page of our own mapping.
    let r = unsafe { libc::mprotect((base + PAGE) as *mut libc::c_void, PAGE, libc::PROT_NONE) };
    check_eq!(r, 0);
    let start = base + PAGE - 100;
    // SAFETY: the first 100 bytes from `start` are ours and writable; the rest is PROT_NONE,
    // which the kernel reports as a fault without writing.
    let r = unsafe { pread_raw(&fd, start, 200, 0) };
    check!(matches!(r, Ok(100)), "pread across the hole: {r:?}");
    // A short write stores exactly what it reports: the device bytes after it are unchanged
    // (`copy_from_user()` would have zeroed them).
    let before = pattern(300, 5);
    pwrite(&fd, &before, 0).map_err(|e| e.to_string())?;
    check_eq!(
        pwrite_raw(&fd, start, 200, 0).map_err(|e| e.to_string())?,
        100
    );
    let mut after = vec![0u8; 300];
    pread(&fd, &mut after, 0).map_err(|e| e.to_string())?;
    check!(
        after[100..] == before[100..],
        "a short write changed bytes past the 100 it reported"
    );
    // SAFETY: `start` is valid for 100 bytes (see above).
    let stored = unsafe { std::slice::from_raw_parts(start as *const u8, 100) };
    check!(
        after[..100] == *stored,
        "the 100 bytes stored are not the source's"
    );
    // The same through write(2), which also moves the position by exactly what it stored.
    lseek(&fd, 0, libc::SEEK_SET).map_err(|e| e.to_string())?;
    pwrite(&fd, &before, 0).map_err(|e| e.to_string())?;
    let w = write_raw(&fd, start, 200);
    check!(matches!(w, Ok(100)), "write across the hole: {w:?}");
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        100
    );
    pread(&fd, &mut after, 0).map_err(|e| e.to_string())?;
    check!(
        after[100..] == before[100..],
        "a short write(2) changed bytes past it"
    );
    // SAFETY: unmapping our own two pages.
    unsafe { libc::munmap(p, 2 * PAGE) };
    Ok(())
}

fn writes_from_pages_not_yet_present_copy_everything() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let before = pattern(3 * PAGE, 11);
        pwrite(&fd, &before, 0).map_err(|e| e.to_string())?;
        // Three anonymous pages: the first filled, the other two never touched, so the kernel's
        // copy faults them in (as the zero page) part-way.
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                3 * PAGE,
                RW,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        check!(p != libc::MAP_FAILED);
        let src = Map {
            addr: p as usize,
            len: 3 * PAGE,
        };
        src.store_all(0, &vec![0x5A; PAGE]);
        check_eq!(
            pwrite_raw(&fd, src.addr, 3 * PAGE, 0).map_err(|e| e.to_string())?,
            3 * PAGE
        );
        let mut got = vec![0xFFu8; 3 * PAGE];
        pread(&fd, &mut got, 0).map_err(|e| e.to_string())?;
        check!(
            got[..PAGE].iter().all(|&b| b == 0x5A),
            "the present page was not stored"
        );
        check!(
            got[PAGE..].iter().all(|&b| b == 0),
            "the pages faulted in were not stored"
        );
        Ok(())
    })
}

fn readv_and_writev_follow_the_same_rules() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    clear(&fd)?;
    let (a, b) = (b"vector ".to_vec(), b"write".to_vec());
    let iov = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut libc::c_void,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut libc::c_void,
            iov_len: b.len(),
        },
    ];
    // SAFETY: both iovecs describe live buffers that `writev` only reads.
    let w = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
    check_eq!(w, 12);
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        12
    );
    let (mut x, mut y) = (vec![0u8; 3], vec![0u8; 9]);
    let iov = [
        libc::iovec {
            iov_base: x.as_mut_ptr().cast(),
            iov_len: x.len(),
        },
        libc::iovec {
            iov_base: y.as_mut_ptr().cast(),
            iov_len: y.len(),
        },
    ];
    // SAFETY: both iovecs describe live, writable buffers of the given lengths.
    let r = unsafe { libc::preadv(fd.as_raw_fd(), iov.as_ptr(), 2, 0) };
    check_eq!(r, 12);
    check_eq!(&x, b"vec");
    check_eq!(&y, b"tor write");
    // At the end: a short vector write, then ENOSPC; a vector read returns 0.
    lseek(&fd, (n - 4) as i64, libc::SEEK_SET).map_err(|e| e.to_string())?;
    // SAFETY: as above, for `writev`.
    let w = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
    check_eq!(w, 4);
    // SAFETY: as above.
    let w = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
    check!(
        w == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSPC),
        "writev at the end: {w}"
    );
    // SAFETY: as above, for `readv`.
    let r = unsafe { libc::readv(fd.as_raw_fd(), iov.as_ptr(), 2) };
    check_eq!(r, 0);
    Ok(())
}

// ---- mmap ----

fn mapping_and_write_see_each_other_immediately() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    pwrite(&fd, b"from write", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 10), b"from write".to_vec());
    m.store_all(20, b"from map");
    let mut b = [0u8; 8];
    pread(&fd, &mut b, 20).map_err(|e| e.to_string())?;
    check_eq!(&b, b"from map");
    Ok(())
}

fn mappings_in_two_processes_share_bytes() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store(0, 0);
    // The child maps the device by itself (not inherited) and writes; the parent sees it.
    in_child(|| {
        let fd = rw()?;
        let c = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
        c.store_all(0, b"child was here");
        Ok(())
    })?;
    check_eq!(m.load_all(0, 14), b"child was here".to_vec());
    Ok(())
}

fn fork_child_shares_the_inherited_mapping() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"parent");
    let addr = m.addr;
    in_child(|| {
        let view = Map { addr, len: PAGE };
        check_eq!(view.load_all(0, 6), b"parent".to_vec());
        view.store_all(0, b"child!");
        view.forget();
        Ok(())
    })?;
    check_eq!(m.load_all(0, 6), b"child!".to_vec());
    Ok(())
}

fn any_page_aligned_range_inside_maps() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, &[b'A' + p as u8], (p * PAGE) as i64).map_err(|e| e.to_string())?;
        }
        for (pgoff, pages) in [(0, 4), (1, 3), (3, 1), (2, 2), (1, 1)] {
            let m =
                map_shared(&fd, pages, pgoff).map_err(|e| format!("map {pgoff}+{pages}: {e}"))?;
            for i in 0..pages {
                check_eq!(m.load(i * PAGE), b'A' + (pgoff + i) as u8);
            }
        }
        let ro =
            mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        check_eq!(ro.load(0), b'A');
        Ok(())
    })
}

/// Pages are inserted at `mmap` in batches of 64: ranges that start, end and cross inside and
/// between batches must still map every page to its own offset.
fn long_mappings_map_every_page_to_its_own_offset() -> TestResult {
    const PAGES: usize = 300;
    with_module(&format!("size={}", PAGES * PAGE), || {
        let fd = rw()?;
        let mark = |p: usize| [(p % 251) as u8 + 1, (p / 251) as u8 + 1];
        for p in 0..PAGES {
            pwrite(&fd, &mark(p), (p * PAGE + PAGE - 2) as i64).map_err(|e| e.to_string())?;
        }
        for (pgoff, pages) in [
            (0, PAGES),
            (1, 150),
            (63, 66),
            (64, 64),
            (130, 170),
            (299, 1),
        ] {
            let m =
                map_shared(&fd, pages, pgoff).map_err(|e| format!("map {pgoff}+{pages}: {e}"))?;
            for i in 0..pages {
                let at = i * PAGE + PAGE - 2;
                let got = [m.load(at), m.load(at + 1)];
                check!(
                    got == mark(pgoff + i),
                    "map {pgoff}+{pages}: page {i} shows {got:?}, expected page {}'s {:?}",
                    pgoff + i,
                    mark(pgoff + i)
                );
            }
        }
        Ok(())
    })
}

fn ranges_outside_the_buffer_are_einval() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let cases: [(usize, u64); 6] = [
            (PAGE, 4 * PAGE as u64),              // offset at the end
            (PAGE, 5 * PAGE as u64),              // past the end
            (5 * PAGE, 0),                        // too long
            (2 * PAGE, 3 * PAGE as u64),          // crosses the end
            (PAGE, 1u64 << 63),                   // absurd offset
            (PAGE, u64::MAX - (PAGE as u64 - 1)), // the last page of the offset space
        ];
        for (len, off) in cases {
            let r = mmap(&fd, len, RW, libc::MAP_SHARED, off);
            check!(
                errno(&r) == Some(libc::EINVAL)
                    || (off > (1 << 62) && errno(&r) == Some(libc::EOVERFLOW)),
                "mmap len {len} off {off:#x}: {r:?}"
            );
        }
        // Offsets the core mm lets through must reach the driver's check: 2^63 does.
        expect_errno(
            mmap(&fd, PAGE, RW, libc::MAP_SHARED, 1u64 << 63),
            libc::EINVAL,
            "mmap at 2^63",
        )?;
        Ok(())
    })
}

fn read_only_open_gets_read_only_mappings_only() -> TestResult {
    let fd = open_ro().map_err(|e| e.to_string())?;
    expect_errno(
        mmap(&fd, PAGE, RW, libc::MAP_SHARED, 0),
        libc::EACCES,
        "writable shared map of O_RDONLY",
    )?;
    let m = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
    // SAFETY: changing the protection of our own mapping.
    let r = unsafe { libc::mprotect(m.addr as *mut libc::c_void, PAGE, RW) };
    check!(
        r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EACCES),
        "mprotect to writable: {r}"
    );
    let wfd = rw()?;
    pwrite(&wfd, b"ro view", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 7), b"ro view".to_vec());
    Ok(())
}

fn private_mapping_reads_the_buffer_and_keeps_its_stores() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"device bytes", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 12), b"device bytes".to_vec());
    m.store_all(0, b"PRIVATE");
    check_eq!(m.load_all(0, 12), b"PRIVATEbytes".to_vec());
    check_eq!(device_bytes(0, 12)?, b"device bytes".to_vec());
    // Read-only private mappings work too, for programs that map a file to read it.
    let ro = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_PRIVATE, 0).map_err(|e| e.to_string())?;
    check_eq!(ro.load_all(0, 12), b"device bytes".to_vec());
    Ok(())
}

fn first_store_to_an_untouched_private_page_stays_private() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        clear(&fd)?;
        let m = map_private(&fd, 4, 0).map_err(|e| e.to_string())?;
        // Page 0: a store with no load before it (the entry was inserted read-only at mmap).
        m.store(10, 0xAA);
        // Page 1: its entry removed first, so the store is a write fault on a missing entry.
        let page1 = Map {
            addr: m.addr + PAGE,
            len: PAGE,
        };
        page1.dontneed()?;
        page1.forget();
        m.store(PAGE + 10, 0xBB);
        // Page 2: a whole page of stores, one after another.
        m.store_all(2 * PAGE, &vec![0xCC; PAGE]);
        check_eq!(m.load(10), 0xAA);
        check_eq!(m.load(PAGE + 10), 0xBB);
        check_eq!(m.load_all(2 * PAGE, PAGE), vec![0xCC; PAGE]);
        check!(
            device_bytes(0, 4 * PAGE)?.iter().all(|&b| b == 0),
            "a store through a private mapping reached the device"
        );
        Ok(())
    })
}

fn private_stores_after_madv_dontneed_stay_private() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"original", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"copy one");
    m.dontneed()?;
    // The private copy is gone: the page shows the device again.
    check_eq!(m.load_all(0, 8), b"original".to_vec());
    m.store_all(0, b"copy two");
    check_eq!(m.load_all(0, 8), b"copy two".to_vec());
    m.dontneed()?;
    m.store(0, b'X');
    check_eq!(m.load_all(0, 8), b"Xriginal".to_vec());
    check_eq!(device_bytes(0, 8)?, b"original".to_vec());
    Ok(())
}

fn private_writable_mappings_of_a_read_only_open_stay_private() -> TestResult {
    let wfd = rw()?;
    pwrite(&wfd, b"read-only file", 0).map_err(|e| e.to_string())?;
    let fd = open_ro().map_err(|e| e.to_string())?;
    // As for a regular file, a private mapping may be writable on a read-only open.
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"written!");
    check_eq!(m.load_all(0, 14), b"written!y file".to_vec());
    // And a read-only private mapping may be made writable later.
    let r = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_PRIVATE, 0).map_err(|e| e.to_string())?;
    // SAFETY: changing the protection of our own mapping.
    let rc = unsafe { libc::mprotect(r.addr as *mut libc::c_void, PAGE, RW) };
    check!(
        rc == 0,
        "mprotect to writable: {}",
        std::io::Error::last_os_error()
    );
    r.store_all(0, b"mprotect");
    check_eq!(r.load_all(0, 8), b"mprotect".to_vec());
    check_eq!(device_bytes(0, 14)?, b"read-only file".to_vec());
    // A shared writable mapping of the same open is still refused.
    expect_errno(
        mmap(&fd, PAGE, RW, libc::MAP_SHARED, 0),
        libc::EACCES,
        "shared rw on O_RDONLY",
    )
}

fn private_mapping_sees_later_writes_until_it_copies_a_page() -> TestResult {
    with_module("size=8192", || {
        let fd = rw()?;
        clear(&fd)?;
        let m = map_private(&fd, 2, 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"live 0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"live 1", PAGE as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(0, 6), b"live 0".to_vec());
        check_eq!(m.load_all(PAGE, 6), b"live 1".to_vec());
        // Copy page 0 by storing into it: from then on it no longer follows the device.
        m.store(100, 1);
        pwrite(&fd, b"late 0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"late 1", PAGE as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(0, 6), b"live 0".to_vec());
        check_eq!(m.load_all(PAGE, 6), b"late 1".to_vec());
        Ok(())
    })
}

fn fork_keeps_each_processs_private_copies_apart() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"device", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"parent");
    let addr = m.addr;
    in_child(|| {
        let view = Map { addr, len: PAGE };
        check_eq!(view.load_all(0, 6), b"parent".to_vec());
        view.store_all(0, b"child!");
        check_eq!(view.load_all(0, 6), b"child!".to_vec());
        view.forget();
        Ok(())
    })?;
    check_eq!(m.load_all(0, 6), b"parent".to_vec());
    check_eq!(device_bytes(0, 6)?, b"device".to_vec());
    // A child that stores into a page the parent never copied does not change it either.
    let fresh = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    let faddr = fresh.addr;
    in_child(|| {
        let view = Map {
            addr: faddr,
            len: PAGE,
        };
        view.store_all(0, b"CHILD");
        view.forget();
        Ok(())
    })?;
    check_eq!(fresh.load_all(0, 6), b"device".to_vec());
    check_eq!(device_bytes(0, 6)?, b"device".to_vec());
    Ok(())
}

fn private_and_shared_mappings_of_one_page_side_by_side() -> TestResult {
    let fd = rw()?;
    clear(&fd)?;
    let shared = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    let private = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    shared.store_all(0, b"shared store");
    check_eq!(private.load_all(0, 12), b"shared store".to_vec());
    private.store_all(0, b"PRIVATE");
    check_eq!(shared.load_all(0, 12), b"shared store".to_vec());
    check_eq!(private.load_all(0, 12), b"PRIVATEstore".to_vec());
    shared.store_all(0, b"later");
    check_eq!(private.load_all(0, 7), b"PRIVATE".to_vec());
    check_eq!(device_bytes(0, 12)?, b"laterd store".to_vec());
    Ok(())
}

fn private_mappings_follow_the_range_rules() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, &[b'A' + p as u8], (p * PAGE) as i64).map_err(|e| e.to_string())?;
        }
        let m = map_private(&fd, 2, 2).map_err(|e| e.to_string())?;
        check_eq!(m.load(0), b'C');
        check_eq!(m.load(PAGE), b'D');
        expect_errno(
            mmap(&fd, 2 * PAGE, RW, libc::MAP_PRIVATE, 3 * PAGE as u64),
            libc::EINVAL,
            "private range past the end",
        )?;
        expect_errno(
            mmap(&fd, PAGE, RW, libc::MAP_PRIVATE, 4 * PAGE as u64),
            libc::EINVAL,
            "private range at the end",
        )
    })
}

fn executable_mappings_are_refused_now_and_later() -> TestResult {
    let fd = rw()?;
    for (flags, kind) in [(libc::MAP_SHARED, "shared"), (libc::MAP_PRIVATE, "private")] {
        expect_errno(
            mmap(&fd, PAGE, libc::PROT_READ | libc::PROT_EXEC, flags, 0),
            libc::EPERM,
            &format!("{kind} PROT_EXEC"),
        )?;
        let m = mmap(&fd, PAGE, RW, flags, 0).map_err(|e| e.to_string())?;
        // SAFETY: changing the protection of our own mapping.
        let r = unsafe {
            libc::mprotect(
                m.addr as *mut libc::c_void,
                PAGE,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        check!(
            r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EACCES),
            "mprotect PROT_EXEC on a {kind} mapping: {r}"
        );
    }
    Ok(())
}

fn mremap_cannot_grow_but_shrinks_and_moves() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        pwrite(&fd, b"page0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"page1", PAGE as i64).map_err(|e| e.to_string())?;
        let m = map_shared(&fd, 2, 0).map_err(|e| e.to_string())?;
        // SAFETY: remapping our own mapping; on failure nothing changes.
        let g = unsafe {
            libc::mremap(
                m.addr as *mut libc::c_void,
                2 * PAGE,
                3 * PAGE,
                libc::MREMAP_MAYMOVE,
            )
        };
        check!(
            g == libc::MAP_FAILED
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EFAULT),
            "growing mremap: {g:?}"
        );
        // SAFETY: shrinking in place keeps the first page at the same address.
        let s = unsafe { libc::mremap(m.addr as *mut libc::c_void, 2 * PAGE, PAGE, 0) };
        check!(
            s as usize == m.addr,
            "shrinking mremap failed: {}",
            std::io::Error::last_os_error()
        );
        check_eq!(m.load_all(0, 5), b"page0".to_vec());
        let addr = m.addr;
        m.forget();
        let shrunk = Map { addr, len: PAGE };
        // Move it: a new address, same contents.
        let target = map_shared(&fd, 2, 0).map_err(|e| e.to_string())?;
        let dest = target.addr + PAGE;
        // SAFETY: moving our one-page mapping over the second page of our other mapping.
        let mv = unsafe {
            libc::mremap(
                shrunk.addr as *mut libc::c_void,
                PAGE,
                PAGE,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                dest as *mut libc::c_void,
            )
        };
        check!(
            mv as usize == dest,
            "moving mremap failed: {}",
            std::io::Error::last_os_error()
        );
        shrunk.forget();
        check_eq!(target.load_all(PAGE, 5), b"page0".to_vec());
        check_eq!(target.load_all(0, 5), b"page0".to_vec());
        Ok(())
    })
}

fn munmap_of_a_middle_page_keeps_the_rest_in_place() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, format!("page{p}").as_bytes(), (p * PAGE) as i64)
                .map_err(|e| e.to_string())?;
        }
        let m = map_shared(&fd, 4, 0).map_err(|e| e.to_string())?;
        // SAFETY: unmapping the second page of our own mapping.
        let r = unsafe { libc::munmap((m.addr + PAGE) as *mut libc::c_void, PAGE) };
        check_eq!(r, 0);
        for p in [0usize, 2, 3] {
            check_eq!(m.load_all(p * PAGE, 5), format!("page{p}").into_bytes());
        }
        // Writes through the remaining pieces land at the right offsets.
        m.store_all(3 * PAGE + 10, b"tail");
        let mut b = [0u8; 4];
        pread(&fd, &mut b, (3 * PAGE + 10) as i64).map_err(|e| e.to_string())?;
        check_eq!(&b, b"tail");
        let addr = m.addr;
        m.forget();
        drop(Map { addr, len: PAGE });
        drop(Map {
            addr: addr + 2 * PAGE,
            len: 2 * PAGE,
        });
        Ok(())
    })
}

fn dropped_pages_come_back_with_current_contents() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"before");
    m.dontneed()?;
    pwrite(&fd, b"after!", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 6), b"after!".to_vec());
    m.store_all(0, b"again");
    let mut b = [0u8; 5];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"again");
    Ok(())
}

fn mapping_outlives_its_file_descriptor() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    drop(fd);
    m.store_all(0, b"no fd");
    let fd = rw()?;
    let mut b = [0u8; 5];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"no fd");
    Ok(())
}

// ---- 2 MiB parts and PMD entries ----

/// The buffer of these tests: four whole 2 MiB parts and a tail of three pages.
const PARTS: usize = 4;
const TAIL_PAGES: usize = 3;
const PARTS_SIZE: usize = PARTS * PART + TAIL_PAGES * PAGE;
/// One PMD entry in `FilePmdMapped` (KiB).
const ENTRY_KIB: i64 = (PART / 1024) as i64;

/// How many 2 MiB entries more than `before` are mapped now.
fn entries_since(before: i64) -> Result<i64, String> {
    let now = file_pmd_mapped_kib()?;
    Ok((now - before) / ENTRY_KIB)
}

/// Stores a few bytes through `m` at mapping offset `at` (buffer offset `off`) and checks that
/// `pread` sees them; then `pwrite`s other bytes there and checks that the mapping sees those.
fn check_both_ways(fd: &std::os::fd::OwnedFd, m: &Map, at: usize, off: usize) -> TestResult {
    m.store_all(at, b"mapped");
    let mut b = [0u8; 6];
    pread(fd, &mut b, off as i64).map_err(|e| e.to_string())?;
    check!(
        &b == b"mapped",
        "store at mapping {at:#x}: pread at {off:#x} gives {b:?}"
    );
    pwrite(fd, b"writes", off as i64).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(at, 6), b"writes".to_vec());
    // Put the marks back.
    let marks: Vec<u8> = (off..off + 6).map(mark).collect();
    pwrite(fd, &marks, off as i64).map_err(|e| e.to_string())?;
    Ok(())
}

fn whole_parts_are_2m_folios_counted_in_fdinfo() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        check_eq!(fdinfo_field(&fd, "mydev-parts:")?, PARTS as u64);
        check_eq!(fdinfo_field(&fd, "mydev-huge-parts:")?, PARTS as u64);
        check!(
            dmesg().contains(&format!(
                "size {PARTS_SIZE} bytes, {PARTS} of its {PARTS} 2 MiB parts huge"
            )),
            "no load line counting the huge parts"
        );
        Ok(())
    })?;
    with_module(&format!("size={PARTS_SIZE} huge=0"), || {
        let fd = rw()?;
        check_eq!(fdinfo_field(&fd, "mydev-parts:")?, PARTS as u64);
        check_eq!(fdinfo_field(&fd, "mydev-huge-parts:")?, 0);
        Ok(())
    })?;
    // The harness's one-page buffer has no whole part.
    let fd = rw()?;
    check_eq!(fdinfo_field(&fd, "mydev-parts:")?, (size()? / PART) as u64);
    drop(fd);
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let bad = expect_errno(insmod("huge=2"), libc::EINVAL, "huge=2").and_then(|()| {
        check!(!module_loaded(), "huge=2 left the module loaded");
        check!(
            dmesg().contains("invalid parameter huge=2"),
            "no log line for huge=2"
        );
        Ok(())
    });
    let back = restore();
    bad.and(back)
}

fn aligned_shared_mappings_map_whole_parts_with_pmd_entries() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(PARTS_SIZE).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, PARTS_SIZE, RW, libc::MAP_SHARED, 0)
            .map_err(|e| e.to_string())?;
        // Nothing of the parts is mapped before the first touch: they wait for their PMD entry.
        check_eq!(entries_since(before)?, 0);
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, PARTS as i64);
        // Stores through an entry reach the buffer at the right offsets, and back, in every
        // part and in the tail, and across the boundaries between them.
        for off in [
            0,
            5000,
            PART - 3,
            PART,
            3 * PART + 7,
            PARTS * PART - 3,
            PARTS * PART + 10,
        ] {
            check_both_ways(&fd, &m, off, off)?;
        }
        // A second process sees the same bytes through its own entries.
        let child = in_child(|| check_marks(&m, 0));
        child?;
        // `fork` copies no entry of a shared mapping; the child faulted its own, now gone.
        check_eq!(entries_since(before)?, PARTS as i64);
        drop(m);
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })
}

/// Mappings that start or end inside a part, at addresses and offsets that do or do not line
/// up: PMD entries exactly for the parts that lie whole in the mapping at a 2 MiB-aligned address
/// and offset, 4 KiB entries for the rest, and every page at its own offset.
fn pmd_entries_only_where_address_and_offset_line_up() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        // (address from an aligned base, first buffer page, pages, expected PMD entries)
        let cases: [(usize, usize, usize, i64); 9] = [
            (0, 0, PARTS_SIZE / PAGE, PARTS as i64),
            // Starts and ends inside parts 0 and 3, the address as far into its 2 MiB as the
            // offset is into its part: parts 1 and 2 get entries.
            (PAGE, 1, 3 * 512 + 10, 2),
            (PART - PAGE, 511, 2 * 512 + 2, 2),
            // Ends inside part 1.
            (0, 0, 512 + 256, 1),
            // From part 2 to the tail.
            (0, 1024, 2 * 512 + TAIL_PAGES, 2),
            // Aligned address, offset inside a part; and the other way round.
            (0, 1, 3 * 512, 0),
            (PAGE, 0, 3 * 512, 0),
            (PART / 2, 512, 2 * 512, 0),
            // Shorter than a part.
            (0, 512, 511, 0),
        ];
        let r = reserve_aligned(PARTS_SIZE + PART).map_err(|e| e.to_string())?;
        for (at, pgoff, pages, expected) in cases {
            let before = file_pmd_mapped_kib()?;
            let m = mmap_fixed(
                &fd,
                r.base + at,
                pages * PAGE,
                RW,
                libc::MAP_SHARED,
                (pgoff * PAGE) as u64,
            )
            .map_err(|e| format!("map {pages} pages of page {pgoff} at base+{at:#x}: {e}"))?;
            check_marks(&m, pgoff).map_err(|e| format!("base+{at:#x}, page {pgoff}: {e}"))?;
            let got = entries_since(before)?;
            check!(
                got == expected,
                "{pages} pages of page {pgoff} at base+{at:#x}: {got} PMD entries, expected {expected}"
            );
            check_both_ways(&fd, &m, m.len - 6, (pgoff + pages) * PAGE - 6)?;
            drop(m);
            check_eq!(entries_since(before)?, 0);
        }
        Ok(())
    })
}

/// `mmap` without an address places a mapping of a whole part or more at an address that lines
/// up with its offset modulo 2 MiB (`thp_get_unmapped_area`), so that plain callers get PMD
/// entries too.
fn mmap_without_an_address_lines_up_with_the_offset() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        // (first buffer page, pages, expected PMD entries)
        for (pgoff, pages, expected) in [(0, 1024, 2), (1, 3 * 512, 2), (512, 2 * 512 + 3, 2)] {
            let before = file_pmd_mapped_kib()?;
            let m = mmap(
                &fd,
                pages * PAGE,
                RW,
                libc::MAP_SHARED,
                (pgoff * PAGE) as u64,
            )
            .map_err(|e| e.to_string())?;
            check!(
                m.addr % PART == (pgoff * PAGE) % PART,
                "{pages} pages of page {pgoff} mapped at {:#x}",
                m.addr
            );
            check_marks(&m, pgoff)?;
            check_eq!(entries_since(before)?, expected);
        }
        Ok(())
    })
}

/// What splits one 2 MiB entry of a mapping of parts 0 and 1.
#[derive(Debug, Clone, Copy)]
enum Split {
    Munmap,
    Mprotect,
    Dontneed,
    MremapOut,
}

fn split_one_entry(split: Split) -> TestResult {
    let fd = rw()?;
    fill_marks(&fd, PARTS_SIZE)?;
    let r = reserve_aligned(3 * PART).map_err(|e| e.to_string())?;
    let before = file_pmd_mapped_kib()?;
    let m =
        mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
    check_marks(&m, 0)?;
    check_eq!(entries_since(before)?, 2);
    // Page 5 of part 0: inside the first entry.
    let victim = m.addr + 5 * PAGE;
    // SAFETY: each call acts on one page of this test's own mapping.
    let (r, left) = unsafe {
        match split {
            Split::Munmap => (libc::munmap(victim as *mut libc::c_void, PAGE), 1),
            Split::Mprotect => (
                libc::mprotect(victim as *mut libc::c_void, PAGE, libc::PROT_READ),
                1,
            ),
            Split::Dontneed => (
                libc::madvise(victim as *mut libc::c_void, PAGE, libc::MADV_DONTNEED),
                1,
            ),
            Split::MremapOut => {
                let dest = r.base + 2 * PART + PAGE;
                let p = libc::mremap(
                    victim as *mut libc::c_void,
                    PAGE,
                    PAGE,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    dest as *mut libc::c_void,
                );
                let moved = Map {
                    addr: dest,
                    len: PAGE,
                };
                let ok = p as usize == dest;
                if ok {
                    check_marks(&moved, 5)?;
                }
                moved.forget();
                (if ok { 0 } else { -1 }, 1)
            }
        }
    };
    check!(
        r == 0,
        "{split:?} of one page: {}",
        std::io::Error::last_os_error()
    );
    // The split dropped the first entry; the second is untouched.
    check_eq!(entries_since(before)?, left);
    // Every page still in the mapping shows its bytes: no SIGBUS, nothing shifted.
    for i in (0..1024).filter(|&i| i != 5 || matches!(split, Split::Mprotect | Split::Dontneed)) {
        let page = Map {
            addr: m.addr + i * PAGE,
            len: PAGE,
        };
        let checked = check_marks(&page, i);
        page.forget();
        checked?;
    }
    // After `MADV_DONTNEED` the range is still whole in the VMA: touching it brought the entry
    // back. After the others, part 0's pages are 4 KiB entries now.
    let expected = if matches!(split, Split::Dontneed) {
        2
    } else {
        1
    };
    check_eq!(entries_since(before)?, expected);
    // Stores on both sides of the split reach the buffer, and `pwrite`s reach the mapping.
    check_both_ways(&fd, &m, 6 * PAGE + 100, 6 * PAGE + 100)?;
    check_both_ways(&fd, &m, 4 * PAGE + 100, 4 * PAGE + 100)?;
    check_both_ways(&fd, &m, PART + 100, PART + 100)?;
    drop(m);
    check_eq!(entries_since(before)?, 0);
    Ok(())
}

fn munmap_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Munmap)
    })
}

fn mprotect_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Mprotect)
    })
}

fn madv_dontneed_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Dontneed)
    })
}

fn mremap_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::MremapOut)
    })
}

/// `mremap` of whole entries to a 2 MiB-aligned address moves them as they are; to any other
/// address, the pages follow as 4 KiB entries.
fn mremap_moves_whole_pmd_entries() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(6 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        for (dest, expected) in [(r.base + 3 * PART, 2), (r.base + 3 * PART + PAGE, 0)] {
            let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, 2);
            // SAFETY: moving this test's own mapping into its own reservation.
            let p = unsafe {
                libc::mremap(
                    m.addr as *mut libc::c_void,
                    2 * PART,
                    2 * PART,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    dest as *mut libc::c_void,
                )
            };
            check!(
                p as usize == dest,
                "mremap to {dest:#x}: {}",
                std::io::Error::last_os_error()
            );
            m.forget();
            let moved = Map {
                addr: dest,
                len: 2 * PART,
            };
            check_marks(&moved, 0)?;
            check_eq!(entries_since(before)?, expected);
            check_both_ways(&fd, &moved, PART + 1, PART + 1)?;
            drop(moved);
            check_eq!(entries_since(before)?, 0);
        }
        Ok(())
    })
}

/// Private mappings keep 4 KiB entries, also over huge parts, and stay copy-on-write.
fn private_mappings_of_huge_parts_use_4k_entries_and_stay_private() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(2 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_PRIVATE, 0)
            .map_err(|e| e.to_string())?;
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, 0);
        m.store_all(PART + 10, b"private");
        check_eq!(
            device_bytes((PART + 10) as i64, 7)?,
            (PART + 10..PART + 17).map(mark).collect::<Vec<u8>>()
        );
        pwrite(&fd, b"later", (PART + 3 * PAGE) as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(PART + 3 * PAGE, 5), b"later".to_vec());
        check_eq!(m.load_all(PART + 10, 7), b"private".to_vec());
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })
}

/// Where THP is refused (`MADV_NOHUGEPAGE` on the mapping, or `never` in sysfs), huge parts are
/// mapped a 4 KiB page at a time by the fault handler, with the same bytes and no `SIGBUS`.
fn huge_parts_map_4k_where_thp_is_refused() -> TestResult {
    const ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(2 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
            .map_err(|e| e.to_string())?;
        // SAFETY: advising on this test's own mapping.
        let a = unsafe { libc::madvise(m.addr as *mut libc::c_void, m.len, libc::MADV_NOHUGEPAGE) };
        check!(
            a == 0,
            "MADV_NOHUGEPAGE: {}",
            std::io::Error::last_os_error()
        );
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, 0);
        check_both_ways(&fd, &m, PART + 9, PART + 9)?;
        drop(m);

        let was = std::fs::read_to_string(ENABLED).map_err(|e| format!("{ENABLED}: {e}"))?;
        let was = was
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
            .ok_or_else(|| format!("{ENABLED}: {was}"))?
            .to_string();
        std::fs::write(ENABLED, "never").map_err(|e| format!("{ENABLED}: {e}"))?;
        let never = (|| {
            let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, 0);
            check_both_ways(&fd, &m, 7, 7)
        })();
        let back = std::fs::write(ENABLED, &was).map_err(|e| format!("{ENABLED}: {e}"));
        never.and(back)
    })
}

/// A buffer with a part that could not be a 2 MiB folio between parts that are: PMD entries for
/// the huge parts, 4 KiB entries for the other, the same bytes everywhere, splits included. The
/// large allocation is failed on purpose (test kernel only): with fault injection counting only
/// page allocations of order 9 and up (and user copies), the Nth point of `insmod` fails, for
/// N = 1, 2, … until a load's small part is one in the middle.
fn a_small_part_between_huge_parts_maps_4k_between_pmd_entries() -> TestResult {
    use guest_tests::inject::{self, FailNth};
    if !inject::available() {
        return Err("SKIP: no fault injection in this kernel".to_string());
    }
    let setup = inject::Setup::new(true)?;
    // No slab allocation counts (only caches marked SLAB_FAILSLAB, and none is), no page
    // allocation below order 9.
    let knobs = |cache_filter: &str, min_order: &str| -> TestResult {
        for (knob, value) in [
            ("failslab/cache-filter", cache_filter),
            ("fail_page_alloc/min-order", min_order),
        ] {
            std::fs::write(format!("/sys/kernel/debug/{knob}"), value)
                .map_err(|e| format!("{knob}: {e}"))?;
        }
        Ok(())
    };
    knobs("Y", "9")?;
    let params = format!("size={PARTS_SIZE}");
    let mut found = None;
    let mut tried = Vec::new();
    let result = (|| {
        for n in 1..=2 * PARTS + 4 {
            if module_loaded() {
                rmmod().map_err(|e| format!("rmmod: {e}"))?;
            }
            let mut nth = FailNth::open()?;
            nth.arm(n)?;
            let loaded = insmod(&params);
            let injected = nth.injected()?;
            drop(nth);
            if let Err(e) = loaded {
                // The failure hit something the load cannot do without (a user copy).
                tried.push(format!("{n}: {e}"));
                continue;
            }
            let fd = rw()?;
            let huge = fdinfo_field(&fd, "mydev-huge-parts:")?;
            tried.push(format!("{n}: {huge} huge, injected {injected}"));
            if huge != (PARTS - 1) as u64 {
                continue;
            }
            fill_marks(&fd, PARTS_SIZE)?;
            let r = reserve_aligned(PARTS_SIZE).map_err(|e| e.to_string())?;
            // Which part is small: the one whose own aligned mapping gets no PMD entry.
            let mut small = None;
            for k in 0..PARTS {
                let before = file_pmd_mapped_kib()?;
                let m = mmap_fixed(&fd, r.base, PART, RW, libc::MAP_SHARED, (k * PART) as u64)
                    .map_err(|e| e.to_string())?;
                check_marks(&m, k * 512)?;
                if entries_since(before)? == 0 {
                    small = Some(k);
                }
            }
            tried.push(format!("{n}: small part {small:?}"));
            let Some(k) = small.filter(|&k| k > 0 && k < PARTS - 1) else {
                continue;
            };
            // The whole buffer: an entry for each huge part, 4 KiB in the small one.
            let before = file_pmd_mapped_kib()?;
            let m = mmap_fixed(&fd, r.base, PARTS_SIZE, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, (PARTS - 1) as i64);
            check_both_ways(&fd, &m, k * PART - 3, k * PART - 3)?;
            check_both_ways(&fd, &m, (k + 1) * PART - 3, (k + 1) * PART - 3)?;
            // Split the entry after the small part; its neighbours stay as they were.
            let page = (m.addr + (k + 1) * PART + PAGE) as *mut libc::c_void;
            // SAFETY: one page inside this test's own mapping.
            check_eq!(unsafe { libc::munmap(page, PAGE) }, 0);
            for i in (0..PARTS_SIZE / PAGE).filter(|&i| i != (k + 1) * 512 + 1) {
                let one = Map {
                    addr: m.addr + i * PAGE,
                    len: PAGE,
                };
                let checked = check_marks(&one, i);
                one.forget();
                checked?;
            }
            check_eq!(entries_since(before)?, (PARTS - 2) as i64);
            drop(m);
            check_eq!(entries_since(before)?, 0);
            found = Some((n, k));
            break;
        }
        Ok(())
    })();
    let back = restore();
    drop(setup);
    let knobs_back = knobs("N", "0");
    result.and(back).and(knobs_back)?;
    match found {
        Some((n, k)) => {
            println!("# failing point {n} of insmod left part {k} of {PARTS} small");
            Ok(())
        }
        None => Err(format!(
            "no failure point of insmod left a middle part small: {}",
            tried.join("; ")
        )),
    }
}

/// Splits of every kind over every entry of a 512 MiB buffer, then unload: the memory comes back
/// (a PMD split that kept its folio reference would keep 2 MiB per split, 512 MiB in all). The
/// margin, 192 MiB, covers what the debug kernel keeps for a while after a free: KASAN's
/// quarantine (up to a 32nd of memory) and the vmalloc shadow of the buffer's `vmap` until the
/// lazy purge.
fn unload_after_pmd_splits_frees_every_part() -> TestResult {
    const SIZE: usize = 512 << 20;
    let free_before = meminfo_kib("MemFree:")?;
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        // Nearly every part is a 2 MiB folio (all of them, after a fresh boot).
        let huge = fdinfo_field(&fd, "mydev-huge-parts:")? as i64;
        let parts = (SIZE / PART) as i64;
        check!(
            huge * 10 >= parts * 9,
            "only {huge} of {parts} parts are huge"
        );
        let r = reserve_aligned(SIZE).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m =
            mmap_fixed(&fd, r.base, SIZE, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        for i in (0..SIZE).step_by(PAGE) {
            m.store(i, 1);
        }
        check_eq!(entries_since(before)?, huge);
        for k in 0..SIZE / PART {
            let page = (m.addr + k * PART + (k % 7 + 1) * PAGE) as *mut libc::c_void;
            // SAFETY: one page inside this test's own mapping.
            let r = unsafe {
                match k % 3 {
                    0 => libc::munmap(page, PAGE),
                    1 => libc::mprotect(page, PAGE, libc::PROT_READ),
                    _ => libc::madvise(page, PAGE, libc::MADV_DONTNEED),
                }
            };
            check!(r == 0, "split {k}: {}", std::io::Error::last_os_error());
        }
        // Fault the split ranges back in, then unmap everything and close.
        for i in (0..SIZE).step_by(PAGE) {
            let k = i / PART;
            if k % 3 != 0 || i % PART != (k % 7 + 1) * PAGE {
                check!(m.load(i) == 1, "byte {i:#x} lost its store");
            }
        }
        drop(m);
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })?;
    let free_after = meminfo_kib("MemFree:")?;
    check!(
        free_after > free_before - 192 * 1024,
        "MemFree was {free_before} KiB before the 512 MiB load and is {free_after} KiB after the unload"
    );
    Ok(())
}

// ---- ioctl and fdinfo ----

fn unknown_ioctls_are_enotty() -> TestResult {
    let fd = rw()?;
    for cmd in [
        0u32,
        0xB903,
        MYDEV_IOC_GET_SIZE + 1,
        0x5401, /* TCGETS */
        u32::MAX,
    ] {
        expect_errno(ioctl(&fd, cmd, 0), libc::ENOTTY, &format!("ioctl {cmd:#x}"))?;
    }
    Ok(())
}

fn size_ioctl_with_a_bad_pointer_is_efault() -> TestResult {
    let fd = rw()?;
    expect_errno(
        ioctl(&fd, MYDEV_IOC_GET_SIZE, 0),
        libc::EFAULT,
        "GET_SIZE to NULL",
    )?;
    expect_errno(
        ioctl(&fd, MYDEV_IOC_GET_SIZE, 8),
        libc::EFAULT,
        "GET_SIZE to 8",
    )
}

fn clear_zeroes_the_buffer_and_needs_write_access() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    pwrite(&fd, &pattern(n, 5), 0).map_err(|e| e.to_string())?;
    let ro = open_ro().map_err(|e| e.to_string())?;
    expect_errno(
        ioctl(&ro, MYDEV_IOC_CLEAR, 0),
        libc::EBADF,
        "clear on O_RDONLY",
    )?;
    check!(m.load(0) != 0);
    clear(&fd)?;
    let mut buf = vec![1u8; n];
    pread(&fd, &mut buf, 0).map_err(|e| e.to_string())?;
    check!(buf.iter().all(|&b| b == 0), "clear left non-zero bytes");
    check!(
        m.load_all(0, PAGE).iter().all(|&b| b == 0),
        "the mapping still shows old bytes"
    );
    Ok(())
}

fn fdinfo_shows_the_size() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .map_err(|e| e.to_string())?;
    check!(
        info.contains(&format!("mydev-size:\t{n}\n")),
        "fdinfo: {info}"
    );
    Ok(())
}

fn no_log_line_per_call() -> TestResult {
    let before = dmesg().lines().count();
    let fd = rw()?;
    let mut b = [0u8; 8];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    pwrite(&fd, b"quiet", 0).map_err(|e| e.to_string())?;
    drop(map_shared(&fd, 1, 0).map_err(|e| e.to_string())?);
    check_eq!(dmesg().lines().count(), before);
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        node_is_a_misc_device_created_at_load,
        size_ioctl_reports_the_parameter,
        default_size_is_one_page,
        buffer_is_zero_after_reload,
        bad_size_parameters_fail_the_load_cleanly,
        largest_size_loads_maps_and_is_freed_at_unload,
        rmmod_fails_while_open_and_succeeds_after,
        rmmod_fails_while_a_mapping_exists,
        read_returns_min_of_count_and_rest_and_advances,
        read_at_or_past_the_end_returns_zero,
        write_at_the_end_is_enospc_and_crossing_it_is_short,
        write_advances_the_position,
        sequential_write_to_the_end_then_enospc,
        unmapped_user_buffers_give_efault,
        partially_unmapped_user_buffer_gives_a_short_count,
        writes_from_pages_not_yet_present_copy_everything,
        readv_and_writev_follow_the_same_rules,
        lseek_set_cur_end_move_inside_the_buffer,
        lseek_outside_the_buffer_is_einval_and_keeps_the_position,
        lseek_data_and_hole_answer_as_a_file_without_holes,
        read_and_write_go_where_lseek_put_them,
        read_write_and_lseek_on_a_shared_file_take_turns,
        every_opener_sees_the_same_bytes,
        read_only_open_cannot_write,
        ordinary_clients_cat_dd_head_cmp,
        mapping_and_write_see_each_other_immediately,
        mappings_in_two_processes_share_bytes,
        fork_child_shares_the_inherited_mapping,
        any_page_aligned_range_inside_maps,
        long_mappings_map_every_page_to_its_own_offset,
        ranges_outside_the_buffer_are_einval,
        read_only_open_gets_read_only_mappings_only,
        private_mapping_reads_the_buffer_and_keeps_its_stores,
        first_store_to_an_untouched_private_page_stays_private,
        private_stores_after_madv_dontneed_stay_private,
        private_writable_mappings_of_a_read_only_open_stay_private,
        private_mapping_sees_later_writes_until_it_copies_a_page,
        fork_keeps_each_processs_private_copies_apart,
        private_and_shared_mappings_of_one_page_side_by_side,
        private_mappings_follow_the_range_rules,
        executable_mappings_are_refused_now_and_later,
        mremap_cannot_grow_but_shrinks_and_moves,
        munmap_of_a_middle_page_keeps_the_rest_in_place,
        dropped_pages_come_back_with_current_contents,
        mapping_outlives_its_file_descriptor,
        whole_parts_are_2m_folios_counted_in_fdinfo,
        aligned_shared_mappings_map_whole_parts_with_pmd_entries,
        pmd_entries_only_where_address_and_offset_line_up,
        mmap_without_an_address_lines_up_with_the_offset,
        munmap_of_part_of_a_pmd_entry_keeps_the_rest,
        mprotect_of_part_of_a_pmd_entry_keeps_the_rest,
        madv_dontneed_of_part_of_a_pmd_entry_keeps_the_rest,
        mremap_of_part_of_a_pmd_entry_keeps_the_rest,
        mremap_moves_whole_pmd_entries,
        private_mappings_of_huge_parts_use_4k_entries_and_stay_private,
        huge_parts_map_4k_where_thp_is_refused,
        a_small_part_between_huge_parts_maps_4k_between_pmd_entries,
        unload_after_pmd_splits_frees_every_part,
        unknown_ioctls_are_enotty,
        size_ioctl_with_a_bad_pointer_is_efault,
        clear_zeroes_the_buffer_and_needs_write_access,
        fdinfo_shows_the_size,
        no_log_line_per_call,
    ])
}
