// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask bench`'s pieces: mydev against the C reference module, three memfds (4 KiB pages,
//! transparent huge pages, hugetlb) and memcpy, at buffer sizes from 4 KiB to 1 GiB, in one boot
//! of the minimal kernel, then the same in a second boot that counts guest instructions (the
//! command itself is `cmd/bench.rs`).
//!
//! - `protocol.rs`: the lines and the record the guest program prints, shared with it
//!   (`bench/src/protocol.rs`);
//! - `sweep.rs`: the sizes and the figures expected at each; `figures.rs`: the timing boot's
//!   results; `counts.rs` (and `count.rs`, one count): the counting boot's, with `plugin.rs`
//!   (the QEMU plugin) and `profile.rs` (instructions by function);
//! - `tables.rs`, `goals.rs`, `zero_copy.rs`: the tables and the goals; `charts.rs` (with
//!   `plot.rs`): the SVG plots; `report.rs`: what the command prints and writes.

pub mod charts;
pub mod count;
pub mod counts;
pub mod figures;
#[cfg(test)]
pub mod fixtures;
pub mod goals;
pub mod plot;
pub mod plugin;
pub mod profile;
// The guest program prints with the functions that this side only parses the output of.
#[allow(dead_code)]
#[path = "../../../bench/src/protocol.rs"]
pub mod protocol;
pub mod report;
pub mod sweep;
pub mod tables;
pub mod zero_copy;
