//! What makes two identities look alike while being different strings: characters that
//! render as nothing or reorder the text around them, a combining mark with nothing to
//! combine with, letters of upper and lower case, and (for usernames) letters of different
//! scripts mixed in one name. Emails and usernames refuse the first two and are compared and
//! stored case-folded ([`fold_case`]), in Rust, so that SQLite and PostgreSQL agree.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_security::{RestrictionLevel, RestrictionLevelDetection};

/// The first character that shows nothing (or reorders what is around it): Unicode's
/// format characters (Cf: U+200B zero-width space, U+202E right-to-left override, U+00AD soft
/// hyphen, …), line and paragraph separators (Zl, Zp), and the default-ignorable marks and
/// fillers outside Cf (U+034F combining grapheme joiner, variation selectors, the Hangul
/// fillers).
pub fn invisible_char(text: &str) -> Option<char> {
    text.chars().find(|&c| {
        matches!(
            c.general_category(),
            GeneralCategory::Format
                | GeneralCategory::LineSeparator
                | GeneralCategory::ParagraphSeparator
        ) || matches!(
            c,
            '\u{034F}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{17B4}'
                | '\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FFA0}'
                | '\u{E0100}'..='\u{E01EF}'
        )
    })
}

/// Whether `part` begins with a combining mark (nothing before it to combine with).
pub fn starts_with_mark(part: &str) -> bool {
    part.chars().next().is_some_and(|c| {
        matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
        )
    })
}

/// Whether a name mixes scripts the way look-alikes do (UTS #39: anything less strict than
/// "highly restrictive", e.g. a Cyrillic `а` among Latin letters). One script, or the usual
/// mixes of Han with Japanese kana or Korean Hangul (with or without Latin), is fine.
pub fn mixes_scripts(name: &str) -> bool {
    name.detect_restriction_level() > RestrictionLevel::HighlyRestrictive
}

/// The case-folded form identities are stored and compared in: full Unicode lower case.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invisible_and_reordering_characters_are_found() {
        for hidden in [
            '\u{200B}', '\u{202E}', '\u{00AD}', '\u{2028}', '\u{2029}', '\u{034F}', '\u{FE0F}',
            '\u{2060}', '\u{FEFF}',
        ] {
            assert_eq!(
                invisible_char(&format!("ad{hidden}min")),
                Some(hidden),
                "{:X}",
                hidden as u32
            );
        }
        assert_eq!(invisible_char("admin"), None);
        assert_eq!(invisible_char("ädmin"), None);
        assert_eq!(invisible_char("日本語"), None);
    }

    #[test]
    fn marks_must_follow_something() {
        assert!(starts_with_mark("\u{0301}admin"));
        assert!(!starts_with_mark("a\u{0301}dmin"));
        assert!(!starts_with_mark(""));
    }

    #[test]
    fn look_alike_script_mixes_are_found_and_honest_names_pass() {
        assert!(mixes_scripts("\u{0430}dmin"), "Cyrillic а among Latin");
        assert!(mixes_scripts("pаypal"));
        for fine in [
            "admin",
            "ädmin",
            "админ",
            "δοκιμή",
            "山田太郎",
            "やまだ太郎",
            "tanaka太郎",
        ] {
            assert!(!mixes_scripts(fine), "{fine}");
        }
    }

    #[test]
    fn folding_is_full_unicode_lower_case() {
        assert_eq!(fold_case("Ädmin"), "ädmin");
        assert_eq!(fold_case("ADMIN"), "admin");
        assert_eq!(fold_case("ΔΟΚΙΜΉ"), "δοκιμή");
    }
}
