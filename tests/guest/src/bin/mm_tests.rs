// SPDX-License-Identifier: GPL-2.0

//! The buffer meeting the rest of the kernel: `sendfile`, `splice` and `tee`; the core mm's
//! walkers of huge pages (`split_huge_pages`, `/proc/kpageflags`, `MADV_COLD`/`MADV_PAGEOUT`);
//! page faults racing over the THP policy; NUMA balancing; and what the core mm does with a
//! special VMA (`mlock`, `MADV_COLLAPSE`). Each test would fail on a module that got it wrong
//! (the note of issue 19 says which ones were seen failing before their fix).

use guest_tests::marks::{check_filled, check_marks, fill_marks, mark};
use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

const RW: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

/// Two whole 2 MiB parts and a tail of two pages.
const SIZE: usize = 2 * PART + 2 * PAGE;

fn rw() -> Result<OwnedFd, String> {
    open_rw().map_err(|e| format!("open {DEVICE}: {e}"))
}

/// The kernel-log lines that a test must not cause: any report of the kernel's checkers, and the
/// fault path's complaint about a fault handler that returned `VM_FAULT_OOM` without an OOM.
const REPORTS: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "KASAN:",
    "Huh VM_FAULT_OOM",
    "Bad page",
    "general protection fault",
];

/// The kernel log's lines after the first `skip` lines that look like a report.
fn reports_since(skip: usize) -> Vec<String> {
    dmesg()
        .lines()
        .skip(skip)
        .filter(|l| REPORTS.iter().any(|r| l.contains(r)))
        .map(str::to_string)
        .collect()
}

fn log_lines() -> usize {
    dmesg().lines().count()
}

fn check_log_clean(skip: usize) -> TestResult {
    let r = reports_since(skip);
    check!(r.is_empty(), "the kernel log reports: {}", r.join(" | "));
    Ok(())
}

/// Mounts debugfs if it is not mounted.
fn debugfs() -> TestResult {
    if std::path::Path::new("/sys/kernel/debug/kmemleak").exists()
        || std::fs::read_dir("/sys/kernel/debug").is_ok_and(|mut d| d.next().is_some())
    {
        return Ok(());
    }
    let (st, _, err) = sh("mount -t debugfs debugfs /sys/kernel/debug");
    check!(st == 0, "mounting debugfs: {err}");
    Ok(())
}

/// A pipe: (read end, write end).
fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(format!("pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: both descriptors were just opened and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Turns the -1/errno convention of a size-returning call into a `Result`.
fn cvt_size(r: isize) -> std::io::Result<usize> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// `splice(2)`; `off` `None` uses (and moves) the file position.
fn splice(
    from: &OwnedFd,
    off_from: Option<&mut i64>,
    to: &OwnedFd,
    off_to: Option<&mut i64>,
    len: usize,
) -> std::io::Result<usize> {
    let p = |o: Option<&mut i64>| o.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: valid descriptors, and offsets that are null or point to this caller's integers.
    cvt_size(unsafe {
        libc::splice(
            from.as_raw_fd(),
            p(off_from),
            to.as_raw_fd(),
            p(off_to),
            len,
            0,
        )
    })
}

/// `sendfile(2)`; `off` `None` uses (and moves) the file position of `from`.
fn sendfile(
    to: &OwnedFd,
    from: &OwnedFd,
    off: Option<&mut i64>,
    len: usize,
) -> std::io::Result<usize> {
    let off = off.map_or(std::ptr::null_mut(), |o| o as *mut i64);
    // SAFETY: valid descriptors, and an offset that is null or this caller's integer.
    cvt_size(unsafe { libc::sendfile(to.as_raw_fd(), from.as_raw_fd(), off, len) })
}

/// Reads exactly `n` bytes from a pipe.
fn read_n(fd: &OwnedFd, n: usize) -> Result<Vec<u8>, String> {
    let mut b = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match read(fd, &mut b[got..]) {
            Ok(0) => return Err(format!("pipe ended after {got} of {n} bytes")),
            Ok(k) => got += k,
            Err(e) => return Err(format!("read from the pipe: {e}")),
        }
    }
    Ok(b)
}

/// A regular file in the guest's tmpfs, opened read-write, empty.
fn temp_file(name: &str) -> Result<OwnedFd, String> {
    let path = format!("/tmp/{name}");
    let _ = std::fs::remove_file(&path);
    open(&path, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC).map_err(|e| format!("{path}: {e}"))
}

// ---- sendfile, splice, tee, copy_file_range ----

fn sendfile_to_a_file_copies_from_the_position_or_the_offset() -> TestResult {
    let fd = rw()?;
    let size = device_size()?;
    fill_marks(&fd, size)?;
    let out = temp_file("sendfile")?;
    // From the file position, which moves.
    check_eq!(
        lseek(&fd, 100, libc::SEEK_SET).map_err(|e| e.to_string())?,
        100
    );
    check_eq!(
        sendfile(&out, &fd, None, 300).map_err(|e| e.to_string())?,
        300
    );
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        400
    );
    // From an offset, which moves; the file position does not.
    let mut off = (size - 50) as i64;
    check_eq!(
        sendfile(&out, &fd, Some(&mut off), 1000).map_err(|e| e.to_string())?,
        50
    );
    check_eq!(off, size as i64);
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        400
    );
    // At the end: nothing.
    check_eq!(
        sendfile(&out, &fd, Some(&mut off), 10).map_err(|e| e.to_string())?,
        0
    );
    let mut got = vec![0u8; 350];
    check_eq!(pread(&out, &mut got, 0).map_err(|e| e.to_string())?, 350);
    let want: Vec<u8> = (100..400).chain(size - 50..size).map(mark).collect();
    check!(got == want, "the file got other bytes than the device's");
    Ok(())
}

fn sendfile_to_a_pipe_streams_the_buffer() -> TestResult {
    let fd = rw()?;
    let size = device_size()?;
    fill_marks(&fd, size)?;
    let (r, w) = pipe()?;
    let n = size.min(16 * PAGE);
    let mut off = 0i64;
    let mut sent = 0;
    while sent < n {
        let k = sendfile(&w, &fd, Some(&mut off), n - sent).map_err(|e| e.to_string())?;
        check!(k > 0, "sendfile to a pipe sent nothing at {sent}");
        check_eq!(
            read_n(&r, k)?,
            (sent..sent + k).map(mark).collect::<Vec<u8>>()
        );
        sent += k;
    }
    check_eq!(off, n as i64);
    Ok(())
}

fn splice_from_the_device_into_a_pipe_with_and_without_an_offset() -> TestResult {
    let fd = rw()?;
    let size = device_size()?;
    fill_marks(&fd, size)?;
    let (r, w) = pipe()?;
    check_eq!(lseek(&fd, 7, libc::SEEK_SET).map_err(|e| e.to_string())?, 7);
    check_eq!(
        splice(&fd, None, &w, None, 100).map_err(|e| e.to_string())?,
        100
    );
    check_eq!(read_n(&r, 100)?, (7..107).map(mark).collect::<Vec<u8>>());
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        107
    );
    let mut off = (size - 10) as i64;
    check_eq!(
        splice(&fd, Some(&mut off), &w, None, 100).map_err(|e| e.to_string())?,
        10
    );
    check_eq!(
        read_n(&r, 10)?,
        (size - 10..size).map(mark).collect::<Vec<u8>>()
    );
    check_eq!(off, size as i64);
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        107
    );
    check_eq!(
        splice(&fd, Some(&mut off), &w, None, 100).map_err(|e| e.to_string())?,
        0
    );
    Ok(())
}

fn splice_from_a_pipe_into_the_device_with_and_without_an_offset() -> TestResult {
    let fd = rw()?;
    let size = device_size()?;
    clear(&fd)?;
    let (r, w) = pipe()?;
    check_eq!(
        write(&w, b"spliced at the position").map_err(|e| e.to_string())?,
        23
    );
    check_eq!(lseek(&fd, 5, libc::SEEK_SET).map_err(|e| e.to_string())?, 5);
    check_eq!(
        splice(&r, None, &fd, None, 23).map_err(|e| e.to_string())?,
        23
    );
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        28
    );
    check_eq!(device_bytes(5, 23)?, b"spliced at the position".to_vec());

    check_eq!(write(&w, b"at an offset!").map_err(|e| e.to_string())?, 13);
    let mut off = (size - 6) as i64;
    check_eq!(
        splice(&r, None, &fd, Some(&mut off), 13).map_err(|e| e.to_string())?,
        6
    );
    check_eq!(off, size as i64);
    check_eq!(device_bytes((size - 6) as i64, 6)?, b"at an ".to_vec());
    check_eq!(
        lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?,
        28
    );
    // At the end: ENOSPC, as for write(2); the rest stays in the pipe.
    expect_errno(
        splice(&r, None, &fd, Some(&mut off), 7),
        libc::ENOSPC,
        "splice at the end",
    )?;
    check_eq!(read_n(&r, 7)?, b"offset!".to_vec());
    // A read-only open cannot be spliced into.
    let ro = open_ro().map_err(|e| e.to_string())?;
    check_eq!(write(&w, b"x").map_err(|e| e.to_string())?, 1);
    expect_errno(
        splice(&r, None, &ro, None, 1),
        libc::EBADF,
        "splice into O_RDONLY",
    )
}

fn tee_duplicates_what_the_device_spliced() -> TestResult {
    let fd = rw()?;
    let size = device_size()?;
    fill_marks(&fd, size)?;
    let (r1, w1) = pipe()?;
    let (r2, w2) = pipe()?;
    let mut off = 64i64;
    check_eq!(
        splice(&fd, Some(&mut off), &w1, None, 200).map_err(|e| e.to_string())?,
        200
    );
    // SAFETY: two valid pipe descriptors.
    let n = cvt_size(unsafe { libc::tee(r1.as_raw_fd(), w2.as_raw_fd(), 200, 0) })
        .map_err(|e| format!("tee: {e}"))?;
    check_eq!(n, 200);
    let want: Vec<u8> = (64..264).map(mark).collect();
    check_eq!(read_n(&r1, 200)?, want);
    check_eq!(read_n(&r2, 200)?, want);
    Ok(())
}

/// `copy_file_range(2)` is for regular files: the kernel refuses a character device on either
/// side with `EINVAL` before any driver code runs (`generic_file_rw_checks()`), as its manual
/// page documents; `sendfile`/`splice` are the way.
fn copy_file_range_with_the_device_is_einval_as_documented() -> TestResult {
    let fd = rw()?;
    let file = temp_file("cfr")?;
    check_eq!(write(&file, &[7u8; 64]).map_err(|e| e.to_string())?, 64);
    let cfr = |from: &OwnedFd, to: &OwnedFd| {
        let (mut a, mut b) = (0i64, 0i64);
        // SAFETY: valid descriptors and offsets that are this closure's integers.
        cvt_size(unsafe {
            libc::copy_file_range(from.as_raw_fd(), &mut a, to.as_raw_fd(), &mut b, 64, 0)
        })
    };
    expect_errno(
        cfr(&fd, &file),
        libc::EINVAL,
        "copy_file_range device → file",
    )?;
    expect_errno(
        cfr(&file, &fd),
        libc::EINVAL,
        "copy_file_range file → device",
    )
}

// ---- The core mm's walkers of huge pages ----

/// The three kinds of mapping of these tests, over a buffer of two huge parts: a shared one
/// mapped with PMD entries, a shared one at an offset that lines up with no part (4 KiB entries
/// of the parts' pages), and a private one (4 KiB entries, some of them private copies).
struct Mappings {
    huge: Map,
    small: Map,
    private: Map,
    _r: Reserve,
}

impl Mappings {
    fn new(fd: &OwnedFd) -> Result<Self, String> {
        // The PMD-mapped mapping at `base`; the other shared one 6 MiB further, at an aligned
        // address but an offset of three pages, so that no part lines up with a 2 MiB address.
        let r = reserve_aligned(3 * PART + SIZE).map_err(|e| e.to_string())?;
        let before = file_pmd_mapped_kib()?;
        let huge =
            mmap_fixed(fd, r.base, SIZE, RW, libc::MAP_SHARED, 0).map_err(|e| e.to_string())?;
        check_marks(&huge, 0)?;
        let entries = (file_pmd_mapped_kib()? - before) / (PART as i64 / 1024);
        check!(
            entries == 2,
            "{entries} PMD entries for the aligned mapping, expected 2"
        );
        let small = mmap_fixed(
            fd,
            r.base + 3 * PART,
            SIZE - 3 * PAGE,
            RW,
            libc::MAP_SHARED,
            3 * PAGE as u64,
        )
        .map_err(|e| e.to_string())?;
        check_marks(&small, 3)?;
        let private = map_private(fd, SIZE / PAGE, 0).map_err(|e| e.to_string())?;
        check_marks(&private, 0)?;
        // A few private copies: a store to an untouched private page copies it.
        for at in [PAGE + 5, PART + 9] {
            private.store(at, !mark(at));
        }
        Ok(Self {
            huge,
            small,
            private,
            _r: r,
        })
    }

    /// Every mapping still shows the buffer (and the private copies their own bytes), and the
    /// buffer is unchanged.
    fn check(&self, fd: &OwnedFd) -> TestResult {
        check_marks(&self.huge, 0)?;
        check_marks(&self.small, 3)?;
        for i in 0..SIZE / PAGE {
            for k in [0, 5, 9, PAGE - 1] {
                let at = i * PAGE + k;
                let want = if at == PAGE + 5 || at == PART + 9 {
                    !mark(at)
                } else {
                    mark(at)
                };
                check!(
                    self.private.load(at) == want,
                    "private mapping byte {at:#x} is {:#x}, expected {want:#x}",
                    self.private.load(at)
                );
            }
        }
        check_filled(fd, SIZE)
    }

    fn ranges(&self) -> [(&'static str, usize, usize); 3] {
        [
            ("PMD-mapped", self.huge.addr, self.huge.len),
            (
                "4 KiB at an unaligned offset",
                self.small.addr,
                self.small.len,
            ),
            ("private", self.private.addr, self.private.len),
        ]
    }
}

/// Root's `split_huge_pages` debugfs file, asked to split every huge page of each mydev
/// mapping: the buffer's 2 MiB folios are a driver's, not THPs of the page cache, so nothing is
/// split, nothing changes and the kernel reports nothing. (When they looked like page-cache THPs
/// with no `mapping`, this write oopsed in `split_huge_pages_pid()`.)
fn split_huge_pages_in_debugfs_leaves_the_buffer_alone() -> TestResult {
    const SPLIT: &str = "/sys/kernel/debug/split_huge_pages";
    debugfs()?;
    if !std::path::Path::new(SPLIT).exists() {
        return Err(format!("SKIP: no {SPLIT} (needs THP and debugfs)"));
    }
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, SIZE)?;
        let maps = Mappings::new(&fd)?;
        let skip = log_lines();
        let pid = std::process::id();
        for (what, addr, len) in maps.ranges() {
            let line = format!("{pid},{addr:#x},{:#x}", addr + len);
            std::fs::write(SPLIT, &line).map_err(|e| format!("{SPLIT} < {line} ({what}): {e}"))?;
            maps.check(&fd)
                .map_err(|e| format!("after splitting the {what} mapping: {e}"))?;
        }
        check_log_clean(skip)
    })
}

/// `MADV_COLD` and `MADV_PAGEOUT` over part of a 2 MiB entry and over 4 KiB entries of a huge
/// part ask the core mm to split the folio: it refuses (the folio has no `mapping`), and
/// nothing changes.
fn madv_cold_and_pageout_leave_the_buffer_alone() -> TestResult {
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, SIZE)?;
        let maps = Mappings::new(&fd)?;
        let skip = log_lines();
        for advice in [libc::MADV_COLD, libc::MADV_PAGEOUT] {
            for (what, addr, len) in maps.ranges() {
                // The whole mapping, then a part of it that cuts a 2 MiB range.
                for (a, l) in [(addr, len), (addr + PAGE, PART)] {
                    // SAFETY: advice on this test's own mappings, inside them.
                    let r = unsafe {
                        libc::madvise(a as *mut libc::c_void, l.min(len - (a - addr)), advice)
                    };
                    check!(
                        r == 0,
                        "madvise({advice}) of the {what} mapping: {}",
                        std::io::Error::last_os_error()
                    );
                }
            }
            maps.check(&fd)?;
        }
        check_log_clean(skip)
    })
}

/// `/proc/kpageflags` shows the first page of a PMD-mapped part as the head of a compound page,
/// but not as a THP (`KPF_THP`): the core mm does not treat the buffer's folios as its own.
fn kpageflags_show_compound_pages_not_thps() -> TestResult {
    const KPF_COMPOUND_HEAD: u64 = 1 << 15;
    const KPF_THP: u64 = 1 << 22;
    if !std::path::Path::new("/proc/kpageflags").exists() {
        return Err("SKIP: no /proc/kpageflags (CONFIG_PROC_PAGE_MONITOR)".to_string());
    }
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, SIZE)?;
        let maps = Mappings::new(&fd)?;
        let word = |path: &str, index: usize| -> Result<u64, String> {
            let f = open(path, libc::O_RDONLY).map_err(|e| format!("{path}: {e}"))?;
            let mut b = [0u8; 8];
            check_eq!(
                pread(&f, &mut b, (index * 8) as i64).map_err(|e| format!("{path}: {e}"))?,
                8
            );
            Ok(u64::from_ne_bytes(b))
        };
        for part in 0..2 {
            let addr = maps.huge.addr + part * PART;
            let entry = word("/proc/self/pagemap", addr / PAGE)?;
            check!(
                entry >> 63 == 1,
                "pagemap: part {part} not present ({entry:#x})"
            );
            let pfn = (entry & ((1 << 55) - 1)) as usize;
            check!(pfn != 0, "pagemap gives no PFN (not root?)");
            let flags = word("/proc/kpageflags", pfn)?;
            check!(
                flags & KPF_COMPOUND_HEAD != 0,
                "part {part}: not a compound head ({flags:#x})"
            );
            check!(
                flags & KPF_THP == 0,
                "part {part}: shown as a THP ({flags:#x})"
            );
        }
        Ok(())
    })
}

// ---- Faults racing over the THP policy ----

/// Rounds of the race: `MYDEV_RACE_ROUNDS`, default 10,000.
fn race_rounds() -> usize {
    std::env::var("MYDEV_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// Two threads store to the same 2 MiB range of a fresh mapping while a third flips
/// `prctl(PR_SET_THP_DISABLE)` all the time, so that one store's fault may go to `huge_fault`
/// and the other's to `fault`: whichever fills the PMD entry first, the other must serve its
/// store through it (no `VM_FAULT_OOM` from `fault` finding a PMD entry, no warning from
/// `huge_fault` finding a page table), and both stores must reach the buffer (`race.rs`).
fn pmd_and_pte_faults_racing_over_thp_disable_keep_the_log_clean() -> TestResult {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return Err("SKIP: one CPU: the faults cannot race".to_string());
    }
    let rounds = race_rounds();
    with_module(&format!("size={PART}"), || {
        let fd = rw()?;
        let skip = log_lines();
        let never = std::sync::atomic::AtomicBool::new(false);
        let race = guest_tests::race::run(&fd, 0, rounds, &never)?;
        println!(
            "# {} rounds, {} of {} sampled mapped with a PMD entry, {} prctl flips",
            race.rounds, race.huge, race.sampled, race.flips
        );
        check_eq!(race.rounds, rounds);
        check!(
            race.huge > 0 && race.huge < race.sampled,
            "every sampled round took the same path ({} of {} huge): no race",
            race.huge,
            race.sampled
        );
        check_log_clean(skip)
    })
}

// ---- NUMA balancing ----

/// A `/proc/vmstat` counter.
fn vmstat(name: &str) -> Result<u64, String> {
    let s = std::fs::read_to_string("/proc/vmstat").map_err(|e| e.to_string())?;
    s.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .ok_or_else(|| format!("no {name} in /proc/vmstat"))
}

/// The NUMA-balancing counters that a scan and its hinting faults move.
const NUMA_COUNTERS: [&str; 4] = [
    "numa_pte_updates",
    "numa_huge_pte_updates",
    "numa_hint_faults",
    "numa_pages_migrated",
];

/// Runs `touch` in a fresh process for `secs` seconds of stores over `m`, and returns how much
/// each of [`NUMA_COUNTERS`] moved meanwhile.
fn numa_deltas(m: &Map, secs: u64) -> Result<[u64; 4], String> {
    let before: Vec<u64> = NUMA_COUNTERS
        .iter()
        .map(|c| vmstat(c))
        .collect::<Result<_, _>>()?;
    in_child(|| {
        let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let mut v = 0u8;
        while std::time::Instant::now() < end {
            v = v.wrapping_add(1);
            for i in (0..m.len).step_by(PAGE) {
                m.store(i, v);
            }
        }
        Ok(())
    })?;
    let mut d = [0u64; 4];
    for (i, c) in NUMA_COUNTERS.iter().enumerate() {
        d[i] = vmstat(c)?.saturating_sub(before[i]);
    }
    Ok(d)
}

/// With NUMA balancing on, a process storing all the time into a mapping of the buffer must not
/// have the mapping scanned: each scan would make its pages `PROT_NONE` for hinting faults, and
/// every migration the faults ask for fails (the buffer's pages are not on the LRU). A shared
/// anonymous mapping (shmem) of the same size, touched the same way, is the control: its pages
/// are scanned, so the scanner ran.
fn numa_balancing_does_not_scan_mappings_of_the_buffer() -> TestResult {
    const SYSCTL: &str = "/proc/sys/kernel/numa_balancing";
    const KNOBS: &str = "/sys/kernel/debug/sched/numa_balancing";
    if !std::path::Path::new(SYSCTL).exists() {
        return Err("SKIP: no NUMA balancing in this kernel (CONFIG_NUMA_BALANCING)".to_string());
    }
    if !std::path::Path::new("/sys/devices/system/node/node1").exists() {
        return Err(
            "SKIP: one NUMA node (the harness boots Debian's kernels with two)".to_string(),
        );
    }
    debugfs()?;
    let pages = 1024;
    let mut saved: Vec<(String, String)> = Vec::new();
    // Scan at once and often: no delay for a new task, the shortest period.
    let settings = [
        (SYSCTL.to_string(), "1"),
        (format!("{KNOBS}/scan_delay_ms"), "0"),
        (format!("{KNOBS}/scan_period_min_ms"), "100"),
        (format!("{KNOBS}/scan_period_max_ms"), "200"),
    ];
    let mut run = Ok(());
    for (path, value) in settings {
        match std::fs::read_to_string(&path).and_then(|old| {
            std::fs::write(&path, value)?;
            Ok(old)
        }) {
            Ok(old) => saved.push((path, old)),
            Err(e) => {
                run = Err(format!("{path}: {e}"));
                break;
            }
        }
    }
    if run.is_ok() {
        run = with_module(&format!("size={} huge=0", pages * PAGE), || {
            let fd = rw()?;
            let shmem = mmap_anon_shared(pages * PAGE)?;
            let control = numa_deltas(&shmem, 3)?;
            drop(shmem);
            let m = map_shared(&fd, pages, 0).map_err(|e| e.to_string())?;
            let mydev = numa_deltas(&m, 3)?;
            drop(m);
            println!(
                "# {} over 3 s of stores to {pages} pages: shmem {control:?}, mydev {mydev:?}",
                NUMA_COUNTERS.join("/")
            );
            check!(
                control[0] >= pages as u64 / 2,
                "the control's pages were hardly scanned ({} PTE updates): NUMA balancing did \
                 not run",
                control[0]
            );
            // A few updates are the process's own stack and data; a scanned mapping gives about
            // a thousand per scan.
            check!(
                mydev[0] < pages as u64 / 8 && mydev[1] == 0,
                "the mydev mapping was scanned: {mydev:?}"
            );
            Ok(())
        });
    }
    for (path, old) in saved.into_iter().rev() {
        if let Err(e) = std::fs::write(&path, old.trim()) {
            run = run.and(Err(format!("restoring {path}: {e}")));
        }
    }
    run
}

/// A shared anonymous mapping (shmem) of `len` bytes.
fn mmap_anon_shared(len: usize) -> Result<Map, String> {
    anon_shared(len, RW).map_err(|e| format!("mmap anonymous: {e}"))
}

// ---- A special VMA ----

/// The `Locked:` line of the mapping at `addr` in `/proc/self/smaps`, in KiB.
fn smaps_locked_kib(addr: usize) -> Result<u64, String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|e| e.to_string())?;
    let start = format!("{addr:x}-");
    let mut inside = false;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        let header = first.split_once('-').is_some_and(|(a, b)| {
            u64::from_str_radix(a, 16).is_ok() && u64::from_str_radix(b, 16).is_ok()
        });
        if header {
            inside = line.starts_with(&start);
        }
        if inside {
            if let Some(v) = line.strip_prefix("Locked:") {
                return v
                    .trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse()
                    .map_err(|e| format!("{line}: {e}"));
            }
        }
    }
    Err(format!("no mapping at {addr:#x} in /proc/self/smaps"))
}

/// The mapping is a special VMA (`VM_DONTEXPAND`): `mlock` succeeds but locks nothing, and
/// `MADV_COLLAPSE` (khugepaged's work on demand) is refused with `EINVAL`, as the core mm
/// defines for special VMAs; the bytes stay as they were.
fn mlock_and_madv_collapse_treat_the_mapping_as_special() -> TestResult {
    const MADV_COLLAPSE: libc::c_int = 25;
    with_module(&format!("size={SIZE}"), || {
        let fd = rw()?;
        fill_marks(&fd, SIZE)?;
        let maps = Mappings::new(&fd)?;
        for (what, addr, len) in maps.ranges() {
            // SAFETY: locking this test's own mapping.
            let r = unsafe { libc::mlock(addr as *const libc::c_void, len) };
            check!(
                r == 0,
                "mlock of the {what} mapping: {}",
                std::io::Error::last_os_error()
            );
            let locked = smaps_locked_kib(addr)?;
            check!(
                locked == 0,
                "{locked} kB of the {what} mapping locked after mlock"
            );
            // SAFETY: unlocking it again.
            unsafe { libc::munlock(addr as *const libc::c_void, len) };
            // SAFETY: advice on this test's own mapping.
            let r = unsafe { libc::madvise(addr as *mut libc::c_void, len, MADV_COLLAPSE) };
            let err = std::io::Error::last_os_error();
            check!(
                r == -1 && err.raw_os_error() == Some(libc::EINVAL),
                "MADV_COLLAPSE of the {what} mapping: {r} ({err}), expected EINVAL"
            );
        }
        maps.check(&fd)
    })
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        sendfile_to_a_file_copies_from_the_position_or_the_offset,
        sendfile_to_a_pipe_streams_the_buffer,
        splice_from_the_device_into_a_pipe_with_and_without_an_offset,
        splice_from_a_pipe_into_the_device_with_and_without_an_offset,
        tee_duplicates_what_the_device_spliced,
        copy_file_range_with_the_device_is_einval_as_documented,
        split_huge_pages_in_debugfs_leaves_the_buffer_alone,
        madv_cold_and_pageout_leave_the_buffer_alone,
        kpageflags_show_compound_pages_not_thps,
        pmd_and_pte_faults_racing_over_thp_disable_keep_the_log_clean,
        numa_balancing_does_not_scan_mappings_of_the_buffer,
        mlock_and_madv_collapse_treat_the_mapping_as_special,
    ])
}
