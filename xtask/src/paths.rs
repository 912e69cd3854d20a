// SPDX-License-Identifier: GPL-2.0

//! Where things go: the repository, its build outputs, and the cache outside the clone.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The directories the harness uses.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository root.
    pub repo: PathBuf,
    /// Per-run outputs inside the clone (`target/mydev`).
    pub work: PathBuf,
    /// Logs of this and earlier runs (`target/mydev/logs`).
    pub logs: PathBuf,
    /// The cache shared by clones: `$XDG_CACHE_HOME/mydev`, by default `~/.cache/mydev`.
    pub cache: PathBuf,
}

impl Paths {
    pub fn discover() -> Result<Self> {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        let cache = cache_dir(std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"))
            .context("neither XDG_CACHE_HOME nor HOME is set")?;
        let work = repo.join("target/mydev");
        let logs = work.join("logs");
        for d in [&work, &logs, &cache] {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(Self {
            repo,
            work,
            logs,
            cache,
        })
    }
}

/// The cache directory: `$XDG_CACHE_HOME/mydev` when that is an absolute path (as the XDG
/// specification requires), otherwise `$HOME/.cache/mydev`.
pub fn cache_dir(
    xdg_cache_home: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
) -> Option<PathBuf> {
    match xdg_cache_home.map(PathBuf::from) {
        Some(x) if x.is_absolute() => Some(x.join("mydev")),
        _ => home.map(|h| PathBuf::from(h).join(".cache/mydev")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_follows_xdg_then_home() {
        assert_eq!(
            cache_dir(Some("/x/c".into()), Some("/home/u".into())),
            Some(PathBuf::from("/x/c/mydev"))
        );
        assert_eq!(
            cache_dir(None, Some("/home/u".into())),
            Some(PathBuf::from("/home/u/.cache/mydev"))
        );
        assert_eq!(
            cache_dir(Some("relative".into()), Some("/h".into())),
            Some(PathBuf::from("/h/.cache/mydev"))
        );
        assert_eq!(cache_dir(Some("".into()), None), None);
    }
}
