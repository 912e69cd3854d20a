// SPDX-License-Identifier: GPL-2.0

//! Faults on purpose: the kernel's fault injection (`/proc/thread-self/fail-nth`) makes the Nth
//! allocation or user copy of a call fail, for N = 1, 2, ... until the call runs out of failure
//! points. Every failed call must fail cleanly. Needs a kernel with `CONFIG_FAULT_INJECTION`,
//! `FAILSLAB`, `FAIL_PAGE_ALLOC`, `FAULT_INJECTION_USERCOPY` and `FAULT_INJECTION_DEBUG_FS` (the
//! test kernel): without them the tests fail, they do not pass.
//!
//! The injections run between `mydev-fault-injection: begin`/`end` lines in the kernel log
//! ([`guest_tests::inject::Setup`]).

use guest_tests::cfs;
use guest_tests::inject::{FailNth, Setup};
use guest_tests::sys::*;
use guest_tests::{TestResult, check};
use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::process::ExitCode;

/// The most failure points one call may have before the test gives up on reaching its end.
const MAX_POINTS: usize = 5000;

/// Every how many failure points a load of `size` bytes is failed at: `MYDEV_FAULTS_STRIDE`
/// (default 1: every one), and ten times that above 1 MiB, where a step costs about 3 s on the
/// debug kernel (two 16 MiB `vmalloc`s with KASAN and page poisoning, and a write and a read of
/// the whole buffer) against 0.4 s for a page: every point at 16 MiB would take 20 minutes.
fn stride(size: usize) -> usize {
    let base = std::env::var("MYDEV_FAULTS_STRIDE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&s: &usize| s > 0)
        .unwrap_or(1);
    if size > 1 << 20 { base * 10 } else { base }
}

/// Checks that the loaded module's buffer is `size` zero bytes, fills it with a pattern (so that
/// a later load that reused those pages without zeroing them would show it), and unloads it.
fn check_zeroed_dirty_and_unload(size: usize, what: &str) -> TestResult {
    check!(module_loaded(), "{what}: not loaded");
    check!(
        device_size()? == size,
        "{what}: size {}, not {size}",
        device_size()?
    );
    let bytes = device_bytes(0, size)?;
    check!(
        bytes.iter().all(|&b| b == 0),
        "{what}: the buffer is not zeroed"
    );
    let fd = open_rw().map_err(|e| e.to_string())?;
    let n = pwrite(&fd, &vec![0xa5u8; size], 0).map_err(|e| format!("{what}: pwrite: {e}"))?;
    check!(n == size, "{what}: pwrite wrote {n} of {size}");
    drop(fd);
    rmmod().map_err(|e| format!("{what}: rmmod: {e}"))
}

/// Loads the module with the Nth failure point of the load failing, for every N until the load
/// has no Nth point: each failed load fails with `ENOMEM` (or `EFAULT` for a user copy) and
/// leaves no module and no node, and the next load works and is zeroed. Returns how many points
/// failed the load and how many the kernel coped with.
fn load_at_size(size: usize) -> Result<(usize, usize, usize), String> {
    let params = CString::new(format!("size={size}")).map_err(|e| e.to_string())?;
    let file = std::fs::File::open(module_path()).map_err(|e| e.to_string())?;
    let mut nth = FailNth::open()?;
    let (mut failed, mut tolerated) = (0, 0);
    insmod(&format!("size={size}")).map_err(|e| format!("insmod size={size}: {e}"))?;
    check_zeroed_dirty_and_unload(size, &format!("size={size}, first load"))?;
    for n in (1..=MAX_POINTS).step_by(stride(size)) {
        nth.arm(n)?;
        // SAFETY: an open module file and a NUL-terminated parameter string.
        let r =
            unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), params.as_ptr(), 0) };
        let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
        let injected = nth.injected()?;
        let what = format!("size={size}, failure point {n}");
        match (injected, r) {
            // The load ran out of failure points: every one has been tried.
            (false, 0) => {
                check_zeroed_dirty_and_unload(size, &what)?;
                return Ok((n, failed, tolerated));
            }
            (false, _) => return Err(format!("{what}: no failure injected, yet errno {errno}")),
            // The kernel coped with the failure (a fallback): the load must still be whole.
            (true, 0) => {
                tolerated += 1;
                check_zeroed_dirty_and_unload(size, &what)?;
            }
            (true, _) => {
                failed += 1;
                check!(
                    errno == libc::ENOMEM || errno == libc::EFAULT,
                    "{what}: the load failed with errno {errno}, not ENOMEM or EFAULT"
                );
                check!(!module_loaded(), "{what}: the module stayed loaded");
                check!(
                    std::fs::metadata(DEVICE).is_err(),
                    "{what}: {DEVICE} left behind"
                );
                // The next load works and is zeroed.
                insmod(&format!("size={size}"))
                    .map_err(|e| format!("{what}: the next load failed: {e}"))?;
                check_zeroed_dirty_and_unload(size, &format!("{what}, next load"))?;
            }
        }
    }
    Err(format!(
        "size={size}: more than {MAX_POINTS} failure points"
    ))
}

fn every_failure_point_of_a_load_fails_it_cleanly() -> TestResult {
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let result = (|| {
        let _setup = Setup::new(true)?;
        for size in [4096, 64 * 4096, 16 << 20] {
            let (end, failed, tolerated) = load_at_size(size)?;
            let which = match stride(size) {
                1 => "every one".to_string(),
                n => format!("every {n}th"),
            };
            println!(
                "# load size={size}: fewer than {end} failure points, {} of them tried ({which}): \
                 {failed} failed the load cleanly, {tolerated} were coped with",
                failed + tolerated
            );
        }
        Ok(())
    })();
    let back = restore();
    result.and(back)
}

/// A recognisable pattern, different for each `seed`.
fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(7).wrapping_add(seed.wrapping_mul(13)) as u8) | 1)
        .collect()
}

/// One call with a user copy, on `fd` at its position `POS` (or at offset `POS`): its result
/// (bytes transferred, or the errno) and, for a read, the bytes it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CopyOp {
    Read,
    Write,
    Pread,
    Pwrite,
    Readv,
    Writev,
}

const POS: usize = 1000;
const LEN: usize = 3000;

impl CopyOp {
    fn writes(self) -> bool {
        matches!(self, CopyOp::Write | CopyOp::Pwrite | CopyOp::Writev)
    }

    fn moves_position(self) -> bool {
        !matches!(self, CopyOp::Pread | CopyOp::Pwrite)
    }

    /// Runs the call on `buf` (the data to write, or where to read).
    fn call(self, fd: &std::os::fd::OwnedFd, buf: &mut [u8]) -> Result<usize, i32> {
        let raw = fd.as_raw_fd();
        let p = buf.as_mut_ptr();
        let thirds: Vec<libc::iovec> = (0..3)
            .map(|i| libc::iovec {
                // SAFETY: each third lies inside `buf`.
                iov_base: unsafe { p.add(i * LEN / 3) }.cast(),
                iov_len: LEN / 3,
            })
            .collect();
        // SAFETY: every pointer describes `buf` (or its thirds), which lives across the call.
        let r = unsafe {
            match self {
                CopyOp::Read => libc::read(raw, p.cast(), LEN),
                CopyOp::Write => libc::write(raw, p.cast(), LEN),
                CopyOp::Pread => libc::pread(raw, p.cast(), LEN, POS as i64),
                CopyOp::Pwrite => libc::pwrite(raw, p.cast(), LEN, POS as i64),
                CopyOp::Readv => libc::readv(raw, thirds.as_ptr(), 3),
                CopyOp::Writev => libc::writev(raw, thirds.as_ptr(), 3),
            }
        };
        if r < 0 {
            Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
        } else {
            Ok(r as usize)
        }
    }
}

/// Steps the failure point over one kind of call: a failed copy gives `EFAULT` (nothing
/// transferred) or a short count; the position moves by exactly what was transferred; the
/// buffer holds exactly what the model says (a write that fails part-way zeroes nothing).
/// Returns the number of failure points.
fn copy_points(op: CopyOp, model: &mut [u8]) -> Result<usize, String> {
    let fd = open_rw().map_err(|e| e.to_string())?;
    let mut nth = FailNth::open()?;
    for n in 1..=MAX_POINTS {
        let what = format!("{op:?}, failure point {n}");
        lseek(&fd, POS as i64, libc::SEEK_SET).map_err(|e| e.to_string())?;
        let data = pattern(LEN, n);
        let mut buf = if op.writes() {
            data.clone()
        } else {
            vec![0u8; LEN]
        };
        nth.arm(n)?;
        let r = op.call(&fd, &mut buf);
        let injected = nth.injected()?;
        let done = match r {
            Ok(k) => k,
            Err(e) if injected && e == libc::EFAULT => 0,
            Err(e) => return Err(format!("{what}: errno {e}")),
        };
        check!(
            done == LEN || injected,
            "{what}: {done} of {LEN} bytes with no failure injected"
        );
        check!(done <= LEN, "{what}: {done} bytes");
        if op.writes() {
            model[POS..POS + done].copy_from_slice(&data[..done]);
        } else {
            check!(
                buf[..done] == model[POS..POS + done],
                "{what}: read other bytes than the buffer's"
            );
        }
        let pos = lseek(&fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())? as usize;
        let want = if op.moves_position() { POS + done } else { POS };
        check!(
            pos == want,
            "{what}: {done} bytes moved the position to {pos}, not {want}"
        );
        let bytes = device_bytes(0, model.len())?;
        if bytes != model {
            let at = bytes.iter().zip(model.iter()).position(|(a, b)| a != b);
            return Err(format!(
                "{what}: after {done} bytes the buffer differs from the model at {at:?}"
            ));
        }
        if !injected {
            return Ok(n - 1);
        }
    }
    Err(format!("{op:?}: more than {MAX_POINTS} failure points"))
}

fn every_failure_point_of_a_copy_fails_it_cleanly() -> TestResult {
    let size = 16 * 4096;
    with_module(&format!("size={size}"), || {
        let _setup = Setup::new(true)?;
        let mut model = pattern(size, 0);
        let fd = open_rw().map_err(|e| e.to_string())?;
        pwrite(&fd, &model, 0).map_err(|e| e.to_string())?;
        let mut report = Vec::new();
        for op in [
            CopyOp::Read,
            CopyOp::Write,
            CopyOp::Pread,
            CopyOp::Pwrite,
            CopyOp::Readv,
            CopyOp::Writev,
        ] {
            let points = copy_points(op, &mut model)?;
            check!(
                points >= 1,
                "{op:?}: no failure point at all (is usercopy injection on?)"
            );
            report.push(format!("{op:?} {points}"));
        }
        println!("# failure points per call: {}", report.join(", "));
        Ok(())
    })
}

/// A `pread` from the device into a private mapping of the device, with its Nth failure point
/// failing: the copy's stores fault the mapping's pages in, and each such write fault of a
/// private page allocates the process's own copy of it (with its page table and reverse-map
/// structures on the first). A failed allocation there fails the fault (`VM_FAULT_OOM`, fixed
/// up as a fault in a user copy); x86's copy routine then retries the rest byte by byte, whose
/// new fault allocates again and succeeds, so the copy usually completes: whatever the count
/// (`EFAULT`, short or whole), the mapping must show exactly the bytes copied, the device's
/// bytes everywhere else, and the device's bytes never change. A new mapping each time, so that
/// every step copies again. Prints the number of failure points.
///
/// The same allocation failing under a store from user space is not stepped: the kernel
/// answers `VM_FAULT_OOM` from a user fault by retrying it (`pagefault_out_of_memory`), so the
/// store succeeds on the next try and there is no failure to observe.
fn every_failure_point_of_a_private_copy_fails_it_cleanly() -> TestResult {
    const PAGES: usize = 16;
    const DST: usize = 100;
    const SRC: usize = 8 * 4096 + 7;
    const LEN: usize = 3 * 4096;
    let size = PAGES * 4096;
    with_module(&format!("size={size}"), || {
        let _setup = Setup::new(true)?;
        let model = pattern(size, 3);
        let fd = open_rw().map_err(|e| e.to_string())?;
        pwrite(&fd, &model, 0).map_err(|e| e.to_string())?;
        let mut nth = FailNth::open()?;
        let (mut failed, mut short) = (0, 0);
        for n in 1..=MAX_POINTS {
            let what = format!("pread into a private mapping, failure point {n}");
            let m = map_private(&fd, PAGES, 0).map_err(|e| format!("{what}: mmap: {e}"))?;
            nth.arm(n)?;
            // SAFETY: `DST..DST + LEN` lies inside the live, writable mapping `m`.
            let r = unsafe {
                libc::pread(
                    fd.as_raw_fd(),
                    (m.addr + DST) as *mut libc::c_void,
                    LEN,
                    SRC as i64,
                )
            };
            let err = std::io::Error::last_os_error();
            let injected = nth.injected()?;
            let done = match r {
                k if k >= 0 => k as usize,
                _ if injected && err.raw_os_error() == Some(libc::EFAULT) => 0,
                _ => return Err(format!("{what}: {err}")),
            };
            check!(
                done == LEN || injected,
                "{what}: {done} of {LEN} bytes with no failure injected"
            );
            check!(done <= LEN, "{what}: {done} bytes");
            let mut want = model.clone();
            want.copy_within(SRC..SRC + done, DST);
            let shown = m.load_all(0, size);
            if shown != want {
                let at = shown.iter().zip(&want).position(|(a, b)| a != b);
                return Err(format!(
                    "{what}: after {done} bytes the private mapping differs at {at:?}"
                ));
            }
            check!(
                device_bytes(0, size)? == model,
                "{what}: the device's bytes changed"
            );
            drop(m);
            if !injected {
                check!(device_mappings() == 0, "a mapping left after munmap");
                println!(
                    "# pread into a private mapping: {} failure points ({failed} failed it \
                     with EFAULT, {short} made it short, {} were coped with)",
                    n - 1,
                    n - 1 - failed - short
                );
                check!(n > 1, "no failure point at all (is usercopy injection on?)");
                return Ok(());
            }
            if done == 0 {
                failed += 1;
            } else if done < LEN {
                short += 1;
            }
        }
        Err(format!(
            "private copy: more than {MAX_POINTS} failure points"
        ))
    })
}

/// The mappings of `/dev/mydev` in this process.
fn device_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().filter(|l| l.ends_with(DEVICE)).count())
        .unwrap_or(usize::MAX)
}

/// `mmap` with its Nth failure point failing, then the fault handler after `MADV_DONTNEED`
/// with its Nth: `mmap` fails with `ENOMEM` and leaves nothing mapped, or succeeds and every
/// page reads the buffer's bytes (no `SIGBUS`: a page-table allocation that fails in a fault is
/// retried); the buffer's bytes never change.
fn every_failure_point_of_mmap_fails_it_cleanly() -> TestResult {
    let pages = 64;
    let size = pages * 4096;
    with_module(&format!("size={size}"), || {
        let _setup = Setup::new(true)?;
        let model = pattern(size, 7);
        let fd = open_rw().map_err(|e| e.to_string())?;
        pwrite(&fd, &model, 0).map_err(|e| e.to_string())?;
        let mut nth = FailNth::open()?;
        let check_map = |m: &Map, what: &str| -> TestResult {
            check!(
                m.load_all(0, size) == model,
                "{what}: the mapping shows other bytes"
            );
            Ok(())
        };
        let (mut failed, mut mapped) = (0, 0);
        let mmap_points = 'points: {
            for n in 1..=MAX_POINTS {
                let what = format!("mmap, failure point {n}");
                nth.arm(n)?;
                let r = map_shared(&fd, pages, 0);
                let injected = nth.injected()?;
                match r {
                    Err(e) => {
                        check!(
                            injected,
                            "{what}: mmap failed with no failure injected: {e}"
                        );
                        check!(
                            e.raw_os_error() == Some(libc::ENOMEM),
                            "{what}: mmap failed with {e}, not ENOMEM"
                        );
                        check!(
                            device_mappings() == 0,
                            "{what}: a failed mmap left a mapping"
                        );
                        failed += 1;
                    }
                    Ok(m) => {
                        check_map(&m, &what)?;
                        drop(m);
                        mapped += 1;
                    }
                }
                check!(
                    device_bytes(0, size)? == model,
                    "{what}: the buffer changed"
                );
                if !injected {
                    break 'points n - 1;
                }
            }
            return Err(format!("mmap: more than {MAX_POINTS} failure points"));
        };
        let m = map_shared(&fd, pages, 0).map_err(|e| e.to_string())?;
        let mut fault_points = 0;
        for n in 1..=MAX_POINTS {
            m.dontneed()?;
            nth.arm(n)?;
            let first = m.load(0);
            let injected = nth.injected()?;
            check!(
                first == model[0],
                "fault, failure point {n}: read {first:#x}"
            );
            check_map(&m, &format!("fault, failure point {n}"))?;
            if !injected {
                fault_points = n - 1;
                break;
            }
        }
        drop(m);
        check!(device_mappings() == 0, "a mapping left after munmap");
        check!(device_bytes(0, size)? == model, "the buffer changed");
        println!(
            "# mmap: {mmap_points} failure points ({failed} failed it with ENOMEM, {} were \
             coped with); the fault after MADV_DONTNEED: {fault_points} failure points",
            mapped.max(1) - 1
        );
        Ok(())
    })
}

/// Fails the Nth failure point of `mkdir` of a buffer directory, for every N: each failed
/// `mkdir` fails with `ENOMEM` (or `EFAULT`) and leaves no directory; then the 256 places are all
/// still there (no failed `mkdir` kept one).
fn mkdir_points(nth: &mut FailNth) -> Result<(usize, usize, usize), String> {
    let (mut failed, mut tolerated) = (0, 0);
    for n in 1..=MAX_POINTS {
        nth.arm(n)?;
        let r = cfs::mkdir("fi");
        let injected = nth.injected()?;
        let what = format!("mkdir, failure point {n}");
        match (injected, r) {
            (false, Ok(())) => {
                cfs::rmdir("fi").map_err(|e| format!("{what}: rmdir: {e}"))?;
                for i in 0..256 {
                    cfs::mkdir(&format!("p{i}"))
                        .map_err(|e| format!("after the injections, mkdir p{i}: {e}"))?;
                }
                cfs::remove_all()?;
                return Ok((n, failed, tolerated));
            }
            (false, Err(e)) => return Err(format!("{what}: no failure injected, yet {e}")),
            (true, Ok(())) => {
                tolerated += 1;
                check!(cfs::get("fi", "live")? == "0", "{what}: live is not 0");
                cfs::rmdir("fi").map_err(|e| format!("{what}: rmdir: {e}"))?;
            }
            (true, Err(e)) => {
                failed += 1;
                check!(
                    matches!(e.raw_os_error(), Some(libc::ENOMEM) | Some(libc::EFAULT)),
                    "{what}: failed with {e}, not ENOMEM or EFAULT"
                );
                check!(
                    !std::path::Path::new(&cfs::dir("fi")).exists(),
                    "{what}: the directory was left behind"
                );
            }
        }
    }
    Err(format!("mkdir: more than {MAX_POINTS} failure points"))
}

/// Checks that live buffer `fi` has `size` zeroed bytes, then dirties them and takes it down.
fn check_live_zeroed_then_down(size: usize, what: &str) -> TestResult {
    let fd = open(&cfs::node("fi"), libc::O_RDWR).map_err(|e| format!("{what}: open: {e}"))?;
    let mut b = vec![0xffu8; size];
    check!(
        pread(&fd, &mut b, 0).map_err(|e| e.to_string())? == size,
        "{what}: short read"
    );
    check!(b.iter().all(|&x| x == 0), "{what}: not zeroed");
    pwrite(&fd, &pattern(size, 5), 0).map_err(|e| e.to_string())?;
    cfs::set("fi", "live", "0").map_err(|e| format!("{what}: live 0: {e}"))
}

/// Fails the Nth failure point of `live` = 1 of a 4 MiB buffer (two 2 MiB parts), for every N:
/// each failed write fails with `ENOMEM` (or `EFAULT`), `live` reads 0 and no node is left; a
/// failure the module copes with (a part falls back to 4 KiB pages) still gives a whole zeroed
/// buffer; the next try works and is zeroed.
fn live_points(nth: &mut FailNth) -> Result<(usize, usize, usize), String> {
    const SIZE: usize = 4 << 20;
    cfs::mkdir("fi").map_err(|e| format!("mkdir: {e}"))?;
    cfs::set("fi", "size", &SIZE.to_string()).map_err(|e| format!("size: {e}"))?;
    let live = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{}/live", cfs::dir("fi")))
        .map_err(|e| format!("open live: {e}"))?;
    let (mut failed, mut tolerated) = (0, 0);
    for n in 1..=MAX_POINTS {
        nth.arm(n)?;
        let r = live.write_at(b"1", 0);
        let injected = nth.injected()?;
        let what = format!("live = 1, failure point {n}");
        match (injected, r) {
            (false, Ok(_)) => {
                check_live_zeroed_then_down(SIZE, &what)?;
                return Ok((n, failed, tolerated));
            }
            (false, Err(e)) => return Err(format!("{what}: no failure injected, yet {e}")),
            (true, Ok(_)) => {
                tolerated += 1;
                check_live_zeroed_then_down(SIZE, &what)?;
            }
            (true, Err(e)) => {
                failed += 1;
                check!(
                    matches!(e.raw_os_error(), Some(libc::ENOMEM) | Some(libc::EFAULT)),
                    "{what}: failed with {e}, not ENOMEM or EFAULT"
                );
                check!(cfs::get("fi", "live")? == "0", "{what}: live is not 0");
                check!(
                    !std::path::Path::new(&cfs::node("fi")).exists(),
                    "{what}: a node was left behind"
                );
                cfs::set("fi", "live", "1").map_err(|e| format!("{what}: the next try: {e}"))?;
                check_live_zeroed_then_down(SIZE, &format!("{what}, next try"))?;
            }
        }
    }
    Err(format!("live: more than {MAX_POINTS} failure points"))
}

fn every_failure_point_of_mkdir_and_live_fails_them_cleanly() -> TestResult {
    cfs::scoped(|| {
        let _setup = Setup::new(false)?;
        let mut nth = FailNth::open()?;
        let (end, failed, tolerated) = mkdir_points(&mut nth)?;
        println!(
            "# mkdir: {} failure points: {failed} failed it cleanly, {tolerated} were coped with",
            end - 1
        );
        let (end, failed, tolerated) = live_points(&mut nth)?;
        println!(
            "# live = 1 (4 MiB): {} failure points: {failed} failed it cleanly, \
             {tolerated} were coped with",
            end - 1
        );
        Ok(())
    })
}

/// The open descriptors of this process.
fn open_fds() -> Result<usize, String> {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .map_err(|e| format!("/proc/self/fd: {e}"))
}

/// Fails the Nth failure point of `MYDEV_IOC_EXPORT_DMABUF` of a 4 MiB buffer (two 2 MiB parts),
/// for every N: a failed export fails with `ENOMEM`, `EFAULT` or `EMFILE` and leaves no
/// descriptor (and, for kmemleak after the suite, nothing allocated); an export that succeeds
/// maps the buffer's bytes.
fn every_failure_point_of_a_dmabuf_export_fails_it_cleanly() -> TestResult {
    use mydev::uapi::{MYDEV_IOC_EXPORT_DMABUF, MydevExportDmabuf};
    use std::os::fd::{FromRawFd, OwnedFd};
    const SIZE: usize = 4 << 20;
    cfs::scoped(|| {
        cfs::create("fx", SIZE, true)?;
        let fd = cfs::open_rw("fx")?;
        pwrite(&fd, b"exported", 0).map_err(|e| e.to_string())?;
        let _setup = Setup::new(false)?;
        let mut nth = FailNth::open()?;
        let (mut failed, mut tolerated) = (0, 0);
        for n in 1..=MAX_POINTS {
            let before = open_fds()?;
            let mut a = MydevExportDmabuf {
                offset: 0,
                size: SIZE as u64,
                flags: libc::O_RDWR as u32,
                fd: -1,
            };
            nth.arm(n)?;
            let r = ioctl(
                &fd,
                MYDEV_IOC_EXPORT_DMABUF,
                &mut a as *mut MydevExportDmabuf as usize,
            );
            let injected = nth.injected()?;
            let what = format!("export, failure point {n}");
            let check_export = |a: &MydevExportDmabuf| -> TestResult {
                // SAFETY: the ioctl succeeded, so `a.fd` is a new descriptor, ours.
                let d = unsafe { OwnedFd::from_raw_fd(a.fd) };
                let m = map_shared(&d, 1, 0).map_err(|e| format!("{what}: mmap: {e}"))?;
                // SAFETY: a live, readable one-page mapping.
                let got = unsafe { std::slice::from_raw_parts(m.addr as *const u8, 8) };
                check!(got == b"exported", "{what}: the dma-buf shows {got:?}");
                Ok(())
            };
            match (injected, r) {
                (false, Ok(_)) => {
                    check_export(&a)?;
                    println!(
                        "# export of 4 MiB: {} failure points: {failed} failed it cleanly, \
                         {tolerated} were coped with",
                        n - 1
                    );
                    return Ok(());
                }
                (false, Err(e)) => return Err(format!("{what}: no failure injected, yet {e}")),
                (true, Ok(_)) => {
                    tolerated += 1;
                    check_export(&a)?;
                }
                (true, Err(e)) => {
                    failed += 1;
                    check!(
                        matches!(
                            e.raw_os_error(),
                            Some(libc::ENOMEM) | Some(libc::EFAULT) | Some(libc::EMFILE)
                        ),
                        "{what}: failed with {e}"
                    );
                    check!(
                        open_fds()? == before,
                        "{what}: a descriptor was left behind"
                    );
                }
            }
        }
        Err(format!("export: more than {MAX_POINTS} failure points"))
    })
}

fn main() -> ExitCode {
    guest_tests::main(&[
        guest_tests::Test {
            name: "every_failure_point_of_a_load_fails_it_cleanly",
            run: every_failure_point_of_a_load_fails_it_cleanly,
        },
        guest_tests::Test {
            name: "every_failure_point_of_mmap_fails_it_cleanly",
            run: every_failure_point_of_mmap_fails_it_cleanly,
        },
        guest_tests::Test {
            name: "every_failure_point_of_a_copy_fails_it_cleanly",
            run: every_failure_point_of_a_copy_fails_it_cleanly,
        },
        guest_tests::Test {
            name: "every_failure_point_of_a_private_copy_fails_it_cleanly",
            run: every_failure_point_of_a_private_copy_fails_it_cleanly,
        },
        guest_tests::Test {
            name: "every_failure_point_of_mkdir_and_live_fails_them_cleanly",
            run: every_failure_point_of_mkdir_and_live_fails_them_cleanly,
        },
        guest_tests::Test {
            name: "every_failure_point_of_a_dmabuf_export_fails_it_cleanly",
            run: every_failure_point_of_a_dmabuf_export_fails_it_cleanly,
        },
    ])
}
