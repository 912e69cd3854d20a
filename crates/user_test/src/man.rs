// SPDX-License-Identifier: GPL-2.0

//! The man page, generated from the command line: `packaging/user_test.1` (which mydev-tools
//! installs) must be what [`render`] makes of [`Cli`], and a test says so.
//! `MYDEV_UPDATE_MAN=1 cargo test -p user_test man_page` rewrites it after a change to the CLI.

use crate::cli::{Cli, EXAMPLES, EXIT_STATUS, NUMBERS, SETUP};
use clap::{Arg, CommandFactory};
use std::fmt::Write as _;
use std::path::PathBuf;

/// `text` as roff running text: backslashes and hyphens escaped, no line taken for a request.
fn esc(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// How an argument is written in a synopsis: `[--offset OFFSET]`, `DATA`, `[DATA]`.
fn usage(arg: &Arg) -> String {
    let value = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    let takes_value = arg.get_num_args().is_some_and(|n| n.takes_values());
    let text = match arg.get_long() {
        Some(long) if takes_value => format!("\\fB\\-\\-{}\\fR \\fI{value}\\fR", esc(long)),
        Some(long) => format!("\\fB\\-\\-{}\\fR", esc(long)),
        None => format!("\\fI{value}\\fR"),
    };
    if arg.is_required_set() {
        text
    } else {
        format!("[{text}]")
    }
}

/// The help of an argument, with its default value.
fn help(arg: &Arg) -> String {
    let mut text = arg.get_help().map(ToString::to_string).unwrap_or_default();
    if let Some(d) = arg.get_default_values().first() {
        write!(text, " [default: {}]", d.to_string_lossy()).unwrap();
    }
    esc(&text)
}

fn shown(arg: &&Arg) -> bool {
    !arg.is_hide_set() && !matches!(arg.get_id().as_str(), "help" | "version")
}

/// The COMMANDS section: each subcommand with its aliases, arguments and their help.
fn commands() -> String {
    let mut s = String::from(".SH COMMANDS\n");
    let mut cli = Cli::command();
    cli.build();
    for sub in cli.get_subcommands() {
        let mut names = vec![format!("\\fB{}\\fR", esc(sub.get_name()))];
        names.extend(
            sub.get_visible_aliases()
                .map(|a| format!("\\fB{}\\fR", esc(a))),
        );
        let args: Vec<&Arg> = sub
            .get_arguments()
            .filter(shown)
            .filter(|a| !a.is_global_set())
            .collect();
        let synopsis: Vec<String> = args.iter().map(|a| usage(a)).collect();
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        writeln!(
            s,
            ".TP\n{} {}\n{}",
            names.join(", "),
            synopsis.join(" "),
            esc(&about)
        )
        .unwrap();
        if !args.is_empty() {
            s.push_str(".RS\n");
            for a in &args {
                writeln!(s, ".TP\n{}\n{}", usage(a).trim_matches(['[', ']']), help(a)).unwrap();
            }
            s.push_str(".RE\n");
        }
    }
    s
}

/// The man page of `user_test`.
pub fn render() -> String {
    let man = clap_mangen::Man::new(Cli::command())
        .title("USER_TEST")
        .date("2026-12-06")
        .source(format!("mydev {}", env!("CARGO_PKG_VERSION")))
        .manual("User Commands");
    let mut roff = Vec::new();
    man.render_title(&mut roff).unwrap();
    man.render_name_section(&mut roff).unwrap();
    man.render_synopsis_section(&mut roff).unwrap();
    man.render_description_section(&mut roff).unwrap();
    let mut s = String::from(
        ".\\\" SPDX-License-Identifier: GPL-2.0\n\
         .\\\" Generated from user_test's command line (crates/user_test/src/man.rs): do not edit.\n\
         .\\\" MYDEV_UPDATE_MAN=1 cargo test -p user_test man_page rewrites it.\n",
    );
    // clap_mangen starts each section with the same two lines defining `Aq`: keep the first.
    let roff = String::from_utf8(roff).unwrap();
    let aq = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let first = roff.find(aq).map_or(0, |i| i + aq.len());
    s.push_str(&roff[..first]);
    s.push_str(&roff[first..].replace(aq, ""));
    writeln!(s, ".PP\n{}", esc(NUMBERS)).unwrap();
    s.push_str(&commands());
    let mut options = Vec::new();
    man.render_options_section(&mut options).unwrap();
    s.push_str(&String::from_utf8(options).unwrap().replace(aq, ""));
    writeln!(s, ".SH SETUP\n{}", esc(SETUP)).unwrap();
    writeln!(s, ".SH EXIT STATUS\n{}", esc(EXIT_STATUS)).unwrap();
    let examples = EXAMPLES.strip_prefix("Examples:\n").unwrap_or(EXAMPLES);
    writeln!(s, ".SH EXAMPLES\n.nf\n{}\n.fi", esc(examples)).unwrap();
    s.push_str(
        ".SH FILES\n.TP\n.B /dev/mydev\nThe device.\n\
         .TP\n.B /usr/lib/udev/rules.d/60\\-mydev.rules\n\
         Gives the group\n.B mydev\nread and write access (package mydev\\-dkms).\n\
         .TP\n.B /usr/include/mydev.h\nThe ioctl numbers, for C programs.\n\
         .SH SEE ALSO\n.BR mmap (2),\n.BR modprobe (8),\n.BR dkms (8)\n",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../packaging/user_test.1")
    }

    /// The installed man page is the one the CLI generates (so every option is in it).
    #[test]
    fn man_page_is_generated_from_the_cli() {
        let page = render();
        if std::env::var_os("MYDEV_UPDATE_MAN").is_some() {
            std::fs::write(page_path(), &page).unwrap();
        }
        let installed = std::fs::read_to_string(page_path()).unwrap();
        assert!(
            installed == page,
            "packaging/user_test.1 is not what the CLI generates: run \
             MYDEV_UPDATE_MAN=1 cargo test -p user_test man_page"
        );
    }

    /// The generated page lists every command and option, and says how to set the device up.
    #[test]
    fn man_page_covers_every_option_the_module_the_group_and_the_exit_status() {
        let page = render();
        for sub in Cli::command().get_subcommands() {
            assert!(page.contains(&format!("\\fB{}\\fR", esc(sub.get_name()))));
            for arg in sub.get_arguments().filter(shown) {
                if let Some(long) = arg.get_long() {
                    assert!(
                        page.contains(&format!("\\fB\\-\\-{}\\fR", esc(long))),
                        "--{long}"
                    );
                }
            }
        }
        for want in [
            "sudo modprobe mmap",
            "group mydev",
            "usermod \\-aG mydev",
            ".SH EXIT STATUS",
            "0 on success; 1 when",
            "2 for bad arguments",
            "0x10 is 16",
            "\\-\\-device",
        ] {
            assert!(page.contains(want), "the man page does not say {want:?}");
        }
    }
}
