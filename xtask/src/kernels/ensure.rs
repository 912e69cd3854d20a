// SPDX-License-Identifier: GPL-2.0

//! From a kernel choice to what a guest of it needs besides the tools: the kernel (built, or
//! Debian's prepared), `mmap.ko` built against it and, when asked for, the benchmarks' `cref.ko`.

use crate::kernels::build;
use crate::kernels::choice::KernelChoice;
use crate::kernels::kernel::Kernel;
use crate::kernels::module;
use crate::kernels::stock;
use crate::paths::Paths;
use crate::setup::KernelSource;
use anyhow::{Context, Result};
use std::path::PathBuf;

/// A kernel and the modules built against it.
#[derive(Debug, Clone)]
pub struct Built {
    pub kernel: Kernel,
    /// `mmap.ko`.
    pub module: PathBuf,
    /// `cref.ko`, if asked for.
    pub cref: Option<PathBuf>,
}

impl Built {
    /// `cref.ko`, which `ensure` was asked to build.
    pub fn cref(&self) -> Result<&PathBuf> {
        self.cref
            .as_ref()
            .context("cref.ko was not built for this kernel")
    }
}

/// The kernel `choice` names: ours, built unless cached, or Debian's, prepared.
pub fn kernel(paths: &Paths, source: &KernelSource, choice: KernelChoice) -> Result<Kernel> {
    match (choice.distro(), choice.profile()) {
        (Some(d), _) => stock::ensure(paths, d),
        (None, Some(p)) => build::ensure(paths, source, p),
        (None, None) => unreachable!("a kernel choice names a profile or a distribution"),
    }
}

/// The kernel `choice` names with `mmap.ko` and (with `cref`) `cref.ko` built against it.
pub fn ensure(
    paths: &Paths,
    source: &KernelSource,
    choice: KernelChoice,
    cref: bool,
) -> Result<Built> {
    let kernel = kernel(paths, source, choice)?;
    modules(paths, kernel, cref)
}

/// `kernel` with `mmap.ko` and (with `cref`) `cref.ko` built against it.
pub fn modules(paths: &Paths, kernel: Kernel, cref: bool) -> Result<Built> {
    let module = module::build_module(paths, &kernel)?;
    let cref = if cref {
        Some(module::build_cref(paths, &kernel)?)
    } else {
        None
    };
    Ok(Built {
        kernel,
        module,
        cref,
    })
}
