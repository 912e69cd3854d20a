// SPDX-License-Identifier: GPL-2.0

//! mydev: a page-backed buffer shared by every opener of `/dev/mydev`, through `read`/`write`
//! and through `mmap` of the same memory.
//!
//! - `read`/`write` (and `pread`/`pwrite`) copy at the file position and advance it; a read at or
//!   past the end returns 0, a write there fails with `ENOSPC`, and one crossing the end is short.
//!   `readv`/`writev` follow the same rules.
//! - `lseek` moves the position inside `0..=size` as for a regular file of that size
//!   ([`range::seek`]).
//! - `mmap` maps any page-aligned range inside the buffer, shared or private (copy-on-write),
//!   never executable (see [`vma::mmap`]).
//! - `ioctl`: [`uapi::MYDEV_IOC_GET_SIZE`] and [`uapi::MYDEV_IOC_CLEAR`]; anything else is
//!   `ENOTTY`.
//!
//! The file operations come from [`miscdev`], the module's own misc-device layer: 7.3's
//! `kernel::miscdevice` has no `llseek`, `read` or `write` hook.
//!
//! The buffer is allocated at load, zeroed, and freed when the module is unloaded, which the
//! kernel refuses while any file or mapping of the device exists (the file operations name this
//! module as their owner, and a mapping holds its file).

use kernel::{
    fs::{
        file::{
            flags::{
                O_ACCMODE,
                O_RDONLY, //
            },
            Offset,
        },
        File,
        Kiocb,
        LocalFile, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    mm::virt::VmaNew,
    page::PAGE_SIZE,
    prelude::*,
    seq_file::{
        seq_print,
        SeqFile, //
    },
    sync::{
        Arc,
        ArcBorrow, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

mod buffer;
mod miscdev;
mod range;
pub mod uapi;
mod vma;

use buffer::Buffer;
use miscdev::{
    MiscDevice,
    MiscDeviceOptions,
    MiscDeviceRegistration,
    Whence, //
};

module! {
    type: MydevModule,
    name: "mmap",
    authors: ["mydev developers"],
    description: "mydev: a memory-mapped character device (/dev/mydev)",
    license: "GPL",
    params: {
        size: u64 {
            default: 4096,
            description: "Buffer size in bytes: a positive multiple of the page size, at most 1 GiB",
        },
        huge: u32 {
            default: 1,
            description: "1: allocate each whole 2 MiB part of the buffer as one 2 MiB folio when the allocator can, so that aligned shared mappings map it with one PMD entry; 0: 4 KiB pages only",
        },
    },
}

/// The loaded module: the buffer and the misc device that exposes it.
#[pin_data(PinnedDrop)]
struct MydevModule {
    /// Declared, and so initialised, before `registration`: `open` can run as soon as the device
    /// node exists, and it reaches this field.
    buffer: Arc<Buffer>,
    #[pin]
    registration: MiscDeviceRegistration<Mydev>,
}

impl kernel::InPlaceModule for MydevModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // 7.3 returns the value (`value_ref()` gives the reference); 7.2's `value()` returns a
        // reference. `Kbuild` sets the cfg from the kernel's version.
        #[cfg(mydev_param_value_copy)]
        let (requested, huge) = (
            module_parameters::size.value(),
            module_parameters::huge.value(),
        );
        #[cfg(not(mydev_param_value_copy))]
        let (requested, huge) = (
            *module_parameters::size.value(),
            *module_parameters::huge.value(),
        );
        let buffer = huge_parameter(huge)
            .and_then(|huge| {
                let npages = range::pages_for_size(requested, PAGE_SIZE).ok_or_else(|| {
                    pr_err!(
                        "invalid parameter size={}: must be a multiple of {} from {} to {}\n",
                        requested,
                        PAGE_SIZE,
                        PAGE_SIZE,
                        range::MAX_SIZE
                    );
                    EINVAL
                })?;
                Buffer::new(npages, huge).inspect_err(|_| {
                    pr_err!("cannot allocate {} bytes for the buffer\n", requested);
                })
            })
            .and_then(|buffer| Ok(Arc::new(buffer, GFP_KERNEL)?));

        try_pin_init!(Self {
            buffer: buffer?,
            registration <- MiscDeviceRegistration::register(MiscDeviceOptions { name: c"mydev" }),
        })
        .pin_chain(|this| {
            if this.buffer.whole_parts() == 0 {
                pr_info!("created /dev/mydev, size {} bytes\n", this.buffer.size());
            } else {
                pr_info!(
                    "created /dev/mydev, size {} bytes, {} of its {} 2 MiB parts huge\n",
                    this.buffer.size(),
                    this.buffer.huge_parts(),
                    this.buffer.whole_parts()
                );
            }
            Ok(())
        })
    }
}

/// Checks the `huge` module parameter: 0 or 1.
fn huge_parameter(huge: u32) -> Result<bool> {
    match huge {
        0 => Ok(false),
        1 => Ok(true),
        _ => {
            pr_err!("invalid parameter huge={}: must be 0 or 1\n", huge);
            Err(EINVAL)
        }
    }
}

#[pinned_drop]
impl PinnedDrop for MydevModule {
    fn drop(self: Pin<&mut Self>) {
        pr_info!("removed /dev/mydev\n");
    }
}

/// The file operations of `/dev/mydev`. Each open file holds a reference to the shared buffer.
struct Mydev;

#[vtable]
impl MiscDevice for Mydev {
    type Ptr = Arc<Buffer>;

    // The 2 MiB parts of the buffer are mapped with PMD entries where the address allows.
    const PMD_ALIGNED_MAPPINGS: bool = true;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Buffer>> {
        let misc: *const MiscDeviceRegistration<Self> = misc;
        // SAFETY: The only `MiscDeviceRegistration<Mydev>` is the `registration` field of the
        // pinned `MydevModule`, so `container_of!` gives a pointer to that module struct. It is
        // valid for this call: `misc_open()` took a reference on this module (the file
        // operations' owner) before calling `open`, so the module cannot be unloaded meanwhile.
        let module = unsafe { &*kernel::container_of!(misc.cast_mut(), MydevModule, registration) };
        Ok(module.buffer.clone())
    }

    fn llseek(
        buffer: ArcBorrow<'_, Buffer>,
        _file: &LocalFile,
        pos: Offset,
        offset: Offset,
        whence: Whence,
    ) -> Result<Offset> {
        range::seek(pos, offset, whence, buffer.size())
    }

    // `read` and `write` are inlined into the layer's trampolines: a 64-byte `pread` is a few
    // hundred instructions in all, and a call with its `Result` returned through memory would add
    // a tenth to what the module costs.
    #[inline(always)]
    fn read(
        buffer: ArcBorrow<'_, Buffer>,
        _file: &LocalFile,
        buf: UserPtr,
        count: usize,
        pos: &mut Offset,
    ) -> Result<usize> {
        buffer.read_to_user(pos, buf, count)
    }

    #[inline(always)]
    fn write(
        buffer: ArcBorrow<'_, Buffer>,
        _file: &LocalFile,
        buf: UserPtr,
        count: usize,
        pos: &mut Offset,
    ) -> Result<usize> {
        buffer.write_from_user(pos, buf, count)
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        kiocb.file().read_to(kiocb.ki_pos_mut(), iov)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        kiocb.file().write_from(kiocb.ki_pos_mut(), iov)
    }

    fn mmap(buffer: ArcBorrow<'_, Buffer>, _file: &File, vma: &VmaNew) -> Result {
        vma::mmap(&buffer, vma)
    }

    fn ioctl(buffer: ArcBorrow<'_, Buffer>, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::MYDEV_IOC_GET_SIZE => {
                let size = u64::try_from(buffer.size()).map_err(|_| EOVERFLOW)?;
                let mut writer = UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>()).writer();
                writer.write(&size)?;
                Ok(0)
            }
            uapi::MYDEV_IOC_CLEAR => {
                if file.flags() & O_ACCMODE == O_RDONLY {
                    return Err(EBADF);
                }
                buffer.clear();
                Ok(0)
            }
            _ => Err(ENOTTY),
        }
    }

    fn show_fdinfo(buffer: ArcBorrow<'_, Buffer>, m: &SeqFile, _file: &File) {
        seq_print!(m, "mydev-size:\t{}\n", buffer.size());
        seq_print!(m, "mydev-parts:\t{}\n", buffer.whole_parts());
        seq_print!(m, "mydev-huge-parts:\t{}\n", buffer.huge_parts());
    }
}

#[cfg(CONFIG_KUNIT)]
#[kunit_tests(mydev_uapi)]
mod tests {
    use kernel::ioctl::{
        _IO,
        _IOR, //
    };

    #[test]
    fn ioctl_numbers_match_the_kernel_macros() {
        assert_eq!(super::uapi::MYDEV_IOC_GET_SIZE, _IOR::<u64>(0xB9, 0x01));
        assert_eq!(super::uapi::MYDEV_IOC_CLEAR, _IO(0xB9, 0x02));
    }
}
