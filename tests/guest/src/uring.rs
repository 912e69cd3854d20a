// SPDX-License-Identifier: GPL-2.0

//! io_uring with fixed buffers, for the pinning suite: registering a mapping's pages
//! (`IORING_REGISTER_BUFFERS`, a long-term pin) and moving bytes between them and a file with
//! `READ_FIXED`/`WRITE_FIXED`.

use io_uring::{IoUring, opcode, types};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// A ring with buffers registered from user addresses.
pub struct Ring {
    ring: IoUring,
    bufs: Vec<libc::iovec>,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ring({} fixed buffers)", self.bufs.len())
    }
}

impl Ring {
    /// A ring of 8 entries; `ENOSYS` when the kernel has no io_uring.
    pub fn new() -> io::Result<Self> {
        Ok(Ring {
            ring: IoUring::new(8)?,
            bufs: Vec::new(),
        })
    }

    /// Registers `(addr, len)` ranges as fixed buffers 0, 1, …; the kernel pins their pages
    /// until [`Ring::unregister`] or the ring's end, whatever happens to the mappings.
    pub fn register(&mut self, ranges: &[(usize, usize)]) -> io::Result<()> {
        self.bufs = ranges
            .iter()
            .map(|&(addr, len)| libc::iovec {
                iov_base: addr as *mut libc::c_void,
                iov_len: len,
            })
            .collect();
        // SAFETY: the ranges are the caller's mappings; the kernel pins their pages (or fails),
        // and afterwards reads and writes only those pinned pages, never the addresses.
        unsafe { self.ring.submitter().register_buffers(&self.bufs) }
    }

    pub fn unregister(&mut self) -> io::Result<()> {
        self.ring.submitter().unregister_buffers()
    }

    /// `WRITE_FIXED` (`write`) or `READ_FIXED` of `len` bytes at `at` inside fixed buffer
    /// `index`, to or from `file` at `off`; the bytes moved.
    pub fn fixed(
        &mut self,
        write: bool,
        file: &OwnedFd,
        index: usize,
        at: usize,
        len: usize,
        off: u64,
    ) -> io::Result<usize> {
        let buf = self.bufs.get(index).ok_or(io::ErrorKind::InvalidInput)?;
        if at.checked_add(len).is_none_or(|end| end > buf.iov_len) {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // The kernel finds the pinned pages from the registered address range: this address
        // need not be mapped any more.
        let addr = (buf.iov_base as usize + at) as *mut u8;
        let fd = types::Fd(file.as_raw_fd());
        let len32 = u32::try_from(len).map_err(|_| io::ErrorKind::InvalidInput)?;
        let entry = if write {
            opcode::WriteFixed::new(fd, addr, len32, index as u16)
                .offset(off)
                .build()
        } else {
            opcode::ReadFixed::new(fd, addr, len32, index as u16)
                .offset(off)
                .build()
        };
        // SAFETY: the entry names a registered buffer and a range inside it; the kernel
        // checks both, and the pinned pages outlive the operation (we wait for it below).
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("submission queue full"))?;
        self.ring.submit_and_wait(1)?;
        let cqe = self
            .ring
            .completion()
            .next()
            .ok_or_else(|| io::Error::other("no completion"))?;
        let res = cqe.result();
        if res < 0 {
            return Err(io::Error::from_raw_os_error(-res));
        }
        Ok(res as usize)
    }
}
