// SPDX-License-Identifier: GPL-2.0

//! A byte pattern that tells every byte of a buffer from its neighbours, its page and its 2 MiB
//! part, and the checks of it through `pread` and through a mapping: whether each page of a
//! mapping shows its own bytes.

use crate::sys::{Map, PAGE, PART, pread, pwrite};
use crate::{TestResult, check, check_eq};
use std::os::fd::OwnedFd;

/// The byte that [`fill_marks`] puts at buffer offset `off`: differs between neighbouring
/// bytes, pages and parts.
pub fn mark(off: usize) -> u8 {
    ((off / PAGE).wrapping_mul(13) ^ (off % PAGE).wrapping_mul(7) ^ (off / PART).wrapping_mul(101))
        as u8
        | 1
}

/// Writes [`mark`] over the first `size` bytes of the buffer with one `pwrite`.
pub fn fill_marks(fd: &OwnedFd, size: usize) -> TestResult {
    let bytes: Vec<u8> = (0..size).map(mark).collect();
    check_eq!(pwrite(fd, &bytes, 0).map_err(|e| e.to_string())?, size);
    Ok(())
}

/// Checks through `pread` that the first `size` bytes of the buffer still hold [`mark`].
pub fn check_filled(fd: &OwnedFd, size: usize) -> TestResult {
    let mut b = vec![0u8; size];
    check_eq!(pread(fd, &mut b, 0).map_err(|e| e.to_string())?, size);
    if let Some(i) = (0..size).find(|&i| b[i] != mark(i)) {
        return Err(format!(
            "buffer byte {i:#x} is {:#x}, expected {:#x}",
            b[i],
            mark(i)
        ));
    }
    Ok(())
}

/// Loads four bytes of every page of `m` (first, second, middle, last) and checks that they are
/// the marks of buffer page `pgoff + i`: each page of the mapping shows its own bytes. Touching
/// every page also faults in every entry.
pub fn check_marks(m: &Map, pgoff: usize) -> TestResult {
    for i in 0..m.len / PAGE {
        for k in [0, 1, PAGE / 2, PAGE - 1] {
            let (at, off) = (i * PAGE + k, (pgoff + i) * PAGE + k);
            check!(
                m.load(at) == mark(off),
                "mapping byte {at:#x} (buffer offset {off:#x}) is {:#x}, expected {:#x}",
                m.load(at),
                mark(off)
            );
        }
    }
    Ok(())
}
