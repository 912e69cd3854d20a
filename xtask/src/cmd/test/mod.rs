// SPDX-License-Identifier: GPL-2.0

//! `cargo xtask test`: `opts.rs` (its options and the long tests' sizes), `run.rs` (the run:
//! kernels, host tests, the guests from a queue (`queue.rs`) beside the installation checks,
//! packages and self-tests, and the closing count), `suites.rs` and `env.rs` (the in-guest
//! suites, their guest job and options, and their counting), `host.rs` (the host unit tests).

pub mod env;
pub mod host;
pub mod opts;
pub mod queue;
pub mod run;
pub mod suites;
