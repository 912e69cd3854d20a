// SPDX-License-Identifier: GPL-2.0

//! The table that `mydevctl list` prints.

use crate::cli::format_size;
use mydev::buffers::BufferInfo;

/// One line per buffer under a header, in aligned columns: name, size, huge setting, huge parts
/// of parts (`-` while not live), node, live.
pub fn table(list: &[BufferInfo]) -> String {
    let mut rows = vec![[
        "NAME".to_string(),
        "SIZE".into(),
        "HUGE".into(),
        "HUGE PARTS".into(),
        "NODE".into(),
        "LIVE".into(),
    ]];
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_string();
    for b in list {
        rows.push([
            b.name.clone(),
            format_size(b.size),
            yes_no(b.huge),
            if b.live {
                format!("{} of {}", b.huge_parts, b.parts)
            } else {
                "-".into()
            },
            b.node().display().to_string(),
            yes_no(b.live),
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_and_a_dormant_buffer_has_no_parts() {
        let cam = BufferInfo {
            name: "cam".into(),
            size: 4 << 20,
            huge: true,
            live: true,
            parts: 2,
            huge_parts: 2,
        };
        let spare = BufferInfo {
            name: "spare-buffer".into(),
            size: 8192,
            huge: false,
            live: false,
            parts: 0,
            huge_parts: 0,
        };
        assert_eq!(
            table(&[cam, spare]),
            "\
NAME          SIZE  HUGE  HUGE PARTS  NODE                     LIVE
cam           4M    yes   2 of 2      /dev/mydev-cam           yes
spare-buffer  8K    no    -           /dev/mydev-spare-buffer  no
"
        );
        assert_eq!(table(&[]).lines().count(), 1);
    }
}
