// SPDX-License-Identifier: GPL-2.0

//! Writing the guest's initramfs: an uncompressed `newc` cpio archive, built in memory.
//!
//! The format (`Documentation/driver-api/early-userspace/buffer-format.rst`): per entry a
//! 110-byte ASCII header of `070701` and thirteen 8-digit hex fields, the NUL-terminated name
//! padded to 4 bytes, then the data padded to 4 bytes; the archive ends with `TRAILER!!!`.

use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::path::Path;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;

#[derive(Debug, Clone)]
enum Entry {
    Dir,
    File { data: Vec<u8>, mode: u32 },
    Symlink(String),
}

/// The files of a guest root filesystem, by path (without the leading `/`).
#[derive(Debug, Default)]
pub struct Initramfs {
    entries: BTreeMap<String, Entry>,
}

impl Initramfs {
    pub fn new() -> Self {
        Self::default()
    }

    fn add_parents(&mut self, path: &str) {
        let mut prefix = String::new();
        for part in path
            .split('/')
            .take(path.split('/').count().saturating_sub(1))
        {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            self.entries.entry(prefix.clone()).or_insert(Entry::Dir);
        }
    }

    /// Adds an empty directory (and its parents).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let path = path.trim_matches('/');
        self.add_parents(path);
        self.entries.insert(path.to_string(), Entry::Dir);
        self
    }

    /// Adds a file with the given permission bits.
    pub fn file(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> &mut Self {
        let path = path.trim_matches('/');
        self.add_parents(path);
        self.entries.insert(
            path.to_string(),
            Entry::File {
                data: data.into(),
                mode: mode & 0o7777,
            },
        );
        self
    }

    /// Adds a host file, keeping its permission bits.
    pub fn host_file(&mut self, path: &str, host: &Path) -> Result<&mut Self> {
        use std::os::unix::fs::PermissionsExt;
        let data = std::fs::read(host).with_context(|| format!("reading {}", host.display()))?;
        let mode = std::fs::metadata(host)?.permissions().mode();
        Ok(self.file(path, data, mode))
    }

    /// Adds a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let path = path.trim_matches('/');
        self.add_parents(path);
        self.entries
            .insert(path.to_string(), Entry::Symlink(target.to_string()));
        self
    }

    /// The archive's bytes. Parents sort before their children, as the kernel's unpacker needs.
    pub fn to_cpio(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ino, (path, entry)) in (1u32..).zip(&self.entries) {
            let (mode, data): (u32, &[u8]) = match entry {
                Entry::Dir => (S_IFDIR | 0o755, &[]),
                Entry::File { data, mode } => (S_IFREG | mode, data),
                Entry::Symlink(t) => (S_IFLNK | 0o777, t.as_bytes()),
            };
            let nlink = if matches!(entry, Entry::Dir) { 2 } else { 1 };
            push_entry(&mut out, ino, path, mode, nlink, data);
        }
        push_entry(&mut out, 0, "TRAILER!!!", 0, 1, &[]);
        out
    }
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn push_entry(out: &mut Vec<u8>, ino: u32, name: &str, mode: u32, nlink: u32, data: &[u8]) {
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        0,
        data.len() as u32,
        0,
        0,
        0,
        0,
        name.len() as u32 + 1,
        0,
    ];
    out.extend_from_slice(b"070701");
    for f in fields {
        out.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    pad4(out);
    out.extend_from_slice(data);
    pad4(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_have_aligned_headers_and_parents_first() {
        let mut fs = Initramfs::new();
        fs.file("bin/tool", b"abc".to_vec(), 0o755)
            .symlink("bin/sh", "busybox");
        let cpio = fs.to_cpio();
        assert_eq!(&cpio[..6], b"070701");
        // "bin" (dir), "bin/sh", "bin/tool", trailer, in that order.
        let text = String::from_utf8_lossy(&cpio);
        let pos = |s: &str| text.find(s).unwrap();
        assert!(
            pos("bin\0") < pos("bin/sh\0")
                && pos("bin/sh\0") < pos("bin/tool\0")
                && pos("bin/tool\0") < pos("TRAILER!!!")
        );
        assert_eq!(cpio.len() % 4, 0);
        // The file's header: mode 0100755, size 3, name size 9.
        let hdr = &text[pos("bin/tool") - 104..pos("bin/tool")];
        assert_eq!(&hdr[8..16], "000081ed");
        assert_eq!(&hdr[48..56], "00000003");
        assert_eq!(&hdr[88..96], "00000009");
    }

    #[test]
    fn cpio_tool_reads_it_back() {
        // Cross-check with GNU cpio, which the harness's set-up installs.
        let mut fs = Initramfs::new();
        fs.file("etc/x", b"hello".to_vec(), 0o644)
            .dir("tmp")
            .symlink("l", "etc/x");
        let mut child = std::process::Command::new("cpio")
            .args(["-t", "-v", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("GNU cpio (installed by `cargo xtask setup`)");
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&fs.to_cpio())
            .unwrap();
        let out = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
        assert!(
            out.contains("etc/x") && out.contains("l -> etc/x") && out.contains("tmp"),
            "{out}"
        );
    }
}
