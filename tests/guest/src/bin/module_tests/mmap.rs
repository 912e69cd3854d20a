// SPDX-License-Identifier: GPL-2.0

//! `mmap`: shared and private mappings, their ranges, `mremap`, `munmap` and `madvise`.

use super::{RW, rw};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};

pub fn mapping_and_write_see_each_other_immediately() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    pwrite(&fd, b"from write", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 10), b"from write".to_vec());
    m.store_all(20, b"from map");
    let mut b = [0u8; 8];
    pread(&fd, &mut b, 20).map_err(|e| e.to_string())?;
    check_eq!(&b, b"from map");
    Ok(())
}

pub fn mappings_in_two_processes_share_bytes() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store(0, 0);
    // The child maps the device by itself (not inherited) and writes; the parent sees it.
    in_child(|| {
        let fd = rw()?;
        let c = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
        c.store_all(0, b"child was here");
        Ok(())
    })?;
    check_eq!(m.load_all(0, 14), b"child was here".to_vec());
    Ok(())
}

pub fn fork_child_shares_the_inherited_mapping() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"parent");
    let addr = m.addr;
    in_child(|| {
        let view = Map { addr, len: PAGE };
        check_eq!(view.load_all(0, 6), b"parent".to_vec());
        view.store_all(0, b"child!");
        view.forget();
        Ok(())
    })?;
    check_eq!(m.load_all(0, 6), b"child!".to_vec());
    Ok(())
}

pub fn any_page_aligned_range_inside_maps() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, &[b'A' + p as u8], (p * PAGE) as i64).map_err(|e| e.to_string())?;
        }
        for (pgoff, pages) in [(0, 4), (1, 3), (3, 1), (2, 2), (1, 1)] {
            let m =
                map_shared(&fd, pages, pgoff).map_err(|e| format!("map {pgoff}+{pages}: {e}"))?;
            for i in 0..pages {
                check_eq!(m.load(i * PAGE), b'A' + (pgoff + i) as u8);
            }
        }
        let ro =
            mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        check_eq!(ro.load(0), b'A');
        Ok(())
    })
}

/// Pages are inserted at `mmap` in batches of 64: ranges that start, end and cross inside and
/// between batches must still map every page to its own offset.
pub fn long_mappings_map_every_page_to_its_own_offset() -> TestResult {
    const PAGES: usize = 300;
    with_module(&format!("size={}", PAGES * PAGE), || {
        let fd = rw()?;
        let mark = |p: usize| [(p % 251) as u8 + 1, (p / 251) as u8 + 1];
        for p in 0..PAGES {
            pwrite(&fd, &mark(p), (p * PAGE + PAGE - 2) as i64).map_err(|e| e.to_string())?;
        }
        for (pgoff, pages) in [
            (0, PAGES),
            (1, 150),
            (63, 66),
            (64, 64),
            (130, 170),
            (299, 1),
        ] {
            let m =
                map_shared(&fd, pages, pgoff).map_err(|e| format!("map {pgoff}+{pages}: {e}"))?;
            for i in 0..pages {
                let at = i * PAGE + PAGE - 2;
                let got = [m.load(at), m.load(at + 1)];
                check!(
                    got == mark(pgoff + i),
                    "map {pgoff}+{pages}: page {i} shows {got:?}, expected page {}'s {:?}",
                    pgoff + i,
                    mark(pgoff + i)
                );
            }
        }
        Ok(())
    })
}

pub fn ranges_outside_the_buffer_are_einval() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        let cases: [(usize, u64); 6] = [
            (PAGE, 4 * PAGE as u64),              // offset at the end
            (PAGE, 5 * PAGE as u64),              // past the end
            (5 * PAGE, 0),                        // too long
            (2 * PAGE, 3 * PAGE as u64),          // crosses the end
            (PAGE, 1u64 << 63),                   // absurd offset
            (PAGE, u64::MAX - (PAGE as u64 - 1)), // the last page of the offset space
        ];
        for (len, off) in cases {
            let r = mmap(&fd, len, RW, libc::MAP_SHARED, off);
            check!(
                errno(&r) == Some(libc::EINVAL)
                    || (off > (1 << 62) && errno(&r) == Some(libc::EOVERFLOW)),
                "mmap len {len} off {off:#x}: {r:?}"
            );
        }
        // Offsets the core mm lets through must reach the driver's check: 2^63 does.
        expect_errno(
            mmap(&fd, PAGE, RW, libc::MAP_SHARED, 1u64 << 63),
            libc::EINVAL,
            "mmap at 2^63",
        )?;
        Ok(())
    })
}

pub fn read_only_open_gets_read_only_mappings_only() -> TestResult {
    let fd = open_ro().map_err(|e| e.to_string())?;
    expect_errno(
        mmap(&fd, PAGE, RW, libc::MAP_SHARED, 0),
        libc::EACCES,
        "writable shared map of O_RDONLY",
    )?;
    let m = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
    let r = m.protect(0, PAGE, RW);
    check!(
        errno(&r) == Some(libc::EACCES),
        "mprotect to writable: {r:?}"
    );
    let wfd = rw()?;
    pwrite(&wfd, b"ro view", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 7), b"ro view".to_vec());
    Ok(())
}

pub fn private_mapping_reads_the_buffer_and_keeps_its_stores() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"device bytes", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 12), b"device bytes".to_vec());
    m.store_all(0, b"PRIVATE");
    check_eq!(m.load_all(0, 12), b"PRIVATEbytes".to_vec());
    check_eq!(device_bytes(0, 12)?, b"device bytes".to_vec());
    // Read-only private mappings work too, for programs that map a file to read it.
    let ro = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_PRIVATE, 0).map_err(|e| e.to_string())?;
    check_eq!(ro.load_all(0, 12), b"device bytes".to_vec());
    Ok(())
}

pub fn first_store_to_an_untouched_private_page_stays_private() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        clear(&fd)?;
        let m = map_private(&fd, 4, 0).map_err(|e| e.to_string())?;
        // Page 0: a store with no load before it (the entry was inserted read-only at mmap).
        m.store(10, 0xAA);
        // Page 1: its entry removed first, so the store is a write fault on a missing entry.
        let page1 = Map {
            addr: m.addr + PAGE,
            len: PAGE,
        };
        page1.dontneed()?;
        page1.forget();
        m.store(PAGE + 10, 0xBB);
        // Page 2: a whole page of stores, one after another.
        m.store_all(2 * PAGE, &vec![0xCC; PAGE]);
        check_eq!(m.load(10), 0xAA);
        check_eq!(m.load(PAGE + 10), 0xBB);
        check_eq!(m.load_all(2 * PAGE, PAGE), vec![0xCC; PAGE]);
        check!(
            device_bytes(0, 4 * PAGE)?.iter().all(|&b| b == 0),
            "a store through a private mapping reached the device"
        );
        Ok(())
    })
}

pub fn private_stores_after_madv_dontneed_stay_private() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"original", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"copy one");
    m.dontneed()?;
    // The private copy is gone: the page shows the device again.
    check_eq!(m.load_all(0, 8), b"original".to_vec());
    m.store_all(0, b"copy two");
    check_eq!(m.load_all(0, 8), b"copy two".to_vec());
    m.dontneed()?;
    m.store(0, b'X');
    check_eq!(m.load_all(0, 8), b"Xriginal".to_vec());
    check_eq!(device_bytes(0, 8)?, b"original".to_vec());
    Ok(())
}

pub fn private_writable_mappings_of_a_read_only_open_stay_private() -> TestResult {
    let wfd = rw()?;
    pwrite(&wfd, b"read-only file", 0).map_err(|e| e.to_string())?;
    let fd = open_ro().map_err(|e| e.to_string())?;
    // As for a regular file, a private mapping may be writable on a read-only open.
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"written!");
    check_eq!(m.load_all(0, 14), b"written!y file".to_vec());
    // And a read-only private mapping may be made writable later.
    let r = mmap(&fd, PAGE, libc::PROT_READ, libc::MAP_PRIVATE, 0).map_err(|e| e.to_string())?;
    r.protect(0, PAGE, RW)
        .map_err(|e| format!("mprotect to writable: {e}"))?;
    r.store_all(0, b"mprotect");
    check_eq!(r.load_all(0, 8), b"mprotect".to_vec());
    check_eq!(device_bytes(0, 14)?, b"read-only file".to_vec());
    // A shared writable mapping of the same open is still refused.
    expect_errno(
        mmap(&fd, PAGE, RW, libc::MAP_SHARED, 0),
        libc::EACCES,
        "shared rw on O_RDONLY",
    )
}

pub fn private_mapping_sees_later_writes_until_it_copies_a_page() -> TestResult {
    with_module("size=8192", || {
        let fd = rw()?;
        clear(&fd)?;
        let m = map_private(&fd, 2, 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"live 0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"live 1", PAGE as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(0, 6), b"live 0".to_vec());
        check_eq!(m.load_all(PAGE, 6), b"live 1".to_vec());
        // Copy page 0 by storing into it: from then on it no longer follows the device.
        m.store(100, 1);
        pwrite(&fd, b"late 0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"late 1", PAGE as i64).map_err(|e| e.to_string())?;
        check_eq!(m.load_all(0, 6), b"live 0".to_vec());
        check_eq!(m.load_all(PAGE, 6), b"late 1".to_vec());
        Ok(())
    })
}

pub fn fork_keeps_each_processs_private_copies_apart() -> TestResult {
    let fd = rw()?;
    pwrite(&fd, b"device", 0).map_err(|e| e.to_string())?;
    let m = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"parent");
    let addr = m.addr;
    in_child(|| {
        let view = Map { addr, len: PAGE };
        check_eq!(view.load_all(0, 6), b"parent".to_vec());
        view.store_all(0, b"child!");
        check_eq!(view.load_all(0, 6), b"child!".to_vec());
        view.forget();
        Ok(())
    })?;
    check_eq!(m.load_all(0, 6), b"parent".to_vec());
    check_eq!(device_bytes(0, 6)?, b"device".to_vec());
    // A child that stores into a page the parent never copied does not change it either.
    let fresh = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    let faddr = fresh.addr;
    in_child(|| {
        let view = Map {
            addr: faddr,
            len: PAGE,
        };
        view.store_all(0, b"CHILD");
        view.forget();
        Ok(())
    })?;
    check_eq!(fresh.load_all(0, 6), b"device".to_vec());
    check_eq!(device_bytes(0, 6)?, b"device".to_vec());
    Ok(())
}

pub fn private_and_shared_mappings_of_one_page_side_by_side() -> TestResult {
    let fd = rw()?;
    clear(&fd)?;
    let shared = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    let private = map_private(&fd, 1, 0).map_err(|e| e.to_string())?;
    shared.store_all(0, b"shared store");
    check_eq!(private.load_all(0, 12), b"shared store".to_vec());
    private.store_all(0, b"PRIVATE");
    check_eq!(shared.load_all(0, 12), b"shared store".to_vec());
    check_eq!(private.load_all(0, 12), b"PRIVATEstore".to_vec());
    shared.store_all(0, b"later");
    check_eq!(private.load_all(0, 7), b"PRIVATE".to_vec());
    check_eq!(device_bytes(0, 12)?, b"laterd store".to_vec());
    Ok(())
}

pub fn private_mappings_follow_the_range_rules() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, &[b'A' + p as u8], (p * PAGE) as i64).map_err(|e| e.to_string())?;
        }
        let m = map_private(&fd, 2, 2).map_err(|e| e.to_string())?;
        check_eq!(m.load(0), b'C');
        check_eq!(m.load(PAGE), b'D');
        expect_errno(
            mmap(&fd, 2 * PAGE, RW, libc::MAP_PRIVATE, 3 * PAGE as u64),
            libc::EINVAL,
            "private range past the end",
        )?;
        expect_errno(
            mmap(&fd, PAGE, RW, libc::MAP_PRIVATE, 4 * PAGE as u64),
            libc::EINVAL,
            "private range at the end",
        )
    })
}

pub fn executable_mappings_are_refused_now_and_later() -> TestResult {
    let fd = rw()?;
    for (flags, kind) in [(libc::MAP_SHARED, "shared"), (libc::MAP_PRIVATE, "private")] {
        expect_errno(
            mmap(&fd, PAGE, libc::PROT_READ | libc::PROT_EXEC, flags, 0),
            libc::EPERM,
            &format!("{kind} PROT_EXEC"),
        )?;
        let m = mmap(&fd, PAGE, RW, flags, 0).map_err(|e| e.to_string())?;
        let r = m.protect(0, PAGE, libc::PROT_READ | libc::PROT_EXEC);
        check!(
            errno(&r) == Some(libc::EACCES),
            "mprotect PROT_EXEC on a {kind} mapping: {r:?}"
        );
    }
    Ok(())
}

pub fn mremap_cannot_grow_but_shrinks_and_moves() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        pwrite(&fd, b"page0", 0).map_err(|e| e.to_string())?;
        pwrite(&fd, b"page1", PAGE as i64).map_err(|e| e.to_string())?;
        let m = map_shared(&fd, 2, 0).map_err(|e| e.to_string())?;
        // On failure nothing changes.
        let g = m.remap(0, 2 * PAGE, 3 * PAGE, libc::MREMAP_MAYMOVE);
        check!(errno(&g) == Some(libc::EFAULT), "growing mremap: {g:?}");
        // Shrinking in place keeps the first page at the same address.
        let s = m.remap(0, 2 * PAGE, PAGE, 0);
        check!(
            matches!(s, Ok(a) if a == m.addr),
            "shrinking mremap failed: {s:?}"
        );
        check_eq!(m.load_all(0, 5), b"page0".to_vec());
        let addr = m.addr;
        m.forget();
        let shrunk = Map { addr, len: PAGE };
        // Move it: a new address, same contents.
        let target = map_shared(&fd, 2, 0).map_err(|e| e.to_string())?;
        let dest = target.addr + PAGE;
        // Our one-page mapping over the second page of our other mapping.
        let mv = shrunk.move_to(0, PAGE, &target, dest);
        check!(mv.is_ok(), "moving mremap failed: {mv:?}");
        mv.map(Map::forget).ok();
        shrunk.forget();
        check_eq!(target.load_all(PAGE, 5), b"page0".to_vec());
        check_eq!(target.load_all(0, 5), b"page0".to_vec());
        Ok(())
    })
}

pub fn munmap_of_a_middle_page_keeps_the_rest_in_place() -> TestResult {
    with_module("size=16384", || {
        let fd = rw()?;
        for p in 0..4 {
            pwrite(&fd, format!("page{p}").as_bytes(), (p * PAGE) as i64)
                .map_err(|e| e.to_string())?;
        }
        let m = map_shared(&fd, 4, 0).map_err(|e| e.to_string())?;
        // The second page.
        check!(m.unmap(PAGE, PAGE).is_ok(), "munmap of the second page");
        for p in [0usize, 2, 3] {
            check_eq!(m.load_all(p * PAGE, 5), format!("page{p}").into_bytes());
        }
        // Writes through the remaining pieces land at the right offsets.
        m.store_all(3 * PAGE + 10, b"tail");
        let mut b = [0u8; 4];
        pread(&fd, &mut b, (3 * PAGE + 10) as i64).map_err(|e| e.to_string())?;
        check_eq!(&b, b"tail");
        let addr = m.addr;
        m.forget();
        drop(Map { addr, len: PAGE });
        drop(Map {
            addr: addr + 2 * PAGE,
            len: 2 * PAGE,
        });
        Ok(())
    })
}

pub fn dropped_pages_come_back_with_current_contents() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    m.store_all(0, b"before");
    m.dontneed()?;
    pwrite(&fd, b"after!", 0).map_err(|e| e.to_string())?;
    check_eq!(m.load_all(0, 6), b"after!".to_vec());
    m.store_all(0, b"again");
    let mut b = [0u8; 5];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"again");
    Ok(())
}

pub fn mapping_outlives_its_file_descriptor() -> TestResult {
    let fd = rw()?;
    let m = map_shared(&fd, 1, 0).map_err(|e| e.to_string())?;
    drop(fd);
    m.store_all(0, b"no fd");
    let fd = rw()?;
    let mut b = [0u8; 5];
    pread(&fd, &mut b, 0).map_err(|e| e.to_string())?;
    check_eq!(&b, b"no fd");
    Ok(())
}
