// SPDX-License-Identifier: GPL-2.0

//! The zero-copy figures, from `FROM` (4 MiB) on:
//!
//! - `dmabuf_map_touch`: the whole buffer handed over as a dma-buf (mydev's
//!   `MYDEV_IOC_EXPORT_DMABUF`; for a memfd, mainline udmabuf's `UDMABUF_CREATE`), imported by
//!   vgem (`DRM_IOCTL_PRIME_FD_TO_HANDLE`: the importer's attach), the dma-buf mapped whole, a
//!   store to every page, unmapped, the import and the dma-buf closed.
//! - `dio_write_map` and `dio_write_copy`: the whole buffer written to a RAM disk with
//!   `O_DIRECT`, straight from a mapping of it (the block layer pins the mapping's pages), or
//!   from anonymous memory it was first copied into with `read()`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

/// The smallest buffer size the zero-copy figures are measured at.
pub const FROM: usize = crate::protocol::ZERO_COPY_FROM as usize;

/// The RAM disk of the `O_DIRECT` writes (64 MiB on the minimal kernel's command line).
const DISK: &str = "/dev/ram0";

/// `struct udmabuf_create` and `UDMABUF_CREATE` = `_IOW('u', 0x42, struct udmabuf_create)`.
#[repr(C)]
struct UdmabufCreate {
    memfd: u32,
    flags: u32,
    offset: u64,
    size: u64,
}
const UDMABUF_CREATE: libc::c_ulong =
    (1 << 30) | (24 << 16) | ((b'u' as libc::c_ulong) << 8) | 0x42;
const UDMABUF_FLAGS_CLOEXEC: u32 = 1;

/// `struct drm_prime_handle`, `DRM_IOCTL_PRIME_FD_TO_HANDLE` and `DRM_IOCTL_GEM_CLOSE`.
#[repr(C)]
struct PrimeHandle {
    handle: u32,
    flags: u32,
    fd: i32,
}
const PRIME_FD_TO_HANDLE: libc::c_ulong = (3 << 30) | (12 << 16) | (0x64 << 8) | 0x2e;
const GEM_CLOSE: libc::c_ulong = (1 << 30) | (8 << 16) | (0x64 << 8) | 0x09;

fn ioctl<T>(fd: &impl AsRawFd, request: libc::c_ulong, arg: &mut T) -> io::Result<i32> {
    // SAFETY: every request used here reads or writes exactly one `T`, which `arg` borrows.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg as *mut T) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The peers of the zero-copy figures, opened once per buffer size.
pub struct Peers {
    udmabuf: File,
    /// vgem's DRM node.
    vgem: File,
    /// The RAM disk, open with `O_DIRECT`, and its size.
    disk: File,
    disk_len: usize,
}

impl Peers {
    pub fn open() -> Result<Self, String> {
        let rw = |path: &str, flags| {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(flags)
                .open(path)
                .map_err(|e| format!("{path}: {e}"))
        };
        let udmabuf = rw("/dev/udmabuf", 0)?;
        let vgem = rw(
            &vgem_node().ok_or("no vgem DRM device (CONFIG_DRM_VGEM)")?,
            0,
        )?;
        let disk = rw(DISK, libc::O_DIRECT)?;
        let mut bytes = 0u64;
        // BLKGETSIZE64 = _IOR(0x12, 114, size_t).
        const BLKGETSIZE64: libc::c_ulong = (2 << 30) | (8 << 16) | (0x12 << 8) | 114;
        ioctl(&disk, BLKGETSIZE64, &mut bytes).map_err(|e| format!("{DISK}: {e}"))?;
        Ok(Self {
            udmabuf,
            vgem,
            disk,
            disk_len: bytes as usize,
        })
    }

    /// A dma-buf of the first `len` bytes of `memfd`, from udmabuf (which needs the memfd sealed
    /// against shrinking).
    pub fn udmabuf(&self, memfd: &File, len: usize) -> io::Result<OwnedFd> {
        // SAFETY: a plain fcntl on a descriptor the caller owns.
        if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_SHRINK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut arg = UdmabufCreate {
            memfd: memfd.as_raw_fd() as u32,
            flags: UDMABUF_FLAGS_CLOEXEC,
            offset: 0,
            size: len as u64,
        };
        let fd = ioctl(&self.udmabuf, UDMABUF_CREATE, &mut arg)?;
        // SAFETY: UDMABUF_CREATE returned a new descriptor, ours.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }

    /// Imports `dmabuf` into vgem (the attach), returning the handle to close.
    pub fn attach(&self, dmabuf: &OwnedFd) -> io::Result<u32> {
        let mut p = PrimeHandle {
            handle: 0,
            flags: 0,
            fd: dmabuf.as_raw_fd(),
        };
        ioctl(&self.vgem, PRIME_FD_TO_HANDLE, &mut p)?;
        Ok(p.handle)
    }

    /// Closes vgem's handle of an import (the detach, once the dma-buf is closed too).
    pub fn detach(&self, handle: u32) -> io::Result<()> {
        let mut close = [handle, 0u32];
        ioctl(&self.vgem, GEM_CLOSE, &mut close).map(drop)
    }

    /// Writes `len` bytes from `src` to the disk with `O_DIRECT`, in pieces of the disk's size
    /// (each from the disk's start).
    ///
    /// # Safety
    ///
    /// `src..src + len` must be readable memory of this process.
    pub unsafe fn write_direct(&self, src: *const u8, len: usize) -> io::Result<()> {
        let piece = self.disk_len.min(len).max(1);
        let mut off = 0;
        while off < len {
            let n = piece.min(len - off);
            // SAFETY: the caller vouches for `src..src + len`; the kernel reads `n` bytes of it.
            let w = unsafe { libc::pwrite(self.disk.as_raw_fd(), src.add(off).cast(), n, 0) };
            if w < 0 {
                return Err(io::Error::last_os_error());
            }
            if w as usize != n {
                return Err(io::Error::other(format!(
                    "short O_DIRECT write: {w} of {n}"
                )));
            }
            off += n;
        }
        Ok(())
    }
}

/// A dma-buf of the first `len` bytes of the mydev buffer open as `file`, read-write.
pub fn export_mydev(file: &File, len: usize) -> io::Result<OwnedFd> {
    let mut arg = mydev::uapi::MydevExportDmabuf {
        offset: 0,
        size: len as u64,
        flags: (libc::O_RDWR | libc::O_CLOEXEC) as u32,
        fd: -1,
    };
    ioctl(
        file,
        mydev::uapi::MYDEV_IOC_EXPORT_DMABUF as libc::c_ulong,
        &mut arg,
    )?;
    // SAFETY: the ioctl succeeded, so `arg.fd` is a new descriptor, ours.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// Reads the whole of `file` (`len` bytes) into `dst` with `read()` calls.
///
/// # Safety
///
/// `dst..dst + len` must be writable memory of this process that nothing else uses meanwhile.
pub unsafe fn read_all(file: &File, dst: *mut u8, len: usize) -> io::Result<()> {
    let mut off = 0;
    while off < len {
        // SAFETY: the caller vouches for `dst..dst + len`; `off < len`.
        let buf = unsafe { std::slice::from_raw_parts_mut(dst.add(off), len - off) };
        let n = file.read_at(buf, off as u64)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        off += n;
    }
    Ok(())
}

/// vgem's DRM node: the card whose device is named `vgem`.
fn vgem_node() -> Option<String> {
    let cards = std::fs::read_dir("/sys/class/drm").ok()?;
    cards.flatten().find_map(|c| {
        let name = c.file_name().to_string_lossy().into_owned();
        let device = std::fs::read_link(c.path().join("device")).ok()?;
        (name.starts_with("card") && device.ends_with("vgem")).then(|| format!("/dev/dri/{name}"))
    })
}
