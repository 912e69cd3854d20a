// SPDX-License-Identifier: GPL-2.0

//! A device node: a misc device, registered under a name, whose every open shares one buffer.
//!
//! `/dev/mydev` is one, made at load; each live buffer made through configfs is another,
//! `/dev/mydev-NAME` (see `buffers.rs`; the names are in `name.rs`).
//!
//! A node and its buffer live apart: the node ([`Node`]) is dropped, and the name leaves `/dev`,
//! when its owner decides (module unload, `live` set to 0, `rmdir`), while each open file holds
//! its own reference to the buffer, and each mapping its file. So removing a node is like
//! unlinking an open file: what is open keeps the same bytes, which are freed with the last user.

use crate::{
    buffer::Buffer,
    miscdev::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
};
use kernel::{
    prelude::*,
    sync::Arc, //
};

/// A registered device node whose opens share `buffer`.
///
/// # Invariants
///
/// - `registration` was registered with the name of `buffer` ([`Buffer::name`]), which `buffer`
///   keeps alive: fields drop in declaration order, so the node is deregistered before the
///   buffer reference goes.
/// - Every `MiscDeviceRegistration<T>` of the module is the `registration` field of a `Node<T>`:
///   [`Node::new`] is the only caller of the registration's constructor.
#[pin_data(PinnedDrop)]
pub(crate) struct Node<T: MiscDevice> {
    #[pin]
    registration: MiscDeviceRegistration<T>,
    buffer: Arc<Buffer>,
}

impl<T: MiscDevice> Node<T> {
    /// Registers the node `buffer.name()` for `buffer`; it appears in `/dev` before this returns.
    pub(crate) fn new(buffer: Arc<Buffer>) -> impl PinInit<Self, Error> {
        let name: *const CStr = buffer.name().as_cstr();
        // `buffer` is initialised first (the initializer's order), so an `open` that comes as
        // soon as the node exists finds it.
        try_pin_init!(Self {
            buffer: buffer,
            // SAFETY: `name` points into the buffer, whose reference is moved into `self.buffer`,
            // which is dropped only after `registration` (declaration order) and not moved
            // before (the `Arc`'s allocation never moves). If a later step failed, pin-init drops
            // what was initialised, in reverse order.
            registration <- unsafe { MiscDeviceRegistration::register(MiscDeviceOptions { name: &*name }) },
        })
    }

    /// The node of `misc`.
    ///
    /// # Safety
    ///
    /// `misc` must be valid for `'a`; an `open` of the node is such a time, since `misc_open()`
    /// keeps the device from being deregistered during the call.
    pub(crate) unsafe fn of_registration<'a>(misc: &'a MiscDeviceRegistration<T>) -> &'a Self {
        let misc: *const MiscDeviceRegistration<T> = misc;
        // SAFETY: `misc` is the `registration` field of a `Node<T>` (type invariant), so
        // `container_of!` gives that node, valid as long as `misc` is (the caller's promise).
        unsafe { &*kernel::container_of!(misc.cast_mut(), Self, registration) }
    }

    /// The buffer that every open of this node shares.
    pub(crate) fn buffer(&self) -> &Arc<Buffer> {
        &self.buffer
    }

    /// Says in the kernel log that the node exists, with its size and how many of its 2 MiB
    /// parts are 2 MiB folios.
    pub(crate) fn announce(&self) {
        let b = &self.buffer;
        if b.whole_parts() == 0 {
            pr_info!(
                "created /dev/{}, size {} bytes\n",
                b.name().as_cstr(),
                b.size()
            );
        } else {
            pr_info!(
                "created /dev/{}, size {} bytes, {} of its {} 2 MiB parts huge\n",
                b.name().as_cstr(),
                b.size(),
                b.huge_parts(),
                b.whole_parts()
            );
        }
    }
}

#[pinned_drop]
impl<T: MiscDevice> PinnedDrop for Node<T> {
    fn drop(self: Pin<&mut Self>) {
        // The node leaves `/dev` right after this, when `registration` is dropped.
        pr_info!("removed /dev/{}\n", self.buffer.name().as_cstr());
    }
}
