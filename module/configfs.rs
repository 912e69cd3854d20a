// SPDX-License-Identifier: GPL-2.0

//! The module's configfs subsystem layer: the subsystem's root directory, whose `mkdir` makes a
//! child group through [`Subsystem::make_group`]. The child groups themselves (their attributes,
//! their release) are `kernel::configfs`'s [`Group`]s.
//!
//! C header: [`include/linux/configfs.h`](srctree/include/linux/configfs.h).
//!
//! Why not `kernel::configfs::Subsystem` of 7.3 and 7.2:
//!
//! - When `configfs_register_subsystem()` fails (an allocation, at load), its initializer drops
//!   the half-made value, and the drop calls `configfs_unregister_subsystem()` on a subsystem that
//!   was never registered: a NULL dereference (seen as an oops by the `faults` suite, which fails
//!   every failure point of a load).
//! - On 7.2, the root's `make_group` receives a reference computed as if the root were a child
//!   group (`get_group_data()` tests `cg_subsys` for NULL, which it never is).
//!
//! Here the root's `config_item_type` is this layer's own, and `make_group` goes to the
//! implementer without any data; the children are made exactly as `kernel::configfs` makes them
//! (an `Arc<Group<Child>>` turned into a raw pointer, which the child item type's `release`
//! takes back).

use crate::miscdev::this_module;
use core::marker::PhantomData;
use kernel::{
    bindings,
    configfs::{
        Group,
        HasGroup, //
    },
    error::to_result,
    ffi::c_char,
    prelude::*,
    sync::Arc,
    types::Opaque,
};

/// What a subsystem of this layer does when user space makes a directory in its root.
pub(crate) trait SubsystemOps: 'static {
    /// The data of each child group.
    type Child: 'static;

    /// The subsystem's directory name under `/sys/kernel/config`.
    const NAME: &'static CStr;

    /// Makes the child group `name`, or refuses the `mkdir` with an error.
    fn make_group(name: &CStr) -> Result<impl PinInit<Group<Self::Child>, Error>>;
}

/// A registered configfs subsystem.
///
/// # Invariants
///
/// `inner` is registered with `configfs_register_subsystem()` for the whole life of the value,
/// with the root item type [`Subsystem::ROOT_TYPE`], and is pinned.
#[pin_data(PinnedDrop)]
pub(crate) struct Subsystem<T: SubsystemOps> {
    #[pin]
    inner: Opaque<bindings::configfs_subsystem>,
    _t: PhantomData<T>,
}

// SAFETY: The value only holds the registration; configfs's callbacks may run on any thread, and
// `configfs_unregister_subsystem()` may be called from another thread than the registration.
unsafe impl<T: SubsystemOps> Send for Subsystem<T> {}
// SAFETY: No `&self` method exists.
unsafe impl<T: SubsystemOps> Sync for Subsystem<T> {}

impl<T: SubsystemOps> Subsystem<T> {
    /// The root's group operations: `make_group`; `drop_item` left NULL, so that configfs drops
    /// the child's reference itself (`client_drop_item()`).
    const GROUP_OPS: bindings::configfs_group_operations = bindings::configfs_group_operations {
        make_item: None,
        make_group: Some(Self::make_group),
        disconnect_notify: None,
        drop_item: None,
        is_visible: None,
        is_bin_visible: None,
    };

    /// The root's item type: no attributes, no item operations (the root is never released).
    const ROOT_TYPE: bindings::config_item_type = bindings::config_item_type {
        ct_owner: this_module(),
        ct_item_ops: core::ptr::null_mut(),
        ct_group_ops: core::ptr::from_ref(&Self::GROUP_OPS).cast_mut(),
        ct_attrs: core::ptr::null_mut(),
        ct_bin_attrs: core::ptr::null_mut(),
    };

    /// Registers the subsystem; its directory appears before this returns. On failure nothing
    /// is left registered.
    pub(crate) fn register() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            inner <- Opaque::try_ffi_init(|slot: *mut bindings::configfs_subsystem| {
                // SAFETY: `slot` is valid for writes; a zeroed `configfs_subsystem` is what
                // `config_group_init_type_name()` expects to start from.
                unsafe { slot.write(pin_init::zeroed()) };
                // SAFETY: `slot` is valid and pinned. `ROOT_TYPE` is a promoted constant, so the
                // pointer is `'static`, as configfs needs; the name is copied.
                unsafe {
                    bindings::config_group_init_type_name(
                        &raw mut (*slot).su_group,
                        T::NAME.as_char_ptr(),
                        core::ptr::from_ref(&Self::ROOT_TYPE).cast_mut(),
                    )
                };
                // SAFETY: `su_mutex` is valid memory for a mutex, initialised once, here.
                unsafe {
                    bindings::__mutex_init(
                        &raw mut (*slot).su_mutex,
                        kernel::optional_name!().as_char_ptr(),
                        kernel::static_lock_class!().as_ptr(),
                    )
                };
                // SAFETY: The subsystem is initialised as configfs requires, and stays pinned
                // until `PinnedDrop` unregisters it. If the registration fails, configfs has
                // undone its own steps, and `try_ffi_init` does not drop the slot.
                // INVARIANT: on `Ok(())` the subsystem is registered.
                to_result(unsafe { bindings::configfs_register_subsystem(slot) })
            }),
            _t: PhantomData,
        })
    }

    /// `make_group` of the root.
    ///
    /// # Safety
    ///
    /// Called by configfs for a `mkdir` in the root of this subsystem, with `name` a NUL-terminated
    /// string valid for the call.
    unsafe extern "C" fn make_group(
        _group: *mut bindings::config_group,
        name: *const c_char,
    ) -> *mut bindings::config_group {
        // SAFETY: `name` is NUL-terminated and valid for the call (the function's contract).
        let name = unsafe { CStr::from_char_ptr(name) };
        let init = match T::make_group(name) {
            Ok(init) => init,
            Err(e) => return e.to_ptr(),
        };
        match Arc::pin_init(init, GFP_KERNEL) {
            Ok(child) => {
                // The reference is configfs's from here; the child item type's `release`
                // (`kernel::configfs`) takes it back with `Arc::from_raw`.
                let child = child.into_raw();
                // SAFETY: `child` points to a live `Group<T::Child>`.
                unsafe { Group::<T::Child>::group(child) }.cast_mut()
            }
            Err(e) => e.to_ptr(),
        }
    }
}

#[pinned_drop]
impl<T: SubsystemOps> PinnedDrop for Subsystem<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: The subsystem is registered (type invariant), and this is the only
        // unregistration.
        unsafe { bindings::configfs_unregister_subsystem(self.inner.get()) };
        // SAFETY: The mutex was initialised in `register` and nothing holds it any more.
        unsafe { bindings::mutex_destroy(&raw mut (*self.inner.get()).su_mutex) };
    }
}
