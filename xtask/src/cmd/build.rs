// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask build`: every kernel (ours built, Debian's prepared) with `mmap.ko` built
//! against it, and the tools, without booting anything.

use crate::kernels::choice;
use crate::kernels::ensure;
use crate::paths::Paths;
use crate::{setup, tools};
use anyhow::Result;
use std::process::ExitCode;

pub fn build(paths: &Paths) -> Result<ExitCode> {
    let source = setup::setup(paths)?;
    for k in choice::ALL {
        ensure::ensure(paths, &source, k, false)?;
    }
    tools::build(paths)?;
    Ok(ExitCode::SUCCESS)
}
