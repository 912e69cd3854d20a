// SPDX-License-Identifier: GPL-2.0

//! The guest's initramfs: busybox and its `/init` (`xtask/guest/init.sh`), the module and the
//! modules it preloads, the tools and suites, the users and groups, and the job.

use crate::guest::cpio::Initramfs;
use crate::guest::spec::{GuestSpec, Job};
use crate::shell::shell_quote;
use anyhow::{Context, Result};
use std::path::Path;

/// The guest's `/init`.
const INIT: &str = include_str!("../../guest/init.sh");

/// The initramfs of `spec`'s run.
pub fn build(spec: &GuestSpec<'_>) -> Result<Initramfs> {
    let mut fs = Initramfs::new();
    for d in ["proc", "sys", "dev", "tmp", "run", "root", "work"] {
        fs.dir(d);
    }
    fs.file("init", INIT, 0o755);
    fs.host_file("bin/busybox", Path::new("/bin/busybox"))
        .context("busybox-static is a harness dependency")?;
    fs.symlink("bin/sh", "busybox");
    fs.host_file("lib/modules/mmap.ko", spec.module)?;
    // Loaded by `/init` before `mmap.ko`, in this order (the names sort as the list does).
    // Each with its arguments, if any, in `<module>.args`.
    for (i, m) in spec.kernel.preload.iter().enumerate() {
        let name =
            m.ko.file_name()
                .and_then(|n| n.to_str())
                .context("module file name")?;
        let at = format!("lib/modules/preload/{i:02}-{name}");
        fs.host_file(&at, &m.ko)?;
        if !m.args.is_empty() {
            fs.file(&format!("{at}.args"), m.args.as_str(), 0o644);
        }
    }
    fs.host_file("bin/user_test", &spec.tools.user_test)?;
    fs.host_file("bin/mydevctl", &spec.tools.mydevctl)?;
    for (name, bin) in &spec.tools.suites {
        fs.host_file(&format!("opt/mydev/{name}"), bin)?;
    }
    fs.host_file("opt/mydev/mydev_example", &spec.tools.c_example)?;
    fs.host_file("opt/mydev/mydev-bench", &spec.tools.bench)?;
    for m in spec.extra_modules {
        let name = m
            .file_name()
            .and_then(|n| n.to_str())
            .context("module file name")?;
        fs.host_file(&format!("lib/modules/{name}"), m)?;
    }
    // The shipped udev rule, which the guest tests apply by hand (the guest runs no udev).
    fs.host_file("etc/udev/rules.d/60-mydev.rules", &spec.tools.udev_rule)?;
    // `alice` is in group `mydev`; `nobody` is not.
    fs.file(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000:alice:/tmp:/bin/sh\n\
         nobody:x:65534:65534:nobody:/tmp:/bin/sh\n",
        0o644,
    );
    fs.file(
        "etc/group",
        "root:x:0:\nmydev:x:990:alice\nalice:x:1000:\nnogroup:x:65534:\n",
        0o644,
    );
    let mode = match spec.job {
        Job::Script(_) => "job",
        Job::Interactive => "interactive",
        Job::Crash => "crash",
    };
    fs.file(
        "etc/mydev/env",
        format!(
            "MYDEV_PARAMS={}\nMYDEV_MODE={mode}\n",
            shell_quote(&spec.params.join(" "))
        ),
        0o644,
    );
    if let Job::Script(s) = &spec.job {
        fs.file("etc/mydev/job.sh", s.as_bytes(), 0o755);
    }
    for f in spec.files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("{}: not a file name", f.display()))?;
        fs.host_file(&format!("work/{name}"), f)?;
    }
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_reports_status_on_the_control_channel() {
        assert!(INIT.contains("echo \"mydev-status $1\" > $CTL"));
        assert!(INIT.contains("> $OUT 2>&1"));
    }
}
