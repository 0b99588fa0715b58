//! Role names and descriptions, within the columns of Flask-Security's `role` table.

use std::fmt;

/// A role name: trimmed, 1 to 80 characters (`role.name` is `String(80)` in Flask-Security).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleName(String);

/// Why a role name or description was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("Role name not provided")]
    NameMissing,
    #[error("Role name must be at most {max} characters")]
    NameTooLong { max: usize },
    #[error("Role description must be at most {max} characters")]
    DescriptionTooLong { max: usize },
}

impl RoleName {
    pub const MAX_CHARS: usize = 80;

    pub fn parse(raw: &str) -> Result<Self, RoleError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(RoleError::NameMissing);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(RoleError::NameTooLong {
                max: Self::MAX_CHARS,
            });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A role's description: trimmed, absent when blank, at most 255 characters.
pub fn parse_role_description(raw: Option<&str>) -> Result<Option<String>, RoleError> {
    const MAX: usize = 255;
    match raw.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) if d.chars().count() > MAX => Err(RoleError::DescriptionTooLong { max: MAX }),
        other => Ok(other.map(str::to_owned)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_trimmed_and_bounded() {
        assert_eq!(RoleName::parse("  admin ").unwrap().as_str(), "admin");
        assert_eq!(RoleName::parse("   "), Err(RoleError::NameMissing));
        assert!(RoleName::parse(&"é".repeat(80)).is_ok());
        assert_eq!(
            RoleName::parse(&"é".repeat(81)),
            Err(RoleError::NameTooLong { max: 80 })
        );
        assert_eq!(parse_role_description(Some("  ")), Ok(None));
        assert_eq!(
            parse_role_description(Some(" x ")),
            Ok(Some("x".to_owned()))
        );
        assert!(parse_role_description(Some(&"d".repeat(256))).is_err());
    }
}
