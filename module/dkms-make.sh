#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The DKMS build step of mmap.ko (dkms.conf's MAKE): dkms-make.sh RELEASE KERNEL_SOURCE_DIR.
#
# A Rust module compiles against the kernel's Rust build outputs (rust/*.rmeta). A kernel tree
# that has them (one you built, Ubuntu's linux-lib-rust) is used as it is. Debian's headers
# have none: then the mydev-dkms package's helper prepares a tree for RELEASE once, under
# /var/lib/mydev-dkms (it checks first that this machine's rustc is the one that built the
# kernel), and the module is built against that.
set -e
release=$1
kdir=$2
if [ ! -f "$kdir/rust/libkernel.rmeta" ]; then
	helper=/usr/libexec/mydev-dkms/mydev-prepare-kernel
	if [ ! -x "$helper" ]; then
		echo "dkms-make.sh: $kdir has no Rust build outputs (rust/libkernel.rmeta), and $helper" \
			"(package mydev-dkms) is not installed to prepare them" >&2
		exit 1
	fi
	MYDEV_HEADERS=$kdir "$helper" "$release"
	kdir=/var/lib/mydev-dkms/$release/build
fi
exec make -C "$kdir" M="$PWD" modules
