// SPDX-License-Identifier: GPL-2.0

//! Page faults of one 2 MiB range racing while the THP policy flips: the race of issue 19,
//! shared by `mm-tests` (alone, 10,000 rounds) and the concurrent checker (one process beside
//! the others).
//!
//! Whether a fault of a shared mapping reaches the module's `huge_fault` (a PMD entry) or its
//! `fault` (a page table and a 4 KiB entry) depends on the THP policy when the fault starts, and
//! `prctl(PR_SET_THP_DISABLE)` changes it for the whole process without privilege. Each round
//! maps a 2 MiB part of the buffer at a 2 MiB-aligned address; two threads then store into its
//! first page at once, each right after setting the `prctl` its own way (one enables THP, the
//! other disables it; which one alternates by round), so that the two faults often start under
//! different policies and take different paths. Both stores must land, and the kernel must not
//! complain (the caller checks
//! the log, or the harness does).

use crate::sys::{self, PART, Reserve};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

/// The two stores of a round: (offset in the part, byte).
const STORES: [(usize, u8); 2] = [(0, 0xa5), (1, 0x5a)];

/// What a race did.
#[derive(Debug, Default)]
pub struct Race {
    pub rounds: usize,
    /// Rounds sampled (one in ten), and how many of them got a PMD entry.
    pub sampled: usize,
    pub huge: usize,
    pub flips: u64,
}

/// Runs up to `rounds` rounds over the 2 MiB part at buffer offset `off` (2 MiB-aligned) of the
/// device open as `fd`, until `stop` is set (by another process, through shared memory) or the
/// rounds are done. The buffer's first two bytes of the part are its own: each round zeroes them
/// through `pwrite` and checks after the stores that the mapping and `pread` show both.
pub fn run(fd: &OwnedFd, off: usize, rounds: usize, stop: &AtomicBool) -> Result<Race, String> {
    let r: Reserve = sys::reserve_aligned(PART).map_err(|e| e.to_string())?;
    let done = Arc::new(AtomicBool::new(false));
    // The mapping's address; the round's number, whose parity says which storer disables THP.
    let addr = Arc::new(AtomicUsize::new(0));
    let round = Arc::new(AtomicUsize::new(0));
    // The main thread and the two storers meet before and after each round's stores.
    let gate = Arc::new(Barrier::new(3));
    let storers: Vec<_> = STORES
        .into_iter()
        .enumerate()
        .map(|(i, (at, byte))| {
            let (gate, addr, round, done) =
                (gate.clone(), addr.clone(), round.clone(), done.clone());
            std::thread::spawn(move || {
                let mut flips = 0u64;
                loop {
                    gate.wait();
                    if done.load(Ordering::Relaxed) {
                        return flips;
                    }
                    let disable = (i + round.load(Ordering::Relaxed)) & 1;
                    // SAFETY: prctl with integer arguments.
                    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, disable, 0, 0, 0) };
                    flips += 1;
                    let p = (addr.load(Ordering::Relaxed) + at) as *mut u8;
                    // SAFETY: the main thread mapped the 2 MiB at `addr` before the gate and
                    // unmaps it only after the second gate; `at` is inside it.
                    unsafe { p.write_volatile(byte) };
                    gate.wait();
                }
            })
        })
        .collect();
    let mut race = Race::default();
    let result = rounds_loop(fd, off, &r, rounds, stop, &gate, &addr, &round, &mut race);
    done.store(true, Ordering::Relaxed);
    gate.wait();
    for s in storers {
        race.flips += s.join().map_err(|_| "a storer panicked".to_string())?;
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 0, 0, 0, 0) };
    result.map(|()| race)
}

#[allow(clippy::too_many_arguments)]
fn rounds_loop(
    fd: &OwnedFd,
    off: usize,
    r: &Reserve,
    rounds: usize,
    stop: &AtomicBool,
    gate: &Barrier,
    addr: &AtomicUsize,
    round_now: &AtomicUsize,
    race: &mut Race,
) -> Result<(), String> {
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    while race.rounds < rounds && !stop.load(Ordering::Relaxed) {
        let round = race.rounds;
        sys::pwrite(fd, &[0, 0], off as i64).map_err(|e| format!("pwrite: {e}"))?;
        // Which path filled the entry, in one round of ten (reading meminfo costs).
        let sample = round % 10 == 0;
        let before = if sample {
            sys::file_pmd_mapped_kib()?
        } else {
            0
        };
        let m = sys::mmap_fixed(fd, r.base, PART, rw, libc::MAP_SHARED, off as u64)
            .map_err(|e| format!("round {round}: mmap: {e}"))?;
        addr.store(m.addr, Ordering::Relaxed);
        round_now.store(round, Ordering::Relaxed);
        gate.wait();
        gate.wait();
        if sample {
            race.sampled += 1;
            if sys::file_pmd_mapped_kib()? > before {
                race.huge += 1;
            }
        }
        let got = [m.load(0), m.load(1)];
        // Not dropped: unmapping left a hole in the reservation that the other threads' malloc
        // could take, and the next round's mapping then landed on the heap (a racer crashed in
        // musl's free()).
        m.unplace()
            .map_err(|e| format!("round {round}: unplace: {e}"))?;
        let mut b = [0u8; 2];
        sys::pread(fd, &mut b, off as i64).map_err(|e| format!("pread: {e}"))?;
        let want = [STORES[0].1, STORES[1].1];
        if got != want || b != want {
            return Err(format!(
                "round {round}: the mapping shows {got:x?} and the buffer holds {b:x?}, \
                 expected {want:x?}"
            ));
        }
        race.rounds += 1;
    }
    Ok(())
}
