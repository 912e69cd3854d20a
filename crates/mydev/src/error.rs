// SPDX-License-Identifier: GPL-2.0

//! The library's error type: what failed, on which device, and why.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// What an [`Error`] was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Opening the device node.
    Open,
    /// An ioctl (size or clear).
    Ioctl,
    /// `pread`/`pwrite`.
    Io,
    /// `mmap`.
    Map,
    /// An offset or length outside the buffer (or the mapping), found before any system call.
    OutOfBounds,
}

/// An error from this crate, naming the device it concerns.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: PathBuf,
    source: Option<io::Error>,
    bounds: Option<(usize, usize, usize)>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, path: &Path, source: io::Error) -> Self {
        Self {
            kind,
            path: path.to_path_buf(),
            source: Some(source),
            bounds: None,
        }
    }

    pub(crate) fn out_of_bounds(path: &Path, offset: usize, len: usize, size: usize) -> Self {
        Self {
            kind: ErrorKind::OutOfBounds,
            path: path.to_path_buf(),
            source: None,
            bounds: Some((offset, len, size)),
        }
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The device path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The system's error, if the failure came from a system call.
    pub fn io_error(&self) -> Option<&io::Error> {
        self.source.as_ref()
    }

    /// The `errno` of the failed system call, if any.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.source.as_ref().and_then(io::Error::raw_os_error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match (self.kind, &self.source, self.bounds) {
            (ErrorKind::OutOfBounds, _, Some((offset, len, size))) => write!(
                f,
                "{path}: range {offset}..{offset}+{len} is outside the {size}-byte buffer \
                 (offset and length must lie inside it, and be page-aligned for a mapping)"
            ),
            (kind, Some(e), _) => {
                let what = match kind {
                    ErrorKind::Open => "cannot open",
                    ErrorKind::Ioctl => "ioctl failed on",
                    ErrorKind::Io => "I/O failed on",
                    ErrorKind::Map => "cannot map",
                    ErrorKind::OutOfBounds => "out of bounds on",
                };
                write!(f, "{what} {path}: {e}")
            }
            (_, None, _) => write!(f, "{path}: failed"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}
