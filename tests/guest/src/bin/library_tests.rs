// SPDX-License-Identifier: GPL-2.0

//! The `mydev` library against the real device: its bounds checks and its errors.

use guest_tests::sys::{DEVICE, PAGE, device_size};
use guest_tests::{TestResult, check, check_eq};
use mydev::{Device, ErrorKind};
use std::process::ExitCode;

fn dev() -> Result<Device, String> {
    Device::open(DEVICE).map_err(|e| e.to_string())
}

fn open_reports_the_size_from_the_ioctl() -> TestResult {
    let d = Device::open_default().map_err(|e| e.to_string())?;
    check_eq!(d.size(), device_size()?);
    check_eq!(d.path(), std::path::Path::new(DEVICE));
    Ok(())
}

fn read_at_and_write_at_round_trip() -> TestResult {
    let d = dev()?;
    check_eq!(d.write_at(40, b"library").map_err(|e| e.to_string())?, 7);
    let mut b = [0u8; 7];
    check_eq!(d.read_at(40, &mut b).map_err(|e| e.to_string())?, 7);
    check_eq!(&b, b"library");
    let n = d.size() as u64;
    check_eq!(d.read_at(n, &mut b).map_err(|e| e.to_string())?, 0);
    let e = d
        .write_at(n, b"x")
        .err()
        .ok_or("write at the end succeeded")?;
    check_eq!(e.kind(), ErrorKind::Io);
    check_eq!(e.raw_os_error(), Some(libc::ENOSPC));
    check!(e.to_string().contains(DEVICE), "{e}");
    Ok(())
}

fn map_range_checks_bounds_before_mapping() -> TestResult {
    let d = dev()?;
    let n = d.size();
    for (off, len) in [
        (1, PAGE),
        (0, PAGE + 1),
        (0, 0),
        (n, PAGE),
        (0, n + PAGE),
        (usize::MAX - (PAGE - 1), PAGE),
    ] {
        let e = d
            .map_range(off, len)
            .err()
            .ok_or(format!("map_range({off}, {len}) succeeded"))?;
        check_eq!(e.kind(), ErrorKind::OutOfBounds);
        check!(e.to_string().contains(&format!("{n}-byte buffer")), "{e}");
    }
    let m = d.map_range(0, PAGE).map_err(|e| e.to_string())?;
    check_eq!(m.len(), PAGE);
    Ok(())
}

fn mapping_copies_are_bounds_checked() -> TestResult {
    let d = dev()?;
    let m = d.map().map_err(|e| e.to_string())?;
    let len = m.len();
    m.write(0, b"mapped").map_err(|e| e.to_string())?;
    check_eq!(m.byte(1).map_err(|e| e.to_string())?, b'a');
    let mut two = [0u8; 2];
    check_eq!(
        m.read(len - 1, &mut two).err().map(|e| e.kind()),
        Some(ErrorKind::OutOfBounds)
    );
    check_eq!(
        m.byte(len).err().map(|e| e.kind()),
        Some(ErrorKind::OutOfBounds)
    );
    check_eq!(
        m.write(usize::MAX, b"x").err().map(|e| e.kind()),
        Some(ErrorKind::OutOfBounds)
    );
    let mut b = [0u8; 6];
    check_eq!(d.read_at(0, &mut b).map_err(|e| e.to_string())?, 6);
    check_eq!(&b, b"mapped");
    Ok(())
}

fn read_only_device_gives_read_only_mappings() -> TestResult {
    let d = Device::open_read_only(DEVICE).map_err(|e| e.to_string())?;
    let m = d.map().map_err(|e| e.to_string())?;
    check!(!m.is_writable());
    let e = m
        .write(0, b"x")
        .err()
        .ok_or("write through a read-only mapping succeeded")?;
    check_eq!(e.raw_os_error(), Some(libc::EACCES));
    let e = d
        .clear()
        .err()
        .ok_or("clear on a read-only device succeeded")?;
    check_eq!(
        (e.kind(), e.raw_os_error()),
        (ErrorKind::Ioctl, Some(libc::EBADF))
    );
    Ok(())
}

fn clear_zeroes_through_the_library() -> TestResult {
    let d = dev()?;
    d.write_at(0, b"dirty").map_err(|e| e.to_string())?;
    d.clear().map_err(|e| e.to_string())?;
    let m = d.map().map_err(|e| e.to_string())?;
    let mut b = vec![1u8; m.len()];
    m.read(0, &mut b).map_err(|e| e.to_string())?;
    check!(b.iter().all(|&x| x == 0));
    Ok(())
}

fn missing_node_is_an_open_error() -> TestResult {
    let e = Device::open("/dev/no-such-mydev")
        .err()
        .ok_or("open succeeded")?;
    check_eq!(e.kind(), ErrorKind::Open);
    check_eq!(e.raw_os_error(), Some(libc::ENOENT));
    check!(
        e.to_string()
            .starts_with("cannot open /dev/no-such-mydev: "),
        "{e}"
    );
    Ok(())
}

fn dropping_a_mapping_unmaps_it() -> TestResult {
    let count = || {
        std::fs::read_to_string("/proc/self/maps")
            .map(|m| m.lines().filter(|l| l.ends_with(DEVICE)).count())
    };
    let d = dev()?;
    let m = d.map().map_err(|e| e.to_string())?;
    check_eq!(count().map_err(|e| e.to_string())?, 1);
    drop(m);
    check_eq!(count().map_err(|e| e.to_string())?, 0);
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        open_reports_the_size_from_the_ioctl,
        read_at_and_write_at_round_trip,
        map_range_checks_bounds_before_mapping,
        mapping_copies_are_bounds_checked,
        read_only_device_gives_read_only_mappings,
        clear_zeroes_through_the_library,
        missing_node_is_an_open_error,
        dropping_a_mapping_unmaps_it,
    ])
}
