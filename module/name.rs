// SPDX-License-Identifier: GPL-2.0

//! The names of device nodes: `mydev`, and `mydev-NAME` for the configfs buffer `NAME`. Pure, and
//! KUnit-tested.

use kernel::prelude::*;

/// The longest name of a buffer made through configfs, in bytes.
pub(crate) const NAME_MAX: usize = 32;

/// What every configfs buffer's node name starts with.
const PREFIX: &[u8] = b"mydev-";

/// Room for the longest node name and its NUL.
const NODE_NAME_BYTES: usize = PREFIX.len() + NAME_MAX + 1;

/// Whether `name` may name a configfs buffer: 1 to [`NAME_MAX`] bytes of `A-Z a-z 0-9 _ . -`,
/// not starting with `.`.
pub(crate) fn valid_buffer_name(name: &[u8]) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name.first() != Some(&b'.')
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The name of a node under `/dev`, as the C string that `misc_register()` keeps a pointer to.
///
/// # Invariants
///
/// `bytes` holds a non-empty name without NUL bytes, followed by NUL bytes to the end (at least
/// one).
#[derive(Clone, Copy)]
pub(crate) struct NodeName {
    bytes: [u8; NODE_NAME_BYTES],
}

impl NodeName {
    /// `mydev`: the node made at load.
    pub(crate) fn mydev() -> Self {
        let mut bytes = [0; NODE_NAME_BYTES];
        bytes[..5].copy_from_slice(b"mydev");
        // INVARIANT: five non-NUL bytes, then NULs.
        Self { bytes }
    }

    /// `mydev-NAME`: the node of the configfs buffer `name`, or `EINVAL` if `name` breaks the
    /// rules of [`valid_buffer_name`].
    pub(crate) fn for_buffer(name: &[u8]) -> Result<Self> {
        if !valid_buffer_name(name) {
            return Err(EINVAL);
        }
        let mut bytes = [0; NODE_NAME_BYTES];
        let end = PREFIX.len() + name.len();
        bytes
            .get_mut(..PREFIX.len())
            .ok_or(EINVAL)?
            .copy_from_slice(PREFIX);
        bytes
            .get_mut(PREFIX.len()..end)
            .ok_or(EINVAL)?
            .copy_from_slice(name);
        // INVARIANT: a valid name has no NUL and at most `NAME_MAX` bytes, so at least one NUL
        // follows it.
        Ok(Self { bytes })
    }

    /// The name as a C string.
    pub(crate) fn as_cstr(&self) -> &CStr {
        // By the type invariant the bytes hold a NUL; the fallback is never taken.
        CStr::from_bytes_until_nul(&self.bytes).unwrap_or(c"mydev")
    }
}

#[cfg(CONFIG_KUNIT)]
#[kunit_tests(mydev_name)]
mod tests {
    use super::*;

    #[test]
    fn buffer_names_follow_the_configfs_rules() {
        assert!(valid_buffer_name(b"cam"));
        assert!(valid_buffer_name(b"a"));
        assert!(valid_buffer_name(b"Cam_0.raw-1"));
        assert!(valid_buffer_name(b"a."));
        assert!(valid_buffer_name(&[b'x'; NAME_MAX]));
        assert!(!valid_buffer_name(&[b'x'; NAME_MAX + 1]));
        assert!(!valid_buffer_name(b""));
        assert!(!valid_buffer_name(b".hidden"));
        assert!(!valid_buffer_name(b"a b"));
        assert!(!valid_buffer_name(b"a/b"));
        assert!(!valid_buffer_name(b"caf\xc3\xa9"));
        assert!(!valid_buffer_name(b"a\0"));
    }

    #[test]
    fn node_names_are_prefixed_and_terminated() {
        let n = NodeName::for_buffer(b"cam").map_err(|_| ());
        assert_eq!(n.map(|n| n.as_cstr().to_bytes() == b"mydev-cam"), Ok(true));
        let long = NodeName::for_buffer(&[b'z'; NAME_MAX]).map_err(|_| ());
        assert_eq!(
            long.map(|n| n.as_cstr().to_bytes().len()),
            Ok(PREFIX.len() + NAME_MAX)
        );
        assert!(NodeName::for_buffer(b".x").is_err());
        assert_eq!(NodeName::mydev().as_cstr().to_bytes(), b"mydev");
    }
}
