// SPDX-License-Identifier: GPL-2.0

//! The package test's boot: Debian's own image with the `mmap.ko` that DKMS built in the chroot
//! and the installed tools, the installed boot-time unit's command run as udev and systemd
//! would, and the seed walkthrough; the checks of what the guest printed.

use crate::guest::demo::demo_script;
use crate::guest::run as guest;
use crate::guest::spec::{GuestSpec, Job};
use crate::kernels::kernel::Kernel;
use crate::kernels::stock_modules::unpack_module;
use crate::paths::Paths;
use crate::tools::Tools;
use anyhow::{Result, bail};
use std::path::Path;
use std::time::Duration;

/// Boots Debian's image with `module`, the `mmap.ko` DKMS built in the chroot at `root`, and
/// the user_test the package installed there; `base` is a scratch directory.
pub(super) fn walkthrough(
    paths: &Paths,
    kernel: &Kernel,
    tools: &Tools,
    root: &Path,
    module: &Path,
    base: &Path,
) -> Result<()> {
    let ko = base.join("mmap.ko");
    unpack_module(module, &ko)?;
    let installed_tools = Tools {
        user_test: root.join("usr/bin/user_test"),
        mydevctl: root.join("usr/bin/mydevctl"),
        ..tools.clone()
    };
    // What udev and systemd would do when the module loads: the installed rule names the
    // installed unit, whose command applies a two-line configuration.
    let boot_files = [
        root.join("usr/lib/systemd/system/mydev-buffers.service"),
        root.join("usr/lib/udev/rules.d/61-mydev-buffers.rules"),
    ];
    let job = Job::Script(format!("{BOOT_UNIT_SCRIPT}{}", demo_script()));
    let spec = GuestSpec {
        files: &boot_files,
        timeout: Some(Duration::from_secs(300)),
        ..GuestSpec::new("package-test", kernel, &ko, &installed_tools, job)
    };
    let run = guest::run(paths, &spec)?;
    eprint!("{}", run.output);
    let problems = run.problems();
    if run.status != Some(0) || !problems.is_empty() {
        bail!(
            "the walkthrough failed (status {:?}) {problems:?}; console: {}",
            run.status,
            run.console_log.display()
        );
    }
    check_boot_unit(&run.output)?;
    check_walkthrough(&run.output)
}

/// The package test's boot-time step, in the guest (busybox: no udev, no systemd): checks that
/// the installed udev rule starts the installed unit, runs the unit's `ExecStart` with a
/// two-line `/etc/mydev/buffers.conf`, lists the buffers it made, and removes them.
const BOOT_UNIT_SCRIPT: &str = r#"unit=/work/mydev-buffers.service
grep -q 'SYSTEMD_WANTS.*mydev-buffers.service' /work/61-mydev-buffers.rules || { echo "boot: the udev rule does not start the unit"; exit 3; }
mkdir -p /etc/mydev
printf '# two buffers
cam0 4M
scratch 64K no-huge
' > /etc/mydev/buffers.conf
cmd=$(sed -n 's/^ExecStart=//p' $unit)
echo "boot: \$ $cmd"
# The guest has the package's mydevctl on its PATH (in /bin), not in /usr/bin.
set -- $cmd
[ "$1" = /usr/bin/mydevctl ] || { echo "boot: the unit runs $1, not the packaged /usr/bin/mydevctl"; exit 3; }
shift
cmd="mydevctl $*"
$cmd || { echo "boot: the unit's command failed with status $?"; exit 3; }
for n in cam0 scratch; do [ -c /dev/mydev-$n ] || { echo "boot: no /dev/mydev-$n"; exit 3; }; done
echo "boot: buffers: $(ls /sys/kernel/config/mydev | tr '
' ' ')"
echo "boot: cam0 $(cat /sys/kernel/config/mydev/cam0/size) bytes, scratch $(cat /sys/kernel/config/mydev/scratch/size) bytes"
$cmd | sed 's/^/boot: again: /'
mydevctl remove cam0 && mydevctl remove scratch || exit 3
"#;

/// The boot-time step's output must show both buffers made from the configuration, of its
/// sizes, and a second `apply` that changed nothing.
pub(super) fn check_boot_unit(output: &str) -> Result<()> {
    for want in [
        "boot: buffers: cam0 scratch ",
        "boot: cam0 4194304 bytes, scratch 65536 bytes",
        "boot: again: /etc/mydev/buffers.conf: 0 changed, 2 unchanged",
    ] {
        if !output.contains(want) {
            bail!("the boot-time unit's output lacks {want:?}:\n{output}");
        }
    }
    if output
        .lines()
        .any(|l| l.starts_with("boot: again: created"))
    {
        bail!("a second apply made buffers again:\n{output}");
    }
    Ok(())
}

/// The walkthrough's output must show each step's effect: the seed's on `/dev/mydev`, then a
/// configfs buffer made, listed, written and read (`cam` has its own bytes: offset 7 of
/// "Hello, cam!" is `c`), while `/dev/mydev` kept its own, and removed.
pub(super) fn check_walkthrough(output: &str) -> Result<()> {
    for want in [
        "Hello, World!",
        "This is a test",
        "0x69 'i'",
        "created cam: ",
        "/dev/mydev-cam",
        "Hello, cam!",
        "offset 7: 0x63 'c'",
        "removed cam",
    ] {
        if !output.contains(want) {
            bail!("the walkthrough's output lacks {want:?}:\n{output}");
        }
    }
    Ok(())
}
