// SPDX-License-Identifier: MIT OR Apache-2.0

//! The library's error type: which operation failed, on which device, and why.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// `n` with its noun: "1 byte", "2 bytes".
pub(crate) fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

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
    /// An offset or length outside the buffer (or the mapping), or an empty mapping, found before
    /// any system call; [`Error::bounds`] says which.
    OutOfBounds,
    /// A store through a read-only mapping, refused before touching it.
    ReadOnly,
}

/// The range that an [`ErrorKind::OutOfBounds`] error asked for, and the size it had to fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Bounds {
    /// Where the range starts, in bytes.
    pub offset: usize,
    /// Its length in bytes.
    pub len: usize,
    /// The size of the buffer (or of the mapping) that it had to lie in.
    pub size: usize,
}

/// An error from this crate.
///
/// Its message (`Display`) names the operation and the device; when a system call failed, the
/// system's error is the [`source`](std::error::Error::source), not repeated in the message, so
/// that a report walking the chain (`{:#}` with anyhow) prints each cause once:
/// `cannot open /dev/mydev: No such file or directory (os error 2)`.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    path: PathBuf,
    source: Option<io::Error>,
    bounds: Option<Bounds>,
}

impl Error {
    /// A failed system call: `message` says what was being done to `path`.
    pub(crate) fn os(kind: ErrorKind, path: &Path, message: String, source: io::Error) -> Self {
        Self {
            kind,
            message,
            path: path.to_path_buf(),
            source: Some(source),
            bounds: None,
        }
    }

    /// A range that does not fit: `verb` is the operation (`"cannot map"`), `of` what it was
    /// applied to (the path, or a mapping of it), `within` the thing of `size` bytes that the
    /// range had to fit in.
    pub(crate) fn out_of_bounds(
        path: &Path,
        verb: &str,
        of: &str,
        bounds: Bounds,
        within: &str,
    ) -> Self {
        let Bounds { offset, len, size } = bounds;
        let why = if len == 0 {
            "a mapping cannot be empty".to_string()
        } else if offset >= size {
            format!("the offset is past the end of the {size}-byte {within}")
        } else {
            format!(
                "they run past the end of the {size}-byte {within} (room for {} from there)",
                bytes(size - offset)
            )
        };
        Self {
            kind: ErrorKind::OutOfBounds,
            message: format!("{verb} {} at offset {offset} of {of}: {why}", bytes(len)),
            path: path.to_path_buf(),
            source: None,
            bounds: Some(bounds),
        }
    }

    /// A store refused because the mapping is read-only.
    pub(crate) fn read_only(path: &Path) -> Self {
        Self {
            kind: ErrorKind::ReadOnly,
            message: format!(
                "cannot write through a mapping of {}: the mapping is read-only",
                path.display()
            ),
            path: path.to_path_buf(),
            source: None,
            bounds: None,
        }
    }

    /// What failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The device path (for a [`Device`](crate::Device) made from a `File`, the path the
    /// system reports for it).
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

    /// The range and the size it had to fit in, for [`ErrorKind::OutOfBounds`].
    pub fn bounds(&self) -> Option<Bounds> {
        self.bounds
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

impl From<Error> for io::Error {
    /// An `io::Error` of the same kind as the system's error (`InvalidInput` for a range out of
    /// bounds, `PermissionDenied` for a store to a read-only mapping), carrying the whole error:
    /// its message, and its source through the `io::Error`'s `source`.
    fn from(e: Error) -> Self {
        let kind = match (&e.source, e.kind) {
            (Some(source), _) => source.kind(),
            (None, ErrorKind::ReadOnly) => io::ErrorKind::PermissionDenied,
            (None, _) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

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

    fn not_found() -> Error {
        Error::os(
            ErrorKind::Open,
            Path::new("/dev/nope"),
            "cannot open /dev/nope".into(),
            io::Error::from_raw_os_error(2),
        )
    }

    #[test]
    fn the_chain_says_each_cause_once() {
        let e = not_found();
        assert_eq!(
            chain(&e),
            "cannot open /dev/nope: No such file or directory (os error 2)"
        );
    }

    #[test]
    fn into_io_error_keeps_the_kind_and_the_chain() {
        let io_err = io::Error::from(not_found());
        assert_eq!(io_err.kind(), io::ErrorKind::NotFound);
        assert_eq!(
            chain(&io_err),
            "cannot open /dev/nope: No such file or directory (os error 2)"
        );
        let inner = io_err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert_eq!(inner.map(Error::kind), Some(ErrorKind::Open));

        let bounds = Bounds {
            offset: 4090,
            len: 10,
            size: 4096,
        };
        let oob = Error::out_of_bounds(
            Path::new("/dev/x"),
            "cannot map",
            "/dev/x",
            bounds,
            "buffer",
        );
        assert_eq!(io::Error::from(oob).kind(), io::ErrorKind::InvalidInput);
        let ro = Error::read_only(Path::new("/dev/x"));
        assert_eq!(io::Error::from(ro).kind(), io::ErrorKind::PermissionDenied);
    }

    #[test]
    fn out_of_bounds_says_why_and_keeps_the_numbers() {
        let bounds = Bounds {
            offset: 4090,
            len: 10,
            size: 4096,
        };
        let e = Error::out_of_bounds(
            Path::new("/dev/x"),
            "cannot map",
            "/dev/x",
            bounds,
            "buffer",
        );
        assert_eq!(e.bounds(), Some(bounds));
        assert!(e.source().is_none());
        assert_eq!(
            e.to_string(),
            "cannot map 10 bytes at offset 4090 of /dev/x: they run past the end of the \
             4096-byte buffer (room for 6 bytes from there)"
        );
        let empty = Bounds { len: 0, ..bounds };
        let e = Error::out_of_bounds(Path::new("/dev/x"), "cannot map", "/dev/x", empty, "buffer");
        assert!(e.to_string().ends_with("a mapping cannot be empty"), "{e}");
    }
}
