// SPDX-License-Identifier: GPL-2.0

//! The shared buffer: zeroed memory owned by the module, and every access to its bytes.
//!
//! # Why 2 MiB parts, and one kernel view of them
//!
//! The buffer is allocated in parts of 2 MiB (`PMD_SIZE`, [`PART_PAGES`] pages), each aligned to
//! 2 MiB inside the buffer. With the `huge` parameter on (the default), each whole part is first
//! tried as one folio of order `PMD_SHIFT - PAGE_SHIFT`, which a mapping can then map with a
//! single PMD entry (`vma.rs`); a part whose large allocation fails, and the tail of a buffer
//! whose size is not a multiple of 2 MiB, are order-0 pages. The large try asks for no heavy
//! effort: `__GFP_NORETRY` gives up after one light round of reclaim and compaction instead of
//! stalling the load (as THP's own allocations do outside `MADV_HUGEPAGE` regions), and
//! `__GFP_NOWARN` keeps the failure quiet, since it only means 4 KiB pages for that part. The
//! pages are unmovable (`GFP_KERNEL`): they stay pinned for the module's lifetime.
//!
//! All the pages, in order, are then mapped at consecutive kernel addresses with `vmap()`. The
//! contiguous kernel view lets a `read` or `write` of any length be a single C copy
//! (`_copy_to_iter`/`_copy_from_iter`), as the classic C design's `copy_to_user` on a
//! `vmalloc_user()` buffer is. A first version kept a vector of separately allocated pages and
//! copied one page per call (`copy_page_to_iter`): in the benchmark (`cargo xtask bench`) 64 KiB
//! and 1 MiB reads and writes ran at 0.85–0.92 times the C design's speed; with one copy per call
//! they run at 0.96–1.01.
//!
//! The module holds one reference to each folio (a 2 MiB folio, or an order-0 page) and drops it
//! when the buffer is dropped; every page-table entry that maps a page holds its own reference to
//! the page's folio (see `vma.rs`), so memory that some mapping still maps is freed only when the
//! last such entry goes.
//!
//! # What is and is not synchronised
//!
//! The allocation never changes after [`Buffer::new`], so it needs no lock. The bytes have no
//! lock either: user space can store into them through a mapping at any moment, so no kernel lock
//! could make a `read` atomic against a store through a mapping anyway, and concurrent
//! `read`/`write`/clear calls see each other's bytes torn exactly as two user-space threads
//! writing the same file would. That is sound because no Rust reference (`&[u8]` or `&mut [u8]`)
//! to those bytes is ever formed: the buffer is held as a raw pointer, and every byte is read or
//! written by the kernel's C routines (`_copy_to_iter`, `_copy_from_iter`, `memset`), which the
//! kernel uses on memory shared with user space everywhere (the page cache behind a shared file
//! mapping is the same situation).

use crate::{
    name::NodeName,
    range, //
};
use core::ptr::NonNull;
use kernel::{
    alloc::{
        flags::GFP_KERNEL,
        KVVec, //
    },
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*,
    uaccess::UserPtr, //
};

/// The order of a part's folio: a part is what one PMD entry maps (2 MiB with 4 KiB pages).
pub(crate) const PART_ORDER: u32 = bindings::PMD_SHIFT - PAGE_SHIFT as u32;

/// Pages per part.
pub(crate) const PART_PAGES: usize = 1 << PART_ORDER;

/// The flags of a part's 2 MiB allocation: zeroed, and a failure is quiet and quick (one light
/// round of reclaim and compaction, `__GFP_NORETRY`), since the part can still be order-0 pages.
/// 7.3's Rust `Flags` has no `__GFP_NORETRY`, so the raw values are used.
const HUGE_GFP: bindings::gfp_t = bindings::GFP_KERNEL
    | bindings::__GFP_ZERO
    | bindings::__GFP_NOWARN
    | (1 << bindings::___GFP_NORETRY_BIT);

/// The flags of an order-0 page: zeroed; quiet, because a failed load says why in one line.
const SMALL_GFP: bindings::gfp_t =
    bindings::GFP_KERNEL | bindings::__GFP_ZERO | bindings::__GFP_NOWARN;

/// The pages of the buffer and the references the module holds to them.
///
/// # Invariants
///
/// - `parts` has one entry per started part: `parts.len() == pages.len().div_ceil(PART_PAGES)`
///   once a constructor has returned, and part `k` covers `pages[k * PART_PAGES..]` up to
///   `PART_PAGES` pages.
/// - A non-null `parts[k]` is a folio of order [`PART_ORDER`] to which this value holds one
///   reference, and the pages of part `k` are its pages, in order.
/// - A null `parts[k]` means that each page of part `k` is an order-0 page to which this value
///   holds one reference.
struct Pages {
    pages: KVVec<*mut bindings::page>,
    parts: KVVec<*mut bindings::folio>,
}

impl Pages {
    /// Allocates `npages` zeroed pages: each whole part as one 2 MiB folio when `huge` is set
    /// and the allocation succeeds, everything else as order-0 pages.
    fn new(npages: usize, huge: bool) -> Result<Self> {
        let mut this = Self {
            pages: KVVec::with_capacity(npages, GFP_KERNEL)?,
            parts: KVVec::with_capacity(npages.div_ceil(PART_PAGES), GFP_KERNEL)?,
        };
        while this.pages.len() < npages {
            let left = npages - this.pages.len();
            let folio = if huge && left >= PART_PAGES {
                // SAFETY: `mydev_folio_alloc` may be called with any flags and order; it
                // returns null or a folio of that order with one reference for the caller.
                unsafe { mydev_folio_alloc(HUGE_GFP, PART_ORDER) }
            } else {
                core::ptr::null_mut()
            };
            if let Err(e) = this.parts.push_within_capacity(folio) {
                // Not reached: the capacity was reserved above. Give the folio back.
                if !e.0.is_null() {
                    // SAFETY: the folio was just allocated and its reference is still ours.
                    unsafe { mydev_folio_put(e.0) };
                }
                return Err(ENOMEM);
            }
            // INVARIANT: from here `parts` records the new part; its pages follow.
            if folio.is_null() {
                for _ in 0..left.min(PART_PAGES) {
                    // SAFETY: as above, for an order-0 folio.
                    let small = unsafe { mydev_folio_alloc(SMALL_GFP, 0) };
                    if small.is_null() {
                        // `Drop` gives back every page allocated so far.
                        return Err(ENOMEM);
                    }
                    // SAFETY: `small` is a live folio of one page; index 0 is that page.
                    let page = unsafe { mydev_folio_page(small, 0) };
                    if this.pages.push_within_capacity(page).is_err() {
                        // Not reached (capacity reserved). Give the page back.
                        // SAFETY: the page's folio was just allocated and its reference is ours.
                        unsafe { mydev_folio_put(small) };
                        return Err(ENOMEM);
                    }
                }
            } else {
                for i in 0..PART_PAGES {
                    // SAFETY: `folio` is a live folio of `PART_PAGES` pages and `i` is below that.
                    let page = unsafe { mydev_folio_page(folio, i) };
                    // The folio's reference is held through `parts`, so a failure (not reached:
                    // capacity reserved) leaks nothing.
                    this.pages.push_within_capacity(page).map_err(|_| ENOMEM)?;
                }
            }
        }
        Ok(this)
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        for (k, &folio) in self.parts.iter().enumerate() {
            if !folio.is_null() {
                // SAFETY: a non-null entry is a folio to which `self` holds one reference (type
                // invariant); it is dropped once, here.
                unsafe { mydev_folio_put(folio) };
                continue;
            }
            let first = k * PART_PAGES;
            let last = first.saturating_add(PART_PAGES).min(self.pages.len());
            for &page in self.pages.get(first..last).unwrap_or(&[]) {
                // SAFETY: the pages of a part with a null entry are order-0 pages to which
                // `self` holds one reference each (type invariant), dropped once, here.
                unsafe { mydev_put_page(page) };
            }
        }
    }
}

/// The device's memory: zeroed pages in 2 MiB parts, mapped at consecutive kernel addresses,
/// freed when the last user is gone.
///
/// # Invariants
///
/// - `ptr` is the start of a `vmap()` of all of `pages.pages`, in order (`size` bytes), owned by
///   this value and unmapped only by its `Drop`, before `pages` frees the pages.
/// - `pages.pages.len() * PAGE_SIZE == size`, and `size > 0`.
/// - `huge_parts` is the number of non-null entries of `pages.parts`.
/// - No Rust reference to the bytes of the buffer ever exists.
pub(crate) struct Buffer {
    ptr: NonNull<u8>,
    pages: Pages,
    huge_parts: usize,
    /// The size as a `u32` (the `size` parameter is at most 1 GiB): with the bound in the type,
    /// the compiler sees that no offset inside the buffer can overflow an `i64` or `isize`, and
    /// leaves those checks out of `read` and `write`.
    size: u32,
    /// The name of the buffer's node under `/dev`, for fdinfo and the kernel log, and the
    /// string that the node's registration points to (`node.rs`).
    name: NodeName,
}

// SAFETY: `Buffer` owns its pages and mapping (no thread affinity), and every access to the bytes
// goes through C routines that tolerate concurrent access (see the module documentation), so the
// value can move to and be shared between threads.
unsafe impl Send for Buffer {}
// SAFETY: See `Send`: `&Buffer` only gives the C copies and page lookups, which are safe to run
// concurrently from several threads.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `npages` zeroed pages, with 2 MiB folios for the whole parts if `huge` is set.
    ///
    /// Fails with `ENOMEM` when the memory is not there. Asks for no more than the memory the
    /// kernel reports as available (`MemAvailable`), so that a large `size` on a small machine
    /// fails the load with `ENOMEM` instead of waking the OOM killer: 7.3's Rust `Flags` has no
    /// `__GFP_RETRY_MAYFAIL`. Memory can still run short between the check and the allocation;
    /// then the allocator's usual rules apply, and what was allocated is freed on failure.
    pub(crate) fn new(name: NodeName, npages: usize, huge: bool) -> Result<Self> {
        if npages == 0 {
            return Err(EINVAL);
        }
        let size = npages.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        // SAFETY: `si_mem_available` takes no arguments and only reads memory counters.
        let available = unsafe { bindings::si_mem_available() };
        if usize::try_from(available).map_or(true, |available| npages > available) {
            return Err(ENOMEM);
        }
        let size32 = u32::try_from(size).map_err(|_| EINVAL)?;
        let count = u32::try_from(npages).map_err(|_| EINVAL)?;
        let mut pages = Pages::new(npages, huge)?;
        // SAFETY: `pages.pages` holds `count` live pages (`Pages` invariant), which stay
        // allocated until `Buffer::drop` has unmapped them; `vmap` keeps no pointer to the array.
        let ptr = unsafe { mydev_vmap(pages.pages.as_mut_ptr(), count) };
        // On failure, dropping `pages` frees every page.
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(ENOMEM)?;
        let huge_parts = pages.parts.iter().filter(|f| !f.is_null()).count();
        // INVARIANT: `ptr` maps the `npages` pages of `pages` in order, `size32` bytes; the
        // count of huge parts was just taken.
        Ok(Self {
            ptr,
            pages,
            huge_parts,
            size: size32,
            name,
        })
    }

    /// The size of the buffer in bytes.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        // Lossless: `usize` has at least 32 bits on every architecture with Rust support.
        self.size as usize
    }

    /// The name of the buffer's node under `/dev`.
    pub(crate) fn name(&self) -> &NodeName {
        &self.name
    }

    /// The number of pages of the buffer.
    pub(crate) fn npages(&self) -> usize {
        self.size() / PAGE_SIZE
    }

    /// The number of whole 2 MiB parts of the buffer.
    pub(crate) fn whole_parts(&self) -> usize {
        self.npages() / PART_PAGES
    }

    /// The number of parts that are one 2 MiB folio.
    pub(crate) fn huge_parts(&self) -> usize {
        self.huge_parts
    }

    /// The page at `index`, if the buffer has one there. It stays allocated while `self` lives.
    pub(crate) fn page(&self, index: usize) -> Option<NonNull<bindings::page>> {
        NonNull::new(self.pages.pages.get(index).copied()?)
    }

    /// The kernel address of page `index` in the buffer's contiguous kernel view (`vmap`), if
    /// the buffer has that page: for an importer's `dma_buf_vmap()`. It stays valid while `self`
    /// lives. Never dereferenced here, and callers must treat it as memory that user space
    /// writes concurrently (no Rust references to it).
    #[cfg(CONFIG_DMA_SHARED_BUFFER)]
    pub(crate) fn kernel_address(&self, index: usize) -> Option<NonNull<u8>> {
        if index >= self.npages() {
            return None;
        }
        // `index * PAGE_SIZE < size`, which fits in `u32` (type invariant), so no overflow, and
        // the result lies inside the `vmap` area.
        NonNull::new(self.ptr.as_ptr().wrapping_add(index * PAGE_SIZE))
    }

    /// The 2 MiB folio of part `part`, if that part is one. It stays allocated while `self`
    /// lives.
    pub(crate) fn huge_folio(&self, part: usize) -> Option<NonNull<bindings::folio>> {
        NonNull::new(self.pages.parts.get(part).copied()?)
    }

    /// The kernel address of byte `start` of a span that `range::io_span` bounded by the size.
    fn at(&self, start: usize) -> *mut c_void {
        // `wrapping_add` so that no `unsafe` is needed; callers pass `start <= size`, so the
        // address is inside the allocation or one past its end.
        self.ptr.as_ptr().wrapping_add(start).cast()
    }

    /// Copies up to `count` bytes from offset `*pos` to the user buffer `buf`, and advances `*pos`
    /// by as many: `read(2)`.
    ///
    /// Returns the number of bytes copied: 0 at or past the end of the buffer, `EFAULT` if the
    /// user buffer faulted before anything was copied, and a short count if it faulted later.
    #[inline(always)]
    pub(crate) fn read_to_user(&self, pos: &mut i64, buf: UserPtr, count: usize) -> Result<usize> {
        let (start, len) = range::io_span(*pos, count, self.size())?;
        // At or past the end, nothing to copy. (A `count` of 0 gives a copy of 0 bytes.)
        if start >= self.size() {
            return Ok(0);
        }
        // The position after the whole copy, set now so that only the count has to be kept
        // across the call (see `short_copy`).
        *pos = advanced(start, len)?;
        // SAFETY:
        // - `start + len <= size` by `io_span`: the source lies inside the allocation, which
        //   `self` keeps alive for the whole call.
        // - `_copy_to_user` checks that the destination is user memory and stops at a fault.
        // - The C copy tolerates concurrent stores to the bytes from user space or other callers
        //   (see the module documentation); no Rust reference to the bytes exists.
        //
        // `_copy_to_user` rather than `copy_to_user` skips `check_object_size()`, which with
        // `CONFIG_HARDENED_USERCOPY` looks the source up among the vmalloc areas to check that
        // the range lies inside one: `io_span` has just checked exactly that against this
        // allocation. The kernel crate's `UserSliceWriter::write` skips it the same way when the
        // bounds are known.
        let left = unsafe { bindings::_copy_to_user(buf.as_mut_ptr(), self.at(start), len) };
        if left != 0 {
            return short_copy(pos, len, left);
        }
        Ok(len)
    }

    /// Copies up to `count` bytes from the user buffer `buf` to offset `*pos`, and advances `*pos`
    /// by as many: `write(2)`.
    ///
    /// Returns the number of bytes stored, with the same rules as [`Buffer::write_from`]. Bytes
    /// of the buffer past those reported as stored are never changed, even when the user buffer
    /// faults half-way: `copy_from_user()` would zero the rest of its destination, which here is
    /// memory every user of the device sees, so the copy is `mydev_copy_from_user()`
    /// (`uaccess.c`), which zeroes nothing.
    #[inline(always)]
    pub(crate) fn write_from_user(
        &self,
        pos: &mut i64,
        buf: UserPtr,
        count: usize,
    ) -> Result<usize> {
        let (start, len) = range::io_span(*pos, count, self.size())?;
        if count == 0 {
            return Ok(0);
        }
        if len == 0 {
            return Err(ENOSPC);
        }
        // The position after the whole copy, set now so that only the count has to be kept
        // across the call (see `short_copy`).
        *pos = advanced(start, len)?;
        // SAFETY:
        // - `start + len <= size` by `io_span`: the destination lies inside the allocation, which
        //   `self` keeps alive for the whole call.
        // - `mydev_copy_from_user` checks that the source is user memory, stops at a fault, and
        //   stores nothing but bytes copied from the source.
        // - The C copy tolerates concurrent accesses to the bytes from user space or other
        //   callers (see the module documentation); no Rust reference to the bytes exists.
        let left = unsafe { mydev_copy_from_user(self.at(start), buf.as_const_ptr(), len) };
        if left != 0 {
            return short_copy(pos, len, left);
        }
        Ok(len)
    }

    /// Copies up to `iov.len()` bytes from offset `*pos` into `iov`, and advances `*pos` by as
    /// many: `readv(2)` and the other `read_iter` callers.
    ///
    /// Returns the number of bytes copied: 0 at or past the end of the buffer, `EFAULT` if the
    /// user buffer faulted before anything was copied, and a short count if it faulted later.
    pub(crate) fn read_to(&self, pos: &mut i64, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let (start, len) = range::io_span(*pos, iov.len(), self.size())?;
        if len == 0 {
            return Ok(0);
        }
        // SAFETY:
        // - `start + len <= size` by `io_span`: the source lies inside the allocation, which
        //   `self` keeps alive for the whole call.
        // - `iov.as_raw()` is a valid destination iterator for the duration of the call.
        // - The C copy tolerates concurrent stores to the bytes from user space or other
        //   callers (see the module documentation); no Rust reference to the bytes exists.
        let done = nonzero(unsafe { bindings::_copy_to_iter(self.at(start), len, iov.as_raw()) })?;
        *pos = advanced(start, done)?;
        Ok(done)
    }

    /// Copies up to `iov.len()` bytes from `iov` into the buffer at offset `*pos`, and advances
    /// `*pos` by as many: `writev(2)` and the other `write_iter` callers.
    ///
    /// Returns the number of bytes stored: `ENOSPC` at or past the end of the buffer (for a
    /// non-empty write), `EFAULT` if the user buffer faulted before anything was copied, and a
    /// short count when the write crosses the end or faults later.
    pub(crate) fn write_from(&self, pos: &mut i64, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let count = iov.len();
        let (start, len) = range::io_span(*pos, count, self.size())?;
        if count == 0 {
            return Ok(0);
        }
        if len == 0 {
            return Err(ENOSPC);
        }
        // SAFETY:
        // - `start + len <= size` by `io_span`: the destination lies inside the allocation, which
        //   `self` keeps alive for the whole call.
        // - `iov.as_raw()` is a valid source iterator for the duration of the call.
        // - The C copy tolerates concurrent accesses to the bytes from user space or other
        //   callers (see the module documentation); no Rust reference to the bytes exists.
        let done =
            nonzero(unsafe { bindings::_copy_from_iter(self.at(start), len, iov.as_raw()) })?;
        *pos = advanced(start, done)?;
        Ok(done)
    }

    /// Sets every byte of the buffer to zero.
    pub(crate) fn clear(&self) {
        // SAFETY: the allocation is `size` bytes long and alive (type invariant). `memset` is the
        // C routine; concurrent accesses from user space or other callers only see some bytes
        // zeroed earlier than others (see the module documentation), and no Rust reference to the
        // bytes exists.
        unsafe { bindings::memset(self.at(0), 0, self.size()) };
    }
}

// The kernel structs behind these pointers contain zero-sized fields, which the lint flags
// although only pointers cross the boundary; the kernel's `bindings` crate allows it the same way.
#[allow(improper_ctypes)]
extern "C" {
    /// `copy_from_user()` without its zero fill on a fault: `uaccess.c`. Returns the number of
    /// bytes not copied.
    fn mydev_copy_from_user(to: *mut c_void, from: *const c_void, n: usize) -> usize;
    /// `folio_alloc()` (`pages.c`): a folio of `2^order` pages with one reference, or null.
    fn mydev_folio_alloc(gfp: bindings::gfp_t, order: u32) -> *mut bindings::folio;
    /// `folio_page()` (`pages.c`): the page at index `n` of `folio`.
    fn mydev_folio_page(folio: *mut bindings::folio, n: usize) -> *mut bindings::page;
    /// `folio_put()` (`pages.c`): drops one reference to `folio`.
    fn mydev_folio_put(folio: *mut bindings::folio);
    /// `put_page()` (`pages.c`): drops one reference to the folio of `page`.
    fn mydev_put_page(page: *mut bindings::page);
    /// `vmap(pages, count, VM_MAP, PAGE_KERNEL)` (`pages.c`): the kernel address, or null.
    fn mydev_vmap(pages: *mut *mut bindings::page, count: u32) -> *mut c_void;
    /// `vunmap()` (`pages.c`).
    fn mydev_vunmap(addr: *const c_void);
}

/// The end of a copy of `len` bytes that left `left > 0` of them uncopied (the user buffer
/// faulted), after the caller set `*pos` past all `len`: moves `*pos` back by `left`, and returns
/// the count copied, or `EFAULT` if that is 0.
///
/// The fast paths set `*pos` before the copy so that only the count has to be kept across the
/// call. `*pos` is the caller's own copy of the position until the file operation returns (the
/// VFS stores it in the file only then), so nobody sees the value in between.
#[inline]
fn short_copy(pos: &mut i64, len: usize, left: usize) -> Result<usize> {
    let left = left.min(len);
    let back = i64::try_from(left).map_err(|_| EOVERFLOW)?;
    *pos = pos.checked_sub(back).ok_or(EOVERFLOW)?;
    nonzero(len - left)
}

/// The file position after `done` bytes transferred from byte `start`.
///
/// Both lie inside the buffer (`start + done <= size <= u32::MAX`), so neither the sum nor the
/// conversion can fail; the compiler sees that and drops both checks.
#[inline]
fn advanced(start: usize, done: usize) -> Result<i64> {
    let end = start.checked_add(done).ok_or(EOVERFLOW)?;
    i64::try_from(end).map_err(|_| EOVERFLOW)
}

/// The result of a non-empty copy that moved `done` bytes: `EFAULT` if none (the user buffer
/// faulted at once), the count otherwise.
#[inline]
fn nonzero(done: usize) -> Result<usize> {
    if done == 0 {
        Err(EFAULT)
    } else {
        Ok(done)
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `ptr` is the `vmap` of the buffer's pages, owned by `self` (type invariant) and
        // unmapped only here, before the `pages` field frees the pages. Mappings that still map
        // pages keep their own references, so no page table is left pointing at freed memory.
        unsafe { mydev_vunmap(self.ptr.as_ptr().cast::<c_void>().cast_const()) };
    }
}
