#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The DKMS pre-build step of mmap.ko (dkms.conf's PRE_BUILD): dkms-prepare.sh RELEASE
# KERNEL_SOURCE_DIR.
#
# A Rust module compiles against the kernel's Rust build outputs (rust/*.rmeta). A kernel tree
# that has them (one you built, Ubuntu's linux-lib-rust) needs nothing. Debian's headers have
# none: then the mydev-dkms package's helper prepares a tree for RELEASE once, under
# /var/lib/mydev-dkms. When it cannot, this step exits 77, which DKMS takes as "skip this
# kernel": a failed preparation never fails the installation of a kernel.
set -eu
release=$1
kdir=$2
[ ! -f "$kdir/rust/libkernel.rmeta" ] || exit 0
helper=/usr/libexec/mydev-dkms/mydev-prepare-kernel
if [ ! -x "$helper" ]; then
	echo "dkms-prepare.sh: $kdir has no Rust build outputs (rust/libkernel.rmeta), and $helper" \
		"(package mydev-dkms) is not installed to prepare them: mydev is skipped for $release" >&2
	exit 77
fi
if ! MYDEV_HEADERS=$kdir "$helper" "$release"; then
	echo "dkms-prepare.sh: the Rust build tree of $release could not be made (above):" \
		"mydev is skipped for $release; once that is fixed: dkms autoinstall -k $release" >&2
	exit 77
fi
