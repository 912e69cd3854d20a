// SPDX-License-Identifier: GPL-2.0

//! Host tests of `packaging/mydev-prepare-kernel` against a fake kernel: headers, a rustc that
//! prints the kernel's version text, a sysroot with rust-src, a source tarball.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

const RUSTC: &str = "rustc 1.85.1 (4eb161250 2025-03-15) (built from a source tarball)";
const RELEASE: &str = "7.3.4+deb13-amd64";

struct Fake {
    dir: PathBuf,
}

impl Drop for Fake {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

impl Fake {
    /// Headers of 7.3.4, rust-src of `rust_src`, a source tarball of 7.3.`source_sublevel`.
    fn new(name: &str, rust_src: &str, source_sublevel: u32) -> Fake {
        let dir = std::env::temp_dir().join(format!("mydev-helper-{name}-{}", std::process::id()));
        std::fs::remove_dir_all(&dir).ok();
        let d = |p: &str| dir.join(p);
        write(
            &d("headers/.config"),
            &format!("CONFIG_RUST=y\nCONFIG_RUSTC_VERSION_TEXT=\"{RUSTC}\"\n"),
        );
        write(&d("headers/Module.symvers"), "");
        write(
            &d("headers/Makefile"),
            &format!("include {}/Makefile\n", d("common").display()),
        );
        write(
            &d("common/Makefile"),
            "VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = 4\n",
        );
        write(
            &d(&format!(
                "sysroot/src/rustc-{rust_src}/library/core/src/lib.rs"
            )),
            "",
        );
        std::fs::create_dir_all(d("sysroot/lib/rustlib/src")).unwrap();
        std::os::unix::fs::symlink(
            format!("../../../src/rustc-{rust_src}"),
            d("sysroot/lib/rustlib/src/rust"),
        )
        .unwrap();
        write(
            &d("rustc"),
            &format!(
                "#!/bin/sh\ncase \"$1\" in --version) echo '{RUSTC}' ;; *) echo '{}' ;; esac\n",
                d("sysroot").display()
            ),
        );
        std::fs::set_permissions(d("rustc"), std::fs::Permissions::from_mode(0o755)).unwrap();
        write(
            &d("src/linux/Makefile"),
            &format!("VERSION = 7\nPATCHLEVEL = 3\nSUBLEVEL = {source_sublevel}\n"),
        );
        let tar = Command::new("tar")
            .arg("-C")
            .arg(d("src"))
            .arg("-cJf")
            .arg(d("linux.tar.xz"))
            .arg("linux")
            .status()
            .unwrap();
        assert!(tar.success());
        std::fs::create_dir_all(d("trees")).unwrap();
        Fake { dir }
    }

    fn tree(&self) -> PathBuf {
        self.dir.join("trees").join(RELEASE)
    }

    /// Runs the helper: success, stderr.
    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let helper =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/mydev-prepare-kernel");
        let mut cmd = Command::new("sh");
        cmd.arg(helper)
            .args(args)
            .arg(RELEASE)
            .arg(self.tree())
            .env("MYDEV_HEADERS", self.dir.join("headers"))
            .env("MYDEV_SOURCE", self.dir.join("linux.tar.xz"))
            .env("MYDEV_LOCK_DIR", &self.dir)
            .env("RUSTC", self.dir.join("rustc"));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// A finished tree, stamped by recipe 2 (which recorded the source too) for `rustc`.
    fn finished_tree(&self, rustc: &str) {
        let sums = Command::new("sh")
            .arg("-c")
            .arg("echo \"$(cksum <headers/.config) $(cksum <headers/Module.symvers)\"")
            .current_dir(&self.dir)
            .output()
            .unwrap();
        let headers = String::from_utf8_lossy(&sums.stdout);
        write(&self.tree().join("build/rust/libkernel.rmeta"), "rmeta");
        write(
            &self.tree().join(".mydev-prepared"),
            &format!(
                "release={RELEASE}\nrustc={rustc}\nheaders={}\nsource=1 2\nrecipe=2\n",
                headers.trim()
            ),
        );
    }

    /// The entries of the trees' directory.
    fn trees(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.dir.join("trees"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A finished tree does not depend on the source: a newer (or missing) linux-source leaves it
/// ready, and nothing is rebuilt.
#[test]
fn a_finished_tree_survives_a_new_linux_source() {
    let f = Fake::new("finished", "1.85.1", 9);
    f.finished_tree(RUSTC);
    let (ok, out) = f.run(&[], &[]);
    assert!(ok, "{out}");
    assert!(out.contains("is ready"), "{out}");
    let (ok, out) = f.run(&["--check"], &[("MYDEV_SOURCE", "/nonexistent.tar.xz")]);
    assert!(ok, "{out}");
    assert_eq!(f.trees(), [RELEASE]);
}

/// A tree that must be rebuilt (another rustc's) stays as it is when the new build turns out
/// impossible (the source is 7.3.5, the headers 7.3.4), and nothing else is left.
#[test]
fn an_impossible_rebuild_deletes_nothing_and_leaves_nothing() {
    let f = Fake::new("mismatch", "1.85.1", 5);
    f.finished_tree("rustc 1.84.0 (an older one)");
    let (ok, out) = f.run(&[], &[("MYDEV_NEED_MB", "1")]);
    assert!(!ok, "{out}");
    assert!(out.contains("is 7.3.5, the headers"), "{out}");
    assert_eq!(f.trees(), [RELEASE]);
    assert!(f.tree().join("build/rust/libkernel.rmeta").is_file());
}

/// Too little free space stops a preparation before it writes anything, saying how much.
#[test]
fn too_little_space_stops_before_anything_is_written() {
    let f = Fake::new("space", "1.85.1", 4);
    for mode in [&["--check"][..], &[]] {
        let (ok, out) = f.run(mode, &[("MYDEV_NEED_MB", "999999999")]);
        assert!(!ok, "{out}");
        assert!(out.contains("needs about 999999999 MB free"), "{out}");
        assert!(f.trees().is_empty(), "{:?}", f.trees());
    }
}

/// rust-src of another version than rustc is named before anything starts.
#[test]
fn rust_src_of_another_version_is_named() {
    let f = Fake::new("rustsrc", "1.84.0", 4);
    let (ok, out) = f.run(&["--check"], &[]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("rust-src is 1.84.0 but rustc is 1.85.1"),
        "{out}"
    );
}
