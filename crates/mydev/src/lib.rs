// SPDX-License-Identifier: GPL-2.0

//! Safe access to `/dev/mydev`, the shared buffer of the mydev kernel module.
//!
//! Every process that opens the device sees the same bytes, through [`Device::read_at`] /
//! [`Device::write_at`] and through [`Mapping`]s of the same memory. Because another process (or a
//! `write` call) can change mapped bytes at any moment, the safe [`Mapping`] API copies bytes in
//! and out with volatile accesses; borrowing the mapping as a slice is `unsafe`
//! ([`Mapping::as_slice`]).
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
//! # Ok::<(), mydev::Error>(())
//! ```

pub mod buffers;
mod error;
mod sys;

pub use error::{Error, ErrorKind};
pub use sys::{Mapping, page_size};

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The ioctl numbers, shared with the kernel module (`module/uapi.rs`, the single definition).
#[allow(
    dead_code,
    reason = "the module's file also carries its private encoding helpers"
)]
#[path = "../../../module/uapi.rs"]
pub mod uapi;

/// The device node that the module creates.
pub const DEFAULT_PATH: &str = "/dev/mydev";

/// An open `/dev/mydev`.
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
        Self::open_with(path, true)
    }

    /// Opens the device at `path` read-only (writes and writable mappings then fail).
    ///
    /// # Errors
    ///
    /// As for [`Device::open`].
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path, false)
    }

    /// Opens [`DEFAULT_PATH`] for reading and writing.
    ///
    /// # Errors
    ///
    /// As for [`Device::open`].
    pub fn open_default() -> Result<Self, Error> {
        Self::open(DEFAULT_PATH)
    }

    fn open_with(path: impl AsRef<Path>, writable: bool) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        let file = OpenOptions::new()
            .read(true)
            .write(writable)
            .open(&path)
            .map_err(|e| Error::new(ErrorKind::Open, &path, e))?;
        let size = sys::get_size(&file).map_err(|e| Error::new(ErrorKind::Ioctl, &path, e))?;
        let size = usize::try_from(size).map_err(|_| {
            Error::new(
                ErrorKind::Ioctl,
                &path,
                std::io::Error::other("size does not fit in memory"),
            )
        })?;
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
        sys::clear(&self.file).map_err(|e| self.error(ErrorKind::Ioctl, e))
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
        self.file
            .read_at(buf, offset)
            .map_err(|e| self.error(ErrorKind::Io, e))
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
        self.file
            .write_at(buf, offset)
            .map_err(|e| self.error(ErrorKind::Io, e))
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
        self.map_range(0, self.size)
    }

    /// Maps `len` bytes of the buffer from `offset`; both must be multiples of the page size and
    /// the range must lie inside the buffer.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] for a range outside the buffer or not page-aligned, checked
    /// before anything is mapped; [`ErrorKind::Map`] when the kernel refuses the mapping.
    ///
    /// # Example
    ///
    /// ```no_run
    /// let dev = mydev::Device::open_default()?;
    /// let page = mydev::page_size();
    /// let second_page = dev.map_range(page, page)?;
    /// println!("{:#04x}", second_page.byte(0)?);
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn map_range(&self, offset: usize, len: usize) -> Result<Mapping, Error> {
        let page = page_size();
        let fits = offset.checked_add(len).is_some_and(|end| end <= self.size);
        if len == 0 || !fits || offset % page != 0 || len % page != 0 {
            return Err(self.out_of_bounds(offset, len));
        }
        Mapping::new(&self.file, offset, len, self.writable)
            .map_err(|e| self.error(ErrorKind::Map, e))
    }

    fn error(&self, kind: ErrorKind, source: std::io::Error) -> Error {
        Error::new(kind, &self.path, source)
    }

    fn out_of_bounds(&self, offset: usize, len: usize) -> Error {
        Error::out_of_bounds(&self.path, offset, len, self.size)
    }
}
