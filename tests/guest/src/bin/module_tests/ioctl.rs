// SPDX-License-Identifier: GPL-2.0

//! The ioctls, fdinfo, and the kernel log.

use super::{pattern, rw, size};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use mydev::uapi::{MYDEV_IOC_CLEAR, MYDEV_IOC_GET_SIZE};
use std::os::fd::AsRawFd;

pub fn unknown_ioctls_are_enotty() -> TestResult {
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

pub fn size_ioctl_with_a_bad_pointer_is_efault() -> TestResult {
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

pub fn clear_zeroes_the_buffer_and_needs_write_access() -> TestResult {
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

pub fn fdinfo_shows_the_size() -> TestResult {
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

pub fn no_log_line_per_call() -> TestResult {
    let before = dmesg().lines().count();
    let fd = rw()?;
    let mut b = [0u8; 8];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    pwrite(&fd, b"quiet", 0).map_err(|e| e.to_string())?;
    drop(map_shared(&fd, 1, 0).map_err(|e| e.to_string())?);
    check_eq!(dmesg().lines().count(), before);
    Ok(())
}
