// SPDX-License-Identifier: GPL-2.0

//! The shared buffer: zeroed pages owned by the module, and every access to their bytes.
//!
//! # What is and is not synchronised
//!
//! The list of pages never changes after [`Buffer::new`], so it needs no lock. The bytes in the
//! pages have no lock either: user space can store into them through a mapping at any moment,
//! so no kernel lock could make a `read` atomic against a store through a mapping anyway, and
//! concurrent `read`/`write`/clear calls see each other's bytes torn exactly as two user-space
//! threads writing the same file would. That is sound because no Rust reference (`&[u8]` or
//! `&mut [u8]`) to those bytes is ever formed: every byte is read or written by the kernel's C
//! copy routines (`copy_page_to_iter`, `copy_page_from_iter`, `memset`), which the kernel uses on
//! memory shared with user space everywhere (the page cache behind a shared file mapping is the
//! same situation).

use crate::range;
use kernel::{
    alloc::flags::{
        __GFP_NOWARN,
        __GFP_ZERO,
        GFP_KERNEL, //
    },
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::{
        Page,
        PAGE_SIZE, //
    },
    prelude::*, //
};

/// The pages of the device, zeroed at allocation and freed when the last user is gone.
///
/// # Invariants
///
/// - `pages` holds exactly `size / PAGE_SIZE` order-0 pages, and never changes after `new`.
/// - `size` is a positive multiple of `PAGE_SIZE`.
pub(crate) struct Buffer {
    pages: KVVec<Page>,
    size: usize,
}

impl Buffer {
    /// Allocates `npages` zeroed pages.
    ///
    /// Fails with `ENOMEM` when the memory is not there; pages allocated so far are freed.
    /// Asks for no more than the memory the kernel reports as available (`MemAvailable`), so that
    /// a large `size` on a small machine fails the load with `ENOMEM` instead of waking the OOM
    /// killer: 7.3's Rust `Flags` has no `__GFP_RETRY_MAYFAIL`. Memory can still run short
    /// between the check and the allocation; then the allocator's usual rules apply.
    pub(crate) fn new(npages: usize) -> Result<Self> {
        let size = npages.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        if npages == 0 {
            return Err(EINVAL);
        }
        // SAFETY: `si_mem_available` takes no arguments and only reads memory counters.
        let available = unsafe { bindings::si_mem_available() };
        if usize::try_from(available).map_or(true, |available| npages > available) {
            return Err(ENOMEM);
        }
        let mut pages = KVVec::with_capacity(npages, GFP_KERNEL | __GFP_NOWARN)?;
        for _ in 0..npages {
            let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN)?;
            pages.push(page, GFP_KERNEL)?;
        }
        // INVARIANT: `npages` (non-zero) zeroed pages, and `size` is `npages * PAGE_SIZE`.
        Ok(Self { pages, size })
    }

    /// The size of the buffer in bytes.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The number of pages of the buffer.
    pub(crate) fn npages(&self) -> usize {
        self.pages.len()
    }

    /// The page at `index`, if the buffer has one there.
    pub(crate) fn page(&self, index: usize) -> Option<&Page> {
        self.pages.get(index)
    }

    /// Copies up to `iov.len()` bytes from offset `pos` into `iov`.
    ///
    /// Returns the number of bytes copied: 0 at or past the end of the buffer, `EFAULT` if the
    /// user buffer faulted before anything was copied, and a short count if it faulted later.
    pub(crate) fn read_to(&self, pos: i64, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let (start, len) = range::io_span(pos, iov.len(), self.size)?;
        let mut done = 0usize;
        for (index, offset, chunk) in range::page_chunks(start, len, PAGE_SIZE) {
            let page = self.page(index).ok_or(EINVAL)?;
            // SAFETY:
            // - `page.as_ptr()` is a valid order-0 page, owned by `self` for the whole call.
            // - `offset + chunk <= PAGE_SIZE` by `page_chunks`.
            // - `iov.as_raw()` is a valid destination iterator for the duration of the call.
            // - The C copy tolerates concurrent stores to the page from user space or other
            //   callers (see the module documentation); no Rust reference to the bytes exists.
            let copied =
                unsafe { bindings::copy_page_to_iter(page.as_ptr(), offset, chunk, iov.as_raw()) };
            done += copied;
            if copied < chunk {
                break;
            }
        }
        if done == 0 && len != 0 {
            return Err(EFAULT);
        }
        Ok(done)
    }

    /// Copies up to `iov.len()` bytes from `iov` into the buffer at offset `pos`.
    ///
    /// Returns the number of bytes stored: `ENOSPC` at or past the end of the buffer (for a
    /// non-empty write), `EFAULT` if the user buffer faulted before anything was copied, and a
    /// short count when the write crosses the end or faults later.
    pub(crate) fn write_from(&self, pos: i64, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let count = iov.len();
        let (start, len) = range::io_span(pos, count, self.size)?;
        if count == 0 {
            return Ok(0);
        }
        if len == 0 {
            return Err(ENOSPC);
        }
        let mut done = 0usize;
        for (index, offset, chunk) in range::page_chunks(start, len, PAGE_SIZE) {
            let page = self.page(index).ok_or(EINVAL)?;
            // SAFETY:
            // - `page.as_ptr()` is a valid order-0 page, owned by `self` for the whole call.
            // - `offset + chunk <= PAGE_SIZE` by `page_chunks`.
            // - `iov.as_raw()` is a valid source iterator for the duration of the call.
            // - The C copy tolerates concurrent accesses to the page from user space or other
            //   callers (see the module documentation); no Rust reference to the bytes exists.
            let copied = unsafe {
                bindings::copy_page_from_iter(page.as_ptr(), offset, chunk, iov.as_raw())
            };
            done += copied;
            if copied < chunk {
                break;
            }
        }
        if done == 0 {
            return Err(EFAULT);
        }
        Ok(done)
    }

    /// Sets every byte of the buffer to zero.
    pub(crate) fn clear(&self) {
        for page in self.pages.iter() {
            // SAFETY: `page.as_ptr()` is a valid order-0 page owned by `self`.
            let addr = unsafe { bindings::kmap_local_page(page.as_ptr()) };
            // SAFETY: `addr` maps the whole page (`PAGE_SIZE` bytes) on this thread until the
            // `kunmap_local` below. `memset` is the C routine; concurrent accesses to the page
            // from user space or other callers only see some bytes zeroed earlier than others
            // (see the module documentation), and no Rust reference to the bytes exists.
            unsafe { bindings::memset(addr, 0, PAGE_SIZE) };
            // SAFETY: `addr` came from the `kmap_local_page` above, and it is the most recent
            // local mapping of this thread, as `kunmap_local` requires.
            unsafe { bindings::kunmap_local(addr) };
        }
    }
}
