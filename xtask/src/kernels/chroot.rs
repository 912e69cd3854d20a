// SPDX-License-Identifier: GPL-2.0

//! A Debian root directory that commands run in: where modules for Debian's kernels are built
//! (`stock.rs`) and where the packages are installed and tested (`package/`).

use crate::shell::shell_quote;
use crate::ui::run_logged;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The mount-namespace wrapper of [`Chroot::command`]: `/proc` and `/dev` are mounted in a
/// private namespace, so they vanish with the command and nothing is left mounted. `$2` is more
/// mounts, a script run first (empty for none).
const CHROOT_SH: &str = r#"r=$1; more=$2; shift 2
mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" || exit 125
[ -z "$more" ] || eval "$more" || exit 125
exec chroot "$r" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@""#;

/// A Debian root directory that commands run in.
#[derive(Debug, Clone)]
pub struct Chroot {
    pub root: PathBuf,
}

impl Chroot {
    /// `args` run inside the chroot, as root, with a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        self.wrapped("", args)
    }

    /// [`Chroot::command`] with a `mb` MB tmpfs over `inside`, a directory of the chroot, for
    /// the command's life (mounted from outside: the chroot need not have `mount`).
    pub fn command_on_tmpfs(&self, inside: &str, mb: u32, args: &[&str]) -> Command {
        let mount = format!(
            "mount -t tmpfs -o size={mb}m tmpfs \"$r\"/{}",
            shell_quote(inside.trim_start_matches('/'))
        );
        self.wrapped(&mount, args)
    }

    fn wrapped(&self, more: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            CHROOT_SH,
            "mydev-chroot",
        ])
        .arg(&self.root)
        .arg(more)
        .args(args);
        cmd
    }

    /// The path inside the chroot of `host`, a path under its root.
    pub fn inside(&self, host: &Path) -> Result<PathBuf> {
        let rel = host
            .strip_prefix(&self.root)
            .with_context(|| format!("{} is outside the chroot", host.display()))?;
        Ok(Path::new("/").join(rel))
    }

    /// Runs `args` in the chroot, logging to `log`.
    pub fn run(&self, step: &str, args: &[&str], log: &Path) -> Result<()> {
        run_logged(step, &mut self.command(args), log, Duration::from_secs(30))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chroot_paths_map_inside() {
        let c = Chroot {
            root: PathBuf::from("/cache/chroots/x"),
        };
        assert_eq!(
            c.inside(Path::new("/cache/chroots/x/var/lib/y")).unwrap(),
            PathBuf::from("/var/lib/y")
        );
        assert!(c.inside(Path::new("/elsewhere")).is_err());
    }
}
