# SPDX-License-Identifier: GPL-2.0
# The package test's fakes, made inside its chroot with dpkg-deb (sourced by each step's script):
#   fake_kernel RELEASE KIND VERSION   linux-image-RELEASE, a kernel as dpkg and DKMS see it:
#                                      /boot/vmlinuz-RELEASE (a placeholder), the
#                                      /usr/lib/modules/RELEASE/build headers and maintainer
#                                      scripts that run the kernel hooks as Debian's image
#                                      packages do (linux-run-hooks).
#       KIND rust-tree: headers with Rust build outputs, those of the prepared tree of $REAL
#                       (as a kernel one built, or Ubuntu's linux-lib-rust): DKMS builds at once
#       KIND linux-7.4: a Rust-enabled 7.4 (a series mydev does not support)
#       KIND other-rustc: a 7.3 whose CONFIG_RUSTC_VERSION_TEXT names a rustc not installed
#   fake_source VERSION                linux-source-<series> VERSION whose tarball holds only a
#                                      Makefile of that version (a newer linux-source)
#   repack DEB VERSION OUT             DEB with its version changed (an upgrade)
# $REAL is the release of the chroot's real kernel headers.
set -eu

fake_kernel() {
	release=$1
	kind=$2
	version=$3
	d=/tmp/fake/linux-image-$release
	rm -rf "$d"
	mkdir -p "$d/DEBIAN" "$d/boot" "$d/usr/lib/modules/$release" "$d/usr/src"
	echo "placeholder for the package test" >"$d/boot/vmlinuz-$release"
	h=$d/usr/src/linux-headers-$release
	real=/usr/src/linux-headers-$REAL
	common=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$real/Makefile")
	mkdir -p "$h"
	case "$kind" in
	rust-tree)
		tree=/var/lib/mydev-dkms/$REAL/build
		for f in "$tree"/* "$tree"/.config "$tree"/.kernelvariables; do
			[ "$(basename "$f")" = Makefile ] || ln -s "$f" "$h/"
		done
		;;
	linux-7.4)
		mkdir -p "$h/include"
		printf 'CONFIG_RUST=y\nCONFIG_RUSTC_VERSION_TEXT="%s"\n' "$(rustc --version)" >"$h/.config"
		;;
	other-rustc)
		for f in "$real"/*; do
			[ "$(basename "$f")" = Makefile ] || ln -s "$f" "$h/"
		done
		sed 's/^CONFIG_RUSTC_VERSION_TEXT=.*/CONFIG_RUSTC_VERSION_TEXT="rustc 1.99.0 (0123456789 2027-01-01)"/' \
			"$real/.config" >"$h/.config"
		ln -s "$real/.kernelvariables" "$h/"
		;;
	esac
	printf 'KBUILD_OUTPUT=%s\ninclude %s/Makefile\n' "/usr/src/linux-headers-$release" "$common" >"$h/Makefile"
	ln -s "/usr/src/linux-headers-$release" "$d/usr/lib/modules/$release/build"
	cat >"$d/DEBIAN/control" <<-EOF
		Package: linux-image-$release
		Version: $version
		Architecture: amd64
		Maintainer: mydev package test <test@mydev.invalid>
		Description: fake kernel $release for the mydev package test
	EOF
	for s in postinst prerm postrm; do
		printf '#!/bin/sh -e\nlinux-run-hooks image %s %s /boot/vmlinuz-%s -- "$@"\n' \
			"$s" "$release" "$release" >"$d/DEBIAN/$s"
		chmod 755 "$d/DEBIAN/$s"
	done
	dpkg-deb --root-owner-group -Znone -b "$d" "/tmp/fake/linux-image-$release.deb" >/dev/null
}

fake_source() {
	version=$1
	series=$(echo "$version" | cut -d. -f1-2)
	d=/tmp/fake/linux-source-$series
	rm -rf "$d"
	mkdir -p "$d/DEBIAN" "$d/usr/src" "/tmp/fake/src/linux-source-$series"
	printf 'VERSION = %s\nPATCHLEVEL = %s\nSUBLEVEL = %s\n' \
		"$(echo "$version" | cut -d. -f1)" "$(echo "$version" | cut -d. -f2)" \
		"$(echo "$version" | cut -d. -f3)" >"/tmp/fake/src/linux-source-$series/Makefile"
	tar -C /tmp/fake/src -cJf "$d/usr/src/linux-source-$series.tar.xz" "linux-source-$series"
	cat >"$d/DEBIAN/control" <<-EOF
		Package: linux-source-$series
		Version: $version-1~mydevtest1
		Architecture: all
		Maintainer: mydev package test <test@mydev.invalid>
		Description: fake Linux $version source for the mydev package test
	EOF
	dpkg-deb --root-owner-group -b "$d" "/tmp/fake/linux-source-$series.deb" >/dev/null
}

repack() {
	rm -rf /tmp/fake/repack
	dpkg-deb -R "$1" /tmp/fake/repack
	sed -i "s/^Version: .*/Version: $2/" /tmp/fake/repack/DEBIAN/control
	dpkg-deb --root-owner-group -b /tmp/fake/repack "$3" >/dev/null
}

mkdir -p /tmp/fake
