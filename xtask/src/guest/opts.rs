// SPDX-License-Identifier: GPL-2.0

//! The options of every command that boots guests: module parameters, accelerator, timeout,
//! memory, vCPUs and the kernel.

use crate::guest::qemu;
use crate::kernels::choice::KernelChoice;
use clap::Args;

/// Guest memory in MiB unless a command or option says otherwise.
pub const DEFAULT_MEMORY_MIB: u32 = 1024;
/// Guest vCPUs unless a command or option says otherwise.
pub const DEFAULT_CPUS: u32 = 2;

#[derive(Debug, Clone, Args)]
pub struct GuestOpts {
    /// A module parameter for insmod, NAME=VALUE (repeatable), e.g. --param size=8192.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<String>,
    /// QEMU accelerator. TCG (software emulation) is the default because KVM guests hang at boot
    /// on these machines; the one used is always printed.
    #[arg(long, value_enum, default_value = "tcg")]
    pub accel: qemu::Accel,
    /// Kill the guest after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value = "600")]
    pub timeout: u64,
    /// Guest memory in MiB.
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MEMORY_MIB)]
    pub memory: u32,
    /// Guest CPUs.
    #[arg(long, default_value_t = DEFAULT_CPUS)]
    pub cpus: u32,
    /// The kernel to boot: `minimal` (the default of demo and vm), `test` (with the debugging
    /// aids), or Debian's own signed `debian-7.3` (trixie-backports) or `debian-7.2` (forky). For
    /// `test`: run the in-guest suites on that kernel only (default: the test kernel and both
    /// Debian kernels).
    #[arg(long, value_enum)]
    pub kernel: Option<KernelChoice>,
}

/// Checks a `NAME=VALUE` module parameter: a C identifier, `=`, and a value without spaces.
fn parse_param(s: &str) -> Result<String, String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?} is not NAME=VALUE"))?;
    let ident = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !ident {
        return Err(format!("{name:?} is not a parameter name"));
    }
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '"')
    {
        return Err(format!(
            "the value of {name} must be non-empty, without spaces or quotes"
        ));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_checked() {
        assert_eq!(parse_param("size=8192"), Ok("size=8192".to_string()));
        assert!(parse_param("size").is_err());
        assert!(parse_param("=1").is_err());
        assert!(parse_param("1x=1").is_err());
        assert!(parse_param("size=").is_err());
        assert!(parse_param("size=1 2").is_err());
        assert!(parse_param("size='1'").is_err());
    }
}
