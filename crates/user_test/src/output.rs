// SPDX-License-Identifier: GPL-2.0

//! Formatting of what `user_test` prints.

/// The bytes of `buf` up to (not including) the first NUL byte.
pub fn text_until_nul(buf: &[u8]) -> &[u8] {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    &buf[..end]
}

/// The line printed by `user_test p`: offset, hex value, and the character when printable.
pub fn peek_line(offset: usize, byte: u8) -> String {
    if byte.is_ascii_graphic() || byte == b' ' {
        format!("offset {offset}: 0x{byte:02x} '{}'", byte as char)
    } else {
        format!("offset {offset}: 0x{byte:02x}")
    }
}

/// A hex dump, 16 bytes a line: buffer offset, hex bytes, printable characters.
pub fn hex_dump(buf: &[u8], start: usize) -> String {
    let mut s = String::new();
    for (i, line) in buf.chunks(16).enumerate() {
        let mut hex = String::new();
        for b in line {
            hex.push_str(&format!("{b:02x} "));
        }
        let text: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        s.push_str(&format!("{:08x}  {hex:<48} |{text}|\n", start + i * 16));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stops_at_the_first_nul() {
        assert_eq!(text_until_nul(b"Hello\0World"), b"Hello");
        assert_eq!(text_until_nul(b"\0abc"), b"");
        assert_eq!(text_until_nul(b"abc"), b"abc");
        assert_eq!(text_until_nul(b""), b"");
    }

    #[test]
    fn peek_shows_hex_and_printable_char() {
        assert_eq!(peek_line(5, b','), "offset 5: 0x2c ','");
        assert_eq!(peek_line(0, 0), "offset 0: 0x00");
        assert_eq!(peek_line(7, b' '), "offset 7: 0x20 ' '");
    }

    #[test]
    fn hex_dump_lines() {
        let d = hex_dump(b"Hi\0", 16);
        assert_eq!(d, format!("00000010  {:<48} |Hi.|\n", "48 69 00 "));
        assert_eq!(hex_dump(&[0u8; 17], 0).lines().count(), 2);
    }
}
