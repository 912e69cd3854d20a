// SPDX-License-Identifier: GPL-2.0

//! Buffers made and removed while others use them: one thread creates, resizes, takes down
//! (`live` 0) and removes (`rmdir`) a few spare buffers as fast as it can, while another opens
//! their nodes, maps them, writes through the file and reads through the mapping. Whatever the
//! timing, an `open` either fails because the node is gone (`ENOENT`, `ENODEV`, `ENXIO`) or
//! gives a whole buffer that stays the same buffer: its size does not change under the file,
//! what the file writes the mapping shows, and a mapping keeps its bytes after the node goes.

use crate::Rng;
use crate::cfs;
use crate::sys::{self, PAGE};
use std::sync::atomic::{AtomicBool, Ordering};

/// The spare buffers' names.
const SPARES: [&str; 3] = ["spare0", "spare1", "spare2"];

/// What a churn did.
#[derive(Debug, Default)]
pub struct Churn {
    /// `live` 1, `live` 0 and `rmdir` that the mutator did.
    pub made: u64,
    pub downed: u64,
    pub removed: u64,
    /// Opens that found a node, and those that found none.
    pub opened: u64,
    pub missed: u64,
}

/// The mutator: until `stop`, makes random changes to the spares.
fn mutate(seed: u64, stop: &AtomicBool) -> Result<Churn, String> {
    let mut rng = Rng::new(seed);
    let mut c = Churn::default();
    while !stop.load(Ordering::Relaxed) {
        let name = SPARES[rng.below(SPARES.len())];
        let exists = std::path::Path::new(&cfs::dir(name)).exists();
        if !exists {
            cfs::mkdir(name).map_err(|e| format!("mkdir {name}: {e}"))?;
            let pages = 1 + rng.below(600);
            cfs::set(name, "size", &(pages * PAGE).to_string())
                .map_err(|e| format!("{name}/size: {e}"))?;
            continue;
        }
        match (cfs::get(name, "live")?.as_str(), rng.below(3)) {
            ("0", 0) => {
                cfs::rmdir(name).map_err(|e| format!("rmdir {name}: {e}"))?;
                c.removed += 1;
            }
            ("0", _) => {
                cfs::set(name, "live", "1").map_err(|e| format!("{name}/live 1: {e}"))?;
                c.made += 1;
            }
            (_, 0) => {
                // Removing a live buffer: the node goes with the directory.
                cfs::set(name, "live", "0").map_err(|e| format!("{name}/live 0: {e}"))?;
                cfs::rmdir(name).map_err(|e| format!("rmdir {name}: {e}"))?;
                c.removed += 1;
            }
            _ => {
                cfs::set(name, "live", "0").map_err(|e| format!("{name}/live 0: {e}"))?;
                c.downed += 1;
            }
        }
    }
    Ok(c)
}

/// One use of a spare that was open: write through the file, read through a mapping made before
/// and after the write, and check the size never changes.
fn use_open(fd: &std::os::fd::OwnedFd, rng: &mut Rng) -> Result<(), String> {
    let size = sys::fdinfo_field(fd, "mydev-size:")? as usize;
    let map = sys::map_shared(fd, size / PAGE, 0).map_err(|e| format!("mmap: {e}"))?;
    let off = rng.below(size);
    let len = (1 + rng.below(256)).min(size - off);
    let bytes: Vec<u8> = (0..len).map(|_| rng.below(255) as u8 + 1).collect();
    sys::pwrite(fd, &bytes, off as i64).map_err(|e| format!("pwrite: {e}"))?;
    // Let the mutator take the node down meanwhile, now and then.
    if rng.below(4) == 0 {
        std::thread::yield_now();
    }
    // SAFETY: `off..off + len` lies inside the `size`-byte shared mapping `map`.
    let seen = unsafe { std::slice::from_raw_parts((map.addr + off) as *const u8, len) };
    if seen != bytes.as_slice() {
        return Err(format!(
            "the mapping does not show a write at {off} of {len} bytes"
        ));
    }
    let again = sys::fdinfo_field(fd, "mydev-size:")? as usize;
    if again != size {
        return Err(format!(
            "the size changed under an open file: {size} -> {again}"
        ));
    }
    Ok(())
}

/// The user: until `stop`, opens a random spare's node and uses it.
fn use_spares(seed: u64, stop: &AtomicBool) -> Result<(u64, u64), String> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let (mut opened, mut missed) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let name = SPARES[rng.below(SPARES.len())];
        match sys::open(&cfs::node(name), libc::O_RDWR) {
            Ok(fd) => {
                opened += 1;
                use_open(&fd, &mut rng).map_err(|e| format!("{}: {e}", cfs::node(name)))?;
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ENOENT) | Some(libc::ENODEV) | Some(libc::ENXIO)
                ) =>
            {
                missed += 1;
            }
            Err(e) => return Err(format!("open {}: {e}", cfs::node(name))),
        }
    }
    Ok((opened, missed))
}

/// Runs the mutator and the user until `stop` is set, then removes the spares.
pub fn run(seed: u64, stop: &'static AtomicBool) -> Result<Churn, String> {
    let user = std::thread::spawn(move || use_spares(seed, stop));
    let mutated = mutate(seed, stop);
    if mutated.is_err() {
        // The user stops at the flag too.
        stop.store(true, Ordering::Relaxed);
    }
    let used = user
        .join()
        .map_err(|_| "the user thread panicked".to_string())?;
    let mut c = mutated?;
    (c.opened, c.missed) = used?;
    for name in SPARES {
        cfs::remove(name)?;
    }
    Ok(c)
}
