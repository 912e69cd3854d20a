// SPDX-License-Identifier: GPL-2.0

//! The commands, a file each, each with its own options and the kernels it accepts
//! (`kernels/choice.rs`): `main.rs` parses the command line and calls one of them.

pub mod bench;
pub mod build;
pub mod demo;
pub mod lint;
pub mod package;
pub mod selftest;
pub mod setup;
pub mod test;
pub mod vm;
