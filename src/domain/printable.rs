//! Text from the services (company names, error messages) made safe to print or draw.
//!
//! A company name is whatever someone typed into ConnectWise, and an error message is whatever
//! a server sent. Printed raw, an escape sequence in either can recolour, clear or retitle the
//! technician's terminal, a bidi control can make a line read backwards, and a newline can
//! forge a line of output. Everything that prints or draws such text passes it through
//! [`printable`] first.

use std::borrow::Cow;

/// Stands in for a character that would act on the terminal instead of being shown.
pub const REPLACEMENT: char = '\u{FFFD}';

/// Bidirectional formatting controls: they reorder what follows them on screen.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that take no space on screen, so two strings that differ only by them look the
/// same (zero-width space, joiners, word joiner, byte-order mark, Mongolian vowel separator).
pub fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
    )
}

/// `text` on one line with nothing a terminal would act on: tabs, line breaks and other
/// whitespace controls become spaces; every other control character (C0, DEL, C1, so `ESC`
/// and `CSI` and with them every escape sequence) and every bidi control becomes U+FFFD.
/// Borrowed when there was nothing to replace (the usual case).
pub fn printable(text: &str) -> Cow<'_, str> {
    let needs = |c: char| c.is_control() || is_bidi_control(c);
    if !text.chars().any(needs) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if !needs(c) {
                    c
                } else if c.is_whitespace() {
                    ' '
                } else {
                    REPLACEMENT
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_replaced() {
        let cases = [
            ("Acme", "Acme"),
            ("Line\nBreak\r\tTab", "Line Break  Tab"),
            (
                "\u{1b}[2J\u{1b}]0;owned\u{7}Evil",
                "\u{FFFD}[2J\u{FFFD}]0;owned\u{FFFD}Evil",
            ),
            ("C1 \u{9b}31m", "C1 \u{FFFD}31m"),
            ("del\u{7f}", "del\u{FFFD}"),
            ("abc\u{202E}fdp.exe", "abc\u{FFFD}fdp.exe"),
            ("株式会社", "株式会社"),
            // Zero-width joiners belong in emoji and some scripts: shown as they are.
            ("👩\u{200D}💻", "👩\u{200D}💻"),
        ];
        for (raw, want) in cases {
            assert_eq!(printable(raw), want, "{raw:?}");
        }
        assert!(matches!(printable("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn invisible_characters_are_recognised() {
        for c in ['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'] {
            assert!(is_zero_width(c), "{c:?}");
        }
        for c in ['\u{202E}', '\u{2066}', '\u{200F}', '\u{061C}'] {
            assert!(is_bidi_control(c), "{c:?}");
        }
        assert!(!is_zero_width('a') && !is_bidi_control('a'));
    }
}
