# SPDX-License-Identifier: GPL-2.0
# The start of every boot's job in the system image: `pass NAME` and `fail NAME WHY` print the
# lines the harness counts (one test each), `say` echoes a command before it runs.
exec 2>&1
failed=0
pass() { echo "check: $1: ok"; }
fail() { echo "check: $1: FAILED: $2"; failed=1; }
say() { echo "\$ $*    # at $(cut -d' ' -f1 /proc/uptime) s"; }
# The node's mode, owner and group must be the udev rule's.
rule_node() {
	m=$(stat -c '%A %U %G' "$2" 2>&1)
	[ "$m" = "crw-rw---- root mydev" ] && return 0
	fail "$1" "$2 is '$m', not 'crw-rw---- root mydev'"
	return 1
}
# Waits until mydev-buffers.service has run once since this boot's module load, for at most
# a minute; then prints what systemd says of it.
unit_ran() {
	i=0
	while [ "$(systemctl show -P ExecMainExitTimestampMonotonic mydev-buffers.service)" = 0 ] \
		&& [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
	say systemctl is-active mydev-buffers.service
	systemctl is-active mydev-buffers.service
	say systemctl show -p Result -p ExecMainStatus mydev-buffers.service
	systemctl show -p Result -p ExecMainStatus mydev-buffers.service
	say journalctl -b -o cat -u mydev-buffers.service
	journalctl -b -o cat -u mydev-buffers.service
	[ "$(systemctl show -P Result mydev-buffers.service)" = success ] \
		&& [ "$(systemctl show -P ExecMainStatus mydev-buffers.service)" = 0 ] \
		&& [ "$(systemctl show -P ExecMainExitTimestampMonotonic mydev-buffers.service)" != 0 ]
}
as_alice() { runuser -u alice -- "$@"; }
as_bob() { runuser -u bob -- "$@"; }
echo "boot: $(uname -r), system $(systemctl is-system-running --wait)"
systemd-analyze | head -n 1
udevadm settle --timeout=60
