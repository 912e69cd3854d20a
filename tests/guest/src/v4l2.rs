// SPDX-License-Identifier: GPL-2.0

//! Just enough V4L2 to capture one frame from vivid, the kernel's virtual camera, into a buffer
//! of its own (`V4L2_MEMORY_MMAP`) or into an imported dma-buf (`V4L2_MEMORY_DMABUF`): the
//! dmabuf suite's importer that maps the attachment.

use crate::sys::{Map, ioctl, mmap, open};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

const CAPTURE: u32 = 1; // V4L2_BUF_TYPE_VIDEO_CAPTURE
const MEMORY_MMAP: u32 = 1;
const MEMORY_DMABUF: u32 = 4;

/// `_IOC(dir, 'V', nr, size)`.
const fn vidioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | ((b'V' as u32) << 8) | nr
}
const RW: u32 = 3;
const W: u32 = 1;
const G_FMT: u32 = vidioc(RW, 4, size_of::<Format>());
const REQBUFS: u32 = vidioc(RW, 8, size_of::<RequestBuffers>());
const QUERYBUF: u32 = vidioc(RW, 9, size_of::<Buffer>());
const QBUF: u32 = vidioc(RW, 15, size_of::<Buffer>());
const DQBUF: u32 = vidioc(RW, 17, size_of::<Buffer>());
const STREAMON: u32 = vidioc(W, 18, 4);
const STREAMOFF: u32 = vidioc(W, 19, 4);

/// `struct v4l2_format` with the `v4l2_pix_format` member of its union.
#[repr(C)]
struct Format {
    kind: u32,
    _pad: u32,
    width: u32,
    height: u32,
    pixelformat: u32,
    field: u32,
    bytesperline: u32,
    sizeimage: u32,
    _rest: [u32; 44],
}

/// `struct v4l2_requestbuffers`.
#[repr(C)]
#[derive(Default)]
struct RequestBuffers {
    count: u32,
    kind: u32,
    memory: u32,
    capabilities: u32,
    flags: u32,
}

/// `struct v4l2_buffer` (64-bit layout: the `timeval` aligns to 8).
#[repr(C)]
#[derive(Default)]
struct Buffer {
    index: u32,
    kind: u32,
    bytesused: u32,
    flags: u32,
    field: u32,
    _pad: u32,
    timestamp: [u64; 2],
    timecode: [u32; 4],
    sequence: u32,
    memory: u32,
    /// `m.offset` (MMAP) or `m.fd` (DMABUF) in the low 32 bits.
    m: u64,
    length: u32,
    _reserved2: u32,
    _request_fd: u32,
    _pad2: u32,
}

const _: () = assert!(size_of::<Buffer>() == 88 && size_of::<Format>() == 208);

/// The frame vivid captures: its geometry and where to find it.
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub bytesperline: usize,
    pub height: usize,
    pub sizeimage: usize,
}

/// vivid's video capture node, `/dev/videoN` named `vivid-000-vid-cap` in sysfs.
pub fn vivid_capture_node() -> Option<String> {
    let nodes = std::fs::read_dir("/sys/class/video4linux").ok()?;
    nodes.flatten().find_map(|n| {
        let name = std::fs::read_to_string(n.path().join("name")).ok()?;
        (name.trim() == "vivid-000-vid-cap")
            .then(|| format!("/dev/{}", n.file_name().to_string_lossy()))
    })
}

/// An open capture node.
#[derive(Debug)]
pub struct Camera {
    fd: OwnedFd,
    pub geometry: Geometry,
}

impl Camera {
    pub fn open(node: &str) -> io::Result<Self> {
        let fd = open(node, libc::O_RDWR)?;
        // SAFETY: `Format` is plain old data; all zeroes is a valid value.
        let mut f: Format = unsafe { std::mem::zeroed() };
        f.kind = CAPTURE;
        ioctl(&fd, G_FMT, &mut f as *mut Format as usize)?;
        let geometry = Geometry {
            bytesperline: f.bytesperline as usize,
            height: f.height as usize,
            sizeimage: f.sizeimage as usize,
        };
        Ok(Camera { fd, geometry })
    }

    fn reqbufs(&self, memory: u32, count: u32) -> io::Result<()> {
        let mut r = RequestBuffers {
            count,
            kind: CAPTURE,
            memory,
            ..Default::default()
        };
        ioctl(&self.fd, REQBUFS, &mut r as *mut RequestBuffers as usize).map(drop)
    }

    /// Queues `b`, streams until vivid hands it back filled, and stops.
    fn capture(&self, mut b: Buffer) -> io::Result<Buffer> {
        ioctl(&self.fd, QBUF, &mut b as *mut Buffer as usize)?;
        let on = CAPTURE as i32;
        ioctl(&self.fd, STREAMON, &on as *const i32 as usize)?;
        let mut p = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut p, 1, 20_000) };
        let mut out = Buffer {
            kind: CAPTURE,
            memory: b.memory,
            ..Default::default()
        };
        let got = if ready == 1 {
            ioctl(&self.fd, DQBUF, &mut out as *mut Buffer as usize).map(|_| out)
        } else {
            Err(io::Error::new(io::ErrorKind::TimedOut, "no frame in 20 s"))
        };
        ioctl(&self.fd, STREAMOFF, &on as *const i32 as usize)?;
        got
    }

    /// One frame captured into vivid's own buffer.
    pub fn frame(&self) -> io::Result<Vec<u8>> {
        self.reqbufs(MEMORY_MMAP, 1)?;
        let mut b = Buffer {
            kind: CAPTURE,
            memory: MEMORY_MMAP,
            ..Default::default()
        };
        ioctl(&self.fd, QUERYBUF, &mut b as *mut Buffer as usize)?;
        let map: Map = mmap(
            &self.fd,
            b.length as usize,
            libc::PROT_READ,
            libc::MAP_SHARED,
            b.m,
        )?;
        let done = self.capture(b);
        let bytes = done.map(|d| map.load_all(0, d.bytesused as usize));
        drop(map);
        self.reqbufs(MEMORY_MMAP, 0)?;
        bytes
    }

    /// One frame captured into the dma-buf `dmabuf` of `len` bytes; the bytes vivid wrote.
    /// vivid (with `allocators=1`) maps the attachment for its device and needs the range in
    /// one DMA-contiguous piece.
    pub fn frame_into(&self, dmabuf: &OwnedFd, len: usize) -> io::Result<usize> {
        self.reqbufs(MEMORY_DMABUF, 1)?;
        let b = Buffer {
            kind: CAPTURE,
            memory: MEMORY_DMABUF,
            m: dmabuf.as_raw_fd() as u64,
            length: len as u32,
            ..Default::default()
        };
        let done = self.capture(b);
        self.reqbufs(MEMORY_DMABUF, 0)?;
        done.map(|d| d.bytesused as usize)
    }
}
