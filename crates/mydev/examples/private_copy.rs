// SPDX-License-Identifier: MIT OR Apache-2.0

//! A private (copy-on-write) mapping of a few bytes in the middle of the buffer, on a read-only
//! open: stores through it stay in this process. Errors convert into `std::io::Error`, so a
//! function returning `io::Result` can use `?` on the crate's calls.
//! `cargo run -p mydev --example private_copy [DEVICE]`.

use mydev::{Device, MapOptions};
use std::io;

fn main() -> io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| mydev::DEFAULT_PATH.to_string());
    let dev = Device::open_read_only(&path)?;
    let offset = dev.size().min(100) / 2;
    let map = MapOptions::new()
        .offset(offset)
        .len(5)
        .private()
        .map(&dev)?;
    map.write(0, b"mine!")?;
    let mut mapped = [0u8; 5];
    map.read(0, &mut mapped)?;
    let mut device = [0u8; 5];
    dev.read_at(offset as u64, &mut device)?;
    println!(
        "offset {offset}: the mapping holds {:?}, the device still {:?}",
        String::from_utf8_lossy(&mapped),
        String::from_utf8_lossy(&device)
    );
    Ok(())
}
