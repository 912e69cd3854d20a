// SPDX-License-Identifier: GPL-2.0

//! mydev: page-backed buffers, each shared by every opener of its node through `read`/`write`
//! and through `mmap` of the same memory: `/dev/mydev`, sized by the `size` parameter, and
//! `/dev/mydev-NAME` for each buffer made through configfs (`buffers.rs`). Every node has the same
//! file operations (`fops.rs`):
//!
//! - `read`/`write` (and `pread`/`pwrite`) copy at the file position and advance it; a read at or
//!   past the end returns 0, a write there fails with `ENOSPC`, and one crossing the end is short.
//!   `readv`/`writev` follow the same rules.
//! - `lseek` moves the position inside `0..=size` as for a regular file of that size
//!   ([`range::seek`]).
//! - `mmap` maps any page-aligned range inside the buffer, shared or private (copy-on-write),
//!   never executable (see [`vma::mmap`]).
//! - `ioctl`: [`uapi::MYDEV_IOC_GET_SIZE`] and [`uapi::MYDEV_IOC_CLEAR`]; anything else is
//!   `ENOTTY`.
//!
//! The file operations come from [`miscdev`], the module's own misc-device layer: 7.3's
//! `kernel::miscdevice` has no `llseek`, `read` or `write` hook.
//!
//! `/dev/mydev`'s buffer is allocated at load, zeroed, and freed when the last of the node, its
//! open files and its mappings goes; the module is unloaded only when none of any buffer is left,
//! and no buffer directory exists (the file operations and configfs hold references to this
//! module, and a mapping holds its file).

use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc, //
};

mod buffer;
mod buffers;
mod configfs;
#[cfg(CONFIG_DMA_SHARED_BUFFER)]
mod dmabuf;
mod fops;
mod miscdev;
mod name;
mod node;
mod range;
pub mod uapi;
mod vma;

use buffer::Buffer;
use buffers::Buffers;
use fops::Mydev;
use name::NodeName;
use node::Node;

module! {
    type: MydevModule,
    name: "mmap",
    authors: ["mydev developers"],
    description: "mydev: a memory-mapped character device (/dev/mydev)",
    license: "GPL",
    imports_ns: ["DMA_BUF"],
    params: {
        size: u64 {
            default: 4096,
            description: "Buffer size in bytes: a positive multiple of the page size, at most 1 GiB",
        },
        huge: u32 {
            default: 1,
            description: "1: allocate each whole 2 MiB part of the buffer as one 2 MiB folio when the allocator can, so that aligned shared mappings map it with one PMD entry; 0: 4 KiB pages only",
        },
    },
}

/// The loaded module: `/dev/mydev` and the configfs subsystem of the other buffers.
#[pin_data]
struct MydevModule {
    #[pin]
    node: Node<Mydev>,
    /// Declared after `node`, so unregistered after it: either order is sound, since the module
    /// is unloaded only when no buffer directory exists (configfs holds a module reference for
    /// each).
    #[pin]
    buffers: configfs::Subsystem<Buffers>,
}

impl kernel::InPlaceModule for MydevModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // 7.3 returns the value (`value_ref()` gives the reference); 7.2's `value()` returns a
        // reference. `Kbuild` sets the cfg from the kernel's version.
        #[cfg(mydev_param_value_copy)]
        let (requested, huge) = (
            module_parameters::size.value(),
            module_parameters::huge.value(),
        );
        #[cfg(not(mydev_param_value_copy))]
        let (requested, huge) = (
            *module_parameters::size.value(),
            *module_parameters::huge.value(),
        );
        let buffer = huge_parameter(huge)
            .and_then(|huge| {
                let npages = range::pages_for_size(requested, PAGE_SIZE).ok_or_else(|| {
                    pr_err!(
                        "invalid parameter size={}: must be a multiple of {} from {} to {}\n",
                        requested,
                        PAGE_SIZE,
                        PAGE_SIZE,
                        range::MAX_SIZE
                    );
                    EINVAL
                })?;
                Buffer::new(NodeName::mydev(), npages, huge).inspect_err(|_| {
                    pr_err!("cannot allocate {} bytes for the buffer\n", requested);
                })
            })
            .and_then(|buffer| Ok(Arc::new(buffer, GFP_KERNEL)?));

        try_pin_init!(Self {
            node <- Node::new(buffer?),
            buffers <- configfs::Subsystem::register(),
        })
        .pin_chain(|this| {
            this.node.announce();
            Ok(())
        })
    }
}

/// Checks the `huge` module parameter: 0 or 1.
fn huge_parameter(huge: u32) -> Result<bool> {
    match huge {
        0 => Ok(false),
        1 => Ok(true),
        _ => {
            pr_err!("invalid parameter huge={}: must be 0 or 1\n", huge);
            Err(EINVAL)
        }
    }
}
