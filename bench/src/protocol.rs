// SPDX-License-Identifier: GPL-2.0

//! The benchmark's guest/host protocol, the single definition: the guest program
//! (`mydev-bench`) prints these lines and this record, and `cargo xtask bench` (which compiles
//! this file as `bench::protocol`) reads them back.
//!
//! - timing mode: the figures as one JSON document between [`JSON_BEGIN`] and [`JSON_END`],
//!   one [`Figure`] record each;
//! - both modes: a [`huge_line`] per touched mapping and a [`skipped_line`] per size that
//!   could not be set up;
//! - counting mode: a [`count_line`] after each stop marker, and the modules' symbols per size
//!   between [`KALLSYMS_BEGIN`] and [`KALLSYMS_END`].

/// The lines around the timing mode's JSON document.
pub const JSON_BEGIN: &str = "# mydev-bench-json-begin";
pub const JSON_END: &str = "# mydev-bench-json-end";
/// The prefix of a [`huge_line`].
pub const HUGE_LINE: &str = "# mydev-bench-huge ";
/// The prefix of a [`skipped_line`].
pub const SKIPPED_LINE: &str = "# mydev-bench-skipped ";
/// The prefix of a [`count_line`].
pub const COUNT_LINE: &str = "# mydev-bench-count ";
/// The lines around the modules' `/proc/kallsyms` lines of one size (the begin line ends with
/// the size).
pub const KALLSYMS_BEGIN: &str = "# mydev-kallsyms-begin ";
pub const KALLSYMS_END: &str = "# mydev-kallsyms-end";

/// The contenders, in table order.
pub const CONTENDERS: [&str; 6] = [
    "mydev",
    "cref",
    "memfd",
    "memfd-thp",
    "memfd-hugetlb",
    "memcpy",
];

/// The sweep's metrics, measured at every buffer size (the last three, the zero-copy ones, from
/// [`ZERO_COPY_FROM`]), in table order.
pub const SWEEP_METRICS: [&str; 9] = [
    "mmap_munmap",
    "mmap_touch_all",
    "warm_copy",
    "create_map_touch",
    "read_1m",
    "write_1m",
    "dmabuf_map_touch",
    "dio_write_map",
    "dio_write_copy",
];

/// The smallest buffer size the zero-copy metrics (the last three of [`SWEEP_METRICS`]) are
/// measured at.
pub const ZERO_COPY_FROM: u64 = 4 << 20;

/// The chunk sizes of the per-call sequential reads and writes, measured at the detail size.
pub const CHUNKS: [u64; 4] = [64, 4096, 65536, 1 << 20];

/// One measured figure: every sample of a contender's metric at a parameter, in `unit`.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    pub contender: String,
    pub metric: String,
    pub param: u64,
    /// The buffer size it was measured at.
    pub size: u64,
    /// `us/op`, `ns/op` or `MB/s`.
    pub unit: String,
    /// Bytes and operations of one sample.
    pub bytes: u64,
    pub ops: u64,
    pub samples: Vec<f64>,
}

impl Figure {
    /// The record in the JSON document.
    pub fn json(&self) -> String {
        let samples: Vec<String> = self.samples.iter().map(|v| format!("{v:.3}")).collect();
        format!(
            "{{\"contender\":\"{}\",\"metric\":\"{}\",\"param\":{},\"size\":{},\"unit\":\"{}\",\"bytes\":{},\"ops\":{},\"samples\":[{}]}}",
            self.contender,
            self.metric,
            self.param,
            self.size,
            self.unit,
            self.bytes,
            self.ops,
            samples.join(",")
        )
    }
}

/// `# mydev-bench-count N ROUND SIZE CONTENDER METRIC PARAM OPS`: the `n`th stop of the run.
pub fn count_line(
    n: u64,
    round: usize,
    size: u64,
    contender: &str,
    metric: &str,
    param: u64,
    ops: u64,
) -> String {
    format!("{COUNT_LINE}{n} {round} {size} {contender} {metric} {param} {ops}")
}

/// `# mydev-bench-huge SIZE CONTENDER WHICH TOUCHED HUGE PAGE FIELDS`: how much of a touched
/// mapping (`touch` or `warm`) was mapped huge, in kB, the page size in kB, and the non-zero
/// smaps fields (`-` for none).
pub fn huge_line(size: u64, contender: &str, which: &str, kb: [u64; 3], fields: &str) -> String {
    let [touched, huge, page] = kb;
    format!("{HUGE_LINE}{size} {contender} {which} {touched} {huge} {page} {fields}")
}

/// `# mydev-bench-skipped SIZE REASON`.
pub fn skipped_line(size: u64, why: &str) -> String {
    format!("{SKIPPED_LINE}{size} {why}")
}
