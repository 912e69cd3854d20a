// SPDX-License-Identifier: GPL-2.0

//! The parse phase: TAP/KTAP documents (`ktap.rs`) and the counts of a run (`tally.rs`).

pub mod ktap;
pub mod tally;
