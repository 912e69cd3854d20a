// SPDX-License-Identifier: MIT OR Apache-2.0

//! The ABI seen from the repository: the crate's `src/uapi.rs` must be the module's
//! `module/uapi.rs` (the single definition) but for its licence lines, and the C header
//! `module/mydev.h` must agree with it. These tests read the module's files, so the published
//! crate leaves them out (`exclude` in Cargo.toml).

use mydev::uapi;
use std::path::Path;
use std::process::Command;

/// The first line of the crate's copy that comes from the module's file (the module's line 2).
const COPIED_FROM_LINE: usize = 4;

#[test]
fn uapi_rs_is_the_module_definition_but_for_its_licence() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let module = std::fs::read_to_string(crate_dir.join("../../module/uapi.rs")).unwrap();
    let copy = std::fs::read_to_string(crate_dir.join("src/uapi.rs")).unwrap();
    let copy_lines: Vec<&str> = copy.lines().collect();
    assert_eq!(
        copy_lines[0],
        "// SPDX-License-Identifier: MIT OR Apache-2.0"
    );
    assert!(
        copy_lines[COPIED_FROM_LINE - 1..] == module.lines().skip(1).collect::<Vec<_>>()[..],
        "crates/mydev/src/uapi.rs differs from module/uapi.rs: copy the module's file from its \
         line 2 on after the crate's first {} lines",
        COPIED_FROM_LINE - 1
    );
}

#[test]
fn c_header_matches_the_rust_definition() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::temp_dir().join(format!("mydev-header-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("probe.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include \"mydev.h\"\nint main(void) {\n\
         printf(\"%u %u %u %u %zu\\n\", (unsigned)MYDEV_IOC_MAGIC, (unsigned)MYDEV_IOC_GET_SIZE, (unsigned)MYDEV_IOC_CLEAR, (unsigned)MYDEV_IOC_EXPORT_DMABUF, sizeof(struct mydev_export_dmabuf));\n\
         return 0;\n}\n",
    )
    .unwrap();
    let exe = dir.join("probe");
    let cc = Command::new("cc")
        .arg("-Wall")
        .arg("-Werror")
        .arg("-I")
        .arg(repo.join("module"))
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .expect("a C compiler (cc) to check the header");
    assert!(
        cc.status.success(),
        "the header does not compile: {}",
        String::from_utf8_lossy(&cc.stderr)
    );
    let out = Command::new(&exe).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let values: Vec<u32> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(
        values,
        [
            uapi::MYDEV_IOC_MAGIC,
            uapi::MYDEV_IOC_GET_SIZE,
            uapi::MYDEV_IOC_CLEAR,
            uapi::MYDEV_IOC_EXPORT_DMABUF,
            std::mem::size_of::<uapi::MydevExportDmabuf>() as u32,
        ]
    );
}

#[test]
fn rust_numbers_match_the_kernel_encoding() {
    // _IOR(0xB9, 1, __u64) and _IO(0xB9, 2), computed by rustix's implementation of the macros.
    assert_eq!(
        uapi::MYDEV_IOC_GET_SIZE,
        rustix::ioctl::opcode::read::<u64>(0xB9, 0x01) as u32
    );
    assert_eq!(
        uapi::MYDEV_IOC_CLEAR,
        rustix::ioctl::opcode::none(0xB9, 0x02) as u32
    );
    assert_eq!(
        uapi::MYDEV_IOC_EXPORT_DMABUF,
        rustix::ioctl::opcode::read_write::<uapi::MydevExportDmabuf>(0xB9, 0x03) as u32
    );
    assert_eq!(std::mem::size_of::<uapi::MydevExportDmabuf>(), 24);
}
