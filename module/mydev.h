/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mydev.h - the user-space ABI of /dev/mydev, for C programs.
 *
 * The single definition is module/uapi.rs; this header mirrors it, and a test
 * (crates/mydev/tests/c_header.rs) compiles it and fails if the two disagree.
 * The ioctl magic 0xB9 is free in Documentation/userspace-api/ioctl/ioctl-number.rst.
 */
#ifndef MYDEV_H
#define MYDEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define MYDEV_DEVICE		"/dev/mydev"
#define MYDEV_IOC_MAGIC		0xB9

/* Store the buffer size in bytes into the __u64 at arg. */
#define MYDEV_IOC_GET_SIZE	_IOR(MYDEV_IOC_MAGIC, 0x01, __u64)
/* Set every byte of the buffer to zero; needs a file opened for writing. */
#define MYDEV_IOC_CLEAR		_IO(MYDEV_IOC_MAGIC, 0x02)

/*
 * Export [offset, offset + size) of the buffer (page-aligned, inside it, not
 * empty) as a new dma-buf; flags: O_RDWR or O_RDONLY, optionally O_CLOEXEC.
 * The new descriptor is stored in fd.
 */
struct mydev_export_dmabuf {
	__u64 offset;
	__u64 size;
	__u32 flags;
	__s32 fd;
};
#define MYDEV_IOC_EXPORT_DMABUF	_IOWR(MYDEV_IOC_MAGIC, 0x03, struct mydev_export_dmabuf)

#endif /* MYDEV_H */
