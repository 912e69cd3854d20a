// SPDX-License-Identifier: GPL-2.0

//! `mydev-bench`: the benchmark program that `cargo xtask bench` runs in the guest.
//!
//! Contenders: `mydev` (/dev/mydev), `cref` (/dev/cref, the classic C design), `memfd` (a memfd
//! of the same size) and `memcpy` (two anonymous buffers: the limit).
//!
//! # Timing mode (the default)
//!
//! Every measurement runs in rounds: in each round every contender takes one sample, starting
//! with a different contender each round, and the first round is a warm-up whose samples are
//! dropped. Running one contender's samples back to back instead made whoever ran first up to
//! 20% slower at everything (emulator caches warming up), which is larger than most of the
//! differences measured. The program prints one JSON document with every sample, between the
//! lines `# mydev-bench-json-begin` and `# mydev-bench-json-end`. Timings are wall-clock in the
//! guest; under TCG only ratios measured in the same boot mean anything.
//!
//! # Counting mode (`--count`)
//!
//! For QEMU with `-icount` and the project's instruction-counting plugin: each measurement runs
//! between a start and a stop marker (a `nopl` that the plugin recognises and that is a no-op on
//! real hardware), six rounds (the first is a warm-up), and for every stop the program prints
//! `# mydev-bench-count <n> <round> <contender> <metric> <param> <operations>`; the host pairs
//! line `n` with the plugin's `n`-th count.
//!
//! `mydev-bench [--repeat N] [--quick] [--count]`

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const PAGE: usize = 4096;
const CHUNKS: [usize; 4] = [64, 4096, 65536, 1 << 20];

/// Opens a device node for reading and writing.
fn open(path: &str) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

fn memfd(size: usize) -> io::Result<File> {
    // SAFETY: a valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"mydev-bench".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `memfd_create` just returned this descriptor, owned by nothing else.
    let file = unsafe { File::from_raw_fd(fd) };
    file.set_len(size as u64)?;
    // Allocate every page up front, as a device buffer is.
    let zeros = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = zeros.len().min(size - off);
        file.write_all_at(&zeros[..n], off as u64)?;
        off += n;
    }
    Ok(file)
}

/// A mapping (of a file or anonymous memory), unmapped on drop.
struct Map {
    addr: *mut u8,
    len: usize,
}

impl Map {
    /// A shared read-write mapping of the first `len` bytes of `file`.
    fn file(file: &File, len: usize) -> io::Result<Self> {
        Self::new(len, libc::MAP_SHARED, file.as_raw_fd())
    }

    /// `len` bytes of private anonymous memory, every page allocated (`MAP_POPULATE`).
    fn anon(len: usize) -> io::Result<Self> {
        Self::new(
            len,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
        )
    }

    fn new(len: usize, flags: libc::c_int, fd: libc::c_int) -> io::Result<Self> {
        // SAFETY: a new mapping at an address the kernel chooses.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            addr: p.cast(),
            len,
        })
    }

    /// Stores to one byte of every page, so that every page is in the page table.
    fn touch(&self, value: u8) {
        for p in (0..self.len).step_by(PAGE) {
            // SAFETY: inside the live mapping.
            unsafe { self.addr.add(p).write_volatile(value) };
        }
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: this value owns the mapping.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
    }
}

/// A place to move bytes to and from.
enum Target {
    /// A file: the device nodes and the memfd. `warm` is the mapping of the whole file that the
    /// warm copy reads, made at the first warm copy (in the warm-up round).
    File { file: File, warm: Option<Map> },
    /// Two anonymous buffers: copying between them is the limit.
    Memory { src: Map, dst: Map },
}

struct Contender {
    name: &'static str,
    target: Target,
}

/// What one sample does.
#[derive(Clone, Copy)]
enum Op {
    /// Reads (or writes) the first `bytes` bytes in `chunk`-byte calls.
    Seq {
        chunk: usize,
        bytes: usize,
        write: bool,
    },
    /// `ops` reads of `len` bytes at random 64-byte-aligned offsets.
    Pread { len: usize, ops: usize },
    /// Maps the whole buffer, stores to every page, unmaps.
    MmapTouch,
    /// Maps and unmaps the first page, `ops` times.
    MapPage { ops: usize },
    /// Copies the whole buffer from an established mapping into anonymous memory.
    WarmCopy,
}

/// One measurement: a metric at one parameter, for every contender it applies to.
struct Case {
    metric: &'static str,
    param: usize,
    unit: &'static str,
    op: Op,
}

impl Case {
    fn applies_to(&self, c: &Contender) -> bool {
        let mapping = matches!(self.op, Op::MmapTouch | Op::MapPage { .. });
        !(mapping && matches!(c.target, Target::Memory { .. }))
    }
}

/// How much work each measurement does.
struct Plan {
    repeat: usize,
    /// Calls per sequential pass, at most: small chunks move fewer bytes (a million calls
    /// under emulation would take minutes); each figure reports its byte count.
    pass_calls: usize,
    latency_ops: usize,
    map_loops: usize,
}

fn cases(size: usize, plan: &Plan) -> Vec<Case> {
    let mut v = Vec::new();
    for chunk in CHUNKS {
        let bytes = size.min(chunk * plan.pass_calls);
        for (metric, write) in [("seq_read", false), ("seq_write", true)] {
            v.push(Case {
                metric,
                param: chunk,
                unit: "MB/s",
                op: Op::Seq {
                    chunk,
                    bytes,
                    write,
                },
            });
        }
    }
    for len in [64, 4096] {
        v.push(Case {
            metric: "pread_latency",
            param: len,
            unit: "ns/op",
            op: Op::Pread {
                len,
                ops: plan.latency_ops,
            },
        });
    }
    v.push(Case {
        metric: "mmap_touch_all",
        param: size,
        unit: "ms",
        op: Op::MmapTouch,
    });
    v.push(Case {
        metric: "mmap_munmap_page",
        param: PAGE,
        unit: "ns/op",
        op: Op::MapPage {
            ops: plan.map_loops,
        },
    });
    v.push(Case {
        metric: "warm_copy",
        param: size,
        unit: "MB/s",
        op: Op::WarmCopy,
    });
    v
}

/// Brackets the part of a sample that is measured: a clock in timing mode, the plugin's
/// markers in counting mode.
#[derive(Clone, Copy, PartialEq)]
enum Meter {
    Clock,
    Markers,
}

impl Meter {
    /// Starts measuring; returns the start time (meaningless in counting mode).
    fn start(self) -> Instant {
        if self == Meter::Markers {
            marker_start();
        }
        Instant::now()
    }

    /// Stops measuring; returns the seconds since `start` (timing mode).
    fn stop(self, start: Instant) -> f64 {
        let secs = start.elapsed().as_secs_f64();
        if self == Meter::Markers {
            marker_stop();
        }
        secs
    }
}

/// The start marker of the counting plugin: `nopl 0x4d594401(%rax)`, bytes
/// `0f 1f 80 01 44 59 4d`, a multi-byte no-op on every x86-64 CPU.
fn marker_start() {
    // SAFETY: a `nop` with a memory operand neither reads nor writes memory nor changes a
    // register or a flag.
    unsafe {
        std::arch::asm!(
            "nop dword ptr [rax + 0x4d594401]",
            options(nostack, preserves_flags)
        )
    };
}

/// The stop marker: `nopl 0x4d594402(%rax)`.
fn marker_stop() {
    // SAFETY: as for `marker_start`.
    unsafe {
        std::arch::asm!(
            "nop dword ptr [rax + 0x4d594402]",
            options(nostack, preserves_flags)
        )
    };
}

/// The state shared by every sample of a run.
struct Bench {
    size: usize,
    /// The destination of every warm copy: `size` bytes and a page, allocated once.
    dst: Map,
    meter: Meter,
}

impl Bench {
    /// The destination of a warm copy from `src`, `size` bytes inside `self.dst`, placed an odd
    /// number of pages away from `src`.
    ///
    /// QEMU's software TLB is direct-mapped by virtual page number: when source and destination
    /// are a multiple of its size apart (two 64 MiB areas that the kernel placed side by side),
    /// every load evicts the entry of the previous store and the copy ran 9 times slower — for
    /// whichever contender the addresses happened to line up. An odd page distance can never be
    /// such a multiple, for every contender alike.
    fn warm_dst(&self, src: *const u8) -> *mut u8 {
        let base = self.dst.addr;
        let pages = (base as usize).abs_diff(src as usize) / PAGE;
        if pages % 2 == 1 {
            base
        } else {
            base.wrapping_add(PAGE)
        }
    }

    /// Takes one sample of `op` from `c`; returns the figure and the number of operations.
    fn sample(&self, c: &mut Contender, op: Op, seed: u64) -> io::Result<(f64, usize)> {
        let meter = self.meter;
        match op {
            Op::Seq {
                chunk,
                bytes,
                write,
            } => {
                let mut buf = vec![1u8; chunk];
                let calls = bytes.div_ceil(chunk);
                let t = meter.start();
                let mut off = 0;
                while off < bytes {
                    let n = chunk.min(bytes - off);
                    match &mut c.target {
                        Target::File { file, .. } if write => {
                            file.write_at(&buf[..n], off as u64)?;
                        }
                        Target::File { file, .. } => {
                            file.read_at(&mut buf[..n], off as u64)?;
                        }
                        // SAFETY: `off + n <= bytes <= size`, the length of both maps, and
                        // `buf` is a separate allocation of at least `n` bytes.
                        Target::Memory { dst, .. } if write => unsafe {
                            std::ptr::copy_nonoverlapping(buf.as_ptr(), dst.addr.add(off), n)
                        },
                        // SAFETY: as above.
                        Target::Memory { src, .. } => unsafe {
                            std::ptr::copy_nonoverlapping(src.addr.add(off), buf.as_mut_ptr(), n)
                        },
                    }
                    off += n;
                }
                let secs = meter.stop(t);
                std::hint::black_box(&buf);
                Ok((throughput(bytes, secs), calls))
            }
            Op::Pread { len, ops } => {
                let mut buf = vec![0u8; len];
                let mut rng = seed | 1;
                let offsets: Vec<usize> = (0..ops)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        (rng as usize % (self.size - len)) & !63
                    })
                    .collect();
                let t = meter.start();
                for &off in &offsets {
                    match &c.target {
                        Target::File { file, .. } => {
                            file.read_at(&mut buf, off as u64)?;
                        }
                        // SAFETY: `off + len <= size`, and `buf` is a separate allocation.
                        Target::Memory { src, .. } => unsafe {
                            std::ptr::copy_nonoverlapping(src.addr.add(off), buf.as_mut_ptr(), len)
                        },
                    }
                    std::hint::black_box(&buf);
                }
                let secs = meter.stop(t);
                Ok((secs * 1e9 / ops as f64, ops))
            }
            Op::MmapTouch => {
                let Target::File { file, .. } = &c.target else {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                };
                let t = meter.start();
                let m = Map::file(file, self.size)?;
                m.touch(1);
                drop(m);
                Ok((meter.stop(t) * 1e3, 1))
            }
            Op::MapPage { ops } => {
                let Target::File { file, .. } = &c.target else {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                };
                let t = meter.start();
                for _ in 0..ops {
                    let m = Map::file(file, PAGE)?;
                    std::hint::black_box(&m);
                }
                Ok((meter.stop(t) * 1e9 / ops as f64, ops))
            }
            Op::WarmCopy => {
                let src = match &mut c.target {
                    Target::File { file, warm } => {
                        if warm.is_none() {
                            let m = Map::file(file, self.size)?;
                            m.touch(0);
                            *warm = Some(m);
                        }
                        warm.as_ref().map_or(std::ptr::null_mut(), |m| m.addr)
                    }
                    Target::Memory { src, .. } => src.addr,
                };
                let dst = self.warm_dst(src);
                let t = meter.start();
                // SAFETY: `src` maps `size` readable bytes and `dst` is `size` bytes inside
                // `self.dst` (which has a page more), a separate mapping; nothing else writes
                // either meanwhile.
                unsafe { std::ptr::copy_nonoverlapping(src, dst, self.size) };
                let secs = meter.stop(t);
                std::hint::black_box(dst);
                Ok((throughput(self.size, secs), 1))
            }
        }
    }
}

/// One measured figure: every sample, in `unit`.
struct Figure {
    contender: &'static str,
    metric: &'static str,
    param: usize,
    unit: &'static str,
    bytes: usize,
    samples: Vec<f64>,
}

fn throughput(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

/// The bytes one operation of `case` moves, reported with its figure.
fn case_bytes(case: &Case) -> usize {
    match case.op {
        Op::Seq { bytes, .. } => bytes,
        Op::Pread { len, .. } => len,
        Op::MmapTouch | Op::WarmCopy => case.param,
        Op::MapPage { .. } => PAGE,
    }
}

/// Timing mode: `repeat` rounds after a warm-up round, each contender first in turn.
fn time_all(bench: &Bench, contenders: &mut [Contender], plan: &Plan) -> io::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for case in cases(bench.size, plan) {
        eprintln!("bench: {} {}", case.metric, case.param);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        for round in 0..=plan.repeat {
            for k in 0..contenders.len() {
                let i = (k + round) % contenders.len();
                let c = &mut contenders[i];
                if !case.applies_to(c) {
                    continue;
                }
                let (value, _) = bench
                    .sample(c, case.op, round as u64 + 1)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", c.name)))?;
                if round > 0 {
                    samples[i].push(value);
                }
            }
        }
        for (c, samples) in contenders.iter().zip(samples) {
            if case.applies_to(c) {
                figures.push(Figure {
                    contender: c.name,
                    metric: case.metric,
                    param: case.param,
                    unit: case.unit,
                    bytes: case_bytes(&case),
                    samples,
                });
            }
        }
    }
    Ok(figures)
}

/// Counting mode: a warm-up round and five more of every case between markers, one label line
/// per stop.
fn count_all(bench: &Bench, contenders: &mut [Contender], plan: &Plan) -> io::Result<()> {
    let mut n = 0;
    for case in cases(bench.size, plan) {
        for round in 0..6 {
            for c in contenders.iter_mut() {
                if !case.applies_to(c) {
                    continue;
                }
                let (_, ops) = bench
                    .sample(c, case.op, 1)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", c.name)))?;
                println!(
                    "# mydev-bench-count {n} {round} {} {} {} {ops}",
                    c.name, case.metric, case.param
                );
                n += 1;
            }
        }
    }
    Ok(())
}

fn json(figures: &[Figure], size: usize, plan: &Plan) -> String {
    let mut s = format!(
        "{{\"size\":{size},\"repeat\":{},\"note\":\"wall-clock times in a guest under QEMU TCG emulation: compare ratios measured in the same boot, not absolute figures\",\"figures\":[",
        plan.repeat
    );
    for (i, f) in figures.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let samples: Vec<String> = f.samples.iter().map(|v| format!("{v:.3}")).collect();
        s.push_str(&format!(
            "{{\"contender\":\"{}\",\"metric\":\"{}\",\"param\":{},\"unit\":\"{}\",\"bytes\":{},\"samples\":[{}]}}",
            f.contender,
            f.metric,
            f.param,
            f.unit,
            f.bytes,
            samples.join(",")
        ));
    }
    s.push_str("]}");
    s
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let count = args.iter().any(|a| a == "--count");
    let repeat = args
        .windows(2)
        .find(|w| w[0] == "--repeat")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(if quick { 1 } else { 5 });
    let plan = if quick {
        Plan {
            repeat,
            pass_calls: 64,
            latency_ops: 200,
            map_loops: 50,
        }
    } else if count {
        Plan {
            repeat: 1,
            pass_calls: 16,
            latency_ops: 100,
            map_loops: 20,
        }
    } else {
        Plan {
            repeat,
            pass_calls: 16384,
            latency_ops: 20000,
            map_loops: 2000,
        }
    };
    let device = mydev::Device::open("/dev/mydev").map_err(|e| e.to_string())?;
    let size = device.size();
    let mydev = device
        .file()
        .try_clone()
        .map_err(|e| format!("/dev/mydev: {e}"))?;
    let cref = open("/dev/cref").map_err(|e| format!("/dev/cref (is cref.ko loaded?): {e}"))?;
    let memfd = memfd(size).map_err(|e| format!("memfd: {e}"))?;
    let anon = |what: &str| Map::anon(size).map_err(|e| format!("{what}: {e}"));
    let (src, dst) = (anon("memcpy source")?, anon("memcpy destination")?);
    src.touch(7);
    let file = |file| Target::File { file, warm: None };
    let mut contenders = vec![
        Contender {
            name: "mydev",
            target: file(mydev),
        },
        Contender {
            name: "cref",
            target: file(cref),
        },
        Contender {
            name: "memfd",
            target: file(memfd),
        },
        Contender {
            name: "memcpy",
            target: Target::Memory { src, dst },
        },
    ];
    let bench = Bench {
        size,
        dst: Map::anon(size + PAGE).map_err(|e| format!("warm copy destination: {e}"))?,
        meter: if count { Meter::Markers } else { Meter::Clock },
    };
    if count {
        return count_all(&bench, &mut contenders, &plan).map_err(|e| e.to_string());
    }
    let figures = time_all(&bench, &mut contenders, &plan).map_err(|e| e.to_string())?;
    println!("# mydev-bench-json-begin");
    println!("{}", json(&figures, size, &plan));
    println!("# mydev-bench-json-end");
    Ok(())
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mydev-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
