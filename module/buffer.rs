// SPDX-License-Identifier: GPL-2.0

//! The shared buffer: zeroed memory owned by the module, and every access to its bytes.
//!
//! # Why a vmalloc area
//!
//! The buffer is one `vmalloc` allocation: order-0 pages, which `vm_insert_page()` accepts (unlike
//! kmalloc memory), mapped at consecutive kernel addresses. The contiguous kernel view lets a
//! `read` or `write` of any length be a single C copy (`_copy_to_iter`/`_copy_from_iter`), as the
//! classic C design's `copy_to_user` on a `vmalloc_user()` buffer is. A first version kept a
//! vector of separately allocated pages and copied one page per call (`copy_page_to_iter`): in
//! the benchmark (`cargo xtask bench`) 64 KiB and 1 MiB reads and writes ran at 0.85–0.92 times
//! the C design's speed; with one copy per call they run at 0.96–1.01.
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

use crate::range;
use core::{
    alloc::Layout,
    ptr::NonNull, //
};
use kernel::{
    alloc::{
        allocator::Vmalloc,
        flags::{
            __GFP_NOWARN,
            __GFP_ZERO,
            GFP_KERNEL, //
        },
        Allocator,
        NumaNode, //
    },
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::{
        BorrowedPage,
        PAGE_SIZE, //
    },
    prelude::*,
    uaccess::UserPtr, //
};

/// The device's memory: one zeroed `vmalloc` allocation, freed when the last user is gone.
///
/// # Invariants
///
/// - `ptr` is the start of a live allocation made by [`Vmalloc`] with `layout`, owned by this
///   value and freed only by its `Drop`.
/// - `layout.size()` is a positive multiple of `PAGE_SIZE`, and equal to `size`.
/// - No Rust reference to the bytes of the allocation ever exists.
pub(crate) struct Buffer {
    ptr: NonNull<u8>,
    layout: Layout,
    /// The size as a `u32` (the `size` parameter is at most 1 GiB): with the bound in the type,
    /// the compiler sees that no offset inside the buffer can overflow an `i64` or `isize`, and
    /// leaves those checks out of `read` and `write`.
    size: u32,
}

// SAFETY: `Buffer` owns its allocation (no thread affinity), and every access to the bytes goes
// through C routines that tolerate concurrent access (see the module documentation), so the
// value can move to and be shared between threads.
unsafe impl Send for Buffer {}
// SAFETY: See `Send`: `&Buffer` only gives the C copies and page lookups, which are safe to run
// concurrently from several threads.
unsafe impl Sync for Buffer {}

impl Buffer {
    /// Allocates `npages` zeroed pages.
    ///
    /// Fails with `ENOMEM` when the memory is not there. Asks for no more than the memory the
    /// kernel reports as available (`MemAvailable`), so that a large `size` on a small machine
    /// fails the load with `ENOMEM` instead of waking the OOM killer: 7.3's Rust `Flags` has no
    /// `__GFP_RETRY_MAYFAIL`. Memory can still run short between the check and the allocation;
    /// then the allocator's usual rules apply, and `vmalloc` frees what it got on failure.
    pub(crate) fn new(npages: usize) -> Result<Self> {
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
        let layout = Layout::from_size_align(size, PAGE_SIZE).map_err(|_| EINVAL)?;
        let mem = Vmalloc::alloc(
            layout,
            GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN,
            NumaNode::NO_NODE,
        )?;
        // INVARIANT: a fresh zeroed allocation of `npages` > 0 pages made with `layout` (of size
        // `size32`), owned from here on; only its address is kept, as a raw pointer.
        Ok(Self {
            ptr: mem.cast(),
            layout,
            size: size32,
        })
    }

    /// The size of the buffer in bytes.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        // Lossless: `usize` has at least 32 bits on every architecture with Rust support.
        self.size as usize
    }

    /// The number of pages of the buffer.
    pub(crate) fn npages(&self) -> usize {
        self.size() / PAGE_SIZE
    }

    /// The page at `index`, if the buffer has one there.
    pub(crate) fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        let offset = index.checked_mul(PAGE_SIZE).filter(|&o| o < self.size())?;
        // SAFETY: `offset < size`, so the address is inside the allocation (type invariant).
        let addr = unsafe { self.ptr.add(offset) };
        // SAFETY: `addr` points into a live `Vmalloc` allocation (type invariant), which lives as
        // long as `self`, and so for the whole lifetime of the returned page.
        Some(unsafe { Vmalloc::to_page(addr) })
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

extern "C" {
    /// `copy_from_user()` without its zero fill on a fault: `uaccess.c`. Returns the number of
    /// bytes not copied.
    fn mydev_copy_from_user(to: *mut c_void, from: *const c_void, n: usize) -> usize;
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
        // SAFETY: `ptr` is a live `Vmalloc` allocation made with `layout`, owned by `self` (type
        // invariant) and freed only here. Mappings that still hold pages keep their own page
        // references, so no page table is left pointing at freed memory.
        unsafe { Vmalloc::free(self.ptr, self.layout) };
    }
}
