// SPDX-License-Identifier: GPL-2.0

//! Reading a guest run's outcome: the status the guest reported, and what the kernel log says.

/// Markers of kernel trouble in the console log. Any of them fails a run.
pub const KERNEL_TROUBLE: &[&str] = &[
    "BUG:",
    "WARNING:",
    "Oops",
    "Call Trace:",
    "Kernel panic",
    "general protection fault",
    "UBSAN:",
    "KASAN:",
    "suspected memory leak",
    "rust_panic",
    "possible circular locking dependency",
    // The fault path's complaint about a fault handler that returned `VM_FAULT_OOM` when memory
    // was not short: the kernel retries the fault, so nothing else shows it.
    "Huh VM_FAULT_OOM",
];

/// The kernel-log lines with which the `faults` suite brackets its injected failures. A failed
/// `vmalloc` dumps its stack (`warn_alloc`), so inside the brackets a `Call Trace:` alone is not
/// trouble; every other marker still is.
pub const FAULT_WINDOW: (&str, &str) =
    ("mydev-fault-injection: begin", "mydev-fault-injection: end");

/// The console lines (timestamps kept) that show kernel trouble, with a few lines of context
/// after the first one.
pub fn kernel_trouble(console: &str) -> Vec<String> {
    let lines: Vec<&str> = console.lines().collect();
    let mut out = Vec::new();
    let mut context_until = 0usize;
    let mut injecting = false;
    for (i, line) in lines.iter().enumerate() {
        // A KTAP diagnostic or the guest's own echo of a marker is not a kernel report.
        let text = crate::report::ktap::strip_timestamp(line.trim_end_matches('\r'));
        if text.ends_with(FAULT_WINDOW.0) {
            injecting = true;
        } else if text.ends_with(FAULT_WINDOW.1) {
            injecting = false;
        }
        let hit = KERNEL_TROUBLE
            .iter()
            .filter(|m| !(injecting && **m == "Call Trace:"))
            .any(|m| text.starts_with(m) || text.contains(&format!(" {m}")));
        if hit || i < context_until {
            out.push(line.trim_end_matches('\r').to_string());
        }
        if hit && context_until <= i {
            context_until = i + 12;
        }
    }
    out
}

/// The exit status that the guest reported on its control channel, if any.
///
/// The channel carries one line, `mydev-status N`; anything else (nothing at all, when the guest
/// crashed or was killed) is `None`.
pub fn reported_status(control: &str) -> Option<i32> {
    control
        .lines()
        .filter_map(|l| l.trim().strip_prefix("mydev-status "))
        .next_back()
        .and_then(|n| n.trim().parse().ok())
}

/// The exit status of a guest command for the host: the guest's own `status`, made a failure
/// (1) when the run had problems (`trouble`) or reported no status, except for an interactive
/// session quit without one.
pub fn exit_status(status: Option<i32>, trouble: bool, interactive: bool) -> u8 {
    match status {
        Some(0) | None if trouble => 1,
        Some(s) => s.clamp(0, 255) as u8,
        None if interactive => 0,
        None => 1,
    }
}

/// The text between the first `begin` marker line of a guest's output and the `end` after it,
/// trimmed; `None` when either is missing.
pub fn between<'a>(output: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = output.find(begin)? + begin.len();
    let stop = start + output[start..].find(end)?;
    Some(output[start..stop].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_trouble_or_no_status_fails_a_command_that_exited_0() {
        assert_eq!(exit_status(Some(0), false, false), 0);
        assert_eq!(exit_status(Some(0), true, false), 1);
        assert_eq!(exit_status(Some(3), true, false), 3);
        assert_eq!(exit_status(Some(3), false, false), 3);
        assert_eq!(exit_status(None, false, false), 1);
        assert_eq!(exit_status(None, false, true), 0);
        assert_eq!(exit_status(None, true, true), 1);
        assert_eq!(exit_status(Some(300), false, false), 255);
    }

    #[test]
    fn a_fault_handler_returning_oom_is_trouble() {
        let log = "[    5.1] Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF\n";
        assert_eq!(kernel_trouble(log).len(), 1);
    }

    #[test]
    fn inside_the_fault_window_only_a_bare_call_trace_is_accepted() {
        let dump = "[    2.0] insmod: vmalloc error: size 16777216, failed to allocate pages\n\
                    [    2.0] Call Trace:\n[    2.0]  dump_stack_lvl+0x1\n";
        let window = format!(
            "[    1.0] {}\n{dump}[    3.0] {}\n",
            FAULT_WINDOW.0, FAULT_WINDOW.1
        );
        assert!(
            kernel_trouble(&window).is_empty(),
            "{:?}",
            kernel_trouble(&window)
        );
        // The same dump outside the window, and a real report inside it, are trouble.
        assert!(!kernel_trouble(dump).is_empty());
        let after = format!("{window}{dump}");
        assert!(!kernel_trouble(&after).is_empty(), "the window closed");
        let kasan = format!(
            "[    1.0] {}\n[    2.0] BUG: KASAN: use-after-free\n",
            FAULT_WINDOW.0
        );
        assert!(!kernel_trouble(&kasan).is_empty());
    }

    #[test]
    fn a_clean_boot_has_no_trouble() {
        let log =
            "[    0.1] Linux version 7.3.4\n[    0.7] mmap: created /dev/mydev, size 4096 bytes\n";
        assert!(kernel_trouble(log).is_empty());
    }

    #[test]
    fn warnings_oopses_and_panics_are_found() {
        for marker in [
            "WARNING: CPU: 0 PID: 1 at mm/memory.c:1 x",
            "BUG: KASAN: slab-out-of-bounds",
            "Oops: 0000 [#1] SMP",
            "Kernel panic - not syncing: Attempted to kill init!",
            "Call Trace:",
        ] {
            let log = format!("[    0.1] ok\n[    1.5] {marker}\n[    1.6]  dump_stack+0x1\n");
            let found = kernel_trouble(&log);
            assert!(
                found.iter().any(|l| l.contains(marker)),
                "{marker}: {found:?}"
            );
            assert!(
                found.iter().any(|l| l.contains("dump_stack")),
                "context kept"
            );
        }
    }

    #[test]
    fn words_inside_other_words_do_not_count() {
        assert!(kernel_trouble("[ 1.0] NOWARNING:x\n[ 1.1] DEBUG: fine\n").is_empty());
    }

    #[test]
    fn status_comes_from_the_control_line_only() {
        assert_eq!(reported_status("mydev-status 0\n"), Some(0));
        assert_eq!(reported_status("\r\nmydev-status 3\r\n"), Some(3));
        assert_eq!(reported_status(""), None);
        assert_eq!(reported_status("garbage"), None);
    }
}
