// SPDX-License-Identifier: GPL-2.0

//! The two ways to install the module on a real kernel, tested against the harness's own kernel
//! build: `make -C module KDIR=… modules_install`, and DKMS with `module/dkms.conf`. Both run in
//! directories of their own under `target/mydev`, so the host's `/lib/modules` and DKMS tree are
//! untouched.

use crate::kernels::build::make_command;
use crate::kernels::kernel::Kernel;
use crate::kernels::module::{copy_module_sources, copy_sources};
use crate::paths::Paths;
use crate::report::ktap::{Outcome, TestResult};
use crate::report::tally::Tally;
use crate::ui::{Phase, run_logged};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// `PACKAGE_VERSION` from a `dkms.conf`.
pub fn dkms_version(conf: &str) -> Option<String> {
    conf.lines()
        .find_map(|l| l.trim().strip_prefix("PACKAGE_VERSION="))
        .map(|v| v.trim_matches('"').to_string())
}

fn modules_install(paths: &Paths, kernel: &Kernel) -> Result<()> {
    let src = copy_module_sources(paths, "install")?;
    let root = paths.work.join("install-root");
    if root.exists() {
        std::fs::remove_dir_all(&root)?;
    }
    let log = paths.logs.join("install-modules_install.log");
    std::fs::write(&log, "")?;
    let mut build = make_command(&src, kernel.profile.llvm);
    build.arg(format!("KDIR={}", kernel.dir.display()));
    run_logged("make -C module", &mut build, &log, Duration::from_secs(30))?;
    let mut install = make_command(&src, kernel.profile.llvm);
    install
        .arg(format!("KDIR={}", kernel.dir.display()))
        .arg(format!("INSTALL_MOD_PATH={}", root.display()));
    install.arg("modules_install");
    run_logged(
        "make -C module modules_install",
        &mut install,
        &log,
        Duration::from_secs(30),
    )?;
    let ko = root.join(format!("lib/modules/{}/updates/mmap.ko", kernel.version));
    if !ko.is_file() {
        bail!(
            "modules_install did not install {}; log: {}",
            ko.display(),
            log.display()
        );
    }
    Ok(())
}

fn dkms(paths: &Paths, kernel: &Kernel) -> Result<PathBuf> {
    let conf = std::fs::read_to_string(paths.repo.join("module/dkms.conf"))?;
    let version = dkms_version(&conf).context("no PACKAGE_VERSION in module/dkms.conf")?;
    let base = paths.work.join("dkms");
    if base.exists() {
        std::fs::remove_dir_all(&base)?;
    }
    let (source_tree, dkms_tree) = (base.join("src"), base.join("tree"));
    // DKMS's source tree: module/ as /usr/src/mydev-<version> would hold it.
    copy_sources(paths, "module", &format!("dkms/src/mydev-{version}"))?;
    std::fs::create_dir_all(&dkms_tree)?;
    let log = paths.logs.join("install-dkms.log");
    std::fs::write(&log, "")?;
    let dkms = |action: &str| {
        let mut cmd = Command::new("dkms");
        cmd.env("PATH", crate::setup::tool_path())
            .env("LIBCLANG_PATH", crate::setup::LIBCLANG_PATH);
        cmd.arg(action).args(["-m", "mydev", "-v", &version]);
        cmd.arg("--sourcetree")
            .arg(&source_tree)
            .arg("--dkmstree")
            .arg(&dkms_tree);
        cmd
    };
    run_logged("dkms add", &mut dkms("add"), &log, Duration::from_secs(30))?;
    let mut build = dkms("build");
    build
        .args(["-k", &kernel.version])
        .arg("--kernelsourcedir")
        .arg(&kernel.dir);
    run_logged("dkms build", &mut build, &log, Duration::from_secs(30))?;
    let ko = dkms_tree.join(format!(
        "mydev/{version}/{}/x86_64/module/mmap.ko",
        kernel.version
    ));
    if !ko.is_file() {
        bail!(
            "dkms build made no {}; log: {}",
            ko.display(),
            log.display()
        );
    }
    Ok(ko)
}

/// Runs both installation paths and counts them as tests.
pub fn run(paths: &Paths, kernel: &Kernel, tally: &mut Tally) {
    let phase = Phase::start(
        "install",
        &format!(
            "modules_install and DKMS against the {} kernel build",
            kernel.profile.name
        ),
    );
    let results = [
        (
            "modules_install_puts_mmap_ko_under_updates",
            modules_install(paths, kernel),
        ),
        (
            "dkms_builds_the_module_from_dkms_conf",
            dkms(paths, kernel).map(drop),
        ),
    ];
    for (name, result) in results {
        let outcome = match result {
            Ok(()) => Outcome::Pass,
            Err(e) => {
                eprintln!("    [install] {name}: {e:#}");
                Outcome::Fail
            }
        };
        phase.note(&format!(
            "{} {name}",
            if outcome == Outcome::Pass {
                "ok"
            } else {
                "FAILED"
            }
        ));
        tally.result(
            "install",
            &TestResult {
                name: name.to_string(),
                outcome,
            },
        );
    }
    phase.done("done");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn dkms_conf_names_the_module_and_its_version() {
        let conf = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../module/dkms.conf"),
        )
        .unwrap();
        assert_eq!(
            dkms_version(&conf).as_deref(),
            Some(env!("CARGO_PKG_VERSION"))
        );
        assert!(conf.contains("BUILT_MODULE_NAME[0]=\"mmap\""));
        assert!(conf.contains("BUILD_EXCLUSIVE_CONFIG=\"CONFIG_RUST\""));
    }
}
