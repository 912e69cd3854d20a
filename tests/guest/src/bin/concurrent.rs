// SPDX-License-Identifier: GPL-2.0

//! The concurrent model checker: several processes work on one device at once, each checking
//! what it sees against what it knows.
//!
//! Each process owns a slice: the odd ones a configfs buffer of their own (`/dev/mydev-wN`, one
//! slice long), the even ones a slice of `/dev/mydev`, which also holds a shared slice after
//! theirs. Each process writes it with `write`, `pwrite` and stores through shared mappings, reads
//! it back with `read`, `pread` and loads through its mappings (shared and private), and keeps a
//! model of it that every read must match byte for byte, as must every live mapping over the
//! range an operation touched (and the whole slice every 256 operations and at the end). Its
//! mappings come and go: `mmap`, whole and partial `munmap`, `mremap` that shrinks or moves (and
//! one that would grow, refused), `MADV_DONTNEED`, and `fork` with the child storing through an inherited mapping
//! and writing with `pwrite` before it exits. All of that races with the same calls of the other
//! processes on the same device.
//!
//! Nobody owns the shared slice: every process writes it (`pwrite` and stores through a mapping
//! of it) and reads it (`pread` and loads). Before a process puts byte `v` at offset `o` it sets
//! bit `v` of offset `o` in a bitmap that all processes share (anonymous shared memory); every
//! byte read there must be 0 (the zeroed buffer) or have its bit set: no invented values, and no
//! bytes from a slice (slices hold bytes below 0x80, the shared slice only bytes from 0x80 up).
//!
//! Beside them, a churner (`guest_tests::churn`) makes, takes down and removes spare buffers
//! while one of its threads opens, maps and writes them; and one more process races page faults over the THP policy (`guest_tests::race`):
//! it maps a 2 MiB part of the buffer after the slices again and again, two of its threads store
//! into it at once while a third flips `prctl(PR_SET_THP_DISABLE)`, so that the module's PMD and
//! 4 KiB fault handlers race while the workers map, unmap, fork and copy around them; it stops
//! when they are done. (Without THP it is left out, and says so.)
//!
//! `concurrent [--procs N] [--ops N] [--seed N] [--seconds N]`; defaults from
//! `MYDEV_CONCURRENT_PROCS` (4), `MYDEV_CONCURRENT_OPS` (operations per process, 100,000),
//! `MYDEV_FUZZ_SEED` (1) and `MYDEV_FUZZ_SECONDS` (600: each process stops there). Prints a
//! line per process and TAP with one result.

use guest_tests::sys::{self, PAGE};
use guest_tests::{Rng, arg};
use guest_tests::{cfs, churn};
use mydev::uapi::MYDEV_IOC_GET_SIZE;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Pages of each process's slice, and of the shared slice.
const SLICE_PAGES: usize = 4;
const SLICE: usize = SLICE_PAGES * PAGE;
const SHARED_PAGES: usize = 4;
const SHARED: usize = SHARED_PAGES * PAGE;
const MAX_MAPS: usize = 4;
const FULL_CHECK_EVERY: u64 = 256;
/// Bytes of a slice are below this; bytes of the shared slice are this or above.
const SHARED_BIT: u8 = 0x80;

/// Which byte values have been put at each offset of the shared slice, by anyone: 256 bits an
/// offset, in anonymous memory that every process shares.
struct Written {
    bits: *const AtomicU64,
}

impl Written {
    const WORDS: usize = SHARED * 4;

    fn new() -> Result<Self, String> {
        let p = shared_anon(Self::WORDS * 8, "bitmap mmap")?;
        Ok(Self {
            bits: p as *const AtomicU64,
        })
    }

    fn word(&self, off: usize, v: u8) -> (&AtomicU64, u64) {
        assert!(off < SHARED);
        // SAFETY: `off * 4 + v / 64 < WORDS`, inside the mapping, which lives as long as the
        // process; atomics are valid for any bit pattern and shared across processes.
        let w = unsafe { &*self.bits.add(off * 4 + usize::from(v) / 64) };
        (w, 1 << (v % 64))
    }

    /// Records that `v` is about to be put at `off` (before it is).
    fn put(&self, off: usize, v: u8) {
        let (w, bit) = self.word(off, v);
        w.fetch_or(bit, Ordering::SeqCst);
    }

    /// Whether `v`, read at `off`, is a value someone put there (or the initial 0).
    fn allows(&self, off: usize, v: u8) -> bool {
        let (w, bit) = self.word(off, v);
        v == 0 || w.load(Ordering::SeqCst) & bit != 0
    }
}

#[derive(Debug, Clone)]
struct Mapping {
    addr: usize,
    /// Pages mapped, and the first page of the slice it maps.
    pages: usize,
    first: usize,
    writable: bool,
    private: bool,
    /// A private mapping's copies of the pages it stored into, by page of the slice.
    copies: BTreeMap<usize, Vec<u8>>,
}

impl Mapping {
    fn len(&self) -> usize {
        self.pages * PAGE
    }
    /// The slice's offsets this mapping covers.
    fn range(&self) -> std::ops::Range<usize> {
        self.first * PAGE..(self.first + self.pages) * PAGE
    }
    fn shows(&self, model: &[u8], off: usize) -> u8 {
        match self.copies.get(&(off / PAGE)) {
            Some(copy) => copy[off % PAGE],
            None => model[off],
        }
    }
    /// The bytes at slice offsets `a..b`, which `range()` covers, copied out in one go (a
    /// byte-by-byte check costs several times more under emulation).
    fn copy_out(&self, a: usize, b: usize) -> Vec<u8> {
        let mut out = vec![0u8; b - a];
        // SAFETY: `a..b` lies inside `range()`, mapped readable by this process; nobody else
        // writes this slice, and no reference to the mapping is formed.
        unsafe {
            std::ptr::copy_nonoverlapping(
                (self.addr + a - self.first * PAGE) as *const u8,
                out.as_mut_ptr(),
                b - a,
            )
        };
        out
    }

    fn load(&self, off: usize) -> u8 {
        // SAFETY: callers pass `off` inside `range()`, which is mapped readable.
        unsafe { ((self.addr + off - self.first * PAGE) as *const u8).read_volatile() }
    }
}

/// One process: its slice, model, files and mappings.
struct Worker<'a> {
    /// Offset of the slice in its buffer (`fd`'s).
    base: usize,
    /// The size of that buffer.
    dev_size: u64,
    /// `/dev/mydev`, which holds the shared slice.
    shared: OwnedFd,
    model: Vec<u8>,
    fd: OwnedFd,
    ro: OwnedFd,
    maps: Vec<Mapping>,
    /// A shared mapping of the shared slice, remapped now and then.
    shared_map: usize,
    written: &'a Written,
    rng: Rng,
    counts: BTreeMap<&'static str, u64>,
    /// Time spent per operation kind, the checks after it included.
    times: BTreeMap<&'static str, Duration>,
    /// The kind of the operation that ran last.
    last: &'static str,
    bytes_checked: u64,
}

/// `len` bytes for a slice (below 0x80), eight from each random number.
fn slice_bytes(r: &mut Rng, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        v.extend_from_slice(&(r.next_u64() & 0x7f7f_7f7f_7f7f_7f7f).to_le_bytes());
    }
    v.truncate(len);
    v
}

fn slice_byte(r: &mut Rng) -> u8 {
    r.next_u64() as u8 & !SHARED_BIT
}

fn shared_byte(r: &mut Rng) -> u8 {
    r.next_u64() as u8 | SHARED_BIT
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", io::Error::last_os_error())
}

/// A shared read-write mapping of `len` bytes of `fd` from `off`.
fn map(fd: &OwnedFd, len: usize, off: usize, private: bool, writable: bool) -> io::Result<usize> {
    let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
    let flags = if private {
        libc::MAP_PRIVATE
    } else {
        libc::MAP_SHARED
    };
    sys::mmap(fd, len, prot, flags, off as u64).map(|m| {
        let addr = m.addr;
        m.forget();
        addr
    })
}

impl<'a> Worker<'a> {
    fn new(id: usize, procs: usize, seed: u64, written: &'a Written) -> Result<Self, String> {
        let (path, base, dev_size) = slice_home(id, procs);
        let fd = sys::open(&path, libc::O_RDWR).map_err(|e| format!("open {path}: {e}"))?;
        let ro =
            sys::open(&path, libc::O_RDONLY).map_err(|e| format!("open {path} read-only: {e}"))?;
        let shared = sys::open_rw().map_err(|e| format!("open: {e}"))?;
        let shared_map = map(&shared, SHARED, procs * SLICE, false, true)
            .map_err(|e| format!("mmap of the shared slice: {e}"))?;
        Ok(Self {
            base,
            dev_size,
            shared,
            model: vec![0; SLICE],
            fd,
            ro,
            maps: Vec::new(),
            shared_map,
            written,
            rng: Rng::new(seed.wrapping_mul(1000).wrapping_add(id as u64)),
            counts: BTreeMap::new(),
            times: BTreeMap::new(),
            last: "nothing",
            bytes_checked: 0,
        })
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
        self.last = what;
    }

    /// The slice's offsets `start..end` through `pread` and every live mapping.
    fn verify(&mut self, start: usize, end: usize) -> Result<(), String> {
        if start >= end {
            return Ok(());
        }
        let mut buf = vec![0u8; end - start];
        let n = sys::pread(&self.ro, &mut buf, (self.base + start) as i64)
            .map_err(|e| format!("check pread: {e}"))?;
        if n != buf.len() {
            return Err(format!("check pread of {start}..{end}: {n} bytes"));
        }
        if buf != self.model[start..end] {
            let k = (0..buf.len())
                .find(|&k| buf[k] != self.model[start + k])
                .unwrap_or(0);
            return Err(format!(
                "pread shows {:#x} at slice offset {}, model {:#x}",
                buf[k],
                start + k,
                self.model[start + k]
            ));
        }
        self.bytes_checked += buf.len() as u64;
        for m in &self.maps {
            let r = m.range();
            let (a, b) = (start.max(r.start), end.min(r.end));
            if a >= b {
                continue;
            }
            let got = m.copy_out(a, b);
            // Page by page: the mapping's copy of the page, or the model's bytes.
            let mut off = a;
            while off < b {
                let page_end = ((off / PAGE + 1) * PAGE).min(b);
                let want = match m.copies.get(&(off / PAGE)) {
                    Some(copy) => &copy[off % PAGE..off % PAGE + (page_end - off)],
                    None => &self.model[off..page_end],
                };
                if got[off - a..page_end - a] != *want {
                    let k = (0..want.len())
                        .find(|&k| got[off - a + k] != want[k])
                        .unwrap_or(0);
                    return Err(format!(
                        "{} mapping of pages {}..{} shows {:#x} at slice offset {}, model {:#x}",
                        if m.private { "private" } else { "shared" },
                        m.first,
                        m.first + m.pages,
                        got[off - a + k],
                        off + k,
                        want[k],
                    ));
                }
                off = page_end;
            }
            self.bytes_checked += (b - a) as u64;
        }
        Ok(())
    }

    /// Every byte of the shared slice through `pread` and this process's mapping of it.
    fn verify_shared(&mut self, start: usize, end: usize, procs: usize) -> Result<(), String> {
        let mut buf = vec![0u8; end - start];
        let n = sys::pread(&self.shared, &mut buf, (procs * SLICE + start) as i64)
            .map_err(|e| format!("shared pread: {e}"))?;
        if n != buf.len() {
            return Err(format!("shared pread of {start}..{end}: {n} bytes"));
        }
        for (k, &v) in buf.iter().enumerate() {
            if !self.written.allows(start + k, v) {
                return Err(format!(
                    "pread of the shared slice shows {v:#x} at {}, which nobody put there",
                    start + k
                ));
            }
        }
        for off in start..end {
            // SAFETY: `off < SHARED`, inside the live shared mapping of the shared slice.
            let v = unsafe { ((self.shared_map + off) as *const u8).read_volatile() };
            if !self.written.allows(off, v) {
                return Err(format!(
                    "the mapping of the shared slice shows {v:#x} at {off}, which nobody put there"
                ));
            }
        }
        self.bytes_checked += 2 * (end - start) as u64;
        Ok(())
    }

    /// A random range inside the slice: (offset, length), length at least 1.
    fn range(&mut self) -> (usize, usize) {
        let off = self.rng.below(SLICE);
        let max = SLICE - off;
        let len = match self.rng.below(3) {
            0 => 1 + self.rng.below(max.min(16)),
            1 => 1 + self.rng.below(max),
            _ => max.min(PAGE),
        };
        (off, len)
    }

    fn store_model(&mut self, off: usize, bytes: &[u8]) {
        self.model[off..off + bytes.len()].copy_from_slice(bytes);
    }

    /// One random operation; returns the slice's range it touched.
    fn step(&mut self, procs: usize) -> Result<(usize, usize), String> {
        let pick = self.rng.below(1000);
        match pick {
            0..=99 => self.pwrite(),
            100..=179 => self.write(),
            180..=259 => self.read(pick),
            260..=339 => self.mmap(),
            340..=459 => self.load(),
            460..=599 => self.store(),
            600..=639 => self.munmap(),
            640..=669 => self.mremap(),
            670..=689 => self.madvise(),
            // Forks are rare: each costs about 0.1 s on the debug kernel under emulation.
            690..=691 => self.fork(),
            692..=709 => self.store(),
            710..=789 => self.shared_pwrite(procs),
            790..=849 => self.shared_store(),
            850..=929 => self.shared_read(procs),
            930..=949 => self.shared_remap(procs),
            _ => self.get_size(),
        }
    }

    /// A `pwrite` into the process's slice.
    fn pwrite(&mut self) -> Result<(usize, usize), String> {
        let (off, len) = self.range();
        let bytes = slice_bytes(&mut self.rng, len);
        let n = sys::pwrite(&self.fd, &bytes, (self.base + off) as i64)
            .map_err(|e| format!("pwrite of {len} at {off}: {e}"))?;
        if n != len {
            return Err(format!("pwrite of {len} at {off} wrote {n}"));
        }
        self.store_model(off, &bytes);
        self.count("pwrite");
        Ok((off, off + len))
    }

    /// A `write` into the slice after `lseek`, which must leave the position after it.
    fn write(&mut self) -> Result<(usize, usize), String> {
        let (off, len) = self.range();
        let bytes = slice_bytes(&mut self.rng, len);
        let at = (self.base + off) as i64;
        sys::lseek(&self.fd, at, libc::SEEK_SET).map_err(|e| format!("lseek: {e}"))?;
        let n = sys::write(&self.fd, &bytes).map_err(|e| format!("write: {e}"))?;
        let pos = sys::lseek(&self.fd, 0, libc::SEEK_CUR).map_err(|e| e.to_string())?;
        if n != len || pos != at + len as i64 {
            return Err(format!("write of {len} at {at}: {n} bytes, position {pos}"));
        }
        self.store_model(off, &bytes);
        self.count("write");
        Ok((off, off + len))
    }

    /// A `read` after `lseek` (`pick` below 220) or a `pread` of the slice, checked.
    fn read(&mut self, pick: usize) -> Result<(usize, usize), String> {
        let (off, len) = self.range();
        let mut buf = vec![0u8; len];
        let at = (self.base + off) as i64;
        let n = if pick < 220 {
            sys::lseek(&self.fd, at, libc::SEEK_SET).map_err(|e| e.to_string())?;
            self.count("read");
            sys::read(&self.fd, &mut buf).map_err(|e| format!("read: {e}"))?
        } else {
            self.count("pread");
            sys::pread(&self.fd, &mut buf, at).map_err(|e| format!("pread: {e}"))?
        };
        if n != len || buf != self.model[off..off + len] {
            return Err(format!(
                "read of {len} at slice offset {off}: {n} bytes, differing from the model"
            ));
        }
        Ok((0, 0))
    }

    /// A load through a mapping, checked.
    fn load(&mut self) -> Result<(usize, usize), String> {
        let Some(k) = self.pick_map() else {
            return Ok((0, 0));
        };
        let m = &self.maps[k];
        let off = m.first * PAGE + self.rng.below(m.len());
        let (got, want) = (m.load(off), m.shows(&self.model, off));
        if got != want {
            return Err(format!(
                "load at slice offset {off}: {got:#x}, model {want:#x}"
            ));
        }
        self.count("load");
        Ok((0, 0))
    }

    /// `madvise(MADV_DONTNEED)` of a whole mapping.
    fn madvise(&mut self) -> Result<(usize, usize), String> {
        let Some(k) = self.pick_map() else {
            return Ok((0, 0));
        };
        let m = &mut self.maps[k];
        // SAFETY: advising on a live mapping of this process.
        if unsafe { libc::madvise(m.addr as *mut libc::c_void, m.len(), libc::MADV_DONTNEED) } != 0
        {
            return Err(os_err("madvise"));
        }
        // A private mapping's copies go; it shows the buffer again.
        m.copies.clear();
        let r = m.range();
        self.count("madvise");
        Ok((r.start, r.end))
    }

    /// The shared slice: pwrite bytes from 0x80 up, each recorded before it is put.
    fn shared_pwrite(&mut self, procs: usize) -> Result<(usize, usize), String> {
        let off = self.rng.below(SHARED);
        let len = 1 + self.rng.below((SHARED - off).min(256));
        let bytes: Vec<u8> = (0..len).map(|_| shared_byte(&mut self.rng)).collect();
        for (k, &v) in bytes.iter().enumerate() {
            self.written.put(off + k, v);
        }
        let n = sys::pwrite(&self.shared, &bytes, (procs * SLICE + off) as i64)
            .map_err(|e| format!("shared pwrite: {e}"))?;
        if n != len {
            return Err(format!("shared pwrite of {len}: {n} bytes"));
        }
        self.count("shared pwrite");
        Ok((0, 0))
    }

    /// A store into the shared slice, recorded before it is put.
    fn shared_store(&mut self) -> Result<(usize, usize), String> {
        let off = self.rng.below(SHARED);
        let v = shared_byte(&mut self.rng);
        self.written.put(off, v);
        // SAFETY: `off < SHARED`, inside the live writable mapping of the shared slice.
        unsafe { ((self.shared_map + off) as *mut u8).write_volatile(v) };
        self.count("shared store");
        Ok((0, 0))
    }

    /// A read of the shared slice, checked against what was recorded.
    fn shared_read(&mut self, procs: usize) -> Result<(usize, usize), String> {
        let off = self.rng.below(SHARED);
        let len = 1 + self.rng.below((SHARED - off).min(512));
        self.verify_shared(off, off + len, procs)?;
        self.count("shared read");
        Ok((0, 0))
    }

    /// Remaps the shared slice, racing with the others' faults on it.
    fn shared_remap(&mut self, procs: usize) -> Result<(usize, usize), String> {
        // SAFETY: the mapping of the shared slice is this process's own.
        unsafe { libc::munmap(self.shared_map as *mut libc::c_void, SHARED) };
        self.shared_map = map(&self.shared, SHARED, procs * SLICE, false, true)
            .map_err(|e| format!("mmap of the shared slice: {e}"))?;
        self.count("shared remap");
        Ok((0, 0))
    }

    /// `MYDEV_IOC_GET_SIZE`, checked.
    fn get_size(&mut self) -> Result<(usize, usize), String> {
        let mut size: u64 = 0;
        sys::ioctl(&self.ro, MYDEV_IOC_GET_SIZE, &mut size as *mut u64 as usize)
            .map_err(|e| format!("GET_SIZE: {e}"))?;
        if size != self.dev_size {
            return Err(format!("GET_SIZE gave {size}"));
        }
        self.count("ioctl");
        Ok((0, 0))
    }

    fn pick_map(&mut self) -> Option<usize> {
        (!self.maps.is_empty()).then(|| self.rng.below(self.maps.len()))
    }

    fn mmap(&mut self) -> Result<(usize, usize), String> {
        if self.maps.len() >= MAX_MAPS {
            return Ok((0, 0));
        }
        let first = self.rng.below(SLICE_PAGES);
        let pages = 1 + self.rng.below(SLICE_PAGES - first);
        let private = self.rng.chance(30);
        let writable = private || self.rng.chance(80);
        let fd = if writable { &self.fd } else { &self.ro };
        let addr = map(
            fd,
            pages * PAGE,
            self.base + first * PAGE,
            private,
            writable,
        )
        .map_err(|e| format!("mmap of {pages} pages at slice page {first}: {e}"))?;
        self.maps.push(Mapping {
            addr,
            pages,
            first,
            writable,
            private,
            copies: BTreeMap::new(),
        });
        self.count(if private {
            "mmap private"
        } else {
            "mmap shared"
        });
        Ok((first * PAGE, (first + pages) * PAGE))
    }

    fn store(&mut self) -> Result<(usize, usize), String> {
        let Some(k) = self.pick_map() else {
            return Ok((0, 0));
        };
        if !self.maps[k].writable {
            return Ok((0, 0));
        }
        let off = self.maps[k].first * PAGE + self.rng.below(self.maps[k].len());
        let v = slice_byte(&mut self.rng);
        let m = &mut self.maps[k];
        // SAFETY: `off` lies in the live writable mapping `m`.
        unsafe { ((m.addr + off - m.first * PAGE) as *mut u8).write_volatile(v) };
        if m.private {
            // The first store to a private page copies the slice's page as it is now.
            let page = off / PAGE;
            let model = &self.model;
            m.copies
                .entry(page)
                .or_insert_with(|| model[page * PAGE..(page + 1) * PAGE].to_vec())[off % PAGE] = v;
            self.count("store private");
        } else {
            self.model[off] = v;
            self.count("store shared");
        }
        Ok((off, off + 1))
    }

    fn munmap(&mut self) -> Result<(usize, usize), String> {
        let Some(k) = self.pick_map() else {
            return Ok((0, 0));
        };
        let m = &mut self.maps[k];
        let r = m.range();
        if m.pages == 1 || self.rng.chance(50) {
            // SAFETY: unmapping a whole mapping of this process.
            unsafe { libc::munmap(m.addr as *mut libc::c_void, m.len()) };
            self.maps.remove(k);
            self.count("munmap");
        } else if self.rng.chance(50) {
            // The first page goes.
            // SAFETY: a page at the start of a live mapping of this process.
            unsafe { libc::munmap(m.addr as *mut libc::c_void, PAGE) };
            m.copies.remove(&m.first);
            m.addr += PAGE;
            m.first += 1;
            m.pages -= 1;
            self.count("munmap part");
        } else {
            // The last page goes.
            m.pages -= 1;
            // SAFETY: the last page of a live mapping of this process.
            unsafe { libc::munmap((m.addr + m.len()) as *mut libc::c_void, PAGE) };
            m.copies.remove(&(m.first + m.pages));
            self.count("munmap part");
        }
        Ok((r.start, r.end))
    }

    /// `mremap`: a growth fails with `EFAULT` (the driver's mappings cannot expand: the
    /// buffer's pages are inserted at `mmap`) and leaves the mapping as it was; a shrink, and a
    /// move to a new address, work.
    fn mremap(&mut self) -> Result<(usize, usize), String> {
        let Some(k) = self.pick_map() else {
            return Ok((0, 0));
        };
        let kind = self.rng.below(3);
        let m = &mut self.maps[k];
        let r = m.range();
        let (pages, flags, to) = match kind {
            0 => (m.pages + 1, libc::MREMAP_MAYMOVE, 0),
            1 if m.pages > 1 => (m.pages - 1, 0, 0),
            1 => return Ok((0, 0)),
            _ => {
                // A new place: reserved, then taken over by the move.
                // SAFETY: a new anonymous mapping at a kernel-chosen address aliases nothing.
                let to = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        m.len(),
                        libc::PROT_NONE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                };
                if to == libc::MAP_FAILED {
                    return Err(os_err("mmap of a place to move to"));
                }
                (
                    m.pages,
                    libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                    to as usize,
                )
            }
        };
        // SAFETY: resizing or moving a live mapping of this process (to a range it reserved);
        // the record follows it.
        let p = unsafe {
            libc::mremap(
                m.addr as *mut libc::c_void,
                m.len(),
                pages * PAGE,
                flags,
                to as *mut libc::c_void,
            )
        };
        if kind == 0 {
            let e = io::Error::last_os_error();
            if p != libc::MAP_FAILED || e.raw_os_error() != Some(libc::EFAULT) {
                return Err(format!(
                    "mremap growing {} pages to {pages}: {p:?}, {e}, not EFAULT",
                    m.pages
                ));
            }
            self.count("mremap grow refused");
            return Ok((r.start, r.end));
        }
        if p == libc::MAP_FAILED {
            return Err(os_err(&format!("mremap of {} pages to {pages}", m.pages)));
        }
        m.addr = p as usize;
        m.pages = pages;
        let end = m.first + pages;
        m.copies.retain(|&page, _| page < end);
        self.count(if kind == 1 {
            "mremap shrink"
        } else {
            "mremap move"
        });
        Ok((r.start, r.end))
    }

    /// A child stores through an inherited shared mapping and writes with `pwrite`, then exits;
    /// the model takes both once it has.
    fn fork(&mut self) -> Result<(usize, usize), String> {
        let target = self.maps.iter().position(|m| m.writable && !m.private);
        let (off, len) = self.range();
        let bytes = slice_bytes(&mut self.rng, len);
        let store = target.map(|k| {
            let m = &self.maps[k];
            (
                k,
                m.first * PAGE + self.rng.below(m.len()),
                slice_byte(&mut self.rng),
            )
        });
        sys::in_child(|| {
            if let Some((k, at, v)) = store {
                let m = &self.maps[k];
                // SAFETY: `at` lies in the inherited, writable shared mapping `m`.
                unsafe { ((m.addr + at - m.first * PAGE) as *mut u8).write_volatile(v) };
            }
            match sys::pwrite(&self.fd, &bytes, (self.base + off) as i64) {
                Ok(n) if n == len => Ok(()),
                r => Err(format!("pwrite in the child: {r:?}")),
            }
        })
        .map_err(|e| format!("fork: {e}"))?;
        if let Some((_, at, v)) = store {
            self.model[at] = v;
        }
        self.store_model(off, &bytes);
        self.count("fork");
        Ok((0, SLICE))
    }
}

/// One process's run: `ops` operations or `seconds`, whichever ends first.
fn work(
    id: usize,
    procs: usize,
    seed: u64,
    ops: u64,
    seconds: u64,
    written: &Written,
) -> Result<String, String> {
    let start = Instant::now();
    let mut w = Worker::new(id, procs, seed, written)?;
    let mut n = 0;
    while n < ops && start.elapsed() < Duration::from_secs(seconds) {
        n += 1;
        let t = Instant::now();
        w.last = "nothing";
        let (a, b) = w
            .step(procs)
            .map_err(|e| format!("process {id}, operation {n}: {e}"))?;
        let r = w.verify(a, b.min(SLICE)).and_then(|()| {
            if n % FULL_CHECK_EVERY == 0 {
                w.verify(0, SLICE)?;
                w.verify_shared(0, SHARED, procs)
            } else {
                Ok(())
            }
        });
        r.map_err(|e| format!("process {id}, after operation {n}: {e}"))?;
        *w.times.entry(w.last).or_default() += t.elapsed();
    }
    w.verify(0, SLICE)
        .and_then(|()| w.verify_shared(0, SHARED, procs))
        .map_err(|e| format!("process {id}, at the end: {e}"))?;
    Ok(format!(
        "concurrent: process {id}: {n} operations, {:.1}s, {} bytes checked ({})",
        start.elapsed().as_secs_f64(),
        w.bytes_checked,
        w.counts
            .iter()
            .map(|(k, v)| format!(
                "{k} {v} in {:.1}s",
                w.times.get(k).copied().unwrap_or_default().as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// A flag in anonymous memory that every process shares, never unmapped.
fn shared_flag() -> Result<&'static std::sync::atomic::AtomicBool, String> {
    let p = shared_anon(PAGE, "flag mmap")?;
    // SAFETY: the page is zeroed (false), aligned, lives until the processes exit and is only
    // accessed atomically.
    Ok(unsafe { &*(p as *const std::sync::atomic::AtomicBool) })
}

/// `len` bytes of zeroed anonymous memory shared with every process forked later, page-aligned
/// and never unmapped: the processes share it until they exit.
fn shared_anon(len: usize, what: &str) -> Result<*mut libc::c_void, String> {
    // SAFETY: a new anonymous shared mapping at a kernel-chosen address aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(os_err(what));
    }
    Ok(p)
}

/// The buffer of process `id`'s slice: odd processes have a configfs buffer of their own, of one
/// slice (`run` makes them); even ones a slice of `/dev/mydev`. Returns its node, the slice's
/// offset and the buffer's size.
fn slice_home(id: usize, procs: usize) -> (String, usize, u64) {
    if id % 2 == 1 {
        (cfs::node(&format!("w{id}")), 0, SLICE as u64)
    } else {
        (
            sys::DEVICE.to_string(),
            id * SLICE,
            (race_offset(procs) + sys::PART) as u64,
        )
    }
}

/// Where the racer's 2 MiB part starts: the first 2 MiB boundary after the slices.
fn race_offset(procs: usize) -> usize {
    (procs * SLICE + SHARED).next_multiple_of(sys::PART)
}

/// Forks the racer (see the module documentation), which runs until `stop` is set; `None`
/// without THP.
fn spawn_racer(
    procs: usize,
    stop: &'static std::sync::atomic::AtomicBool,
) -> Result<Option<sys::Child>, String> {
    if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage").exists() {
        println!("concurrent: racer: left out, no THP in this kernel");
        return Ok(None);
    }
    let racer = sys::spawn(|| {
        let r = sys::open_rw()
            .map_err(|e| format!("open: {e}"))
            .and_then(|fd| guest_tests::race::run(&fd, race_offset(procs), usize::MAX, stop));
        match r {
            Ok(race) => {
                println!(
                    "concurrent: racer: {} rounds of two faults racing over PR_SET_THP_DISABLE \
                     ({} of {} sampled mapped with a PMD entry, {} prctl flips)",
                    race.rounds, race.huge, race.sampled, race.flips
                );
                0
            }
            Err(e) => {
                println!("# racer: {e}");
                1
            }
        }
    });
    racer.map(Some).map_err(|e| format!("fork: {e}"))
}

/// Forks the churner (`guest_tests::churn`), which makes and removes spare buffers while the
/// others work, until `stop` is set.
fn spawn_churner(
    seed: u64,
    stop: &'static std::sync::atomic::AtomicBool,
) -> Result<sys::Child, String> {
    sys::spawn(|| match churn::run(seed, stop) {
        Ok(c) => {
            println!(
                "concurrent: churner: {} buffers made live, {} taken down, {} removed; \
                 {} opens used a buffer, {} found no node",
                c.made, c.downed, c.removed, c.opened, c.missed
            );
            0
        }
        Err(e) => {
            println!("# churner: {e}");
            1
        }
    })
    .map_err(|e| format!("fork: {e}"))
}

/// Forks the processes, waits for them all; every one must have passed.
fn run(procs: usize, seed: u64, ops: u64, seconds: u64) -> Result<(), String> {
    for id in (1..procs).step_by(2) {
        cfs::create(&format!("w{id}"), SLICE, false)?;
    }
    let written = Written::new()?;
    let stop = shared_flag()?;
    let racer = spawn_racer(procs, stop)?;
    let churner = spawn_churner(seed, stop)?;
    let start = Instant::now();
    let workers = sys::spawn_n(procs, |id| {
        match work(id, procs, seed, ops, seconds, &written) {
            Ok(line) => {
                println!("{line}");
                0
            }
            Err(e) => {
                println!("# {e}");
                1
            }
        }
    })
    .map_err(|e| format!("fork: {e}"))?;
    let mut failed = Vec::new();
    for (id, child) in workers.into_iter().enumerate() {
        let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
        if !sys::exited_ok(status) {
            failed.push(format!("process {id} (status {status:#x})"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    for (who, child) in [("the racer", racer), ("the churner", Some(churner))] {
        let Some(child) = child else { continue };
        let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
        if !sys::exited_ok(status) {
            failed.push(format!("{who} (status {status:#x})"));
        }
    }
    println!(
        "concurrent: {procs} processes, {} s, seed {seed}",
        start.elapsed().as_secs()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let procs = arg(&args, "--procs", "MYDEV_CONCURRENT_PROCS", 4).max(1) as usize;
    let ops = arg(&args, "--ops", "MYDEV_CONCURRENT_OPS", 100_000);
    let seed = arg(&args, "--seed", "MYDEV_FUZZ_SEED", 1);
    let seconds = arg(&args, "--seconds", "MYDEV_FUZZ_SECONDS", 600);
    println!("TAP version 13");
    println!("1..1");
    // The slices, then the racer's 2 MiB part on a 2 MiB boundary.
    let size = race_offset(procs) + sys::PART;
    let result = sys::with_module(&format!("size={size}"), || {
        cfs::scoped(|| run(procs, seed, ops, seconds))
    });
    match result {
        Ok(()) => {
            println!("ok 1 - concurrent_processes_match_their_models");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("# {e}");
            println!("not ok 1 - concurrent_processes_match_their_models");
            ExitCode::FAILURE
        }
    }
}
