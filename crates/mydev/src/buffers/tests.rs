// SPDX-License-Identifier: MIT OR Apache-2.0

//! Host tests of the buffers API against plain directories that imitate configfs.

use super::error::is_configfs_mount;
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A temporary directory holding a fake `mydev` subsystem at `root`, removed on drop.
struct Tree {
    base: PathBuf,
    root: PathBuf,
}

impl Tree {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let base = std::env::temp_dir().join(format!(
            "mydev-buffers-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let root = base.join("mydev");
        std::fs::create_dir_all(&root).unwrap();
        Self { base, root }
    }

    /// A buffer directory with the attributes configfs would show.
    fn buffer(&self, name: &str, size: u64, huge: bool, live: bool, parts: u64, hp: u64) {
        let dir = self.root.join(name);
        std::fs::create_dir(&dir).unwrap();
        for (attr, v) in [
            ("size", size),
            ("huge", u64::from(huge)),
            ("live", u64::from(live)),
            ("parts", parts),
            ("huge_parts", hp),
        ] {
            std::fs::write(dir.join(attr), format!("{v}\n")).unwrap();
        }
    }

    fn buffers(&self) -> Buffers {
        Buffers::at(&self.root)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

#[test]
fn names_at_and_past_the_limits() {
    let longest = "a".repeat(MAX_NAME_LEN);
    for good in ["a", "cam0", "A.b-c_9", "-dash", "_", longest.as_str()] {
        assert_eq!(check_name(good), Ok(()), "{good:?}");
    }
    let too_long = "a".repeat(MAX_NAME_LEN + 1);
    let bad = [
        ("", "empty"),
        (too_long.as_str(), "the limit is 32"),
        (".hidden", "start with '.'"),
        (".", "start with '.'"),
        ("a/b", "'/'"),
        ("a b", "' '"),
        ("caf\u{e9}", "'\u{e9}'"),
        ("x\n", "'\\n'"),
    ];
    for (name, why) in bad {
        let e = check_name(name).unwrap_err();
        assert!(e.contains(why), "{name:?}: {e}");
    }
}

#[test]
fn list_reads_every_buffer_sorted_and_skips_files() {
    let t = Tree::new();
    t.buffer("zeta", 4096, false, false, 0, 0);
    t.buffer("cam", 4 << 20, true, true, 2, 2);
    std::fs::write(t.root.join("not-a-buffer"), "").unwrap();
    let list = t.buffers().list().unwrap();
    assert_eq!(
        list,
        [
            BufferInfo {
                name: "cam".into(),
                size: 4 << 20,
                huge: true,
                live: true,
                parts: 2,
                huge_parts: 2,
            },
            BufferInfo {
                name: "zeta".into(),
                size: 4096,
                huge: false,
                live: false,
                parts: 0,
                huge_parts: 0,
            },
        ]
    );
    assert_eq!(list[0].node(), Path::new("/dev/mydev-cam"));
    assert_eq!(t.buffers().get("nope").unwrap(), None);
}

#[test]
fn a_missing_subsystem_without_configfs_says_how_to_mount_it() {
    let t = Tree::new();
    let b = Buffers::at(t.base.join("elsewhere/mydev"));
    let e = b.list().unwrap_err();
    assert_eq!(e.cause(), Cause::ConfigfsNotMounted);
    let text = e.to_string();
    assert!(text.contains("mount -t configfs none"), "{text}");
    assert!(text.contains("modprobe mmap"), "{text}");
    assert_eq!(
        b.create("cam", 4096, true).unwrap_err().cause(),
        Cause::ConfigfsNotMounted
    );
}

#[test]
fn configfs_mounts_are_found_in_proc_mounts() {
    let mounts = "sysfs /sys sysfs rw 0 0\nconfigfs /sys/kernel/config configfs rw 0 0\n";
    assert!(is_configfs_mount(mounts, Path::new("/sys/kernel/config")));
    assert!(!is_configfs_mount(mounts, Path::new("/sys")));
    assert!(!is_configfs_mount(
        "none /cfg tmpfs rw 0 0\n",
        Path::new("/cfg")
    ));
    assert!(!is_configfs_mount("", Path::new("/sys/kernel/config")));
}

#[test]
fn create_of_an_existing_name_fails_and_keeps_it() {
    let t = Tree::new();
    t.buffer("cam", 8192, true, true, 1, 0);
    let e = t.buffers().create("cam", 4096, false).unwrap_err();
    assert_eq!(e.cause(), Cause::Exists);
    let cam = t.buffers().get("cam").unwrap().unwrap();
    assert_eq!((cam.size, cam.live), (8192, true));
}

#[test]
fn a_create_that_fails_after_mkdir_leaves_no_directory() {
    // A plain directory shows no `parts` after `live` = 1, so the final read fails.
    let t = Tree::new();
    let e = t.buffers().create("cam", 4096, true).unwrap_err();
    assert_eq!(e.cause(), Cause::NotFound, "{e}");
    assert!(e.path().ends_with("cam/parts"), "{e}");
    assert!(e.cleanup_failure().is_none(), "{e}");
    assert!(!t.root.join("cam").exists());
}

#[test]
fn invalid_names_are_refused_before_anything_is_touched() {
    let t = Tree::new();
    for name in ["../escape", ".x", ""] {
        let e = t.buffers().create(name, 4096, true).unwrap_err();
        assert_eq!(e.cause(), Cause::InvalidName, "{name:?}");
        assert_eq!(
            t.buffers().remove(name).unwrap_err().cause(),
            Cause::InvalidName
        );
    }
    assert!(!t.base.join("escape").exists());
    assert_eq!(std::fs::read_dir(&t.root).unwrap().count(), 0);
}

#[test]
fn remove_deletes_the_directory_and_a_missing_one_is_not_found() {
    let t = Tree::new();
    t.buffer("cam", 4096, true, true, 1, 0);
    t.buffer("other", 4096, true, true, 1, 0);
    t.buffers().remove("cam").unwrap();
    assert!(!t.root.join("cam").exists());
    assert!(t.root.join("other").is_dir());
    let e = t.buffers().remove("cam").unwrap_err();
    assert_eq!(e.cause(), Cause::NotFound);
    assert!(e.to_string().starts_with("removing "), "{e}");
}

#[test]
fn an_unreadable_attribute_names_its_file() {
    let t = Tree::new();
    t.buffer("cam", 4096, true, true, 1, 0);
    std::fs::write(t.root.join("cam/size"), "lots\n").unwrap();
    let e = t.buffers().list().unwrap_err();
    assert_eq!(e.cause(), Cause::Other);
    assert!(
        e.to_string().contains("cam/size") && e.to_string().contains("\"lots\""),
        "{e}"
    );
}

#[test]
fn activate_writes_size_and_huge_then_live() {
    let t = Tree::new();
    t.buffer("cam", 4096, true, false, 0, 0);
    let info = t.buffers().activate("cam", 8192, false).unwrap();
    assert_eq!((info.size, info.huge, info.live), (8192, false, true));
    let e = t.buffers().activate("cam", 4096, true).unwrap_err();
    assert_eq!(e.cause(), Cause::Busy);
}

#[test]
fn open_buffer_refuses_a_bad_name_as_an_open_error() {
    let e = Device::open_buffer("../mydev").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Open);
    assert_eq!(e.path(), Path::new("/dev/mydev-../mydev"));
    assert_eq!(
        e.io_error().map(io::Error::kind),
        Some(io::ErrorKind::InvalidInput)
    );
}

#[test]
fn errno_maps_to_a_cause_with_advice() {
    let dir = Path::new("/sys/kernel/config/mydev/cam");
    let err = |action, path: &Path, errno: rustix::io::Errno| {
        Error::new(action, path, io::Error::from(errno))
    };
    use rustix::io::Errno;
    let e = err("creating", dir, Errno::NOSPC);
    assert_eq!(e.cause(), Cause::TooMany);
    assert!(e.to_string().contains("at most 256 buffers"), "{e}");
    assert_eq!(
        err("creating", dir, Errno::INVAL).cause(),
        Cause::InvalidName
    );
    let e = err("writing", &dir.join("size"), Errno::INVAL);
    assert_eq!(e.cause(), Cause::InvalidSize);
    assert!(e.to_string().contains("multiple of the page size"), "{e}");
    assert_eq!(
        err("writing", &dir.join("huge"), Errno::INVAL).cause(),
        Cause::Other
    );
    assert_eq!(
        err("writing", &dir.join("live"), Errno::NOMEM).cause(),
        Cause::OutOfMemory
    );
    assert_eq!(
        err("writing", &dir.join("size"), Errno::BUSY).cause(),
        Cause::Busy
    );
    let e = err("creating", dir, Errno::ACCESS);
    assert_eq!(e.cause(), Cause::PermissionDenied);
    assert!(e.to_string().contains("run as root"), "{e}");
    assert_eq!(
        err("creating", dir, Errno::PERM).cause(),
        Cause::PermissionDenied
    );
}
