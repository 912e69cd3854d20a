// SPDX-License-Identifier: GPL-2.0

//! Pure offset and size checks for the buffer: every value that user space controls passes here.
//!
//! Nothing in this file touches memory, so each rule is a small function that KUnit tests at
//! `insmod` in the test kernel. All arithmetic is checked: a value near `u64::MAX` gives an error,
//! never an overflow (which, with overflow checks on, would be a panic and so an oops).

use crate::miscdev::Whence;
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
#[inline]
pub(crate) fn io_span(pos: i64, count: usize, size: usize) -> Result<(usize, usize)> {
    // One comparison for the common case: as a `u64`, a negative position is 2^63 or more, past
    // the end of any buffer, so it goes the slow way with the positions at or past the end.
    if let Some(start) = usize::try_from(pos as u64)
        .ok()
        .filter(|&start| start < size)
    {
        return Ok((start, count.min(size - start)));
    }
    let start = usize::try_from(pos).map_err(|_| EINVAL)?;
    Ok((start, 0))
}

/// The file position after `lseek(offset, whence)` from position `pos` on a buffer of `size`
/// bytes, as a regular file of that size answers it.
///
/// - `SEEK_SET`, `SEEK_CUR`, `SEEK_END`: the position `offset` bytes from the start, `pos` or
///   the end; `EINVAL` unless it lies in `0..=size`, and for any `offset` that overflows.
/// - `SEEK_DATA`: the buffer has no holes, so the data at or after `offset` starts at `offset`;
///   `ENXIO` unless `offset` lies in `0..size`.
/// - `SEEK_HOLE`: the only hole is the implicit one at the end, so `size`; `ENXIO` unless
///   `offset` lies in `0..size`.
pub(crate) fn seek(pos: i64, offset: i64, whence: Whence, size: usize) -> Result<i64> {
    let end = i64::try_from(size).map_err(|_| EINVAL)?;
    let new = match whence {
        Whence::Set => Some(offset),
        Whence::Cur => pos.checked_add(offset),
        Whence::End => end.checked_add(offset),
        Whence::Data | Whence::Hole => {
            if !(0..end).contains(&offset) {
                return Err(ENXIO);
            }
            Some(if whence == Whence::Data { offset } else { end })
        }
    };
    new.filter(|new| (0..=end).contains(new)).ok_or(EINVAL)
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

/// The part of the buffer that one PMD entry at user address `haddr` would map, in a mapping of
/// `start..end` whose first page is buffer page `pgoff`, for parts of `part_pages` pages: `None`
/// unless `haddr` is aligned to a part's size, the whole `part_pages` pages from it lie inside the
/// mapping, and the buffer page there is the first page of a part.
///
/// The caller still checks that the part exists and is one folio. All arithmetic is checked, so
/// any values give an answer, never an overflow.
pub(crate) fn pmd_part(
    haddr: usize,
    start: usize,
    end: usize,
    pgoff: usize,
    page_size: usize,
    part_pages: usize,
) -> Option<usize> {
    let part_bytes = part_pages.checked_mul(page_size)?;
    if part_bytes == 0 || haddr % part_bytes != 0 || haddr < start {
        return None;
    }
    if haddr.checked_add(part_bytes)? > end {
        return None;
    }
    let index = pgoff.checked_add((haddr - start) / page_size)?;
    if index % part_pages != 0 {
        return None;
    }
    Some(index / part_pages)
}

/// The pages of an export of bytes `offset..offset + size` of a buffer of `npages` pages:
/// `(first page, pages)`, or `None` unless the range is page-aligned, not empty and inside the
/// buffer. Checked, so any values give an answer.
#[cfg_attr(not(CONFIG_DMA_SHARED_BUFFER), allow(dead_code))]
pub(crate) fn export_range(
    offset: u64,
    size: u64,
    npages: usize,
    page_size: usize,
) -> Option<(usize, usize)> {
    let ps = u64::try_from(page_size).ok()?;
    if ps == 0 || offset % ps != 0 || size % ps != 0 || size == 0 {
        return None;
    }
    let first = usize::try_from(offset / ps).ok()?;
    let pages = usize::try_from(size / ps).ok()?;
    mapping_fits(first, pages, npages).then_some((first, pages))
}

/// The scatter-gather segments of buffer pages `first..first + pages`, for parts of
/// `part_pages` pages of which `huge(k)` says whether part `k` is one folio: each huge part that
/// the range covers whole is one segment of `part_pages` pages, every other page a segment of
/// one. Calls `emit(first page, pages)` in order; returns the number of segments.
#[cfg_attr(not(CONFIG_DMA_SHARED_BUFFER), allow(dead_code))]
pub(crate) fn segments(
    first: usize,
    pages: usize,
    part_pages: usize,
    huge: impl Fn(usize) -> bool,
    mut emit: impl FnMut(usize, usize),
) -> usize {
    let end = first.saturating_add(pages);
    let mut page = first;
    let mut count = 0;
    while page < end {
        let whole_part = part_pages > 0
            && page % part_pages == 0
            && end - page >= part_pages
            && huge(page / part_pages);
        let len = if whole_part { part_pages } else { 1 };
        emit(page, len);
        page += len;
        count += 1;
    }
    count
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
    fn seek_set_cur_end_stay_inside_the_buffer() {
        use Whence::*;
        assert_eq!(seek(0, 0, Set, 4096), Ok(0));
        assert_eq!(seek(7, 4096, Set, 4096), Ok(4096));
        assert_eq!(seek(7, 4097, Set, 4096), Err(EINVAL));
        assert_eq!(seek(7, -1, Set, 4096), Err(EINVAL));
        assert_eq!(seek(100, 5, Cur, 4096), Ok(105));
        assert_eq!(seek(100, -100, Cur, 4096), Ok(0));
        assert_eq!(seek(100, -101, Cur, 4096), Err(EINVAL));
        assert_eq!(seek(4096, 1, Cur, 4096), Err(EINVAL));
        assert_eq!(seek(0, 0, End, 4096), Ok(4096));
        assert_eq!(seek(0, -4096, End, 4096), Ok(0));
        assert_eq!(seek(0, -4097, End, 4096), Err(EINVAL));
        assert_eq!(seek(0, 1, End, 4096), Err(EINVAL));
    }

    #[test]
    fn seek_never_overflows() {
        use Whence::*;
        for whence in [Set, Cur, End, Data, Hole] {
            for (pos, offset) in [
                (i64::MAX, i64::MAX),
                (i64::MAX, 4097),
                (1, i64::MAX),
                (0, i64::MIN),
                (i64::MAX, i64::MIN),
                (4096, i64::MIN),
            ] {
                assert!(seek(pos, offset, whence, 4096).is_err());
            }
        }
        assert_eq!(seek(0, i64::MIN, End, 4096), Err(EINVAL));
        assert_eq!(seek(0, i64::MAX, End, 4096), Err(EINVAL));
        assert_eq!(seek(0, 0, End, 1 << 30), Ok(1 << 30));
    }

    #[test]
    fn seek_data_and_hole_answer_as_a_file_without_holes() {
        use Whence::*;
        assert_eq!(seek(9, 0, Data, 4096), Ok(0));
        assert_eq!(seek(9, 4095, Data, 4096), Ok(4095));
        assert_eq!(seek(9, 4096, Data, 4096), Err(ENXIO));
        assert_eq!(seek(9, -1, Data, 4096), Err(ENXIO));
        assert_eq!(seek(9, 0, Hole, 4096), Ok(4096));
        assert_eq!(seek(9, 4095, Hole, 4096), Ok(4096));
        assert_eq!(seek(9, 4096, Hole, 4096), Err(ENXIO));
        assert_eq!(seek(9, i64::MIN, Hole, 4096), Err(ENXIO));
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

    #[test]
    fn pmd_entries_only_where_address_offset_and_range_line_up() {
        const M2: usize = 2 << 20;
        // An aligned mapping of parts 0 and 1: both can be PMD-mapped.
        assert_eq!(pmd_part(M2, M2, 3 * M2, 0, PS, 512), Some(0));
        assert_eq!(pmd_part(2 * M2, M2, 3 * M2, 0, PS, 512), Some(1));
        // Starting at page offset 512: the first entry maps part 1.
        assert_eq!(pmd_part(M2, M2, 2 * M2, 512, PS, 512), Some(1));
        // An unaligned address, or a page offset that is not the start of a part.
        assert_eq!(pmd_part(M2 + PS, M2, 3 * M2, 0, PS, 512), None);
        assert_eq!(pmd_part(M2, M2, 3 * M2, 1, PS, 512), None);
        assert_eq!(pmd_part(2 * M2, M2 + PS, 3 * M2, 1, PS, 512), Some(1));
        assert_eq!(pmd_part(2 * M2, M2 + PS, 3 * M2, 0, PS, 512), None);
        // The whole entry must lie inside the mapping.
        assert_eq!(pmd_part(M2, M2, 2 * M2 - PS, 0, PS, 512), None);
        assert_eq!(pmd_part(M2, M2 + PS, 3 * M2, 0, PS, 512), None);
        // Nothing overflows.
        assert_eq!(
            pmd_part(usize::MAX - M2 + 1, 0, usize::MAX, 0, PS, 512),
            None
        );
        assert_eq!(pmd_part(M2, 0, usize::MAX, usize::MAX, PS, 512), None);
        assert_eq!(pmd_part(M2, 0, usize::MAX, 0, PS, usize::MAX), None);
        assert_eq!(pmd_part(M2, 0, usize::MAX, 0, PS, 0), None);
    }

    #[test]
    fn export_ranges_are_page_aligned_non_empty_and_inside() {
        assert_eq!(export_range(0, 4096, 1, PS), Some((0, 1)));
        assert_eq!(export_range(4096, 8192, 3, PS), Some((1, 2)));
        assert_eq!(export_range(0, 0, 1, PS), None);
        assert_eq!(export_range(1, 4096, 2, PS), None);
        assert_eq!(export_range(0, 4097, 2, PS), None);
        assert_eq!(export_range(4096, 4096, 1, PS), None);
        assert_eq!(export_range(0, 8192, 1, PS), None);
        assert_eq!(export_range(u64::MAX - 4095, 4096, 1, PS), None);
        assert_eq!(export_range(4096, u64::MAX - 4095, 2, PS), None);
        assert_eq!(export_range(0, 4096, 1, 0), None);
    }

    #[test]
    fn segments_cover_the_range_with_one_per_whole_huge_part() {
        let huge = |k: usize| k != 1;
        let mut seen = KVec::<(usize, usize)>::new();
        let mut record = |p, n| {
            let _ = seen.push((p, n), GFP_KERNEL);
        };
        // Parts 0 and 2 huge, part 1 not; 4-page parts. Pages 2..12: part 0 is cut (2 singles),
        // part 1 is small (4 singles), part 2 is whole and huge (one segment).
        assert_eq!(segments(2, 10, 4, huge, &mut record), 7);
        assert_eq!(
            &seen[..],
            &[(2, 1), (3, 1), (4, 1), (5, 1), (6, 1), (7, 1), (8, 4)]
        );
        // Every page once, in order.
        let mut next = 2;
        for &(p, n) in seen.iter() {
            assert_eq!(p, next);
            next = p + n;
        }
        assert_eq!(next, 12);
        assert_eq!(segments(0, 8, 4, |_| true, |_, _| {}), 2);
        assert_eq!(segments(0, 0, 4, |_| true, |_, _| {}), 0);
        assert_eq!(segments(usize::MAX, 2, 4, |_| true, |_, _| {}), 0);
    }
}
