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
//! [`mmap`]). At `mmap` time every page of the range is inserted with `vm_insert_pages()`, 64 at a
//! time, except the 2 MiB ranges that a PMD entry will map (below); the fault handler inserts
//! again any page that leaves the page table later, with `vmf_insert_page_mkwrite()`. Both take
//! their own reference on the page's folio: a page stays alive while any page table maps it,
//! whatever the module does.
//!
//! # 2 MiB entries
//!
//! A range of a shared mapping gets one PMD entry, at its first fault, through [`huge_fault`]
//! with `vmf_insert_folio_pmd()`, when: its address is 2 MiB-aligned, the whole 2 MiB lies in the
//! VMA, the buffer offset there starts a part ([`range::pmd_part`]), and that part is one 2 MiB
//! folio. The VMA is marked `VM_HUGEPAGE`, which is what lets the fault path call `huge_fault`
//! while `/sys/kernel/mm/transparent_hugepage/enabled` is `madvise` (with `always` it is called
//! anyway; with `never`, or after `MADV_NOHUGEPAGE` or `PR_SET_THP_DISABLE`, it is not, and those
//! ranges fault in 4 KiB pages through [`fault`]). Everything else gets 4 KiB entries.
//!
//! The VMA must not stay `VM_MIXEDMAP`, which `vm_insert_pages()` requires: `mm/huge_memory.c`
//! treats a `VM_MIXEDMAP` or `VM_PFNMAP` file VMA as "special huge" (`vma_is_special_huge()`:
//! "we are unable to access the VMA's folios"), and `__split_huge_pmd_locked()` then clears a PMD
//! entry without dropping its folio reference, its rmap count or the process's file RSS counter:
//! every partial `munmap`, `mprotect`, `mremap` or `MADV_DONTNEED` of a 2 MiB entry would leak the
//! folio. Every entry this module installs is a normal, refcounted page (never a special or PFN
//! entry), which is what the core mm expects of a VMA without the flag, so [`mmap`] clears it
//! once the 4 KiB pages are in. Then a split of a PMD entry (`__split_huge_pmd_locked()` on a
//! file VMA) drops the whole entry with its reference and counters, and the next access to any
//! of its pages faults: a 2 MiB range still wholly in the VMA comes back as a PMD entry, any
//! other as 4 KiB entries of the folio's pages. `zap_huge_pmd()` (`munmap`, `MADV_DONTNEED` of
//! the whole entry) drops the reference and counters too; `move_huge_pmd()` (`mremap` of whole
//! entries to an aligned address) moves the entry as it is; `change_huge_pmd()` (`mprotect`)
//! changes its protection in place; `fork` copies no entry of a shared file VMA (the child
//! faults them in).
//!
//! Private mappings keep 4 KiB entries everywhere: copy-on-write then works a page at a time as
//! it always did (a store copies 4 KiB, not 2 MiB), with no PMD to split on the first store.
//!
//! Both fault handlers fill the PMD entry of a 2 MiB range that a PMD entry can map, and which
//! one runs depends on the THP policy when the fault starts; they serialise on the part's folio
//! lock ([`PartLock`]), so that neither meets what the other put there.
//!
//! The 2 MiB folios are compound pages that are not "large rmappable" (`pages.c`): to the core
//! mm's walkers of user mappings (`split_huge_pages` in debugfs, `/proc/kpageflags`,
//! `MADV_COLD`/`MADV_PAGEOUT`, memory failure) they are a driver's large folios, not THPs, and a
//! split of one is refused (`-EBUSY`: it has no `mapping`).
//!
//! # What keeps the VMA special
//!
//! `VM_DONTEXPAND` keeps the VMA in `VM_SPECIAL` after `VM_MIXEDMAP` is cleared (see [`mmap`]).
//! And since the VMA is an ordinary file VMA to NUMA balancing once `VM_MIXEDMAP` is gone, a
//! `get_policy` hook gives it a memory policy without `MPOL_F_MOF`, so that the scanner skips it
//! ([`get_policy`]).

use crate::{
    buffer::{
        Buffer,
        PART_ORDER,
        PART_PAGES, //
    },
    range, //
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    error::to_result,
    mm::virt::{
        flags,
        VmaNew, //
    },
    page::{
        PAGE_SHIFT,
        PAGE_SIZE, //
    },
    prelude::*, //
};

/// Pages per `vm_insert_pages()` call when a mapping is set up (a 512-byte array on the stack).
const INSERT_BATCH: usize = 64;

/// The operations of every mydev VMA: `fault`, and `huge_fault` where the kernel has THP.
const VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
    fault: Some(fault),
    #[cfg(CONFIG_TRANSPARENT_HUGEPAGE)]
    huge_fault: Some(huge_fault),
    #[cfg(CONFIG_NUMA)]
    get_policy: Some(get_policy),
    ..pin_init::zeroed()
};

/// Sets up a new mapping of `buffer`, called from the `mmap` file operation.
///
/// - Shared mappings (`MAP_SHARED`) map the buffer's pages themselves: every store is seen by
///   every other mapping, `read` and process at once. Where the address, the offset and the
///   buffer's allocation allow, 2 MiB ranges are mapped by one PMD entry each, at their first
///   fault (see the module documentation).
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
///   read-only. Private mappings use 4 KiB entries only.
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
    let (start, end) = (vma.start(), vma.end());
    let vma_pages = end.checked_sub(start).ok_or(EINVAL)? >> PAGE_SHIFT;
    if !range::mapping_fits(pgoff, vma_pages, buffer.npages()) {
        return Err(EINVAL);
    }
    // A read-only open keeps `VM_MAYSHARE` but not `VM_SHARED`: still a shared mapping.
    // SAFETY: `vma` is valid and in its `mmap` hook, so its flags are stable.
    let shared = unsafe { mydev_vma_may_share(vma.as_ptr()) };
    let huge = shared && cfg!(CONFIG_TRANSPARENT_HUGEPAGE) && buffer.huge_parts() > 0;

    // `VM_DONTEXPAND` makes a growing `mremap` fail, and it is also what keeps the VMA in
    // `VM_SPECIAL` once `VM_MIXEDMAP` is cleared below: the core mm then keeps out KSM,
    // userfaultfd, `mlock` (it succeeds but locks nothing, as for any special VMA), guard regions
    // (`MADV_GUARD_INSTALL`), khugepaged and `MADV_COLLAPSE` (`EINVAL`), and VMA merging, none of
    // which can work on pages the buffer owns.
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
    // per batch rather than once per page. The 2 MiB ranges that `huge_fault` will map with one
    // PMD entry are left empty: a page table there would keep the PMD entry out. They cost one
    // fault each, against 512 entries written here (see the README's figures). If an insertion
    // fails, the error fails the `mmap` and the core mm tears the VMA down with what was
    // inserted.
    let mut batch = [core::ptr::null_mut::<bindings::page>(); INSERT_BATCH];
    let mut done = 0usize;
    while done < vma_pages {
        let addr = done
            .checked_mul(PAGE_SIZE)
            .and_then(|offset| start.checked_add(offset))
            .ok_or(EINVAL)?;
        if huge && huge_part_at(buffer, addr, start, end, pgoff).is_some() {
            done = done.checked_add(PART_PAGES).ok_or(EINVAL)?;
            continue;
        }
        // Stop each batch at the next 2 MiB boundary, where the next range may be a PMD one.
        let to_boundary = PART_PAGES - ((addr >> PAGE_SHIFT) % PART_PAGES);
        let n = (vma_pages - done).min(INSERT_BATCH).min(to_boundary);
        for (k, slot) in batch[..n].iter_mut().enumerate() {
            let index = pgoff.checked_add(done + k).ok_or(EINVAL)?;
            *slot = buffer.page(index).ok_or(EINVAL)?.as_ptr();
        }
        let mut left = n;
        // SAFETY:
        // - `mixed` is the VMA in its `mmap` hook (mmap lock held for writing), with `VM_MIXEDMAP`
        //   set, as `vm_insert_pages` requires; `addr..addr + n * PAGE_SIZE` lies inside it
        //   (`done + n <= vma_pages`), which the function checks again.
        // - `batch[..n]` holds `n` pages of the buffer (order-0 pages or pages of its 2 MiB
        //   folios, never slab), which outlive the call; each inserted page gets its own
        //   reference to its folio for its page-table entry.
        // - `left` is a valid `unsigned long` for the count in and the count left out.
        to_result(unsafe {
            bindings::vm_insert_pages(mixed.as_ptr(), addr, batch.as_mut_ptr(), &mut left)
        })?;
        done += n;
    }

    // SAFETY: the VMA is in its `mmap` hook, mmap lock held for writing, as
    // `mydev_vma_mod_flags` requires. Clearing `VM_MIXEDMAP` is sound because every entry of this
    // VMA, now and later, is a normal page with its own folio reference, as in any file VMA
    // without the flag; it is needed because with it, splitting a PMD entry would leak the folio
    // (see the module documentation). `VM_HUGEPAGE` only lets the fault path call `huge_fault`.
    unsafe { mydev_vma_mod_flags(raw, if huge { flags::HUGEPAGE } else { 0 }, flags::MIXEDMAP) };
    Ok(())
}

/// The 2 MiB folio that a PMD entry at `haddr` would map in a shared mapping of `start..end`
/// whose first page is buffer page `pgoff`, if one can.
fn huge_part_at(
    buffer: &Buffer,
    haddr: usize,
    start: usize,
    end: usize,
    pgoff: usize,
) -> Option<NonNull<bindings::folio>> {
    let part = range::pmd_part(haddr, start, end, pgoff, PAGE_SIZE, PART_PAGES)?;
    buffer.huge_folio(part)
}

// The kernel structs behind these pointers contain zero-sized fields, which the lint flags
// although only pointers cross the boundary; the kernel's `bindings` crate allows it the same way.
#[allow(improper_ctypes)]
extern "C" {
    /// `vm_flags_mod()` (`pages.c`): sets `set` and clears `clear` in a VMA's flags.
    fn mydev_vma_mod_flags(
        vma: *mut bindings::vm_area_struct,
        set: bindings::vm_flags_t,
        clear: bindings::vm_flags_t,
    );
    /// `vma->vm_flags & VM_MAYSHARE` (`pages.c`): not `flags::MAYSHARE`, which 7.2's bindings
    /// define as `VM_MAYEXEC`.
    fn mydev_vma_may_share(vma: *const bindings::vm_area_struct) -> bool;
    /// `folio_lock()` (`pages.c`).
    fn mydev_folio_lock(folio: *mut bindings::folio);
    /// `folio_unlock()` (`pages.c`).
    fn mydev_folio_unlock(folio: *mut bindings::folio);
    /// A snapshot of a fault's PMD entry (`pages.c`): 0 empty, 1 a page table, 2 a huge entry.
    fn mydev_fault_pmd(vmf: *const bindings::vm_fault) -> core::ffi::c_int;
    /// `vma->vm_policy` (`pages.c`).
    #[cfg(CONFIG_NUMA)]
    fn mydev_vma_policy(vma: *const bindings::vm_area_struct) -> *mut bindings::mempolicy;
    /// `current->mempolicy` (`pages.c`).
    #[cfg(CONFIG_NUMA)]
    fn mydev_task_policy() -> *mut bindings::mempolicy;
    /// `pol->flags & MPOL_F_MOF` (`pages.c`).
    #[cfg(CONFIG_NUMA)]
    fn mydev_policy_mof(pol: *const bindings::mempolicy) -> bool;
    /// A static `MPOL_LOCAL` policy without `MPOL_F_MOF`, never freed (`pages.c`).
    #[cfg(CONFIG_NUMA)]
    fn mydev_local_policy() -> *mut bindings::mempolicy;
}

/// What a fault handler needs to know of the faulting VMA.
struct Faulting<'a> {
    buffer: &'a Buffer,
    /// The address of the fault.
    address: usize,
    start: usize,
    end: usize,
    /// The VMA's `vm_pgoff`: the buffer page at `start`.
    pgoff: usize,
    /// A shared mapping (`VM_MAYSHARE`), also of a read-only open.
    shared: bool,
}

impl Faulting<'_> {
    /// Reads the faulting VMA of `vmf`.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in a VMA set up by [`mmap`], for which the caller holds the
    /// mmap lock or the VMA's read lock for as long as the result lives.
    unsafe fn of(vmf: *const bindings::vm_fault) -> Self {
        // SAFETY: `vmf` is valid for the duration of the call (this function's safety
        // requirement).
        let (vma, address) =
            unsafe { ((*vmf).__bindgen_anon_1.vma, (*vmf).__bindgen_anon_1.address) };
        // SAFETY: `vma` is the faulting VMA, valid and locked while the result lives, so its
        // bounds, offset and flags are stable; `mmap` stored a pointer to a `Buffer` in
        // `vm_private_data` before the VMA became visible, and never changes it. The VMA keeps the
        // file, and so the buffer, alive.
        unsafe {
            Self {
                buffer: &*(*vma).vm_private_data.cast::<Buffer>(),
                address,
                start: (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_start,
                end: (*vma).__bindgen_anon_1.__bindgen_anon_1.vm_end,
                pgoff: (*vma).vm_pgoff,
                shared: mydev_vma_may_share(vma),
            }
        }
    }

    /// The 2 MiB folio that a PMD entry could map at the fault's 2 MiB range, if one can: only
    /// in shared mappings (private ones stay at 4 KiB, see the module documentation).
    fn huge_part(&self) -> Option<NonNull<bindings::folio>> {
        if !self.shared {
            return None;
        }
        let haddr = self.address & !(PART_PAGES * PAGE_SIZE - 1);
        huge_part_at(self.buffer, haddr, self.start, self.end, self.pgoff)
    }
}

/// What the PMD entry of a fault holds, read under the part's lock (see [`PartLock`]).
#[derive(PartialEq, Eq)]
enum Pmd {
    /// Nothing: either handler may fill it.
    Empty,
    /// A page table, made by [`fault`]: 4 KiB entries map the range.
    Table,
    /// A huge entry, made by [`huge_fault`] (present, or made `PROT_NONE` by the core mm).
    Huge,
}

impl Pmd {
    /// Reads the PMD entry of `vmf`.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault being handled.
    unsafe fn of(vmf: *const bindings::vm_fault) -> Self {
        // SAFETY: `vmf` is a valid fault being handled, whose `pmd` points to the entry (this
        // function's safety requirement).
        match unsafe { mydev_fault_pmd(vmf) } {
            0 => Self::Empty,
            1 => Self::Table,
            _ => Self::Huge,
        }
    }
}

/// The lock of one 2 MiB part while a fault handler decides between a PMD entry and a page
/// table for it: the part's folio lock, held from reading the PMD entry to filling it.
///
/// Whether a fault reaches [`huge_fault`] or [`fault`] depends on the THP policy when the fault
/// starts, which any thread can change (`prctl(PR_SET_THP_DISABLE)`, `MADV_NOHUGEPAGE`,
/// sysfs). Two threads faulting the same 2 MiB range can therefore take both paths at once: then
/// `fault` would find a PMD entry where it wants a page table (`get_locked_pte()` fails, and the
/// fault would end in `VM_FAULT_OOM`), or `huge_fault` a page table where it wants a PMD entry
/// (`insert_pmd()` warns for a write fault). Within a VMA only these two handlers fill the PMD
/// entry of a part that a PMD entry can map (`mmap` leaves those ranges empty, and the core mm
/// only ever empties them: zap, split, page-table reclaim), so holding the part's lock from the
/// check to the insertion makes the check exact. The page cache does the same with the folio
/// lock that `filemap_fault()` holds across `finish_fault()`, and the lock order is the core
/// mm's: mmap or VMA lock, then the folio lock, then the page-table lock.
///
/// # Invariants
///
/// `folio` is a 2 MiB folio of the buffer, locked by this value and unlocked by its `Drop`.
struct PartLock(NonNull<bindings::folio>);

impl PartLock {
    /// Locks `folio`, sleeping until it is free.
    ///
    /// # Safety
    ///
    /// `folio` must be a 2 MiB folio of a buffer that outlives the returned value, and the
    /// caller must not hold its lock.
    unsafe fn lock(folio: NonNull<bindings::folio>) -> Self {
        // SAFETY: the folio is alive and not locked by this thread (this function's safety
        // requirement); a fault handler may sleep.
        unsafe { mydev_folio_lock(folio.as_ptr()) };
        // INVARIANT: the folio was just locked.
        Self(folio)
    }
}

impl Drop for PartLock {
    fn drop(&mut self) {
        // SAFETY: the folio is alive and locked by this value (type invariant).
        unsafe { mydev_folio_unlock(self.0.as_ptr()) };
    }
}

/// The huge-page fault handler of mydev VMAs: maps a 2 MiB part with one PMD entry, where it
/// can (see the module documentation), and otherwise lets the core mm fall back to [`fault`].
///
/// The core mm calls it for a fault on an empty PMD entry of a VMA that THP allows
/// (`thp_vma_allowable_order()`: our `VM_HUGEPAGE`, the sysfs setting), and for a write fault on
/// a read-only PMD entry of a shared VMA (`wp_huge_pmd()`), which this handler makes writable
/// when the VMA is. If a racing [`fault`] has put a page table there meanwhile, it falls back
/// and the 4 KiB entries serve the access (see [`PartLock`]).
///
/// # Safety
///
/// The core mm calls this with a valid `vmf` for a fault in a VMA set up by [`mmap`], holding the
/// mmap lock or the VMA's read lock for the duration of the call.
#[cfg(CONFIG_TRANSPARENT_HUGEPAGE)]
unsafe extern "C" fn huge_fault(
    vmf: *mut bindings::vm_fault,
    order: core::ffi::c_uint,
) -> bindings::vm_fault_t {
    const FALLBACK: bindings::vm_fault_t =
        bindings::vm_fault_reason_VM_FAULT_FALLBACK as bindings::vm_fault_t;
    if order != PART_ORDER {
        return FALLBACK;
    }
    // SAFETY: `vmf` is a valid fault in a VMA set up by `mmap`, locked for this call.
    let faulting = unsafe { Faulting::of(vmf) };
    let Some(folio) = faulting.huge_part() else {
        return FALLBACK;
    };
    // SAFETY: `vmf` is valid (see above).
    let write = unsafe { (*vmf).flags } & bindings::fault_flag_FAULT_FLAG_WRITE != 0;
    // SAFETY: `folio` is a 2 MiB folio of the buffer, which the VMA keeps alive for this call;
    // this thread holds no folio lock.
    let _part = unsafe { PartLock::lock(folio) };
    // SAFETY: `vmf` is a valid fault being handled.
    if unsafe { Pmd::of(vmf) } == Pmd::Table {
        return FALLBACK;
    }
    // SAFETY:
    // - `vmf` is valid (see above), for a fault at an address of the 2 MiB range that
    //   `huge_part` checked to lie inside the VMA.
    // - `folio` is a folio of order `PMD_ORDER` owned by the buffer, not anonymous and not in any
    //   page cache; `vmf_insert_folio_pmd` takes its own reference and rmap count for the entry
    //   (dropped when the entry is zapped or split: the VMA is not `VM_MIXEDMAP`).
    // - The PMD entry is empty or this folio's huge entry, and stays so until the insertion has
    //   taken the page-table lock: only this handler and `fault` fill it, both under the part's
    //   lock (`PartLock`). So `insert_pmd()` either fills it or, for a write fault, makes this
    //   folio's entry writable; it never meets a page table.
    // - `write` is the fault's own: the VMA is shared, so the entry takes the VMA's protection,
    //   and a write fault on a read-only entry of a writable VMA makes it writable.
    unsafe { bindings::vmf_insert_folio_pmd(vmf, folio.as_ptr(), write) }
}

/// The page-fault handler of mydev VMAs: inserts the buffer page that backs the faulting address.
///
/// In a 2 MiB range that a PMD entry can map, a racing [`huge_fault`] may have mapped the whole
/// range meanwhile: then the access is retried and finds the PMD entry (`VM_FAULT_NOPAGE`, as
/// the core mm's `finish_fault()` does when it finds no page table), instead of failing to put
/// a page table where the PMD entry is (see [`PartLock`]).
///
/// # Safety
///
/// The core mm calls this with a valid `vmf` for a fault in a VMA set up by [`mmap`], holding the
/// mmap lock or the VMA's read lock for the duration of the call.
unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    const NOPAGE: bindings::vm_fault_t =
        bindings::vm_fault_reason_VM_FAULT_NOPAGE as bindings::vm_fault_t;
    // SAFETY: `vmf` is a valid fault in a VMA set up by `mmap`, locked for this call.
    let faulting = unsafe { Faulting::of(vmf) };
    // SAFETY: `vmf` is valid for the duration of the call (this function's safety requirement).
    let pgoff = unsafe { (*vmf).__bindgen_anon_1.pgoff };

    // `pgoff` is the page offset in the file (the VMA's `vm_pgoff` plus the page's index in the
    // VMA): the index of the buffer page, if the buffer has one there.
    let page = match faulting.buffer.page(pgoff) {
        Some(page) => page,
        None => return bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t,
    };
    let _part = match faulting.huge_part() {
        Some(folio) => {
            // SAFETY: `folio` is a 2 MiB folio of the buffer, which the VMA keeps alive for this
            // call; this thread holds no folio lock.
            let part = unsafe { PartLock::lock(folio) };
            // SAFETY: `vmf` is a valid fault being handled.
            if unsafe { Pmd::of(vmf) } == Pmd::Huge {
                return NOPAGE;
            }
            Some(part)
        }
        None => None,
    };
    // SAFETY: `vmf` is valid (see above), and `page` is a page of the buffer: an order-0 page or
    // a page of one of its 2 MiB folios (then mapped alone, e.g. after a PMD entry was split);
    // `vmf_insert_page_mkwrite` takes its own reference to the folio for the entry. `false`
    // inserts the entry with the VMA's own protection and keeps the core mm's write-fault
    // handling: in a private mapping the entry is read-only, so a store (even the one that
    // caused this fault) copies the page instead of writing the buffer. In a range a PMD entry
    // can map, the part's lock keeps `huge_fault` from filling the PMD entry meanwhile.
    unsafe { bindings::vmf_insert_page_mkwrite(vmf, page.as_ptr(), false) }
}

/// The memory policy of mydev VMAs: the one `mbind()` gave the mapping, else the task's
/// (`set_mempolicy()`), else `MPOL_LOCAL`; never one with `MPOL_F_MOF`.
///
/// Without this hook the task's default policy applies, which has `MPOL_F_MOF`, and NUMA
/// balancing (`task_numa_work()`, which skipped the VMA only while it was `VM_MIXEDMAP`) would
/// make writable mappings of the buffer `PROT_NONE` every scan period to sample accesses, then
/// fail to migrate every page it sampled: the buffer's pages are not on the LRU. A policy
/// without `MPOL_F_MOF` makes `vma_policy_mof()` false, and the scanner skips the VMA. The policy
/// also places the anonymous copies of a private mapping, which follow the same order as
/// before (the mapping's, the task's) except that a policy asking for migrate-on-fault gives
/// way to `MPOL_LOCAL`, as the kernel's own default policy is.
///
/// # Safety
///
/// The core mm calls this with a valid VMA set up by [`mmap`], holding the mmap lock or the
/// VMA's lock, from the task that uses the policy.
#[cfg(CONFIG_NUMA)]
unsafe extern "C" fn get_policy(
    vma: *mut bindings::vm_area_struct,
    _addr: usize,
    _ilx: *mut usize,
) -> *mut bindings::mempolicy {
    // SAFETY: `vma` is valid and locked (this function's safety requirement); the task's policy
    // is read from the current task, as `get_task_policy()` does.
    let own = unsafe { [mydev_vma_policy(vma), mydev_task_policy()] };
    for policy in own {
        // SAFETY: a non-null policy of the VMA or of the current task is alive for the caller's
        // use (the mmap lock or the task keep it), and reading its flags is enough.
        if !policy.is_null() && !unsafe { mydev_policy_mof(policy) } {
            // Neither is a shared policy (`MPOL_F_SHARED`), so no reference is taken for the
            // caller (`vm_operations_struct.get_policy`'s contract).
            return policy;
        }
    }
    // SAFETY: the static policy lives forever and is never freed.
    unsafe { mydev_local_policy() }
}
