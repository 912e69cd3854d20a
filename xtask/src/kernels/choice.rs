// SPDX-License-Identifier: GPL-2.0

//! `--kernel`: the kernels a guest can boot, and each command's refusal of those it does not
//! run on.

use crate::kernels::profile::{self, Profile};
use crate::kernels::stock::{self, Distro};
use anyhow::{Result, bail};

/// A kernel a guest can boot: one of ours, or one of Debian's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KernelChoice {
    Minimal,
    Test,
    #[value(name = "debian-7.3")]
    Debian73,
    #[value(name = "debian-7.2")]
    Debian72,
}

/// Every kernel, in the order `cargo xtask build` prepares them.
pub const ALL: [KernelChoice; 4] = [
    KernelChoice::Minimal,
    KernelChoice::Test,
    KernelChoice::Debian73,
    KernelChoice::Debian72,
];

impl KernelChoice {
    /// The Debian kernel this names, if it names one.
    pub fn distro(self) -> Option<Distro> {
        match self {
            KernelChoice::Minimal | KernelChoice::Test => None,
            KernelChoice::Debian73 => Some(stock::DEBIAN_73),
            KernelChoice::Debian72 => Some(stock::DEBIAN_72),
        }
    }

    /// The profile of our kernel this names, if it names one.
    pub fn profile(self) -> Option<Profile> {
        match self {
            KernelChoice::Minimal => Some(profile::MINIMAL),
            KernelChoice::Test => Some(profile::TEST),
            KernelChoice::Debian73 | KernelChoice::Debian72 => None,
        }
    }

    /// The name `--kernel` takes.
    pub fn name(self) -> &'static str {
        match self {
            KernelChoice::Minimal => "minimal",
            KernelChoice::Test => "test",
            KernelChoice::Debian73 => "debian-7.3",
            KernelChoice::Debian72 => "debian-7.2",
        }
    }
}

/// Fails with `why` and the kernels `command` accepts unless `choice` (if given) is one of them.
pub fn refuse_others(
    command: &str,
    choice: Option<KernelChoice>,
    accepted: &[KernelChoice],
    why: &str,
) -> Result<()> {
    match choice {
        Some(c) if !accepted.contains(&c) => {
            let names: Vec<&str> = accepted.iter().map(|k| k.name()).collect();
            bail!(
                "{command} --kernel {}: {why}; {command} accepts --kernel {}",
                c.name(),
                names.join(", ")
            )
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn names_are_the_values_clap_takes() {
        for k in ALL {
            assert_eq!(KernelChoice::from_str(k.name(), false), Ok(k));
            assert!(k.distro().is_some() != k.profile().is_some());
        }
    }

    #[test]
    fn a_command_refuses_the_kernels_it_does_not_run_on() {
        let only_minimal = [KernelChoice::Minimal];
        assert!(refuse_others("x", None, &only_minimal, "why").is_ok());
        assert!(refuse_others("x", Some(KernelChoice::Minimal), &only_minimal, "why").is_ok());
        let e = refuse_others(
            "selftest",
            Some(KernelChoice::Test),
            &only_minimal,
            "because",
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "selftest --kernel test: because; selftest accepts --kernel minimal"
        );
    }
}
