// SPDX-License-Identifier: GPL-2.0

//! Quoting for the POSIX shell: the guest's job scripts and the command lines the harness shows.

/// Quotes `s` for a POSIX shell when it needs it.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Shell-quotes `words` into one command line.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_round_trip_through_sh() {
        let words = vec![
            "echo".to_string(),
            "a b".to_string(),
            "it's".to_string(),
            "$HOME".to_string(),
        ];
        let out = std::process::Command::new("sh")
            .args(["-c", &shell_words(&words)])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "a b it's $HOME\n");
    }
}
