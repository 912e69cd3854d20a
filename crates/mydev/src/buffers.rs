// SPDX-License-Identifier: MIT OR Apache-2.0

//! Buffers beside `/dev/mydev`, made and removed at run time through configfs.
//!
//! Each directory `/sys/kernel/config/mydev/NAME` describes a buffer: `size` (bytes), `huge`
//! (0 or 1), `live` (1 registers `/dev/mydev-NAME`), and the read-only `parts` and `huge_parts`.
//! [`Buffers`] creates, removes and lists them; [`Device::open_buffer`] opens one by name.
//!
//! # Example
//!
//! ```no_run
//! use mydev::buffers::Buffers;
//!
//! let buffers = Buffers::new();
//! let cam = buffers.create("cam", 4 << 20, true)?;
//! println!("{} is {} bytes at {}", cam.name, cam.size, cam.node().display());
//! let dev = mydev::Device::open_buffer("cam")?;
//! dev.write_at(0, b"frame")?;
//! buffers.remove("cam")?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;

pub use error::{Cause, Error};

use crate::{Device, ErrorKind};
use std::io;
use std::path::{Path, PathBuf};

/// Where the module's configfs subsystem lives when configfs is mounted where systemd mounts it.
pub const CONFIGFS_ROOT: &str = "/sys/kernel/config/mydev";

/// The longest buffer name the module accepts.
pub const MAX_NAME_LEN: usize = 32;

/// How many buffers the module holds at most (the next `mkdir` fails with `ENOSPC`).
pub const MAX_BUFFERS: usize = 256;

/// The largest buffer, as for the module's `size` parameter.
pub const MAX_SIZE: u64 = 1 << 30;

/// Why a name is not a buffer name, or `Ok` when it is one: 1 to [`MAX_NAME_LEN`] characters of
/// `A-Z a-z 0-9 _ . -`, not starting with `.` (the rule the module's `mkdir` applies).
///
/// # Errors
///
/// A sentence saying what is wrong with the name.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a buffer name cannot be empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "buffer name {name:?} is {} characters long; the limit is {MAX_NAME_LEN}",
            name.chars().count()
        ));
    }
    if name.starts_with('.') {
        return Err(format!("buffer name {name:?} cannot start with '.'"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "buffer name {name:?} contains {c:?}; use only A-Z a-z 0-9 _ . -"
        ));
    }
    Ok(())
}

/// The device node of the buffer `name`: `/dev/mydev-NAME`.
pub fn node_path(name: &str) -> PathBuf {
    PathBuf::from(format!("/dev/mydev-{name}"))
}

/// A buffer as configfs describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BufferInfo {
    /// The directory's name.
    pub name: String,
    /// `size`, in bytes.
    pub size: u64,
    /// `huge`: whether whole 2 MiB parts are allocated as 2 MiB folios.
    pub huge: bool,
    /// `live`: whether the buffer is allocated and its node registered.
    pub live: bool,
    /// `parts`: the number of 2 MiB parts (0 while not live).
    pub parts: u64,
    /// `huge_parts`: how many of them are 2 MiB folios (0 while not live).
    pub huge_parts: u64,
}

impl BufferInfo {
    /// The device node, `/dev/mydev-NAME` (present only while [`live`](Self::live)).
    pub fn node(&self) -> PathBuf {
        node_path(&self.name)
    }
}

/// The buffers of the module's configfs subsystem, at [`CONFIGFS_ROOT`] or at another root.
#[derive(Debug, Clone)]
pub struct Buffers {
    root: PathBuf,
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

impl Buffers {
    /// The buffers at [`CONFIGFS_ROOT`].
    pub fn new() -> Self {
        Self::at(CONFIGFS_ROOT)
    }

    /// The buffers of a subsystem directory elsewhere: configfs mounted at another place, or a
    /// plain directory tree that imitates it (tests).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The subsystem directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Checks that the subsystem directory is there, telling a missing module from an unmounted
    /// configfs.
    fn check_root(&self) -> Result<(), Error> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(Error::new(
                "reading",
                &self.root,
                io::Error::from(rustix::io::Errno::NOTDIR),
            )),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::missing_root(&self.root)),
            Err(e) => Err(Error::new("reading", &self.root, e)),
        }
    }

    /// Every buffer, sorted by name.
    ///
    /// # Errors
    ///
    /// [`Cause::ModuleNotLoaded`] or [`Cause::ConfigfsNotMounted`] when the subsystem directory
    /// is missing; the system's error when a directory or attribute cannot be read. A buffer
    /// removed while it is being listed is left out.
    pub fn list(&self) -> Result<Vec<BufferInfo>, Error> {
        self.check_root()?;
        let entries =
            std::fs::read_dir(&self.root).map_err(|e| Error::new("reading", &self.root, e))?;
        let mut list = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::new("reading", &self.root, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !entry.path().is_dir() {
                continue;
            }
            match self.get(&name) {
                Ok(Some(info)) => list.push(info),
                Ok(None) => {}
                Err(e) if e.cause() == Cause::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// The buffer `name`, or `None` when there is no such directory.
    ///
    /// # Errors
    ///
    /// As for [`Buffers::list`], and [`Cause::InvalidName`].
    pub fn get(&self, name: &str) -> Result<Option<BufferInfo>, Error> {
        check_name(name).map_err(|why| Error::invalid_name(&self.dir(name), why))?;
        self.check_root()?;
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Ok(None);
        }
        Ok(Some(BufferInfo {
            name: name.to_string(),
            size: read_number(&dir.join("size"))?,
            huge: read_number(&dir.join("huge"))? != 0,
            live: read_number(&dir.join("live"))? != 0,
            parts: read_number(&dir.join("parts"))?,
            huge_parts: read_number(&dir.join("huge_parts"))?,
        }))
    }

    /// Creates the buffer `name` of `size` bytes and makes it live: `mkdir`, `size`, `huge`, then
    /// `live` = 1. When a step fails, the directory is removed again, so nothing is left.
    ///
    /// # Errors
    ///
    /// [`Cause::Exists`] when the directory exists, [`Cause::InvalidName`],
    /// [`Cause::InvalidSize`], [`Cause::TooMany`], [`Cause::OutOfMemory`],
    /// [`Cause::PermissionDenied`], and those of [`Buffers::list`].
    pub fn create(&self, name: &str, size: u64, huge: bool) -> Result<BufferInfo, Error> {
        check_name(name).map_err(|why| Error::invalid_name(&self.dir(name), why))?;
        self.check_root()?;
        let dir = self.dir(name);
        std::fs::create_dir(&dir).map_err(|e| Error::new("creating", &dir, e))?;
        let made = self.configure(&dir, size, huge).and_then(|()| {
            write_attr(&dir.join("live"), 1)?;
            self.get(name)?.ok_or_else(|| {
                Error::new("reading", &dir, io::Error::from(rustix::io::Errno::NOENT))
            })
        });
        made.map_err(|e| match self.discard(&dir) {
            Ok(()) => e,
            Err(cleanup) => e.with_cleanup_failure(cleanup),
        })
    }

    /// Writes `size` and `huge` of a buffer that is not live.
    fn configure(&self, dir: &Path, size: u64, huge: bool) -> Result<(), Error> {
        write_attr(&dir.join("size"), size)?;
        write_attr(&dir.join("huge"), u64::from(huge))
    }

    /// Makes the existing, not live buffer `name` live with `size` and `huge`.
    ///
    /// # Errors
    ///
    /// [`Cause::NotFound`], [`Cause::Busy`] when it is live, and those of [`Buffers::create`]
    /// but [`Cause::Exists`]. The directory stays when a step fails.
    pub fn activate(&self, name: &str, size: u64, huge: bool) -> Result<BufferInfo, Error> {
        let info = self.get(name)?.ok_or_else(|| {
            Error::new(
                "reading",
                &self.dir(name),
                io::Error::from(rustix::io::Errno::NOENT),
            )
        })?;
        let dir = self.dir(name);
        if info.live {
            return Err(Error::new(
                "configuring",
                &dir,
                io::Error::from(rustix::io::Errno::BUSY),
            ));
        }
        self.configure(&dir, size, huge)?;
        write_attr(&dir.join("live"), 1)?;
        self.get(name)?
            .ok_or_else(|| Error::new("reading", &dir, io::Error::from(rustix::io::Errno::NOENT)))
    }

    /// Removes the buffer `name`: `live` = 0, then `rmdir`. Open files and mappings of it keep
    /// its bytes until they go; its node goes at once.
    ///
    /// # Errors
    ///
    /// [`Cause::NotFound`] when there is no such buffer, [`Cause::InvalidName`],
    /// [`Cause::PermissionDenied`], and those of [`Buffers::list`].
    pub fn remove(&self, name: &str) -> Result<(), Error> {
        check_name(name).map_err(|why| Error::invalid_name(&self.dir(name), why))?;
        self.check_root()?;
        let dir = self.dir(name);
        if !dir.is_dir() {
            return Err(Error::new(
                "removing",
                &dir,
                io::Error::from(rustix::io::Errno::NOENT),
            ));
        }
        self.discard(&dir)
    }

    /// `live` = 0 when it is 1, then `rmdir`.
    fn discard(&self, dir: &Path) -> Result<(), Error> {
        let live = dir.join("live");
        if read_number(&live).is_ok_and(|v| v != 0) {
            write_attr(&live, 0)?;
        }
        remove_dir(dir)
    }
}

/// `rmdir` of a buffer's directory. On configfs the attributes vanish with it; in a plain
/// directory tree that imitates configfs, they are files to delete first.
fn remove_dir(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NOTEMPTY.raw_os_error()) => {
            // ENOTEMPTY: not configfs, whose rmdir removes the attributes itself.
            std::fs::remove_dir_all(dir).map_err(|e| Error::new("removing", dir, e))
        }
        Err(e) => Err(Error::new("removing", dir, e)),
    }
}

/// Reads a decimal attribute.
fn read_number(path: &Path) -> Result<u64, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::new("reading", path, e))?;
    text.trim().parse().map_err(|_| {
        Error::new(
            "reading",
            path,
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{:?} is not a number", text.trim()),
            ),
        )
    })
}

/// Writes a decimal attribute (without a newline, as `echo -n` would).
fn write_attr(path: &Path, value: u64) -> Result<(), Error> {
    std::fs::write(path, value.to_string()).map_err(|e| Error::new("writing", path, e))
}

impl Device {
    /// Opens the buffer `name` (its node `/dev/mydev-NAME`) for reading and writing. Use
    /// [`Device::open`] for a node elsewhere.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Open`] with `EINVAL` for a name that is not a buffer name (see
    /// [`check_name`]), and the errors of [`Device::open`].
    ///
    /// # Example
    ///
    /// ```no_run
    /// let cam = mydev::Device::open_buffer("cam")?;
    /// println!("{} bytes", cam.size());
    /// # Ok::<(), mydev::Error>(())
    /// ```
    pub fn open_buffer(name: &str) -> Result<Self, crate::Error> {
        let path = node_path(name);
        check_name(name).map_err(|why| {
            crate::Error::os(
                ErrorKind::Open,
                &path,
                format!("cannot open {}", path.display()),
                io::Error::new(io::ErrorKind::InvalidInput, why),
            )
        })?;
        Self::open(path)
    }
}

#[cfg(test)]
mod tests;
