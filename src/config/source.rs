//! Reading keys: the key→value [`Source`], Flask-Security's spellings of flags, numbers and
//! periods, and the [`ConfigError`] that names the key that could not be used.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Display;
use std::sync::Mutex;
use std::time::Duration;

/// A configuration problem, reported as one line naming the setting.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    pub key: String,
    pub reason: String,
}

impl ConfigError {
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Reads settings from a key→value source. `from_env` uses the process environment; tests
/// build the map themselves. It remembers which keys were asked for ([`Source::keys_read`]),
/// so a test can hold the catalogue of keys (`config::keys`) to what the settings read.
pub struct Source {
    values: HashMap<String, String>,
    read: Mutex<BTreeSet<String>>,
    defaults: Mutex<BTreeMap<String, String>>,
}

impl Source {
    fn new(values: HashMap<String, String>) -> Self {
        Self {
            values,
            read: Mutex::new(BTreeSet::new()),
            defaults: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn from_env() -> Self {
        Self::new(std::env::vars().collect())
    }

    fn note(&self, key: &str) {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if !read.contains(key) {
            read.insert(key.to_owned());
        }
    }

    fn note_default(&self, key: &str, default: impl Display) {
        self.defaults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_owned(), default.to_string());
    }

    /// The default of every key read so far with a typed default (a flag, a number, a
    /// period, a list), as text: what the book's table of keys shows.
    pub fn defaults_read(&self) -> BTreeMap<String, String> {
        self.defaults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every key asked for so far; a group read by its prefix is there as `PREFIX*`.
    pub fn keys_read(&self) -> BTreeSet<String> {
        self.read.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self::new(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.note(key);
        self.value(key)
    }

    fn value(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Whether `key` is present but empty (or blank), which some keys read as "none".
    pub(super) fn is_set_empty(&self, key: &str) -> bool {
        self.note(key);
        self.values.get(key).is_some_and(|v| v.trim().is_empty())
    }

    /// Every key that starts with `prefix` and has a value, with that value (as
    /// [`Source::get`] reads it).
    pub(super) fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.note(&format!("{prefix}*"));
        self.values
            .keys()
            .filter(move |key| key.starts_with(prefix))
            .filter_map(|key| self.value(key).map(|value| (key.as_str(), value)))
    }

    pub(super) fn required(&self, key: &str) -> Result<&str, ConfigError> {
        self.get(key).ok_or_else(|| {
            ConfigError::new(
                key,
                "is not set (put it in the environment or in .env; see README.md)",
            )
        })
    }

    pub(super) fn flag(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        self.note_default(key, default);
        match self.get(key) {
            None => Ok(default),
            Some(v) => parse_flag(v)
                .ok_or_else(|| ConfigError::new(key, format!("expected true or false, got {v:?}"))),
        }
    }

    pub(super) fn number<T: std::str::FromStr + Display>(
        &self,
        key: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        self.note_default(key, &default);
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| ConfigError::new(key, format!("expected a whole number, got {v:?}"))),
        }
    }

    pub(super) fn duration(&self, key: &str, default: &str) -> Result<Duration, ConfigError> {
        self.note_default(key, default);
        let v = self.get(key).unwrap_or(default);
        parse_duration(v).ok_or_else(|| {
            ConfigError::new(
                key,
                format!("expected a period such as \"5 days\" or \"12 hours\", got {v:?}"),
            )
        })
    }

    /// Flask-Security gives some periods as whole seconds (`SECURITY_TWO_FACTOR_MAIL_VALIDITY
    /// = 300`): a bare number is seconds, anything else a period ("5 minutes").
    pub(super) fn seconds_or_period(
        &self,
        key: &str,
        default: &str,
    ) -> Result<Duration, ConfigError> {
        match self.get(key) {
            Some(v) if v.chars().all(|c| c.is_ascii_digit()) => v
                .parse()
                .map(Duration::from_secs)
                .map_err(|_| ConfigError::new(key, format!("expected seconds, got {v:?}"))),
            _ => self.duration(key, default),
        }
    }

    /// Milliseconds, as Flask-Security's `SECURITY_WAN_*_TIMEOUT`.
    pub(super) fn milliseconds(&self, key: &str, default: u64) -> Result<Duration, ConfigError> {
        let ms: u64 = self.number(key, default)?;
        if !(1_000..=600_000).contains(&ms) {
            return Err(ConfigError::new(
                key,
                "must be between 1000 and 600000 (milliseconds)",
            ));
        }
        Ok(Duration::from_millis(ms))
    }

    /// A text setting, or `default`.
    pub(super) fn text(&self, key: &str, default: &str) -> String {
        self.note_default(key, default);
        self.get(key).unwrap_or(default).to_owned()
    }

    /// A comma list, each item trimmed, empty items left out.
    pub(super) fn list(&self, key: &str, default: &str) -> Vec<String> {
        self.note_default(key, default);
        self.get(key)
            .unwrap_or(default)
            .split(',')
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

pub fn parse_flag(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// Flask-Security's period syntax: `"<n> <unit>"`, unit one of seconds, minutes, hours,
/// days, weeks (singular or plural).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let mut parts = v.split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    let unit = parts.next()?.to_ascii_lowercase();
    if parts.next().is_some() {
        return None;
    }
    let seconds = match unit.trim_end_matches('s') {
        "second" => 1,
        "minute" => 60,
        "hour" => 3600,
        "day" => 86_400,
        "week" => 604_800,
        _ => return None,
    };
    n.checked_mul(seconds).map(Duration::from_secs)
}
