#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the mydev guest (generated initramfs, see xtask/src/guest/initramfs.rs).
#
# Channels: the kernel console is ttyS0; the job's output goes to ttyS1 and its exit status, as
# one line `mydev-status N`, to ttyS2. A guest that reports no status crashed or was killed.

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /root
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
export PATH=/bin HOME=/root

. /etc/mydev/env
export MYDEV_PARAMS MYDEV_MODULE=/lib/modules/mmap.ko

OUT=/dev/ttyS1
CTL=/dev/ttyS2
stty -F $OUT raw -echo
stty -F $CTL raw -echo

report() {
    echo "mydev-status $1" > $CTL
    sync
    reboot -f
    sleep 10
}

# The kernel's own modules that the guest needs (on Debian's kernels: configfs, and the drivers
# the suites use as peers), each with its arguments from <module>.args, then configfs.
for m in /lib/modules/preload/*.ko; do
    [ -e "$m" ] || continue
    args=""
    [ -e "$m.args" ] && args=$(cat "$m.args")
    # shellcheck disable=SC2086 # the arguments are separate words on purpose
    if ! insmod "$m" $args; then
        echo "mydev-init: insmod $m failed" > $OUT
        report 125
    fi
done
mount -t configfs configfs /sys/kernel/config 2>/dev/null

echo "mydev-init: $(nproc) CPUs, $(free -m | awk '/Mem:/ {print $2}') MiB; insmod mmap.ko $MYDEV_PARAMS"
# shellcheck disable=SC2086 # the parameters are separate words on purpose
if ! insmod $MYDEV_MODULE $MYDEV_PARAMS; then
    echo "mydev-init: insmod mmap.ko $MYDEV_PARAMS failed" > $OUT
    report 125
fi

cd /work || report 126
case "$MYDEV_MODE" in
interactive)
    echo "mydev: /dev/mydev is ready; user_test is on PATH. Exit the shell (or Ctrl-A X) to power off."
    setsid cttyhack sh -l
    st=$?
    ;;
crash)
    # Harness self-test: init exits, and the kernel panics ("Attempted to kill init!").
    exit 42
    ;;
*)
    sh /etc/mydev/job.sh > $OUT 2>&1 < /dev/null
    st=$?
    ;;
esac
report $st
