//! The offline breached/common-password list (`SECURITY_PASSWORD_CHECK_BREACHED=offline`):
//! 19,640 passwords from Django's `CommonPasswordValidator` list, compiled in (see
//! `data/README.md` for origin and licence). No network, so it works everywhere.

use std::collections::HashSet;
use std::sync::LazyLock;

static LIST: &str = include_str!("../../data/common-passwords.txt");

/// Built once, on first use: a few milliseconds, then O(1) per check.
static SET: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    LIST.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// How many passwords the list holds.
pub fn len() -> usize {
    SET.len()
}

/// Whether `password` (already NFKD-normalised) is on the list, ignoring case as Django does.
pub fn contains(password: &str) -> bool {
    SET.contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_loaded_and_case_insensitive() {
        assert_eq!(len(), 19_640);
        for common in ["password", "PASSWORD", "12345678", "iloveyou", "Qwerty123"] {
            assert!(contains(common), "{common}");
        }
        for rare in ["correct horse battery staple", "", "kx7#Qm2!vR9z"] {
            assert!(!contains(rare), "{rare}");
        }
    }
}
