# SPDX-License-Identifier: GPL-2.0
# The second boot, after `reboot`: the module and the buffers come back by themselves; then
# the packages are removed and purged.

c=a_reboot_loads_the_module_from_modules_load_d
say grep -v '^#' /etc/modules-load.d/mydev.conf
grep -v '^#' /etc/modules-load.d/mydev.conf
say systemctl show -p Result systemd-modules-load.service
systemctl show -p Result systemd-modules-load.service
say ls -l '/dev/mydev*'; ls -l /dev/mydev*
if ! lsmod | grep -q '^mmap '; then
	fail $c "mmap is not loaded"
elif [ "$(systemctl show -P Result systemd-modules-load.service)" != success ]; then
	fail $c "systemd-modules-load.service failed"
else
	rule_node $c /dev/mydev && pass $c
fi

c=the_boot_time_unit_creates_the_configured_buffers
if ! unit_ran; then
	fail $c "mydev-buffers.service did not run, or failed"
else
	cfg=/sys/kernel/config/mydev
	say ls $cfg; ls $cfg
	got="$(cat $cfg/cam0/size $cfg/cam0/huge $cfg/cam0/live $cfg/scratch/size $cfg/scratch/huge \
		$cfg/scratch/live 2>&1 | tr '\n' ' ')"
	echo "cam0 size huge live, scratch size huge live: $got"
	if [ "$got" = "4194304 1 1 65536 0 1 " ]; then
		pass $c
	else
		fail $c "the buffers are not those of /etc/mydev/buffers.conf"
	fi
fi

c=buffer_nodes_are_root_mydev_0660_for_alice_not_bob
if rule_node $c /dev/mydev-cam0 && rule_node $c /dev/mydev-scratch; then
	echo "alice\$ user_test --device /dev/mydev-cam0 w 'Hello, cam0!'"
	as_alice user_test --device /dev/mydev-cam0 w 'Hello, cam0!'
	echo "alice\$ user_test --device /dev/mydev-cam0 r"
	out=$(as_alice user_test --device /dev/mydev-cam0 r)
	echo "$out"
	echo "bob\$ user_test --device /dev/mydev-scratch r"
	bob=$(as_bob user_test --device /dev/mydev-scratch r 2>&1)
	s=$?
	echo "$bob"
	if [ "$out" != 'Hello, cam0!' ]; then
		fail $c "alice did not read back what she wrote"
	elif [ $s = 0 ] || ! echo "$bob" | grep -q 'Permission denied'; then
		fail $c "bob was not refused with EACCES"
	else
		pass $c
	fi
fi

# What the packages own, before they go.
dpkg -L mydev-dkms mydev-tools | while read -r f; do
	[ -f "$f" ] && echo "$f"
done >/run/mydev-files
echo "the packages own $(wc -l </run/mydev-files) files"

c=apt_remove_then_modprobe_fails_and_no_module_tree_or_tool_is_left
say mydevctl remove cam0; mydevctl remove cam0
say mydevctl remove scratch; mydevctl remove scratch
say modprobe -r mmap
if ! modprobe -r mmap; then
	fail $c "modprobe -r mmap failed"
else
	say apt-get -y remove mydev-dkms mydev-tools
	apt-get -q -y remove mydev-dkms mydev-tools >/run/apt-remove.log 2>&1
	s=$?
	tail -n 4 /run/apt-remove.log
	say modprobe mmap
	modprobe mmap
	m=$?
	left=$(
		find /lib/modules /usr/lib/modules /usr/src -name 'mmap.ko*' -o -name 'mydev-*' \
			2>/dev/null
		for f in /var/lib/mydev-dkms /var/lib/dkms/mydev /dev/mydev; do
			[ -e $f ] && echo $f
		done
		grep -v '^/etc/' /run/mydev-files | while read -r f; do
			[ -e "$f" ] && echo "$f"
		done
	)
	if [ $s != 0 ]; then
		fail $c "apt-get remove failed"
	elif [ $m = 0 ]; then
		fail $c "modprobe mmap still loads a module"
	elif [ -n "$left" ]; then
		fail $c "left: $(echo $left)"
	else
		pass $c
	fi
fi

c=apt_purge_leaves_no_file_of_either_package
say apt-get -y purge mydev-dkms mydev-tools
apt-get -q -y purge mydev-dkms mydev-tools >/run/apt-purge.log 2>&1
s=$?
tail -n 2 /run/apt-purge.log
left=$(
	while read -r f; do
		[ -e "$f" ] && echo "$f"
	done </run/mydev-files
	[ -e /etc/mydev ] && echo /etc/mydev
)
if [ $s != 0 ]; then
	fail $c "apt-get purge failed"
elif [ -n "$left" ]; then
	fail $c "left: $(echo $left)"
else
	pass $c
fi
exit $failed
