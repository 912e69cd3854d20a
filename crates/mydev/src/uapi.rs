// SPDX-License-Identifier: MIT OR Apache-2.0
// Copied from module/uapi.rs, the single definition, with this licence line (the same authors
// license it under both); tests/abi.rs fails when the two differ.

//! The user-space ABI of `/dev/mydev`: ioctl numbers, defined once.
//!
//! This file is compiled into the kernel module and, unchanged, into the user-space library
//! (`crates/mydev`), so the two cannot disagree. It depends on nothing but `core`.
//!
//! The magic number `0xB9` is not listed in
//! `Documentation/userspace-api/ioctl/ioctl-number.rst` (7.3), which assigns `0xB8` and `0xBA`
//! but leaves `0xB9` free; mydev uses command numbers `0x01`-`0x02` of it.

// The encoding of `include/uapi/asm-generic/ioctl.h`, which x86, arm64 and riscv use.
const IOC_NRBITS: u32 = 8;
const IOC_TYPEBITS: u32 = 8;
const IOC_SIZEBITS: u32 = 14;
const IOC_NRSHIFT: u32 = 0;
const IOC_TYPESHIFT: u32 = IOC_NRSHIFT + IOC_NRBITS;
const IOC_SIZESHIFT: u32 = IOC_TYPESHIFT + IOC_TYPEBITS;
const IOC_DIRSHIFT: u32 = IOC_SIZESHIFT + IOC_SIZEBITS;
const IOC_NONE: u32 = 0;
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
