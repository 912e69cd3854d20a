// SPDX-License-Identifier: GPL-2.0

//! The kernel's fault injection, for the suites that fail allocations and user copies on
//! purpose: `/proc/thread-self/fail-nth` makes the Nth fault-injection point of the calling
//! thread fail (an allocation through failslab or fail_page_alloc, a user copy through
//! fail_usercopy). Needs `CONFIG_FAULT_INJECTION`, `FAILSLAB`, `FAIL_PAGE_ALLOC`,
//! `FAULT_INJECTION_USERCOPY` and `FAULT_INJECTION_DEBUG_FS` (the test kernel has them; Debian's
//! kernels do not).
//!
//! The kernel log of a failed `vmalloc` holds a stack dump (`warn_alloc`); [`Setup`] brackets
//! the injections with `mydev-fault-injection: begin`/`end` lines in the log, inside which the
//! harness accepts a `Call Trace:` but still fails on `BUG:`, `WARNING:`, `KASAN:` and the rest.

use std::io::Write;
use std::os::unix::fs::FileExt;

/// The file that arms the calling thread's next failure.
pub const FAIL_NTH: &str = "/proc/thread-self/fail-nth";

/// Debugfs knobs of the injection capabilities: every `GFP_KERNEL` allocation may fail (not only
/// atomic ones), order-0 pages too, and no stack dump per injected failure.
const KNOBS: &[(&str, &str)] = &[
    ("failslab/ignore-gfp-wait", "N"),
    ("failslab/verbose", "0"),
    ("fail_page_alloc/ignore-gfp-wait", "N"),
    ("fail_page_alloc/ignore-gfp-highmem", "N"),
    ("fail_page_alloc/min-order", "0"),
    ("fail_page_alloc/verbose", "0"),
    ("fail_usercopy/verbose", "0"),
];

const KUNIT_FILTER: &str = "/sys/module/kunit/parameters/filter_glob";

/// Whether this kernel has `fail-nth` at all.
pub fn available() -> bool {
    std::path::Path::new(FAIL_NTH).exists()
}

/// A line in the kernel log, through `/dev/kmsg`.
pub fn klog(line: &str) {
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/kmsg") {
        let _ = writeln!(f, "{line}");
    }
}

/// Sets the debugfs knobs of the capabilities (see `KNOBS`); they stay set until the guest
/// shuts down. Nothing else: no kernel-log markers.
pub fn set_knobs() -> Result<(), String> {
    if !std::path::Path::new("/sys/kernel/debug/failslab").exists() {
        let (st, _, err) = crate::sys::sh("mount -t debugfs debugfs /sys/kernel/debug");
        if st != 0 {
            return Err(format!("mounting debugfs: {err}"));
        }
    }
    for (knob, value) in KNOBS {
        let path = format!("/sys/kernel/debug/{knob}");
        std::fs::write(&path, value).map_err(|e| {
                format!("{path}: {e} (FAILSLAB, FAIL_PAGE_ALLOC, FAULT_INJECTION_USERCOPY, FAULT_INJECTION_DEBUG_FS?)")
            })?;
    }
    Ok(())
}

/// Sets up the injection knobs (and, for suites that load the module, KUnit's filter); undone
/// by its `Drop`.
#[derive(Debug)]
pub struct Setup {
    kunit_filter: Option<String>,
}

impl Setup {
    /// Sets the knobs and writes the `begin` line. With `quiet_kunit`, the module's KUnit suites,
    /// which run inside `insmod` in the same task and would take injected failures, are filtered
    /// out until the setup is dropped.
    pub fn new(quiet_kunit: bool) -> Result<Self, String> {
        if !available() {
            return Err(format!(
                "no {FAIL_NTH}: the kernel lacks CONFIG_FAULT_INJECTION"
            ));
        }
        set_knobs()?;
        let kunit_filter = if quiet_kunit {
            std::fs::read_to_string(KUNIT_FILTER).ok()
        } else {
            None
        };
        if kunit_filter.is_some() {
            std::fs::write(KUNIT_FILTER, "mydev-faults-none")
                .map_err(|e| format!("{KUNIT_FILTER}: {e}"))?;
        }
        klog("mydev-fault-injection: begin");
        Ok(Self { kunit_filter })
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        klog("mydev-fault-injection: end");
        if let Some(f) = &self.kunit_filter {
            let _ = std::fs::write(KUNIT_FILTER, f.trim());
        }
    }
}

/// `fail-nth` of this thread: armed with N, it makes the Nth fault-injection point fail; read
/// back, 0 means a failure was injected.
#[derive(Debug)]
pub struct FailNth(std::fs::File);

impl FailNth {
    pub fn open() -> Result<Self, String> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(FAIL_NTH)
            .map(Self)
            .map_err(|e| format!("{FAIL_NTH}: {e}"))
    }

    /// Arms the Nth failure point of this thread from now.
    // The file has no `llseek`: `pwrite`/`pread` at 0 on the one file descriptor, as syzkaller
    // does (opening it again would itself allocate, and could take the armed failure).
    pub fn arm(&mut self, n: usize) -> Result<(), String> {
        self.0
            .write_at(n.to_string().as_bytes(), 0)
            .map(drop)
            .map_err(|e| format!("arming fail-nth: {e}"))
    }

    /// Whether the armed failure was injected; disarms.
    ///
    /// Reading and writing the file copy to and from user space, which are failure points
    /// themselves while it is armed: a read that fails with `EFAULT` took the last count (so the
    /// call under test did not), and so may the write that disarms.
    pub fn injected(&mut self) -> Result<bool, String> {
        let mut b = [0u8; 32];
        let injected = match self.0.read_at(&mut b, 0) {
            Ok(n) => {
                let s = String::from_utf8_lossy(&b[..n]);
                let left: u64 = s.trim().parse().map_err(|_| format!("fail-nth: {s:?}"))?;
                left == 0
            }
            Err(e) if e.raw_os_error() == Some(libc::EFAULT) => false,
            Err(e) => return Err(format!("reading fail-nth: {e}")),
        };
        if !injected {
            match self.0.write_at(b"0", 0) {
                Err(e) if e.raw_os_error() != Some(libc::EFAULT) => {
                    return Err(format!("disarming fail-nth: {e}"));
                }
                _ => {}
            }
            let n = self
                .0
                .read_at(&mut b, 0)
                .map_err(|e| format!("reading fail-nth: {e}"))?;
            if String::from_utf8_lossy(&b[..n]).trim() != "0" {
                return Err("fail-nth still armed after disarming".to_string());
            }
        }
        Ok(injected)
    }
}
