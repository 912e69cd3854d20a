// SPDX-License-Identifier: GPL-2.0

//! Thin wrappers over the system calls the tests exercise, returning the exact `errno`.
//!
//! The tests call the kernel directly (through `libc`) rather than through the `mydev` library,
//! so that each checks the driver's own answer to one system call.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub const DEVICE: &str = "/dev/mydev";
pub const PAGE: usize = 4096;

fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `open(path, flags)`.
pub fn open(path: &str, flags: libc::c_int) -> io::Result<OwnedFd> {
    let c = CString::new(path).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = cvt(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC) } as libc::c_long)?;
    // SAFETY: `open` just returned this descriptor, which nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Opens the device read-write.
pub fn open_rw() -> io::Result<OwnedFd> {
    open(DEVICE, libc::O_RDWR)
}

/// Opens the device read-only.
pub fn open_ro() -> io::Result<OwnedFd> {
    open(DEVICE, libc::O_RDONLY)
}

/// `read(fd, buf)`.
pub fn read(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    cvt(unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) } as libc::c_long)
        .map(|n| n as usize)
}

/// `write(fd, buf)`.
pub fn write(fd: &OwnedFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    cvt(unsafe { libc::write(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len()) } as libc::c_long)
        .map(|n| n as usize)
}

/// `pread(fd, buf, off)`.
pub fn pread(fd: &OwnedFd, buf: &mut [u8], off: i64) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    cvt(
        unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off) }
            as libc::c_long,
    )
    .map(|n| n as usize)
}

/// `pwrite(fd, buf, off)`.
pub fn pwrite(fd: &OwnedFd, buf: &[u8], off: i64) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    cvt(
        unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), off) }
            as libc::c_long,
    )
    .map(|n| n as usize)
}

/// `pread` into an address that may be invalid (for `EFAULT` tests).
///
/// # Safety
///
/// `addr` must be either unmapped/inaccessible or valid for writes of `len` bytes.
pub unsafe fn pread_raw(fd: &OwnedFd, addr: usize, len: usize, off: i64) -> io::Result<usize> {
    // SAFETY: The caller guarantees `addr` is invalid (the kernel then fails cleanly) or valid.
    cvt(unsafe { libc::pread(fd.as_raw_fd(), addr as *mut libc::c_void, len, off) } as libc::c_long)
        .map(|n| n as usize)
}

/// `pwrite` from an address that may be invalid (for `EFAULT` tests).
pub fn pwrite_raw(fd: &OwnedFd, addr: usize, len: usize, off: i64) -> io::Result<usize> {
    // SAFETY: The kernel only reads from `addr` with user-access checks; an invalid address
    // gives `EFAULT` and no Rust memory is touched.
    cvt(
        unsafe { libc::pwrite(fd.as_raw_fd(), addr as *const libc::c_void, len, off) }
            as libc::c_long,
    )
    .map(|n| n as usize)
}

/// `write` from an address that may be invalid (for `EFAULT` and short-write tests).
pub fn write_raw(fd: &OwnedFd, addr: usize, len: usize) -> io::Result<usize> {
    // SAFETY: The kernel only reads from `addr` with user-access checks; an invalid address
    // gives `EFAULT` and no Rust memory is touched.
    cvt(unsafe { libc::write(fd.as_raw_fd(), addr as *const libc::c_void, len) } as libc::c_long)
        .map(|n| n as usize)
}

/// `lseek(fd, off, whence)`.
pub fn lseek(fd: &OwnedFd, off: i64, whence: libc::c_int) -> io::Result<i64> {
    // SAFETY: plain system call on an open descriptor.
    cvt(unsafe { libc::lseek(fd.as_raw_fd(), off, whence) })
}

/// `fdatasync(fd)`.
pub fn fdatasync(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: fdatasync on a descriptor the caller owns; it touches no memory of ours.
    cvt(unsafe { libc::fdatasync(fd.as_raw_fd()) } as libc::c_long).map(drop)
}

/// `ioctl(fd, cmd, arg)`.
pub fn ioctl(fd: &OwnedFd, cmd: u32, arg: usize) -> io::Result<i64> {
    // SAFETY: the tests pass either a valid pointer of the right size or an invalid address on
    // purpose; the kernel checks user pointers and fails with EFAULT.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), cmd as _, arg) } as libc::c_long)
}

/// The errno of a failed call, for messages and checks.
pub fn errno<T: std::fmt::Debug>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Checks that `r` failed with `want`.
pub fn expect_errno<T: std::fmt::Debug>(
    r: io::Result<T>,
    want: i32,
    what: &str,
) -> Result<(), String> {
    match &r {
        Err(e) if e.raw_os_error() == Some(want) => Ok(()),
        _ => Err(format!(
            "{what}: expected {}, got {r:?}",
            io::Error::from_raw_os_error(want)
        )),
    }
}

/// A raw mapping, unmapped on drop (unless already unmapped by the test).
#[derive(Debug)]
pub struct Map {
    pub addr: usize,
    pub len: usize,
}

/// `mmap(NULL, len, prot, flags, fd, off)`, as the raw system call: the C library would refuse
/// some offsets (those of 2^63 and up) itself, and the tests want the kernel's answer.
pub fn mmap(
    fd: &OwnedFd,
    len: usize,
    prot: libc::c_int,
    flags: libc::c_int,
    off: u64,
) -> io::Result<Map> {
    // SAFETY: a new mapping at a kernel-chosen address (hint 0) aliases nothing.
    let addr = unsafe { raw_mmap(0, len, prot, flags, fd, off) }?;
    Ok(Map { addr, len })
}

/// The `mmap` system call; the address of the new mapping.
///
/// # Safety
///
/// With `MAP_FIXED` in `flags`, `addr..addr + len` must be memory the caller owns and may
/// replace (nothing else may refer to it).
unsafe fn raw_mmap(
    addr: usize,
    len: usize,
    prot: libc::c_int,
    flags: libc::c_int,
    fd: &OwnedFd,
    off: u64,
) -> io::Result<usize> {
    // SAFETY: the caller vouches for the range if it is fixed; otherwise the kernel picks a free
    // one (the hint is only a hint), which aliases nothing.
    let p = unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd.as_raw_fd(), off) };
    // `syscall()` turns a failure into -1 and errno.
    if p == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(p as usize)
    }
}

/// A read-write mapping of `pages` pages from page `pgoff`, with `flags` `MAP_SHARED` or
/// `MAP_PRIVATE`.
fn map_rw(fd: &OwnedFd, pages: usize, pgoff: usize, flags: libc::c_int) -> io::Result<Map> {
    let prot = libc::PROT_READ | libc::PROT_WRITE;
    mmap(fd, pages * PAGE, prot, flags, (pgoff * PAGE) as u64)
}

/// A private anonymous mapping of `len` bytes with `prot` (`PROT_NONE` for an address range
/// the kernel cannot copy to or from).
pub fn anon(len: usize, prot: libc::c_int) -> io::Result<Map> {
    anon_with(len, prot, libc::MAP_PRIVATE)
}

/// A shared anonymous mapping (shmem) of `len` bytes with `prot`.
pub fn anon_shared(len: usize, prot: libc::c_int) -> io::Result<Map> {
    anon_with(len, prot, libc::MAP_SHARED)
}

fn anon_with(len: usize, prot: libc::c_int, flags: libc::c_int) -> io::Result<Map> {
    // SAFETY: a fresh anonymous mapping at a kernel-chosen address aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            flags | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(Map {
        addr: p as usize,
        len,
    })
}

/// A shared read-write mapping of `pages` pages from page `pgoff`.
pub fn map_shared(fd: &OwnedFd, pages: usize, pgoff: usize) -> io::Result<Map> {
    map_rw(fd, pages, pgoff, libc::MAP_SHARED)
}

/// A private (copy-on-write) read-write mapping of `pages` pages from page `pgoff`.
pub fn map_private(fd: &OwnedFd, pages: usize, pgoff: usize) -> io::Result<Map> {
    map_rw(fd, pages, pgoff, libc::MAP_PRIVATE)
}

impl Map {
    /// `madvise(MADV_DONTNEED)` over the whole mapping: its page-table entries go (and a private
    /// mapping's copies with them).
    pub fn dontneed(&self) -> Result<(), String> {
        // SAFETY: advising on this value's own mapping, which stays mapped.
        let r = unsafe {
            libc::madvise(
                self.addr as *mut libc::c_void,
                self.len,
                libc::MADV_DONTNEED,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(format!(
                "madvise(MADV_DONTNEED): {} (is ADVISE_SYSCALLS on?)",
                io::Error::last_os_error()
            ))
        }
    }

    /// The address of `off..off + len` inside the mapping (a panic outside it).
    fn part(&self, off: usize, len: usize) -> *mut libc::c_void {
        assert!(off.checked_add(len).is_some_and(|end| end <= self.len));
        (self.addr + off) as *mut libc::c_void
    }

    /// `mprotect` of `off..off + len` to `prot`. A load or store that the new protection
    /// forbids faults (the tests that do it expect the signal, or never touch the part).
    pub fn protect(&self, off: usize, len: usize, prot: libc::c_int) -> io::Result<()> {
        // SAFETY: changing the protection of part of this value's own mapping.
        let r = unsafe { libc::mprotect(self.part(off, len), len, prot) };
        cvt(r as libc::c_long).map(drop)
    }

    /// `munmap` of `off..off + len`: a hole in the mapping (a load from it faults). The rest
    /// stays; dropping the value unmaps the whole range again, which the hole does not mind.
    pub fn unmap(&self, off: usize, len: usize) -> io::Result<()> {
        // SAFETY: unmapping part of this value's own mapping; nothing else refers to it.
        let r = unsafe { libc::munmap(self.part(off, len), len) };
        cvt(r as libc::c_long).map(drop)
    }

    /// `madvise(advice)` over `off..off + len`.
    pub fn advise(&self, off: usize, len: usize, advice: libc::c_int) -> io::Result<()> {
        // SAFETY: advising on part of this value's own mapping, which stays mapped.
        let r = unsafe { libc::madvise(self.part(off, len), len, advice) };
        cvt(r as libc::c_long).map(drop)
    }

    /// `mremap` of `off..off + len` to `new_len` bytes with `flags` (`MREMAP_MAYMOVE` or 0; not
    /// `MREMAP_FIXED`: see [`Map::move_to`]); the address of the result. The caller keeps
    /// track of what moved or shrank (and `forget`s what it no longer owns).
    pub fn remap(
        &self,
        off: usize,
        len: usize,
        new_len: usize,
        flags: libc::c_int,
    ) -> io::Result<usize> {
        assert!(flags & libc::MREMAP_FIXED == 0);
        // SAFETY: resizing or moving part of this value's own mapping to where the kernel
        // chooses, which aliases nothing.
        let p = unsafe { libc::mremap(self.part(off, len), len, new_len, flags) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(p as usize)
    }

    /// `mremap(MREMAP_MAYMOVE | MREMAP_FIXED)` of `off..off + len` to `at`, which with `len`
    /// lies inside `over`, a mapping of the caller's that gives that part up: the moved pages,
    /// as a new value. The caller keeps track of what it owns, as after [`Map::remap`].
    pub fn move_to(&self, off: usize, len: usize, over: &Map, at: usize) -> io::Result<Map> {
        let dest = over.part(at - over.addr, len);
        // SAFETY: moving part of this value's own mapping over part of the caller's `over`,
        // which the caller gives up (checked above to be inside it).
        let p = unsafe {
            libc::mremap(
                self.part(off, len),
                len,
                len,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED,
                dest,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Map { addr: at, len })
    }

    /// The byte at `i` (volatile: other processes change it).
    pub fn load(&self, i: usize) -> u8 {
        assert!(i < self.len);
        // SAFETY: `i < len`, inside the live mapping; volatile tolerates concurrent stores.
        unsafe { ((self.addr + i) as *const u8).read_volatile() }
    }

    /// Stores `b` at `i`.
    pub fn store(&self, i: usize, b: u8) {
        assert!(i < self.len);
        // SAFETY: `i < len`, inside the live mapping, which the test mapped writable.
        unsafe { ((self.addr + i) as *mut u8).write_volatile(b) }
    }

    /// Copies `bytes` in at `i`.
    pub fn store_all(&self, i: usize, bytes: &[u8]) {
        for (k, b) in bytes.iter().enumerate() {
            self.store(i + k, *b);
        }
    }

    /// Copies `n` bytes out from `i`.
    pub fn load_all(&self, i: usize, n: usize) -> Vec<u8> {
        (i..i + n).map(|k| self.load(k)).collect()
    }

    /// Forgets the mapping without unmapping (after the test unmapped or moved it itself).
    pub fn forget(mut self) {
        self.len = 0;
    }

    /// Takes a mapping placed over a [`Reserve`] by [`mmap_fixed`] away, and puts inaccessible
    /// reserved memory back in the same step (`MAP_FIXED`). Dropping it would unmap the range
    /// and leave a hole in the reservation, which another thread's allocation could take before
    /// the next `mmap_fixed` there lands on it.
    pub fn unplace(self) -> io::Result<()> {
        // SAFETY: the range is this value's own mapping, inside the caller's reservation; an
        // inaccessible anonymous mapping replaces it.
        let p = unsafe {
            libc::mmap(
                self.addr as *mut libc::c_void,
                self.len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        self.forget();
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Map {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: this value owns the mapping `addr..addr+len`.
            unsafe { libc::munmap(self.addr as *mut libc::c_void, self.len) };
        }
    }
}

/// A child process forked by [`spawn`], to be reaped with [`Child::wait`].
#[derive(Debug)]
pub struct Child {
    pid: libc::pid_t,
}

/// Forks a child that runs `f` and ends with `_exit` of what `f` returns. The caller must be
/// single-threaded (the suites fork before they start threads), so that the child may run
/// arbitrary code.
pub fn spawn(f: impl FnOnce() -> i32) -> io::Result<Child> {
    // SAFETY: the callers are single-threaded when they fork (see above).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let code = f();
        // SAFETY: `_exit` ends the child without returning into the parent's frames or running
        // its destructors a second time.
        unsafe { libc::_exit(code) };
    }
    Ok(Child { pid })
}

/// Forks `n` children, the `i`th running `f(i)`, as [`spawn`] does.
pub fn spawn_n(n: usize, f: impl Fn(usize) -> i32) -> io::Result<Vec<Child>> {
    (0..n).map(|i| spawn(|| f(i))).collect()
}

impl Child {
    /// The child's process ID.
    pub fn pid(&self) -> libc::pid_t {
        self.pid
    }

    /// Kills the child (`SIGKILL`) and reaps it.
    pub fn kill(self) -> io::Result<i32> {
        // SAFETY: signalling our own child, not yet reaped (`kill` takes the value).
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        self.wait()
    }

    /// Waits for the child to end; its wait status.
    pub fn wait(self) -> io::Result<i32> {
        let mut status = 0;
        // SAFETY: reaping our own child, once (`wait` takes the value).
        if unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(status)
    }
}

/// Whether a wait status is an exit with status 0.
pub fn exited_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// A pipe: its read end and its write end.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } as libc::c_long)?;
    // SAFETY: `pipe2` just returned these descriptors, owned by nothing else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Runs `f` in a forked child and returns its result (the child exits with it).
pub fn in_child(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    // SAFETY: the test process is single-threaded here (each test runs in its own process), so
    // the child may run arbitrary code after fork.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = match f() {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("child: {msg}");
                1
            }
        };
        // SAFETY: `_exit` ends the child without running the parent's destructors twice.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for the child just forked.
    if unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        return Err(format!("waitpid: {}", io::Error::last_os_error()));
    }
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else {
        Err(format!("child failed (wait status {status:#x})"))
    }
}

/// The module parameters the harness loaded the module with (`MYDEV_PARAMS`).
pub fn harness_params() -> String {
    std::env::var("MYDEV_PARAMS").unwrap_or_default()
}

/// The module file in the guest.
pub fn module_path() -> String {
    std::env::var("MYDEV_MODULE").unwrap_or_else(|_| "/lib/modules/mmap.ko".to_string())
}

/// Loads the module with `params` through `finit_module`, for the exact errno.
pub fn insmod(params: &str) -> io::Result<()> {
    let f = std::fs::File::open(module_path())?;
    let p = CString::new(params).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: `f` is an open module file and `p` a NUL-terminated parameter string.
    cvt(unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), p.as_ptr(), 0) }).map(drop)
}

/// Unloads the module through `delete_module` (non-blocking), for the exact errno.
pub fn rmmod() -> io::Result<()> {
    // SAFETY: a NUL-terminated module name.
    cvt(unsafe { libc::syscall(libc::SYS_delete_module, c"mmap".as_ptr(), libc::O_NONBLOCK) })
        .map(drop)
}

/// Whether the module is loaded (listed in `/proc/modules`).
pub fn module_loaded() -> bool {
    std::fs::read_to_string("/proc/modules")
        .is_ok_and(|m| m.lines().any(|l| l.starts_with("mmap ")))
}

/// Unloads the module if loaded and loads it with `params`.
pub fn reload(params: &str) -> Result<(), String> {
    if module_loaded() {
        rmmod().map_err(|e| format!("rmmod: {e}"))?;
    }
    insmod(params).map_err(|e| format!("insmod {params}: {e}"))
}

/// Brings the module back as the harness loaded it.
pub fn restore() -> Result<(), String> {
    reload(&harness_params())
}

/// Runs `f` with the module loaded with `params`, then restores the harness's module, whatever
/// `f` returned.
pub fn with_module(params: &str, f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    reload(params)?;
    let r = f();
    let back = restore();
    r.and(back)
}

/// The kernel log.
pub fn dmesg() -> String {
    std::process::Command::new("dmesg")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The device size from the size ioctl.
pub fn device_size() -> Result<usize, String> {
    let dev = mydev::Device::open_read_only(DEVICE).map_err(|e| e.to_string())?;
    Ok(dev.size())
}

/// `n` bytes of the device from offset `off`, through `pread` on a file of its own.
pub fn device_bytes(off: i64, n: usize) -> Result<Vec<u8>, String> {
    let fd = open_ro().map_err(|e| format!("open {DEVICE}: {e}"))?;
    let mut b = vec![0u8; n];
    match pread(&fd, &mut b, off) {
        Ok(got) if got == n => Ok(b),
        r => Err(format!("pread of {n} bytes at {off}: {r:?}")),
    }
}

/// Runs a shell command line in the guest; returns (status, stdout, stderr).
pub fn sh(cmd: &str) -> (i32, Vec<u8>, String) {
    match std::process::Command::new("sh").args(["-c", cmd]).output() {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (-1, Vec::new(), e.to_string()),
    }
}

/// Zeroes the buffer through the clear ioctl.
pub fn clear(fd: &OwnedFd) -> Result<(), String> {
    ioctl(fd, mydev::uapi::MYDEV_IOC_CLEAR, 0)
        .map(drop)
        .map_err(|e| format!("clear ioctl: {e}"))
}

/// A `/proc/meminfo` field (`"MemFree:"`), in KiB.
pub fn meminfo_kib(field: &str) -> Result<i64, String> {
    let info = std::fs::read_to_string("/proc/meminfo").map_err(|e| e.to_string())?;
    info.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/meminfo"))
}

/// 2 MiB: what one PMD entry maps, and the size of one part of the buffer.
pub const PART: usize = 2 << 20;

/// An address range reserved with an inaccessible anonymous mapping, `base` aligned to 2 MiB, in
/// which [`mmap_fixed`] places mappings at chosen addresses. Unmapped, with whatever was placed
/// in it, when dropped.
#[derive(Debug)]
pub struct Reserve {
    map: Map,
    pub base: usize,
}

impl Reserve {
    /// The whole reserved range (a `move_to` target).
    pub fn map(&self) -> &Map {
        &self.map
    }
}

/// Reserves `len` bytes of address space from a 2 MiB-aligned `base` (`len` plus 2 MiB, so that
/// an aligned start exists inside).
pub fn reserve_aligned(len: usize) -> io::Result<Reserve> {
    let total = len + PART;
    // SAFETY: a new inaccessible anonymous mapping at a kernel-chosen address aliases nothing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    let addr = p as usize;
    Ok(Reserve {
        map: Map { addr, len: total },
        base: (addr + PART - 1) & !(PART - 1),
    })
}

/// `mmap(addr, len, prot, flags | MAP_FIXED, fd, off)`: a mapping placed over part of a
/// [`Reserve`]. A test that maps there again while other threads run takes it away with
/// [`Map::unplace`], not by dropping it.
pub fn mmap_fixed(
    fd: &OwnedFd,
    addr: usize,
    len: usize,
    prot: libc::c_int,
    flags: libc::c_int,
    off: u64,
) -> io::Result<Map> {
    // SAFETY: the callers place mappings only inside their own reservations, which nothing else
    // uses.
    let p = unsafe { raw_mmap(addr, len, prot, flags | libc::MAP_FIXED, fd, off) }?;
    if p != addr {
        return Err(io::Error::other(format!(
            "MAP_FIXED gave {p:#x}, not {addr:#x}"
        )));
    }
    Ok(Map { addr, len })
}

/// How much file memory is mapped with PMD entries, system-wide: `FilePmdMapped` of
/// `/proc/meminfo`, in KiB (each of mydev's 2 MiB entries adds 2048).
pub fn file_pmd_mapped_kib() -> Result<i64, String> {
    meminfo_kib("FilePmdMapped:").map_err(|e| format!("{e} (CONFIG_TRANSPARENT_HUGEPAGE?)"))
}

/// A numeric field of `/proc/self/fdinfo/<fd>` (`"mydev-huge-parts:"`).
pub fn fdinfo_field(fd: &OwnedFd, field: &str) -> Result<u64, String> {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .map_err(|e| e.to_string())?;
    info.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no {field} in fdinfo: {info}"))
}

/// `nr_hugepages` of the 2 MiB hugetlb pool.
const NR_HUGEPAGES: &str = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";

/// Memory made short on purpose: 2 MiB hugetlb pages reserved until `MemAvailable` is about
/// `leave_mib`, which takes only what is needed (a 2 GiB guest asked for a 1 GiB buffer needs
/// about 600 MiB of them, where filling memory with buffers first zeroed a whole 1 GiB one).
/// Dropping it gives the pages back.
#[derive(Debug)]
pub struct Squeeze;

/// Reserves hugetlb pages until at most about `leave_mib` MiB are available.
pub fn squeeze_memory(leave_mib: i64) -> Result<Squeeze, String> {
    let avail = meminfo_kib("MemAvailable:")? / 1024;
    let pages = (avail - leave_mib).max(0) / 2;
    std::fs::write(NR_HUGEPAGES, pages.to_string())
        .map_err(|e| format!("{NR_HUGEPAGES}: {e} (CONFIG_HUGETLBFS?)"))?;
    let squeeze = Squeeze;
    let left = meminfo_kib("MemAvailable:")? / 1024;
    if left > leave_mib + 64 {
        return Err(format!(
            "{pages} hugetlb pages left {left} MiB available, not about {leave_mib}"
        ));
    }
    Ok(squeeze)
}

impl Drop for Squeeze {
    fn drop(&mut self) {
        let _ = std::fs::write(NR_HUGEPAGES, "0");
    }
}
