// SPDX-License-Identifier: GPL-2.0

//! The modules of a Debian kernel that the guests load before `mmap.ko`: `configfs.ko` (from
//! `linux-binary-<release>`, beside the image) for the configfs buffers, and the drivers that the
//! dmabuf and pinning suites use as peers (from `linux-modules-<release>`): `brd` (RAM disks for
//! `O_DIRECT`), `vgem` (a DRM importer) and `vivid` (a V4L2 importer that maps), each after the
//! modules it depends on, as `modprobe` would order them.

use crate::kernels::chroot::Chroot;
use crate::ui::run_logged;
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A module the guest loads before `mmap.ko`, uncompressed, with its `insmod` arguments.
#[derive(Debug, Clone)]
pub struct Preload {
    pub ko: PathBuf,
    pub args: String,
}

/// The modules to load by name, with their arguments, in order; each one's dependencies come
/// first. `vivid.allocators=1`: the dma-contig allocator, which maps an imported dma-buf's
/// attachment (the default, vmalloc, only vmaps it). `brd`: one 4 MiB RAM disk, as on the test
/// kernel (its defaults there).
const WANTED: &[(&str, &str)] = &[
    ("configfs", ""),
    ("brd", "rd_nr=1 rd_size=4096"),
    ("vgem", ""),
    ("vivid", "allocators=1"),
];

/// The directory under the chroot where the image's and the modules' packages are unpacked.
pub fn image_dir(chroot: &Chroot) -> PathBuf {
    chroot.root.join("var/cache/mydev-image")
}

/// The modules of [`WANTED`] and their dependencies for `release`, unpacked from
/// `linux-modules-<release>` (downloaded once in the chroot) and decompressed for busybox's
/// `insmod`.
pub fn preload(chroot: &Chroot, release: &str, log: &Path) -> Result<Vec<Preload>> {
    let dir = image_dir(chroot);
    let tree = dir.join(format!("root/usr/lib/modules/{release}"));
    ensure_unpacked(chroot, &format!("linux-modules-{release}"), &tree, log)?;
    let index = index(&tree)?;
    let plain = dir.join("preload");
    std::fs::create_dir_all(&plain)?;
    let mut order: Vec<String> = Vec::new();
    for (name, _) in WANTED {
        add_with_deps(&index, &plain, &norm(name), &mut order, 0)?;
    }
    Ok(order
        .into_iter()
        .map(|name| Preload {
            ko: plain.join(format!("{name}.ko")),
            args: WANTED
                .iter()
                .find(|(n, _)| norm(n) == name)
                .map_or("", |(_, a)| a)
                .to_string(),
        })
        .collect())
}

/// A module's name as the kernel knows it: `-` and `_` are the same.
fn norm(name: &str) -> String {
    name.replace('-', "_")
}

/// Unpacks `package` over the image's root unless `tree` already holds its modules (the stamp
/// `.mydev-<package>`).
fn ensure_unpacked(chroot: &Chroot, package: &str, tree: &Path, log: &Path) -> Result<()> {
    let stamp = tree.join(format!(".mydev-{package}"));
    if stamp.is_file() {
        return Ok(());
    }
    unpack_package(chroot, package, log)?;
    std::fs::write(&stamp, "")?;
    Ok(())
}

/// Downloads `package` in the chroot and unpacks it (not installs it) into the image's root,
/// [`image_dir`]`/root`; the `.deb` is not kept.
pub fn unpack_package(chroot: &Chroot, package: &str, log: &Path) -> Result<()> {
    let dir = image_dir(chroot);
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs)?;
    let mut download = chroot.command(&[
        "sh",
        "-c",
        "cd /var/cache/mydev-image/debs && apt-get -q download \"$0\"",
        package,
    ]);
    run_logged(
        &format!("apt-get download {package}"),
        &mut download,
        log,
        Duration::from_secs(60),
    )?;
    let deb = std::fs::read_dir(&debs)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{package}_")) && n.ends_with(".deb"))
        })
        .with_context(|| format!("apt-get download {package} left no .deb"))?;
    run_logged(
        &format!("dpkg-deb -x {package}"),
        Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(dir.join("root")),
        log,
        Duration::from_secs(60),
    )?;
    std::fs::remove_file(&deb)?;
    Ok(())
}

/// Every module file under `tree`, by normalised name.
fn index(tree: &Path) -> Result<HashMap<String, PathBuf>> {
    let mut out = HashMap::new();
    let mut dirs = vec![tree.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let p = e?.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Some(name) = p
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split_once(".ko"))
                .map(|(stem, _)| norm(stem))
            {
                out.insert(name, p);
            }
        }
    }
    Ok(out)
}

/// Appends `name` to `order` after its dependencies (read from its `.modinfo`), unpacking each
/// into `plain`.
fn add_with_deps(
    index: &HashMap<String, PathBuf>,
    plain: &Path,
    name: &str,
    order: &mut Vec<String>,
    depth: usize,
) -> Result<()> {
    if order.iter().any(|n| n == name) {
        return Ok(());
    }
    if depth > 16 {
        bail!("module dependencies of {name} are too deep (a cycle?)");
    }
    let packed = index
        .get(name)
        .with_context(|| format!("module {name} is not in the image's modules"))?;
    let ko = plain.join(format!("{name}.ko"));
    if !ko.is_file() {
        unpack_module(packed, &ko)?;
    }
    for dep in depends(&std::fs::read(&ko)?) {
        add_with_deps(index, plain, &norm(&dep), order, depth + 1)?;
    }
    order.push(name.to_string());
    Ok(())
}

/// The `depends=` entry of a module's `.modinfo` section.
fn depends(ko: &[u8]) -> Vec<String> {
    const KEY: &[u8] = b"\0depends=";
    let Some(at) = ko.windows(KEY.len()).position(|w| w == KEY) else {
        return Vec::new();
    };
    let rest = &ko[at + KEY.len()..];
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    String::from_utf8_lossy(&rest[..end])
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Copies `m` to `ko`, decompressed (busybox's insmod takes a plain `.ko`).
pub fn unpack_module(m: &Path, ko: &Path) -> Result<()> {
    let tool = match m.extension().and_then(|e| e.to_str()) {
        Some("xz") => "xz",
        Some("zst") => "zstd",
        Some("gz") => "gzip",
        _ => {
            std::fs::copy(m, ko)?;
            return Ok(());
        }
    };
    let out = Command::new(tool).args(["-d", "-c"]).arg(m).output()?;
    if !out.status.success() {
        bail!(
            "{tool} -d {}: {}",
            m.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(ko, out.stdout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_reads_the_modinfo_entry() {
        let ko = b"\x7fELF...\0license=GPL\0depends=videodev,videobuf2-common,mc\0name=vivid\0";
        assert_eq!(depends(ko), ["videodev", "videobuf2-common", "mc"]);
        assert!(depends(b"\0depends=\0name=brd\0").is_empty());
        assert!(depends(b"\0name=brd\0").is_empty());
    }

    #[test]
    fn dependencies_load_first_and_once() {
        let dir = std::env::temp_dir().join(format!("mydev-preload-{}", std::process::id()));
        let plain = dir.join("plain");
        std::fs::create_dir_all(&plain).unwrap();
        let mut index = HashMap::new();
        for (name, deps) in [("a", "b,c-d"), ("b", "c-d"), ("c_d", ""), ("e", "c_d")] {
            let p = dir.join(format!("{name}.ko"));
            std::fs::write(&p, format!("\0depends={deps}\0")).unwrap();
            index.insert(name.to_string(), p);
        }
        let mut order = Vec::new();
        for name in ["a", "e"] {
            add_with_deps(&index, &plain, name, &mut order, 0).unwrap();
        }
        assert_eq!(order, ["c_d", "b", "a", "e"]);
        let missing = add_with_deps(&index, &plain, "zz", &mut order, 0);
        assert!(missing.is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
