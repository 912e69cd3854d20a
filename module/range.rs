// SPDX-License-Identifier: GPL-2.0

//! Pure offset and size checks for the buffer: every value that user space controls passes here.
//!
//! Nothing in this file touches memory, so each rule is a small function that KUnit tests at
//! `insmod` in the test kernel. All arithmetic is checked: a value near `u64::MAX` gives an error,
//! never an overflow (which, with overflow checks on, would be a panic and so an oops).

use kernel::prelude::*;

/// The largest buffer the `size` parameter accepts: 1 GiB.
pub(crate) const MAX_SIZE: u64 = 1 << 30;

/// Checks the `size` module parameter and returns the number of pages it spans.
///
/// `size` must be a positive multiple of `page_size`, and at most [`MAX_SIZE`].
pub(crate) fn pages_for_size(size: u64, page_size: usize) -> Option<usize> {
    let page_size = u64::try_from(page_size).ok()?;
    if size == 0 || size > MAX_SIZE || page_size == 0 || size % page_size != 0 {
        return None;
    }
    usize::try_from(size / page_size).ok()
}

/// The part of a `read` or `write` of `count` bytes at `pos` that lies inside a buffer of `size`
/// bytes, as `(start, len)`.
///
/// `len` is `min(count, size - pos)`, and 0 when `pos` is at or past the end. A negative `pos`
/// (which the VFS already refuses for `pread`/`pwrite`) is an error.
pub(crate) fn io_span(pos: i64, count: usize, size: usize) -> Result<(usize, usize)> {
    let start = usize::try_from(pos).map_err(|_| EINVAL)?;
    let len = match size.checked_sub(start) {
        Some(room) => count.min(room),
        None => 0,
    };
    Ok((start, len))
}

/// Whether a mapping of `vma_pages` pages starting at page offset `pgoff` fits in a buffer of
/// `npages` pages.
///
/// Compared in page units, as `__vm_map_pages()` in `mm/memory.c` does, so no byte offset is
/// ever computed and nothing can overflow. An empty mapping does not fit (the core mm never asks
/// for one).
pub(crate) fn mapping_fits(pgoff: usize, vma_pages: usize, npages: usize) -> bool {
    vma_pages != 0 && pgoff < npages && vma_pages <= npages - pgoff
}

#[cfg(CONFIG_KUNIT)]
#[kunit_tests(mydev_range)]
mod tests {
    use super::*;

    const PS: usize = 4096;

    #[test]
    fn size_parameter() {
        assert_eq!(pages_for_size(4096, PS), Some(1));
        assert_eq!(pages_for_size(8192, PS), Some(2));
        assert_eq!(pages_for_size(MAX_SIZE, PS), Some(262144));
        assert_eq!(pages_for_size(0, PS), None);
        assert_eq!(pages_for_size(1, PS), None);
        assert_eq!(pages_for_size(4097, PS), None);
        assert_eq!(pages_for_size(MAX_SIZE + 4096, PS), None);
        assert_eq!(pages_for_size(u64::MAX, PS), None);
    }

    #[test]
    fn io_span_clamps_to_the_end() {
        assert_eq!(io_span(0, 10, 4096), Ok((0, 10)));
        assert_eq!(io_span(4090, 10, 4096), Ok((4090, 6)));
        assert_eq!(io_span(4096, 10, 4096), Ok((4096, 0)));
        assert_eq!(
            io_span(i64::MAX, usize::MAX, 4096),
            Ok((i64::MAX as usize, 0))
        );
        assert_eq!(io_span(0, usize::MAX, 4096), Ok((0, 4096)));
        assert_eq!(io_span(-1, 1, 4096), Err(EINVAL));
    }

    #[test]
    fn mapping_ranges() {
        assert!(mapping_fits(0, 1, 1));
        assert!(mapping_fits(1, 1, 2));
        assert!(mapping_fits(0, 2, 2));
        assert!(!mapping_fits(0, 0, 1));
        assert!(!mapping_fits(1, 1, 1));
        assert!(!mapping_fits(0, 2, 1));
        assert!(!mapping_fits(1, usize::MAX, 2));
        assert!(!mapping_fits(usize::MAX, 1, 2));
    }
}
