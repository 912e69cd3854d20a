// SPDX-License-Identifier: GPL-2.0

//! `mydev-bench`: the benchmark program that `cargo xtask bench` runs in the guest.
//!
//! Contenders: `mydev` (/dev/mydev), `cref` (/dev/cref, the classic C design), `memfd` (a memfd
//! of the same size) and `memcpy` (two anonymous buffers: the limit). Each measurement repeats
//! `--repeat` times; the program prints one JSON document on stdout with every sample, between
//! the lines `# mydev-bench-json-begin` and `# mydev-bench-json-end`. Timings are wall-clock in
//! the guest; under TCG only ratios measured in the same boot mean anything.
//!
//! `mydev-bench [--repeat N] [--quick]`

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::time::Instant;

const PAGE: usize = 4096;
const CHUNKS: [usize; 4] = [64, 4096, 65536, 1 << 20];

/// A place to move bytes to and from.
enum Target {
    /// A file: the device nodes and the memfd.
    File {
        fd: OwnedFd,
        size: usize,
        mappable: bool,
    },
    /// Two anonymous buffers: memcpy between them is the limit.
    Memory { src: Vec<u8>, dst: Vec<u8> },
}

struct Contender {
    name: &'static str,
    target: Target,
}

fn open(path: &str) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: a valid NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `open` just returned this descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn memfd(size: usize) -> io::Result<OwnedFd> {
    // SAFETY: a valid NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"mydev-bench".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `memfd_create` just returned this descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: resizing our own memfd.
    if unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // Allocate every page up front, as a device buffer is.
    let zeros = vec![0u8; 1 << 20];
    let mut off = 0;
    while off < size {
        let n = zeros.len().min(size - off);
        pwrite(&fd, &zeros[..n], off)?;
        off += n;
    }
    Ok(fd)
}

fn pread(fd: &OwnedFd, buf: &mut [u8], off: usize) -> io::Result<usize> {
    file(fd).read_at(buf, off as u64)
}

fn pwrite(fd: &OwnedFd, buf: &[u8], off: usize) -> io::Result<usize> {
    file(fd).write_at(buf, off as u64)
}

/// Borrows `fd` as a `File` for the positional I/O of `FileExt`, without closing it.
fn file(fd: &OwnedFd) -> std::mem::ManuallyDrop<std::fs::File> {
    // SAFETY: the `File` never outlives `fd` in the callers, and `ManuallyDrop` keeps it from
    // closing the descriptor that `fd` owns.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd.as_raw_fd()) })
}

fn size_of_device(fd: &OwnedFd) -> io::Result<usize> {
    let mut v: u64 = 0;
    // SAFETY: MYDEV_IOC_GET_SIZE writes one u64 to `v`.
    if unsafe { libc::ioctl(fd.as_raw_fd(), mydev::uapi::MYDEV_IOC_GET_SIZE as _, &mut v) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(v as usize)
}

/// A shared mapping of a whole file, unmapped on drop.
struct Map {
    addr: *mut u8,
    len: usize,
}

impl Map {
    fn new(fd: &OwnedFd, len: usize) -> io::Result<Self> {
        // SAFETY: a new shared mapping at an address the kernel chooses.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
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
}

impl Drop for Map {
    fn drop(&mut self) {
        // SAFETY: this value owns the mapping.
        unsafe { libc::munmap(self.addr.cast(), self.len) };
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

/// How much work each measurement does.
struct Plan {
    repeat: usize,
    /// Bytes per sequential pass, at most: small chunks move fewer bytes (1 M calls under
    /// emulation would take minutes), reported with each figure.
    pass_calls: usize,
    latency_ops: usize,
    map_loops: usize,
}

fn throughput(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / secs / 1e6
}

fn measure(c: &mut Contender, plan: &Plan, out: &mut Vec<Figure>) -> io::Result<()> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let size = match &c.target {
        Target::File { size, .. } => *size,
        Target::Memory { src, .. } => src.len(),
    };
    for chunk in CHUNKS {
        let bytes = size.min(chunk * plan.pass_calls);
        let mut buf = vec![1u8; chunk];
        for (metric, write) in [("seq_read", false), ("seq_write", true)] {
            let mut samples = Vec::new();
            for _ in 0..plan.repeat {
                let start = Instant::now();
                let mut off = 0;
                while off < bytes {
                    let n = chunk.min(bytes - off);
                    match &mut c.target {
                        Target::File { fd, .. } if write => {
                            pwrite(fd, &buf[..n], off)?;
                        }
                        Target::File { fd, .. } => {
                            pread(fd, &mut buf[..n], off)?;
                        }
                        Target::Memory { src, dst } if write => {
                            dst[off..off + n].copy_from_slice(&buf[..n])
                        }
                        Target::Memory { src, .. } => buf[..n].copy_from_slice(&src[off..off + n]),
                    }
                    off += n;
                }
                samples.push(throughput(bytes, start.elapsed().as_secs_f64()));
                std::hint::black_box(&buf);
            }
            out.push(Figure {
                contender: c.name,
                metric,
                param: chunk,
                unit: "MB/s",
                bytes,
                samples,
            });
        }
    }
    for len in [64usize, 4096] {
        let mut buf = vec![0u8; len];
        let mut samples = Vec::new();
        for _ in 0..plan.repeat {
            let offsets: Vec<usize> = (0..plan.latency_ops)
                .map(|_| (next() as usize % (size - len)) & !63)
                .collect();
            let start = Instant::now();
            for &off in &offsets {
                match &c.target {
                    Target::File { fd, .. } => {
                        pread(fd, &mut buf, off)?;
                    }
                    Target::Memory { src, .. } => buf.copy_from_slice(&src[off..off + len]),
                }
                std::hint::black_box(&buf);
            }
            samples.push(start.elapsed().as_nanos() as f64 / plan.latency_ops as f64);
        }
        out.push(Figure {
            contender: c.name,
            metric: "pread_latency",
            param: len,
            unit: "ns/op",
            bytes: len,
            samples,
        });
    }
    let mut anon = vec![0u8; size];
    match &c.target {
        Target::File {
            fd, mappable: true, ..
        } => {
            let mut cold = Vec::new();
            for _ in 0..plan.repeat {
                let start = Instant::now();
                let m = Map::new(fd, size)?;
                for p in (0..size).step_by(PAGE) {
                    // SAFETY: inside the live mapping.
                    unsafe { m.addr.add(p).write_volatile(1) };
                }
                drop(m);
                cold.push(start.elapsed().as_secs_f64() * 1e3);
            }
            out.push(Figure {
                contender: c.name,
                metric: "mmap_touch_all",
                param: size,
                unit: "ms",
                bytes: size,
                samples: cold,
            });
            let mut loops = Vec::new();
            for _ in 0..plan.repeat {
                let start = Instant::now();
                for _ in 0..plan.map_loops {
                    let m = Map::new(fd, PAGE)?;
                    std::hint::black_box(&m);
                }
                loops.push(start.elapsed().as_nanos() as f64 / plan.map_loops as f64);
            }
            out.push(Figure {
                contender: c.name,
                metric: "mmap_munmap_page",
                param: PAGE,
                unit: "ns/op",
                bytes: PAGE,
                samples: loops,
            });
            let m = Map::new(fd, size)?;
            for p in (0..size).step_by(PAGE) {
                // SAFETY: inside the live mapping; faults every page in before timing.
                unsafe { m.addr.add(p).write_volatile(0) };
            }
            // SAFETY: `m` maps `size` readable bytes; nothing else writes them meanwhile, and
            // `anon` is a separate buffer of the same length.
            let copy = |anon: &mut Vec<u8>| unsafe {
                std::ptr::copy_nonoverlapping(m.addr, anon.as_mut_ptr(), size)
            };
            out.push(warm_copy(c.name, plan, &mut anon, copy));
        }
        Target::Memory { src, .. } => {
            out.push(warm_copy(c.name, plan, &mut anon, |anon| {
                anon.copy_from_slice(src)
            }));
        }
        Target::File { .. } => {}
    }
    Ok(())
}

/// Times `copy` (a whole-buffer copy into `anon`) `plan.repeat` times, as throughput.
fn warm_copy(
    contender: &'static str,
    plan: &Plan,
    anon: &mut Vec<u8>,
    mut copy: impl FnMut(&mut Vec<u8>),
) -> Figure {
    let size = anon.len();
    let samples = (0..plan.repeat)
        .map(|_| {
            let start = Instant::now();
            copy(anon);
            std::hint::black_box(&*anon);
            throughput(size, start.elapsed().as_secs_f64())
        })
        .collect();
    Figure {
        contender,
        metric: "warm_copy",
        param: size,
        unit: "MB/s",
        bytes: size,
        samples,
    }
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
    } else {
        Plan {
            repeat,
            pass_calls: 16384,
            latency_ops: 20000,
            map_loops: 2000,
        }
    };
    let mydev = open("/dev/mydev").map_err(|e| format!("/dev/mydev: {e}"))?;
    let size = size_of_device(&mydev).map_err(|e| format!("size ioctl: {e}"))?;
    let cref = open("/dev/cref").map_err(|e| format!("/dev/cref (is cref.ko loaded?): {e}"))?;
    let memfd = memfd(size).map_err(|e| format!("memfd: {e}"))?;
    let mut contenders = vec![
        Contender {
            name: "mydev",
            target: Target::File {
                fd: mydev,
                size,
                mappable: true,
            },
        },
        Contender {
            name: "cref",
            target: Target::File {
                fd: cref,
                size,
                mappable: true,
            },
        },
        Contender {
            name: "memfd",
            target: Target::File {
                fd: memfd,
                size,
                mappable: true,
            },
        },
        Contender {
            name: "memcpy",
            target: Target::Memory {
                src: vec![7u8; size],
                dst: vec![0u8; size],
            },
        },
    ];
    let mut figures = Vec::new();
    for c in &mut contenders {
        eprintln!("bench: {} ...", c.name);
        measure(c, &plan, &mut figures).map_err(|e| format!("{}: {e}", c.name))?;
    }
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
