// SPDX-License-Identifier: GPL-2.0

//! Running the self-tests and scenarios of `cases.rs` on the minimal kernel, each in a guest of
//! its own, one after the other.

use crate::bench::counts::{COUNT_CPUS, count_qemu_args};
use crate::bench::plugin;
use crate::guest::opts::GuestOpts;
use crate::guest::run;
use crate::guest::spec::GuestSpec;
use crate::kernels::ensure::Built;
use crate::paths::Paths;
use crate::report::ktap::{Outcome, TestResult};
use crate::report::tally::Tally;
use crate::selftest::cases::{Case, WITH_FILE, cases};
use crate::tools::Tools;
use crate::ui::Phase;
use anyhow::Result;
use std::path::PathBuf;
use std::time::Duration;

/// Writes the program that the first case copies into the guest.
fn write_with_file(paths: &Paths) -> Result<PathBuf> {
    let with_file = paths.work.join(WITH_FILE);
    std::fs::write(&with_file, "#!/bin/sh\necho hello from the guest\nexit 3\n")?;
    std::fs::set_permissions(
        &with_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    Ok(with_file)
}

/// Runs the cases whose `source-name` contains one of `wanted` (every case if `wanted` is
/// empty) on `built` (the minimal kernel with `mmap.ko` and `cref.ko`): `cargo xtask selftest
/// NAME...`.
pub fn run_matching(
    paths: &Paths,
    built: &Built,
    tools: &Tools,
    opts: &GuestOpts,
    tally: &mut Tally,
    wanted: &[String],
) -> Result<()> {
    let phase = Phase::start(
        "selftest",
        "harness self-tests: guests that fail on purpose must be reported as failing",
    );
    let files = [write_with_file(paths)?];
    let crefs = [built.cref()?.clone()];
    let mut plugin = None;
    for case in cases() {
        let label = format!("{}-{}", case.source, case.name);
        if !wanted.is_empty() && !wanted.iter().any(|w| label.contains(w.as_str())) {
            continue;
        }
        let extra = if case.count {
            let so = match &plugin {
                Some(so) => so,
                None => plugin.insert(plugin::ensure_plugin(paths)?),
            };
            count_qemu_args(so, &paths.work.join("runs").join(&label))?
        } else {
            Vec::new()
        };
        let params: Vec<String> = match case.params {
            Some(p) => p.iter().map(|s| s.to_string()).collect(),
            None => opts.params.clone(),
        };
        let spec = GuestSpec {
            params: &params,
            files: &files,
            extra_modules: if case.cref { &crefs } else { &[] },
            timeout: Some(Duration::from_secs(case.timeout)),
            memory_mib: case.memory_mib.unwrap_or(opts.memory),
            cpus: if case.count { COUNT_CPUS } else { opts.cpus },
            qemu_extra: &extra,
            one_thread: true,
            ..GuestSpec::new(
                &label,
                &built.kernel,
                &built.module,
                tools,
                case.job.clone(),
            )
            .with_opts(opts)
        };
        let outcome = judge(&case, &run::run(paths, &spec)?, built);
        phase.note(&format!(
            "{} {}",
            if outcome == Outcome::Pass {
                "ok"
            } else {
                "FAILED"
            },
            case.name
        ));
        tally.result(
            case.source,
            &TestResult {
                name: case.name.to_string(),
                outcome,
            },
        );
    }
    phase.done("done");
    Ok(())
}

/// Whether the harness judged `case`'s run as it should; why not, on stderr.
fn judge(case: &Case, run: &run::GuestRun, built: &Built) -> Outcome {
    match (case.check)(run, &built.kernel) {
        Ok(()) => Outcome::Pass,
        Err(why) => {
            eprintln!("    {} {}: {why}", case.source, case.name);
            Outcome::Fail
        }
    }
}
