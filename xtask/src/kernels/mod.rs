// SPDX-License-Identifier: GPL-2.0

//! The kernels guests boot, and the modules built against them: the harness's build phase.
//!
//! - `choice.rs`: `--kernel`, and which kernels each command accepts;
//! - `ensure.rs`: from a choice to a kernel with `mmap.ko` (and `cref.ko`) built against it;
//! - `profile.rs`, `kconfig.rs`, `build.rs`: our own kernels, tinyconfig plus fragments, cached;
//! - `stock.rs`, `stock_modules.rs`, `chroot.rs`: Debian's kernels, their modules, and the
//!   chroots their modules are built in;
//! - `kernel.rs`: what a kernel is, whichever it is; `module.rs`: out-of-tree module builds.

pub mod build;
pub mod choice;
pub mod chroot;
pub mod ensure;
pub mod kconfig;
pub mod kernel;
pub mod module;
pub mod profile;
pub mod stock;
pub mod stock_modules;
