#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# /usr/local/sbin/mydev-harness-job, started by mydev-harness.service once the system is up:
# runs bootN.sh from the harness's job disk (/dev/vdb), N counting this image's boots; its
# output goes to ttyS1 and its status to ttyS2, as in the harness's busybox guests. Then the
# system reboots into the next boot's job, or powers off when there is none.
count=/var/lib/mydev-harness/boots
mkdir -p /var/lib/mydev-harness /run/mydev-job
n=$(( $(cat "$count" 2>/dev/null || echo 0) + 1 ))
echo "$n" >"$count"
sync
status=125
if ! mount -o ro /dev/vdb /run/mydev-job >/dev/ttyS1 2>&1; then
	echo "mydev-harness-job: cannot mount the job disk" >/dev/ttyS1
elif [ ! -f "/run/mydev-job/boot$n.sh" ]; then
	echo "mydev-harness-job: no job for boot $n" >/dev/ttyS1
else
	echo "mydev-boot $n" >/dev/ttyS1
	sh "/run/mydev-job/boot$n.sh" >/dev/ttyS1 2>&1 </dev/null
	status=$?
fi
echo "mydev-status $status" >/dev/ttyS2
if [ -f "/run/mydev-job/boot$((n + 1)).sh" ]; then
	systemctl reboot
else
	systemctl poweroff
fi
