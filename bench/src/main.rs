// SPDX-License-Identifier: GPL-2.0

//! `mydev-bench`: the benchmark program that `cargo xtask bench` runs in the guest.
//!
//! Contenders: `mydev` (/dev/mydev), `cref` (/dev/cref, the classic C design), `memfd` (a memfd
//! of the same size, 4 KiB pages), `memfd-thp` (a memfd whose pages are 2 MiB transparent huge
//! pages), `memfd-hugetlb` (an `MFD_HUGETLB` memfd: 2 MiB hugetlbfs pages) and `memcpy` (two
//! anonymous buffers: the limit).
//!
//! # The sweep
//!
//! The program runs every buffer size of `--sizes` in turn, in one boot: for each size it
//! reserves the huge pages the hugetlb memfd needs, creates the memfds, reloads `mmap.ko` and
//! `cref.ko` with `size=` (`rmmod`, `insmod`), measures, checks that the huge-page contenders
//! really are mapped with 2 MiB entries, and frees everything before the next size. At every
//! size it measures `mmap_munmap` (map the whole buffer and unmap it, untouched),
//! `mmap_touch_all` (map, store to every page, unmap), `warm_copy` (copy the whole buffer out of
//! a mapping whose pages are all present), `create_map_touch` (create a new buffer of the size —
//! a configfs buffer for mydev, a memfd of each kind — map it, store to every page, unmap and
//! remove it; not for cref, whose one buffer is made at load) and `read_1m`/`write_1m` (sequential `read`/`write`
//! calls of 1 MiB, or of the whole buffer if smaller), all in microseconds per operation. From
//! 4 MiB on it also measures the zero-copy figures (`zero_copy.rs`): `dmabuf_map_touch` (export
//! the buffer as a dma-buf, mydev's ioctl or udmabuf for a memfd, attach it to vgem, map it and
//! touch every page) and, for mydev, `dio_write_map`/`dio_write_copy` (an `O_DIRECT` write of
//! the whole buffer to a RAM disk from a mapping, or after a `read()` copy). At the
//! `--detail` size it also measures the per-call figures: sequential reads and writes in chunks
//! of 64 B to 1 MiB (MB/s), `pread` latency (ns) and the map/unmap of one page (ns).
//!
//! Huge pages: the THP memfd lives on the kernel's internal shmem mount with `shmem_enabled` set
//! to `advise` (the program sets it): its pages are allocated through a mapping with
//! `MADV_HUGEPAGE`, which gives 2 MiB folios; later mappings, plain `mmap`s as a process sharing
//! the memfd would make, map those folios with PMD entries (`finish_fault` → `do_set_pmd`). Below
//! 2 MiB no 2 MiB folio fits in the file, and the THP memfd has small pages. A hugetlb file's size
//! and mappings are whole huge pages, so below 2 MiB the hugetlb memfd is one 2 MiB page (the
//! figures still touch and copy only the buffer's bytes); hugetlbfs has no `write`, so it has no
//! write figures. After measuring a size, the program reads `/proc/self/smaps` for a freshly
//! touched mapping and for the warm mapping of every file contender, prints how much of each is
//! mapped huge (`# mydev-bench-huge ...`), and fails if the THP memfd (from 2 MiB) or the
//! hugetlb memfd is not mapped huge throughout, or the 4 KiB memfd is.
//!
//! A size whose set-up fails (a module that cannot allocate its buffer, huge pages that cannot
//! be reserved) is reported as `# mydev-bench-skipped <size> <reason>` and the program goes on
//! with the next size, then exits 1.
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
//! real hardware), six rounds (the first is a warm-up; three from 256 MiB on, and with `--quick`),
//! and for every stop the program prints
//! `# mydev-bench-count <n> <round> <size> <contender> <metric> <param> <operations>`; the host
//! pairs line `n` with the plugin's `n`-th count. After loading the modules for a size it prints
//! their lines of `/proc/kallsyms` between `# mydev-kallsyms-begin <size>` and
//! `# mydev-kallsyms-end` (a reloaded module may land elsewhere).
//!
//! `mydev-bench --sizes N[,N...] [--detail N] [--repeat N] [--quick] [--count]`

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::process::Command;
use std::time::Instant;

mod protocol;
mod zero_copy;

use protocol::{CONTENDERS, Figure, SWEEP_METRICS};

const PAGE: usize = 4096;
/// A PMD-sized page: the huge page of THP and of the hugetlb memfd.
const HUGE: usize = 2 << 20;
/// The call size of the sweep's `read_1m`/`write_1m` (or the whole buffer if smaller).
const IO_CHUNK: usize = 1 << 20;
/// Sequential reads and writes cover at most the first 64 MiB of a buffer: the `memcpy`
/// contender's destination is that large, not the buffer's size.
const IO_SPAN: usize = 64 << 20;
/// The rounds of counting mode (the first is a warm-up).
const COUNT_ROUNDS: usize = 6;
/// From this buffer size on, counting mode runs `COUNT_ROUNDS_LARGE` rounds: counts vary only
/// by the guest's background work, and a round of the largest sizes costs billions of emulated
/// instructions (the counting boot executes about 20 million a second).
const COUNT_LARGE: usize = 256 << 20;
const COUNT_ROUNDS_LARGE: usize = 3;

const MYDEV_KO: &str = "/lib/modules/mmap.ko";
const CREF_KO: &str = "/lib/modules/cref.ko";
const NR_HUGEPAGES: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
const SHMEM_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
const THP_ENABLED: &str = "/sys/kernel/mm/transparent_hugepage/enabled";

/// What backs a contender.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// A device node: mydev or cref.
    Device,
    /// A memfd with 4 KiB pages.
    Memfd,
    /// A memfd with 2 MiB transparent huge pages.
    Thp,
    /// An `MFD_HUGETLB` memfd.
    Hugetlb,
    /// Anonymous memory: the memcpy contender.
    Memory,
}

/// Opens a device node for reading and writing.
fn open(path: &str) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path)
}

fn memfd_create(flags: libc::c_uint) -> io::Result<File> {
    // Sealing allowed: udmabuf takes only memfds sealed against shrinking.
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | flags;
    // SAFETY: a valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"mydev-bench".as_ptr(), flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `memfd_create` just returned this descriptor, owned by nothing else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// A memfd of `size` bytes with 4 KiB pages, every page allocated up front (by `write`), as a
/// device buffer is.
fn memfd(size: usize) -> io::Result<File> {
    let file = memfd_create(0)?;
    file.set_len(size as u64)?;
    let zeros = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = zeros.len().min(size - off);
        file.write_all_at(&zeros[..n], off as u64)?;
        off += n;
    }
    Ok(file)
}

/// A memfd of `size` bytes whose pages are allocated through a mapping with `MADV_HUGEPAGE`
/// (with `shmem_enabled` at `advise`, shmem then allocates 2 MiB folios wherever one fits).
fn memfd_thp(size: usize) -> io::Result<File> {
    let file = memfd_create(0)?;
    file.set_len(size as u64)?;
    let m = Map::file(&file, size)?;
    // SAFETY: advice on a mapping this function owns; it changes no memory contents.
    if unsafe { libc::madvise(m.addr.cast(), m.len, libc::MADV_HUGEPAGE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    m.touch(size, 0);
    Ok(file)
}

/// `size` rounded up to whole huge pages: a hugetlb file's size and mappings.
fn huge_len(size: usize) -> usize {
    size.div_ceil(HUGE) * HUGE
}

/// An `MFD_HUGETLB` memfd of `size` bytes rounded up to 2 MiB, every huge page allocated.
fn memfd_hugetlb(size: usize) -> io::Result<File> {
    let file = memfd_create(libc::MFD_HUGETLB)?;
    let len = huge_len(size);
    file.set_len(len as u64)?;
    // SAFETY: a plain call on a descriptor this function owns.
    if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(file)
}

/// The configfs directory of the buffer that `create_map_touch` makes for mydev.
const CONFIGFS_BUFFER: &str = "/sys/kernel/config/mydev/bench";

/// Writes `value` to a configfs attribute of the benchmark's buffer.
fn configfs_set(attr: &str, value: &str) -> io::Result<()> {
    OpenOptions::new()
        .write(true)
        .open(format!("{CONFIGFS_BUFFER}/{attr}"))?
        .write_all_at(value.as_bytes(), 0)
}

/// One `create_map_touch` operation: a new buffer of `size` bytes of the contender's kind,
/// mapped whole, a store to every page, unmapped and removed. For mydev, the buffer is made
/// through configfs as a user would (`mkdir`, `size`, `live`, `open`) and removed by `rmdir`;
/// a memfd is created, sized (and, for THP, advised) and closed.
fn create_map_touch(kind: Kind, size: usize) -> io::Result<()> {
    let (file, len) = match kind {
        Kind::Device => {
            std::fs::create_dir(CONFIGFS_BUFFER)?;
            let made = configfs_set("size", &size.to_string())
                .and_then(|()| configfs_set("live", "1"))
                .and_then(|()| open("/dev/mydev-bench"));
            match made {
                Ok(f) => (f, size),
                Err(e) => {
                    let _ = std::fs::remove_dir(CONFIGFS_BUFFER);
                    return Err(e);
                }
            }
        }
        Kind::Memfd | Kind::Thp => {
            let f = memfd_create(0)?;
            f.set_len(size as u64)?;
            (f, size)
        }
        Kind::Hugetlb => {
            let f = memfd_create(libc::MFD_HUGETLB)?;
            f.set_len(huge_len(size) as u64)?;
            (f, huge_len(size))
        }
        Kind::Memory => return Err(io::Error::from_raw_os_error(libc::EINVAL)),
    };
    let m = Map::file(&file, len)?;
    if kind == Kind::Thp {
        // SAFETY: advice on a mapping this function owns; it changes no memory contents.
        if unsafe { libc::madvise(m.addr.cast(), m.len, libc::MADV_HUGEPAGE) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    m.touch(size, 1);
    drop(m);
    drop(file);
    if kind == Kind::Device {
        std::fs::remove_dir(CONFIGFS_BUFFER)?;
    }
    Ok(())
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

    /// Stores to one byte of every page of the first `bytes` bytes, so that every page of them
    /// is in the page table.
    fn touch(&self, bytes: usize, value: u8) {
        for p in (0..bytes.min(self.len)).step_by(PAGE) {
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
    /// A file: the device nodes and the memfds. Mappings are `map_len` bytes (the buffer, or
    /// whole huge pages for hugetlb). `warm` is the mapping of the whole file that the warm copy
    /// reads, made at the first warm copy (in the warm-up round).
    File {
        file: File,
        map_len: usize,
        warm: Option<Map>,
    },
    /// Two anonymous buffers: copying between them is the limit.
    Memory { src: Map, dst: Map },
}

struct Contender {
    name: &'static str,
    kind: Kind,
    target: Target,
}

/// What one sample does.
#[derive(Clone, Copy)]
enum Op {
    /// `calls` reads (or writes) of `chunk` bytes, sequential from offset 0 and wrapping at
    /// `span` (a call at the end of the span is short).
    Seq {
        chunk: usize,
        calls: usize,
        span: usize,
        write: bool,
    },
    /// `ops` reads of `len` bytes at random 64-byte-aligned offsets.
    Pread { len: usize, ops: usize },
    /// Maps and unmaps the whole buffer without touching it, `ops` times.
    MapWhole { ops: usize },
    /// Maps the whole buffer, stores to every page, unmaps; `ops` times.
    MmapTouch { ops: usize },
    /// Maps and unmaps the first page (a huge page for hugetlb), `ops` times.
    MapPage { ops: usize },
    /// Copies the whole buffer from an established mapping into anonymous memory, `ops` times.
    WarmCopy { ops: usize },
    /// Creates a new buffer of the size, maps it whole, stores to every page, unmaps it and
    /// removes it, `ops` times: a configfs buffer for mydev, a new memfd of each kind.
    CreateMapTouch { ops: usize },
    /// Exports the whole buffer as a dma-buf, attaches it to vgem, maps it, stores to every
    /// page, unmaps, detaches and closes it, `ops` times (see `zero_copy`).
    DmabufMapTouch { ops: usize },
    /// Writes the whole buffer to the RAM disk with `O_DIRECT`, from the warm mapping
    /// (`from_map`) or after a `read()` of it into anonymous memory, `ops` times.
    DioWrite { ops: usize, from_map: bool },
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
        let mapping = matches!(
            self.op,
            Op::MmapTouch { .. } | Op::MapPage { .. } | Op::MapWhole { .. }
        );
        let write = matches!(self.op, Op::Seq { write: true, .. });
        // cref's one buffer cannot be made on demand; memcpy has no file.
        let create = matches!(self.op, Op::CreateMapTouch { .. });
        // cref has no dma-buf export; the O_DIRECT figures compare mydev with itself.
        let export = matches!(self.op, Op::DmabufMapTouch { .. });
        let direct = matches!(self.op, Op::DioWrite { .. });
        !(mapping && c.kind == Kind::Memory
            || write && c.kind == Kind::Hugetlb
            || create && (c.kind == Kind::Memory || c.name == "cref")
            || export && (c.kind == Kind::Memory || c.name == "cref")
            || direct && c.name != "mydev")
    }
}

/// How much work each measurement does.
struct Plan {
    /// A smoke test's run: less work, and fewer rounds in counting mode.
    quick: bool,
    /// Rounds after the warm-up (timing mode).
    repeat: usize,
    /// Calls per sequential pass of the per-call figures, at most: small chunks move fewer
    /// bytes (a million calls under emulation would take minutes); each figure reports its byte
    /// count.
    pass_calls: usize,
    latency_ops: usize,
    map_loops: usize,
    /// A sweep sample repeats its operation until it has covered this many bytes of buffer
    /// (one operation at least, `sweep_ops` at most): small buffers get enough operations to
    /// time, large ones one.
    sweep_bytes: usize,
    sweep_ops: usize,
}

impl Plan {
    fn sweep_ops(&self, bytes: usize) -> usize {
        (self.sweep_bytes / bytes).clamp(1, self.sweep_ops)
    }
}

/// The sweep's figures for a buffer of `size` bytes: every one in microseconds per operation.
fn sweep_cases(size: usize, plan: &Plan) -> Vec<Case> {
    let ops = plan.sweep_ops(size);
    let chunk = IO_CHUNK.min(size);
    let io = |metric, write| Case {
        metric,
        param: size,
        unit: "us/op",
        op: Op::Seq {
            chunk,
            calls: plan.sweep_ops(chunk),
            span: size.min(IO_SPAN),
            write,
        },
    };
    let case = |metric, op| Case {
        metric,
        param: size,
        unit: "us/op",
        op,
    };
    let [
        mmap_munmap,
        mmap_touch_all,
        warm_copy,
        create_map_touch,
        read_1m,
        write_1m,
        dmabuf_map_touch,
        dio_write_map,
        dio_write_copy,
    ] = SWEEP_METRICS;
    let mut v = vec![
        case(mmap_munmap, Op::MapWhole { ops }),
        case(mmap_touch_all, Op::MmapTouch { ops }),
        case(warm_copy, Op::WarmCopy { ops }),
        case(create_map_touch, Op::CreateMapTouch { ops }),
        io(read_1m, false),
        io(write_1m, true),
    ];
    if size >= zero_copy::FROM {
        v.extend([
            case(dmabuf_map_touch, Op::DmabufMapTouch { ops }),
            case(
                dio_write_map,
                Op::DioWrite {
                    ops,
                    from_map: true,
                },
            ),
            case(
                dio_write_copy,
                Op::DioWrite {
                    ops,
                    from_map: false,
                },
            ),
        ]);
    }
    v
}

/// The per-call figures, measured at the detail size.
fn detail_cases(size: usize, plan: &Plan) -> Vec<Case> {
    let mut v = Vec::new();
    for chunk in protocol::CHUNKS.map(|c| c as usize) {
        let span = size.min(IO_SPAN).min(chunk * plan.pass_calls);
        for (metric, write) in [("seq_read", false), ("seq_write", true)] {
            v.push(Case {
                metric,
                param: chunk,
                unit: "MB/s",
                op: Op::Seq {
                    chunk,
                    calls: span.div_ceil(chunk),
                    span,
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
        metric: "mmap_munmap_page",
        param: PAGE,
        unit: "ns/op",
        op: Op::MapPage {
            ops: plan.map_loops,
        },
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

/// What one sample measured: seconds (timing mode), operations, bytes moved.
struct Sample {
    secs: f64,
    ops: usize,
    bytes: usize,
}

impl Sample {
    /// The sample in `unit`.
    fn value(&self, unit: &str) -> f64 {
        match unit {
            "MB/s" => self.bytes as f64 / self.secs / 1e6,
            "ns/op" => self.secs * 1e9 / self.ops as f64,
            _ => self.secs * 1e6 / self.ops as f64,
        }
    }
}

/// The state shared by every sample of one buffer size.
struct Bench {
    size: usize,
    /// The destination of every warm copy: `size` bytes and a page, allocated once.
    dst: Map,
    meter: Meter,
    /// udmabuf, vgem and the RAM disk, from `zero_copy::FROM` on.
    peers: Option<zero_copy::Peers>,
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

    /// Takes one sample of `op` from `c`.
    fn sample(&self, c: &mut Contender, op: Op, seed: u64) -> io::Result<Sample> {
        let meter = self.meter;
        let size = self.size;
        match op {
            Op::Seq {
                chunk,
                calls,
                span,
                write,
            } => {
                let mut buf = vec![1u8; chunk];
                let mut bytes = 0;
                let t = meter.start();
                let mut off = 0;
                for _ in 0..calls {
                    let n = chunk.min(span - off);
                    match &mut c.target {
                        Target::File { file, .. } if write => {
                            file.write_at(&buf[..n], off as u64)?;
                        }
                        Target::File { file, .. } => {
                            file.read_at(&mut buf[..n], off as u64)?;
                        }
                        // SAFETY: `off + n <= span <= IO_SPAN.min(size)`, within `dst`'s
                        // length, and `buf` is a separate allocation of at least `n` bytes.
                        Target::Memory { dst, .. } if write => unsafe {
                            std::ptr::copy_nonoverlapping(buf.as_ptr(), dst.addr.add(off), n)
                        },
                        // SAFETY: `off + n <= span <= size`, the length of `src`.
                        Target::Memory { src, .. } => unsafe {
                            std::ptr::copy_nonoverlapping(src.addr.add(off), buf.as_mut_ptr(), n)
                        },
                    }
                    bytes += n;
                    off = (off + n) % span;
                }
                let secs = meter.stop(t);
                std::hint::black_box(&buf);
                Ok(Sample {
                    secs,
                    ops: calls,
                    bytes,
                })
            }
            Op::Pread { len, ops } => {
                let mut buf = vec![0u8; len];
                let mut rng = seed | 1;
                let span = size.saturating_sub(len);
                let offsets: Vec<usize> = (0..ops)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        if span == 0 {
                            0
                        } else {
                            (rng as usize % span) & !63
                        }
                    })
                    .collect();
                let len = len.min(size);
                let t = meter.start();
                for &off in &offsets {
                    match &c.target {
                        Target::File { file, .. } => {
                            file.read_at(&mut buf[..len], off as u64)?;
                        }
                        // SAFETY: `off + len <= size`, and `buf` is a separate allocation.
                        Target::Memory { src, .. } => unsafe {
                            std::ptr::copy_nonoverlapping(src.addr.add(off), buf.as_mut_ptr(), len)
                        },
                    }
                    std::hint::black_box(&buf);
                }
                let secs = meter.stop(t);
                Ok(Sample {
                    secs,
                    ops,
                    bytes: len * ops,
                })
            }
            Op::MapWhole { ops } | Op::MmapTouch { ops } | Op::MapPage { ops } => {
                let Target::File { file, map_len, .. } = &c.target else {
                    return Err(io::Error::from_raw_os_error(libc::EINVAL));
                };
                let (len, touch) = match op {
                    Op::MapPage { .. } if c.kind == Kind::Hugetlb => (HUGE, 0),
                    Op::MapPage { .. } => (PAGE, 0),
                    Op::MmapTouch { .. } => (*map_len, size),
                    _ => (*map_len, 0),
                };
                let t = meter.start();
                for _ in 0..ops {
                    let m = Map::file(file, len)?;
                    m.touch(touch, 1);
                    std::hint::black_box(&m);
                }
                Ok(Sample {
                    secs: meter.stop(t),
                    ops,
                    bytes: touch * ops,
                })
            }
            Op::CreateMapTouch { ops } => {
                let t = meter.start();
                for _ in 0..ops {
                    create_map_touch(c.kind, size)?;
                }
                Ok(Sample {
                    secs: meter.stop(t),
                    ops,
                    bytes: size * ops,
                })
            }
            Op::DmabufMapTouch { ops } => self.dmabuf_map_touch(c, ops),
            Op::DioWrite { ops, from_map } => self.dio_write(c, ops, from_map),
            Op::WarmCopy { ops } => {
                let src = warm_src(c, size)?;
                let dst = self.warm_dst(src);
                let t = meter.start();
                for _ in 0..ops {
                    // SAFETY: `src` maps at least `size` readable bytes and `dst` is `size`
                    // bytes inside `self.dst` (which has a page more), a separate mapping;
                    // nothing else writes either meanwhile.
                    unsafe { std::ptr::copy_nonoverlapping(src, dst, size) };
                    std::hint::black_box(dst);
                }
                Ok(Sample {
                    secs: meter.stop(t),
                    ops,
                    bytes: size * ops,
                })
            }
        }
    }
}

/// The start of the mapping that the warm copies read: the whole file, every page touched,
/// made at the first call (in a warm-up round); memcpy's source.
fn warm_src(c: &mut Contender, size: usize) -> io::Result<*mut u8> {
    Ok(match &mut c.target {
        Target::File {
            file,
            map_len,
            warm,
        } => {
            if warm.is_none() {
                let m = Map::file(file, *map_len)?;
                m.touch(size, 0);
                *warm = Some(m);
            }
            warm.as_ref().map_or(std::ptr::null_mut(), |m| m.addr)
        }
        Target::Memory { src, .. } => src.addr,
    })
}

impl Bench {
    fn peers(&self) -> io::Result<&zero_copy::Peers> {
        self.peers
            .as_ref()
            .ok_or_else(|| io::Error::other("the zero-copy peers are not open"))
    }

    /// `Op::DmabufMapTouch`.
    fn dmabuf_map_touch(&self, c: &Contender, ops: usize) -> io::Result<Sample> {
        let peers = self.peers()?;
        let Target::File { file, map_len, .. } = &c.target else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        let t = self.meter.start();
        for _ in 0..ops {
            let d = if c.kind == Kind::Device {
                zero_copy::export_mydev(file, *map_len)?
            } else {
                peers.udmabuf(file, *map_len)?
            };
            let handle = peers.attach(&d)?;
            let m = Map::new(*map_len, libc::MAP_SHARED, d.as_raw_fd())?;
            m.touch(self.size, 1);
            drop(m);
            peers.detach(handle)?;
            drop(d);
        }
        Ok(Sample {
            secs: self.meter.stop(t),
            ops,
            bytes: self.size * ops,
        })
    }

    /// `Op::DioWrite`.
    fn dio_write(&self, c: &mut Contender, ops: usize, from_map: bool) -> io::Result<Sample> {
        let size = self.size;
        let src = warm_src(c, size)?;
        let peers = self.peers()?;
        let Target::File { file, .. } = &c.target else {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        };
        let t = self.meter.start();
        for _ in 0..ops {
            if from_map {
                // SAFETY: `src` maps at least `size` readable bytes (the warm mapping).
                unsafe { peers.write_direct(src, size) }?;
            } else {
                // SAFETY: `self.dst` is this benchmark's own anonymous memory of `size` bytes
                // and a page, used by nothing else meanwhile.
                unsafe { zero_copy::read_all(file, self.dst.addr, size) }?;
                // SAFETY: as above, now read.
                unsafe { peers.write_direct(self.dst.addr, size) }?;
            }
        }
        Ok(Sample {
            secs: self.meter.stop(t),
            ops,
            bytes: size * ops,
        })
    }
}

fn tagged(c: &Contender, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", c.name))
}

/// Timing mode: `repeat` rounds after a warm-up round, each contender first in turn.
fn time_all(
    bench: &Bench,
    contenders: &mut [Contender],
    cases: &[Case],
    plan: &Plan,
) -> io::Result<Vec<Figure>> {
    let mut figures = Vec::new();
    for case in cases {
        eprintln!(
            "bench: {} {} {}",
            human(bench.size),
            case.metric,
            case.param
        );
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); contenders.len()];
        let mut shape = (0, 0);
        for round in 0..=plan.repeat {
            for k in 0..contenders.len() {
                let i = (k + round) % contenders.len();
                let c = &mut contenders[i];
                if !case.applies_to(c) {
                    continue;
                }
                let s = bench
                    .sample(c, case.op, round as u64 + 1)
                    .map_err(|e| tagged(c, e))?;
                if round > 0 {
                    samples[i].push(s.value(case.unit));
                    shape = (s.bytes / s.ops.max(1), s.ops);
                }
            }
        }
        for (c, samples) in contenders.iter().zip(samples) {
            if case.applies_to(c) {
                figures.push(Figure {
                    contender: c.name.to_string(),
                    metric: case.metric.to_string(),
                    param: case.param as u64,
                    size: bench.size as u64,
                    unit: case.unit.to_string(),
                    bytes: shape.0 as u64,
                    ops: shape.1 as u64,
                    samples,
                });
            }
        }
    }
    Ok(figures)
}

/// Counting mode: a warm-up round and five more of every case between markers (two more from
/// `COUNT_LARGE` on, or with `quick`), one label line per stop; `n` numbers the stops of the
/// whole run.
fn count_all(
    bench: &Bench,
    contenders: &mut [Contender],
    cases: &[Case],
    quick: bool,
    n: &mut u64,
) -> io::Result<()> {
    for case in cases {
        eprintln!(
            "bench: {} {} {}",
            human(bench.size),
            case.metric,
            case.param
        );
        let rounds = if quick || bench.size >= COUNT_LARGE {
            COUNT_ROUNDS_LARGE
        } else {
            COUNT_ROUNDS
        };
        for round in 0..rounds {
            for c in contenders.iter_mut() {
                if !case.applies_to(c) {
                    continue;
                }
                let s = bench.sample(c, case.op, 1).map_err(|e| tagged(c, e))?;
                println!(
                    "{}",
                    protocol::count_line(
                        *n,
                        round,
                        bench.size as u64,
                        c.name,
                        case.metric,
                        case.param as u64,
                        s.ops as u64
                    )
                );
                *n += 1;
            }
        }
    }
    Ok(())
}

fn human(n: usize) -> String {
    match n {
        n if n >= 1 << 30 && n % (1 << 30) == 0 => format!("{}G", n >> 30),
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{}M", n >> 20),
        n if n >= 1024 && n % 1024 == 0 => format!("{}K", n >> 10),
        n => n.to_string(),
    }
}

fn json(figures: &[Figure], sizes: &[usize], detail: usize, plan: &Plan) -> String {
    let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
    let mut s = format!(
        "{{\"sizes\":[{}],\"detail\":{detail},\"repeat\":{},\"note\":\"wall-clock times in a guest under QEMU TCG emulation: compare ratios measured in the same boot, not absolute figures\",\"figures\":[",
        sizes.join(","),
        plan.repeat
    );
    let records: Vec<String> = figures.iter().map(Figure::json).collect();
    s.push_str(&records.join(","));
    s.push_str("]}");
    s
}

/// Why a size did not run: `Skip` (its set-up failed: reported, and the next size runs) or
/// `Fatal` (a measurement or a check failed: the run stops).
enum SizeError {
    Skip(String),
    Fatal(String),
}

/// Runs a busybox command; its failure is an error that names the command and its output.
fn sh(cmd: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Unloads a module if it is loaded.
fn unload(name: &str) -> Result<(), String> {
    let loaded = std::fs::read_to_string("/proc/modules")
        .map_err(|e| format!("/proc/modules: {e}"))?
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name));
    if loaded { sh("rmmod", &[name]) } else { Ok(()) }
}

/// Sets the pool of 2 MiB hugetlb pages to `n` pages; the kernel may give fewer.
fn reserve_huge_pages(n: usize) -> Result<usize, String> {
    std::fs::write(NR_HUGEPAGES, format!("{n}\n")).map_err(|e| format!("{NR_HUGEPAGES}: {e}"))?;
    let got = std::fs::read_to_string(NR_HUGEPAGES).map_err(|e| format!("{NR_HUGEPAGES}: {e}"))?;
    got.trim()
        .parse()
        .map_err(|e| format!("{NR_HUGEPAGES}: {got:?}: {e}"))
}

/// The `kB` fields of `/proc/meminfo` named in `keys`, as `key value` pairs for a log line.
fn meminfo(keys: &[&str]) -> String {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    keys.iter()
        .map(|k| {
            let v = text
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix(':'))
                .map_or("?".to_string(), |v| v.trim().to_string());
            format!("{k} {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `kB` fields of the `/proc/self/smaps` entry of the mapping that starts at `addr`.
fn smaps(addr: *const u8) -> Result<Vec<(String, u64)>, String> {
    let text = std::fs::read_to_string("/proc/self/smaps")
        .map_err(|e| format!("/proc/self/smaps: {e}"))?;
    let head = format!("{:x}-", addr as usize);
    let mut lines = text.lines().skip_while(|l| !l.starts_with(&head));
    if lines.next().is_none() {
        return Err(format!("no mapping at {head} in /proc/self/smaps"));
    }
    Ok(lines
        .map_while(|l| {
            let (k, v) = l.split_once(':')?;
            let kb = v.trim().strip_suffix(" kB")?.trim().parse().ok()?;
            Some((k.to_string(), kb))
        })
        .collect())
}

/// The smaps fields that count memory mapped with huge entries.
const HUGE_FIELDS: [&str; 5] = [
    "AnonHugePages",
    "ShmemPmdMapped",
    "FilePmdMapped",
    "Shared_Hugetlb",
    "Private_Hugetlb",
];

/// Reports how much of `m`'s first `bytes` bytes (all touched) `c` maps with huge entries, as a
/// `# mydev-bench-huge` line, and checks the huge-page contenders.
fn check_huge(c: &Contender, size: usize, which: &str, m: &Map) -> Result<(), String> {
    let fields = smaps(m.addr)?;
    let get = |k: &str| fields.iter().find(|(n, _)| n == k).map_or(0, |(_, v)| *v);
    let huge: u64 = HUGE_FIELDS.iter().map(|k| get(k)).sum();
    let touched = (size / 1024) as u64;
    let page = get("KernelPageSize");
    let named: Vec<String> = HUGE_FIELDS
        .iter()
        .filter(|k| get(k) > 0)
        .map(|k| format!("{k}={}", get(k)))
        .collect();
    let named = if named.is_empty() {
        "-".to_string()
    } else {
        named.join(",")
    };
    println!(
        "{}",
        protocol::huge_line(size as u64, c.name, which, [touched, huge, page], &named)
    );
    let fail = |why: &str| {
        Err(format!(
            "{} at {}: {why} ({which} mapping: {touched} kB touched, {huge} kB mapped huge, \
             KernelPageSize {page} kB); refusing to report it as a huge-page contender",
            c.name,
            human(size)
        ))
    };
    match c.kind {
        Kind::Thp if size >= HUGE && huge < touched => {
            fail("transparent huge pages did not back the whole mapping")
        }
        Kind::Hugetlb if huge < touched || page != (HUGE / 1024) as u64 => {
            fail("the hugetlb mapping is not mapped with 2 MiB pages")
        }
        Kind::Memfd if huge > 0 => fail("the 4 KiB-page memfd is mapped with huge pages"),
        _ => Ok(()),
    }
}

/// Everything one size needs, created in an order that leaves the huge pages the best chance
/// of finding contiguous memory.
fn contenders(size: usize, count: bool) -> Result<Vec<Contender>, String> {
    unload("mmap")?;
    unload("cref")?;
    // The hugetlb memfd's pages, and as many again for the one `create_map_touch` makes.
    let want = 2 * huge_len(size) / HUGE;
    let got = reserve_huge_pages(want)?;
    if got < want {
        return Err(format!(
            "only {got} of the {want} 2 MiB hugetlb pages could be reserved"
        ));
    }
    let hugetlb = memfd_hugetlb(size).map_err(|e| format!("memfd-hugetlb: {e}"))?;
    let thp = memfd_thp(size).map_err(|e| format!("memfd-thp: {e}"))?;
    let memfd = memfd(size).map_err(|e| format!("memfd: {e}"))?;
    let size_param = format!("size={size}");
    sh("insmod", &[MYDEV_KO, &size_param])?;
    sh("insmod", &[CREF_KO, &size_param])?;
    if count {
        let syms = std::fs::read_to_string("/proc/kallsyms").map_err(|e| e.to_string())?;
        println!("{}{size}", protocol::KALLSYMS_BEGIN);
        for l in syms
            .lines()
            .filter(|l| l.ends_with("[mmap]") || l.ends_with("[cref]"))
        {
            println!("{l}");
        }
        println!("{}", protocol::KALLSYMS_END);
    }
    let device = mydev::Device::open("/dev/mydev").map_err(|e| e.to_string())?;
    if device.size() != size {
        return Err(format!(
            "/dev/mydev has {} bytes, not {size}",
            device.size()
        ));
    }
    let mydev = device
        .file()
        .try_clone()
        .map_err(|e| format!("/dev/mydev: {e}"))?;
    let cref = open("/dev/cref").map_err(|e| format!("/dev/cref: {e}"))?;
    let anon = |what: &str, len| Map::anon(len).map_err(|e| format!("{what}: {e}"));
    let (src, dst) = (
        anon("memcpy source", size)?,
        anon("memcpy destination", size.min(IO_SPAN))?,
    );
    src.touch(size, 7);
    let file = |name, kind, file, map_len| Contender {
        name,
        kind,
        target: Target::File {
            file,
            map_len,
            warm: None,
        },
    };
    let [
        mydev_name,
        cref_name,
        memfd_name,
        thp_name,
        hugetlb_name,
        memcpy_name,
    ] = CONTENDERS;
    Ok(vec![
        file(mydev_name, Kind::Device, mydev, size),
        file(cref_name, Kind::Device, cref, size),
        file(memfd_name, Kind::Memfd, memfd, size),
        file(thp_name, Kind::Thp, thp, size),
        file(hugetlb_name, Kind::Hugetlb, hugetlb, huge_len(size)),
        Contender {
            name: memcpy_name,
            kind: Kind::Memory,
            target: Target::Memory { src, dst },
        },
    ])
}

/// Checks the huge pages of every file contender: a freshly touched mapping, as
/// `mmap_touch_all` made them, and the warm mapping the warm copies read.
fn check_all_huge(contenders: &[Contender], size: usize) -> Result<(), String> {
    for c in contenders {
        let Target::File {
            file,
            map_len,
            warm,
        } = &c.target
        else {
            continue;
        };
        let fresh = Map::file(file, *map_len).map_err(|e| format!("{}: {e}", c.name))?;
        fresh.touch(size, 1);
        check_huge(c, size, "touch", &fresh)?;
        if let Some(w) = warm {
            check_huge(c, size, "warm", w)?;
        }
    }
    Ok(())
}

/// One buffer size: set-up, every case, the huge-page checks, and the tear-down.
fn run_size(
    size: usize,
    detail: bool,
    plan: &Plan,
    meter: Meter,
    n: &mut u64,
) -> Result<Vec<Figure>, SizeError> {
    let count = meter == Meter::Markers;
    let mut contenders = contenders(size, count).map_err(SizeError::Skip)?;
    let bench = Bench {
        size,
        dst: Map::anon(size + PAGE)
            .map_err(|e| SizeError::Skip(format!("warm copy destination: {e}")))?,
        meter,
        peers: if size >= zero_copy::FROM {
            Some(zero_copy::Peers::open().map_err(SizeError::Fatal)?)
        } else {
            None
        },
    };
    eprintln!(
        "bench: {} ready: {}",
        human(size),
        meminfo(&[
            "MemFree",
            "ShmemHugePages",
            "ShmemPmdMapped",
            "HugePages_Total",
            "HugePages_Free",
            "Hugepagesize"
        ])
    );
    let mut cases = sweep_cases(size, plan);
    if detail {
        cases.extend(detail_cases(size, plan));
    }
    let fatal = |e: io::Error| SizeError::Fatal(e.to_string());
    let figures = if count {
        count_all(&bench, &mut contenders, &cases, plan.quick, n).map_err(fatal)?;
        Vec::new()
    } else {
        time_all(&bench, &mut contenders, &cases, plan).map_err(fatal)?
    };
    check_all_huge(&contenders, size).map_err(SizeError::Fatal)?;
    drop(contenders);
    drop(bench);
    let free = || -> Result<(), String> {
        unload("mmap")?;
        unload("cref")?;
        reserve_huge_pages(0)?;
        Ok(())
    };
    free().map_err(SizeError::Fatal)?;
    Ok(figures)
}

/// Puts shmem's huge pages on `advise` (a mapping with `MADV_HUGEPAGE` gets them, nothing else
/// does) and checks that THP and hugetlb are there at all.
fn huge_page_setup() -> Result<(), String> {
    std::fs::write(SHMEM_ENABLED, "advise\n").map_err(|e| {
        format!("{SHMEM_ENABLED}: {e} (is the kernel built with CONFIG_TRANSPARENT_HUGEPAGE?)")
    })?;
    let read = |p: &str| std::fs::read_to_string(p).map(|s| s.trim().to_string());
    let shmem = read(SHMEM_ENABLED).map_err(|e| format!("{SHMEM_ENABLED}: {e}"))?;
    if !shmem.contains("[advise]") {
        return Err(format!("{SHMEM_ENABLED} is {shmem:?}, not advise"));
    }
    let anon = read(THP_ENABLED).map_err(|e| format!("{THP_ENABLED}: {e}"))?;
    std::fs::metadata(NR_HUGEPAGES)
        .map_err(|e| format!("{NR_HUGEPAGES}: {e} (is the kernel built with CONFIG_HUGETLBFS?)"))?;
    eprintln!("bench: shmem_enabled {shmem}; anonymous THP {anon}");
    Ok(())
}

/// `N`, `NK`, `NM` or `NG` bytes.
fn parse_size(s: &str) -> Option<usize> {
    let (num, shift) = match s.as_bytes().last()? {
        b'K' | b'k' => (&s[..s.len() - 1], 10),
        b'M' | b'm' => (&s[..s.len() - 1], 20),
        b'G' | b'g' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<usize>().ok()?.checked_mul(1 << shift)
}

fn run() -> Result<bool, String> {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    let value = |f: &str| args.windows(2).find(|w| w[0] == f).map(|w| w[1].clone());
    let quick = flag("--quick");
    let count = flag("--count");
    let repeat = value("--repeat")
        .map(|r| r.parse().map_err(|_| format!("--repeat {r}")))
        .transpose()?
        .unwrap_or(if quick { 1 } else { 5 });
    let sizes = value("--sizes")
        .ok_or("--sizes is required")?
        .split(',')
        .map(|s| parse_size(s).ok_or(format!("--sizes: {s:?} is not a size")))
        .collect::<Result<Vec<usize>, String>>()?;
    if let Some(bad) = sizes.iter().find(|&&s| s == 0 || s % PAGE != 0) {
        return Err(format!(
            "--sizes: {bad} is not a positive multiple of {PAGE}"
        ));
    }
    let detail = match value("--detail") {
        Some(d) => parse_size(&d).ok_or(format!("--detail {d}"))?,
        None => 0,
    };
    let plan = if quick {
        Plan {
            quick,
            repeat,
            pass_calls: 64,
            latency_ops: 200,
            map_loops: 50,
            sweep_bytes: 1 << 20,
            sweep_ops: 8,
        }
    } else if count {
        Plan {
            quick,
            repeat: COUNT_ROUNDS - 1,
            pass_calls: 16,
            latency_ops: 100,
            map_loops: 20,
            sweep_bytes: 4 << 20,
            sweep_ops: 16,
        }
    } else {
        Plan {
            quick,
            repeat,
            pass_calls: 16384,
            latency_ops: 20000,
            map_loops: 2000,
            sweep_bytes: 64 << 20,
            sweep_ops: 100,
        }
    };
    huge_page_setup()?;
    let meter = if count { Meter::Markers } else { Meter::Clock };
    let mut figures = Vec::new();
    let mut skipped = false;
    let mut n = 0;
    for &size in &sizes {
        match run_size(size, size == detail, &plan, meter, &mut n) {
            Ok(f) => figures.extend(f),
            Err(SizeError::Skip(why)) => {
                println!("{}", protocol::skipped_line(size as u64, &why));
                eprintln!("bench: {} not run: {why}", human(size));
                skipped = true;
                // Whatever the failed set-up left behind must not hold memory from the next
                // size.
                let _ = unload("mmap");
                let _ = unload("cref");
                let _ = reserve_huge_pages(0);
            }
            Err(SizeError::Fatal(why)) => return Err(format!("{}: {why}", human(size))),
        }
    }
    if !count {
        println!("{}", protocol::JSON_BEGIN);
        println!("{}", json(&figures, &sizes, detail, &plan));
        println!("{}", protocol::JSON_END);
    }
    Ok(!skipped)
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("mydev-bench: some sizes did not run (see the skipped lines)");
            std::process::ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("mydev-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
