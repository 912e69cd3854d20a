// SPDX-License-Identifier: MIT OR Apache-2.0

//! Copies between a mapping and ordinary memory, made of relaxed atomic accesses.
//!
//! Mapped bytes can change while they are copied: another thread copying through the same
//! [`Mapping`](crate::Mapping), another process's stores, the device's `write`. Under Rust's
//! memory model two accesses to one location race unless both are atomic (or both read), and a
//! race is undefined behaviour; volatile accesses do not help. So every access to mapped memory
//! here is an atomic access of one size, `AtomicUsize` (a word: 8 bytes on 64-bit targets) at a
//! word-aligned address, `Relaxed`:
//!
//! - the whole words in the middle of a range are loaded or stored one word at a time (plain
//!   `mov`s on x86-64, which is why this runs near `memcpy`'s speed);
//! - a word that the range covers only in part is loaded whole when reading; when writing, its
//!   other bytes are kept with a compare-and-exchange loop, so that a concurrent store to them
//!   (from this process or any other) is never undone.
//!
//! Using one access size everywhere also keeps clear of mixed-size atomic accesses, which Rust's
//! model leaves undefined when they race. The words touched outside the range lie in the same
//! pages as its first and last byte, which the mapping covers (a mapping is whole pages).
//!
//! A read-only mapping is only ever loaded from, with `Relaxed` loads of a word: the one kind of
//! atomic access that `core::sync::atomic` ("Atomic accesses to read-only memory") defines on
//! memory the system maps read-only, for loads up to the register width of the targets it lists
//! (hence `usize`, not `u64`, which would exceed it on 32-bit targets).

use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

const WORD: usize = size_of::<usize>();

/// The word `i` of `words` as an atomic.
///
/// # Safety
///
/// `words.add(i)` must be word-aligned, inside a live mapping, and accessed only atomically, with
/// accesses of one word (by anything that Rust's memory model sees), for as long as the reference
/// is used. If the mapping is read-only, the reference may only be used for `Relaxed` loads.
unsafe fn word<'a>(words: *mut usize, i: usize) -> &'a AtomicUsize {
    // SAFETY: The caller guarantees the alignment, that the word is mapped (so `add` stays inside
    // one allocation) and that every concurrent access is an atomic access of the same size,
    // which is what `from_ptr` needs. `from_ptr` also asks for memory valid for writes; on a
    // read-only mapping the caller only makes `Relaxed` word loads, which the module docs of
    // `core::sync::atomic` define on read-only memory (see this module's docs).
    unsafe { AtomicUsize::from_ptr(words.add(i)) }
}

/// Copies `dst.len()` bytes from `src` into `dst`.
///
/// # Safety
///
/// Every word-aligned word that overlaps `src..src + dst.len()` must lie in a live, readable
/// mapping whose bytes are accessed only with atomic word accesses, or from outside the process
/// (another process, the kernel), while the copy runs.
pub(crate) unsafe fn read(src: *const u8, dst: &mut [u8]) {
    if dst.is_empty() {
        return;
    }
    let head = src.addr() % WORD;
    let words = src.wrapping_sub(head).cast::<usize>().cast_mut();
    let load = |i: usize| {
        // SAFETY: `i` counts the words that overlap the range from the aligned one that holds
        // `src`, which the caller guarantees are mapped and accessed only atomically.
        unsafe { word(words, i) }.load(Relaxed).to_ne_bytes()
    };
    let mut i = 0;
    let mut rest = dst;
    if head != 0 {
        let n = (WORD - head).min(rest.len());
        rest[..n].copy_from_slice(&load(0)[head..head + n]);
        rest = &mut rest[n..];
        i = 1;
    }
    let mut chunks = rest.chunks_exact_mut(WORD);
    for chunk in &mut chunks {
        chunk.copy_from_slice(&load(i));
        i += 1;
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let n = tail.len();
        tail.copy_from_slice(&load(i)[..n]);
    }
}

/// Copies `src` to `dst..dst + src.len()`.
///
/// # Safety
///
/// As for [`read`], and the mapping must be writable.
pub(crate) unsafe fn write(dst: *mut u8, src: &[u8]) {
    if src.is_empty() {
        return;
    }
    let head = dst.addr() % WORD;
    let words = dst.wrapping_sub(head).cast::<usize>();
    let at = |i: usize| {
        // SAFETY: As in `read`; the caller guarantees that the words are writable too.
        unsafe { word(words, i) }
    };
    let mut i = 0;
    let mut rest = src;
    if head != 0 {
        let n = (WORD - head).min(rest.len());
        merge(at(0), head, &rest[..n]);
        rest = &rest[n..];
        i = 1;
    }
    let mut chunks = rest.chunks_exact(WORD);
    for chunk in &mut chunks {
        let mut bytes = [0u8; WORD];
        bytes.copy_from_slice(chunk);
        at(i).store(usize::from_ne_bytes(bytes), Relaxed);
        i += 1;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        merge(at(i), 0, tail);
    }
}

/// Stores `bytes` at byte `start` of `word`, keeping its other bytes as they are at the moment of
/// the store.
fn merge(word: &AtomicUsize, start: usize, bytes: &[u8]) {
    let mut current = word.load(Relaxed);
    loop {
        let mut new = current.to_ne_bytes();
        new[start..start + bytes.len()].copy_from_slice(bytes);
        match word.compare_exchange_weak(current, usize::from_ne_bytes(new), Relaxed, Relaxed) {
            Ok(_) => return,
            Err(seen) => current = seen,
        }
    }
}
