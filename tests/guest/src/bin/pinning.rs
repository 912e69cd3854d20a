// SPDX-License-Identifier: GPL-2.0

//! Paths that pin a mapping's pages (`get_user_pages`/`pin_user_pages`) instead of copying
//! through the page tables, each for a part mapped with a 2 MiB entry and for 4 KiB entries:
//! `vmsplice` from a mapping into a pipe, `process_vm_readv`/`process_vm_writev` on another
//! process's mapping, io_uring fixed buffers (a long-term pin that outlives the mapping), and
//! `O_DIRECT` reads and writes between a RAM disk and a mapping.

use guest_tests::cfs::{self, create, scoped};
use guest_tests::sys::*;
use guest_tests::uring::Ring;
use guest_tests::{TestResult, check, check_eq};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

const SIZE: usize = 4 << 20;

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) | 1)
        .collect()
}

/// A 4 MiB buffer (two 2 MiB folios) holding a pattern, open read-write.
fn buffer() -> Result<(OwnedFd, Vec<u8>), String> {
    create("pin", SIZE, true)?;
    check_eq!(cfs::get("pin", "huge_parts")?, "2");
    let fd = cfs::open_rw("pin")?;
    let data = pattern(SIZE, 9);
    pwrite(&fd, &data, 0).map_err(|e| e.to_string())?;
    Ok((fd, data))
}

/// The two mappings the tests pin: the whole buffer (its parts mapped with 2 MiB entries after a
/// touch), and its second part from one page in (4 KiB entries only).
fn mappings(fd: &OwnedFd) -> Result<(Map, Map), String> {
    let whole = map_shared(fd, SIZE / PAGE, 0).map_err(|e| format!("mmap: {e}"))?;
    let small = map_shared(fd, PART / PAGE - 1, PART / PAGE + 1)
        .map_err(|e| format!("mmap at an offset: {e}"))?;
    // SAFETY: reads inside both live mappings fault their pages in.
    unsafe {
        std::ptr::read_volatile(whole.addr as *const u8);
        std::ptr::read_volatile((whole.addr + PART) as *const u8);
        std::ptr::read_volatile(small.addr as *const u8);
    }
    Ok((whole, small))
}

fn vmsplice_pins_mapped_pages_into_a_pipe() -> TestResult {
    scoped(|| {
        let (fd, data) = buffer()?;
        let (whole, small) = mappings(&fd)?;
        let pmd = file_pmd_mapped_kib()?;
        check!(
            pmd >= 4096,
            "the whole mapping is not PMD-mapped: FilePmdMapped {pmd} kB"
        );
        for (what, m, off) in [
            ("the 2 MiB-mapped part", &whole, 4096),
            ("4 KiB entries", &small, PART + PAGE + 100),
        ] {
            let mut p = [0i32; 2];
            // SAFETY: `p` has room for the two descriptors.
            check!(unsafe { libc::pipe(p.as_mut_ptr()) } == 0, "pipe");
            // SAFETY: `pipe` gave these descriptors; nothing else owns them.
            let (r, w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
            let at = if std::ptr::eq(m, &whole) {
                off
            } else {
                off - PART - PAGE
            };
            let iov = libc::iovec {
                iov_base: (m.addr + at) as *mut libc::c_void,
                iov_len: 16384,
            };
            // SAFETY: the iovec lies inside a live mapping; the pipe is ours.
            let n = unsafe { libc::vmsplice(w.as_raw_fd(), &iov, 1, 0) };
            check!(
                n == 16384,
                "{what}: vmsplice gave {n}: {}",
                std::io::Error::last_os_error()
            );
            let mut got = vec![0u8; 16384];
            check_eq!(read(&r, &mut got).map_err(|e| e.to_string())?, 16384);
            check!(
                got == data[off..off + 16384],
                "{what}: the pipe has other bytes"
            );
        }
        Ok(())
    })
}

fn process_vm_readv_and_writev_reach_another_process_mapping() -> TestResult {
    scoped(|| {
        let (fd, data) = buffer()?;
        let (whole, small) = mappings(&fd)?;
        let (ready_out, ready_in) = pipe().map_err(|e| format!("pipe: {e}"))?;
        // The child keeps the inherited mappings until it is killed.
        let child = spawn(|| {
            let _ = write(&ready_in, b"r");
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        })
        .map_err(|e| format!("fork: {e}"))?;
        let mut b = [0u8; 1];
        let _ = read(&ready_out, &mut b);
        let pid = child.pid();
        let result = (|| -> TestResult {
            for (what, m, off) in [
                ("the 2 MiB-mapped part", &whole, 8192usize),
                ("4 KiB entries", &small, PART + PAGE + 300),
            ] {
                let at = if std::ptr::eq(m, &whole) {
                    off
                } else {
                    off - PART - PAGE
                };
                let mut got = vec![0u8; 8192];
                let local = libc::iovec {
                    iov_base: got.as_mut_ptr().cast(),
                    iov_len: got.len(),
                };
                let remote = libc::iovec {
                    iov_base: (m.addr + at) as *mut libc::c_void,
                    iov_len: got.len(),
                };
                // SAFETY: `local` is our buffer; `remote` is read by the kernel from the child.
                let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
                if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
                    return Err("SKIP: no process_vm_readv in this kernel \
                                (CONFIG_CROSS_MEMORY_ATTACH)"
                        .into());
                }
                check!(
                    n == 8192,
                    "{what}: process_vm_readv gave {n}: {}",
                    std::io::Error::last_os_error()
                );
                check!(got == data[off..off + 8192], "{what}: read other bytes");
                let new = pattern(8192, 77);
                let local = libc::iovec {
                    iov_base: new.as_ptr() as *mut libc::c_void,
                    iov_len: new.len(),
                };
                // SAFETY: as above, the other way round.
                let n = unsafe { libc::process_vm_writev(pid, &local, 1, &remote, 1, 0) };
                check!(n == 8192, "{what}: process_vm_writev gave {n}");
                let mut back = vec![0u8; 8192];
                pread(&fd, &mut back, off as i64).map_err(|e| e.to_string())?;
                check!(
                    back == new,
                    "{what}: the buffer does not have the written bytes"
                );
            }
            Ok(())
        })();
        let _ = child.kill();
        result
    })
}

/// The two mappings' ranges that the io_uring and `O_DIRECT` tests move: the first part whole
/// (one 2 MiB entry) and 64 KiB of 4 KiB entries; each with its offset in the buffer.
fn ranges(whole: &Map, small: &Map) -> [(&'static str, usize, usize, usize); 2] {
    [
        ("the 2 MiB-mapped part", whole.addr, 0, PART),
        ("4 KiB entries", small.addr, PART + PAGE, 64 << 10),
    ]
}

fn io_uring_fixed_buffers_pin_the_mapping_until_unregistered() -> TestResult {
    scoped(|| {
        let mut ring = match Ring::new() {
            Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                return Err("SKIP: no io_uring in this kernel (CONFIG_IO_URING)".into());
            }
            r => r.map_err(|e| format!("io_uring_setup: {e}"))?,
        };
        let (fd, data) = buffer()?;
        let (whole, small) = mappings(&fd)?;
        let ranges = ranges(&whole, &small);
        ring.register(&ranges.map(|(_, addr, _, len)| (addr, len)))
            .map_err(|e| format!("IORING_REGISTER_BUFFERS of the mappings: {e}"))?;
        let file = open(
            "/tmp/pin-uring",
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        )
        .map_err(|e| e.to_string())?;
        // WRITE_FIXED: the file gets the buffer's bytes; READ_FIXED: the buffer gets the file's.
        let new = pattern(SIZE, 41);
        for (i, (what, _, off, len)) in ranges.iter().enumerate() {
            let n = ring.fixed(true, &file, i, 0, *len, *off as u64);
            check_eq!(n.map_err(|e| format!("{what}: WRITE_FIXED: {e}"))?, *len);
            let mut got = vec![0u8; *len];
            pread(&file, &mut got, *off as i64).map_err(|e| e.to_string())?;
            check!(
                got == data[*off..off + len],
                "{what}: the file has other bytes"
            );
            pwrite(&file, &new[*off..off + len], *off as i64).map_err(|e| e.to_string())?;
            let n = ring.fixed(false, &file, i, 0, *len, *off as u64);
            check_eq!(n.map_err(|e| format!("{what}: READ_FIXED: {e}"))?, *len);
            let mut got = vec![0u8; *len];
            pread(&fd, &mut got, *off as i64).map_err(|e| e.to_string())?;
            check!(
                got == new[*off..off + len],
                "{what}: the buffer has other bytes"
            );
        }
        // Unmapped, closed and removed: the registered pages stay pinned, with their bytes,
        // until the ring lets them go.
        drop((whole, small, fd));
        cfs::remove("pin")?;
        let out = open(
            "/tmp/pin-uring-after",
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC,
        )
        .map_err(|e| e.to_string())?;
        for (i, (what, _, off, len)) in ranges.iter().enumerate() {
            let n = ring.fixed(true, &out, i, 0, *len, 0);
            check_eq!(
                n.map_err(|e| format!("{what}: WRITE_FIXED after munmap: {e}"))?,
                *len
            );
            let mut got = vec![0u8; *len];
            pread(&out, &mut got, 0).map_err(|e| e.to_string())?;
            check!(
                got == new[*off..off + len],
                "{what}: the pinned pages lost their bytes after munmap and rmdir"
            );
        }
        ring.unregister().map_err(|e| format!("unregister: {e}"))?;
        let _ = std::fs::remove_file("/tmp/pin-uring");
        let _ = std::fs::remove_file("/tmp/pin-uring-after");
        Ok(())
    })
}

/// The RAM disk of the `O_DIRECT` test (`brd`: built into the test kernel, loaded on Debian's).
const DISK: &str = "/dev/ram0";

fn o_direct_moves_bytes_between_a_disk_and_the_mapping() -> TestResult {
    if !std::path::Path::new(DISK).exists() {
        return Err(format!(
            "SKIP: no {DISK} (CONFIG_BLK_DEV_RAM, brd.ko) for O_DIRECT"
        ));
    }
    scoped(|| {
        let (fd, data) = buffer()?;
        let (whole, small) = mappings(&fd)?;
        let direct = open(DISK, libc::O_RDWR | libc::O_DIRECT)
            .map_err(|e| format!("open {DISK} O_DIRECT: {e}"))?;
        let cached = open(DISK, libc::O_RDWR).map_err(|e| e.to_string())?;
        let new = pattern(SIZE, 83);
        for (what, addr, off, len) in ranges(&whole, &small) {
            // From the mapping to the disk: the disk gets the buffer's bytes.
            let n = pwrite_raw(&direct, addr, len, off as i64);
            check_eq!(n.map_err(|e| format!("{what}: O_DIRECT write: {e}"))?, len);
            let mut got = vec![0u8; len];
            pread(&cached, &mut got, off as i64).map_err(|e| e.to_string())?;
            check!(
                got == data[off..off + len],
                "{what}: the disk has other bytes"
            );
            // From the disk to the mapping: the buffer gets the disk's bytes.
            pwrite(&cached, &new[off..off + len], off as i64).map_err(|e| e.to_string())?;
            check!(fdatasync(&cached).is_ok(), "fdatasync");
            // SAFETY: `addr..addr + len` lies inside a live shared mapping of the buffer.
            let n = unsafe { pread_raw(&direct, addr, len, off as i64) };
            check_eq!(n.map_err(|e| format!("{what}: O_DIRECT read: {e}"))?, len);
            let mut got = vec![0u8; len];
            pread(&fd, &mut got, off as i64).map_err(|e| e.to_string())?;
            check!(
                got == new[off..off + len],
                "{what}: the buffer has other bytes"
            );
        }
        Ok(())
    })
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        vmsplice_pins_mapped_pages_into_a_pipe,
        process_vm_readv_and_writev_reach_another_process_mapping,
        io_uring_fixed_buffers_pin_the_mapping_until_unregistered,
        o_direct_moves_bytes_between_a_disk_and_the_mapping,
    ])
}
