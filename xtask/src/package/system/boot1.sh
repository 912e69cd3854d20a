# SPDX-License-Identifier: GPL-2.0
# The first boot: what a user does after `apt install`.

c=modprobe_finds_and_loads_the_dkms_module
if lsmod | grep -q '^mmap '; then
	fail $c "mmap was loaded before anyone asked for it"
else
	say modprobe mmap
	if ! modprobe mmap; then
		fail $c "modprobe mmap failed"
	else
		udevadm settle --timeout=60
		say lsmod; lsmod | grep -E '^(Module|mmap|configfs) '
		say modinfo mmap
		modinfo mmap | grep -E '^(filename|version|description|depends|vermagic|signer):'
		say dkms status mydev; dkms status mydev
		f=$(modinfo -n mmap)
		case $f in
		*/modules/"$(uname -r)"/updates/dkms/mmap.ko*)
			if lsmod | awk '$1 == "configfs" { print $4 }' | grep -qw mmap; then
				pass $c
			else
				fail $c "configfs is not loaded for mmap"
			fi ;;
		*) fail $c "modprobe found $f, not DKMS's module" ;;
		esac
	fi
fi

c=udevd_gives_dev_mydev_to_root_and_group_mydev_mode_0660
say ls -l '/dev/mydev*'; ls -l /dev/mydev*
rule_node $c /dev/mydev && pass $c

c=the_buffers_unit_runs_when_the_module_is_loaded
if unit_ran; then pass $c; else fail $c "mydev-buffers.service did not run, or failed"; fi

c=alice_in_group_mydev_runs_the_walkthrough
say id alice; id alice
out=$(
	for step in "w Hello, World!" r "m This is a test" r "p 5"; do
		cmd=${step%% *}
		arg=${step#"$cmd"}
		arg=${arg# }
		if [ -n "$arg" ]; then
			echo "alice\$ user_test $cmd '$arg'"
			as_alice user_test "$cmd" "$arg" || echo "status $?"
		else
			echo "alice\$ user_test $cmd"
			as_alice user_test "$cmd" || echo "status $?"
		fi
	done
)
echo "$out"
if ! id -nG alice | grep -qw mydev; then
	fail $c "alice is not in group mydev"
elif echo "$out" | grep -q '^status '; then
	fail $c "a step failed"
elif ! echo "$out" | grep -qx 'Hello, World!' || ! echo "$out" | grep -qx 'This is a test' \
	|| ! echo "$out" | grep -q "offset 5: 0x69 'i'"; then
	fail $c "the walkthrough's output is not the seed's"
else
	pass $c
fi

c=bob_outside_the_group_gets_eacces_and_the_hint
say id bob; id bob
echo "bob\$ user_test r"
out=$(as_bob user_test r 2>&1)
s=$?
echo "$out"
echo "(status $s)"
if id -nG bob | grep -qw mydev; then
	fail $c "bob is in group mydev"
elif [ $s = 0 ]; then
	fail $c "bob read the device"
elif ! echo "$out" | grep -q 'Permission denied'; then
	fail $c "the error is not EACCES"
elif ! echo "$out" | grep -q 'usermod -aG mydev'; then
	fail $c "the tool gives no hint about group mydev"
else
	pass $c
fi

# For the next boot: the packaged modules-load.d entry enabled, and two buffers configured.
say sed -i 's/^#mmap$/mmap/' /etc/modules-load.d/mydev.conf
sed -i 's/^#mmap$/mmap/' /etc/modules-load.d/mydev.conf
grep -qx mmap /etc/modules-load.d/mydev.conf || { echo "setup: no #mmap line to enable"; exit 3; }
say "printf 'cam0 4M\nscratch 64K no-huge\n' >>/etc/mydev/buffers.conf"
printf 'cam0 4M\nscratch 64K no-huge\n' >>/etc/mydev/buffers.conf || exit 3
exit $failed
