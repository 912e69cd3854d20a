// SPDX-License-Identifier: GPL-2.0

//! The `mydev` library against the real device: its bounds checks, its mapping options, its
//! conversions and its errors.

use guest_tests::sys::{DEVICE, PAGE, device_size, with_module};
use guest_tests::{TestResult, check, check_eq};
use mydev::{Device, ErrorKind, MapOptions};
use std::os::fd::{AsFd, AsRawFd};
use std::process::ExitCode;

/// The message and its sources, joined as anyhow's `{:#}` joins them.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// The permissions column of the line of `/proc/self/maps` for the mapping at `addr`.
fn map_perms(addr: *mut u8) -> Result<String, String> {
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| e.to_string())?;
    let page = addr as usize & !(PAGE - 1);
    maps.lines()
        .find(|l| l.starts_with(&format!("{page:x}-")))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_string)
        .ok_or(format!("no mapping at {page:#x}"))
}

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
    check_eq!(
        chain(&e),
        format!(
            "cannot write 1 byte at offset {n} of {DEVICE}: No space left on device (os error 28)"
        )
    );
    Ok(())
}

fn map_range_checks_bounds_before_mapping() -> TestResult {
    let d = dev()?;
    let n = d.size();
    for (off, len) in [
        (0, 0),
        (n, PAGE),
        (n - 1, 2),
        (0, n + 1),
        (usize::MAX - (PAGE - 1), PAGE),
    ] {
        let e = d
            .map_range(off, len)
            .err()
            .ok_or(format!("map_range({off}, {len}) succeeded"))?;
        check_eq!(e.kind(), ErrorKind::OutOfBounds);
        let b = e.bounds().ok_or("no bounds")?;
        check_eq!((b.offset, b.len, b.size), (off, len, n));
        check!(
            e.to_string().starts_with(&format!(
                "cannot map {len} bytes at offset {off} of {DEVICE}: "
            )),
            "{e}"
        );
    }
    let m = d.map_range(0, PAGE).map_err(|e| e.to_string())?;
    check_eq!(m.len(), PAGE);
    Ok(())
}

fn any_byte_range_maps_exactly_its_bytes() -> TestResult {
    with_module("size=16384", || {
        let d = dev()?;
        for (off, len) in [(100, 8), (PAGE - 4, 8), (1, 3 * PAGE), (16384 - 1, 1)] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
            d.write_at(off as u64, &data).map_err(|e| e.to_string())?;
            let m = d.map_range(off, len).map_err(|e| e.to_string())?;
            check_eq!((m.offset(), m.len()), (off, len));
            let mut back = vec![0u8; len];
            m.read(0, &mut back).map_err(|e| e.to_string())?;
            check!(back == data, "map_range({off}, {len}) shows other bytes");
            m.write(0, b"Z").map_err(|e| e.to_string())?;
            let mut b = [0u8];
            d.read_at(off as u64, &mut b).map_err(|e| e.to_string())?;
            check_eq!(b[0], b'Z');
            check_eq!(
                m.byte(len).err().map(|e| e.kind()),
                Some(ErrorKind::OutOfBounds)
            );
        }
        Ok(())
    })
}

fn private_mapping_keeps_its_stores_to_itself() -> TestResult {
    let d = dev()?;
    d.write_at(0, b"device").map_err(|e| e.to_string())?;
    let ro = Device::open_read_only(DEVICE).map_err(|e| e.to_string())?;
    for dev in [&d, &ro] {
        let m = MapOptions::new()
            .private()
            .map(dev)
            .map_err(|e| e.to_string())?;
        check!(m.is_private() && m.is_writable());
        check!(map_perms(m.as_ptr())?.ends_with('p'), "not MAP_PRIVATE");
        m.write(0, b"mine").map_err(|e| e.to_string())?;
        let mut b = [0u8; 6];
        m.read(0, &mut b).map_err(|e| e.to_string())?;
        check_eq!(&b, b"minece");
        d.read_at(0, &mut b).map_err(|e| e.to_string())?;
        check_eq!(&b, b"device");
        let shared = d.map().map_err(|e| e.to_string())?;
        shared.read(0, &mut b).map_err(|e| e.to_string())?;
        check_eq!(&b, b"device");
    }
    Ok(())
}

fn read_only_option_maps_read_only_on_a_writable_open() -> TestResult {
    let d = dev()?;
    let m = MapOptions::new()
        .read_only()
        .map(&d)
        .map_err(|e| e.to_string())?;
    check!(!m.is_writable());
    check_eq!(map_perms(m.as_ptr())?, "r--s");
    let e = m.write(0, b"x").err().ok_or("a store went through")?;
    check_eq!(e.kind(), ErrorKind::ReadOnly);
    check_eq!(
        e.to_string(),
        format!("cannot write through a mapping of {DEVICE}: the mapping is read-only")
    );
    check_eq!(
        std::io::Error::from(e).kind(),
        std::io::ErrorKind::PermissionDenied
    );
    Ok(())
}

fn populate_copies_a_private_mapping_up_front() -> TestResult {
    // A writable private mapping's pages are copied when populated, so a later write to the
    // device no longer shows there; without populate, a page not yet stored to still follows it.
    let d = dev()?;
    d.write_at(0, b"before").map_err(|e| e.to_string())?;
    let lazy = MapOptions::new()
        .private()
        .map(&d)
        .map_err(|e| e.to_string())?;
    let eager = MapOptions::new()
        .private()
        .populate()
        .map(&d)
        .map_err(|e| e.to_string())?;
    d.write_at(0, b"after!").map_err(|e| e.to_string())?;
    let mut b = [0u8; 6];
    lazy.read(0, &mut b).map_err(|e| e.to_string())?;
    check_eq!(&b, b"after!");
    eager.read(0, &mut b).map_err(|e| e.to_string())?;
    check_eq!(&b, b"before");
    Ok(())
}

fn device_lends_its_fd_and_converts_to_and_from_a_file() -> TestResult {
    let d = dev()?;
    let fd = d.as_raw_fd();
    check_eq!(d.as_fd().as_raw_fd(), fd);
    check_eq!(d.file().as_raw_fd(), fd);
    let file = std::fs::File::from(d);
    check_eq!(file.as_raw_fd(), fd);
    let d = Device::try_from(file).map_err(|e| e.to_string())?;
    check_eq!(
        (d.size(), d.path()),
        (device_size()?, std::path::Path::new(DEVICE))
    );
    check!(d.is_writable());
    d.write_at(0, b"via a File").map_err(|e| e.to_string())?;
    let ro = std::fs::File::open(DEVICE).map_err(|e| e.to_string())?;
    let ro = Device::try_from(ro).map_err(|e| e.to_string())?;
    check!(!ro.is_writable());
    check_eq!(
        ro.map()
            .map(|m| m.is_writable())
            .map_err(|e| e.to_string())?,
        false
    );
    let null = std::fs::File::open("/dev/null").map_err(|e| e.to_string())?;
    let e = Device::try_from(null)
        .err()
        .ok_or("/dev/null became a Device")?;
    check_eq!(
        (e.kind(), e.raw_os_error()),
        (ErrorKind::Ioctl, Some(libc::ENOTTY))
    );
    // One cause, once (the C library's wording of ENOTTY varies: musl says "Not a tty").
    let c = chain(&e);
    check!(
        c.starts_with("cannot get the buffer size of /dev/null (MYDEV_IOC_GET_SIZE): ")
            && c.ends_with("(os error 25)")
            && c.matches("os error").count() == 1,
        "{c}"
    );
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
    check_eq!(e.kind(), ErrorKind::ReadOnly);
    check_eq!(map_perms(m.as_ptr())?, "r--s");
    let e = d
        .clear()
        .err()
        .ok_or("clear on a read-only device succeeded")?;
    check_eq!(
        (e.kind(), e.raw_os_error()),
        (ErrorKind::Ioctl, Some(libc::EBADF))
    );
    check_eq!(
        chain(&e),
        format!("cannot clear {DEVICE} (MYDEV_IOC_CLEAR): Bad file descriptor (os error 9)")
    );
    let e = d
        .write_at(0, b"x")
        .err()
        .ok_or("write_at on a read-only device succeeded")?;
    check_eq!(
        chain(&e),
        format!("cannot write 1 byte at offset 0 of {DEVICE}: Bad file descriptor (os error 9)")
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
    let want = "cannot open /dev/no-such-mydev for reading and writing: \
                No such file or directory (os error 2)";
    check_eq!(chain(&e), want);
    let io = std::io::Error::from(e);
    check_eq!(io.kind(), std::io::ErrorKind::NotFound);
    check_eq!(chain(&io), want);
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

/// The descriptor's access mode (`O_ACCMODE` of `F_GETFL`) and whether it is closed on exec.
fn fd_mode(fd: &impl AsRawFd) -> (i32, bool) {
    // SAFETY: plain fcntl queries on a descriptor we hold.
    let (fl, fdfl) = unsafe {
        (
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFL),
            libc::fcntl(fd.as_raw_fd(), libc::F_GETFD),
        )
    };
    (fl & libc::O_ACCMODE, fdfl & libc::FD_CLOEXEC != 0)
}

fn export_dmabuf_shares_the_bytes_with_the_devices_access() -> TestResult {
    let d = dev()?;
    d.write_at(0, b"exported").map_err(|e| e.to_string())?;
    let buf = d.export_dmabuf(0, PAGE).map_err(|e| chain(&e))?;
    check_eq!(fd_mode(&buf), (libc::O_RDWR, true));
    // SAFETY: a new shared read-only mapping of the dma-buf at a kernel-chosen address.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            PAGE,
            libc::PROT_READ,
            libc::MAP_SHARED,
            buf.as_raw_fd(),
            0,
        )
    };
    check!(p != libc::MAP_FAILED, "mmap of the dma-buf failed");
    let mut got = [0u8; 8];
    // SAFETY: the first 8 bytes of the live mapping; nothing writes them meanwhile.
    unsafe { std::ptr::copy_nonoverlapping(p.cast::<u8>(), got.as_mut_ptr(), 8) };
    // SAFETY: unmapping the mapping made above.
    unsafe { libc::munmap(p, PAGE) };
    check_eq!(&got, b"exported");
    let ro = Device::open_read_only(DEVICE).map_err(|e| e.to_string())?;
    let rbuf = ro.export_dmabuf(0, PAGE).map_err(|e| chain(&e))?;
    check_eq!(fd_mode(&rbuf), (libc::O_RDONLY, true));
    for (off, len) in [(1, PAGE), (0, 0), (d.size(), PAGE)] {
        let e = d
            .export_dmabuf(off, len)
            .err()
            .ok_or(format!("export_dmabuf({off}, {len}) succeeded"))?;
        check_eq!(e.kind(), ErrorKind::Ioctl);
        check!(
            e.to_string().contains("as a dma-buf") && e.to_string().contains("page-aligned"),
            "{e}"
        );
        let source = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .and_then(std::io::Error::raw_os_error);
        check_eq!(source, Some(libc::EINVAL));
    }
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        export_dmabuf_shares_the_bytes_with_the_devices_access,
        open_reports_the_size_from_the_ioctl,
        read_at_and_write_at_round_trip,
        map_range_checks_bounds_before_mapping,
        any_byte_range_maps_exactly_its_bytes,
        private_mapping_keeps_its_stores_to_itself,
        read_only_option_maps_read_only_on_a_writable_open,
        populate_copies_a_private_mapping_up_front,
        device_lends_its_fd_and_converts_to_and_from_a_file,
        mapping_copies_are_bounds_checked,
        read_only_device_gives_read_only_mappings,
        clear_zeroes_through_the_library,
        missing_node_is_an_open_error,
        dropping_a_mapping_unmaps_it,
    ])
}
