// SPDX-License-Identifier: GPL-2.0

//! The file operations of every node: `/dev/mydev` and each configfs buffer's `/dev/mydev-NAME`
//! behave the same, each on its own buffer.

use crate::{
    buffer::Buffer,
    miscdev::{
        MiscDevice,
        MiscDeviceRegistration,
        Whence, //
    },
    node::Node,
    range,
    uapi,
    vma, //
};
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

/// The file operations of a node. Each open file holds a reference to the node's buffer.
pub(crate) struct Mydev;

#[vtable]
impl MiscDevice for Mydev {
    type Ptr = Arc<Buffer>;

    // The 2 MiB parts of the buffer are mapped with PMD entries where the address allows.
    const PMD_ALIGNED_MAPPINGS: bool = true;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Buffer>> {
        // SAFETY: This is an `open` of the node, during which `misc_open()` holds `misc_mtx`,
        // which `misc_deregister()` takes: the registration, and so its node, outlive the call.
        let node = unsafe { Node::of_registration(misc) };
        Ok(node.buffer().clone())
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
            // Without the dma-buf core (a kernel with no `DMA_SHARED_BUFFER`), `ENOTTY`.
            #[cfg(CONFIG_DMA_SHARED_BUFFER)]
            uapi::MYDEV_IOC_EXPORT_DMABUF => crate::dmabuf::export(buffer, file, arg),
            _ => Err(ENOTTY),
        }
    }

    fn show_fdinfo(buffer: ArcBorrow<'_, Buffer>, m: &SeqFile, _file: &File) {
        seq_print!(m, "mydev-name:\t{}\n", buffer.name().as_cstr());
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
        _IOR,
        _IOWR, //
    };

    #[test]
    fn ioctl_numbers_match_the_kernel_macros() {
        assert_eq!(crate::uapi::MYDEV_IOC_GET_SIZE, _IOR::<u64>(0xB9, 0x01));
        assert_eq!(crate::uapi::MYDEV_IOC_CLEAR, _IO(0xB9, 0x02));
        assert_eq!(
            crate::uapi::MYDEV_IOC_EXPORT_DMABUF,
            _IOWR::<crate::uapi::MydevExportDmabuf>(0xB9, 0x03)
        );
    }
}
