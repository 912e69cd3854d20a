// SPDX-License-Identifier: GPL-2.0

//! What one guest run is: the kernel, the module, the tools, the job and the machine, with the
//! defaults most runs share.

use crate::guest::opts::{DEFAULT_CPUS, DEFAULT_MEMORY_MIB, GuestOpts};
use crate::guest::qemu::Accel;
use crate::kernels::kernel::Kernel;
use crate::tools::Tools;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the guest does once the module is loaded.
#[derive(Debug, Clone)]
pub enum Job {
    /// Runs this shell script in `/work`, output on the output channel.
    Script(String),
    /// A login shell on the console.
    Interactive,
    /// `/init` exits, which panics the kernel (a harness self-test).
    Crash,
}

/// Everything one guest run needs.
#[derive(Debug, Clone)]
pub struct GuestSpec<'a> {
    /// Names the run directory (`target/mydev/runs/<label>`).
    pub label: &'a str,
    pub kernel: &'a Kernel,
    pub module: &'a Path,
    pub tools: &'a Tools,
    /// `insmod` parameters, `NAME=VALUE`.
    pub params: &'a [String],
    /// Host files copied into `/work`, by file name.
    pub files: &'a [PathBuf],
    /// Other kernel modules, copied into `/lib/modules` (the benchmarks' `cref.ko`).
    pub extra_modules: &'a [PathBuf],
    pub job: Job,
    pub timeout: Option<Duration>,
    pub accel: Accel,
    pub memory_mib: u32,
    pub cpus: u32,
    /// Copy the output channel to stdout as it arrives.
    pub stream: bool,
    /// More QEMU arguments (the benchmark's instruction counting), shown in the boot line.
    pub qemu_extra: &'a [String],
    /// Under TCG, run the vCPUs in one host thread, for a guest whose tests do not need vCPUs
    /// that truly run at the same time (the fuzzer, the harness's self-tests). With a thread per
    /// vCPU, guests beside each other on two host cores spend about a fifth of their CPU time
    /// waiting on each other's vCPUs (a warm `cargo xtask test` used 9m02s of CPU with every
    /// guest threaded, 7m21s with every guest in one thread). Kernels whose profile asks for one
    /// thread get it regardless.
    pub one_thread: bool,
}

impl<'a> GuestSpec<'a> {
    /// A run of `job` on `kernel` with `module` and `tools`, and the defaults: no module
    /// parameters, files or other modules, no timeout, TCG, 1 GiB, two vCPUs (a thread each),
    /// output to the run's log only. Callers set what differs with `..GuestSpec::new(...)`.
    pub fn new(
        label: &'a str,
        kernel: &'a Kernel,
        module: &'a Path,
        tools: &'a Tools,
        job: Job,
    ) -> Self {
        GuestSpec {
            label,
            kernel,
            module,
            tools,
            params: &[],
            files: &[],
            extra_modules: &[],
            job,
            timeout: None,
            accel: Accel::Tcg,
            memory_mib: DEFAULT_MEMORY_MIB,
            cpus: DEFAULT_CPUS,
            stream: false,
            qemu_extra: &[],
            one_thread: false,
        }
    }

    /// The same with the command line's module parameters, accelerator, memory and vCPUs.
    pub fn with_opts(self, opts: &'a GuestOpts) -> Self {
        GuestSpec {
            params: &opts.params,
            accel: opts.accel,
            memory_mib: opts.memory,
            cpus: opts.cpus,
            ..self
        }
    }
}
