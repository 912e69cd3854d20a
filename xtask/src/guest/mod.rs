// SPDX-License-Identifier: GPL-2.0

//! The exec phase: booting a kernel under QEMU with the module loaded and running a job.
//!
//! - `spec.rs`: what a run is (`GuestSpec::new` and its defaults), `opts.rs`: the options every
//!   booting command takes;
//! - `initramfs.rs` (with `cpio.rs`): the guest's root file system and `/init`;
//! - `qemu.rs`: the QEMU command line and process; `run.rs`: one run, end to end;
//! - `verdict.rs`: kernel trouble in a console log and the exit status it gives;
//! - `demo.rs`: the walkthrough job.

pub mod cpio;
pub mod demo;
pub mod initramfs;
pub mod opts;
pub mod qemu;
pub mod run;
pub mod spec;
pub mod verdict;
