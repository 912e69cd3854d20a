// SPDX-License-Identifier: GPL-2.0

//! Exporting a range of a buffer as a dma-buf, so that other drivers use its pages in place.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).
//!
//! 7.3 and 7.2 have no Rust abstraction for dma-buf exporters, so this is the module's raw layer
//! for it: a constant `dma_buf_ops` of `extern "C"` functions, built from the bindings, with the
//! inline C it needs (`sg_set_page()`, `dma_unmap_sgtable()`, the syncs, the attachment list) in
//! `dmabuf_glue.c`. What an export means is decided in [`export`] and in `range.rs`.
//!
//! Lifetimes: the dma-buf's private data is a [`KBox`]ed [`Export`], made by [`export`] and freed
//! by `release` when the dma-buf's file goes. It holds an `Arc` of the buffer, so a buffer
//! removed while exported (`live` 0, `rmdir`) lives until the last dma-buf is gone; the dma-buf
//! core also holds a reference to this module (`exp_info.owner`) for each dma-buf, so `rmmod`
//! fails while one exists. A mapping of the dma-buf holds the dma-buf's file, and so the buffer.

use crate::{
    buffer::{
        Buffer,
        PART_PAGES, //
    },
    miscdev::this_module,
    range,
    uapi::MydevExportDmabuf,
    vma,
};
use core::ptr::{
    null_mut,
    NonNull, //
};
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{
        c_int,
        c_uint, //
    },
    fs::{
        file::{
            flags::{
                O_ACCMODE,
                O_CLOEXEC,
                O_RDONLY,
                O_RDWR, //
            },
            FileDescriptorReservation,
        },
        File,
    },
    mm::virt::VmaNew,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        aref::ARef,
        Arc,
        ArcBorrow, //
    },
    transmute::{
        AsBytes,
        FromBytes, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

// `struct page`, `struct device` and `struct dma_buf` have members that bindgen turns into
// field-less structs; they are only passed by pointer here, never read or passed by value.
#[allow(improper_ctypes)]
extern "C" {
    fn mydev_sg_set_page_next(
        sg: *mut bindings::scatterlist,
        page: *mut bindings::page,
        len: c_uint,
    ) -> *mut bindings::scatterlist;
    fn mydev_dma_unmap_sgtable(
        dev: *mut bindings::device,
        sgt: *mut bindings::sg_table,
        dir: bindings::dma_data_direction,
    );
    fn mydev_dmabuf_sync(
        dmabuf: *mut bindings::dma_buf,
        dir: bindings::dma_data_direction,
        for_cpu: bool,
    );
}

/// What one dma-buf exports: pages `first..first + pages` of `buffer`.
///
/// # Invariants
///
/// `pages > 0` and `first + pages <= buffer.npages()`.
struct Export {
    buffer: Arc<Buffer>,
    first: usize,
    pages: usize,
}

// SAFETY: `MydevExportDmabuf` is `repr(C)` of integers only (`u64`, `u64`, `u32`, `i32`: 24 bytes
// without padding), so every bit pattern is a valid value.
unsafe impl FromBytes for MydevExportDmabuf {}
// SAFETY: As above: no padding, so every byte of a value is initialised.
unsafe impl AsBytes for MydevExportDmabuf {}

/// `MYDEV_IOC_EXPORT_DMABUF` on `file`, an open file of `buffer`'s node; `arg` points to a
/// `struct mydev_export_dmabuf`, whose `fd` receives the new dma-buf's descriptor.
pub(crate) fn export(buffer: ArcBorrow<'_, Buffer>, file: &File, arg: usize) -> Result<isize> {
    let size = size_of::<MydevExportDmabuf>();
    let (mut reader, mut writer) = UserSlice::new(UserPtr::from_addr(arg), size).reader_writer();
    let mut args: MydevExportDmabuf = reader.read()?;

    let flags = args.flags;
    if flags & !(O_ACCMODE | O_CLOEXEC) != 0 {
        return Err(EINVAL);
    }
    let mode = flags & O_ACCMODE;
    if mode != O_RDONLY && mode != O_RDWR {
        return Err(EINVAL);
    }
    if mode == O_RDWR && file.flags() & O_ACCMODE == O_RDONLY {
        return Err(EACCES);
    }
    let (first, pages) =
        range::export_range(args.offset, args.size, buffer.npages(), PAGE_SIZE).ok_or(EINVAL)?;
    let bytes = pages.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;

    // INVARIANT: `export_range` checked the range against the buffer.
    let priv_ = KBox::into_raw(KBox::new(
        Export {
            buffer: Arc::from(buffer),
            first,
            pages,
        },
        GFP_KERNEL,
    )?);
    let info = bindings::dma_buf_export_info {
        exp_name: c"mydev".as_char_ptr(),
        owner: this_module(),
        ops: &OPS,
        size: bytes,
        flags: mode as c_int,
        resv: null_mut(),
        priv_: priv_.cast(),
    };
    // SAFETY: `info` is a complete export description whose `ops` and `exp_name` are static;
    // on success the dma-buf owns `priv_` (freed by `release`).
    let dmabuf = match from_err_ptr(unsafe { bindings::dma_buf_export(&info) }) {
        Ok(d) => d,
        Err(e) => {
            // SAFETY: The export failed, so nothing else took `priv_`, made just above.
            drop(unsafe { KBox::from_raw(priv_) });
            return Err(e);
        }
    };
    // SAFETY: `dma_buf_export` made the dma-buf's file, non-null, with the one reference that
    // the dma-buf lives by; it passes to `dmabuf_file` (`File` is a transparent wrapper of
    // `struct file`). Dropping it before it is installed is `dma_buf_put()`, which releases the
    // export.
    let dmabuf_file: ARef<File> =
        unsafe { ARef::from_raw(NonNull::new_unchecked((*dmabuf).file.cast())) };
    // The descriptor is reserved first and installed last, so that a fault while writing the
    // argument back leaves no descriptor that user space never learnt of.
    let fd = FileDescriptorReservation::get_unused_fd_flags(flags & O_CLOEXEC)?;
    args.fd = i32::try_from(fd.reserved_fd()).map_err(|_| EMFILE)?;
    writer.write(&args)?;
    fd.fd_install(dmabuf_file);
    Ok(0)
}

/// The [`Export`] of a dma-buf of this module.
///
/// # Safety
///
/// `dmabuf` must be a live dma-buf made by [`export`] (its `priv` an `Export`), which lives for
/// `'a`.
unsafe fn export_of<'a>(dmabuf: *mut bindings::dma_buf) -> &'a Export {
    // SAFETY: By the function's contract, `priv` is the `Export` that `export` leaked into it,
    // freed only by `release`, after every other operation.
    unsafe { &*(*dmabuf).priv_.cast::<Export>() }
}

/// The dma-buf operations of every export.
const OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
    map_dma_buf: Some(map_dma_buf),
    unmap_dma_buf: Some(unmap_dma_buf),
    release: Some(release),
    begin_cpu_access: Some(begin_cpu_access),
    end_cpu_access: Some(end_cpu_access),
    mmap: Some(mmap),
    vmap: Some(vmap),
    ..pin_init::zeroed()
};

/// `map_dma_buf`: a scatter-gather table of the export's pages, one entry per 2 MiB folio that
/// the range covers whole and one per other page, DMA-mapped for the importing device. The
/// table is kept in the attachment's `priv` for the CPU-access syncs.
///
/// # Safety
///
/// Called by the dma-buf core for an attachment of a dma-buf of this module, with its
/// reservation lock held.
unsafe extern "C" fn map_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The attachment belongs to a live dma-buf of this module.
    let export = unsafe { export_of((*attach).dmabuf) };
    match build_table(export) {
        Ok(sgt) => {
            // SAFETY: `sgt` is a filled table; the attachment's device is valid while attached.
            let ret = unsafe { bindings::dma_map_sgtable((*attach).dev, sgt, dir, 0) };
            if ret != 0 {
                // SAFETY: The table was allocated by `build_table` and is not mapped.
                unsafe { free_table(sgt) };
                return Error::from_errno(ret).to_ptr();
            }
            // SAFETY: The reservation lock is held, which guards the attachment's `priv`.
            unsafe { (*attach).priv_ = sgt.cast() };
            sgt
        }
        Err(e) => e.to_ptr(),
    }
}

/// A new table of the export's pages (see [`map_dma_buf`]), not yet DMA-mapped.
fn build_table(export: &Export) -> Result<*mut bindings::sg_table> {
    let buffer = &export.buffer;
    let huge = |part: usize| buffer.huge_folio(part).is_some();
    let count = range::segments(export.first, export.pages, PART_PAGES, huge, |_, _| {});
    let nents = c_uint::try_from(count).map_err(|_| EINVAL)?;
    let sgt = KBox::into_raw(KBox::new(
        pin_init::zeroed::<bindings::sg_table>(),
        GFP_KERNEL,
    )?);
    // SAFETY: `sgt` is a zeroed table, ours.
    let ret = unsafe { bindings::sg_alloc_table(sgt, nents, bindings::GFP_KERNEL) };
    if ret != 0 {
        // SAFETY: Allocated just above; `sg_alloc_table` freed what it had made.
        drop(unsafe { KBox::from_raw(sgt) });
        return Err(Error::from_errno(ret));
    }
    // SAFETY: `sg_alloc_table` succeeded, so `sgt` holds a chain of `nents` entries from `sgl`.
    let mut sg = unsafe { (*sgt).sgl };
    let mut missing = false;
    range::segments(export.first, export.pages, PART_PAGES, huge, |page, n| {
        let Some(p) = buffer.page(page) else {
            missing = true;
            return;
        };
        // `n` is 1 or `PART_PAGES`: at most 2 MiB, which fits in `c_uint`.
        let len = (n * PAGE_SIZE) as c_uint;
        if !sg.is_null() {
            // SAFETY: `sg` is an entry of the table, of which there is one per segment; the
            // `n` pages from `p` are physically contiguous (one page, or one whole folio).
            sg = unsafe { mydev_sg_set_page_next(sg, p.as_ptr(), len) };
        }
    });
    if missing {
        // SAFETY: The table was made above and is not mapped.
        unsafe { free_table(sgt) };
        return Err(EINVAL);
    }
    Ok(sgt)
}

/// Frees a table made by [`build_table`].
///
/// # Safety
///
/// `sgt` must come from [`build_table`], not be DMA-mapped, and not be used again.
unsafe fn free_table(sgt: *mut bindings::sg_table) {
    // SAFETY: `sg_alloc_table` succeeded on `sgt` (the function's contract).
    unsafe { bindings::sg_free_table(sgt) };
    // SAFETY: `sgt` was leaked from a `KBox` by `build_table`.
    drop(unsafe { KBox::from_raw(sgt) });
}

/// `unmap_dma_buf`: undoes [`map_dma_buf`].
///
/// # Safety
///
/// Called by the dma-buf core with a table that `map_dma_buf` returned for `attach`, with the
/// reservation lock held.
unsafe extern "C" fn unmap_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    sgt: *mut bindings::sg_table,
    dir: bindings::dma_data_direction,
) {
    // SAFETY: The reservation lock is held; the attachment and its device are valid.
    unsafe {
        (*attach).priv_ = null_mut();
        mydev_dma_unmap_sgtable((*attach).dev, sgt, dir);
        free_table(sgt);
    }
}

/// `release`: the dma-buf's file is gone; frees the [`Export`], dropping its buffer reference.
///
/// # Safety
///
/// Called once by the dma-buf core for a dma-buf of this module, after every other operation.
unsafe extern "C" fn release(dmabuf: *mut bindings::dma_buf) {
    // SAFETY: `priv` is the `Export` that `export` leaked, and this is its only release.
    drop(unsafe { KBox::from_raw((*dmabuf).priv_.cast::<Export>()) });
}

/// `begin_cpu_access` (`DMA_BUF_IOCTL_SYNC` start): the attachments' mapped tables are synced
/// for the CPU.
///
/// # Safety
///
/// Called by the dma-buf core for a live dma-buf of this module, without its reservation lock.
unsafe extern "C" fn begin_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: A live dma-buf; the helper takes its reservation lock.
    unsafe { mydev_dmabuf_sync(dmabuf, dir, true) };
    0
}

/// `end_cpu_access`: the tables are synced back for the devices.
///
/// # Safety
///
/// As for [`begin_cpu_access`].
unsafe extern "C" fn end_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: A live dma-buf; the helper takes its reservation lock.
    unsafe { mydev_dmabuf_sync(dmabuf, dir, false) };
    0
}

/// `mmap`: the export's pages, mapped as the device maps them (shared or private, 4 KiB entries
/// or 2 MiB ones where they line up). The dma-buf core has checked that the mapping lies inside
/// the dma-buf; its page offset is moved to the buffer's.
///
/// # Safety
///
/// Called by the dma-buf core in `mmap` of the dma-buf's file, for a new VMA.
unsafe extern "C" fn mmap(
    dmabuf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    // SAFETY: A live dma-buf of this module; its file (which holds it) is the VMA's file.
    let export = unsafe { export_of(dmabuf) };
    // SAFETY: The VMA is being set up by `mmap` and is not yet visible to anyone else.
    let pgoff = unsafe { (*vma).vm_pgoff };
    let Some(moved) = pgoff.checked_add(export.first) else {
        return EINVAL.to_errno();
    };
    // SAFETY: As above.
    unsafe { (*vma).vm_pgoff = moved };
    // SAFETY: `vma` is a VMA being set up in an `mmap` file operation, as `VmaNew` requires.
    let vma = unsafe { VmaNew::from_raw(vma) };
    match vma::mmap(&export.buffer, vma) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// `vmap`: the kernel address of the export's first page in the buffer's contiguous kernel view.
///
/// # Safety
///
/// Called by the dma-buf core for a live dma-buf of this module, with `map` writable.
unsafe extern "C" fn vmap(dmabuf: *mut bindings::dma_buf, map: *mut bindings::iosys_map) -> c_int {
    // SAFETY: A live dma-buf of this module.
    let export = unsafe { export_of(dmabuf) };
    let Some(addr) = export.buffer.kernel_address(export.first) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `map` is valid for writes; system memory, not I/O memory.
    unsafe {
        (*map).__bindgen_anon_1.vaddr = addr.as_ptr().cast();
        (*map).is_iomem = false;
    }
    0
}
