// SPDX-License-Identifier: GPL-2.0

//! The guests of a test run, from a queue that a fixed number of workers take from.

use crate::guest::run::{self, GuestRun};
use crate::guest::spec::GuestSpec;
use crate::paths::Paths;
use anyhow::Result;

/// Guests that run at once from the queue (besides the self-tests' own).
pub const GUEST_WORKERS: usize = 2;

/// Runs every guest of `specs`, `workers` at a time, each worker taking the next one when its
/// guest is done; the results come back in the order of `specs`.
pub fn run_queue(paths: &Paths, specs: &[GuestSpec<'_>], workers: usize) -> Result<Vec<GuestRun>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<Result<GuestRun>>>> =
        std::sync::Mutex::new(specs.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.min(specs.len()) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(spec) = specs.get(i) else { break };
                    let run = run::run(paths, spec);
                    if let Ok(mut r) = results.lock() {
                        r[i] = Some(run);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a guest worker panicked"))?
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(anyhow::anyhow!("a guest never ran"))))
        .collect()
}
