// SPDX-License-Identifier: GPL-2.0

//! Stress and lifecycle: concurrent users while `rmmod` keeps trying, many load/unload cycles,
//! many mmap/munmap cycles, and memory back where it started.
//!
//! Durations and counts come from `MYDEV_STRESS_SECONDS` (default 10), `MYDEV_LOAD_CYCLES`
//! (1000) and `MYDEV_MAP_CYCLES` (10000); `MYDEV_KASAN=1` says that the kernel runs KASAN.
//! Each passing test prints its figures as `# ` lines.

use guest_tests::sys::*;
use guest_tests::{TestResult, check, check_eq};
use std::io;
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const PROCESSES: usize = 3;
const THREADS: usize = 2;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `MemFree` and `Slab` (KiB), after asking the kernel to give back what it caches.
fn memory() -> Result<(i64, i64), String> {
    // Let RCU-deferred frees run before reading.
    std::thread::sleep(Duration::from_millis(300));
    Ok((meminfo_kib("MemFree:")?, meminfo_kib("Slab:")?))
}

/// How much `Slab` may grow over a test, in KiB: 1 MiB, or under KASAN the size of its
/// quarantine (1/32 of memory, plus 8 MiB), which keeps freed objects allocated for a while.
/// There kmemleak, which scans after the suites, is the check for leaked objects.
fn slab_limit() -> Result<i64, String> {
    // The harness says whether the kernel has KASAN (its boot message may have left the log).
    let kasan = std::env::var("MYDEV_KASAN").is_ok_and(|v| v == "1");
    Ok(if kasan {
        meminfo_kib("MemTotal:")? / 32 + 8 * 1024
    } else {
        1024
    })
}

/// Checks that `MemFree` and `Slab` are back where `before` had them after `cycles` cycles:
/// MemFree within `free_kib`, Slab within `slab_limit()`. Returns both changes in KiB.
fn memory_back(before: (i64, i64), free_kib: i64, cycles: u64) -> Result<(i64, i64), String> {
    let after = memory()?;
    let (free, slab) = (after.0 - before.0, after.1 - before.1);
    check!(
        free > -free_kib,
        "MemFree dropped by {} KiB over {cycles} cycles (limit {free_kib} KiB)",
        -free
    );
    let limit = slab_limit()?;
    check!(
        slab < limit,
        "Slab grew by {slab} KiB over {cycles} cycles (limit {limit} KiB)"
    );
    Ok((free, slab))
}

/// One worker: random reads, writes and mapping touches on its own file until `deadline`.
/// Returns the number of operations; any unexpected error fails it.
fn worker(seed: u64, deadline: Instant) -> Result<u64, String> {
    let fd = open_rw().map_err(|e| e.to_string())?;
    let size = device_size()?;
    let pages = size / PAGE;
    let mut rng = guest_tests::Rng::new(seed);
    let mut ops = 0u64;
    let mut buf = vec![0u8; 512];
    while Instant::now() < deadline {
        let r = rng.next_u64();
        let off = (r >> 8) as usize % size;
        let len = ((r >> 40) as usize % 512).min(size - off);
        match r % 5 {
            0 => {
                check_eq!(
                    pread(&fd, &mut buf[..len], off as i64).map_err(|e| e.to_string())?,
                    len
                );
            }
            1 => {
                check_eq!(
                    pwrite(&fd, &buf[..len], off as i64).map_err(|e| e.to_string())?,
                    len
                );
            }
            2 | 3 => {
                let first = (r >> 16) as usize % pages;
                let n = 1 + (r >> 24) as usize % (pages - first);
                let m = map_shared(&fd, n, first).map_err(|e| format!("mmap: {e}"))?;
                for p in 0..n {
                    m.store(p * PAGE + (r as usize % PAGE), r as u8);
                    let _ = m.load(p * PAGE);
                }
                drop(m);
            }
            _ => {
                // SAFETY: `buf` is valid for 512 bytes; the kernel copies at most that.
                let k = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
                if k < 0 {
                    return Err(format!("read: {}", io::Error::last_os_error()));
                }
            }
        }
        ops += 1;
    }
    Ok(ops)
}

fn concurrent_users_keep_rmmod_out_then_unload_and_reload_zeroed() -> TestResult {
    let seconds = env_or("MYDEV_STRESS_SECONDS", 10);
    let params = "size=65536";
    reload(params)?;
    let holder = open_rw().map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (pipe_out, pipe_in) = pipe().map_err(|e| format!("pipe: {e}"))?;
    let children = spawn_n(PROCESSES, |p| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                std::thread::spawn(move || worker((p * THREADS + t + 1) as u64 * 7919, deadline))
            })
            .collect();
        let mut total = 0u64;
        let mut ok = true;
        for h in handles {
            match h.join() {
                Ok(Ok(n)) => total += n,
                Ok(Err(e)) => {
                    eprintln!("worker: {e}");
                    ok = false;
                }
                Err(_) => ok = false,
            }
        }
        let _ = write(&pipe_in, &total.to_ne_bytes());
        if ok { 0 } else { 1 }
    })
    .map_err(|e| format!("fork: {e}"))?;
    // Meanwhile: rmmod must keep failing, because the device is in use.
    let (mut attempts, mut wrong) = (0u64, Vec::new());
    while Instant::now() < deadline {
        match rmmod() {
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EWOULDBLOCK) | Some(libc::EBUSY)
                ) => {}
            other => wrong.push(format!("{other:?}")),
        }
        attempts += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut total_ops = 0u64;
    for child in children {
        let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
        check!(exited_ok(status), "a stress process failed ({status:#x})");
        let mut n = [0u8; 8];
        let _ = read(&pipe_out, &mut n);
        total_ops += u64::from_ne_bytes(n);
    }
    drop((pipe_out, pipe_in));
    check!(
        wrong.is_empty(),
        "rmmod while in use did not fail with EBUSY: {wrong:?}"
    );
    check!(module_loaded());
    drop(holder);
    rmmod().map_err(|e| format!("rmmod after every user left: {e}"))?;
    insmod(params).map_err(|e| e.to_string())?;
    let fd = open_rw().map_err(|e| e.to_string())?;
    let mut all = vec![1u8; 65536];
    check_eq!(pread(&fd, &mut all, 0).map_err(|e| e.to_string())?, 65536);
    check!(
        all.iter().all(|&b| b == 0),
        "the reloaded buffer is not zeroed"
    );
    drop(fd);
    println!(
        "# stress: {PROCESSES} processes x {THREADS} threads, {total_ops} operations in {seconds}s, \
         {attempts} rmmod attempts refused while in use"
    );
    restore()
}

/// KUnit's suite filter, writable at run time: the module's KUnit suites run at every load,
/// and their results count once (from the harness's first load), so the cycles skip them.
const KUNIT_FILTER: &str = "/sys/module/kunit/parameters/filter_glob";

fn load_unload_cycles_with_varying_size_leave_memory_as_it_was() -> TestResult {
    let cycles = env_or("MYDEV_LOAD_CYCLES", 1000);
    let kunit = std::fs::read_to_string(KUNIT_FILTER).ok();
    if kunit.is_some() {
        std::fs::write(KUNIT_FILTER, "none-during-load-cycles")
            .map_err(|e| format!("{KUNIT_FILTER}: {e}"))?;
    }
    rmmod().map_err(|e| format!("rmmod: {e}"))?;
    let result = (|| {
        let before = memory()?;
        let start = Instant::now();
        let mut bytes = 0u64;
        for i in 0..cycles {
            let size = PAGE as u64 * (1 + (i * 37) % 64);
            insmod(&format!("size={size}")).map_err(|e| format!("load {i} (size={size}): {e}"))?;
            check_eq!(device_size()? as u64, size);
            rmmod().map_err(|e| format!("unload {i}: {e}"))?;
            bytes += size;
        }
        let elapsed = start.elapsed();
        // MemFree moves by up to tens of MiB with the per-CPU free lists; 48 MiB is well under the
        // 130 MiB that leaking every buffer would lose.
        let (free, slab) = memory_back(before, 48 * 1024, cycles)?;
        println!(
            "# lifecycle: {cycles} load/unload cycles, {bytes} bytes allocated and freed, {:.1}s; \
             MemFree {free:+} KiB, Slab {slab:+} KiB",
            elapsed.as_secs_f64()
        );
        Ok(())
    })();
    if let Some(old) = kunit {
        // Unset reads back as "(null)", which KUnit treats as "*.*".
        let old = if old.trim() == "(null)" {
            "*.*".to_string()
        } else {
            old.trim().to_string()
        };
        std::fs::write(KUNIT_FILTER, old).map_err(|e| format!("{KUNIT_FILTER}: {e}"))?;
    }
    let back = restore();
    result.and(back)
}

fn mmap_munmap_cycles_leave_memory_as_it_was() -> TestResult {
    let cycles = env_or("MYDEV_MAP_CYCLES", 10_000);
    let fd = open_rw().map_err(|e| e.to_string())?;
    let pages = device_size()? / PAGE;
    let before = memory()?;
    let start = Instant::now();
    for i in 0..cycles as usize {
        let m = map_shared(&fd, pages, 0).map_err(|e| format!("mmap {i}: {e}"))?;
        m.store((i * 31) % (pages * PAGE), i as u8);
        drop(m);
    }
    let elapsed = start.elapsed();
    let (free, slab) = memory_back(before, 16 * 1024, cycles)?;
    println!(
        "# mapping: {cycles} mmap/touch/munmap cycles in {:.1}s; MemFree {free:+} KiB, Slab {slab:+} KiB",
        elapsed.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        concurrent_users_keep_rmmod_out_then_unload_and_reload_zeroed,
        load_unload_cycles_with_varying_size_leave_memory_as_it_was,
        mmap_munmap_cycles_leave_memory_as_it_was,
    ])
}
