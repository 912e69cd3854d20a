// SPDX-License-Identifier: GPL-2.0

//! A model-based fuzzer for `/dev/mydev` and configfs buffers.
//!
//! It drives three buffers at once, each with a model of its own (a "world"): `/dev/mydev` and
//! two configfs buffers, `/dev/mydev-fz1` and `/dev/mydev-fz2`. Now and then one of the configfs
//! buffers is replaced while in use (`live` 0 then 1, or `rmdir` and a new directory of the same
//! name): its world is retired with its files and mappings, whose operations go on and must
//! still match the old model, and a new world, which must start zeroed, takes the node.
//!
//! It drives each device with random operations (opens in every mode, closes, `read`, `write`,
//! `pread`, `pwrite`, `lseek` with every `whence` and absurd offsets, `mmap` shared and private
//! with random and absurd ranges, protections and flags, loads and stores through live mappings,
//! whole and partial `munmap`, `mremap`, `mprotect`, `madvise`, `fork` with the child storing
//! through inherited mappings, ioctls, valid and not, with bad pointers, and, on a kernel with
//! fault injection, `read`, `write`, `pread` and `pwrite` with their 1st, 2nd or 3rd
//! fault-injection point failing: the call must then give `EFAULT` or at most the bytes
//! expected, and the position and the buffer must move by exactly what it copied), and after each one
//! compares the device with an in-process model: the buffer, each file's position, and each
//! private mapping's copied pages. It checks the return value or errno, and the bytes visible
//! through `pread` and through every live mapping in the range the operation touched (all bytes,
//! every 512 operations and at the end): a private mapping must show its own copy of each page
//! it stored into, and the buffer's bytes elsewhere. On a mismatch it prints the seed and a shortest sequence of operations that still
//! reproduces it (removing operations one at a time while the mismatch stays).
//!
//! `fuzz [--seed N] [--ops N] [--seconds N] [--pages N] [--huge-ops N]`; defaults from
//! `MYDEV_FUZZ_SEED`, `MYDEV_FUZZ_OPS` (200,000 operations), `MYDEV_FUZZ_SECONDS` (600, for each
//! run), `MYDEV_FUZZ_PAGES` (a buffer of 4 pages; e.g. 1539, three 2 MiB parts and three pages,
//! for the PMD entries) and `MYDEV_FUZZ_HUGE_OPS` (0): with N > 0, a second run of N operations
//! follows on a buffer of 1539 pages. Prints a line `fuzz: N operations, …` per run and TAP with
//! a result per run.

use guest_tests::cfs;
use guest_tests::inject::{self, FailNth};
use guest_tests::sys::{self, PAGE};
use guest_tests::{Rng, arg};
use mydev::uapi::{MYDEV_IOC_CLEAR, MYDEV_IOC_GET_SIZE};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::os::fd::OwnedFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Pages of the buffer the fuzzer loads the module with, by default: enough for offsets, partial
/// unmaps and splits, small enough to check every byte often. `--pages N` (or `MYDEV_FUZZ_PAGES`)
/// sets another size: with 1,024 pages or more (whole 2 MiB parts, which shared mappings map with
/// PMD entries where address and offset line up) the operations also pick offsets and lengths at
/// and around part boundaries, and keep most copies short so that checking stays quick.
const DEFAULT_PAGES: usize = 4;
/// Pages per 2 MiB part of the buffer.
const PART_PAGES: usize = sys::PART / PAGE;
static NPAGES: AtomicUsize = AtomicUsize::new(DEFAULT_PAGES);

/// The buffer's pages.
fn npages() -> usize {
    NPAGES.load(Ordering::Relaxed)
}

/// The buffer's size.
fn size() -> usize {
    npages() * PAGE
}

/// The buffer's whole 2 MiB parts.
fn parts() -> usize {
    npages() / PART_PAGES
}

/// An offset at most a page before or after the end of a whole part (buffers with parts only).
fn near_part_end(r: &mut Rng) -> usize {
    let end = sys::PART * (1 + r.below(parts()));
    (end + r.below(2 * PAGE))
        .saturating_sub(PAGE)
        .min(size() - 1)
}
const MAX_FDS: usize = 6;
const MAX_MAPS: usize = 8;
const FULL_CHECK_EVERY: usize = 512;
const SEEK_DATA: i32 = 3;
const SEEK_HOLE: i32 = 4;

/// Bytes derived from a seed, for writes and stores.
fn data(seed: u64, len: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IoctlKind {
    GetSize,
    GetSizeBadPointer(usize),
    Clear,
    Unknown(u32),
}

/// One operation. Fds and mappings are named by index into the live lists, taken modulo their
/// length when the operation runs, so that any subsequence of a recorded run is still valid.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Open(i32),
    Close(usize),
    Read(usize, usize),
    Write(usize, usize, u64),
    Pread(usize, i64, usize),
    Pwrite(usize, i64, usize, u64),
    Lseek(usize, i64, i32),
    Mmap {
        fd: usize,
        off: u64,
        pages: usize,
        prot: i32,
        private: bool,
    },
    Load(usize, usize),
    Store(usize, usize, u8),
    Munmap(usize, usize, usize),
    MremapGrow(usize),
    MremapShrink(usize, usize),
    Mprotect(usize, i32),
    Madvise(usize),
    Fork(usize, usize, usize, u64),
    Ioctl(usize, IoctlKind),
    /// A `read`, `write`, `pread` or `pwrite` with the Nth fault-injection point of the call
    /// failing (`/proc/thread-self/fail-nth`, on kernels with `CONFIG_FAULT_INJECTION`): its user
    /// copy, or an allocation in a page fault of the user buffer.
    Inject(usize, Box<Op>),
}

fn gen_op(r: &mut Rng) -> Op {
    let fd = r.below(16);
    let map = r.below(16);
    // A buffer of two or more 2 MiB parts: aim at part boundaries, and keep most copies short.
    // (The extra choices take random numbers only then, so runs of the default size are the
    // same as before.)
    let big = parts() >= 2;
    let len = match r.below(4) {
        0 => r.below(16),
        1 => r.below(PAGE + 1),
        2 if big && !r.chance(2) => r.below(4 * PAGE + 1),
        2 => r.below(size() + 200),
        _ => PAGE,
    };
    let off: i64 = match r.below(10) {
        0 => size() as i64,
        1 => (size() + r.below(1 << 20)) as i64,
        2 => i64::MAX - r.below(8) as i64,
        3 => -(r.below(4) as i64) - 1,
        4 => i64::MIN,
        5 if big => near_part_end(r) as i64,
        _ => r.below(size()) as i64,
    };
    let prot = [
        libc::PROT_READ,
        libc::PROT_WRITE,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::PROT_NONE,
    ][r.below(4)]
        | if r.chance(5) { libc::PROT_EXEC } else { 0 };
    match r.below(100) {
        0..=5 => Op::Open([libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR][r.below(3)]),
        6..=9 => Op::Close(fd),
        10..=17 => Op::Read(fd, len),
        18..=25 => Op::Write(fd, len, r.next_u64()),
        26..=33 => Op::Pread(fd, off, len),
        34..=41 => Op::Pwrite(fd, off, len, r.next_u64()),
        42..=43 => Op::Lseek(
            fd,
            match r.below(8) {
                0 => -(r.below(size() + 2) as i64),
                1 => [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1][r.below(4)],
                2 => size() as i64,
                _ => r.below(size() + 2) as i64,
            },
            [
                libc::SEEK_SET,
                libc::SEEK_CUR,
                libc::SEEK_END,
                SEEK_DATA,
                SEEK_HOLE,
                5,
                -1,
            ][r.below(7)],
        ),
        44..=53 if big && r.chance(50) => {
            // With parts, half the mappings are well-formed shared mappings of whole parts (and
            // the tail, when they reach it), which get PMD entries: the random ones below mostly
            // exercise the error paths.
            let k = r.below(parts());
            let whole = 1 + r.below(parts() - k);
            let tail = if k + whole == parts() && r.chance(50) {
                npages() - parts() * PART_PAGES
            } else {
                0
            };
            Op::Mmap {
                fd,
                off: (sys::PART * k) as u64,
                pages: whole * PART_PAGES + tail,
                prot: if r.chance(50) {
                    libc::PROT_READ | libc::PROT_WRITE
                } else {
                    libc::PROT_READ
                },
                private: false,
            }
        }
        44..=53 => {
            let off = match r.below(8) {
                0 => u64::MAX - (PAGE as u64 - 1),
                1 => 1 << 63,
                2 => (size() + PAGE * r.below(4)) as u64,
                3 => r.below(size()) as u64,
                // The start of a part (or of the tail, or the end).
                4..=6 if big => (sys::PART * r.below(parts() + 1)) as u64,
                _ => (PAGE * r.below(npages())) as u64,
            };
            let pages = if r.chance(5) {
                0
            } else if big && r.chance(50) {
                // Whole parts, give or take a page.
                (PART_PAGES * (1 + r.below(parts())) + r.below(3)).saturating_sub(1)
            } else {
                1 + r.below(npages() + 1)
            };
            Op::Mmap {
                fd,
                off,
                pages,
                prot,
                private: r.chance(40),
            }
        }
        54..=65 => Op::Load(map, r.below(size())),
        66..=77 => Op::Store(map, r.below(size()), r.next_u64() as u8),
        78..=81 => {
            let first = r.below(npages());
            // With parts: a page or a few (splitting a 2 MiB entry), or the whole rest, so that
            // the live mappings do not all end up as pieces.
            let n = if big {
                match r.below(3) {
                    0 => 1 + r.below(4),
                    1 => 1 + r.below(64),
                    _ => npages(),
                }
            } else {
                1 + r.below(npages())
            };
            Op::Munmap(map, first, n)
        }
        82 => Op::MremapGrow(map),
        83..=84 => Op::MremapShrink(map, 1 + r.below(npages())),
        85..=87 => Op::Mprotect(map, prot),
        88..=89 => Op::Madvise(map),
        90..=91 => Op::Fork(map, r.below(size()), 1 + r.below(64), r.next_u64()),
        92..=94 => {
            let copy = match r.below(4) {
                0 => Op::Read(fd, len),
                1 => Op::Write(fd, len, r.next_u64()),
                2 => Op::Pread(fd, off, len),
                _ => Op::Pwrite(fd, off, len, r.next_u64()),
            };
            Op::Inject(1 + r.below(3), Box::new(copy))
        }
        _ => Op::Ioctl(
            fd,
            match r.below(6) {
                0 | 1 => IoctlKind::GetSize,
                2 => IoctlKind::GetSizeBadPointer([0usize, 1, 4095, usize::MAX - 7][r.below(4)]),
                3 => IoctlKind::Clear,
                _ => IoctlKind::Unknown(unknown_ioctl(r)),
            },
        ),
    }
}

/// An ioctl number the driver must answer with `ENOTTY`: never one of its own, and never one
/// that the VFS handles for every file before the driver sees it (types 0x00, 'T', 'X', 'f',
/// 0x12, 0x15 and 0x94 hold those).
fn unknown_ioctl(r: &mut Rng) -> u32 {
    loop {
        let cmd = if r.chance(50) {
            0xB900 | (r.next_u64() as u32 & 0xC03F_00FF)
        } else {
            r.next_u64() as u32
        };
        let ty = (cmd >> 8) & 0xff;
        if cmd != MYDEV_IOC_GET_SIZE
            && cmd != MYDEV_IOC_CLEAR
            && ![0x00, 0x12, 0x15, 0x54, 0x58, 0x66, 0x94].contains(&ty)
        {
            return cmd;
        }
    }
}

struct Fd {
    fd: OwnedFd,
    mode: i32,
    pos: usize,
}

impl Fd {
    fn readable(&self) -> bool {
        self.mode != libc::O_WRONLY
    }
    fn writable(&self) -> bool {
        self.mode != libc::O_RDONLY
    }
}

#[derive(Debug, Clone)]
struct Mapping {
    addr: usize,
    pages: usize,
    pgoff: usize,
    prot: i32,
    may_write: bool,
    private: bool,
    /// A private mapping's own copies of the buffer pages it stored into, by buffer page.
    copies: BTreeMap<usize, Vec<u8>>,
    /// Buffer pages whose page-table entries `MADV_DONTNEED` removed and that nothing has
    /// touched since. Checks do not read them, so that the next load or store through the
    /// mapping is the one that faults them back (a store to a private page with no entry must
    /// still copy it).
    dropped: BTreeSet<usize>,
}

impl Mapping {
    fn len(&self) -> usize {
        self.pages * PAGE
    }
    fn readable(&self) -> bool {
        self.prot & (libc::PROT_READ | libc::PROT_WRITE) != 0
    }
    fn writable(&self) -> bool {
        self.prot & libc::PROT_WRITE != 0
    }
    /// The byte this mapping shows at buffer offset `off`: its copy of the page, if it made one,
    /// else the buffer's.
    fn shows(&self, model: &[u8], off: usize) -> u8 {
        match self.copies.get(&(off / PAGE)) {
            Some(copy) => copy[off % PAGE],
            None => model[off],
        }
    }
    /// Keeps only what it knows of buffer pages `first..first + pages`.
    fn keep_pages(&mut self, first: usize, pages: usize) {
        let inside = |p: usize| p >= first && p < first + pages;
        self.copies.retain(|&p, _| inside(p));
        self.dropped.retain(|&p| inside(p));
    }
}

/// The device, the model, and what has been seen.
struct World {
    /// The node this world opens.
    device: String,
    /// A world whose node now names another buffer (see [`Fleet`]): it opens nothing more, and
    /// goes on with the files and mappings it has.
    retired: bool,
    model: Vec<u8>,
    fds: Vec<Fd>,
    maps: Vec<Mapping>,
    checker: OwnedFd,
    error_paths: BTreeSet<(&'static str, i32)>,
    forks: usize,
    bytes_checked: u64,
    seeks: u64,
    private_maps: u64,
    private_copies: u64,
    /// This thread's `fail-nth`, if the kernel has fault injection.
    nth: Option<FailNth>,
    /// The failure point to arm before the next copy call (`Op::Inject`).
    pending: Option<usize>,
    /// `Op::Inject` operations run, and those whose failure the call took: (armed, EFAULT,
    /// short count, whole count).
    injections: (u64, u64, u64, u64),
}

/// Checks a copy call's outcome against `want`, allowing what an injected failure may cause:
/// `EFAULT`, or fewer bytes than wanted.
fn expect_copy(
    what: &str,
    got: &io::Result<usize>,
    want: Result<usize, i32>,
    injected: bool,
) -> Result<(), String> {
    if let (true, Ok(w)) = (injected, want) {
        match got {
            Ok(k) if *k <= w => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => return Ok(()),
            _ => {}
        }
    }
    expect(what, got, want)
}

fn errno_of(r: &io::Result<impl Sized>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Compares an outcome with the expected one: `Ok(v)` or `Err(errno)`.
fn expect<T: PartialEq + std::fmt::Debug>(
    what: &str,
    got: &io::Result<T>,
    want: Result<T, i32>,
) -> Result<(), String> {
    let same = match (got, &want) {
        (Ok(g), Ok(w)) => g == w,
        (Err(e), Err(w)) => e.raw_os_error() == Some(*w),
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(format!("{what}: expected {want:?}, got {got:?}"))
    }
}

impl World {
    /// A world on `device`: cleared first with `clear` (a buffer that earlier runs used), else
    /// expected to be zeroed already (a new one); with fault injection if `inject` and the kernel
    /// has it.
    fn new(device: &str, clear: bool, inject: bool) -> Result<Self, String> {
        let checker = sys::open(device, libc::O_RDWR).map_err(|e| format!("open {device}: {e}"))?;
        if clear {
            sys::ioctl(&checker, MYDEV_IOC_CLEAR, 0).map_err(|e| format!("clear: {e}"))?;
        }
        Ok(Self {
            device: device.to_string(),
            retired: false,
            model: vec![0; size()],
            fds: Vec::new(),
            maps: Vec::new(),
            checker,
            error_paths: BTreeSet::new(),
            forks: 0,
            bytes_checked: 0,
            seeks: 0,
            private_maps: 0,
            private_copies: 0,
            nth: if inject && inject::available() {
                inject::set_knobs()?;
                Some(FailNth::open()?)
            } else {
                None
            },
            pending: None,
            injections: (0, 0, 0, 0),
        })
    }

    /// Arms `fail-nth` if an `Op::Inject` asked for it; returns whether it did.
    fn arm(&mut self) -> Result<bool, String> {
        match (self.pending.take(), self.nth.as_mut()) {
            (Some(n), Some(f)) => {
                f.arm(n)?;
                self.injections.0 += 1;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// After a call that [`World::arm`] armed for: whether the call took the failure; disarms.
    fn disarm(&mut self, armed: bool) -> Result<bool, String> {
        match self.nth.as_mut() {
            Some(f) if armed => f.injected(),
            _ => Ok(false),
        }
    }

    /// Counts how a call that took an injected failure ended: `EFAULT`, short or whole.
    fn count_injected(
        &mut self,
        injected: bool,
        got: &io::Result<usize>,
        want: Result<usize, i32>,
    ) {
        if !injected {
            return;
        }
        match (got, want) {
            (Err(_), _) => self.injections.1 += 1,
            (Ok(k), Ok(w)) if *k < w => self.injections.2 += 1,
            _ => self.injections.3 += 1,
        }
    }

    fn note(&mut self, op: &'static str, r: &io::Result<impl Sized>) {
        if let Some(e) = errno_of(r) {
            self.error_paths.insert((op, e));
        }
    }

    /// Checks `start..end` of the buffer through `pread` and every readable live mapping.
    fn verify(&mut self, start: usize, end: usize) -> Result<(), String> {
        let (start, end) = (start.min(size()), end.min(size()));
        if start >= end {
            return Ok(());
        }
        let mut buf = vec![0u8; end - start];
        let n = sys::pread(&self.checker, &mut buf, start as i64)
            .map_err(|e| format!("check pread: {e}"))?;
        if n != buf.len() {
            return Err(format!(
                "pread of {start}..{end} returned {n} bytes, not {}",
                buf.len()
            ));
        }
        if buf != self.model[start..end] {
            let at = buf
                .iter()
                .zip(&self.model[start..end])
                .position(|(a, b)| a != b)
                .unwrap_or(0)
                + start;
            return Err(format!(
                "pread shows {:#x} at {at}, model {:#x}",
                buf[at - start],
                self.model[at]
            ));
        }
        self.bytes_checked += buf.len() as u64;
        for m in self.maps.iter().filter(|m| m.readable()) {
            let (m_start, m_end) = (m.pgoff * PAGE, m.pgoff * PAGE + m.len());
            for off in start.max(m_start)..end.min(m_end) {
                if m.dropped.contains(&(off / PAGE)) {
                    continue;
                }
                // SAFETY: `off` lies in the live, readable mapping `m`.
                let got = unsafe { ((m.addr + off - m_start) as *const u8).read_volatile() };
                let want = m.shows(&self.model, off);
                if got != want {
                    return Err(format!(
                        "{} mapping at {:#x} shows {got:#x} at buffer offset {off}, model {want:#x}",
                        if m.private { "private" } else { "shared" },
                        m.addr,
                    ));
                }
                self.bytes_checked += 1;
            }
        }
        Ok(())
    }

    fn fd(&self, i: usize) -> Option<usize> {
        (!self.fds.is_empty()).then(|| i % self.fds.len())
    }

    /// The position in `maps` of the live mapping that index `i` names, and an offset inside it
    /// from `off`, if there is one and it allows the access (`allows`).
    fn live_map(
        &self,
        i: usize,
        off: usize,
        allows: fn(&Mapping) -> bool,
    ) -> Option<(usize, usize)> {
        let k = self.map(i)?;
        let m = &self.maps[k];
        allows(m).then(|| (k, off % m.len()))
    }

    fn map(&self, i: usize) -> Option<usize> {
        (!self.maps.is_empty()).then(|| i % self.maps.len())
    }

    /// Applies one operation to the device and the model; returns the buffer range it touched.
    fn apply(&mut self, op: &Op) -> Result<(usize, usize), String> {
        match *op {
            Op::Open(mode) => self.open(mode),
            Op::Close(i) => self.close(i),
            Op::Read(i, len) => self.read(i, len),
            Op::Write(i, len, seed) => self.write(i, len, seed),
            Op::Pread(i, off, len) => self.pread(i, off, len),
            Op::Pwrite(i, off, len, seed) => self.pwrite(i, off, len, seed),
            Op::Lseek(i, off, whence) => self.lseek(i, off, whence),
            Op::Mmap {
                fd,
                off,
                pages,
                prot,
                private,
            } => self.mmap(fd, off, pages, prot, private),
            Op::Load(i, off) => self.load(i, off),
            Op::Store(i, off, b) => self.store(i, off, b),
            Op::Munmap(i, first, n) => self.munmap(i, first, n),
            Op::MremapGrow(i) => self.mremap_grow(i),
            Op::MremapShrink(i, pages) => self.mremap_shrink(i, pages),
            Op::Mprotect(i, prot) => self.mprotect(i, prot),
            Op::Madvise(i) => self.madvise(i),
            Op::Fork(i, off, len, seed) => self.fork(i, off, len, seed),
            Op::Inject(n, ref call) => self.inject(n, call),
            Op::Ioctl(i, kind) => self.ioctl(i, kind),
        }
    }

    /// `Op::Open`.
    fn open(&mut self, mode: i32) -> Result<(usize, usize), String> {
        if self.fds.len() >= MAX_FDS || self.retired {
            return Ok((0, 0));
        }
        let fd = sys::open(&self.device, mode)
            .map_err(|e| format!("open {} mode {mode}: {e}", self.device))?;
        self.fds.push(Fd { fd, mode, pos: 0 });
        Ok((0, 0))
    }

    /// `Op::Close`.
    fn close(&mut self, i: usize) -> Result<(usize, usize), String> {
        if let Some(i) = self.fd(i) {
            self.fds.remove(i);
        }
        Ok((0, 0))
    }

    /// `Op::Read`.
    fn read(&mut self, i: usize, len: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let mut buf = vec![0u8; len];
        let armed = self.arm()?;
        let r = sys::read(&self.fds[i].fd, &mut buf);
        let injected = self.disarm(armed)?;
        self.note("read", &r);
        let f = &self.fds[i];
        let want = if !f.readable() {
            Err(libc::EBADF)
        } else {
            Ok(len.min(size().saturating_sub(f.pos)))
        };
        expect_copy("read", &r, want, injected)?;
        self.count_injected(injected, &r, want);
        if let Ok(n) = r {
            let pos = self.fds[i].pos;
            if buf[..n] != self.model[pos..pos + n] {
                return Err(format!(
                    "read at {pos} returned bytes that differ from the model"
                ));
            }
            self.fds[i].pos += n;
        }
        Ok((0, 0))
    }

    /// `Op::Write`.
    fn write(&mut self, i: usize, len: usize, seed: u64) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let bytes = data(seed, len);
        let armed = self.arm()?;
        let r = sys::write(&self.fds[i].fd, &bytes);
        let injected = self.disarm(armed)?;
        self.note("write", &r);
        let f = &self.fds[i];
        let want = if !f.writable() {
            Err(libc::EBADF)
        } else if len == 0 {
            Ok(0)
        } else if f.pos >= size() {
            Err(libc::ENOSPC)
        } else {
            Ok(len.min(size() - f.pos))
        };
        expect_copy("write", &r, want, injected)?;
        self.count_injected(injected, &r, want);
        let pos = self.fds[i].pos;
        if let Ok(n) = r {
            self.model[pos..pos + n].copy_from_slice(&bytes[..n]);
            self.fds[i].pos += n;
            return Ok((pos, pos + n));
        }
        Ok((0, 0))
    }

    /// `Op::Pread`.
    fn pread(&mut self, i: usize, off: i64, len: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let mut buf = vec![0u8; len];
        let armed = self.arm()?;
        let r = sys::pread(&self.fds[i].fd, &mut buf, off);
        let injected = self.disarm(armed)?;
        self.note("pread", &r);
        let want = if off < 0 {
            Err(libc::EINVAL)
        } else if !self.fds[i].readable() {
            Err(libc::EBADF)
        } else if off.checked_add(len as i64).is_none() {
            Err(libc::EINVAL)
        } else {
            Ok(len.min(size().saturating_sub(off as usize)))
        };
        expect_copy("pread", &r, want, injected)?;
        self.count_injected(injected, &r, want);
        if let Ok(n) = r {
            let pos = off as usize;
            if n > 0 && buf[..n] != self.model[pos..pos + n] {
                return Err(format!(
                    "pread at {pos} returned bytes that differ from the model"
                ));
            }
        }
        Ok((0, 0))
    }

    /// `Op::Pwrite`.
    fn pwrite(
        &mut self,
        i: usize,
        off: i64,
        len: usize,
        seed: u64,
    ) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let bytes = data(seed, len);
        let armed = self.arm()?;
        let r = sys::pwrite(&self.fds[i].fd, &bytes, off);
        let injected = self.disarm(armed)?;
        self.note("pwrite", &r);
        let want = if off < 0 {
            Err(libc::EINVAL)
        } else if !self.fds[i].writable() {
            Err(libc::EBADF)
        } else if off.checked_add(len as i64).is_none() {
            Err(libc::EINVAL)
        } else if len == 0 {
            Ok(0)
        } else if off as usize >= size() {
            Err(libc::ENOSPC)
        } else {
            Ok(len.min(size() - off as usize))
        };
        expect_copy("pwrite", &r, want, injected)?;
        self.count_injected(injected, &r, want);
        if let Ok(n @ 1..) = r {
            let pos = off as usize;
            self.model[pos..pos + n].copy_from_slice(&bytes[..n]);
            return Ok((pos, pos + n));
        }
        Ok((0, 0))
    }

    /// `Op::Lseek`.
    fn lseek(&mut self, i: usize, off: i64, whence: i32) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let r = sys::lseek(&self.fds[i].fd, off, whence);
        self.note("lseek", &r);
        let (pos, end) = (self.fds[i].pos as i64, size() as i64);
        let inside = |p: i64| (0..end).contains(&p);
        let want = match whence {
            libc::SEEK_SET => Ok(Some(off)),
            libc::SEEK_CUR => Ok(pos.checked_add(off)),
            libc::SEEK_END => Ok(end.checked_add(off)),
            SEEK_DATA if inside(off) => Ok(Some(off)),
            SEEK_HOLE if inside(off) => Ok(Some(end)),
            SEEK_DATA | SEEK_HOLE => Err(libc::ENXIO),
            _ => Err(libc::EINVAL),
        }
        .and_then(|new| new.filter(|p| (0..=end).contains(p)).ok_or(libc::EINVAL));
        expect(&format!("lseek({off}, {whence}) at {pos}"), &r, want)?;
        if let Ok(new) = r {
            self.fds[i].pos = new as usize;
            self.seeks += 1;
        }
        Ok((0, 0))
    }

    /// `Op::Mmap`.
    fn mmap(
        &mut self,
        fd: usize,
        off: u64,
        pages: usize,
        prot: i32,
        private: bool,
    ) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(fd) else {
            return Ok((0, 0));
        };
        if self.maps.len() >= MAX_MAPS {
            return Ok((0, 0));
        }
        let (readable, writable, mode) = (
            self.fds[i].readable(),
            self.fds[i].writable(),
            self.fds[i].mode,
        );
        let flags = if private {
            libc::MAP_PRIVATE
        } else {
            libc::MAP_SHARED
        };
        let len = pages * PAGE;
        let pgoff = off / PAGE as u64;
        let want: Result<(), i32> = if len == 0 || off % PAGE as u64 != 0 {
            Err(libc::EINVAL)
        } else if pgoff > (u64::MAX - len as u64) >> 12 {
            // `file_mmap_ok()`: the range must fit below 2^64 bytes.
            Err(libc::EOVERFLOW)
        } else if (!private && prot & libc::PROT_WRITE != 0 && !writable) || !readable {
            // The VFS: a writable shared mapping needs a writable file, and every file
            // mapping a readable one (a private one may be writable on any open).
            Err(libc::EACCES)
        } else if prot & libc::PROT_EXEC != 0 {
            Err(libc::EPERM)
        } else if pgoff >= npages() as u64 || pages as u64 > npages() as u64 - pgoff {
            Err(libc::EINVAL)
        } else {
            Ok(())
        };
        let r = sys::mmap(&self.fds[i].fd, len, prot, flags, off);
        self.note("mmap", &r);
        // A private mapping may always become writable (its stores stay private).
        let may_write = writable || private;
        match (r, want) {
            (Ok(m), Ok(())) => {
                let addr = m.addr;
                m.forget();
                self.maps.push(Mapping {
                    addr,
                    pages,
                    pgoff: pgoff as usize,
                    prot,
                    may_write,
                    private,
                    copies: BTreeMap::new(),
                    dropped: BTreeSet::new(),
                });
                self.private_maps += u64::from(private);
                Ok((pgoff as usize * PAGE, pgoff as usize * PAGE + len))
            }
            (Err(e), Err(w)) if e.raw_os_error() == Some(w) => Ok((0, 0)),
            (r, want) => {
                if let Ok(m) = &r {
                    // Do not leave an unexpected mapping behind.
                    // SAFETY: unmapping the mapping this call just made.
                    unsafe { libc::munmap(m.addr as *mut libc::c_void, m.len) };
                }
                Err(format!(
                    "mmap(len {len}, prot {prot:#x}, {}, off {off:#x}) on mode {}: expected {want:?}, got {:?}",
                    if private { "MAP_PRIVATE" } else { "MAP_SHARED" },
                    mode,
                    r.map(|m| m.addr)
                ))
            }
        }
    }

    /// `Op::Load`.
    fn load(&mut self, i: usize, off: usize) -> Result<(usize, usize), String> {
        let Some((k, off)) = self.live_map(i, off, Mapping::readable) else {
            return Ok((0, 0));
        };
        let m = &mut self.maps[k];
        let at = m.pgoff * PAGE + off;
        // SAFETY: `off < len` of the live, readable mapping.
        let got = unsafe { ((m.addr + off) as *const u8).read_volatile() };
        let want = m.shows(&self.model, at);
        m.dropped.remove(&(at / PAGE));
        if got != want {
            return Err(format!(
                "load at mapping offset {off} (buffer {at}): {got:#x}, model {want:#x}"
            ));
        }
        Ok((0, 0))
    }

    /// `Op::Store`.
    fn store(&mut self, i: usize, off: usize, b: u8) -> Result<(usize, usize), String> {
        let Some((k, off)) = self.live_map(i, off, Mapping::writable) else {
            return Ok((0, 0));
        };
        let m = &mut self.maps[k];
        // SAFETY: `off < len` of the live, writable mapping.
        unsafe { ((m.addr + off) as *mut u8).write_volatile(b) };
        let at = m.pgoff * PAGE + off;
        m.dropped.remove(&(at / PAGE));
        if m.private {
            // The first store to a page copies it; the buffer does not change.
            let page = at / PAGE;
            let model = &self.model;
            let mut copied = false;
            let copy = m.copies.entry(page).or_insert_with(|| {
                copied = true;
                model[page * PAGE..(page + 1) * PAGE].to_vec()
            });
            copy[at % PAGE] = b;
            self.private_copies += u64::from(copied);
        } else {
            self.model[at] = b;
        }
        Ok((at, at + 1))
    }

    /// `Op::Munmap`.
    fn munmap(&mut self, i: usize, first: usize, n: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.map(i) else {
            return Ok((0, 0));
        };
        let m = self.maps[i].clone();
        let first = first % m.pages;
        let n = n.min(m.pages - first);
        // SAFETY: unmapping pages of our own mapping `m`.
        let r = unsafe { libc::munmap((m.addr + first * PAGE) as *mut libc::c_void, n * PAGE) };
        if r != 0 {
            return Err(format!("munmap: {}", io::Error::last_os_error()));
        }
        self.maps.remove(i);
        if first > 0 {
            let mut head = Mapping {
                pages: first,
                ..m.clone()
            };
            head.keep_pages(m.pgoff, first);
            self.maps.push(head);
        }
        if first + n < m.pages {
            let rest = first + n;
            let mut tail = Mapping {
                addr: m.addr + rest * PAGE,
                pages: m.pages - rest,
                pgoff: m.pgoff + rest,
                ..m
            };
            tail.keep_pages(tail.pgoff, tail.pages);
            self.maps.push(tail);
        }
        Ok((0, 0))
    }

    /// `Op::MremapGrow`.
    fn mremap_grow(&mut self, i: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.map(i) else {
            return Ok((0, 0));
        };
        let m = self.maps[i].clone();
        // SAFETY: asking to grow our own mapping; on failure nothing changes.
        let p = unsafe {
            libc::mremap(
                m.addr as *mut libc::c_void,
                m.len(),
                m.len() + PAGE,
                libc::MREMAP_MAYMOVE,
            )
        };
        let r = if p == libc::MAP_FAILED {
            Err(io::Error::last_os_error())
        } else {
            Ok(p as usize)
        };
        self.note("mremap", &r);
        if let Ok(addr) = r {
            // SAFETY: the grown mapping is ours; drop it from the process.
            unsafe { libc::munmap(addr as *mut libc::c_void, m.len() + PAGE) };
            self.maps.remove(i);
        }
        expect("mremap grow", &r.map(|_| ()), Err(libc::EFAULT))?;
        Ok((0, 0))
    }

    /// `Op::MremapShrink`.
    fn mremap_shrink(&mut self, i: usize, pages: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.map(i) else {
            return Ok((0, 0));
        };
        let m = self.maps[i].clone();
        let pages = pages.min(m.pages);
        // SAFETY: shrinking our own mapping in place.
        let p = unsafe { libc::mremap(m.addr as *mut libc::c_void, m.len(), pages * PAGE, 0) };
        if p as usize != m.addr {
            return Err(format!("mremap shrink: {}", io::Error::last_os_error()));
        }
        self.maps[i].pages = pages;
        self.maps[i].keep_pages(m.pgoff, pages);
        Ok((0, 0))
    }

    /// `Op::Mprotect`.
    fn mprotect(&mut self, i: usize, prot: i32) -> Result<(usize, usize), String> {
        let Some(i) = self.map(i) else {
            return Ok((0, 0));
        };
        let m = self.maps[i].clone();
        // SAFETY: changing the protection of our own mapping.
        let rc = unsafe { libc::mprotect(m.addr as *mut libc::c_void, m.len(), prot) };
        let r = if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        };
        self.note("mprotect", &r);
        let want = if prot & libc::PROT_EXEC != 0 || (prot & libc::PROT_WRITE != 0 && !m.may_write)
        {
            Err(libc::EACCES)
        } else {
            Ok(())
        };
        expect("mprotect", &r, want)?;
        if r.is_ok() {
            self.maps[i].prot = prot;
        }
        Ok((m.pgoff * PAGE, m.pgoff * PAGE + m.len()))
    }

    /// `Op::Madvise`.
    fn madvise(&mut self, i: usize) -> Result<(usize, usize), String> {
        let Some(i) = self.map(i) else {
            return Ok((0, 0));
        };
        let m = self.maps[i].clone();
        // SAFETY: advising on our own mapping; pages come back through the fault handler,
        // and a private mapping's copies are dropped (its pages show the buffer again).
        let rc =
            unsafe { libc::madvise(m.addr as *mut libc::c_void, m.len(), libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(format!(
                "madvise(MADV_DONTNEED): {}",
                io::Error::last_os_error()
            ));
        }
        self.maps[i].copies.clear();
        self.maps[i].dropped = (m.pgoff..m.pgoff + m.pages).collect();
        Ok((m.pgoff * PAGE, m.pgoff * PAGE + m.len()))
    }

    /// `Op::Fork`.
    fn fork(
        &mut self,
        i: usize,
        off: usize,
        len: usize,
        seed: u64,
    ) -> Result<(usize, usize), String> {
        let Some((k, off)) = self.live_map(i, off, Mapping::writable) else {
            return Ok((0, 0));
        };
        let m = &self.maps[k];
        let len = len.min(m.len() - off);
        let bytes = data(seed, len);
        // The child only stores through the inherited mapping and loads back.
        let child = sys::spawn(|| {
            let mut ok = true;
            for (k, b) in bytes.iter().enumerate() {
                // SAFETY: inside the inherited, writable mapping.
                unsafe { ((m.addr + off + k) as *mut u8).write_volatile(*b) };
            }
            for (k, b) in bytes.iter().enumerate() {
                // SAFETY: as above.
                ok &= unsafe { ((m.addr + off + k) as *const u8).read_volatile() } == *b;
            }
            if ok { 0 } else { 1 }
        })
        .map_err(|e| format!("fork: {e}"))?;
        let status = child.wait().map_err(|e| format!("waitpid: {e}"))?;
        self.forks += 1;
        if !sys::exited_ok(status) {
            return Err(format!(
                "fork child on the inherited mapping failed (status {status:#x})"
            ));
        }
        let at = m.pgoff * PAGE + off;
        // The child's stores through a private mapping went to its own copies: neither
        // the buffer nor this process's view changed.
        if !m.private {
            self.model[at..at + len].copy_from_slice(&bytes);
        }
        Ok((at, at + len))
    }

    /// `Op::Inject`.
    fn inject(&mut self, n: usize, call: &Op) -> Result<(usize, usize), String> {
        self.pending = Some(n);
        let r = self.apply(call);
        self.pending = None;
        r
    }

    /// `Op::Ioctl`.
    fn ioctl(&mut self, i: usize, kind: IoctlKind) -> Result<(usize, usize), String> {
        let Some(i) = self.fd(i) else {
            return Ok((0, 0));
        };
        let f = &self.fds[i];
        match kind {
            IoctlKind::GetSize => {
                let mut v: u64 = 0;
                let r = sys::ioctl(&f.fd, MYDEV_IOC_GET_SIZE, &mut v as *mut u64 as usize);
                expect("GET_SIZE", &r, Ok(0))?;
                if v != size() as u64 {
                    return Err(format!("GET_SIZE gave {v}"));
                }
            }
            IoctlKind::GetSizeBadPointer(p) => {
                let r = sys::ioctl(&f.fd, MYDEV_IOC_GET_SIZE, p);
                self.note("ioctl GET_SIZE", &r);
                expect("GET_SIZE to a bad pointer", &r, Err(libc::EFAULT))?;
            }
            IoctlKind::Clear => {
                let writable = f.writable();
                let r = sys::ioctl(&f.fd, MYDEV_IOC_CLEAR, 0);
                self.note("ioctl CLEAR", &r);
                expect("CLEAR", &r, if writable { Ok(0) } else { Err(libc::EBADF) })?;
                if writable {
                    self.model.fill(0);
                    return Ok((0, size()));
                }
            }
            IoctlKind::Unknown(cmd) => {
                let r = sys::ioctl(&f.fd, cmd, 0);
                self.note("ioctl unknown", &r);
                expect(&format!("ioctl {cmd:#x}"), &r, Err(libc::ENOTTY))?;
            }
        }
        Ok((0, 0))
    }

    /// Unmaps everything (the fds close when the world is dropped).
    fn teardown(&mut self) {
        for m in self.maps.drain(..) {
            // SAFETY: each recorded mapping is ours and still mapped.
            unsafe { libc::munmap(m.addr as *mut libc::c_void, m.len()) };
        }
    }
}

/// The buffers the fuzzer drives at once, each with a world of its own: `/dev/mydev` (`""`) and
/// two configfs buffers of the same size.
const BUFFERS: [&str; 3] = ["", "fz1", "fz2"];

/// The most removed buffers kept open or mapped at once; the oldest is let go after.
const MAX_RETIRED: usize = 3;

/// The node of `BUFFERS[k]`.
fn device(k: usize) -> String {
    match BUFFERS[k] {
        "" => sys::DEVICE.to_string(),
        name => cfs::node(name),
    }
}

/// One step of a run: an operation on a world, or a configfs buffer replaced while in use.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// `Op` on world `w`, taken modulo the number of worlds when it runs (the live ones, then
    /// the retired ones), so that any subsequence of a run is still valid.
    On(usize, Op),
    /// Configfs buffer `1 + k % 2` is replaced by a new one, by `live` 0 then 1, or (`rmdir`)
    /// by `rmdir`, `mkdir` and `live` 1. Its world is retired with its files and mappings, which
    /// keep the old buffer; a new, zeroed world takes the node.
    Renew { k: usize, rmdir: bool },
}

fn gen_step(r: &mut Rng) -> Step {
    if r.chance(1) {
        Step::Renew {
            k: r.below(2),
            rmdir: r.chance(50),
        }
    } else {
        Step::On(r.below(8), gen_op(r))
    }
}

/// Every world: `live[k]` drives `BUFFERS[k]`; `retired` the removed buffers still in use.
struct Fleet {
    live: Vec<World>,
    retired: Vec<World>,
    renews: u64,
    most_retired: usize,
}

impl Fleet {
    /// Fresh configfs buffers and a world per buffer, the first with fault injection.
    fn new() -> Result<Self, String> {
        cfs::remove_all()?;
        for name in &BUFFERS[1..] {
            cfs::create(name, size(), true)?;
        }
        let live = (0..BUFFERS.len())
            .map(|k| World::new(&device(k), k == 0, k == 0))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            live,
            retired: Vec::new(),
            renews: 0,
            most_retired: 0,
        })
    }

    fn world(&mut self, w: usize) -> &mut World {
        let k = w % (self.live.len() + self.retired.len());
        if k < self.live.len() {
            &mut self.live[k]
        } else {
            &mut self.retired[k - self.live.len()]
        }
    }

    /// Runs one step and checks the range it touched (the whole of both worlds of a renewal).
    fn step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::On(w, op) => {
                let world = self.world(*w);
                let (a, b) = world.apply(op)?;
                world.verify(a, b)?;
            }
            Step::Renew { k, rmdir } => {
                let k = 1 + k % (BUFFERS.len() - 1);
                let name = BUFFERS[k];
                cfs::set(name, "live", "0").map_err(|e| format!("{name}/live 0: {e}"))?;
                if *rmdir {
                    cfs::rmdir(name).map_err(|e| format!("rmdir {name}: {e}"))?;
                    cfs::create(name, size(), true)?;
                } else {
                    cfs::set(name, "live", "1").map_err(|e| format!("{name}/live 1: {e}"))?;
                }
                let fresh = World::new(&device(k), false, false)?;
                let mut old = std::mem::replace(&mut self.live[k], fresh);
                old.retired = true;
                old.verify(0, size())
                    .map_err(|e| format!("removed {name}: {e}"))?;
                self.live[k]
                    .verify(0, size())
                    .map_err(|e| format!("new {name}: {e}"))?;
                self.retired.push(old);
                self.renews += 1;
            }
        }
        // A removed buffer that nothing uses any more is gone; so is the oldest beyond the cap.
        let (used, unused): (Vec<World>, Vec<World>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(|w| !w.fds.is_empty() || !w.maps.is_empty());
        self.retired = used;
        for w in unused {
            self.absorb(w);
        }
        while self.retired.len() > MAX_RETIRED {
            let w = self.retired.remove(0);
            self.absorb(w);
        }
        self.most_retired = self.most_retired.max(self.retired.len());
        Ok(())
    }

    /// Checks every byte of every world.
    fn verify_all(&mut self) -> Result<(), String> {
        for w in self.live.iter_mut().chain(self.retired.iter_mut()) {
            w.verify(0, size())
                .map_err(|e| format!("{}: {e}", w.device))?;
        }
        Ok(())
    }

    /// Folds the figures of `w` into the first world's, and lets `w` go.
    fn absorb(&mut self, mut w: World) {
        w.teardown();
        let first = &mut self.live[0];
        first.error_paths.extend(w.error_paths.iter().copied());
        first.forks += w.forks;
        first.seeks += w.seeks;
        first.private_maps += w.private_maps;
        first.private_copies += w.private_copies;
        first.bytes_checked += w.bytes_checked;
    }

    /// Unmaps everything and returns the first world, holding every world's figures.
    fn teardown(mut self) -> World {
        let others: Vec<World> = self.live.drain(1..).chain(self.retired.drain(..)).collect();
        for w in others {
            self.absorb(w);
        }
        let mut first = self.live.remove(0);
        first.teardown();
        first
    }
}

/// Runs `ops` from a fresh state; returns the index and description of the first mismatch.
fn replay(ops: &[Step]) -> Result<Option<(usize, String)>, String> {
    let mut w = Fleet::new()?;
    let mut found = None;
    for (k, op) in ops.iter().enumerate() {
        if let Err(e) = w.step(op).and_then(|()| w.verify_all()) {
            found = Some((k, e));
            break;
        }
    }
    w.teardown();
    Ok(found)
}

/// Removes operations one at a time while the mismatch stays (at most `budget` replays).
fn minimize(mut ops: Vec<Step>, budget: usize) -> Result<Vec<Step>, String> {
    let mut tries = 0;
    let mut i = 0;
    while i < ops.len() && tries < budget {
        let mut shorter = ops.clone();
        shorter.remove(i);
        tries += 1;
        if replay(&shorter)?.is_some() {
            ops = shorter;
        } else {
            i += 1;
        }
    }
    Ok(ops)
}

fn run(seed: u64, max_ops: u64, seconds: u64) -> Result<(bool, String), String> {
    let start = Instant::now();
    let mut rng = Rng::new(seed);
    let mut fleet = Fleet::new()?;
    let mut history: Vec<Step> = Vec::new();
    let mut n: u64 = 0;
    let mut mismatch = None;
    let mut peak_pmd = 0;
    while n < max_ops && start.elapsed() < Duration::from_secs(seconds) {
        let op = gen_step(&mut rng);
        history.push(op.clone());
        n += 1;
        let mut r = fleet.step(&op);
        if r.is_ok() && n % FULL_CHECK_EVERY as u64 == 0 {
            r = fleet.verify_all();
        }
        // How many 2 MiB entries the live mappings hold after the operation and its check, for
        // the figures: a run over 2 MiB parts should see some.
        if parts() >= 2 {
            if let Ok(kib) = sys::file_pmd_mapped_kib() {
                peak_pmd = peak_pmd.max(kib / (sys::PART / 1024) as i64);
            }
        }
        if let Err(e) = r {
            mismatch = Some(e);
            break;
        }
    }
    if mismatch.is_none() {
        if let Err(e) = fleet.verify_all() {
            mismatch = Some(e);
        }
    }
    let (renews, most_retired) = (fleet.renews, fleet.most_retired);
    let w = fleet.teardown();
    let figures = format!(
        "fuzz: {n} operations, seed {seed}, {:.1}s, {} buffers at once, {renews} replaced while in use (up to {most_retired} removed ones still open or mapped), {} distinct error paths ({}), {} forks, {} successful lseeks, {} private mappings, {} private page copies, {}, {} bytes checked, up to {peak_pmd} PMD entries mapped at once, {} mismatches",
        start.elapsed().as_secs_f64(),
        BUFFERS.len(),
        w.error_paths.len(),
        w.error_paths
            .iter()
            .map(|(op, e)| format!("{op}:{}", errno_name(*e)))
            .collect::<Vec<_>>()
            .join(" "),
        w.forks,
        w.seeks,
        w.private_maps,
        w.private_copies,
        match (&w.nth, w.injections) {
            (None, (..)) => "no fault injection in this kernel".to_string(),
            (Some(_), (armed, efault, short, whole)) => format!(
                "{armed} copies with a failure armed ({} took it: {efault} EFAULT, {short} short, {whole} whole)",
                efault + short + whole
            ),
        },
        w.bytes_checked,
        u8::from(mismatch.is_some()),
    );
    drop(w);
    let Some(e) = mismatch else {
        return Ok((true, figures));
    };
    let mut report = format!("{figures}\nmismatch after operation {n} (seed {seed}): {e}\n");
    // Replays run from a fresh state; a mismatch that needs history keeps its prefix.
    let keep = history.len().min(5000);
    let tail = history[history.len() - keep..].to_vec();
    match replay(&tail)? {
        Some(_) => {
            let short = minimize(tail, 3000)?;
            report.push_str(&format!("shortest reproducing sequence ({} operations, from cleared buffers and no open files):\n", short.len()));
            for op in &short {
                report.push_str(&format!("  {op:?}\n"));
            }
        }
        None => report
            .push_str("the last 5000 operations alone do not reproduce it; rerun with --seed\n"),
    }
    Ok((false, report))
}

fn errno_name(e: i32) -> &'static str {
    match e {
        libc::EBADF => "EBADF",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::ESPIPE => "ESPIPE",
        libc::EACCES => "EACCES",
        libc::EPERM => "EPERM",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EFAULT => "EFAULT",
        libc::ENOTTY => "ENOTTY",
        libc::ENXIO => "ENXIO",
        _ => "other",
    }
}

/// Pages of the second run's buffer (`--huge-ops`): three 2 MiB parts and three pages more, so
/// that mappings start, end and split inside huge parts and a small part follows them.
const HUGE_RUN_PAGES: usize = 3 * PART_PAGES + 3;

/// One run on a buffer of `pages` pages, reported as TAP test `n`; whether it passed.
fn run_reported(n: usize, name: &str, seed: u64, ops: u64, pages: usize, seconds: u64) -> bool {
    NPAGES.store(pages.max(1), Ordering::Relaxed);
    let params = format!("size={}", size());
    let mut outcome = None;
    let result = sys::with_module(&params, || {
        cfs::scoped(|| {
            let (ok, report) = run(seed, ops, seconds)?;
            outcome = Some((ok, report));
            Ok(())
        })
    });
    match (result, outcome) {
        (Ok(()), Some((true, figures))) => {
            println!("{figures}");
            println!("ok {n} - {name}");
            true
        }
        (Ok(()), Some((false, report))) => {
            print!("{report}");
            println!("not ok {n} - {name}");
            false
        }
        (r, _) => {
            println!("# fuzz could not run: {r:?}");
            println!("not ok {n} - {name}");
            false
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let seed = arg(&args, "--seed", "MYDEV_FUZZ_SEED", 1);
    let ops = arg(&args, "--ops", "MYDEV_FUZZ_OPS", 200_000);
    let pages = arg(&args, "--pages", "MYDEV_FUZZ_PAGES", DEFAULT_PAGES as u64);
    let pages = usize::try_from(pages).unwrap_or(DEFAULT_PAGES);
    let huge_ops = arg(&args, "--huge-ops", "MYDEV_FUZZ_HUGE_OPS", 0);
    let seconds = arg(&args, "--seconds", "MYDEV_FUZZ_SECONDS", 600);
    println!("TAP version 13");
    println!("1..{}", if huge_ops > 0 { 2 } else { 1 });
    let mut ok = run_reported(1, "model_matches_device", seed, ops, pages, seconds);
    if huge_ops > 0 {
        ok &= run_reported(
            2,
            "model_matches_device_with_2m_parts",
            seed,
            huge_ops,
            HUGE_RUN_PAGES,
            seconds,
        );
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
