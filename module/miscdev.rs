// SPDX-License-Identifier: GPL-2.0

//! A misc device with the file operations that 7.3's `kernel::miscdevice` leaves out: `llseek`,
//! and `read`/`write` on a user pointer next to `read_iter`/`write_iter`.
//!
//! C headers: [`include/linux/miscdevice.h`](srctree/include/linux/miscdevice.h),
//! [`include/linux/fs.h`](srctree/include/linux/fs.h).
//!
//! This is `rust/kernel/miscdevice.rs` of Linux 7.3 reduced to the hooks mydev uses, plus five:
//!
//! - [`MiscDevice::llseek`]. Without an `llseek` in `file_operations`, `do_dentry_open()` clears
//!   `FMODE_LSEEK` and every `lseek` on the file fails with `ESPIPE`, so `dd seek=`, `tail -c` and
//!   any seek-then-read program fail on a device whose bytes have fixed offsets. The hook gets
//!   the current position and a typed [`Whence`], and returns the new position, which this file
//!   stores; a device with an `llseek` also gets `FMODE_ATOMIC_POS`, so `read`, `write` and
//!   `lseek` on a file shared between threads or processes update the position one at a time
//!   (POSIX.1-2008 XSI 2.9.7), as for a regular file.
//! - [`MiscDevice::read`] and [`MiscDevice::write`]: the `.read`/`.write` file operations, which
//!   the VFS prefers to `read_iter`/`write_iter` for `read(2)`, `write(2)`, `pread(2)` and
//!   `pwrite(2)`. They take the user buffer as a [`UserPtr`] and a length, as the C hooks do,
//!   and skip the kiocb and `iov_iter` set-up of the `_iter` path (`init_sync_kiocb`,
//!   `new_sync_read`, the iterator walk), which costs more than the copy itself for small
//!   transfers. Devices keep `read_iter`/`write_iter` for `readv`, `writev`, `splice` and
//!   io_uring.
//! - `owner` is set from this module's `struct module` (`THIS_MODULE`), so that no file operation
//!   can run after the module is gone: the VFS takes a reference on the owner for every open
//!   file, and a mapping holds its file. 7.3's abstraction sets it too, 7.2's does not (there
//!   `rmmod` succeeded while the device was mapped); `__this_module` builds on both.
//! - `splice_read`/`splice_write` (`copy_splice_read()`, `iter_file_splice_write()`) for a
//!   device with `read_iter`/`write_iter`, so that `sendfile(2)` and `splice(2)` work on it; 7.3's
//!   abstraction sets neither.
//! - [`MiscDevice::PMD_ALIGNED_MAPPINGS`]: `get_unmapped_area` set to `thp_get_unmapped_area()`,
//!   so that a mapping of 2 MiB or more lands on a 2 MiB-aligned address and a device that maps
//!   2 MiB folios can map them with PMD entries without the caller choosing the address.
//!
//! The rest follows the 7.3 abstraction: a [`#[vtable]`](macro@kernel::prelude::vtable) trait, a
//! pinned [`MiscDeviceRegistration`], and a `file_operations` table built at compile time from
//! the trait's `HAS_*` constants, with only the hooks the device implements.

use core::marker::PhantomData;
use kernel::{
    bindings,
    error::{
        to_result,
        VTABLE_DEFAULT_ERROR, //
    },
    fs::{
        file::Offset,
        File,
        Kiocb,
        LocalFile, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    mm::virt::VmaNew,
    prelude::*,
    seq_file::SeqFile,
    types::{
        ForeignOwnable,
        Opaque, //
    },
    uaccess::UserPtr,
};

// `struct module` has a member that bindgen turns into a field-less struct; it is only ever used
// through its address here, never read or passed by value.
#[allow(improper_ctypes)]
extern "C" {
    /// This module's `struct module`, which the module loader fills in: `THIS_MODULE` in C.
    static __this_module: Opaque<bindings::module>;
}

/// `THIS_MODULE`: the owner that the tables the kernel calls back through name, so that the
/// module stays loaded while they are in use (these file operations, the configfs item types of
/// `configfs.rs`, the dma-buf exports of `dmabuf.rs`). Only the address is taken.
pub(crate) const fn this_module() -> *mut bindings::module {
    (&raw const __this_module).cast_mut().cast()
}

/// `FMODE_ATOMIC_POS` of `include/linux/fs.h` (`(__force fmode_t)(1 << 15)` since Linux 3.14),
/// which bindgen cannot evaluate because of the cast.
const FMODE_ATOMIC_POS: bindings::fmode_t = 1 << 15;

/// Options for creating a misc device.
#[derive(Copy, Clone)]
pub(crate) struct MiscDeviceOptions<'a> {
    /// The name of the device node, under `/dev`. `misc_register()` keeps the pointer (for
    /// `/proc/misc`), so it must outlive the registration.
    pub(crate) name: &'a CStr,
}

impl MiscDeviceOptions<'_> {
    /// Creates a raw `struct miscdevice` ready for registration.
    const fn into_raw<T: MiscDevice>(self) -> bindings::miscdevice {
        let mut result: bindings::miscdevice = pin_init::zeroed();
        result.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
        result.name = kernel::str::as_char_ptr_in_const_context(self.name);
        result.fops = &MiscdeviceVTable::<T>::VTABLE;
        result
    }
}

/// A registration of a misc device.
///
/// # Invariants
///
/// - `inner` holds a `struct miscdevice`, made by [`MiscDeviceOptions::into_raw`], that is
///   registered with `misc_register()` for the whole life of the value, and pinned.
/// - It is deregistered exactly once, by `misc_deregister()` in [`PinnedDrop`].
#[repr(transparent)]
#[pin_data(PinnedDrop)]
pub(crate) struct MiscDeviceRegistration<T> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister()` may be called on another thread than `misc_register()`.
unsafe impl<T> Send for MiscDeviceRegistration<T> {}
// SAFETY: The type has no `&self` methods that touch the registration.
unsafe impl<T> Sync for MiscDeviceRegistration<T> {}

impl<T: MiscDevice> MiscDeviceRegistration<T> {
    /// Registers a misc device; its node appears before this returns.
    ///
    /// Unlike 7.3's abstraction, which takes a `&'static` name, the name may be made at run time
    /// (the nodes of configfs buffers), so keeping it alive is the caller's duty.
    ///
    /// # Safety
    ///
    /// `opts.name` must stay valid and unchanged until the registration is dropped.
    pub(crate) unsafe fn register(opts: MiscDeviceOptions<'_>) -> impl PinInit<Self, Error> {
        let raw = opts.into_raw::<T>();
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                // SAFETY: The initializer can write to the provided `slot`.
                unsafe { slot.write(raw) };

                // SAFETY: `slot` holds the options just written. It stays pinned until the value
                // is dropped, and `PinnedDrop` deregisters it first; the name outlives it (the
                // caller's promise).
                // INVARIANT: on `Ok(())`, `slot` holds a registered misc device.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }
}

#[pinned_drop]
impl<T> PinnedDrop for MiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The device is registered (type invariant), and this is the only deregistration.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The origin of an `lseek`: the `whence` argument of `lseek(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Whence {
    /// `SEEK_SET`: from the start of the file.
    Set,
    /// `SEEK_CUR`: from the current position.
    Cur,
    /// `SEEK_END`: from the end of the file.
    End,
    /// `SEEK_DATA`: the next byte of data at or after the offset.
    Data,
    /// `SEEK_HOLE`: the next hole at or after the offset (the end of a file without holes).
    Hole,
}

impl Whence {
    /// The origin that `whence` names, if it names one.
    pub(crate) fn from_raw(whence: c_int) -> Option<Self> {
        match u32::try_from(whence).ok()? {
            bindings::SEEK_SET => Some(Self::Set),
            bindings::SEEK_CUR => Some(Self::Cur),
            bindings::SEEK_END => Some(Self::End),
            bindings::SEEK_DATA => Some(Self::Data),
            bindings::SEEK_HOLE => Some(Self::Hole),
            _ => None,
        }
    }
}

/// The file operations of a misc device: implemented by the type that a device's open files hold.
///
/// Hooks that take a [`LocalFile`] run inside the VFS's `fdget_pos()` region of the calling
/// thread (`read`, `write`, `lseek`), the others take a [`File`].
#[vtable]
pub(crate) trait MiscDevice: Sized {
    /// What each open file holds as its private data.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Called when the device is opened; the returned pointer becomes the file's private data.
    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called when the last reference to an open file is gone.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Moves the file position: `lseek(2)`.
    ///
    /// `pos` is the current position. Returns the new position, which the caller stores as the
    /// file's; it must not be negative (a negative value is refused with `EINVAL`, as the VFS
    /// would read it as an error number).
    fn llseek(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &LocalFile,
        _pos: Offset,
        _offset: Offset,
        _whence: Whence,
    ) -> Result<Offset> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Copies up to `count` bytes at `*pos` to the user buffer `buf`: `read(2)` and `pread(2)`.
    ///
    /// Returns the number of bytes copied and advances `*pos` by as many. `buf` has not been
    /// checked: copy with the `copy_to_user` family, or through
    /// [`UserSlice::new(buf, count)`](kernel::uaccess::UserSlice::new).
    fn read(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &LocalFile,
        _buf: UserPtr,
        _count: usize,
        _pos: &mut Offset,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Copies up to `count` bytes from the user buffer `buf` to `*pos`: `write(2)` and
    /// `pwrite(2)`.
    ///
    /// Returns the number of bytes copied and advances `*pos` by as many. `buf` has not been
    /// checked (see [`MiscDevice::read`]).
    fn write(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &LocalFile,
        _buf: UserPtr,
        _count: usize,
        _pos: &mut Offset,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads into an iterator: `readv(2)`, `preadv(2)`, splice and io_uring.
    fn read_iter(_kiocb: Kiocb<'_, Self::Ptr>, _iov: &mut IovIterDest<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes from an iterator: `writev(2)`, `pwritev(2)`, splice and io_uring.
    fn write_iter(_kiocb: Kiocb<'_, Self::Ptr>, _iov: &mut IovIterSource<'_>) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Whether `mmap(2)` without a fixed address should place mappings of 2 MiB or more at a
    /// 2 MiB-aligned address (plus the file offset's remainder), as device-dax and shmem do
    /// (`thp_get_unmapped_area()`): a device that maps 2 MiB folios with PMD entries needs that
    /// alignment for them, since one entry maps a 2 MiB-aligned range of addresses. Only on
    /// kernels with THP; `false` keeps the kernel's default placement.
    const PMD_ALIGNED_MAPPINGS: bool = false;

    /// Sets up a new mapping of the file, during `mmap(2)` (see `kernel::miscdevice`).
    fn mmap(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _vma: &VmaNew,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl; 32-bit callers on a 64-bit kernel reach it through `compat_ptr_ioctl`.
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Adds lines to `/proc/<pid>/fdinfo/<fd>`.
    fn show_fdinfo(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _m: &SeqFile,
        _file: &File,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Converts the result of a `read` or `write` hook to the `ssize_t` that the VFS expects.
#[inline]
fn to_ssize(result: Result<usize>) -> isize {
    match result.and_then(|n| isize::try_from(n).map_err(|_| EOVERFLOW)) {
        Ok(n) => n,
        Err(err) => err.to_errno() as isize,
    }
}

/// The `file_operations` of a misc device of type `T`, and the functions in it.
struct MiscdeviceVTable<T: MiscDevice>(PhantomData<T>);

impl<T: MiscDevice> MiscdeviceVTable<T> {
    /// # Safety
    ///
    /// `inode` and `raw_file` must be the inode and file of a file being opened, which
    /// `misc_open()` associated with a `MiscDeviceRegistration<T>`.
    unsafe extern "C" fn open(inode: *mut bindings::inode, raw_file: *mut bindings::file) -> c_int {
        // SAFETY: The pointers are valid and for a file being opened.
        let ret = unsafe { bindings::generic_file_open(inode, raw_file) };
        if ret != 0 {
            return ret;
        }

        // SAFETY: The open call of a file can access the private data.
        let misc_ptr = unsafe { (*raw_file).private_data };

        // SAFETY: `misc_open()` set the private data to the `struct miscdevice` registered by a
        // `MiscDeviceRegistration<T>` (a transparent wrapper of it) before calling this, and keeps
        // it from being deregistered during the call.
        let misc = unsafe { &*misc_ptr.cast::<MiscDeviceRegistration<T>>() };

        // SAFETY:
        // - The file is valid for (much longer than) the duration of `T::open`.
        // - It is not installed in any file table yet, so no `fdget_pos` region exists on it.
        let file = unsafe { File::from_raw_file(raw_file) };

        let ptr = match T::open(file, misc) {
            Ok(ptr) => ptr,
            Err(err) => return err.to_errno(),
        };

        // SAFETY: The open call of a file owns its private data and mode until it returns. From
        // here on the private data is a `T::Ptr`, which every other hook in this table expects.
        unsafe {
            (*raw_file).private_data = ptr.into_foreign();
            if T::HAS_LLSEEK {
                (*raw_file).f_mode |= FMODE_ATOMIC_POS;
            }
        }
        0
    }

    /// # Safety
    ///
    /// `file` must be a file of this device that is being released.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: The release call of a file owns the private data, which `open` made with
        // `into_foreign`.
        let ptr = unsafe { <T::Ptr as ForeignOwnable>::from_foreign((*file).private_data) };
        // SAFETY:
        // - The file is valid for the duration of this call.
        // - Its last reference is gone, so no `fdget_pos` region exists on it.
        T::release(ptr, unsafe { File::from_raw_file(file) });
        0
    }

    /// # Safety
    ///
    /// `file` must be an open file of this device, in an `fdget_pos` region of this thread.
    unsafe extern "C" fn llseek(
        file: *mut bindings::file,
        offset: bindings::loff_t,
        whence: c_int,
    ) -> bindings::loff_t {
        let Some(whence) = Whence::from_raw(whence) else {
            return EINVAL.to_errno().into();
        };
        // SAFETY: The file is open, so its private data is the `T::Ptr` that `open` stored, which
        // `release` takes back only after this call.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: The file is valid for this call, and the `fdget_pos` region is on this thread.
        let local = unsafe { LocalFile::from_raw_file(file) };
        // SAFETY: `f_pos` is read and written under the caller's `fdget_pos()`, which holds
        // `f_pos_lock` when the file is shared (`open` set `FMODE_ATOMIC_POS`), as
        // `generic_file_llseek()` relies on too.
        let pos = unsafe { (*file).f_pos };
        match T::llseek(device, local, pos, offset, whence) {
            Ok(new) if new >= 0 => {
                // SAFETY: As for the read of `f_pos` above.
                unsafe { (*file).f_pos = new };
                new
            }
            Ok(_) => EINVAL.to_errno().into(),
            Err(err) => err.to_errno().into(),
        }
    }

    /// # Safety
    ///
    /// `file` must be an open file of this device, in an `fdget_pos` region of this thread (or in
    /// none), and `ppos` a valid position for this call (`vfs_read()`'s contract).
    unsafe extern "C" fn read(
        file: *mut bindings::file,
        buf: *mut c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: As in `llseek`: the private data is the `T::Ptr` stored by `open`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: The file is valid for this call; any `fdget_pos` region is on this thread.
        let local = unsafe { LocalFile::from_raw_file(file) };
        // SAFETY: `ppos` is non-null for a file that is not `FMODE_STREAM` (this table never
        // makes one), and points to the position of this call: `read(2)`'s copy of `f_pos` or
        // `pread(2)`'s offset, owned by the caller and not shared for the call's duration.
        let pos = unsafe { &mut *ppos };
        to_ssize(T::read(
            device,
            local,
            UserPtr::from_ptr(buf.cast()),
            count,
            pos,
        ))
    }

    /// # Safety
    ///
    /// As for [`Self::read`] (`vfs_write()`'s contract).
    unsafe extern "C" fn write(
        file: *mut bindings::file,
        buf: *const c_char,
        count: usize,
        ppos: *mut bindings::loff_t,
    ) -> isize {
        // SAFETY: As in `llseek`: the private data is the `T::Ptr` stored by `open`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: The file is valid for this call; any `fdget_pos` region is on this thread.
        let local = unsafe { LocalFile::from_raw_file(file) };
        // SAFETY: As in `read`.
        let pos = unsafe { &mut *ppos };
        let buf = UserPtr::from_ptr(buf.cast_mut().cast());
        to_ssize(T::write(device, local, buf, count, pos))
    }

    /// # Safety
    ///
    /// `kiocb` must be a valid kiocb of an open file of this device, and `iter` a valid
    /// destination iterator.
    unsafe extern "C" fn read_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: The caller provides a valid `struct kiocb` of a file of this device, whose
        // private data is a `T::Ptr`.
        let kiocb = unsafe { Kiocb::from_raw(kiocb) };
        // SAFETY: This is a valid `struct iov_iter` for writing.
        let iov = unsafe { IovIterDest::from_raw(iter) };
        to_ssize(T::read_iter(kiocb, iov))
    }

    /// # Safety
    ///
    /// `kiocb` must be a valid kiocb of an open file of this device, and `iter` a valid source
    /// iterator.
    unsafe extern "C" fn write_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: As in `read_iter`.
        let kiocb = unsafe { Kiocb::from_raw(kiocb) };
        // SAFETY: This is a valid `struct iov_iter` for reading.
        let iov = unsafe { IovIterSource::from_raw(iter) };
        to_ssize(T::write_iter(kiocb, iov))
    }

    /// # Safety
    ///
    /// `file` must be an open file of this device, and `vma` a VMA being set up by `mmap` for it.
    unsafe extern "C" fn mmap(
        file: *mut bindings::file,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        // SAFETY: As in `llseek`: the private data is the `T::Ptr` stored by `open`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: The caller provides a VMA that is undergoing initial set-up.
        let area = unsafe { VmaNew::from_raw(vma) };
        // SAFETY:
        // - The file is valid for the duration of this call.
        // - `mmap` does not run inside an `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        match T::mmap(device, file, area) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `file` must be an open file of this device.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: As in `llseek`: the private data is the `T::Ptr` stored by `open`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY:
        // - The file is valid for the duration of this call.
        // - `ioctl` does not run inside an `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        match T::ioctl(device, file, cmd, arg) {
            Ok(ret) => ret as c_long,
            Err(err) => err.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// `file` must be an open file of this device, and `seq_file` a valid `struct seq_file` that
    /// this call may write to.
    unsafe extern "C" fn show_fdinfo(seq_file: *mut bindings::seq_file, file: *mut bindings::file) {
        // SAFETY: As in `llseek`: the private data is the `T::Ptr` stored by `open`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY:
        // - The file is valid for the duration of this call.
        // - `show_fdinfo` does not run inside an `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: The caller provides a valid `seq_file`, exclusively for this call.
        let m = unsafe { SeqFile::from_raw(seq_file) };
        T::show_fdinfo(device, m, file);
    }

    const VTABLE: bindings::file_operations = bindings::file_operations {
        open: Some(Self::open),
        release: Some(Self::release),
        llseek: if T::HAS_LLSEEK {
            Some(Self::llseek)
        } else {
            None
        },
        read: if T::HAS_READ { Some(Self::read) } else { None },
        write: if T::HAS_WRITE {
            Some(Self::write)
        } else {
            None
        },
        read_iter: if T::HAS_READ_ITER {
            Some(Self::read_iter)
        } else {
            None
        },
        write_iter: if T::HAS_WRITE_ITER {
            Some(Self::write_iter)
        } else {
            None
        },
        // `sendfile(2)`, `splice(2)` and `tee(2)` through the iterator hooks, as for regular
        // files: without these the VFS refuses them with `EINVAL`.
        splice_read: if T::HAS_READ_ITER {
            Some(bindings::copy_splice_read)
        } else {
            None
        },
        splice_write: if T::HAS_WRITE_ITER {
            Some(bindings::iter_file_splice_write)
        } else {
            None
        },
        mmap: if T::HAS_MMAP { Some(Self::mmap) } else { None },
        #[cfg(CONFIG_TRANSPARENT_HUGEPAGE)]
        get_unmapped_area: if T::HAS_MMAP && T::PMD_ALIGNED_MAPPINGS {
            Some(bindings::thp_get_unmapped_area)
        } else {
            None
        },
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_IOCTL {
            bindings::compat_ptr_ioctl
        } else {
            None
        },
        show_fdinfo: if T::HAS_SHOW_FDINFO {
            Some(Self::show_fdinfo)
        } else {
            None
        },
        // SAFETY: Taking the address of the module loader's `struct module` of this module,
        // which lives as long as any file operation can run (the VFS takes a reference on the
        // owner for each open file).
        owner: this_module(),
        ..pin_init::zeroed()
    };
}
