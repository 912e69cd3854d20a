// SPDX-License-Identifier: MIT OR Apache-2.0

//! [`MapOptions`]: which part of the buffer to map, and how, in the manner of memmap2's
//! `MmapOptions`.

use crate::Device;
use crate::error::{Bounds, Error, ErrorKind};
use crate::sys::{Mapping, Request};

/// A builder of [`Mapping`]s: the range (any byte range inside the buffer: the system's mapping
/// is rounded out to whole pages, and the [`Mapping`] shows exactly the range), shared or private,
/// read-only or writable, populated or not.
///
/// The defaults: the whole buffer from offset 0, shared, writable when the device was opened for
/// writing, not populated. [`Device::map`] and [`Device::map_range`] are shorthands.
///
/// # Example
///
/// ```no_run
/// use mydev::{Device, MapOptions};
///
/// let dev = Device::open_read_only("/dev/mydev")?;
/// // 8 bytes at offset 100, copy-on-write: stores stay in this process, even on a read-only open.
/// let map = MapOptions::new().offset(100).len(8).private().map(&dev)?;
/// map.write(0, b"mine")?;
/// # Ok::<(), mydev::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct MapOptions {
    offset: usize,
    len: Option<usize>,
    private: bool,
    read_only: bool,
    populate: bool,
}

impl MapOptions {
    /// The defaults (see above).
    pub fn new() -> Self {
        Self::default()
    }

    /// Where in the buffer the mapping starts, in bytes; any offset inside the buffer.
    pub fn offset(&mut self, offset: usize) -> &mut Self {
        self.offset = offset;
        self
    }

    /// How many bytes to map (at least 1); by default, from the offset to the end of the buffer.
    pub fn len(&mut self, len: usize) -> &mut Self {
        self.len = Some(len);
        self
    }

    /// A private, copy-on-write mapping (`MAP_PRIVATE`): it shows the buffer's bytes, and the
    /// first store to a page gives this mapping its own copy of the page, which no other mapping,
    /// process or `read` sees. Writable even when the device was opened read-only, unless
    /// [`read_only`](Self::read_only) is asked for too.
    pub fn private(&mut self) -> &mut Self {
        self.private = true;
        self
    }

    /// A read-only mapping, even when the device was opened for writing: stores through it fail
    /// with [`ErrorKind::ReadOnly`].
    pub fn read_only(&mut self) -> &mut Self {
        self.read_only = true;
        self
    }

    /// Fill the page tables at `mmap` time (`MAP_POPULATE`), so that no access faults later. On a
    /// writable private mapping this copies every page at once (the kernel breaks
    /// copy-on-write as for a store), so the mapping no longer follows later changes to the
    /// buffer.
    pub fn populate(&mut self) -> &mut Self {
        self.populate = true;
        self
    }

    /// Maps `dev` as asked.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] for an empty range or one that does not lie inside the buffer,
    /// checked before anything is mapped ([`Error::bounds`] gives the numbers);
    /// [`ErrorKind::Map`] when the kernel refuses the mapping (`EACCES` for a shared writable
    /// mapping of a read-only open, which these options never ask for).
    pub fn map(&self, dev: &Device) -> Result<Mapping, Error> {
        let size = dev.size();
        let len = self.len.unwrap_or_else(|| size.saturating_sub(self.offset));
        let fits = self.offset.checked_add(len).is_some_and(|end| end <= size);
        if len == 0 || !fits {
            let bounds = Bounds {
                offset: self.offset,
                len,
                size,
            };
            let path = dev.path();
            let of = path.display().to_string();
            return Err(Error::out_of_bounds(
                path,
                "cannot map",
                &of,
                bounds,
                "buffer",
            ));
        }
        let writable = !self.read_only && (self.private || dev.is_writable());
        let req = Request {
            offset: self.offset,
            len,
            writable,
            private: self.private,
            populate: self.populate,
        };
        Mapping::new(dev.file(), dev.path(), req).map_err(|e| {
            let how = match (self.private, writable) {
                (false, true) => "shared, read-write",
                (false, false) => "shared, read-only",
                (true, true) => "private, read-write",
                (true, false) => "private, read-only",
            };
            let message = format!(
                "cannot map {} at offset {} of {} ({how})",
                crate::error::bytes(len),
                self.offset,
                dev.path().display()
            );
            Error::os(ErrorKind::Map, dev.path(), message, e)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::mm::{MapFlags, ProtFlags};

    fn request(private: bool, writable: bool, populate: bool) -> Request {
        Request {
            offset: 100,
            len: 8,
            writable,
            private,
            populate,
        }
    }

    #[test]
    fn options_become_the_mmap_flags() {
        let (prot, flags) = request(false, true, false).flags();
        assert_eq!(prot, ProtFlags::READ | ProtFlags::WRITE);
        assert_eq!(flags, MapFlags::SHARED);
        let (prot, flags) = request(true, false, true).flags();
        assert_eq!(prot, ProtFlags::READ);
        assert_eq!(flags, MapFlags::PRIVATE | MapFlags::POPULATE);
    }

    #[test]
    fn a_byte_range_is_rounded_out_to_whole_pages() {
        let page = crate::page_size();
        assert_eq!(request(false, true, false).pages(), Some((0, page, 100)));
        let across = Request {
            offset: page + page - 4,
            len: 8,
            ..request(false, true, false)
        };
        assert_eq!(across.pages(), Some((page, 2 * page, page - 4)));
        let whole = Request {
            offset: page,
            len: page,
            ..across
        };
        assert_eq!(whole.pages(), Some((page, page, 0)));
        let huge = Request {
            len: usize::MAX,
            ..across
        };
        assert_eq!(huge.pages(), None);
    }
}
