// SPDX-License-Identifier: GPL-2.0

//! The kernel profiles: the configurations the harness builds (`kernel/*.config` on top of
//! tinyconfig), with each one's command line and compiler.

/// A kernel configuration: tinyconfig plus these fragments, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    pub fragments: &'static [&'static str],
    /// Extra kernel command-line arguments for guests of this kernel.
    pub cmdline: &'static str,
    /// `LLVM=` for a clang build (the kernel and its modules), e.g. `-19`; `None` for gcc.
    pub llvm: Option<&'static str>,
    /// Under TCG, run the vCPUs in one host thread. Debian's kernels patch their code with
    /// `text_poke_bp()` while other CPUs run (static keys flipped at boot, e.g. when sched_clock
    /// becomes stable); with one host thread per vCPU, QEMU 7.2's TCG sometimes lets another
    /// vCPU execute the temporary `int3`, and the kernel oopses ("Oops: int3" in
    /// `sched_clock_cpu`, seen once in about ten boots). One thread keeps the guest SMP.
    pub tcg_one_thread: bool,
}

/// The small kernel for `demo`, `vm` and benchmarks.
pub const MINIMAL: Profile = Profile {
    name: "minimal",
    fragments: &["minimal.config"],
    // One RAM disk of 64 MiB (allocated as it is written): the benchmark's O_DIRECT writes.
    // udmabuf takes memfds of up to 64 MiB by default; the benchmark exports up to 1 GiB.
    cmdline: "brd.rd_nr=1 brd.rd_size=65536 udmabuf.size_limit_mb=1024",
    llvm: None,
    tcg_one_thread: false,
};

/// The kernel for `test`: the minimal one plus KUnit and the kernel's debugging aids, built with
/// clang 19 (Rust and KASAN together need a clang-built kernel in 7.3).
pub const TEST: Profile = Profile {
    name: "test",
    fragments: &["minimal.config", "test.config"],
    // rcu_expedited: module unloading waits for RCU grace periods, which take tens of
    // milliseconds each under emulation; expedited ones keep the load/unload cycles affordable.
    // vivid.allocators=1: the virtual camera imports dma-bufs with the dma-contig allocator,
    // which maps the attachment (the dmabuf suite).
    cmdline: "slub_debug=FZPU debug_pagealloc=on page_poison=1 kmemleak=on rcupdate.rcu_expedited=1 \
              vivid.allocators=1",
    llvm: Some("-19"),
    tcg_one_thread: false,
};
#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::kconfig;
    use std::path::Path;

    #[test]
    fn profiles_use_committed_fragments() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        for p in [MINIMAL, TEST] {
            for f in p.fragments {
                let text = std::fs::read_to_string(repo.join("kernel").join(f)).unwrap();
                let settings = kconfig::parse_fragment(&text, f).unwrap();
                assert!(!settings.is_empty(), "{f} has settings");
            }
        }
        assert!(
            TEST.fragments.starts_with(MINIMAL.fragments),
            "the test kernel extends the minimal one"
        );
    }
}
