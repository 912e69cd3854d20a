#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The DKMS build step of mmap.ko (dkms.conf's MAKE):
#   dkms-make.sh RELEASE KERNEL_SOURCE_DIR [MAKE ARGUMENTS...]
# DKMS appends make arguments of its own (LLVM=1 for a clang-built kernel): they go to make.
#
# A kernel tree with Rust build outputs (rust/libkernel.rmeta) is used as it is; otherwise the
# tree that dkms-prepare.sh had mydev-prepare-kernel make for RELEASE under /var/lib/mydev-dkms.
set -eu
release=$1
kdir=$2
shift 2
if [ ! -f "$kdir/rust/libkernel.rmeta" ]; then
	prepared=/var/lib/mydev-dkms/$release/build
	if [ ! -f "$prepared/rust/libkernel.rmeta" ]; then
		echo "dkms-make.sh: neither $kdir nor $prepared has Rust build outputs (rust/libkernel.rmeta)" >&2
		exit 1
	fi
	kdir=$prepared
fi
exec make -C "$kdir" M="$PWD" "$@" modules
