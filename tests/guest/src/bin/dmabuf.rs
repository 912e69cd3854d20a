// SPDX-License-Identifier: GPL-2.0

//! `MYDEV_IOC_EXPORT_DMABUF` against the real module: the rules of the ioctl, the dma-buf's
//! mapping of exactly its range, `DMA_BUF_IOCTL_SYNC`, the exporter's name in debugfs, the
//! lifetimes (a removed buffer lives as long as its dma-buf; `rmmod` waits for the last one), and
//! two importers in the kernel: vgem (DRM; attaches) and vivid (V4L2; maps the attachment for
//! its device and captures a frame into it).

use guest_tests::cfs::{self, create, rmdir, scoped};
use guest_tests::sys::*;
use guest_tests::v4l2::{Camera, vivid_capture_node};
use guest_tests::{TestResult, check, check_eq};
use mydev::uapi::{MYDEV_IOC_EXPORT_DMABUF, MydevExportDmabuf};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

/// `DMA_BUF_IOCTL_SYNC`: `_IOW('b', 0, struct dma_buf_sync { __u64 flags; })`.
const DMA_BUF_IOCTL_SYNC: u32 = (1 << 30) | (8 << 16) | (b'b' as u32) << 8;
const DMA_BUF_SYNC_RW: u64 = 3;
const DMA_BUF_SYNC_END: u64 = 4;

/// Exports `offset..offset + size` of the buffer open as `fd` with `flags`.
fn export(fd: &OwnedFd, offset: u64, size: u64, flags: i32) -> io::Result<OwnedFd> {
    let mut a = MydevExportDmabuf {
        offset,
        size,
        flags: flags as u32,
        fd: -1,
    };
    ioctl(
        fd,
        MYDEV_IOC_EXPORT_DMABUF,
        &mut a as *mut MydevExportDmabuf as usize,
    )?;
    // SAFETY: the ioctl succeeded, so `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(a.fd) })
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed) | 1)
        .collect()
}

/// The bytes of a shared mapping.
fn bytes(m: &Map) -> &[u8] {
    // SAFETY: `m` is a live readable mapping of `m.len` bytes.
    unsafe { std::slice::from_raw_parts(m.addr as *const u8, m.len) }
}

fn bad_ranges_and_flags_fail_and_create_nothing() -> TestResult {
    scoped(|| {
        create("dx", 4 * PAGE, false)?;
        let fd = cfs::open_rw("dx")?;
        let before = std::fs::read_dir("/proc/self/fd")
            .map_err(|e| e.to_string())?
            .count();
        let p = PAGE as u64;
        for (offset, size, what) in [
            (1, p, "unaligned offset"),
            (0, p + 1, "unaligned size"),
            (0, 0, "empty"),
            (3 * p, 2 * p, "past the end"),
            (4 * p, p, "at the end"),
            (u64::MAX - p + 1, p, "offset near 2^64"),
            (p, u64::MAX - p + 1, "size near 2^64"),
        ] {
            expect_errno(export(&fd, offset, size, libc::O_RDWR), libc::EINVAL, what)?;
        }
        for (flags, what) in [
            (libc::O_WRONLY, "O_WRONLY"),
            (libc::O_RDWR | libc::O_NONBLOCK, "O_NONBLOCK"),
            (libc::O_RDWR | libc::O_APPEND, "O_APPEND"),
            (3, "access mode 3"),
        ] {
            expect_errno(export(&fd, 0, p, flags), libc::EINVAL, what)?;
        }
        let ro = open(&cfs::node("dx"), libc::O_RDONLY).map_err(|e| e.to_string())?;
        expect_errno(
            export(&ro, 0, p, libc::O_RDWR),
            libc::EACCES,
            "O_RDWR, read-only open",
        )?;
        let after = std::fs::read_dir("/proc/self/fd")
            .map_err(|e| e.to_string())?
            .count();
        check_eq!(after, before + 1); // `ro` only
        // A read-only export of a read-only open works, and O_CLOEXEC is honoured.
        let d = export(&ro, 0, p, libc::O_RDONLY | libc::O_CLOEXEC).map_err(|e| e.to_string())?;
        // SAFETY: a plain fcntl on an owned descriptor.
        let fdflags = unsafe { libc::fcntl(d.as_raw_fd(), libc::F_GETFD) };
        check!(fdflags & libc::FD_CLOEXEC != 0, "no FD_CLOEXEC");
        let plain = export(&fd, 0, p, libc::O_RDWR).map_err(|e| e.to_string())?;
        // SAFETY: as above.
        let fdflags = unsafe { libc::fcntl(plain.as_raw_fd(), libc::F_GETFD) };
        check!(
            fdflags & libc::FD_CLOEXEC == 0,
            "FD_CLOEXEC without O_CLOEXEC"
        );
        // A read-only dma-buf cannot be mapped writable.
        expect_errno(
            map_shared(&d, 1, 0),
            libc::EACCES,
            "writable mapping of O_RDONLY",
        )?;
        Ok(())
    })
}

fn a_dmabuf_maps_exactly_its_range_both_ways() -> TestResult {
    scoped(|| {
        create("dx", 4 * PAGE, false)?;
        let fd = cfs::open_rw("dx")?;
        let data = pattern(4 * PAGE, 3);
        pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
        let d =
            export(&fd, PAGE as u64, 2 * PAGE as u64, libc::O_RDWR).map_err(|e| e.to_string())?;
        let m = map_shared(&d, 2, 0).map_err(|e| format!("mmap of the dma-buf: {e}"))?;
        check!(
            bytes(&m) == &data[PAGE..3 * PAGE],
            "the mapping is not pages 1 and 2"
        );
        let tail = map_shared(&d, 1, 1).map_err(|e| format!("mmap at page 1: {e}"))?;
        check!(
            bytes(&tail) == &data[2 * PAGE..3 * PAGE],
            "page offset 1 is not page 2"
        );
        expect_errno(
            map_shared(&d, 3, 0),
            libc::EINVAL,
            "a mapping past the dma-buf",
        )?;
        expect_errno(map_shared(&d, 1, 2), libc::EINVAL, "a mapping at its end")?;
        let sync = |flags: u64| {
            let mut f = flags;
            ioctl(&d, DMA_BUF_IOCTL_SYNC, &mut f as *mut u64 as usize)
                .map(drop)
                .map_err(|e| format!("DMA_BUF_IOCTL_SYNC {flags:#x}: {e}"))
        };
        sync(DMA_BUF_SYNC_RW)?;
        // SAFETY: inside the live, writable shared mapping `m`.
        unsafe { (m.addr as *mut u8).add(10).write_volatile(0xee) };
        sync(DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END)?;
        let mut b = [0u8; 1];
        pread(&fd, &mut b, (PAGE + 10) as i64).map_err(|e| e.to_string())?;
        check_eq!(b[0], 0xee);
        pwrite(&fd, b"through the node", (2 * PAGE) as i64).map_err(|e| e.to_string())?;
        check_eq!(&bytes(&m)[PAGE..PAGE + 16], b"through the node");
        Ok(())
    })
}

fn a_2m_part_exports_whole() -> TestResult {
    scoped(|| {
        create("huge", 4 << 20, true)?;
        check_eq!(cfs::get("huge", "huge_parts")?, "2");
        let fd = cfs::open_rw("huge")?;
        let data = pattern(4 << 20, 11);
        pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
        let d = export(&fd, 0, 4 << 20, libc::O_RDWR).map_err(|e| e.to_string())?;
        let m = map_shared(&d, 1024, 0).map_err(|e| e.to_string())?;
        check!(bytes(&m) == data.as_slice(), "the 4 MiB export differs");
        // A range that cuts the parts: pages around the 2 MiB boundary.
        let cut = export(&fd, (PART - PAGE) as u64, 2 * PAGE as u64, libc::O_RDONLY)
            .map_err(|e| e.to_string())?;
        let m = map_private(&cut, 2, 0).map_err(|e| e.to_string())?;
        check!(
            bytes(&m) == &data[PART - PAGE..PART + PAGE],
            "the cut export differs"
        );
        Ok(())
    })
}

fn a_removed_buffer_lives_as_long_as_its_dmabuf() -> TestResult {
    scoped(|| {
        create("gone", 2 * PAGE, false)?;
        let data = pattern(2 * PAGE, 5);
        let d = {
            let fd = cfs::open_rw("gone")?;
            pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
            export(&fd, 0, 2 * PAGE as u64, libc::O_RDWR).map_err(|e| e.to_string())?
        };
        rmdir("gone").map_err(|e| e.to_string())?;
        check!(!std::path::Path::new(&cfs::node("gone")).exists());
        let m = map_shared(&d, 2, 0).map_err(|e| format!("mmap after rmdir: {e}"))?;
        check!(
            bytes(&m) == data.as_slice(),
            "the bytes changed after rmdir"
        );
        Ok(())
    })
}

fn rmmod_waits_for_the_last_dmabuf() -> TestResult {
    let d = {
        let fd = open_rw().map_err(|e| e.to_string())?;
        export(&fd, 0, PAGE as u64, libc::O_RDWR).map_err(|e| e.to_string())?
    };
    let r = rmmod();
    check!(r.is_err(), "rmmod succeeded while a dma-buf exists");
    drop(d);
    rmmod().map_err(|e| format!("rmmod after closing the dma-buf: {e}"))?;
    restore()
}

fn debugfs_names_the_exporter() -> TestResult {
    const BUFINFO: &str = "/sys/kernel/debug/dma_buf/bufinfo";
    if !std::path::Path::new(BUFINFO).exists() {
        let _ = sh("mount -t debugfs debugfs /sys/kernel/debug");
    }
    if !std::path::Path::new(BUFINFO).exists() {
        return Err(format!(
            "SKIP: no {BUFINFO} (CONFIG_DEBUG_FS, CONFIG_DMA_SHARED_BUFFER)"
        ));
    }
    let fd = open_rw().map_err(|e| e.to_string())?;
    let d = export(&fd, 0, PAGE as u64, libc::O_RDWR).map_err(|e| e.to_string())?;
    let info = std::fs::read_to_string(BUFINFO).map_err(|e| e.to_string())?;
    let line = info
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "mydev"))
        .ok_or_else(|| format!("no dma-buf of exporter mydev in {BUFINFO}:\n{info}"))?;
    check!(line.starts_with("00004096"), "size: {line}");
    drop(d);
    let info = std::fs::read_to_string(BUFINFO).map_err(|e| e.to_string())?;
    check!(
        !info
            .lines()
            .any(|l| l.split_whitespace().any(|w| w == "mydev")),
        "a closed dma-buf is still listed:\n{info}"
    );
    Ok(())
}

/// `struct drm_prime_handle` of `drm.h`.
#[repr(C)]
#[derive(Default)]
struct DrmPrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}

/// DRM's ioctl numbers (`'d'`): `DRM_IOWR(0x2e, struct drm_prime_handle)`,
/// `DRM_IOWR(0x2d, struct drm_prime_handle)` and `DRM_IOW(0x09, struct drm_gem_close)`.
const DRM_IOCTL_PRIME_FD_TO_HANDLE: u32 = (3 << 30) | (12 << 16) | (0x64 << 8) | 0x2e;
const DRM_IOCTL_PRIME_HANDLE_TO_FD: u32 = (3 << 30) | (12 << 16) | (0x64 << 8) | 0x2d;
const DRM_IOCTL_GEM_CLOSE: u32 = (1 << 30) | (8 << 16) | (0x64 << 8) | 0x09;

/// The node of the vgem DRM device, if the kernel has one.
fn vgem_card() -> Option<String> {
    let cards = std::fs::read_dir("/sys/class/drm").ok()?;
    cards.flatten().find_map(|c| {
        let name = c.file_name().to_string_lossy().into_owned();
        // vgem's device is named `vgem` (a faux device since 6.15, a platform one before).
        let device = std::fs::read_link(c.path().join("device")).ok()?;
        (name.starts_with("card") && device.ends_with("vgem")).then(|| format!("/dev/dri/{name}"))
    })
}

/// The importers listed for mydev's dma-buf of `size` bytes in debugfs.
fn attached(size: usize) -> Result<Vec<String>, String> {
    entry(size)?.ok_or_else(|| "no dma-buf of mydev listed".to_string())
}

/// mydev's dma-buf of `size` bytes in debugfs: `None` when it is not listed, else its
/// importers.
fn entry(size: usize) -> Result<Option<Vec<String>>, String> {
    let info =
        std::fs::read_to_string("/sys/kernel/debug/dma_buf/bufinfo").map_err(|e| e.to_string())?;
    let mut lines = info.lines().skip_while(|l| {
        !(l.starts_with(&format!("{size:08}")) && l.split_whitespace().any(|w| w == "mydev"))
    });
    if lines.next().is_none() {
        return Ok(None);
    }
    Ok(Some(
        lines
            .skip_while(|l| !l.contains("Attached Devices"))
            .skip(1)
            .take_while(|l| l.starts_with('\t') && !l.contains("Total"))
            .map(|l| l.trim().to_string())
            .collect(),
    ))
}

fn vgem_imports_the_dmabuf_and_lets_it_go() -> TestResult {
    let Some(card) = vgem_card() else {
        return Err("SKIP: no vgem DRM device (CONFIG_DRM_VGEM, vgem.ko)".into());
    };
    mount_debugfs();
    let card = open(&card, libc::O_RDWR).map_err(|e| format!("open {card}: {e}"))?;
    let fd = open_rw().map_err(|e| e.to_string())?;
    let size = device_size()?;
    let d = export(&fd, 0, size as u64, libc::O_RDWR).map_err(|e| e.to_string())?;
    let handle = import(&card, &d)?;
    check!(handle != 0, "no GEM handle");
    check_eq!(attached(size)?, vec!["vgem".to_string()]);
    // The importer's object is our dma-buf: exporting it again gives the same file.
    let mut back = DrmPrimeHandle {
        handle,
        flags: libc::O_CLOEXEC as u32,
        fd: -1,
    };
    ioctl(
        &card,
        DRM_IOCTL_PRIME_HANDLE_TO_FD,
        &mut back as *mut _ as usize,
    )
    .map_err(|e| format!("PRIME_HANDLE_TO_FD: {e}"))?;
    // SAFETY: the ioctl succeeded, so `back.fd` is a new descriptor, ours.
    let again = unsafe { OwnedFd::from_raw_fd(back.fd) };
    let ino = |f: &OwnedFd| {
        std::fs::metadata(format!("/proc/self/fd/{}", f.as_raw_fd()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .map_err(|e| e.to_string())
    };
    check_eq!(ino(&again)?, ino(&d)?);
    drop(again);
    // Our dma-buf closed: the importer still holds it, and the bytes are still the buffer's.
    drop(d);
    pwrite(&fd, b"imported", 0).map_err(|e| e.to_string())?;
    check_eq!(attached(size)?, vec!["vgem".to_string()]);
    let mut close = [handle, 0u32];
    ioctl(&card, DRM_IOCTL_GEM_CLOSE, close.as_mut_ptr() as usize)
        .map_err(|e| format!("GEM_CLOSE: {e}"))?;
    check!(!listed(size)?, "the dma-buf outlived its last user");
    drop(fd);
    drop(card);
    rmmod().map_err(|e| format!("rmmod after the importer let go: {e}"))?;
    restore()
}

/// Mounts debugfs for the dma-buf listing, if the kernel has it and it is not mounted yet.
fn mount_debugfs() {
    if !std::path::Path::new("/sys/kernel/debug/dma_buf").exists() {
        let _ = sh("mount -t debugfs debugfs /sys/kernel/debug");
    }
}

/// Imports `d` into vgem through `card`; the GEM handle.
fn import(card: &OwnedFd, d: &OwnedFd) -> Result<u32, String> {
    let mut p = DrmPrimeHandle {
        fd: d.as_raw_fd(),
        ..Default::default()
    };
    ioctl(
        card,
        DRM_IOCTL_PRIME_FD_TO_HANDLE,
        &mut p as *mut _ as usize,
    )
    .map_err(|e| format!("PRIME_FD_TO_HANDLE: {e}"))?;
    Ok(p.handle)
}

/// Whether mydev's dma-buf of `size` bytes is listed in debugfs at all.
fn listed(size: usize) -> Result<bool, String> {
    Ok(entry(size)?.is_some())
}

fn vgem_lets_go_in_every_order() -> TestResult {
    let Some(node) = vgem_card() else {
        return Err("SKIP: no vgem DRM device (CONFIG_DRM_VGEM, vgem.ko)".into());
    };
    mount_debugfs();
    let size = device_size()?;
    // What is let go first and second: the dma-buf (`D`), the GEM handle (`H`) or the whole
    // DRM file (`F`, which closes its handles).
    for order in ["DH", "HD", "FD", "DF"] {
        let card = open(&node, libc::O_RDWR).map_err(|e| format!("open {node}: {e}"))?;
        let fd = open_rw().map_err(|e| e.to_string())?;
        let d = export(&fd, 0, size as u64, libc::O_RDWR).map_err(|e| e.to_string())?;
        drop(fd);
        let handle = import(&card, &d)?;
        check_eq!(attached(size)?, vec!["vgem".to_string()]);
        let (mut d, mut card) = (Some(d), Some(card));
        for (step, what) in order.chars().enumerate() {
            match what {
                'D' => drop(d.take()),
                'H' => {
                    let c = card.as_ref().ok_or("no card")?;
                    let mut close = [handle, 0u32];
                    ioctl(c, DRM_IOCTL_GEM_CLOSE, close.as_mut_ptr() as usize)
                        .map_err(|e| format!("{order}: GEM_CLOSE: {e}"))?;
                }
                _ => drop(card.take()),
            }
            // After the first step the other side still holds the dma-buf; vgem's attachment
            // goes with its handle.
            let importer_gone = what != 'D';
            if step == 0 {
                check!(
                    listed(size)?,
                    "{order}: the dma-buf went after one side let go"
                );
                if importer_gone {
                    check_eq!(attached(size)?, Vec::<String>::new());
                }
            }
        }
        drop((d, card));
        check!(!listed(size)?, "{order}: the dma-buf outlived both sides");
        rmmod().map_err(|e| format!("{order}: rmmod after the last close: {e}"))?;
        restore()?;
    }
    Ok(())
}

fn vivid_captures_a_frame_into_the_dmabuf() -> TestResult {
    let Some(node) = vivid_capture_node() else {
        return Err("SKIP: no vivid capture node (CONFIG_VIDEO_VIVID, vivid.ko)".into());
    };
    mount_debugfs();
    scoped(|| {
        // Three 2 MiB parts; the middle one is exported whole, which vivid's dma-contig
        // allocator takes as one DMA-contiguous piece.
        create("cam", 3 * PART, true)?;
        check_eq!(cfs::get("cam", "huge_parts")?, "3");
        let fd = cfs::open_rw("cam")?;
        const FILL: u8 = 0xa5;
        pwrite(&fd, &vec![FILL; 3 * PART], 0).map_err(|e| e.to_string())?;
        let cam = Camera::open(&node).map_err(|e| format!("open {node}: {e}"))?;
        let g = cam.geometry;
        check!(
            g.sizeimage <= PART,
            "vivid's frame is larger than a part: {g:?}"
        );
        let reference = cam
            .frame()
            .map_err(|e| format!("capture into vivid's buffer: {e}"))?;
        check_eq!(reference.len(), g.sizeimage);
        let d = export(&fd, PART as u64, PART as u64, libc::O_RDWR).map_err(|e| e.to_string())?;
        let n = cam
            .frame_into(&d, PART)
            .map_err(|e| format!("capture into the dma-buf: {e}"))?;
        check_eq!(n, g.sizeimage);
        // vivid let go of its attachment when its buffers were freed.
        check_eq!(attached(PART)?, Vec::<String>::new());
        let mut got = vec![0u8; 3 * PART];
        pread(&fd, &mut got, 0).map_err(|e| e.to_string())?;
        check!(
            got[..PART].iter().all(|&b| b == FILL),
            "vivid wrote before the exported range"
        );
        check!(
            got[PART + n..].iter().all(|&b| b == FILL),
            "vivid wrote past its frame"
        );
        // The bottom rows hold only the test pattern (vivid's text is at the top), the same in
        // every frame: the dma-buf's frame is vivid's frame, at the range's start.
        let rows = 16 * g.bytesperline;
        let frame = &got[PART..PART + n];
        check!(
            reference[n - rows..].iter().any(|&b| b != FILL),
            "the reference frame looks like the fill"
        );
        check!(
            frame[n - rows..] == reference[n - rows..],
            "the frame in the buffer differs from vivid's own in the last 16 rows"
        );
        Ok(())
    })
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        bad_ranges_and_flags_fail_and_create_nothing,
        a_dmabuf_maps_exactly_its_range_both_ways,
        a_2m_part_exports_whole,
        a_removed_buffer_lives_as_long_as_its_dmabuf,
        rmmod_waits_for_the_last_dmabuf,
        debugfs_names_the_exporter,
        vgem_imports_the_dmabuf_and_lets_it_go,
        vgem_lets_go_in_every_order,
        vivid_captures_a_frame_into_the_dmabuf,
    ])
}
