// SPDX-License-Identifier: GPL-2.0

//! 2 MiB parts: folios, PMD entries, and what splits them.

use super::{RW, rw, size};
use guest_tests::marks::{check_marks, fill_marks, mark};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};

/// The buffer of these tests: four whole 2 MiB parts and a tail of three pages.
const PARTS: usize = 4;
const TAIL_PAGES: usize = 3;
const PARTS_SIZE: usize = PARTS * PART + TAIL_PAGES * PAGE;
/// One PMD entry in `FilePmdMapped` (KiB).
const ENTRY_KIB: i64 = (PART / 1024) as i64;

/// How many 2 MiB entries more than `before` are mapped now.
pub fn entries_since(before: i64) -> Result<i64, String> {
    let now = file_pmd_mapped_kib()?;
    Ok((now - before) / ENTRY_KIB)
}

/// Stores a few bytes through `m` at mapping offset `at` (buffer offset `off`) and checks that
/// `pread` sees them; then `pwrite`s other bytes there and checks that the mapping sees those.
fn check_both_ways(fd: &std::os::fd::OwnedFd, m: &Map, at: usize, off: usize) -> TestResult {
    m.store_all(at, b"mapped");
    let mut b = [0u8; 6];
    pread(fd, &mut b, off as i64).map_err(|e| e.to_string())?;
    check!(
        &b == b"mapped",
        "store at mapping {at:#x}: pread at {off:#x} gives {b:?}"
    );
    pwrite(fd, b"writes", off as i64).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(at, 6), b"writes".to_vec());
    // Put the marks back.
    let marks: Vec<u8> = (off..off + 6).map(mark).collect();
    pwrite(fd, &marks, off as i64).map_err(|e| e.to_string())?;
    Ok(())
}

pub fn whole_parts_are_2m_folios_counted_in_fdinfo() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        check_eq!(fdinfo_field(&fd, "mydev-parts:")?, PARTS as u64);
        check_eq!(fdinfo_field(&fd, "mydev-huge-parts:")?, PARTS as u64);
        check!(
            dmesg().contains(&format!(
                "size {PARTS_SIZE} bytes, {PARTS} of its {PARTS} 2 MiB parts huge"
            )),
            "no load line counting the huge parts"
        );
        Ok(())
    })?;
    with_module(&format!("size={PARTS_SIZE} huge=0"), || {
        let fd = rw()?;
        check_eq!(fdinfo_field(&fd, "mydev-parts:")?, PARTS as u64);
        check_eq!(fdinfo_field(&fd, "mydev-huge-parts:")?, 0);
        Ok(())
    })?;
    // The harness's one-page buffer has no whole part.
    let fd = rw()?;
    check_eq!(fdinfo_field(&fd, "mydev-parts:")?, (size()? / PART) as u64);
    drop(fd);
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let bad = expect_errno(insmod("huge=2"), libc::EINVAL, "huge=2").and_then(|()| {
        check!(!module_loaded(), "huge=2 left the module loaded");
        check!(
            dmesg().contains("invalid parameter huge=2"),
            "no log line for huge=2"
        );
        Ok(())
    });
    let back = restore();
    bad.and(back)
}

pub fn aligned_shared_mappings_map_whole_parts_with_pmd_entries() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(PARTS_SIZE).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, PARTS_SIZE, RW, libc::MAP_SHARED, 0)
            .map_err(|e| e.to_string())?;
        // Nothing of the parts is mapped before the first touch: they wait for their PMD entry.
        check_eq!(entries_since(before)?, 0);
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, PARTS as i64);
        // Stores through an entry reach the buffer at the right offsets, and back, in every
        // part and in the tail, and across the boundaries between them.
        for off in [
            0,
            5000,
            PART - 3,
            PART,
            3 * PART + 7,
            PARTS * PART - 3,
            PARTS * PART + 10,
        ] {
            check_both_ways(&fd, &m, off, off)?;
        }
        // A second process sees the same bytes through its own entries.
        let child = in_child(|| check_marks(&m, 0));
        child?;
        // `fork` copies no entry of a shared mapping; the child faulted its own, now gone.
        check_eq!(entries_since(before)?, PARTS as i64);
        drop(m);
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })
}

/// Mappings that start or end inside a part, at addresses and offsets that do or do not line
/// up: PMD entries exactly for the parts that lie whole in the mapping at a 2 MiB-aligned address
/// and offset, 4 KiB entries for the rest, and every page at its own offset.
pub fn pmd_entries_only_where_address_and_offset_line_up() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        // (address from an aligned base, first buffer page, pages, expected PMD entries)
        let cases: [(usize, usize, usize, i64); 9] = [
            (0, 0, PARTS_SIZE / PAGE, PARTS as i64),
            // Starts and ends inside parts 0 and 3, the address as far into its 2 MiB as the
            // offset is into its part: parts 1 and 2 get entries.
            (PAGE, 1, 3 * 512 + 10, 2),
            (PART - PAGE, 511, 2 * 512 + 2, 2),
            // Ends inside part 1.
            (0, 0, 512 + 256, 1),
            // From part 2 to the tail.
            (0, 1024, 2 * 512 + TAIL_PAGES, 2),
            // Aligned address, offset inside a part; and the other way round.
            (0, 1, 3 * 512, 0),
            (PAGE, 0, 3 * 512, 0),
            (PART / 2, 512, 2 * 512, 0),
            // Shorter than a part.
            (0, 512, 511, 0),
        ];
        let r = reserve_aligned(PARTS_SIZE + PART).map_err(|e| e.to_string())?;
        for (at, pgoff, pages, expected) in cases {
            let before = file_pmd_mapped_kib()?;
            let m = mmap_fixed(
                &fd,
                r.base + at,
                pages * PAGE,
                RW,
                libc::MAP_SHARED,
                (pgoff * PAGE) as u64,
            )
            .map_err(|e| format!("map {pages} pages of page {pgoff} at base+{at:#x}: {e}"))?;
            check_marks(&m, pgoff).map_err(|e| format!("base+{at:#x}, page {pgoff}: {e}"))?;
            let got = entries_since(before)?;
            check!(
                got == expected,
                "{pages} pages of page {pgoff} at base+{at:#x}: {got} PMD entries, expected {expected}"
            );
            check_both_ways(&fd, &m, m.len - 6, (pgoff + pages) * PAGE - 6)?;
            drop(m);
            check_eq!(entries_since(before)?, 0);
        }
        Ok(())
    })
}

/// `mmap` without an address places a mapping of a whole part or more at an address that lines
/// up with its offset modulo 2 MiB (`thp_get_unmapped_area`), so that plain callers get PMD
/// entries too.
pub fn mmap_without_an_address_lines_up_with_the_offset() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        // (first buffer page, pages, expected PMD entries)
        for (pgoff, pages, expected) in [(0, 1024, 2), (1, 3 * 512, 2), (512, 2 * 512 + 3, 2)] {
            let before = file_pmd_mapped_kib()?;
            let m = mmap(
                &fd,
                pages * PAGE,
                RW,
                libc::MAP_SHARED,
                (pgoff * PAGE) as u64,
            )
            .map_err(|e| e.to_string())?;
            check!(
                m.addr % PART == (pgoff * PAGE) % PART,
                "{pages} pages of page {pgoff} mapped at {:#x}",
                m.addr
            );
            check_marks(&m, pgoff)?;
            check_eq!(entries_since(before)?, expected);
        }
        Ok(())
    })
}

/// What splits one 2 MiB entry of a mapping of parts 0 and 1.
#[derive(Debug, Clone, Copy)]
enum Split {
    Munmap,
    Mprotect,
    Dontneed,
    MremapOut,
}

fn split_one_entry(split: Split) -> TestResult {
    let fd = rw()?;
    fill_marks(&fd, PARTS_SIZE)?;
    let r = reserve_aligned(3 * PART).map_err(|e| e.to_string())?;
    let before = file_pmd_mapped_kib()?;
    let m =
        mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
    check_marks(&m, 0)?;
    check_eq!(entries_since(before)?, 2);
    // Page 5 of part 0: inside the first entry.
    let victim = 5 * PAGE;
    let (r, left) = match split {
        Split::Munmap => (m.unmap(victim, PAGE), 1),
        Split::Mprotect => (m.protect(victim, PAGE, libc::PROT_READ), 1),
        Split::Dontneed => (m.advise(victim, PAGE, libc::MADV_DONTNEED), 1),
        Split::MremapOut => {
            let dest = r.base + 2 * PART + PAGE;
            let moved = m.move_to(victim, PAGE, r.map(), dest);
            if let Ok(moved) = &moved {
                check_marks(moved, 5)?;
            }
            (moved.map(Map::forget), 1)
        }
    };
    check!(r.is_ok(), "{split:?} of one page: {r:?}");
    // The split dropped the first entry; the second is untouched.
    check_eq!(entries_since(before)?, left);
    // Every page still in the mapping shows its bytes: no SIGBUS, nothing shifted.
    for i in (0..1024).filter(|&i| i != 5 || matches!(split, Split::Mprotect | Split::Dontneed)) {
        let page = Map {
            addr: m.addr + i * PAGE,
            len: PAGE,
        };
        let checked = check_marks(&page, i);
        page.forget();
        checked?;
    }
    // After `MADV_DONTNEED` the range is still whole in the VMA: touching it brought the entry
    // back. After the others, part 0's pages are 4 KiB entries now.
    let expected = if matches!(split, Split::Dontneed) {
        2
    } else {
        1
    };
    check_eq!(entries_since(before)?, expected);
    // Stores on both sides of the split reach the buffer, and `pwrite`s reach the mapping.
    check_both_ways(&fd, &m, 6 * PAGE + 100, 6 * PAGE + 100)?;
    check_both_ways(&fd, &m, 4 * PAGE + 100, 4 * PAGE + 100)?;
    check_both_ways(&fd, &m, PART + 100, PART + 100)?;
    drop(m);
    check_eq!(entries_since(before)?, 0);
    Ok(())
}

pub fn munmap_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Munmap)
    })
}

pub fn mprotect_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Mprotect)
    })
}

pub fn madv_dontneed_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::Dontneed)
    })
}

pub fn mremap_of_part_of_a_pmd_entry_keeps_the_rest() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        split_one_entry(Split::MremapOut)
    })
}

/// `mremap` of whole entries to a 2 MiB-aligned address moves them as they are; to any other
/// address, the pages follow as 4 KiB entries.
pub fn mremap_moves_whole_pmd_entries() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(6 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        for (dest, expected) in [(r.base + 3 * PART, 2), (r.base + 3 * PART + PAGE, 0)] {
            let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, 2);
            // Into this test's own reservation.
            let moved = m.move_to(0, 2 * PART, r.map(), dest);
            let moved = moved.map_err(|e| format!("mremap to {dest:#x}: {e}"))?;
            m.forget();
            check_marks(&moved, 0)?;
            check_eq!(entries_since(before)?, expected);
            check_both_ways(&fd, &moved, PART + 1, PART + 1)?;
            drop(moved);
            check_eq!(entries_since(before)?, 0);
        }
        Ok(())
    })
}

/// Private mappings keep 4 KiB entries, also over huge parts, and stay copy-on-write.
pub fn private_mappings_of_huge_parts_use_4k_entries_and_stay_private() -> TestResult {
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(2 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_PRIVATE, 0)
            .map_err(|e| e.to_string())?;
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, 0);
        m.store_all(PART + 10, b"private");
        check_eq!(
            device_bytes((PART + 10) as i64, 7)?,
            (PART + 10..PART + 17).map(mark).collect::<Vec<u8>>()
        );
        pwrite(&fd, b"later", (PART + 3 * PAGE) as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(PART + 3 * PAGE, 5), b"later".to_vec());
        check_eq!(m.load_all(PART + 10, 7), b"private".to_vec());
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })
}

/// Where THP is refused (`MADV_NOHUGEPAGE` on the mapping, or `never` in sysfs), huge parts are
/// mapped a 4 KiB page at a time by the fault handler, with the same bytes and no `SIGBUS`.
pub fn huge_parts_map_4k_where_thp_is_refused() -> TestResult {
    const ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";
    with_module(&format!("size={PARTS_SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, PARTS_SIZE)?;
        let r = reserve_aligned(2 * PART).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
            .map_err(|e| e.to_string())?;
        m.advise(0, m.len, libc::MADV_NOHUGEPAGE)
            .map_err(|e| format!("MADV_NOHUGEPAGE: {e}"))?;
        check_marks(&m, 0)?;
        check_eq!(entries_since(before)?, 0);
        check_both_ways(&fd, &m, PART + 9, PART + 9)?;
        drop(m);

        let was = std::fs::read_to_string(ENABLED).map_err(|e| format!("{ENABLED}: {e}"))?;
        let was = was
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
            .ok_or_else(|| format!("{ENABLED}: {was}"))?
            .to_string();
        std::fs::write(ENABLED, "never").map_err(|e| format!("{ENABLED}: {e}"))?;
        let never = (|| {
            let m = mmap_fixed(&fd, r.base, 2 * PART, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, 0);
            check_both_ways(&fd, &m, 7, 7)
        })();
        let back = std::fs::write(ENABLED, &was).map_err(|e| format!("{ENABLED}: {e}"));
        never.and(back)
    })
}

/// A buffer with a part that could not be a 2 MiB folio between parts that are: PMD entries for
/// the huge parts, 4 KiB entries for the other, the same bytes everywhere, splits included. The
/// large allocation is failed on purpose (test kernel only): with fault injection counting only
/// page allocations of order 9 and up (and user copies), the Nth point of `insmod` fails, for
/// N = 1, 2, … until a load's small part is one in the middle.
pub fn a_small_part_between_huge_parts_maps_4k_between_pmd_entries() -> TestResult {
    use guest_tests::inject::{self, FailNth};
    if !inject::available() {
        return Err("SKIP: no fault injection in this kernel".to_string());
    }
    let setup = inject::Setup::new(true)?;
    // No slab allocation counts (only caches marked SLAB_FAILSLAB, and none is), no page
    // allocation below order 9.
    let knobs = |cache_filter: &str, min_order: &str| -> TestResult {
        for (knob, value) in [
            ("failslab/cache-filter", cache_filter),
            ("fail_page_alloc/min-order", min_order),
        ] {
            std::fs::write(format!("/sys/kernel/debug/{knob}"), value)
                .map_err(|e| format!("{knob}: {e}"))?;
        }
        Ok(())
    };
    knobs("Y", "9")?;
    let params = format!("size={PARTS_SIZE}");
    let mut found = None;
    let mut tried = Vec::new();
    let result = (|| {
        for n in 1..=2 * PARTS + 4 {
            if module_loaded() {
                rmmod().map_err(|e| format!("rmmod: {e}"))?;
            }
            let mut nth = FailNth::open()?;
            nth.arm(n)?;
            let loaded = insmod(&params);
            let injected = nth.injected()?;
            drop(nth);
            if let Err(e) = loaded {
                // The failure hit something the load cannot do without (a user copy).
                tried.push(format!("{n}: {e}"));
                continue;
            }
            let fd = rw()?;
            let huge = fdinfo_field(&fd, "mydev-huge-parts:")?;
            tried.push(format!("{n}: {huge} huge, injected {injected}"));
            if huge != (PARTS - 1) as u64 {
                continue;
            }
            fill_marks(&fd, PARTS_SIZE)?;
            let r = reserve_aligned(PARTS_SIZE).map_err(|e| e.to_string())?;
            // Which part is small: the one whose own aligned mapping gets no PMD entry.
            let mut small = None;
            for k in 0..PARTS {
                let before = file_pmd_mapped_kib()?;
                let m = mmap_fixed(&fd, r.base, PART, RW, libc::MAP_SHARED, (k * PART) as u64)
                    .map_err(|e| e.to_string())?;
                check_marks(&m, k * 512)?;
                if entries_since(before)? == 0 {
                    small = Some(k);
                }
            }
            tried.push(format!("{n}: small part {small:?}"));
            let Some(k) = small.filter(|&k| k > 0 && k < PARTS - 1) else {
                continue;
            };
            // The whole buffer: an entry for each huge part, 4 KiB in the small one.
            let before = file_pmd_mapped_kib()?;
            let m = mmap_fixed(&fd, r.base, PARTS_SIZE, RW, libc::MAP_SHARED, 0)
                .map_err(|e| e.to_string())?;
            check_marks(&m, 0)?;
            check_eq!(entries_since(before)?, (PARTS - 1) as i64);
            check_both_ways(&fd, &m, k * PART - 3, k * PART - 3)?;
            check_both_ways(&fd, &m, (k + 1) * PART - 3, (k + 1) * PART - 3)?;
            // Split the entry after the small part; its neighbours stay as they were.
            check!(m.unmap((k + 1) * PART + PAGE, PAGE).is_ok(), "munmap");
            for i in (0..PARTS_SIZE / PAGE).filter(|&i| i != (k + 1) * 512 + 1) {
                let one = Map {
                    addr: m.addr + i * PAGE,
                    len: PAGE,
                };
                let checked = check_marks(&one, i);
                one.forget();
                checked?;
            }
            check_eq!(entries_since(before)?, (PARTS - 2) as i64);
            drop(m);
            check_eq!(entries_since(before)?, 0);
            found = Some((n, k));
            break;
        }
        Ok(())
    })();
    let back = restore();
    drop(setup);
    let knobs_back = knobs("N", "0");
    result.and(back).and(knobs_back)?;
    match found {
        Some((n, k)) => {
            println!("# failing point {n} of insmod left part {k} of {PARTS} small");
            Ok(())
        }
        None => Err(format!(
            "no failure point of insmod left a middle part small: {}",
            tried.join("; ")
        )),
    }
}

/// Splits of every kind over every entry of a 512 MiB buffer, then unload: the memory comes back
/// (a PMD split that kept its folio reference would keep 2 MiB per split, 512 MiB in all). The
/// margin, 192 MiB, covers what the debug kernel keeps for a while after a free: KASAN's
/// quarantine (up to a 32nd of memory) and the vmalloc shadow of the buffer's `vmap` until the
/// lazy purge.
pub fn unload_after_pmd_splits_frees_every_part() -> TestResult {
    const SIZE: usize = 512 << 20;
    let free_before = meminfo_kib("MemFree:")?;
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        // Nearly every part is a 2 MiB folio (all of them, after a fresh boot).
        let huge = fdinfo_field(&fd, "mydev-huge-parts:")? as i64;
        let parts = (SIZE / PART) as i64;
        check!(
            huge * 10 >= parts * 9,
            "only {huge} of {parts} parts are huge"
        );
        let r = reserve_aligned(SIZE).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let m =
            mmap_fixed(&fd, r.base, SIZE, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        for i in (0..SIZE).step_by(PAGE) {
            m.store(i, 1);
        }
        check_eq!(entries_since(before)?, huge);
        for k in 0..SIZE / PART {
            let page = k * PART + (k % 7 + 1) * PAGE;
            let r = match k % 3 {
                0 => m.unmap(page, PAGE),
                1 => m.protect(page, PAGE, libc::PROT_READ),
                _ => m.advise(page, PAGE, libc::MADV_DONTNEED),
            };
            check!(r.is_ok(), "split {k}: {r:?}");
        }
        // Fault the split ranges back in, then unmap everything and close.
        for i in (0..SIZE).step_by(PAGE) {
            let k = i / PART;
            if k % 3 != 0 || i % PART != (k % 7 + 1) * PAGE {
                check!(m.load(i) == 1, "byte {i:#x} lost its store");
            }
        }
        drop(m);
        check_eq!(entries_since(before)?, 0);
        Ok(())
    })?;
    let free_after = meminfo_kib("MemFree:")?;
    check!(
        free_after > free_before - 192 * 1024,
        "MemFree was {free_before} KiB before the 512 MiB load and is {free_after} KiB after the unload"
    );
    Ok(())
}
