// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask setup`: only the set-up that every other command runs first.

use crate::paths::Paths;
use crate::setup;
use anyhow::Result;
use std::process::ExitCode;

pub fn setup(paths: &Paths) -> Result<ExitCode> {
    setup::setup(paths)?;
    Ok(ExitCode::SUCCESS)
}
