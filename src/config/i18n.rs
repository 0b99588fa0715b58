//! The texts' settings, as plain values: where translations are read from
//! (`SECURITY_I18N_DIRNAME`, `SECURITY_I18N_DOMAIN`), the default language
//! (`BABEL_DEFAULT_LOCALE`) and the `SECURITY_MSG_<NAME>` replacements. The catalogue itself
//! (`messages::Messages`) is loaded from them when the services start
//! (`auth::services::load_messages`), which reports a file or a replacement it cannot use as
//! a [`ConfigError`] naming the key.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::source::{ConfigError, Source};

/// What the catalogue of user-facing texts is built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSettings {
    /// `SECURITY_I18N_DIRNAME`: folders separated by `;`, in Flask's layout
    /// `<dir>/<lang>/LC_MESSAGES/<domain>.mo|.po`; `builtin` (the default) names the shipped
    /// translations.
    pub translation_dirs: Vec<PathBuf>,
    /// `SECURITY_I18N_DOMAIN`: the translation files' name (default `flask_security`).
    pub domain: String,
    /// `BABEL_DEFAULT_LOCALE` as given (`None`: English): the language of requests that ask
    /// for none the catalogue has.
    pub default_locale: Option<String>,
    /// Every `SECURITY_MSG_<NAME>` key that is set, with its text: replacements that win over
    /// every translation.
    pub overrides: BTreeMap<String, String>,
}

impl MessageSettings {
    /// The replacement text `key` (`SECURITY_MSG_<NAME>`) sets, if any.
    pub fn override_for(&self, key: &str) -> Option<&str> {
        self.overrides.get(key).map(String::as_str)
    }
}

pub(super) fn message_settings(src: &Source) -> Result<MessageSettings, ConfigError> {
    let translation_dirs: Vec<PathBuf> = src
        .get("SECURITY_I18N_DIRNAME")
        .unwrap_or("builtin")
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .collect();
    let domain = src.get("SECURITY_I18N_DOMAIN").unwrap_or("flask_security");
    if domain.is_empty() || domain.contains(['/', '\\']) || domain.starts_with('.') {
        return Err(ConfigError::new(
            "SECURITY_I18N_DOMAIN",
            format!("expected a file name without extension, got {domain:?}"),
        ));
    }
    Ok(MessageSettings {
        translation_dirs,
        domain: domain.to_owned(),
        default_locale: src.get("BABEL_DEFAULT_LOCALE").map(str::to_owned),
        overrides: src
            .with_prefix("SECURITY_MSG_")
            .map(|(key, text)| (key.to_owned(), text.to_owned()))
            .collect(),
    })
}
