// SPDX-License-Identifier: GPL-2.0

//! Every `unsafe` operation of the crate: the two ioctls and the mapping.

use crate::{Error, ErrorKind};
use crate::{copy, uapi};
use rustix::ioctl::{Getter, NoArg, ioctl};
#[cfg(test)]
use rustix::mm::mmap_anonymous;
use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
use std::fs::File;
use std::io;
use std::path::Path;
use std::ptr::NonNull;

/// The system's page size.
pub fn page_size() -> usize {
    rustix::param::page_size()
}

/// Asks the device for its size (`MYDEV_IOC_GET_SIZE`).
pub(crate) fn get_size(file: &File) -> io::Result<u64> {
    // SAFETY: `MYDEV_IOC_GET_SIZE` is `_IOR(0xB9, 1, __u64)`: the driver writes exactly one `u64`
    // to the pointer, which `Getter` provides and owns.
    let size = unsafe {
        ioctl(
            file,
            Getter::<{ uapi::MYDEV_IOC_GET_SIZE as _ }, u64>::new(),
        )
    }?;
    Ok(size)
}

/// Zeroes the buffer (`MYDEV_IOC_CLEAR`).
pub(crate) fn clear(file: &File) -> io::Result<()> {
    // SAFETY: `MYDEV_IOC_CLEAR` is `_IO(0xB9, 2)`: it takes no argument and touches no user memory.
    unsafe { ioctl(file, NoArg::<{ uapi::MYDEV_IOC_CLEAR as _ }>::new()) }?;
    Ok(())
}

/// A shared mapping of part of the device buffer, unmapped on drop.
///
/// The bytes can change at any time (other threads, other processes, `write` calls), so the safe
/// methods copy with relaxed atomic accesses (see [`Mapping::read`]) and never hand out
/// references.
///
/// # Invariants
///
/// `ptr` is the start of a live shared mapping of `len` bytes (`len > 0`), readable, and writable
/// when `writable`; it stays mapped until `drop`.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    offset: usize,
    writable: bool,
}

// SAFETY: The mapping belongs to the process, not to a thread: it may be used and unmapped from
// any thread.
unsafe impl Send for Mapping {}
// SAFETY: Through `&Mapping`, the mapped bytes are reached only by `copy::read` and `copy::write`,
// whose every access is atomic, so threads that copy through one mapping at the same time do not
// race under Rust's memory model. The unsafe slice accessors put the burden on their callers.
unsafe impl Sync for Mapping {}

impl Mapping {
    pub(crate) fn new(file: &File, offset: usize, len: usize, writable: bool) -> io::Result<Self> {
        let prot = if writable {
            ProtFlags::READ | ProtFlags::WRITE
        } else {
            ProtFlags::READ
        };
        let offset_u64 =
            u64::try_from(offset).map_err(|_| io::Error::from(rustix::io::Errno::INVAL))?;
        // SAFETY: A new mapping at an address the kernel chooses (null hint) aliases no Rust
        // object; `len` and `offset` were checked by the caller, and the kernel checks them again.
        let ptr = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                prot,
                MapFlags::SHARED,
                file,
                offset_u64,
            )
        }?;
        let ptr =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        // INVARIANT: a live shared mapping of `len` bytes with the protections above.
        Ok(Self {
            ptr,
            len,
            offset,
            writable,
        })
    }

    /// The length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: the device never maps an empty range.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The offset in the device buffer where the mapping starts.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Whether stores through the mapping are allowed.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The address of the first mapped byte.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn check(&self, offset: usize, len: usize) -> Result<(), Error> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::out_of_bounds(
                Path::new("mapping"),
                offset,
                len,
                self.len,
            )),
        }
    }

    /// Copies `buf.len()` bytes from `offset` of the mapping into `buf`.
    ///
    /// Each 8-byte-aligned word of the mapping is read in one relaxed atomic load: a store made
    /// at the same time by another thread or process shows whole or not at all within such a word,
    /// but a copy of several words may see some of them before and some after it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] when the range leaves the mapping.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<(), Error> {
        self.check(offset, buf.len())?;
        // SAFETY: `offset..offset + buf.len()` lies inside the mapping (checked above), which is
        // live, readable and made of whole pages (type invariant), so every aligned word that
        // overlaps the range is mapped. This crate reaches mapped bytes only through `copy`'s
        // atomic accesses; other processes and the kernel are outside Rust's memory model.
        unsafe { copy::read(self.ptr.as_ptr().add(offset), buf) };
        Ok(())
    }

    /// The byte at `offset` of the mapping.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] when `offset` is not inside the mapping.
    pub fn byte(&self, offset: usize) -> Result<u8, Error> {
        let mut b = [0u8];
        self.read(offset, &mut b)?;
        Ok(b[0])
    }

    /// Copies `buf` into the mapping at `offset`.
    ///
    /// Each 8-byte-aligned word is written in one relaxed atomic store (a compare-and-exchange
    /// for the words at the ends that the range covers in part, so that a concurrent store to
    /// their other bytes is kept).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::OutOfBounds`] when the range leaves the mapping, [`ErrorKind::Map`] with
    /// `EACCES` when the mapping is read-only.
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<(), Error> {
        self.check(offset, buf.len())?;
        if !self.writable {
            return Err(Error::new(
                ErrorKind::Map,
                Path::new("mapping"),
                io::Error::from(rustix::io::Errno::ACCESS),
            ));
        }
        // SAFETY: As in `read`, and the mapping is writable (checked above, type invariant).
        unsafe { copy::write(self.ptr.as_ptr().add(offset), buf) };
        Ok(())
    }

    /// Borrows the mapping as a byte slice.
    ///
    /// # Safety
    ///
    /// For as long as the slice lives, nothing may change the mapped bytes: no store through any
    /// mapping of the same device range (in this or any other process), and no `write`, `pwrite`
    /// or clear ioctl on the device. Otherwise the slice's bytes would change under a shared
    /// reference, which is undefined behaviour.
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: The mapping is live and readable for `len` bytes (type invariant); the caller
        // guarantees that the bytes do not change while the slice exists.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Borrows the mapping as a mutable byte slice.
    ///
    /// # Safety
    ///
    /// The mapping must be writable, and for as long as the slice lives nothing else may read or
    /// change the mapped bytes: no access through any other mapping of the same range (in any
    /// process) and no `read`, `write` or ioctl on the device.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: The mapping is live for `len` bytes (type invariant); the caller guarantees it
        // is writable and that the access is exclusive while the slice exists.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` describe a mapping this value owns (type invariant); no reference
        // into it can outlive `self`, since the slice accessors borrow `self`.
        // An error here cannot be reported from `drop`, and leaves at worst a stale mapping.
        let _ = unsafe { munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
impl Mapping {
    /// A shared anonymous mapping of `len` bytes, standing in for the device in host tests.
    pub(crate) fn anonymous(len: usize) -> Self {
        // SAFETY: A new anonymous mapping at an address the kernel chooses aliases no Rust object.
        let ptr = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
            )
        }
        .expect("an anonymous mapping");
        // INVARIANT: a live shared, writable mapping of `len` bytes.
        Self {
            ptr: NonNull::new(ptr.cast()).expect("mmap returned null"),
            len,
            offset: 0,
            writable: true,
        }
    }
}

#[cfg(test)]
mod tests {
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

    /// A reader racing a writer sees each aligned 8-byte word whole: all of one store or of the
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
                    .chunks(8)
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
}
