// SPDX-License-Identifier: GPL-2.0

//! Cache entries keyed by what went into them (kernels, chroots, the counting plugin).

use sha2::{Digest, Sha256};

/// The cache key of a build: a hash of named inputs, 16 hex digits.
pub fn cache_key(inputs: &[(String, String)]) -> String {
    let mut h = Sha256::new();
    for (name, value) in inputs {
        h.update(name.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        h.update([0]);
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(fragment: &str) -> Vec<(String, String)> {
        vec![
            ("source".into(), "7.3.4-1".into()),
            ("fragment a".into(), fragment.into()),
        ]
    }

    #[test]
    fn key_is_stable_and_changes_with_any_input() {
        let k = cache_key(&inputs("CONFIG_A=y\n"));
        assert_eq!(k.len(), 16);
        assert_eq!(k, cache_key(&inputs("CONFIG_A=y\n")));
        assert_ne!(k, cache_key(&inputs("CONFIG_A=n\n")));
        // Names and values cannot run into each other.
        let a = cache_key(&[("ab".into(), "c".into())]);
        let b = cache_key(&[("a".into(), "bc".into())]);
        assert_ne!(a, b);
    }
}
