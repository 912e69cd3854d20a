// SPDX-License-Identifier: GPL-2.0

//! Figures and counts for the benchmark's unit tests.

use crate::bench::count::Count;
use crate::bench::figures::Figure;

/// A figure of `c`'s `m` at `p` (measured at size `p`) with these samples.
pub fn fig(c: &str, m: &str, p: u64, unit: &str, samples: &[f64]) -> Figure {
    Figure {
        contender: c.into(),
        metric: m.into(),
        param: p,
        size: p,
        unit: unit.into(),
        bytes: 0,
        ops: 0,
        samples: samples.to_vec(),
    }
}

/// A count of `contender`'s `metric` at `param` (measured at size `param`): `total` per
/// operation, 10 of them in module code, no spread.
pub fn count(contender: &str, metric: &str, param: u64, total: f64) -> Count {
    Count {
        contender: contender.into(),
        metric: metric.into(),
        param,
        size: param,
        total,
        kernel: total,
        module: 10.0,
        spread: 0.0,
        min: total,
        max: total,
    }
}
