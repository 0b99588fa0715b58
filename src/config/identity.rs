//! `SECURITY_USER_IDENTITY_ATTRIBUTES`: what a sign-in form's identity may be (an email, a
//! username, a unified sign-in phone number), in Flask-Security's form: a JSON list of
//! one-key objects, `[{"email": {"mapper": "uia_email_mapper", "case_insensitive": true}}]`.

use super::source::{ConfigError, Source};

const KEY: &str = "SECURITY_USER_IDENTITY_ATTRIBUTES";

/// One attribute an identity is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAttribute {
    Email,
    Username,
    /// `us_phone_number`: unified sign-in's phone number (its identity form, not the
    /// password login form, as in Flask-Security).
    UsPhoneNumber,
}

impl IdentityAttribute {
    /// Flask-Security's name: the user model's column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
            Self::UsPhoneNumber => "us_phone_number",
        }
    }

    /// Flask-Security's mapper for the attribute.
    fn mapper(self) -> &'static str {
        match self {
            Self::Email => "uia_email_mapper",
            Self::Username => "uia_username_mapper",
            Self::UsPhoneNumber => "uia_phone_mapper",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [Self::Email, Self::Username, Self::UsPhoneNumber]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// The attributes in order: Flask-Security's default (email) when unset. As in
/// Flask-Security, `SECURITY_USERNAME_ENABLE` adds username at the end when the list lacks
/// it; without it a listed username is not used.
pub(super) fn identity_attributes(
    src: &Source,
    username_enable: bool,
) -> Result<Vec<IdentityAttribute>, ConfigError> {
    let mut attributes = match src.get(KEY) {
        None => vec![IdentityAttribute::Email],
        Some(raw) => parse(raw).map_err(|reason| ConfigError::new(KEY, reason))?,
    };
    if username_enable && !attributes.contains(&IdentityAttribute::Username) {
        attributes.push(IdentityAttribute::Username);
    }
    if !username_enable {
        attributes.retain(|a| *a != IdentityAttribute::Username);
    }
    if attributes.is_empty() {
        return Err(ConfigError::new(
            KEY,
            "lists only username while SECURITY_USERNAME_ENABLE is false: nobody could sign in",
        ));
    }
    Ok(attributes)
}

fn parse(raw: &str) -> Result<Vec<IdentityAttribute>, String> {
    let expected = "expected a JSON list such as [{\"email\": {\"mapper\": \"uia_email_mapper\", \
                    \"case_insensitive\": true}}, {\"username\": {...}}]";
    let list: Vec<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_str(raw).map_err(|e| format!("{expected}: {e}"))?;
    if list.is_empty() {
        return Err("is empty: nobody could sign in".to_owned());
    }
    let mut attributes = Vec::new();
    for entry in list {
        let mut entry = entry.into_iter();
        let (Some((name, details)), None) = (entry.next(), entry.next()) else {
            return Err(format!("each item names one attribute; {expected}"));
        };
        let attribute = IdentityAttribute::parse(&name).ok_or_else(|| {
            format!("{name:?} is not an identity Latchkey knows (email, username, us_phone_number)")
        })?;
        if attributes.contains(&attribute) {
            return Err(format!("{name:?} is listed twice"));
        }
        let details = match details {
            serde_json::Value::Object(details) => details,
            serde_json::Value::Null => serde_json::Map::new(),
            _ => {
                return Err(format!(
                    "{name:?}: its details must be an object; {expected}"
                ))
            }
        };
        for (field, value) in &details {
            match (field.as_str(), value) {
                ("mapper", serde_json::Value::String(mapper)) => {
                    // Flask-Security names a function; Latchkey knows its own three.
                    let known = mapper.rsplit('.').next() == Some(attribute.mapper());
                    if !known {
                        return Err(format!(
                            "{name:?}: mapper {mapper:?} is not Flask-Security's {}; \
                             Latchkey maps each attribute with its own",
                            attribute.mapper()
                        ));
                    }
                }
                ("case_insensitive", serde_json::Value::Bool(_)) => {}
                _ => {
                    return Err(format!(
                        "{name:?}: unknown or malformed detail {field:?} (mapper: a name, \
                         case_insensitive: true or false)"
                    ))
                }
            }
        }
        attributes.push(attribute);
    }
    Ok(attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use IdentityAttribute::*;

    fn read(value: Option<&str>, username: bool) -> Result<Vec<IdentityAttribute>, ConfigError> {
        let src = Source::from_pairs(value.map(|v| (KEY, v)));
        identity_attributes(&src, username)
    }

    #[test]
    fn flask_securitys_list_is_read_and_username_enable_adds_username() {
        assert_eq!(read(None, false).unwrap(), vec![Email]);
        assert_eq!(read(None, true).unwrap(), vec![Email, Username]);
        let flask = r#"[{"email": {"mapper": "uia_email_mapper", "case_insensitive": true}},
                        {"us_phone_number": {"mapper": "flask_security.uia_phone_mapper"}}]"#;
        assert_eq!(
            read(Some(flask), false).unwrap(),
            vec![Email, UsPhoneNumber]
        );
        assert_eq!(
            read(Some(r#"[{"username": {}}]"#), true).unwrap(),
            vec![Username],
            "email left out: sign-in by username only"
        );
        for bad in [
            "email",
            "[]",
            r#"[{"phone": {}}]"#,
            r#"[{"email": {}}, {"email": {}}]"#,
            r#"[{"email": {"mapper": "my_mapper"}}]"#,
            r#"[{"email": {"case_insensitive": "yes"}}]"#,
            r#"[{"email": {}, "username": {}}]"#,
        ] {
            assert_eq!(read(Some(bad), true).unwrap_err().key, KEY, "{bad}");
        }
        assert!(read(Some(r#"[{"username": {}}]"#), false).is_err());
    }
}
