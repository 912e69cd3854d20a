// SPDX-License-Identifier: GPL-2.0

//! The walkthrough job: the original C project's `user_test` steps, then a buffer made at run
//! time through configfs. `cargo xtask demo` runs it, and so does the package test on the
//! installed tools.

use crate::shell::{shell_quote, shell_words};

/// The steps of the demo: the original C project's walkthrough, then a buffer made at run time
/// through configfs, the same commands on it, and its removal.
pub const DEMO_STEPS: &[&[&str]] = &[
    &["user_test", "w", "Hello, World!"],
    &["user_test", "r"],
    &["user_test", "m", "This is a test"],
    &["user_test", "r"],
    &["user_test", "p", "5"],
    &["mydevctl", "create", "cam", "4M"],
    &["mydevctl", "list"],
    &[
        "user_test",
        "--device",
        "/dev/mydev-cam",
        "w",
        "Hello, cam!",
    ],
    &["user_test", "--device", "/dev/mydev-cam", "r"],
    &["user_test", "--device", "/dev/mydev-cam", "p", "7"],
    &["user_test", "r"],
    &["mydevctl", "remove", "cam"],
];

/// The demo's guest script: echo each step, run it, then show the module's kernel log lines.
pub fn demo_script() -> String {
    let mut s = String::from("fail=0\n");
    for step in DEMO_STEPS {
        let words: Vec<String> = step.iter().map(|w| w.to_string()).collect();
        let line = shell_words(&words);
        s.push_str(&format!("echo {}\n", shell_quote(&format!("$ {line}"))));
        s.push_str(&format!(
            "{line} || {{ echo \"demo: step failed with status $?\"; fail=1; }}\n"
        ));
    }
    s.push_str("echo '$ dmesg | grep mmap:'\ndmesg | grep 'mmap:'\nexit $fail\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_script_echoes_and_runs_each_step() {
        let s = demo_script();
        assert!(
            s.contains(
                "echo '$ user_test w '\\''Hello, World!'\\'''\nuser_test w 'Hello, World!' ||"
            ),
            "{s}"
        );
        assert!(s.contains("user_test p 5 ||"));
        assert!(s.contains("mydevctl create cam 4M ||"));
        assert!(s.contains("user_test --device /dev/mydev-cam r ||"));
        assert!(s.ends_with("exit $fail\n"));
    }
}
