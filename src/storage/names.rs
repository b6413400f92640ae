//! Profile names: what a valid name is, and the file-name stem a name is stored under (the same
//! stem names the profile file and its journal).
//!
//! Names may hold spaces and any script; every other character is percent-encoded, so a name
//! can never escape its folder (`../x` → `%2E.%2Fx`) or hit a Windows reserved name.

use std::fmt::Write as _;

use crate::domain::printable;

pub const MAX_PROFILE_NAME_CHARS: usize = 64;

/// Keeps encoded stems well under the 255-byte file-name limit of common file systems, with
/// room for suffixes such as `.json.corrupt-20250101T000000Z-2`.
const MAX_FILE_STEM_BYTES: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Profile name: the name is empty; type a name such as \"Main tenant\"")]
    Empty,
    #[error("Profile name: remove the spaces at the start or end of \"{0}\"")]
    OuterSpaces(String),
    #[error("Profile name: remove the line breaks, tabs or other control characters")]
    ControlCharacters,
    #[error(
        "Profile name: remove the invisible characters (text-direction controls or zero-width characters); two names must never look alike"
    )]
    InvisibleCharacters,
    #[error(
        "Profile name: the name is too long; use at most {MAX_PROFILE_NAME_CHARS} characters (fewer with many symbols)"
    )]
    TooLong,
}

/// Checks a profile name.
pub fn validate_profile_name(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.trim() != name {
        return Err(NameError::OuterSpaces(name.to_owned()));
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::ControlCharacters);
    }
    // A name with a bidi control or a zero-width character can look exactly like another
    // profile's name (and reorder the text around it on screen).
    if name
        .chars()
        .any(|c| printable::is_bidi_control(c) || printable::is_zero_width(c))
    {
        return Err(NameError::InvisibleCharacters);
    }
    if name.chars().count() > MAX_PROFILE_NAME_CHARS || file_stem(name).len() > MAX_FILE_STEM_BYTES
    {
        return Err(NameError::TooLong);
    }
    Ok(())
}

/// Whether two names denote the same profile on a case-insensitive file system.
pub fn same_profile_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The file-name stem for a (valid) profile name. Reversible with [`name_from_file_stem`].
pub fn file_stem(name: &str) -> String {
    let count = name.chars().count();
    let base = name.split('.').next().unwrap_or(name);
    let reserved = WINDOWS_RESERVED
        .iter()
        .any(|r| r.eq_ignore_ascii_case(base));
    let mut out = String::with_capacity(name.len());
    for (i, ch) in name.chars().enumerate() {
        let at_edge_unsafe = match ch {
            '.' => i == 0 || i + 1 == count,
            ' ' => i + 1 == count,
            _ => false,
        };
        let safe = (ch.is_alphanumeric() || matches!(ch, '-' | '_' | ' ' | '.'))
            && !at_edge_unsafe
            && !(reserved && i == 0);
        if safe {
            out.push(ch);
        } else {
            let mut buf = [0u8; 4];
            for byte in ch.encode_utf8(&mut buf).bytes() {
                // Writing to a String cannot fail.
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
    out
}

/// The profile name a file-name stem encodes; `None` when the stem is not one
/// [`file_stem`] writes (a file put there by hand).
pub fn name_from_file_stem(stem: &str) -> Option<String> {
    let bytes = stem.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stem.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn stems_are_safe_file_names() {
        let cases = [
            ("Main tenant", "Main tenant"),
            ("Müller & Söhne", "Müller %26 Söhne"),
            ("東京 MSP", "東京 MSP"),
            ("../etc/passwd", "%2E.%2Fetc%2Fpasswd"),
            ("..", "%2E%2E"),
            ("a\\b:c*?\"<>|", "a%5Cb%3Ac%2A%3F%22%3C%3E%7C"),
            ("100%", "100%25"),
            ("con", "%63on"),
            ("Com1.backup", "%43om1.backup"),
            ("Console", "Console"),
            ("ends with dot.", "ends with dot%2E"),
            ("🙂", "%F0%9F%99%82"),
        ];
        for (name, stem) in cases {
            assert_eq!(file_stem(name), stem, "{name}");
            assert_eq!(name_from_file_stem(stem).as_deref(), Some(name));
        }
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let cases = [
            ("", Err(NameError::Empty)),
            ("   ", Err(NameError::Empty)),
            (" Acme", Err(NameError::OuterSpaces(" Acme".into()))),
            ("Ac\nme", Err(NameError::ControlCharacters)),
            ("Ac\tme", Err(NameError::ControlCharacters)),
            ("Acme", Ok(())),
            ("Acme / Partner MSP (EU)", Ok(())),
            ("Ac\u{200B}me", Err(NameError::InvisibleCharacters)),
            ("Acme\u{200D}", Err(NameError::InvisibleCharacters)),
            ("\u{FEFF}Acme", Err(NameError::InvisibleCharacters)),
            ("Acme \u{202E}UE", Err(NameError::InvisibleCharacters)),
            (
                "Acme \u{2067}x\u{2069}",
                Err(NameError::InvisibleCharacters),
            ),
            ("\u{200F}Acme", Err(NameError::InvisibleCharacters)),
            ("東京 MSP", Ok(())),
        ];
        for (name, want) in cases {
            assert_eq!(validate_profile_name(name), want, "{name:?}");
        }
        assert_eq!(validate_profile_name(&"a".repeat(64)), Ok(()));
        assert_eq!(
            validate_profile_name(&"a".repeat(65)),
            Err(NameError::TooLong)
        );
        assert_eq!(
            validate_profile_name(&"🙂".repeat(20)),
            Err(NameError::TooLong)
        );
        for err in [
            NameError::Empty,
            NameError::TooLong,
            NameError::ControlCharacters,
            NameError::InvisibleCharacters,
        ] {
            assert!(err.to_string().starts_with("Profile name: "));
        }
    }

    #[test]
    fn hand_made_file_names_are_not_decoded() {
        assert_eq!(name_from_file_stem("a%zz"), None);
        assert_eq!(name_from_file_stem("a%4"), None);
        assert_eq!(name_from_file_stem("%FF"), None);
        assert_eq!(name_from_file_stem("plain").as_deref(), Some("plain"));
    }

    proptest! {
        #[test]
        fn any_valid_name_round_trips_to_a_single_plain_file_name(name in "\\PC{1,40}") {
            prop_assume!(validate_profile_name(&name).is_ok());
            let stem = file_stem(&name);
            prop_assert_eq!(name_from_file_stem(&stem), Some(name.clone()));
            prop_assert!(!stem.contains('/') && !stem.contains('\\'));
            prop_assert!(!stem.starts_with('.'));
            prop_assert!(!stem.ends_with('.') && !stem.ends_with(' '));
            prop_assert!(stem.len() <= MAX_FILE_STEM_BYTES);
        }
    }
}
