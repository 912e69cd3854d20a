// SPDX-License-Identifier: GPL-2.0

//! Boots of the minimal kernel beside the main test run: the harness's own tests and module
//! scenarios that need a guest of another size (`cases.rs`), and running them (`run.rs`).

pub mod cases;
pub mod run;
