// SPDX-License-Identifier: GPL-2.0

//! The one line `user_test` prints for a device error, with advice where there is something to
//! do: load the module, join the group. No advice for a path that is simply wrong.

use mydev::ErrorKind;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

/// What is known of the device node when an error happened, gathered by [`Node::inspect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The path is the module's own node (`/dev/mydev`), not one the user typed differently.
    pub is_default_path: bool,
    /// The path names a misc character device (major 10), as `/dev/mydev` is: a permission hint
    /// about mydev's group would be wrong for any other node (`/dev/mem`, a regular file).
    pub is_misc_device: bool,
    /// The name of its group, if it exists and the group is known.
    pub group: Option<String>,
}

impl Node {
    /// Looks at `path` (without following anything more than `open` would).
    pub fn inspect(path: &Path) -> Self {
        let meta = std::fs::metadata(path).ok();
        Self {
            is_default_path: path == Path::new(mydev::DEFAULT_PATH),
            is_misc_device: meta
                .as_ref()
                .is_some_and(|m| m.file_type().is_char_device() && major(m.rdev()) == MISC_MAJOR),
            group: meta.and_then(|m| group_name(m.gid())),
        }
    }
}

/// The major number of misc devices (`MISC_MAJOR` in `include/uapi/linux/major.h`).
const MISC_MAJOR: u64 = 10;

/// The major number of a device number, as glibc's and musl's `major()` compute it.
fn major(rdev: u64) -> u64 {
    ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)
}

/// The name of group `gid` from `/etc/group`.
fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?;
        (id.parse() == Ok(gid)).then(|| name.to_string())
    })
}

/// The advice for an error of `kind` caused by `cause` on `node`, if any.
pub fn hint(kind: ErrorKind, cause: Option<&io::Error>, node: &Node) -> Option<&'static str> {
    match (kind, cause.map(io::Error::kind)) {
        (ErrorKind::Open, Some(io::ErrorKind::NotFound)) if node.is_default_path => {
            Some("is the module loaded? Load it with: sudo modprobe mmap")
        }
        (ErrorKind::Open, Some(io::ErrorKind::PermissionDenied)) if node.is_misc_device => {
            if node.group.as_deref() == Some("mydev") {
                Some(
                    "the group mydev may use the device: sudo usermod -aG mydev $USER, \
                     then log in again",
                )
            } else {
                Some(
                    "run as root, or install the package mydev-dkms, whose udev rule gives \
                     the group mydev access, and join that group",
                )
            }
        }
        (ErrorKind::Ioctl, _) if cause.and_then(io::Error::raw_os_error) == Some(25) => {
            Some("it does not answer mydev's ioctls: is it a mydev device node?")
        }
        _ => None,
    }
}

/// The error line, without the program's name: the message, the system's error, the advice.
pub fn describe(e: &mydev::Error, node: &Node) -> String {
    let mut line = e.to_string();
    if let Some(cause) = e.io_error() {
        line.push_str(&format!(": {cause}"));
    }
    if let Some(h) = hint(e.kind(), e.io_error(), node) {
        line.push_str(&format!("; {h}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use mydev::Device;

    fn open_error(path: &str) -> mydev::Error {
        Device::open(path).unwrap_err()
    }

    fn node(default: bool, misc: bool, group: Option<&str>) -> Node {
        Node {
            is_default_path: default,
            is_misc_device: misc,
            group: group.map(str::to_string),
        }
    }

    #[test]
    fn a_missing_module_node_suggests_modprobe_but_a_typo_gets_no_hint() {
        let e = open_error("/nonexistent/mydev");
        let missing_module = describe(&e, &node(true, false, None));
        assert!(missing_module.ends_with(
            "No such file or directory (os error 2); is the module loaded? Load it with: \
             sudo modprobe mmap"
        ));
        let typo = describe(&e, &node(false, false, None));
        assert_eq!(
            typo,
            "cannot open /nonexistent/mydev for reading and writing: No such file or directory \
             (os error 2)"
        );
    }

    #[test]
    fn permission_hints_name_the_group_only_for_a_device_node() {
        let denied = io::Error::from_raw_os_error(13);
        let hint = |n: &Node| hint(ErrorKind::Open, Some(&denied), n);
        assert_eq!(
            hint(&node(true, true, Some("mydev"))),
            Some(
                "the group mydev may use the device: sudo usermod -aG mydev $USER, then log in \
                 again"
            )
        );
        assert!(hint(&node(false, true, Some("root"))).is_some_and(|h| h.contains("mydev-dkms")));
        assert_eq!(hint(&node(false, false, Some("root"))), None);
    }

    #[test]
    fn inspect_sees_the_default_path_and_misc_devices() {
        // /dev/null is a character device, but of major 1 (mem), not a misc device.
        let null = Node::inspect(Path::new("/dev/null"));
        assert!(!null.is_misc_device && !null.is_default_path);
        assert!(!Node::inspect(Path::new("/")).is_misc_device);
        assert!(Node::inspect(Path::new(mydev::DEFAULT_PATH)).is_default_path);
        // Device numbers as the kernel encodes them (`new_encode_dev`): 10:229, 1:3, 259:1.
        assert_eq!(major(0x0ae5), 10);
        assert_eq!(major(0x0103), 1);
        assert_eq!(major(0x1_0301), 259 & 0xfff);
    }
}
