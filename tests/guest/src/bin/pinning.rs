// SPDX-License-Identifier: GPL-2.0

//! Paths that pin a mapping's pages (`get_user_pages`) instead of copying through the page
//! tables: `vmsplice` from a mapping into a pipe, and `process_vm_readv`/`process_vm_writev` on
//! another process's mapping, for a part mapped with a 2 MiB entry and for 4 KiB entries.

use guest_tests::cfs::{self, create, scoped};
use guest_tests::sys::*;
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
        let mut ready = [0i32; 2];
        // SAFETY: `ready` has room for the two descriptors.
        check!(unsafe { libc::pipe(ready.as_mut_ptr()) } == 0, "pipe");
        // SAFETY: this test's process is single-threaded; the child only sleeps and exits.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // The child keeps the inherited mappings until it is killed.
            // SAFETY: plain calls in the child.
            unsafe {
                libc::write(ready[1], b"r".as_ptr().cast(), 1);
                libc::pause();
                libc::_exit(0);
            }
        }
        let mut b = [0u8; 1];
        // SAFETY: reading one byte from our own pipe.
        unsafe { libc::read(ready[0], b.as_mut_ptr().cast(), 1) };
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
                let n = unsafe { libc::process_vm_readv(child, &local, 1, &remote, 1, 0) };
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
                let n = unsafe { libc::process_vm_writev(child, &local, 1, &remote, 1, 0) };
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
        // SAFETY: ending and reaping the child forked above.
        unsafe {
            libc::kill(child, libc::SIGKILL);
            libc::waitpid(child, std::ptr::null_mut(), 0);
            libc::close(ready[0]);
            libc::close(ready[1]);
        }
        result
    })
}

fn main() -> ExitCode {
    guest_tests::main(guest_tests::tests![
        vmsplice_pins_mapped_pages_into_a_pipe,
        process_vm_readv_and_writev_reach_another_process_mapping,
    ])
}
