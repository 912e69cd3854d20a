// SPDX-License-Identifier: GPL-2.0

//! `read`, `write`, `lseek` and their vectored forms, and the openers that share a buffer.

use super::{RW, pattern, rw, size};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use std::os::fd::AsRawFd;

pub fn read_returns_min_of_count_and_rest_and_advances() -> TestResult {
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

pub fn read_at_or_past_the_end_returns_zero() -> TestResult {
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

pub fn write_at_the_end_is_enospc_and_crossing_it_is_short() -> TestResult {
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

pub fn write_advances_the_position() -> TestResult {
    let fd = rw()?;
    clear(&fd)?;
    check_eq!(write(&fd, b"Hello, ").map_err(|e| e.to_string())?, 7);
    check_eq!(write(&fd, b"World!").map_err(|e| e.to_string())?, 6);
    let mut b = [0u8; 13];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"Hello, World!");
    Ok(())
}

pub fn sequential_write_to_the_end_then_enospc() -> TestResult {
    let fd = rw()?;
    let n = size()?;
    let data = pattern(n + 100, 9);
    check_eq!(write(&fd, &data).map_err(|e| e.to_string())?, n);
    expect_errno(write(&fd, b"more"), libc::ENOSPC, "write at the end")
}

pub fn unmapped_user_buffers_give_efault() -> TestResult {
    let fd = rw()?;
    // A PROT_NONE anonymous page: a valid address range that the kernel cannot copy to or from.
    let none = anon(PAGE, libc::PROT_NONE).map_err(|e| format!("mmap: {e}"))?;
    let addr = none.addr;
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
    drop(none);
    Ok(())
}

pub fn lseek_set_cur_end_move_inside_the_buffer() -> TestResult {
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

pub fn lseek_outside_the_buffer_is_einval_and_keeps_the_position() -> TestResult {
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

pub fn lseek_data_and_hole_answer_as_a_file_without_holes() -> TestResult {
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

pub fn read_and_write_go_where_lseek_put_them() -> TestResult {
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

pub fn read_write_and_lseek_on_a_shared_file_take_turns() -> TestResult {
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

pub fn every_opener_sees_the_same_bytes() -> TestResult {
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

pub fn read_only_open_cannot_write() -> TestResult {
    let fd = open_ro().map_err(|e| e.to_string())?;
    expect_errno(pwrite(&fd, b"x", 0), libc::EBADF, "pwrite on O_RDONLY")
}

pub fn ordinary_clients_cat_dd_head_cmp() -> TestResult {
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

pub fn partially_unmapped_user_buffer_gives_a_short_count() -> TestResult {
    let fd = rw()?;
    // Two anonymous pages, the second made inaccessible: a user buffer whose first 100 bytes
    // are mapped and whose rest is not.
    let m = anon(2 * PAGE, RW).map_err(|e| format!("mmap: {e}"))?;
    check!(m.protect(PAGE, PAGE, libc::PROT_NONE).is_ok(), "mprotect");
    let start = m.addr + PAGE - 100;
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
    // `start` is valid for 100 bytes (see above).
    let stored = m.load_all(PAGE - 100, 100);
    check!(
        after[..100] == stored[..],
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
    drop(m);
    Ok(())
}

pub fn writes_from_pages_not_yet_present_copy_everything() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let before = pattern(3 * PAGE, 11);
        pwrite(&fd, &before, 0).map_err(|e| e.to_string())?;
        // Three anonymous pages: the first filled, the other two never touched, so the kernel's
        // copy faults them in (as the zero page) part-way.
        let src = anon(3 * PAGE, RW).map_err(|e| format!("mmap: {e}"))?;
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

pub fn readv_and_writev_follow_the_same_rules() -> TestResult {
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
