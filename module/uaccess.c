// SPDX-License-Identifier: GPL-2.0
/*
 * mydev_copy_from_user(): copy_from_user() without the zero fill.
 *
 * On a fault part-way, copy_from_user() zeroes the rest of its kernel
 * destination (include/linux/uaccess.h, _inline_copy_from_user()). mydev's
 * destination is the shared buffer, which every process sees and which can be
 * mapped: a write(2) whose source faults after N bytes must store those N bytes
 * and leave the rest of the buffer as it was, as a write to a regular file does
 * (generic_perform_write() copies without zeroing too).
 *
 * The variants that do not zero, __copy_from_user() and raw_copy_from_user(),
 * are inline, so Rust cannot call them; the exported copy_from_user_nofault()
 * fails on any page that is not present and costs about 40 instructions more
 * per call. This is the body of copy_from_user_iter() (lib/iov_iter.c, static
 * there), which is what write_iter() copies with, plus the object-size check
 * that copy_from_user() makes.
 */

#include <linux/fault-inject-usercopy.h>
#include <linux/instrumented.h>
#include <linux/nospec.h>
#include <linux/thread_info.h>
#include <linux/uaccess.h>

/* Declared for the Rust side in buffer.rs. */
unsigned long mydev_copy_from_user(void *to, const void __user *from,
				   unsigned long n);

/**
 * mydev_copy_from_user - copy a block of data from user space, zeroing nothing
 * @to:   destination, in kernel space
 * @from: source, in user space
 * @n:    number of bytes to copy
 *
 * Context: user context only; may sleep (it may fault pages in).
 *
 * Return: the number of bytes that could not be copied; 0 on success. The
 * bytes of @to past those copied are left untouched.
 */
unsigned long mydev_copy_from_user(void *to, const void __user *from,
				   unsigned long n)
{
	unsigned long res;

	might_fault();
	if (should_fail_usercopy())
		return n;
	if (can_do_masked_user_access()) {
		from = mask_user_address(from);
	} else {
		if (!access_ok(from, n))
			return n;
		/* No speculative use of a bad pointer after access_ok(). */
		barrier_nospec();
	}
	check_object_size(to, n, false);
	instrument_copy_from_user_before(to, from, n);
	res = raw_copy_from_user(to, from, n);
	instrument_copy_from_user_after(to, from, n, res);
	return res;
}
