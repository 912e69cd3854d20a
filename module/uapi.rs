// SPDX-License-Identifier: GPL-2.0

//! The user-space ABI of `/dev/mydev`: ioctl numbers, defined once.
//!
//! This file is compiled into the kernel module and, unchanged, into the user-space library
//! (`crates/mydev`), so the two cannot disagree. It depends on nothing but `core`.
//!
//! The magic number `0xB9` is not listed in
//! `Documentation/userspace-api/ioctl/ioctl-number.rst` (7.3), which assigns `0xB8` and `0xBA`
//! but leaves `0xB9` free; mydev uses command numbers `0x01`-`0x03` of it.

// The encoding of `include/uapi/asm-generic/ioctl.h`, which x86, arm64 and riscv use.
const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_NONE: u32 = 0;
const IOC_WRITE: u32 = 1;
const IOC_READ: u32 = 2;

const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << IOC_DIRSHIFT)
        | (ty << IOC_TYPESHIFT)
        | (nr << IOC_NRSHIFT)
        | ((size as u32) << IOC_SIZESHIFT)
}

/// The ioctl type ("magic") byte of mydev.
pub const MYDEV_IOC_MAGIC: u32 = 0xB9;

/// `_IOR(0xB9, 0x01, __u64)`: store the buffer size in bytes into the `u64` at `arg`.
///
/// A character device's `st_size` is 0, so this is how a program learns how much it can map.
pub const MYDEV_IOC_GET_SIZE: u32 =
    ioc(IOC_READ, MYDEV_IOC_MAGIC, 0x01, core::mem::size_of::<u64>());

/// `_IO(0xB9, 0x02)`: set every byte of the buffer to zero. Needs a file opened for writing
/// (`EBADF` otherwise, as for `write`).
pub const MYDEV_IOC_CLEAR: u32 = ioc(IOC_NONE, MYDEV_IOC_MAGIC, 0x02, 0);

/// The argument of [`MYDEV_IOC_EXPORT_DMABUF`]: `struct mydev_export_dmabuf` of `mydev.h`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MydevExportDmabuf {
    /// Start of the range in bytes: a multiple of the page size.
    pub offset: u64,
    /// Length of the range in bytes: a positive multiple of the page size, inside the buffer.
    pub size: u64,
    /// `O_RDWR` or `O_RDONLY` (`O_RDWR` only on a file opened for writing), optionally with
    /// `O_CLOEXEC`: the access mode of the dma-buf and the flag of its descriptor.
    pub flags: u32,
    /// Out: the new dma-buf file descriptor.
    pub fd: i32,
}

/// `_IOWR(0xB9, 0x03, struct mydev_export_dmabuf)`: export the range `[offset, offset + size)`
/// of the buffer as a new dma-buf and store its file descriptor in `fd`. `EINVAL` for a range
/// that is empty, not page-aligned or outside the buffer, or other flags; `EACCES` for `O_RDWR`
/// on a file opened read-only.
pub const MYDEV_IOC_EXPORT_DMABUF: u32 = ioc(
    IOC_READ | IOC_WRITE,
    MYDEV_IOC_MAGIC,
    0x03,
    core::mem::size_of::<MydevExportDmabuf>(),
);
