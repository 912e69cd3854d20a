// SPDX-License-Identifier: MIT OR Apache-2.0

//! Safe access to `/dev/mydev`, the shared buffer of the mydev kernel module.
//!
//! Every process that opens the device sees the same bytes, through [`Device::read_at`] /
//! [`Device::write_at`] and through [`Mapping`]s of the same memory. Because another process (or a
//! `write` call) can change mapped bytes at any moment, the safe [`Mapping`] API copies bytes in
//! and out with relaxed atomic accesses, one aligned word (8 bytes on 64-bit targets) at a time;
//! borrowing the mapping as a slice is `unsafe` ([`Mapping::as_slice`]).
//!
//! # Concurrent stores
//!
//! Threads may copy through one `&Mapping` at the same time: every access is atomic, so there is
//! no data race in Rust's sense. What a reader sees when a store happens during its copy, from
//! another thread, another process or the device's `write`: each aligned word of the buffer
//! comes out whole, from before or after the store, never mixed; different words of one
//! copy may come from before and after it, and nothing orders one word's stores against
//! another's. Programs that need a consistent snapshot agree on it among themselves (a lock, or a
//! sequence word written last and read first, with fences).
//!
//! # Example
//!
//! ```no_run
//! use mydev::Device;
//!
//! let dev = Device::open_default()?;
//! dev.write_at(0, b"Hello, World!")?;
//! let map = dev.map()?;
//! assert_eq!(map.byte(7)?, b'W');
//!
//! // Any byte range, copy-on-write: what this mapping stores stays in this process.
//! let mine = mydev::MapOptions::new().offset(7).len(5).private().map(&dev)?;
//! mine.write(0, b"there")?;
//! # Ok::<(), mydev::Error>(())
//! ```

pub mod buffers;
mod copy;
mod error;
mod options;
mod sys;

pub use error::{Bounds, Error, ErrorKind};
pub use options::MapOptions;
pub use sys::{Mapping, page_size};

use std::fs::{File, OpenOptions};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The ioctl numbers: the kernel module's `module/uapi.rs` (the single definition), copied into
/// the crate with its own licence line so that the crate builds on its own.
#[allow(
    dead_code,
    reason = "the module's file also carries its private encoding helpers"
)]
pub mod uapi;

/// The device node that the module creates.
pub const DEFAULT_PATH: &str = "/dev/mydev";

/// An open `/dev/mydev`.
///
/// It is a [`File`] that answered the size ioctl: it can be made from one
/// ([`TryFrom<File>`](#impl-TryFrom%3CFile%3E-for-Device)), turned back into one
/// ([`From<Device> for File`](#impl-From%3CDevice%3E-for-File)) and lent as a file descriptor
/// ([`AsFd`], [`AsRawFd`]) for calls this crate does not wrap.
#[derive(Debug)]
pub struct Device {
    file: File,
    path: PathBuf,
    size: usize,
    writable: bool,
}

impl Device {
    /// Opens the device at `path` for reading and writing, and asks it for its size.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Open`] when the node cannot be opened (missing, no permission, module not
    /// loaded), [`ErrorKind::Ioctl`] when it does not answer the size ioctl (not a mydev node).
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open("/dev/mydev")?;
    /// println!("{} bytes", dev.size());
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens the device at `path` read-only (writes, the clear ioctl and shared writable mappings
    /// then fail; private mappings may still be written).
    ///
    /// # Errors
    ///
    /// As for [`Device::open`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), false)
    }

    /// Opens [`DEFAULT_PATH`] for reading and writing.
    ///
    /// # Errors
    ///
    /// As for [`Device::open`].
    pub fn open_default() -> Result<Self, Error> {
        Self::open(DEFAULT_PATH)
    }

    fn open_with(path: &Path, writable: bool) -> Result<Self, Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| {
                let how = if writable {
                    "for reading and writing"
                } else {
                    "read-only"
                };
                let message = format!("cannot open {} {how}", path.display());
                Error::os(ErrorKind::Open, path, message, e)
            })?;
        Self::with_file(file, path.to_path_buf(), writable)
    }

    fn with_file(file: File, path: PathBuf, writable: bool) -> Result<Self, Error> {
        let fail = |e| {
            let message = format!(
                "cannot get the buffer size of {} (MYDEV_IOC_GET_SIZE)",
                path.display()
            );
            Error::os(ErrorKind::Ioctl, &path, message, e)
        };
        let size = sys::get_size(&file).map_err(fail)?;
        let size = usize::try_from(size)
            .map_err(|_| fail(std::io::Error::other("the size does not fit in memory")))?;
        Ok(Self {
            file,
            path,
            size,
            writable,
        })
    }

    /// The path this device was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the shared buffer in bytes (from the size ioctl at open).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the device was opened for writing.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The underlying file, for calls this crate does not wrap.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Sets every byte of the buffer to zero (the clear ioctl).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Ioctl`]; `EBADF` when the device was opened read-only.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_default()?;
    /// dev.clear()?;
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn clear(&self) -> Result<(), Error> {
        sys::clear(&self.file).map_err(|e| {
            let message = format!("cannot clear {} (MYDEV_IOC_CLEAR)", self.path.display());
            Error::os(ErrorKind::Ioctl, &self.path, message, e)
        })
    }

    /// Reads up to `buf.len()` bytes at `offset` (`pread`); returns how many were read, 0 at or
    /// past the end of the buffer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`] with the system's error.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_read_only("/dev/mydev")?;
    /// let mut buf = [0u8; 16];
    /// let n = dev.read_at(0, &mut buf)?;
    /// println!("{:?}", &buf[..n]);
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        self.file.read_at(buf, offset).map_err(|e| {
            let message = format!(
                "cannot read {} at offset {offset} of {}",
                error::bytes(buf.len()),
                self.path.display()
            );
            Error::os(ErrorKind::Io, &self.path, message, e)
        })
    }

    /// Writes up to `buf.len()` bytes at `offset` (`pwrite`); returns how many were written,
    /// fewer than `buf.len()` when the write crosses the end of the buffer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Io`]; `ENOSPC` at or past the end, `EBADF` when opened read-only.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_default()?;
    /// assert_eq!(dev.write_at(100, b"data")?, 4);
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn write_at(&self, offset: u64, buf: &[u8]) -> Result<usize, Error> {
        self.file.write_at(buf, offset).map_err(|e| {
            let message = format!(
                "cannot write {} at offset {offset} of {}",
                error::bytes(buf.len()),
                self.path.display()
            );
            Error::os(ErrorKind::Io, &self.path, message, e)
        })
    }

    /// Maps the whole buffer, shared, writable when the device was opened for writing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Map`] with the system's error.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_default()?;
    /// let map = dev.map()?;
    /// map.write(0, b"through the mapping")?;
    /// let mut buf = [0u8; 7];
    /// map.read(0, &mut buf)?;
    /// assert_eq!(&buf, b"through");
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn map(&self) -> Result<Mapping, Error> {
        MapOptions::new().map(self)
    }

    /// Maps `len` bytes of the buffer from `offset`, shared: any non-empty range inside the
    /// buffer (see [`MapOptions`] for the other choices).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] for an empty range or one outside the buffer, checked before
    /// anything is mapped; [`ErrorKind::Map`] when the kernel refuses the mapping.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_default()?;
    /// let eight = dev.map_range(100, 8)?;
    /// println!("{:#04x}", eight.byte(0)?);
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn map_range(&self, offset: usize, len: usize) -> Result<Mapping, Error> {
        MapOptions::new().offset(offset).len(len).map(self)
    }
}

impl Device {
    /// Hands `len` bytes of the buffer from `offset` to other drivers as a new dma-buf
    /// (`MYDEV_IOC_EXPORT_DMABUF`): a GPU, camera or other importer, given the descriptor, uses
    /// the buffer's memory in place, and the dma-buf's own `mmap` maps the same bytes. It is
    /// read-write when the device was opened read-write, read-only otherwise, and closed on
    /// `exec`. The dma-buf keeps the buffer alive after the device is closed.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Ioctl`]: `EINVAL` for a range that is empty, not page-aligned or outside the
    /// buffer; `ENOTTY` from a module built without dma-buf support.
    ///
    /// # Example
    ///
    /// ```no_run
    /// use std::os::fd::AsRawFd;
    /// let dev = mydev::Device::open_default()?;
    /// let dmabuf = dev.export_dmabuf(0, 2 << 20)?;
    /// println!("dma-buf fd {}", dmabuf.as_raw_fd());
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn export_dmabuf(&self, offset: usize, len: usize) -> Result<OwnedFd, Error> {
        use rustix::fs::OFlags;
        let access = if self.writable {
            OFlags::RDWR
        } else {
            OFlags::RDONLY
        };
        sys::export_dmabuf(
            &self.file,
            offset as u64,
            len as u64,
            (access | OFlags::CLOEXEC).bits(),
        )
        .map_err(|e| {
            let message = format!(
                "cannot export {} at offset {offset} of {} as a dma-buf (MYDEV_IOC_EXPORT_DMABUF; \
                 a range is page-aligned, non-empty and inside the {}-byte buffer)",
                error::bytes(len),
                self.path.display(),
                self.size
            );
            Error::os(ErrorKind::Ioctl, &self.path, message, e)
        })
    }
}

impl AsFd for Device {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

impl AsRawFd for Device {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl From<Device> for File {
    fn from(dev: Device) -> File {
        dev.file
    }
}

impl TryFrom<File> for Device {
    type Error = Error;

    /// Takes an open file of the device (opened by other code, inherited, received over a
    /// socket): asks it for its size, and learns from its flags whether it is writable. The path
    /// in messages is the one the system reports (`/proc/self/fd/N`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Ioctl`] when the file does not answer the size ioctl (not a mydev node).
    fn try_from(file: File) -> Result<Self, Error> {
        let fd = file.as_raw_fd();
        let path = std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .unwrap_or_else(|_| PathBuf::from(format!("file descriptor {fd}")));
        let writable = rustix::fs::fcntl_getfl(&file).is_ok_and(|flags| {
            let mode = flags & rustix::fs::OFlags::RWMODE;
            mode == rustix::fs::OFlags::RDWR || mode == rustix::fs::OFlags::WRONLY
        });
        Self::with_file(file, path, writable)
    }
}
