// SPDX-License-Identifier: GPL-2.0

//! One count of the counting boot (`counts.rs` makes them; the tables and goals read them).

/// Guest instructions per operation of one measurement, from the counting boot.
#[derive(Debug, Clone, PartialEq)]
pub struct Count {
    pub contender: String,
    pub metric: String,
    pub param: u64,
    /// The buffer size it was measured at.
    pub size: u64,
    /// Every instruction the guest executed (user and kernel), per operation: the median over
    /// the rounds after the first.
    pub total: f64,
    /// Instructions at kernel addresses, per operation (median).
    pub kernel: f64,
    /// Instructions in module code (the contender's own driver), per operation (median).
    pub module: f64,
    /// (max - min) / median of `total` over those rounds, in percent: the guest's background
    /// work (timer ticks, deferred frees) lands in some rounds and not others.
    pub spread: f64,
    /// The smallest and largest `total` of those rounds.
    pub min: f64,
    pub max: f64,
}
