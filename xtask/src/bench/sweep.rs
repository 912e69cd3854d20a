// SPDX-License-Identifier: GPL-2.0

//! The sweep: which buffer sizes a run measures, which figures it must report at each, and what
//! the host can afford.

use crate::bench::plot::human;
use crate::bench::protocol::{self, CONTENDERS};
use crate::bench::zero_copy as zc;
use anyhow::{Context, Result, bail};

/// The file contenders that the goals compare mydev with: "the best of the four other file
/// contenders".
pub const OTHERS: &[&str] = &["cref", "memfd", "memfd-thp", "memfd-hugetlb"];

/// The sweep's figures (`protocol::SWEEP_METRICS`), measured at every buffer size
/// (microseconds or instructions per operation), with what one operation is.
pub const SWEEP_METRICS: [(&str, &str); 9] = [
    (
        protocol::SWEEP_METRICS[0],
        "mmap + munmap of the whole buffer, untouched",
    ),
    (
        protocol::SWEEP_METRICS[1],
        "mmap, a store to every page, munmap",
    ),
    (
        protocol::SWEEP_METRICS[2],
        "copy of the whole buffer out of a populated mapping",
    ),
    (
        protocol::SWEEP_METRICS[3],
        "a new buffer: create, size, mmap, a store to every page, munmap, remove",
    ),
    (
        protocol::SWEEP_METRICS[4],
        "one read() of 1 MiB (or of the whole buffer)",
    ),
    (
        protocol::SWEEP_METRICS[5],
        "one write() of 1 MiB (or of the whole buffer)",
    ),
    // The zero-copy figures, from 4 MiB on (see `zero_copy.rs`).
    (
        protocol::SWEEP_METRICS[6],
        "export as a dma-buf (udmabuf for a memfd), vgem attach, mmap, a store to every page",
    ),
    (
        protocol::SWEEP_METRICS[7],
        "O_DIRECT write of the whole buffer to a RAM disk from a mapping of it",
    ),
    (
        protocol::SWEEP_METRICS[8],
        "O_DIRECT write of the whole buffer after read() into anonymous memory",
    ),
];

/// Whether `metric` is one of the sweep's.
pub fn is_sweep(metric: &str) -> bool {
    SWEEP_METRICS.iter().any(|(m, _)| *m == metric)
}

/// The sweep of a plain `cargo xtask bench`: 4 KiB to 1 GiB in powers of 4.
pub const DEFAULT_SIZES: [u64; 10] = [
    4 << 10,
    16 << 10,
    64 << 10,
    256 << 10,
    1 << 20,
    4 << 20,
    16 << 20,
    64 << 20,
    256 << 20,
    1 << 30,
];

/// Where the per-call figures are measured when the sweep has this size.
const DETAIL: u64 = 64 << 20;
/// mydev's largest buffer (its `size` parameter's limit).
pub const MAX_SIZE: u64 = 1 << 30;

/// `N`, `NK`, `NM` or `NG` bytes (`--sizes`, `--size`, `--max-size`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| format!("{s:?} is not a size (bytes, or a number with K, M or G)"))
}

/// The buffer sizes of one run, and the one at which the per-call figures are measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Sweep {
    pub sizes: Vec<u64>,
    pub detail: u64,
}

impl Sweep {
    /// `sizes` in ascending order; the detail size is 64 MiB if swept, else the largest swept
    /// size below it, else the smallest.
    pub fn new(mut sizes: Vec<u64>) -> Result<Self> {
        sizes.sort_unstable();
        sizes.dedup();
        if sizes.is_empty() {
            bail!("no buffer size to run");
        }
        for &s in &sizes {
            if s == 0 || s % 4096 != 0 || s > MAX_SIZE {
                bail!(
                    "buffer size {s}: must be a positive multiple of 4096, at most {} (mydev's limit)",
                    human(MAX_SIZE)
                );
            }
        }
        let detail = sizes
            .iter()
            .copied()
            .filter(|&s| s <= DETAIL)
            .max()
            .unwrap_or(sizes[0]);
        Ok(Self { sizes, detail })
    }

    /// The benchmark program's arguments for this sweep.
    pub fn args(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(u64::to_string).collect();
        format!("--sizes {} --detail {}", sizes.join(","), self.detail)
    }

    /// Guest memory for the largest size: five file contenders of that size, the memcpy source
    /// and the warm copies' destination hold seven buffers at once, `create_map_touch` two more
    /// (mydev's new buffer, and the hugetlb pages reserved for the new hugetlb memfd), plus the
    /// memcpy destination (at most 64 MiB) and the RAM disk of the `O_DIRECT` writes (64 MiB),
    /// plus 1 GiB for the kernel, the page tables and the rest.
    pub fn guest_memory_mib(&self) -> u32 {
        let largest = self.sizes.last().copied().unwrap_or(0);
        let mib = |b: u64| b.div_ceil(1 << 20);
        (1024 + 9 * mib(largest) + mib(largest.min(64 << 20)) + 64) as u32
    }

    /// The least guest timeout of a boot: ten minutes and two seconds per MiB of the largest
    /// buffer (a counting boot runs about 20 million guest instructions a second, and the 1 GiB
    /// point alone takes billions).
    pub fn timeout_secs(&self) -> u64 {
        600 + 2 * self.sizes.last().copied().unwrap_or(0).div_ceil(1 << 20)
    }

    /// The figures of `self.expected(skipped)` that `have(contender, metric, param)` denies,
    /// as `contender metric param`.
    pub fn missing(&self, skipped: &[u64], have: impl Fn(&str, &str, u64) -> bool) -> Vec<String> {
        self.expected(skipped)
            .into_iter()
            .filter(|&(c, m, p)| !have(c, m, p))
            .map(|(c, m, p)| format!("{c} {m} {p}"))
            .collect()
    }

    /// Every (contender, metric, param) the benchmark must report, leaving out the sizes in
    /// `skipped`.
    pub fn expected(&self, skipped: &[u64]) -> Vec<(&'static str, &'static str, u64)> {
        let mut e = Vec::new();
        for &size in self.sizes.iter().filter(|s| !skipped.contains(s)) {
            for c in CONTENDERS.iter() {
                for (m, _) in SWEEP_METRICS.iter() {
                    if applies(c, m) && (size >= zc::FROM || !zc::is_zero_copy(m)) {
                        e.push((*c, *m, size));
                    }
                }
                if size != self.detail {
                    continue;
                }
                let mut detail = Vec::new();
                for chunk in protocol::CHUNKS {
                    detail.push(("seq_read", chunk));
                    detail.push(("seq_write", chunk));
                }
                detail.extend([
                    ("pread_latency", 64),
                    ("pread_latency", 4096),
                    ("mmap_munmap_page", 4096),
                ]);
                e.extend(
                    detail
                        .into_iter()
                        .filter(|(m, _)| applies(c, m))
                        .map(|(m, p)| (*c, m, p)),
                );
            }
        }
        e
    }
}

/// Whether the benchmark measures `metric` for `contender`: memcpy has no mapping to make, and
/// hugetlbfs has no `write` (the zero-copy figures also depend on the size: see
/// `zero_copy::applies`).
pub fn applies(contender: &str, metric: &str) -> bool {
    let mapping = metric.starts_with("mmap_");
    let write = metric == "seq_write" || metric == "write_1m";
    let create = metric == "create_map_touch";
    !(mapping && contender == "memcpy"
        || write && contender == "memfd-hugetlb"
        || create && (contender == "memcpy" || contender == "cref")
        || zc::is_zero_copy(metric) && !zc::applies(contender, metric))
}

/// The guest script of a benchmark boot: the benchmark program over `sweep` with `args`.
pub fn script(sweep: &Sweep, args: &str) -> String {
    format!("/opt/mydev/mydev-bench {} {args}\n", sweep.args())
}

/// The host's available memory in MiB (`MemAvailable`).
pub fn host_available_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024)
}

/// The host memory left for everything else while a benchmark guest runs.
const HOST_RESERVE_MIB: u64 = 2048;

/// Drops the largest sizes of `sweep` until its guest fits in `available` MiB of host memory
/// (keeping `HOST_RESERVE_MIB`), and says why for each.
pub fn fit_to_host(sweep: Sweep, available: Option<u64>) -> Result<(Sweep, Vec<(u64, String)>)> {
    let Some(available) = available else {
        return Ok((sweep, Vec::new()));
    };
    let mut sizes = sweep.sizes.clone();
    let mut dropped = Vec::new();
    loop {
        let s = Sweep::new(sizes.clone())?;
        let need = u64::from(s.guest_memory_mib());
        if need + HOST_RESERVE_MIB <= available || sizes.len() == 1 {
            return Ok((s, dropped));
        }
        let largest = sizes.pop().context("no size left")?;
        dropped.push((
            largest,
            format!(
                "the guest would need {need} MiB and the host has {available} MiB available \
                 (keeping {HOST_RESERVE_MIB} MiB)"
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("64m"), Ok(64 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert!(parse_size("").is_err());
        assert!(parse_size("G").is_err());
        assert!(parse_size("1T").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn the_default_sweep_is_powers_of_four_from_4k_to_1g() {
        let s = Sweep::new(DEFAULT_SIZES.to_vec()).unwrap();
        assert_eq!(s.sizes.first(), Some(&4096));
        assert_eq!(s.sizes.last(), Some(&(1 << 30)));
        assert!(s.sizes.windows(2).all(|w| w[1] == 4 * w[0]));
        assert_eq!(s.detail, 64 << 20);
        // Nine buffers of 1 GiB, a 64 MiB one, the 64 MiB disk, and 1 GiB for the rest.
        assert_eq!(s.guest_memory_mib(), 1024 + 9 * 1024 + 64 + 64);
        assert_eq!(
            s.args(),
            format!(
                "--sizes {} --detail 67108864",
                DEFAULT_SIZES.map(|x| x.to_string()).join(",")
            )
        );
    }

    #[test]
    fn the_detail_size_is_64m_or_the_largest_below_it() {
        assert_eq!(
            Sweep::new(vec![1 << 30, 4096, 1 << 20]).unwrap().detail,
            1 << 20
        );
        assert_eq!(Sweep::new(vec![1 << 30]).unwrap().detail, 1 << 30);
        let s = Sweep::new(vec![4 << 20, 4096, 4096]).unwrap();
        assert_eq!(
            (s.sizes.as_slice(), s.detail),
            ([4096, 4 << 20].as_slice(), 4 << 20)
        );
        assert!(Sweep::new(vec![]).is_err());
        assert!(Sweep::new(vec![4097]).is_err());
        assert!(Sweep::new(vec![2 << 30]).is_err());
    }

    #[test]
    fn expected_figures_per_size_and_at_the_detail_size() {
        let s = Sweep::new(vec![4096, 1 << 20]).unwrap();
        let e = s.expected(&[]);
        // memcpy maps nothing (2 metrics); hugetlbfs has no write (1); neither memcpy nor cref
        // makes a new buffer (2).
        let sweep_per_size = 6 * 6 - 2 - 1 - 2;
        // 8 sequential, 2 pread, 1 one-page map; memcpy maps nothing, hugetlbfs writes nothing.
        let detail = 6 * 11 - 1 - 4;
        assert_eq!(e.len(), 2 * sweep_per_size + detail);
        assert!(e.contains(&("memfd-thp", "mmap_touch_all", 4096)));
        assert!(e.contains(&("memfd-hugetlb", "read_1m", 1 << 20)));
        assert!(!e.contains(&("memfd-hugetlb", "write_1m", 1 << 20)));
        assert!(!e.contains(&("memfd-hugetlb", "seq_write", 64)));
        assert!(!e.contains(&("memcpy", "mmap_munmap", 4096)));
        assert!(e.contains(&("memcpy", "warm_copy", 4096)));
        assert!(e.contains(&("mydev", "create_map_touch", 4096)));
        assert!(e.contains(&("memfd-hugetlb", "create_map_touch", 4096)));
        assert!(!e.contains(&("cref", "create_map_touch", 4096)));
        assert!(!e.contains(&("memcpy", "create_map_touch", 4096)));
        // The per-call figures only at the detail size (1M), not at 4K.
        assert!(e.contains(&("mydev", "pread_latency", 64)));
        assert_eq!(e.iter().filter(|x| x.1 == "seq_read").count(), 6 * 4);
        // A skipped size expects nothing.
        assert_eq!(s.expected(&[4096]).len(), sweep_per_size + detail);
    }

    #[test]
    fn the_host_drops_the_largest_sizes_that_do_not_fit() {
        let s = Sweep::new(vec![4096, 256 << 20, 1 << 30]).unwrap();
        let (fit, dropped) = fit_to_host(s.clone(), Some(64 * 1024)).unwrap();
        assert_eq!((fit, dropped.len()), (s.clone(), 0));
        // 256M needs 1024 + 9 * 256 + 64 + 64 = 3456 MiB, 1G 10368 MiB.
        let (fit, dropped) = fit_to_host(s.clone(), Some(6000)).unwrap();
        assert_eq!(fit.sizes, [4096, 256 << 20]);
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0, 1 << 30);
        assert!(dropped[0].1.contains("10368 MiB"), "{}", dropped[0].1);
        // The smallest size always runs.
        let (fit, dropped) = fit_to_host(s.clone(), Some(100)).unwrap();
        assert_eq!((fit.sizes, dropped.len()), (vec![4096], 2));
        assert_eq!(fit_to_host(s.clone(), None).unwrap().0, s);
    }
}
