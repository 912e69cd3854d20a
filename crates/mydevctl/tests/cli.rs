// SPDX-License-Identifier: GPL-2.0

//! `mydevctl` as a program, against a fake configfs tree (`--configfs`).

#[allow(dead_code, reason = "shared with the unit tests, which use all of it")]
#[path = "../src/fake.rs"]
mod fake;

use fake::Tree;
use std::process::Command;

/// Runs `mydevctl --configfs ROOT ARGS`: (status, stdout, stderr).
fn mydevctl(t: &Tree, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_mydevctl"))
        .arg("--configfs")
        .arg(&t.root)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn names(t: &Tree) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(&t.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn list_prints_a_table_of_the_tree() {
    let t = Tree::new();
    let (st, out, _) = mydevctl(&t, &["list"]);
    assert_eq!((st, out.as_str()), (0, "no buffers\n"));
    t.buffer("cam", 4 << 20, true, true);
    let (st, out, err) = mydevctl(&t, &["list"]);
    assert_eq!(st, 0, "{err}");
    assert_eq!(
        out,
        "NAME  SIZE  HUGE  HUGE PARTS  NODE            LIVE\n\
         cam   4M    yes   2 of 2      /dev/mydev-cam  yes\n"
    );
}

#[test]
fn apply_refuses_a_bad_file_with_its_line_before_changing_anything() {
    let t = Tree::new();
    t.buffer("old", 8192, true, true);
    let conf = t.base.join("buffers.conf");
    std::fs::write(&conf, "# two buffers\nnew 4M\nold 8Q\n").unwrap();
    let (st, out, err) = mydevctl(&t, &["apply", conf.to_str().unwrap()]);
    assert_eq!(st, 2);
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("buffers.conf: line 3: \"8Q\" is not a size")
            && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(names(&t), ["old"]);
    assert_eq!(
        std::fs::read_to_string(t.root.join("old/size")).unwrap(),
        "8192\n"
    );
}

#[test]
fn apply_of_a_matching_file_changes_nothing_and_says_so() {
    let t = Tree::new();
    t.buffer("cam", 4 << 20, true, true);
    t.buffer("extra", 4096, false, true);
    let conf = t.base.join("buffers.conf");
    std::fs::write(&conf, "cam 4M\n").unwrap();
    let (st, out, err) = mydevctl(&t, &["apply", conf.to_str().unwrap()]);
    assert_eq!(st, 0, "{err}");
    let shown = conf.display();
    assert_eq!(
        out,
        format!(
            "left alone: extra (not in {shown})\n{shown}: 0 changed, 1 unchanged, 1 left alone\n"
        )
    );
    assert_eq!(names(&t), ["cam", "extra"]);
}

#[test]
fn a_missing_configuration_file_is_an_error_naming_it() {
    let t = Tree::new();
    let (st, _, err) = mydevctl(&t, &["apply", "/nonexistent/buffers.conf"]);
    assert_eq!(st, 1);
    assert!(
        err.contains("cannot read /nonexistent/buffers.conf"),
        "{err}"
    );
}

#[test]
fn without_configfs_every_command_says_how_to_mount_it() {
    let t = Tree::new();
    std::fs::remove_dir(&t.root).unwrap();
    let conf = t.base.join("buffers.conf");
    std::fs::write(&conf, "cam 4M\n").unwrap();
    for args in [
        vec!["list"],
        vec!["create", "cam", "4M"],
        vec!["remove", "cam"],
        vec!["apply", conf.to_str().unwrap()],
    ] {
        let (st, out, err) = mydevctl(&t, &args);
        assert_eq!(st, 1, "{args:?}");
        assert!(out.is_empty(), "{args:?}: {out}");
        assert!(
            err.starts_with("mydevctl: ")
                && err.contains("mount -t configfs none")
                && err.lines().count() == 1,
            "{args:?}: {err}"
        );
    }
}

#[test]
fn remove_of_a_missing_buffer_points_at_list() {
    let t = Tree::new();
    let (st, _, err) = mydevctl(&t, &["remove", "cam"]);
    assert_eq!(st, 1);
    assert!(
        err.contains("there is no buffer cam; `mydevctl list` shows them"),
        "{err}"
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let t = Tree::new();
    for args in [
        &["create", "cam", "4097"][..],
        &["create", ".cam", "4K"],
        &["create", "cam", "2G"],
        &["remove", &"n".repeat(33)],
        &["frobnicate"],
    ] {
        let (st, out, err) = mydevctl(&t, args);
        assert_eq!(st, 2, "{args:?}: {err}");
        assert!(
            out.is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
    assert!(names(&t).is_empty());
}
