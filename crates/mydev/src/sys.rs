// SPDX-License-Identifier: MIT OR Apache-2.0

//! Every `unsafe` operation of the crate but the copies (`copy`): the two ioctls and the mapping.

use crate::error::{Bounds, Error};
use crate::{copy, uapi};
use rustix::ioctl::{Getter, NoArg, Updater, ioctl};
#[cfg(test)]
use rustix::mm::mmap_anonymous;
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

/// The system's page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// Asks the device for its size (`MYDEV_IOC_GET_SIZE`).
pub(crate) fn get_size(file: &File) -> io::Result<u64> {
    // SAFETY: `MYDEV_IOC_GET_SIZE` is `_IOR(0xB9, 1, __u64)`: the driver writes exactly one `u64`
    // to the pointer, which `Getter` provides and owns.
    let size = unsafe {
        ioctl(
            file,
            Getter::<{ uapi::MYDEV_IOC_GET_SIZE as _ }, u64>::new(),
        )
    }?;
    Ok(size)
}

/// Zeroes the buffer (`MYDEV_IOC_CLEAR`).
pub(crate) fn clear(file: &File) -> io::Result<()> {
    // SAFETY: `MYDEV_IOC_CLEAR` is `_IO(0xB9, 2)`: it takes no argument and touches no user memory.
    unsafe { ioctl(file, NoArg::<{ uapi::MYDEV_IOC_CLEAR as _ }>::new()) }?;
    Ok(())
}

/// Exports `offset..offset + size` of the buffer as a new dma-buf (`MYDEV_IOC_EXPORT_DMABUF`)
/// with `flags` (`O_CLOEXEC`, `O_RDWR` or `O_RDONLY`).
pub(crate) fn export_dmabuf(
    file: &File,
    offset: u64,
    size: u64,
    flags: u32,
) -> io::Result<OwnedFd> {
    let mut arg = uapi::MydevExportDmabuf {
        offset,
        size,
        flags,
        fd: -1,
    };
    // SAFETY: `MYDEV_IOC_EXPORT_DMABUF` is `_IOWR(0xB9, 3, struct mydev_export_dmabuf)`: the
    // driver reads and writes exactly that struct, which `Updater` borrows for the call.
    unsafe {
        ioctl(
            file,
            Updater::<{ uapi::MYDEV_IOC_EXPORT_DMABUF as _ }, uapi::MydevExportDmabuf>::new(
                &mut arg,
            ),
        )
    }?;
    // SAFETY: the ioctl succeeded, so `arg.fd` is a new descriptor that only we hold.
    Ok(unsafe { OwnedFd::from_raw_fd(arg.fd) })
}

/// A mapping of part of the device buffer, unmapped on drop: shared (stores reach the device
/// and every other shared mapping) or private (copy-on-write), made by
/// [`MapOptions`](crate::MapOptions), [`Device::map`](crate::Device::map) or
/// [`Device::map_range`](crate::Device::map_range).
///
/// The bytes can change at any time (other threads, other processes, `write` calls), so the safe
/// methods copy with relaxed atomic accesses (see [`Mapping::read`]) and never hand out
/// references.
///
/// # Invariants
///
/// `base` is the start of a live mapping of `map_len` bytes, whole pages, readable, and writable
/// when `writable`; it stays mapped until `drop`. The bytes the value shows are
/// `start..start + len` of it, with `len > 0` and `start + len <= map_len`.
#[derive(Debug)]
pub struct Mapping {
    base: NonNull<u8>,
    map_len: usize,
    start: usize,
    len: usize,
    offset: usize,
    writable: bool,
    private: bool,
    path: PathBuf,
}

// SAFETY: The mapping belongs to the process, not to a thread: it may be used and unmapped from
// any thread.
unsafe impl Send for Mapping {}
// SAFETY: Through `&Mapping`, the mapped bytes are reached only by `copy::read` and `copy::write`,
// whose every access is atomic, so threads that copy through one mapping at the same time do not
// race under Rust's memory model. The unsafe slice accessors put the burden on their callers.
unsafe impl Sync for Mapping {}

/// How to map: the arguments of [`Mapping::new`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    /// Byte offset in the buffer and length; any range inside it (checked by the caller).
    pub offset: usize,
    pub len: usize,
    pub writable: bool,
    pub private: bool,
    pub populate: bool,
}

impl Request {
    /// The `mmap` flags of the request.
    pub(crate) fn flags(&self) -> (ProtFlags, MapFlags) {
        let prot = if self.writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        let mut flags = if self.private {
            MapFlags::PRIVATE
        } else {
            MapFlags::SHARED
        };
        if self.populate {
            flags |= MapFlags::POPULATE;
        }
        (prot, flags)
    }

    /// The page-aligned range to ask `mmap` for, as (offset, length), and where the requested
    /// range starts in it. `None` if it overflows.
    pub(crate) fn pages(&self) -> Option<(usize, usize, usize)> {
        let page = page_size();
        let start = self.offset % page;
        let aligned = self.offset - start;
        let len = start
            .checked_add(self.len)?
            .checked_next_multiple_of(page)?;
        Some((aligned, len, start))
    }
}

impl Mapping {
    pub(crate) fn new(file: &File, path: &Path, req: Request) -> io::Result<Self> {
        let (prot, flags) = req.flags();
        let (aligned, map_len, start) = req
            .pages()
            .ok_or_else(|| io::Error::from(rustix::io::Errno::INVAL))?;
        let aligned_u64 =
            u64::try_from(aligned).map_err(|_| io::Error::from(rustix::io::Errno::INVAL))?;
        // SAFETY: A new mapping at an address the kernel chooses (null hint) aliases no Rust
        // object; the range was checked by the caller, and the kernel checks it again.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                map_len,
                prot,
                flags,
                file,
                aligned_u64,
            )
        }?;
        let base =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        // INVARIANT: a live mapping of `map_len` bytes (whole pages) with the protections above;
        // `start + req.len <= map_len` by `pages`, and the caller checked `req.len > 0`.
        Ok(Self {
            base,
            map_len,
            start,
            len: req.len,
            offset: req.offset,
            writable: req.writable,
            private: req.private,
            path: path.to_path_buf(),
        })
    }

    /// The address of the first byte this value shows.
    fn ptr(&self) -> *mut u8 {
        // The type invariant puts `start` inside the mapping.
        self.base.as_ptr().wrapping_add(self.start)
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an empty range is refused before anything is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the mapping is private (copy-on-write): stores through it stay in this process.
    pub fn is_private(&self) -> bool {
        self.private
    }

    /// The offset in the device buffer where the mapping starts.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Whether stores through the mapping are allowed.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The address of the first byte of the mapping (of the byte at [`Mapping::offset`] of the
    /// buffer; the system's mapping starts at the page that holds it).
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr()
    }

    fn check(&self, verb: &str, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::out_of_bounds(
                &self.path,
                verb,
                &format!("a mapping of {}", self.path.display()),
                Bounds {
                    offset,
                    len,
                    size: self.len,
                },
                "mapping",
            )),
        }
    }

    /// Copies `buf.len()` bytes from `offset` of the mapping into `buf`.
    ///
    /// Each aligned word of the mapping (8 bytes on 64-bit targets) is read in one relaxed atomic
    /// load: a store made at the same time by another thread or process shows whole or not at all
    /// within such a word, but a copy of several words may see some of them before and some after
    /// it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`](crate::ErrorKind::OutOfBounds) when the range leaves the mapping.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.check("cannot read", offset, buf.len())?;
        // SAFETY: `offset..offset + buf.len()` lies inside the range this value shows (checked
        // above), inside a live, readable mapping of whole pages (type invariant), so every aligned
        // word that overlaps it is mapped. This crate reaches mapped bytes only through `copy`'s
        // atomic accesses; other processes and the kernel are outside Rust's memory model.
        unsafe { copy::read(self.ptr().add(offset), buf) };
        Ok(())
    }

    /// The byte at `offset` of the mapping.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`](crate::ErrorKind::OutOfBounds) when `offset` is not inside the mapping.
    pub fn byte(&self, offset: usize) -> Result<u8, Error> {
        let mut b = [0u8];
        self.read(offset, &mut b)?;
        Ok(b[0])
    }

    /// Copies `buf` into the mapping at `offset`.
    ///
    /// Each aligned word is written in one relaxed atomic store (a compare-and-exchange
    /// for the words at the ends that the range covers in part, so that a concurrent store to
    /// their other bytes is kept).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`](crate::ErrorKind::OutOfBounds) when the range leaves the mapping, [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly) when
    /// the mapping is read-only.
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<(), Error> {
        self.check("cannot write", offset, buf.len())?;
        if !self.writable {
            return Err(Error::read_only(&self.path));
        }
        // SAFETY: As in `read`, and the mapping is writable (checked above, type invariant).
        unsafe { copy::write(self.ptr().add(offset), buf) };
        Ok(())
    }

    /// Borrows the mapping as a byte slice.
    ///
    /// # Safety
    ///
    /// For as long as the slice lives, nothing may change the mapped bytes: no store through any
    /// mapping of the same device range (in this or any other process), and no `write`, `pwrite`
    /// or clear ioctl on the device. Otherwise the slice's bytes would change under a shared
    /// reference, which is undefined behaviour.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: The mapping is live and readable for `len` bytes (type invariant); the caller
        // guarantees that the bytes do not change while the slice exists.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }

    /// Borrows the mapping as a mutable byte slice.
    ///
    /// # Safety
    ///
    /// The mapping must be writable, and for as long as the slice lives nothing else may read or
    /// change the mapped bytes: no access through any other mapping of the same range (in any
    /// process) and no `read`, `write` or ioctl on the device.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: The mapping is live for `len` bytes (type invariant); the caller guarantees it
        // is writable and that the access is exclusive while the slice exists.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`map_len` describe a mapping this value owns (type invariant); no reference
        // into it can outlive `self`, since the slice accessors borrow `self`.
        // An error here cannot be reported from `drop`, and leaves at worst a stale mapping.
        let _ = unsafe { munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}

#[cfg(test)]
impl Mapping {
    /// A shared anonymous mapping of `len` bytes, standing in for the device in host tests.
    pub(crate) fn anonymous(len: usize) -> Self {
        // SAFETY: A new anonymous mapping at an address the kernel chooses aliases no Rust object.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
        }
        .expect("an anonymous mapping");
        // INVARIANT: a live shared, writable mapping of `len` bytes.
        Self {
            base: NonNull::new(ptr.cast()).expect("mmap returned null"),
            map_len: len,
            start: 0,
            len,
            offset: 0,
            writable: true,
            private: false,
            path: PathBuf::from("anonymous"),
        }
    }
}

#[cfg(test)]
mod tests;
