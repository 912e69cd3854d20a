// SPDX-License-Identifier: GPL-2.0

//! The configfs buffers as the tests drive them: raw `mkdir`, attribute writes and `rmdir` under
//! `/sys/kernel/config/mydev`, with the exact errno of each step.

use std::io::{self, Write};

/// The subsystem's directory.
pub const ROOT: &str = "/sys/kernel/config/mydev";

/// The directory of buffer `name`.
pub fn dir(name: &str) -> String {
    format!("{ROOT}/{name}")
}

/// The node of buffer `name`.
pub fn node(name: &str) -> String {
    format!("/dev/mydev-{name}")
}

/// Opens the node of buffer `name` for reading and writing.
pub fn open_rw(name: &str) -> Result<std::os::fd::OwnedFd, String> {
    crate::sys::open(&node(name), libc::O_RDWR).map_err(|e| format!("open {}: {e}", node(name)))
}

/// `mkdir` of the buffer's directory.
pub fn mkdir(name: &str) -> io::Result<()> {
    std::fs::create_dir(dir(name))
}

/// `rmdir` of the buffer's directory.
pub fn rmdir(name: &str) -> io::Result<()> {
    std::fs::remove_dir(dir(name))
}

/// Writes `value` to attribute `attr` of buffer `name` in one `write`, as `echo` does.
pub fn set(name: &str, attr: &str, value: &str) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("{}/{attr}", dir(name)))?;
    let n = f.write(value.as_bytes())?;
    if n == value.len() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "short write: {n} of {}",
            value.len()
        )))
    }
}

/// Attribute `attr` of buffer `name`, without its newline.
pub fn get(name: &str, attr: &str) -> Result<String, String> {
    std::fs::read_to_string(format!("{}/{attr}", dir(name)))
        .map(|s| s.trim_end().to_string())
        .map_err(|e| format!("read {}/{attr}: {e}", dir(name)))
}

/// Makes buffer `name` of `size` bytes live, with 2 MiB folios if `huge`.
pub fn create(name: &str, size: usize, huge: bool) -> Result<(), String> {
    mkdir(name).map_err(|e| format!("mkdir {name}: {e}"))?;
    set(name, "size", &size.to_string()).map_err(|e| format!("{name}/size = {size}: {e}"))?;
    set(name, "huge", if huge { "1" } else { "0" }).map_err(|e| format!("{name}/huge: {e}"))?;
    set(name, "live", "1").map_err(|e| format!("{name}/live = 1: {e}"))
}

/// Removes buffer `name` if it exists (`live` 0, then `rmdir`).
pub fn remove(name: &str) -> Result<(), String> {
    if !std::path::Path::new(&dir(name)).exists() {
        return Ok(());
    }
    set(name, "live", "0").map_err(|e| format!("{name}/live = 0: {e}"))?;
    rmdir(name).map_err(|e| format!("rmdir {name}: {e}"))
}

/// The names of every buffer directory.
pub fn list() -> Result<Vec<String>, String> {
    let mut names: Vec<String> = std::fs::read_dir(ROOT)
        .map_err(|e| format!("{ROOT}: {e}"))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Removes every buffer directory: a test's clean-up, so that the next test starts with none.
pub fn remove_all() -> Result<(), String> {
    for name in list()? {
        remove(&name)?;
    }
    Ok(())
}

/// Runs `f`, then removes every buffer whatever `f` returned; the first error wins.
pub fn scoped(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    remove_all()?;
    let r = f();
    let clean = remove_all();
    r.and(clean)
}
