// SPDX-License-Identifier: GPL-2.0

//! A kernel that guests boot and modules are built against: one of ours (`build.rs`) or one of
//! Debian's (`stock.rs`).

use crate::kernels::chroot::Chroot;
use crate::kernels::profile::Profile;
use crate::kernels::stock_modules::Preload;
use std::path::PathBuf;

/// A built kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub profile: Profile,
    pub dir: PathBuf,
    pub version: String,
    /// The fragments' settings, each verified in the built `.config` (for a distribution's
    /// kernel: every `=y` line of its `.config`).
    pub settings: Vec<String>,
    /// The image QEMU boots.
    pub image: PathBuf,
    /// Where modules for it are built: `None` on the host, or a chroot with the compiler that
    /// built the kernel (a distribution's kernel, see `stock.rs`).
    pub chroot: Option<Chroot>,
    /// The kernel's own modules that the guest loads before `mmap.ko`, in this order: on
    /// Debian's kernels `configfs.ko` (`CONFIGFS_FS=m`) and the suites' peer drivers (see
    /// `stock_modules.rs`); none on ours, which build them in.
    pub preload: Vec<Preload>,
}

impl Kernel {
    /// Whether the kernel has `CONFIG_<name>=y`.
    pub fn has(&self, name: &str) -> bool {
        self.settings
            .iter()
            .any(|s| s == &format!("CONFIG_{name}=y"))
    }
}
