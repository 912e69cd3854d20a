// SPDX-License-Identifier: GPL-2.0

//! A temporary directory that imitates the module's configfs subsystem, for host tests.

use mydev::buffers::Buffers;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fake `mydev` subsystem directory at `root`, removed on drop.
#[derive(Debug)]
pub struct Tree {
    pub base: PathBuf,
    pub root: PathBuf,
}

impl Tree {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "mydevctl-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let root = base.join("mydev");
        std::fs::create_dir_all(&root).unwrap();
        Self { base, root }
    }

    /// A buffer directory with the attributes configfs would show (`parts`: the whole 2 MiB
    /// parts, all huge when `huge`).
    pub fn buffer(&self, name: &str, size: u64, huge: bool, live: bool) {
        let dir = self.root.join(name);
        std::fs::create_dir(&dir).unwrap();
        let parts = if live { size / (2 << 20) } else { 0 };
        let huge_parts = if live && huge { size / (2 << 20) } else { 0 };
        for (attr, v) in [
            ("size", size),
            ("huge", u64::from(huge)),
            ("live", u64::from(live)),
            ("parts", parts),
            ("huge_parts", huge_parts),
        ] {
            std::fs::write(dir.join(attr), format!("{v}\n")).unwrap();
        }
    }

    pub fn buffers(&self) -> Buffers {
        Buffers::at(&self.root)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
