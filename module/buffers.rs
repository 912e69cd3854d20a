// SPDX-License-Identifier: GPL-2.0

//! Buffers that user space makes and removes at run time, through configfs.
//!
//! `mkdir /sys/kernel/config/mydev/NAME` describes a buffer (`NAME` as `name.rs` allows, at most
//! [`MAX_BUFFERS`] of them); its attributes are `size` and `huge` (as the module parameters),
//! `live` (1 allocates a zeroed buffer and registers `/dev/mydev-NAME`, 0 removes the node) and,
//! read-only, `parts` and `huge_parts`. `rmdir` removes the node too. A removed node's open files
//! and mappings keep their buffer (`node.rs`). While a directory exists configfs holds a
//! reference to this module, so `rmmod` is refused.
//!
//! The subsystem's root is the module's own configfs layer (`configfs.rs`, which says why); each
//! buffer directory is a `kernel::configfs` group.

use crate::{
    buffer::Buffer,
    configfs::SubsystemOps,
    fops::Mydev,
    name::NodeName,
    node::Node,
    range, //
};
use core::fmt::Write as _;
use kernel::{
    configfs::{
        self,
        AttributeOperations, //
    },
    configfs_attrs, new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    str::{
        CString,
        Formatter, //
    },
    sync::{
        atomic::{
            ordering::{
                Full,
                Relaxed, //
            },
            Atomic,
        },
        Arc,
        Mutex, //
    },
};

// 7.2's `configfs_attrs!` names `THIS_MODULE`; 7.3's names `crate::LocalModule`.
#[cfg(not(mydev_configfs_local_module))]
use crate::THIS_MODULE;

/// The most buffer directories that may exist at once; the next `mkdir` fails with `ENOSPC`.
pub(crate) const MAX_BUFFERS: usize = 256;

/// How many buffer directories exist: the number of live [`Slot`]s.
static DIRECTORIES: Atomic<usize> = Atomic::new(0);

/// One of the [`MAX_BUFFERS`] places, held by a buffer directory from `mkdir` until configfs
/// releases it.
///
/// # Invariants
///
/// Each `Slot` accounts for one unit of [`DIRECTORIES`], given back when it is dropped.
struct Slot(());

impl Slot {
    /// Takes a place, or fails with `ENOSPC` when all are taken.
    fn take() -> Result<Self> {
        let mut n = DIRECTORIES.load(Relaxed);
        loop {
            if n >= MAX_BUFFERS {
                return Err(ENOSPC);
            }
            // `n < MAX_BUFFERS`: no overflow.
            match DIRECTORIES.cmpxchg(n, n + 1, Full) {
                // INVARIANT: this slot's unit was just added.
                Ok(_) => return Ok(Self(())),
                Err(now) => n = now,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // The unit this slot added (type invariant): the count stays non-negative.
        DIRECTORIES.fetch_sub(1, Full);
    }
}

/// The subsystem `mydev`: `/sys/kernel/config/mydev`, whose directories are buffers.
pub(crate) struct Buffers;

impl SubsystemOps for Buffers {
    type Child = BufferConfig;
    const NAME: &'static CStr = c"mydev";

    fn make_group(name: &CStr) -> Result<impl PinInit<configfs::Group<BufferConfig>, Error>> {
        let node_name = NodeName::for_buffer(name.to_bytes())?;
        let slot = Slot::take()?;
        let item_type = configfs_attrs! {
            container: configfs::Group<BufferConfig>,
            data: BufferConfig,
            attributes: [
                size: 0,
                huge: 1,
                live: 2,
                parts: 3,
                huge_parts: 4,
            ],
        };
        let dir_name: CString = name.try_into()?;
        // If a later step fails, dropping the initializer gives the slot back.
        Ok(configfs::Group::new(
            dir_name,
            item_type,
            try_pin_init!(BufferConfig {
                state <- new_mutex!(State {
                    size: PAGE_SIZE,
                    huge: true,
                    node: None,
                }),
                name: node_name,
                _slot: slot,
            }),
        ))
    }
}

/// A buffer directory: what the attributes say, and the node while the buffer is live.
#[pin_data]
pub(crate) struct BufferConfig {
    #[pin]
    state: Mutex<State>,
    name: NodeName,
    _slot: Slot,
}

/// The settable part of a buffer directory, under its lock.
struct State {
    /// `size`: bytes, a valid size (`range::pages_for_size`).
    size: usize,
    /// `huge`.
    huge: bool,
    /// The node and its buffer while `live` is 1. Dropping it removes the node.
    node: Option<Pin<KBox<Node<Mydev>>>>,
}

impl BufferConfig {
    /// Makes the buffer live: a zeroed buffer and its node. Fails with `ENOMEM` (and a log line)
    /// when the memory is not there, leaving nothing behind.
    fn go_live(&self, state: &mut State) -> Result {
        let npages = state.size / PAGE_SIZE;
        let buffer = Buffer::new(self.name, npages, state.huge).inspect_err(|_| {
            pr_err!(
                "cannot allocate {} bytes for buffer {}\n",
                state.size,
                self.name.as_cstr()
            );
        })?;
        let buffer = Arc::new(buffer, GFP_KERNEL)?;
        let node = KBox::pin_init(Node::new(buffer), GFP_KERNEL)?;
        node.announce();
        state.node = Some(node);
        Ok(())
    }
}

/// Parses a configfs write: a decimal number, with surrounding white space (`echo`'s newline).
fn parse_number(page: &[u8]) -> Result<u64> {
    let text = core::str::from_utf8(page).map_err(|_| EINVAL)?.trim();
    text.parse::<u64>().map_err(|_| EINVAL)
}

/// Parses a configfs write of a flag: `0` or `1`.
fn parse_flag(page: &[u8]) -> Result<bool> {
    match parse_number(page)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(EINVAL),
    }
}

/// Writes `value` and a newline to an attribute's page.
fn show_number(page: &mut [u8; PAGE_SIZE], value: usize) -> Result<usize> {
    let mut w = Formatter::new(page);
    writeln!(w, "{value}").map_err(|_| EINVAL)?;
    Ok(w.bytes_written())
}

#[vtable]
impl AttributeOperations<0> for BufferConfig {
    type Data = BufferConfig;

    fn show(this: &BufferConfig, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_number(page, this.state.lock().size)
    }

    fn store(this: &BufferConfig, page: &[u8]) -> Result {
        let mut state = this.state.lock();
        if state.node.is_some() {
            return Err(EBUSY);
        }
        let size = parse_number(page)?;
        let npages = range::pages_for_size(size, PAGE_SIZE).ok_or(EINVAL)?;
        state.size = npages.checked_mul(PAGE_SIZE).ok_or(EINVAL)?;
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<1> for BufferConfig {
    type Data = BufferConfig;

    fn show(this: &BufferConfig, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_number(page, usize::from(this.state.lock().huge))
    }

    fn store(this: &BufferConfig, page: &[u8]) -> Result {
        let mut state = this.state.lock();
        if state.node.is_some() {
            return Err(EBUSY);
        }
        state.huge = parse_flag(page)?;
        Ok(())
    }
}

#[vtable]
impl AttributeOperations<2> for BufferConfig {
    type Data = BufferConfig;

    fn show(this: &BufferConfig, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        show_number(page, usize::from(this.state.lock().node.is_some()))
    }

    fn store(this: &BufferConfig, page: &[u8]) -> Result {
        let live = parse_flag(page)?;
        let mut state = this.state.lock();
        match (live, state.node.is_some()) {
            (true, false) => this.go_live(&mut state),
            // Dropping the node removes it from `/dev`; open files keep the buffer.
            (false, true) => {
                state.node = None;
                Ok(())
            }
            // The value it already has: nothing changes.
            _ => Ok(()),
        }
    }
}

#[vtable]
impl AttributeOperations<3> for BufferConfig {
    type Data = BufferConfig;

    fn show(this: &BufferConfig, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let state = this.state.lock();
        let parts = state.node.as_ref().map_or(0, |n| n.buffer().whole_parts());
        show_number(page, parts)
    }
}

#[vtable]
impl AttributeOperations<4> for BufferConfig {
    type Data = BufferConfig;

    fn show(this: &BufferConfig, page: &mut [u8; PAGE_SIZE]) -> Result<usize> {
        let state = this.state.lock();
        let parts = state.node.as_ref().map_or(0, |n| n.buffer().huge_parts());
        show_number(page, parts)
    }
}
