// SPDX-License-Identifier: GPL-2.0

//! Mapping the buffer into user space: the `mmap` checks and the page-fault handler.
//!
//! 7.3's Rust VMA abstraction (`kernel::mm::virt`) covers the flags, but has no getter for
//! `vm_pgoff` and no way to install `vm_operations_struct`; without a fault handler a page that
//! leaves a mapping (`madvise(MADV_DONTNEED)`, page-table reclaim) would raise `SIGBUS` when
//! touched again; nor does it wrap `vm_insert_pages()`. This file is the only place that reaches
//! past the abstraction, and each raw access says why it is sound.
//!
//! Shared and private mappings are set up the same way; the core mm makes the difference (see
//! [`mmap`]). Every page of the range is inserted at `mmap` time with `vm_insert_pages()`, 64 at a time, and
//! the fault handler inserts again any page that leaves the page table later, with
//! `vmf_insert_page_mkwrite()`. Both take their own reference on the page: a page stays alive
//! while any page table maps it, whatever the module does.

use crate::{
    buffer::Buffer,
    range, //
};
use kernel::{
    bindings,
    error::to_result,
    mm::virt::VmaNew,
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*, //
};

/// Pages per `vm_insert_pages()` call when a mapping is set up (a 512-byte array on the stack).
const INSERT_BATCH: usize = 64;

/// The operations of every mydev VMA: only `fault`.
const VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
    fault: Some(fault),
    ..pin_init::zeroed()
};

/// Sets up a new mapping of `buffer`, called from the `mmap` file operation.
///
/// - Shared mappings (`MAP_SHARED`) map the buffer's pages themselves: every store is seen by
///   every other mapping, `read` and process at once.
/// - Private mappings (`MAP_PRIVATE`) are copy-on-write, as for a regular file. The same pages
///   are inserted, but the core mm makes the page-table entries of a private mapping read-only
///   (`vm_get_page_prot()` without `VM_SHARED`), so the first store to a page faults and
///   `wp_page_copy()` gives the process its own anonymous copy; that page then no longer follows
///   the buffer. Pages not yet copied show the buffer's current bytes. No store through a
///   private mapping reaches the buffer: not the first store to a page (a write fault on a
///   missing entry inserts the page read-only through [`fault`], and the retried store copies
///   it), not after `MADV_DONTNEED` (the copy is dropped and the page comes back read-only), and
///   not through `mprotect`, which never makes a private entry of a page that is not anonymous
///   writable. As for files, a private mapping may be writable when the file was opened
///   read-only.
/// - Executable mappings are refused with `EPERM`, and `VM_MAYEXEC` is cleared so that
///   `mprotect(PROT_EXEC)` fails later (W^X: anyone who can open the device can write it).
/// - The range must lie inside the buffer (`EINVAL` otherwise), compared in page units.
/// - `VM_DONTEXPAND` makes a growing `mremap` fail.
///
/// The file keeps `buffer` alive (the file's private data holds an `Arc` of it), and the VMA holds a
/// reference to the file for its whole life, so the pointer stored in `vm_private_data` stays
/// valid for as long as `fault` can be called on this VMA.
pub(crate) fn mmap(buffer: &Buffer, vma: &VmaNew) -> Result {
    if vma.executable() {
        return Err(EPERM);
    }
    vma.try_clear_mayexec()?;

    // SAFETY: `vma` is undergoing initial setup in the `mmap` hook, so it is valid and its
    // `vm_pgoff` is not being changed concurrently; reading an integer field is enough.
    let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
    let vma_pages = vma.end().checked_sub(vma.start()).ok_or(EINVAL)? >> PAGE_SHIFT;
    if !range::mapping_fits(pgoff, vma_pages, buffer.npages()) {
        return Err(EINVAL);
    }

    vma.set_dontexpand();
    let mixed = vma.set_mixedmap();

    let raw = vma.as_ptr();
    // SAFETY: `vma` is undergoing initial setup in the `mmap` hook: nothing else reads or writes
    // these two fields yet. `VM_OPS` is a constant promoted to a `'static`, and the buffer pointer
    // outlives the VMA as explained above.
    unsafe {
        (*raw).vm_ops = &VM_OPS;
        (*raw).vm_private_data = core::ptr::from_ref(buffer).cast_mut().cast();
    }

    // Map every page now, as `remap_vmalloc_range()` would: one fault per page costs far more
    // (a 64 MiB mapping touched once took about 3 times as long as the C reference design). The
    // fault handler still brings back any page that later leaves the page table. Pages go in
    // batches through `vm_insert_pages()`, which walks to the page table and takes its lock once
    // per batch rather than once per page. If an insertion fails, the error fails the `mmap` and
    // the core mm tears the VMA down with what was inserted.
    let mut batch = [core::ptr::null_mut::<bindings::page>(); INSERT_BATCH];
    let mut done = 0usize;
    while done < vma_pages {
        let n = (vma_pages - done).min(INSERT_BATCH);
        for (k, slot) in batch[..n].iter_mut().enumerate() {
            let index = pgoff.checked_add(done + k).ok_or(EINVAL)?;
            *slot = buffer.page(index).ok_or(EINVAL)?.as_ptr();
        }
        let addr = done
            .checked_mul(PAGE_SIZE)
            .and_then(|offset| vma.start().checked_add(offset))
            .ok_or(EINVAL)?;
        let mut left = n;
        // SAFETY:
        // - `mixed` is the VMA in its `mmap` hook (mmap lock held for writing), with `VM_MIXEDMAP`
        //   set, as `vm_insert_pages` requires; `addr..addr + n * PAGE_SIZE` lies inside it
        //   (`done + n <= vma_pages`), which the function checks again.
        // - `batch[..n]` holds `n` order-0 pages of the buffer (vmalloc pages, never slab), which
        //   outlive the call; each inserted page gets its own reference for its page-table entry.
        // - `left` is a valid `unsigned long` for the count in and the count left out.
        to_result(unsafe {
            bindings::vm_insert_pages(mixed.as_ptr(), addr, batch.as_mut_ptr(), &mut left)
        })?;
        done += n;
    }
    Ok(())
}

/// The page-fault handler of mydev VMAs: inserts the buffer page that backs the faulting address.
///
/// # Safety
///
/// The core mm calls this with a valid `vmf` for a fault in a VMA set up by [`mmap`], holding the
/// mmap lock or the VMA's read lock for the duration of the call.
unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: `vmf` is valid for the duration of the call (this function's safety requirement).
    let (vma, pgoff) = unsafe { ((*vmf).__bindgen_anon_1.vma, (*vmf).__bindgen_anon_1.pgoff) };
    // SAFETY: `vma` is the faulting VMA, valid and locked for the call; `mmap` stored a pointer to
    // a `Buffer` in `vm_private_data` before the VMA became visible, and never changes it. The
    // VMA keeps the file, and so the buffer, alive.
    let buffer = unsafe { &*(*vma).vm_private_data.cast::<Buffer>() };

    // `pgoff` is the page offset in the file (the VMA's `vm_pgoff` plus the page's index in the
    // VMA): the index of the buffer page, if the buffer has one there.
    let page = match buffer.page(pgoff) {
        Some(page) => page,
        None => return bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t,
    };
    // SAFETY: `vmf` is valid (see above), and `page` is an order-0 page owned by the buffer;
    // `vmf_insert_page_mkwrite` takes its own reference for the page-table entry. `false`
    // inserts the entry with the VMA's own protection and keeps the core mm's write-fault
    // handling: in a private mapping the entry is read-only, so a store (even the one that
    // caused this fault) copies the page instead of writing the buffer.
    unsafe { bindings::vmf_insert_page_mkwrite(vmf, page.as_ptr(), false) }
}
