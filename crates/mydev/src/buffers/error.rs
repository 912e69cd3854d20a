// SPDX-License-Identifier: MIT OR Apache-2.0

//! The error of a configfs operation on buffers: what was done to which file, why it failed,
//! and what to do about it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a buffer operation failed, as far as the caller can act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// configfs is mounted, but the `mydev` subsystem directory is not there.
    ModuleNotLoaded,
    /// The directory that should hold the subsystem is not a configfs mount.
    ConfigfsNotMounted,
    /// `EACCES` or `EPERM`: configfs belongs to root.
    PermissionDenied,
    /// No such buffer.
    NotFound,
    /// A buffer of that name exists.
    Exists,
    /// Not a buffer name.
    InvalidName,
    /// `EINVAL` from `size`: not a size the module accepts.
    InvalidSize,
    /// `ENOSPC` from `mkdir`: the module holds as many buffers as it can.
    TooMany,
    /// `ENOMEM` from `live`: the buffer cannot be allocated.
    OutOfMemory,
    /// `EBUSY`: the buffer is live.
    Busy,
    /// Anything else; see [`Error::io_error`].
    Other,
}

/// A failed buffer operation.
#[derive(Debug)]
pub struct Error {
    action: &'static str,
    path: PathBuf,
    cause: Cause,
    source: io::Error,
    cleanup: Option<Box<Error>>,
}

impl Error {
    /// `action` ("creating", "writing", …) on `path` failed with `source`.
    pub(crate) fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        let cause = cause_of(action, path, &source);
        Self {
            action,
            path: path.to_path_buf(),
            cause,
            source,
            cleanup: None,
        }
    }

    pub(crate) fn invalid_name(path: &Path, why: String) -> Self {
        Self {
            cause: Cause::InvalidName,
            ..Self::new(
                "checking",
                path,
                io::Error::new(io::ErrorKind::InvalidInput, why),
            )
        }
    }

    /// The subsystem directory `root` is missing: configfs unmounted, or the module not loaded.
    pub(crate) fn missing_root(root: &Path) -> Self {
        let mounted = root.parent().is_some_and(|parent| {
            std::fs::read_to_string("/proc/self/mounts")
                .is_ok_and(|mounts| is_configfs_mount(&mounts, parent))
        });
        Self {
            cause: if mounted {
                Cause::ModuleNotLoaded
            } else {
                Cause::ConfigfsNotMounted
            },
            ..Self::new("opening", root, io::Error::from(rustix::io::Errno::NOENT))
        }
    }

    /// Records that removing what a failed creation left also failed.
    pub(crate) fn with_cleanup_failure(mut self, cleanup: Error) -> Self {
        self.cleanup = Some(Box::new(cleanup));
        self
    }

    /// Why it failed.
    pub fn cause(&self) -> Cause {
        self.cause
    }

    /// The file or directory concerned.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The system's error.
    pub fn io_error(&self) -> &io::Error {
        &self.source
    }

    /// When a creation failed and its directory could not be removed: that error.
    pub fn cleanup_failure(&self) -> Option<&Error> {
        self.cleanup.as_deref()
    }

    /// What to do about it, if there is something to say.
    fn advice(&self) -> Option<String> {
        let parent = self.path.parent().unwrap_or(Path::new("/")).display();
        Some(match self.cause {
            Cause::ModuleNotLoaded => {
                "the mmap module is not loaded: load it with `modprobe mmap`".to_string()
            }
            Cause::ConfigfsNotMounted => format!(
                "configfs is not mounted on {parent}: load the module with `modprobe mmap` \
                 (it brings configfs), then `mount -t configfs none {parent}`"
            ),
            Cause::PermissionDenied => {
                "configfs and the buffers' attributes belong to root: run as root".into()
            }
            Cause::Exists => "a buffer of this name exists: remove it first".into(),
            Cause::InvalidSize => format!(
                "the size must be a positive multiple of the page size ({}), at most 1 GiB",
                crate::page_size()
            ),
            Cause::TooMany => format!(
                "the module holds at most {} buffers: remove one first",
                super::MAX_BUFFERS
            ),
            Cause::OutOfMemory => {
                "not enough memory for a buffer of this size: see the kernel log".into()
            }
            Cause::Busy => "the buffer is live: remove it or set its live to 0 first".into(),
            Cause::NotFound | Cause::InvalidName | Cause::Other => return None,
        })
    }
}

/// The cause of `source`, given what was being done to which file.
fn cause_of(action: &str, path: &Path, source: &io::Error) -> Cause {
    use rustix::io::Errno;
    let attr = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match source.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::ACCESS | Errno::PERM) => Cause::PermissionDenied,
        Some(Errno::EXIST) => Cause::Exists,
        Some(Errno::NOSPC) if action == "creating" => Cause::TooMany,
        Some(Errno::INVAL) if action == "creating" => Cause::InvalidName,
        Some(Errno::INVAL) if attr == "size" => Cause::InvalidSize,
        Some(Errno::NOMEM) => Cause::OutOfMemory,
        Some(Errno::BUSY) => Cause::Busy,
        _ if source.kind() == io::ErrorKind::NotFound => Cause::NotFound,
        _ => Cause::Other,
    }
}

/// Whether `mounts` (the text of `/proc/self/mounts`) has a configfs mounted on `dir`.
pub(crate) fn is_configfs_mount(mounts: &str, dir: &Path) -> bool {
    mounts.lines().any(|line| {
        let mut fields = line.split_whitespace();
        let (_, point, fstype) = (fields.next(), fields.next(), fields.next());
        fstype == Some("configfs") && point.map(Path::new) == Some(dir)
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.action,
            self.path.display(),
            self.source
        )?;
        if let Some(advice) = self.advice() {
            write!(f, " ({advice})")?;
        }
        if let Some(cleanup) = &self.cleanup {
            write!(f, "; then, cleaning up: {cleanup}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}
