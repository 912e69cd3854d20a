// SPDX-License-Identifier: MIT OR Apache-2.0

//! Writes a greeting with `pwrite`, reads it back through a shared mapping, and prints the
//! buffer's size: `cargo run -p mydev --example hello [DEVICE]` (default `/dev/mydev`).

use std::process::ExitCode;

fn run(path: &str) -> Result<(), mydev::Error> {
    let dev = mydev::Device::open(path)?;
    println!("{}: {} bytes", dev.path().display(), dev.size());
    dev.write_at(0, b"Hello, World!")?;
    let map = dev.map_range(0, 13)?;
    let mut buf = [0u8; 13];
    map.read(0, &mut buf)?;
    println!("the mapping says: {}", String::from_utf8_lossy(&buf));
    Ok(())
}

fn main() -> ExitCode {
    let path = std::env::args().nth(1);
    match run(path.as_deref().unwrap_or(mydev::DEFAULT_PATH)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The message names the operation and the device; the system's error is its source.
            let cause = e.io_error().map(|c| format!(": {c}")).unwrap_or_default();
            eprintln!("hello: {e}{cause}");
            ExitCode::FAILURE
        }
    }
}
