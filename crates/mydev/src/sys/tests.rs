// SPDX-License-Identifier: MIT OR Apache-2.0

//! Host tests of the mapping's copies, over anonymous memory.

use super::Mapping;
use std::time::{Duration, Instant};

/// The fastest of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Every offset and length near the word boundaries copies exactly its bytes, and no other.
#[test]
fn copies_at_every_offset_and_length_match_a_model() {
    const PAGE: usize = 4096;
    let map = Mapping::anonymous(PAGE);
    let mut model = vec![0u8; PAGE];
    let mut seed = 1u8;
    for offset in (0..24).chain(PAGE - 24..PAGE) {
        for len in 0..=(PAGE - offset).min(40) {
            let data: Vec<u8> = (0..len)
                .map(|i| seed.wrapping_mul(31).wrapping_add(i as u8) | 1)
                .collect();
            seed = seed.wrapping_add(1);
            map.write(offset, &data).unwrap();
            model[offset..offset + len].copy_from_slice(&data);
            let mut back = vec![0u8; len];
            map.read(offset, &mut back).unwrap();
            assert_eq!(back, data, "read({offset}, {len})");
            let mut all = vec![0u8; PAGE];
            map.read(0, &mut all).unwrap();
            assert!(all == model, "write({offset}, {len}) changed other bytes");
        }
    }
}

/// A copy outside the mapping names the operation, the mapping and the room there was.
#[test]
fn out_of_bounds_copies_name_the_operation_and_the_mapping() {
    let map = Mapping::anonymous(4096);
    let e = map.read(4095, &mut [0u8; 2]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot read 2 bytes at offset 4095 of a mapping of anonymous: they run past the end of \
         the 4096-byte mapping (room for 1 byte from there)"
    );
    let b = e.bounds().unwrap();
    assert_eq!((b.offset, b.len, b.size), (4095, 2, 4096));
    let e = map.write(usize::MAX, b"x").unwrap_err();
    assert!(
        e.to_string().starts_with("cannot write 1 byte at offset"),
        "{e}"
    );
    assert_eq!(e.kind(), crate::ErrorKind::OutOfBounds);
}

/// A reader racing a writer sees each aligned word whole: all of one store or of the
/// other (a byte-at-a-time copy mixes them).
#[test]
fn aligned_words_are_never_torn_by_a_concurrent_writer() {
    const LEN: usize = 4096;
    let map = Mapping::anonymous(LEN);
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let (zeros, ones) = ([0u8; LEN], [0xffu8; LEN]);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                map.write(0, &zeros).unwrap();
                map.write(0, &ones).unwrap();
            }
        });
        let mut buf = [0u8; LEN];
        let start = Instant::now();
        let mut torn = 0;
        while start.elapsed() < Duration::from_millis(300) {
            map.read(0, &mut buf).unwrap();
            torn += buf
                .chunks(size_of::<usize>())
                .filter(|w| w.iter().any(|&b| b != w[0]))
                .count();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        assert_eq!(torn, 0, "words mixing two stores");
    });
}

/// `Mapping::read` and `Mapping::write` of 64 MiB against `memcpy` of the same bytes, in
/// the same run: `cargo test -p mydev --release --lib -- --ignored --nocapture copy_bench`.
#[test]
#[ignore = "a benchmark: run it with --release -- --ignored --nocapture"]
fn copy_benchmark_64_mib_against_memcpy() {
    const LEN: usize = 64 << 20;
    let map = Mapping::anonymous(LEN);
    let mut buf = vec![0x5au8; LEN];
    map.write(0, &buf).unwrap();
    let gbs = |d: Duration| LEN as f64 / d.as_secs_f64() / 1e9;
    let read = best(5, || map.read(0, &mut buf).unwrap());
    let write = best(5, || map.write(0, &buf).unwrap());
    let src = map.as_ptr();
    let memcpy_read = best(5, || {
        // SAFETY: `src` is a live mapping of `LEN` bytes that nothing else touches during the
        // copy, and `buf` holds `LEN` bytes and does not overlap it.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), LEN) };
        std::hint::black_box(&mut buf);
    });
    let memcpy_write = best(5, || {
        // SAFETY: As above, in the other direction.
        unsafe { std::ptr::copy_nonoverlapping(buf.as_ptr(), src, LEN) };
        std::hint::black_box(src);
    });
    println!(
        "read: {:.2} GB/s, memcpy {:.2} GB/s, ratio {:.2}",
        gbs(read),
        gbs(memcpy_read),
        read.as_secs_f64() / memcpy_read.as_secs_f64()
    );
    println!(
        "write: {:.2} GB/s, memcpy {:.2} GB/s, ratio {:.2}",
        gbs(write),
        gbs(memcpy_write),
        write.as_secs_f64() / memcpy_write.as_secs_f64()
    );
}
