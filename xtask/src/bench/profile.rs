// SPDX-License-Identifier: GPL-2.0

//! Where the kernel's instructions go: per-function counts from the counting plugin's profile.
//!
//! With `profile=PATH`, the plugin writes, for every stop marker, the instructions each kernel
//! translation block executed since the start marker (see `bench/plugin/mydev_icount.c`). This
//! module maps block addresses to functions with the kernel's `System.map` and the modules'
//! lines of `/proc/kallsyms`, and compares two contenders function by function.

use anyhow::{Context, Result, bail};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Text symbols, sorted by address.
#[derive(Debug, Default)]
pub struct Symbols {
    by_addr: Vec<(u64, String)>,
}

impl Symbols {
    /// Adds the text symbols of `System.map` or `/proc/kallsyms` lines
    /// (`ADDRESS TYPE NAME [MODULE]`); other lines are skipped. Rust names are demangled.
    pub fn add(&mut self, text: &str) {
        for line in text.lines() {
            let mut w = line.split_whitespace();
            let (Some(addr), Some(kind), Some(name)) = (w.next(), w.next(), w.next()) else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if !matches!(kind, "t" | "T" | "w" | "W") || addr == 0 {
                continue;
            }
            let name = format!("{:#}", rustc_demangle::demangle(name));
            let name = match w.next() {
                Some(module) => format!("{name} {module}"),
                None => name,
            };
            self.by_addr.push((addr, name));
        }
        self.by_addr.sort();
    }

    /// The function that contains `addr`: the nearest symbol at or below it.
    pub fn lookup(&self, addr: u64) -> &str {
        match self.by_addr.partition_point(|(a, _)| *a <= addr) {
            0 => "?",
            i => &self.by_addr[i - 1].1,
        }
    }
}

/// The plugin's profile: per stop number, (block address, instructions) pairs.
pub fn parse_blocks(text: &str) -> Result<BTreeMap<u64, Vec<(u64, u64)>>> {
    let mut m: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        let [seq, addr, insns] = w[..] else {
            bail!("bad profile line: {line:?}");
        };
        let seq: u64 = seq.parse().with_context(|| format!("in {line:?}"))?;
        if addr == "overflow" {
            bail!("the plugin's profile table overflowed at stop {seq}");
        }
        let addr = addr
            .strip_prefix("0x")
            .and_then(|a| u64::from_str_radix(a, 16).ok())
            .with_context(|| format!("bad address in {line:?}"))?;
        let insns: u64 = insns.parse().with_context(|| format!("in {line:?}"))?;
        m.entry(seq).or_default().push((addr, insns));
    }
    Ok(m)
}

/// Instructions per operation by function, for the blocks of one stop.
pub fn by_function(blocks: &[(u64, u64)], symbols: &Symbols, ops: u64) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = BTreeMap::new();
    for &(addr, insns) in blocks {
        *m.entry(symbols.lookup(addr).to_string()).or_default() += insns as f64 / ops as f64;
    }
    m
}

/// Two contenders' kernel instructions per operation side by side, the functions where they
/// differ most first; `rows` functions at most, then the totals.
pub fn compare(
    names: [&str; 2],
    a: &BTreeMap<String, f64>,
    b: &BTreeMap<String, f64>,
    rows: usize,
) -> String {
    let mut all: Vec<(&String, f64, f64)> = a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|f| {
            (
                f,
                a.get(f).copied().unwrap_or(0.0),
                b.get(f).copied().unwrap_or(0.0),
            )
        })
        .collect();
    all.sort_by(|x, y| {
        (y.1 - y.2)
            .abs()
            .total_cmp(&(x.1 - x.2).abs())
            .then(x.0.cmp(y.0))
    });
    let mut s = format!("{:>9} {:>9} {:>9}  function\n", names[0], names[1], "diff");
    for (f, x, y) in all.iter().take(rows) {
        let _ = writeln!(s, "{x:>9.1} {y:>9.1} {:>+9.1}  {f}", x - y);
    }
    let (ta, tb): (f64, f64) = (a.values().sum(), b.values().sum());
    let _ = writeln!(
        s,
        "{ta:>9.1} {tb:>9.1} {:>+9.1}  (all kernel functions)",
        ta - tb
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_from_system_map_and_kallsyms() {
        let mut s = Symbols::default();
        s.add(
            "ffffffff81000000 T _stext\nffffffff81000100 t helper\nffffffff81002000 D some_data\n",
        );
        s.add("ffffffffa0000000 t _RNvCs1234_4mmap4read [mmap]\n0000000000000000 t hidden [cref]\nnot a line\n");
        assert_eq!(s.lookup(0xffffffff81000050), "_stext");
        assert_eq!(s.lookup(0xffffffff81000100), "helper");
        // Data symbols are not functions: the text symbol before them still covers the address.
        assert_eq!(s.lookup(0xffffffff81002010), "helper");
        assert_eq!(s.lookup(0xffffffffa0000004), "mmap::read [mmap]");
        assert_eq!(s.lookup(0x1000), "?");
    }

    #[test]
    fn blocks_by_stop_and_function() {
        let m = parse_blocks(
            "0 0xffffffff81000000 10\n0 0xffffffff81000010 6\n1 0xffffffff81000100 4\n",
        )
        .unwrap();
        assert_eq!(m[&0], [(0xffffffff81000000, 10), (0xffffffff81000010, 6)]);
        let mut s = Symbols::default();
        s.add("ffffffff81000000 T a\nffffffff81000100 T b\n");
        let f = by_function(&m[&0], &s, 2);
        assert_eq!(f["a"], 8.0);
        assert!(parse_blocks("0 overflow 3\n").is_err());
        assert!(parse_blocks("0 12 3\n").is_err());
        assert!(parse_blocks("x\n").is_err());
    }

    #[test]
    fn comparison_puts_the_largest_difference_first() {
        let a = BTreeMap::from([("f".to_string(), 10.0), ("g".to_string(), 50.0)]);
        let b = BTreeMap::from([("f".to_string(), 9.0), ("h".to_string(), 5.0)]);
        let t = compare(["mydev", "cref"], &a, &b, 10);
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].ends_with("  g") && lines[1].contains("+50.0"),
            "{t}"
        );
        assert!(
            lines[2].ends_with("  h") && lines[2].contains("-5.0"),
            "{t}"
        );
        assert!(lines[4].contains("+46.0"), "{t}");
    }
}
