//! Authenticator-app codes (TOTP, RFC 6238) and the way Flask-Security-Too stores their keys.
//!
//! # Codes
//!
//! The codes are the ones every authenticator app computes: HMAC-SHA1, 6 digits, 30-second
//! steps ([`code_at`], by `totp-rs`). [`matching_step`] finds which step a code belongs to
//! within a window of clock slack, so that the caller can refuse the same step twice
//! (Flask-Security does not; Latchkey does).
//!
//! # Stored keys: passlib's format, kept on purpose
//!
//! Flask-Security stores each user's key in `user.tf_totp_secret` as the JSON that passlib's
//! `TOTP.to_json(encrypt=True)` writes, encrypted with the application's
//! `SECURITY_TOTP_SECRETS`. Latchkey reads and writes the very same format, byte for byte, so
//! that a Flask-Security database is adopted with its authenticators working, and so that an
//! application can move back to Flask-Security with every user's authenticator still
//! working. The format (passlib 1.7 / libpass 1.9, `passlib/totp.py`, `AppWallet`):
//!
//! ```text
//! {"enckey":{"c":14,"k":"<base32>","s":"<base32>","t":"1","v":1},"type":"totp","v":1}
//! ```
//!
//! * keys sorted, no spaces (`json.dumps(sort_keys=True, separators=(",", ":"))`);
//! * `t` is the tag of the application secret used, `c` the cost: 2^`c` rounds of
//!   PBKDF2-HMAC-SHA256 of the application secret (its UTF-8 bytes) with the 12-byte random
//!   salt `s`, 48 bytes long: the first 32 are an AES-256 key, the last 16 the initial counter
//!   block of AES-CTR (the whole 128-bit block counts, big-endian, as `cryptography`'s CTR);
//! * `k` is the TOTP key (20 bytes from Flask-Security) encrypted with that AES-256-CTR;
//! * `s` and `k` are RFC 4648 base32, upper case, with the `=` padding stripped. When reading,
//!   passlib takes lower case too, adds the padding back and reads `0` as `O` and `8` as `B`;
//!   so does Latchkey.
//! * Without application secrets passlib writes the key in clear instead:
//!   `{"key":"<base32>","type":"totp","v":1}`; [`TotpKeys::decrypt`] reads that too.
//!
//! There is no authentication tag: decrypting with the wrong application secret gives 20
//! random-looking bytes, not an error (passlib chose CTR so that a stolen database gives an
//! attacker no way to tell a right guess of the application secret from a wrong one). A wrong
//! `SECURITY_TOTP_SECRETS` therefore shows only as codes that never match. An unknown tag, on
//! the other hand, is an error.
//!
//! `SECURITY_TOTP_SECRETS` is a JSON object of tag → secret (Flask-Security's dict; new keys
//! are encrypted with the highest tag, compared as numbers when all tags are digits, as text
//! otherwise, which is passlib's rule) or a single plain secret, which is tag `"1"` as in the
//! reference app. Old tags are kept to read the keys they encrypted; see
//! [`TotpKeys::needs_reencrypt`].

use std::fmt;
use std::time::Duration;

use aes::cipher::{KeyIvInit, StreamCipher};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use rand::RngCore;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Seconds per code (RFC 6238's default, and every authenticator app's).
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new key: the SHA-1 digest size, as passlib and Flask-Security make them.
pub const KEY_BYTES: usize = 20;
/// The shortest key accepted: 128 bits (RFC 4226 §4; `totp-rs` checks it too).
pub const MIN_KEY_BYTES: usize = 16;
/// passlib's `AppWallet.encrypt_cost`: log2 of the PBKDF2 rounds of new encryptions.
pub const ENCRYPT_COST: u32 = 14;
/// The highest cost read from a stored record (a million rounds). Flask-Security always writes
/// 14; a higher one is a damaged or hostile row, refused rather than computed for seconds.
pub const MAX_COST: u32 = 20;
/// passlib's `AppWallet.salt_size`.
const SALT_BYTES: usize = 12;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// What went wrong reading a key, a stored record or `SECURITY_TOTP_SECRETS`.
#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    /// Not base32 (RFC 4648 alphabet, any case, dashes and spaces ignored in keys).
    #[error("bad base32 in the {what}: {reason}")]
    BadBase32 {
        /// Which part: "key", "salt" or "encrypted key".
        what: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key shorter than [`MIN_KEY_BYTES`].
    #[error("a TOTP key must be at least {MIN_KEY_BYTES} bytes (128 bits); this one is {0}")]
    KeyTooShort(usize),
    /// The stored text is not passlib's TOTP JSON.
    #[error("not passlib's TOTP format: {0}")]
    NotPasslib(String),
    /// passlib's JSON, but a version other than 1 (the only one passlib has).
    #[error("unsupported passlib TOTP {what} version {found} (only 1 exists)")]
    UnsupportedVersion {
        /// "record" (the outer `v`) or "encryption" (`enckey.v`).
        what: &'static str,
        /// The version found, as JSON.
        found: String,
    },
    /// A record for another algorithm, digit count or period than SHA1, 6, 30 s.
    #[error(
        "unsupported TOTP setting {name}={value}: Latchkey uses SHA1, 6 digits, 30-second steps"
    )]
    UnsupportedParameter {
        /// The JSON field (`alg`, `digits`, `period`).
        name: &'static str,
        /// Its value, as JSON.
        value: String,
    },
    /// The record was encrypted with a tag `SECURITY_TOTP_SECRETS` does not have.
    #[error("unknown TOTP secret tag \"{tag}\": SECURITY_TOTP_SECRETS has {known}")]
    UnknownTag {
        /// The record's tag.
        tag: String,
        /// The configured tags, for the message.
        known: String,
    },
    /// A PBKDF2 cost outside `0..=MAX_COST`.
    #[error(
        "passlib encryption cost {0} is out of range (0 to {MAX_COST}; Flask-Security writes 14)"
    )]
    BadCost(String),
    /// `SECURITY_TOTP_SECRETS` cannot be used.
    #[error("SECURITY_TOTP_SECRETS: {0}")]
    BadKeys(String),
    /// More text than a QR code holds.
    #[error("{0} bytes do not fit in a QR code")]
    QrTooLong(usize),
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// A TOTP key (raw bytes, at least [`MIN_KEY_BYTES`]). Its `Debug` prints `[redacted]`;
/// equality is constant-time.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    /// A new random key of [`KEY_BYTES`] bytes from the operating system's generator.
    pub fn generate() -> Self {
        let mut key = vec![0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut key);
        TotpSecret(key)
    }

    /// A key from its raw bytes; at least [`MIN_KEY_BYTES`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, TotpError> {
        if bytes.len() < MIN_KEY_BYTES {
            return Err(TotpError::KeyTooShort(bytes.len()));
        }
        Ok(TotpSecret(bytes))
    }

    /// A key as people and authenticator apps write it: base32, any case, with or without
    /// `=` padding; spaces and dashes are ignored (so [`pretty`](Self::pretty) reads back),
    /// and `0`/`8` are read as `O`/`B`, as passlib does.
    pub fn from_base32(text: &str) -> Result<Self, TotpError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
            .collect();
        if cleaned.is_empty() {
            return Err(TotpError::BadBase32 {
                what: "key",
                reason: "it is empty",
            });
        }
        Self::from_bytes(b32decode(&cleaned, "key")?)
    }

    /// The raw key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The key in base32: upper case, no padding (passlib's `base32_key`, Flask-Security's
    /// `tf_authr_b32key`; what goes in the otpauth URI).
    pub fn base32(&self) -> String {
        b32encode(&self.0)
    }

    /// The key for typing by hand, Flask-Security's `tf_authr_key`: the base32 in groups
    /// joined by dashes, `XXXX-XXXX-…` (passlib's `pretty_key`: groups of 4 when the length
    /// allows, as for every 16-, 20- or 25-byte key, else of 6 or 5, as passlib picks them).
    pub fn pretty(&self) -> String {
        group_string(&self.base32(), '-')
    }

    fn totp(&self) -> totp_rs::TOTP {
        // The length was checked when the key was made (`from_bytes`, `generate`), and
        // `totp-rs`'s own check would refuse the same keys; unchecked so that no code path
        // can panic.
        debug_assert!(self.0.len() >= MIN_KEY_BYTES);
        totp_rs::TOTP::new_unchecked(
            totp_rs::Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.clone(),
        )
    }
}

impl PartialEq for TotpSecret {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for TotpSecret {}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

// ---------------------------------------------------------------------------------------------
// Application secrets and passlib's encrypted records
// ---------------------------------------------------------------------------------------------

/// The application's keys for encrypting TOTP keys at rest: `SECURITY_TOTP_SECRETS`
/// (passlib's `AppWallet`). `Debug` shows the tags, never the secrets.
#[derive(Clone)]
pub struct TotpKeys {
    /// (tag, secret as UTF-8 bytes), in the order given.
    secrets: Vec<(String, Vec<u8>)>,
    /// Index in `secrets` of the tag new encryptions use.
    default: usize,
}

/// A JSON object's members in their written order (serde_json's map is sorted otherwise, and
/// passlib's tie-break between equal numeric tags depends on the order).
struct OrderedMembers(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = OrderedMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of tag to secret")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedMembers, A::Error> {
                let mut members: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    // Python's json.loads: a repeated name keeps its first place, last value.
                    match members.iter_mut().find(|(name, _)| *name == k) {
                        Some(slot) => slot.1 = v,
                        None => members.push((k, v)),
                    }
                }
                Ok(OrderedMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// passlib's `_tag_re`: `(?i)^[a-z0-9][a-z0-9_.-]*$`.
fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Compares two strings of ASCII digits as the numbers they write (any length).
fn cmp_numeric(a: &str, b: &str) -> std::cmp::Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

impl TotpKeys {
    /// From the setting's value: a JSON object of tag → secret (Flask-Security's form, e.g.
    /// `{"1": "abc", "2": "def"}`), or a plain secret, which gets the tag `"1"`. A value whose
    /// first non-blank character is `{` or `[` is read as JSON (passlib's rule).
    ///
    /// Tags follow passlib's rule (`[A-Za-z0-9][A-Za-z0-9_.-]*`); secrets are non-empty
    /// strings, used as their UTF-8 bytes. The default tag, for new encryptions, is the
    /// highest: compared as numbers when every tag is digits, as text otherwise (so `"10"`
    /// beats `"9"`, and `"2024-06-01"` beats `"2024-01-01"`); between equal numbers such as
    /// `"1"` and `"01"`, the first written.
    pub fn parse(value: &str) -> Result<Self, TotpError> {
        let trimmed = value.trim_start();
        let secrets: Vec<(String, Vec<u8>)> = if trimmed.starts_with(['{', '[']) {
            let members: OrderedMembers = serde_json::from_str(value).map_err(|e| {
                TotpError::BadKeys(format!(
                    "not a JSON object of tag to secret ({e}); a plain secret must not start \
                     with {{ or ["
                ))
            })?;
            let mut secrets = Vec::with_capacity(members.0.len());
            for (tag, secret) in members.0 {
                if !valid_tag(&tag) {
                    return Err(TotpError::BadKeys(format!(
                        "tag {tag:?} is not a letter or digit followed by letters, digits, \
                         '_', '.' or '-'"
                    )));
                }
                match secret {
                    Value::String(s) if !s.is_empty() => secrets.push((tag, s.into_bytes())),
                    Value::String(_) => {
                        return Err(TotpError::BadKeys(format!(
                            "tag {tag:?} has an empty secret"
                        )))
                    }
                    _ => {
                        return Err(TotpError::BadKeys(format!(
                            "the secret of tag {tag:?} is not a string"
                        )))
                    }
                }
            }
            secrets
        } else if value.is_empty() {
            return Err(TotpError::BadKeys("empty".into()));
        } else {
            vec![("1".to_string(), value.as_bytes().to_vec())]
        };
        if secrets.is_empty() {
            return Err(TotpError::BadKeys(
                "needs at least one tag and secret".into(),
            ));
        }
        let all_digits = secrets
            .iter()
            .all(|(tag, _)| tag.bytes().all(|b| b.is_ascii_digit()));
        let mut default = 0;
        for (i, (tag, _)) in secrets.iter().enumerate().skip(1) {
            let best = &secrets[default].0;
            let greater = if all_digits {
                cmp_numeric(tag, best).is_gt()
            } else {
                tag.as_str() > best.as_str()
            };
            if greater {
                default = i;
            }
        }
        Ok(TotpKeys { secrets, default })
    }

    /// The tag new encryptions use.
    pub fn default_tag(&self) -> &str {
        &self.secrets[self.default].0
    }

    /// The configured tags, in the order given.
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.secrets.iter().map(|(tag, _)| tag.as_str())
    }

    fn secret(&self, tag: &str) -> Result<&[u8], TotpError> {
        self.secrets
            .iter()
            .find(|(t, _)| t == tag)
            .map(|(_, s)| s.as_slice())
            .ok_or_else(|| TotpError::UnknownTag {
                tag: tag.to_string(),
                known: self
                    .tags()
                    .map(|t| format!("\"{t}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// `secret` encrypted for storage, exactly as Flask-Security (passlib) writes
    /// `tf_totp_secret`: `{"enckey":{"c":14,"k":"…","s":"…","t":"<default tag>","v":1},
    /// "type":"totp","v":1}`, with a new random salt each time. Costs 2^14 PBKDF2-SHA256
    /// rounds.
    pub fn encrypt(&self, secret: &TotpSecret) -> String {
        let (tag, app_secret) = &self.secrets[self.default];
        let mut salt = [0u8; SALT_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        let mut ciphertext = secret.0.clone();
        apply_keystream(app_secret, &salt, ENCRYPT_COST, &mut ciphertext);
        // Fields in sorted order, compact: passlib's json.dumps(sort_keys=True,
        // separators=(",", ":")).
        #[derive(serde::Serialize)]
        struct EncKey<'a> {
            c: u32,
            k: String,
            s: String,
            t: &'a str,
            v: u8,
        }
        #[derive(serde::Serialize)]
        struct Stored<'a> {
            enckey: EncKey<'a>,
            #[serde(rename = "type")]
            kind: &'static str,
            v: u8,
        }
        let record = Stored {
            enckey: EncKey {
                c: ENCRYPT_COST,
                k: b32encode(&ciphertext),
                s: b32encode(&salt),
                t: tag,
                v: 1,
            },
            kind: "totp",
            v: 1,
        };
        serde_json::to_string(&record).expect("plain strings and numbers always serialize")
    }

    /// The key in a stored `tf_totp_secret`, as written by [`encrypt`](Self::encrypt) or by
    /// Flask-Security/passlib, encrypted (any configured tag, any cost up to [`MAX_COST`]) or
    /// in passlib's clear form `{"key":"BASE32","type":"totp","v":1}`.
    ///
    /// Errors (never a panic): not JSON or not passlib's shape, a version other than 1, a
    /// record for SHA-256/8 digits/another period, an unknown tag, bad base32, a key shorter
    /// than [`MIN_KEY_BYTES`]. A wrong secret under a known tag is *not* detected: the result
    /// is a different, useless key (see the module documentation).
    pub fn decrypt(&self, stored: &str) -> Result<TotpSecret, TotpError> {
        match parse_record(stored)? {
            Record::Clear { key } => TotpSecret::from_base32(&key),
            Record::Encrypted {
                tag,
                cost,
                salt,
                ciphertext,
            } => {
                let app_secret = self.secret(&tag)?;
                let mut key = ciphertext;
                apply_keystream(app_secret, &salt, cost, &mut key);
                TotpSecret::from_bytes(key)
            }
        }
    }

    /// Whether a stored record should be written again with [`encrypt`](Self::encrypt):
    /// encrypted under another tag than the default (after adding a new secret to
    /// `SECURITY_TOTP_SECRETS`), with another cost, or not encrypted at all (passlib's
    /// `needs_recrypt`, plus the clear form). Reads the JSON only (no PBKDF2); `false` for
    /// text that is not a record (that is [`decrypt`](Self::decrypt)'s error to report).
    pub fn needs_reencrypt(&self, stored: &str) -> bool {
        match parse_record(stored) {
            Ok(Record::Clear { .. }) => true,
            Ok(Record::Encrypted { tag, cost, .. }) => {
                tag != self.default_tag() || cost != ENCRYPT_COST
            }
            Err(_) => false,
        }
    }
}

impl fmt::Debug for TotpKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TotpKeys")
            .field("tags", &self.tags().collect::<Vec<_>>())
            .field("default_tag", &self.default_tag())
            .field("secrets", &format_args!("[redacted]"))
            .finish()
    }
}

/// A stored record, parsed but not decrypted.
enum Record {
    Clear {
        key: String,
    },
    Encrypted {
        tag: String,
        cost: u32,
        salt: Vec<u8>,
        ciphertext: Vec<u8>,
    },
}

fn json_text(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// passlib's `TOTP.from_json` → `from_dict` → `_adapt_dict_kwds`, for the settings Latchkey
/// supports.
fn parse_record(stored: &str) -> Result<Record, TotpError> {
    let bad = |why: &str| TotpError::NotPasslib(why.to_string());
    let value: Value = serde_json::from_str(stored)
        .map_err(|e| TotpError::NotPasslib(format!("not JSON ({e})")))?;
    let Value::Object(fields) = value else {
        return Err(bad("not a JSON object"));
    };
    match fields.get("type") {
        Some(Value::String(t)) if t == "totp" => {}
        Some(other) => {
            return Err(TotpError::NotPasslib(format!(
                "type {} is not \"totp\"",
                json_text(other)
            )))
        }
        None => return Err(bad("no \"type\"")),
    }
    match fields.get("v") {
        Some(v) if v.as_u64() == Some(1) => {}
        Some(v) => {
            return Err(TotpError::UnsupportedVersion {
                what: "record",
                found: json_text(v),
            })
        }
        None => {
            return Err(TotpError::UnsupportedVersion {
                what: "record",
                found: "(missing)".into(),
            })
        }
    }
    for (name, value) in &fields {
        let supported = match name.as_str() {
            "type" | "v" | "enckey" | "key" | "label" | "issuer" | "last_counter" => true,
            "alg" => value
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case("sha1") || a.eq_ignore_ascii_case("sha-1")),
            "digits" => value.as_u64() == Some(DIGITS as u64),
            "period" => value.as_u64() == Some(STEP_SECONDS),
            _ => return Err(TotpError::NotPasslib(format!("unexpected field {name:?}"))),
        };
        if !supported {
            let name = match name.as_str() {
                "alg" => "alg",
                "digits" => "digits",
                _ => "period",
            };
            return Err(TotpError::UnsupportedParameter {
                name,
                value: json_text(value),
            });
        }
    }
    match (fields.get("enckey"), fields.get("key")) {
        (Some(_), Some(_)) => Err(bad("both \"enckey\" and \"key\"")),
        (None, None) => Err(bad("neither \"enckey\" nor \"key\"")),
        (None, Some(Value::String(key))) => Ok(Record::Clear { key: key.clone() }),
        (None, Some(_)) => Err(bad("\"key\" is not a string")),
        (Some(Value::Object(enc)), None) => {
            match enc.get("v") {
                Some(v) if v.as_u64() == Some(1) => {}
                other => {
                    return Err(TotpError::UnsupportedVersion {
                        what: "encryption",
                        found: other.map_or("(missing)".into(), json_text),
                    })
                }
            }
            let text = |name: &str| match enc.get(name) {
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(TotpError::NotPasslib(format!(
                    "enckey.{name} is not a string"
                ))),
                None => Err(TotpError::NotPasslib(format!("no enckey.{name}"))),
            };
            let tag = text("t")?.to_string();
            let cost = match enc.get("c") {
                Some(c) => match c.as_u64() {
                    Some(n) if n <= u64::from(MAX_COST) => n as u32,
                    _ => return Err(TotpError::BadCost(json_text(c))),
                },
                None => return Err(bad("no enckey.c")),
            };
            let salt = b32decode(text("s")?, "salt")?;
            let ciphertext = b32decode(text("k")?, "encrypted key")?;
            Ok(Record::Encrypted {
                tag,
                cost,
                salt,
                ciphertext,
            })
        }
        (Some(_), None) => Err(bad("\"enckey\" is not an object")),
    }
}

/// passlib's `AppWallet._cipher_aes_key`: PBKDF2-HMAC-SHA256(app secret, salt, 2^cost rounds,
/// 48 bytes) → AES-256 key (32) and initial counter block (16); AES-256-CTR over `data` in
/// place (encrypting and decrypting are the same).
fn apply_keystream(app_secret: &[u8], salt: &[u8], cost: u32, data: &mut [u8]) {
    let mut key_iv = [0u8; 48];
    pbkdf2::pbkdf2_hmac::<Sha256>(app_secret, salt, 1u32 << cost, &mut key_iv);
    let (key, iv) = key_iv.split_at(32);
    let mut cipher = Aes256Ctr::new(key.into(), iv.into());
    cipher.apply_keystream(data);
}

// ---------------------------------------------------------------------------------------------
// Base32, as passlib writes and reads it
// ---------------------------------------------------------------------------------------------

/// passlib's `b32encode`: RFC 4648, upper case, padding stripped.
fn b32encode(bytes: &[u8]) -> String {
    base32::encode(base32::Alphabet::Rfc4648 { padding: false }, bytes)
}

/// passlib's `b32decode`: any case, `0` → `O`, `8` → `B`, trailing `=` optional; a length
/// that no byte string encodes to (1, 3 or 6 characters past a multiple of 8) is an error, as
/// in Python's `base64.b32decode`.
fn b32decode(text: &str, what: &'static str) -> Result<Vec<u8>, TotpError> {
    let body = text.trim_end_matches('=');
    if !body.is_ascii() {
        return Err(TotpError::BadBase32 {
            what,
            reason: "it has characters outside base32's alphabet",
        });
    }
    let normalized: String = body
        .chars()
        .map(|c| match c.to_ascii_uppercase() {
            '0' => 'O',
            '8' => 'B',
            c => c,
        })
        .collect();
    if matches!(normalized.len() % 8, 1 | 3 | 6) {
        return Err(TotpError::BadBase32 {
            what,
            reason: "its length is not one base32 gives",
        });
    }
    base32::decode(base32::Alphabet::Rfc4648 { padding: false }, &normalized).ok_or(
        TotpError::BadBase32 {
            what,
            reason: "it has characters outside base32's alphabet",
        },
    )
}

/// passlib's `group_string`: groups of 4, 6 or 5 (the first that divides the length, else the
/// one leaving the largest last group), joined by `sep`.
fn group_string(value: &str, sep: char) -> String {
    const SIZES: [usize; 3] = [4, 6, 5];
    let len = value.len();
    let size = SIZES
        .iter()
        .copied()
        .find(|s| len.is_multiple_of(*s))
        .unwrap_or_else(|| {
            let mut best = SIZES[0];
            let mut rem = 0;
            for s in SIZES {
                if len % s > rem {
                    best = s;
                    rem = len % s;
                }
            }
            best
        });
    let mut out = String::with_capacity(len + len / size);
    for (i, c) in value.chars().enumerate() {
        if i > 0 && i % size == 0 {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Codes
// ---------------------------------------------------------------------------------------------

/// The 6-digit code for `secret` at unix time `at` (seconds).
pub fn code_at(secret: &TotpSecret, at: u64) -> String {
    secret.totp().generate(at)
}

/// The time step (`at / 30`) whose code `code` is, among the steps that overlap
/// `now - window ..= now + window` (passlib's window, which Flask-Security sets to
/// `TWO_FACTOR_AUTHENTICATOR_VALIDITY`, 120 s: so a code read on a clock up to `window` off
/// ours is accepted). `None` if no step matches or `code` is not exactly 6 ASCII digits
/// (strip what people type around it first, see [`normalize_code`]). Every step of the window
/// is computed and compared in constant time; the earliest match is returned, so that the
/// caller can refuse a step it has already accepted (see [`matching_step_after`]).
///
/// The window's sub-second part is ignored; the work is one HMAC per step of the window.
pub fn matching_step(secret: &TotpSecret, code: &str, now: u64, window: Duration) -> Option<u64> {
    matching_step_after(secret, code, now, window, None)
}

/// [`matching_step`] among the steps later than `after` only: with the last step a user's code
/// was accepted for, a replayed code (or an older one) does not match (passlib's
/// `last_counter`, which Flask-Security leaves unused).
pub fn matching_step_after(
    secret: &TotpSecret,
    code: &str,
    now: u64,
    window: Duration,
    after: Option<u64>,
) -> Option<u64> {
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let slack = window.as_secs();
    let mut first = now.saturating_sub(slack) / STEP_SECONDS;
    let last = now.saturating_add(slack) / STEP_SECONDS;
    if let Some(after) = after {
        if after >= last {
            return None;
        }
        first = first.max(after + 1);
    }
    let totp = secret.totp();
    let mut found = None;
    for step in first..=last {
        let candidate = totp.generate(step * STEP_SECONDS);
        let equal: bool = candidate.as_bytes().ct_eq(code.as_bytes()).into();
        if equal && found.is_none() {
            found = Some(step);
        }
    }
    found
}

/// A code as typed, made comparable: whitespace, `-` and `=` removed (what passlib's
/// `normalize_token` strips, so "123 456" and "123-456" work). The result still goes through
/// [`matching_step`]'s check of 6 ASCII digits.
pub fn normalize_code(typed: &str) -> String {
    typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Setting up an authenticator
// ---------------------------------------------------------------------------------------------

/// Python's `urllib.parse.quote(s, safe="")`: everything but ASCII letters, digits and `_.-~`.
const QUOTE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
/// `quote(s, safe="@")`, passlib's choice for the label (an email's `@` stays readable).
const QUOTE_LABEL: &AsciiSet = &QUOTE.remove(b'@');

/// The provisioning URI an authenticator app scans, as Flask-Security (passlib's `to_uri`)
/// makes it: `otpauth://totp/<issuer>:<account>?secret=<BASE32>&issuer=<issuer>`. The issuer
/// and account in the label are percent-encoded except for `@` (UTF-8, upper-case hex, `%20`
/// for a space); the `issuer` parameter is fully encoded. An empty issuer is left out, as
/// passlib does. passlib refuses a `:` in either; here it is encoded (`%3A`, which the Key
/// URI format allows).
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let account = utf8_percent_encode(account, QUOTE_LABEL);
    let secret = secret.base32();
    if issuer.is_empty() {
        return format!("otpauth://totp/{account}?secret={secret}");
    }
    format!(
        "otpauth://totp/{}:{account}?secret={secret}&issuer={}",
        utf8_percent_encode(issuer, QUOTE_LABEL),
        utf8_percent_encode(issuer, QUOTE)
    )
}

/// The QR code of `text` as an inline SVG element (`<svg …>…</svg>`: no XML declaration, no
/// external reference, black on white, 8 px modules with the standard quiet zone, a `viewBox`
/// so CSS can scale it). Error correction M, as Flask-Security's (python-qrcode's default).
/// An empty string if `text` does not fit in a QR code (over about 2,300 bytes), which an
/// otpauth URI never reaches; [`try_qr_svg`] says so instead.
pub fn qr_svg(text: &str) -> String {
    try_qr_svg(text).unwrap_or_default()
}

/// [`qr_svg`], with an error for text too long for a QR code.
pub fn try_qr_svg(text: &str) -> Result<String, TotpError> {
    let code =
        qrcode::QrCode::new(text.as_bytes()).map_err(|_| TotpError::QrTooLong(text.len()))?;
    let svg = code.render::<qrcode::render::svg::Color>().build();
    // The renderer starts with `<?xml …?>`, which has no place inside HTML.
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_string(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA1 key.
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    fn keys(value: &str) -> TotpKeys {
        TotpKeys::parse(value).unwrap()
    }

    #[test]
    fn rfc_6238_sha1_vectors() {
        // The RFC's 8-digit values, last 6 digits.
        let cases = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        let secret = rfc_secret();
        for (at, eight) in cases {
            assert_eq!(code_at(&secret, at), &eight[2..], "at {at}");
        }
    }

    #[test]
    fn base32_round_trips_and_reads_what_people_type() {
        let secret = rfc_secret();
        assert_eq!(secret.base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(TotpSecret::from_base32(&secret.base32()).unwrap(), secret);
        for typed in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ",
            " gezd gnbv gy3t qojq gezd gnbv gy3t qojq\n",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ====",
            // passlib's typo fixes: 0 for O, 8 for B.
            "GEZDGN8VGY3TQ0JQGEZDGNBVGY3TQOJQ",
        ] {
            assert_eq!(TotpSecret::from_base32(typed).unwrap(), secret, "{typed:?}");
        }
        for _ in 0..20 {
            let s = TotpSecret::generate();
            assert_eq!(s.as_bytes().len(), KEY_BYTES);
            assert_eq!(s.base32().len(), 32);
            assert!(!s.base32().contains('='));
            assert_eq!(TotpSecret::from_base32(&s.base32()).unwrap(), s);
            assert_eq!(TotpSecret::from_base32(&s.pretty()).unwrap(), s);
        }
        assert_ne!(TotpSecret::generate(), TotpSecret::generate());
    }

    #[test]
    fn bad_base32_and_short_keys_are_errors() {
        for bad in [
            "",
            "  - ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1",
            "GEZDGNBVGY3TQOJQ!EZDGNBVGY3TQOJQ",
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\u{e9}",
        ] {
            assert!(
                matches!(
                    TotpSecret::from_base32(bad),
                    Err(TotpError::BadBase32 { .. })
                ),
                "{bad:?}"
            );
        }
        // 33 characters: a length no byte string has in base32.
        assert!(matches!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQA"),
            Err(TotpError::BadBase32 { .. })
        ));
        // 10 bytes (passlib's minimum, with a warning) is below Latchkey's 128 bits.
        assert!(matches!(
            TotpSecret::from_base32("GEZDGNBVGY3TQOJQ"),
            Err(TotpError::KeyTooShort(10))
        ));
        assert!(TotpSecret::from_bytes(vec![7; 16]).is_ok());
        assert!(matches!(
            TotpSecret::from_bytes(vec![7; 15]),
            Err(TotpError::KeyTooShort(15))
        ));
    }

    #[test]
    fn pretty_groups_like_passlib() {
        assert_eq!(
            rfc_secret().pretty(),
            "GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ"
        );
        // 16 bytes: 26 characters, groups of 4 and a last of 2 (passlib: HOTY-…-N6WQ-PI).
        let sixteen = TotpSecret::from_bytes(vec![0xab; 16]).unwrap();
        let pretty = sixteen.pretty();
        assert_eq!(
            pretty.split('-').map(str::len).collect::<Vec<_>>(),
            [4, 4, 4, 4, 4, 4, 2]
        );
        assert_eq!(group_string("ABCDEFGHIJKL", '-'), "ABCD-EFGH-IJKL");
        assert_eq!(
            group_string("ABCDEFGHIJKLMNOPQR", '-'),
            "ABCDEF-GHIJKL-MNOPQR"
        );
        assert_eq!(group_string("ABCDEFGHIJKLMNO", '-'), "ABCDE-FGHIJ-KLMNO");
        assert_eq!(group_string("ABCDEFG", '-'), "ABCD-EFG");
    }

    #[test]
    fn matching_step_finds_the_step_within_the_window_only() {
        let secret = rfc_secret();
        let window = Duration::from_secs(120);
        let now = 1_700_000_015; // step 56_666_667 starts at 1_700_000_010
        let step = now / 30;
        assert_eq!(
            matching_step(&secret, &code_at(&secret, now), now, window),
            Some(step)
        );
        assert_eq!(
            matching_step(&secret, &code_at(&secret, now), now, Duration::ZERO),
            Some(step)
        );
        // now - 120 = 1_699_999_895, in step 56_666_663 (= step - 4); now + 120 in step + 4.
        for offset in -4i64..=4 {
            let s = (step as i64 + offset) as u64;
            let code = code_at(&secret, s * 30);
            assert_eq!(
                matching_step(&secret, &code, now, window),
                Some(s),
                "offset {offset}"
            );
        }
        for offset in [-6i64, -5, 5, 6] {
            let s = (step as i64 + offset) as u64;
            let code = code_at(&secret, s * 30);
            assert_eq!(
                matching_step(&secret, &code, now, window),
                None,
                "offset {offset}"
            );
        }
        // Without slack, only the current step.
        let previous = code_at(&secret, (step - 1) * 30);
        assert_eq!(matching_step(&secret, &previous, now, Duration::ZERO), None);
        // The step started at 1_700_000_010: 5 s of slack stays in it, 6 s reach the previous.
        assert_eq!(
            matching_step(&secret, &previous, now, Duration::from_secs(5)),
            None
        );
        assert_eq!(
            matching_step(&secret, &previous, now, Duration::from_secs(6)),
            Some(step - 1)
        );
        // Near time zero the window does not underflow.
        assert_eq!(
            matching_step(&secret, &code_at(&secret, 0), 10, window),
            Some(0)
        );
    }

    #[test]
    fn matching_step_refuses_malformed_codes() {
        let secret = rfc_secret();
        let now = 59;
        let good = code_at(&secret, now);
        assert_eq!(good, "287082");
        let window = Duration::from_secs(120);
        for bad in [
            "28708",
            "2870820",
            "",
            "287 082",
            "28708a",
            "+28708",
            "\u{0662}87082",
            "２８７０８２",
        ] {
            assert_eq!(matching_step(&secret, bad, now, window), None, "{bad:?}");
        }
        assert_eq!(
            matching_step(&secret, &normalize_code(" 287 082 "), now, window),
            Some(1)
        );
        assert_eq!(
            matching_step(&secret, &normalize_code("287-082"), now, window),
            Some(1)
        );
    }

    #[test]
    fn matching_step_after_refuses_a_replayed_or_older_step() {
        let secret = rfc_secret();
        let window = Duration::from_secs(120);
        let now = 1_700_000_015;
        let step = now / 30;
        let code = code_at(&secret, now);
        let used = matching_step(&secret, &code, now, window).unwrap();
        assert_eq!(
            matching_step_after(&secret, &code, now + 20, window, Some(used)),
            None
        );
        let older = code_at(&secret, now - 30);
        assert_eq!(
            matching_step_after(&secret, &older, now, window, Some(used)),
            None
        );
        let next = code_at(&secret, now + 30);
        assert_eq!(
            matching_step_after(&secret, &next, now, window, Some(used)),
            Some(step + 1)
        );
        assert_eq!(
            matching_step_after(&secret, &next, now, window, Some(u64::MAX)),
            None
        );
    }

    #[test]
    fn parse_keys_picks_the_default_tag_as_passlib_does() {
        assert_eq!(keys("plain secret").default_tag(), "1");
        assert_eq!(keys(r#"{"1": "a", "2": "b"}"#).default_tag(), "2");
        assert_eq!(keys(r#"{"2": "b", "1": "a"}"#).default_tag(), "2");
        assert_eq!(keys(r#"{"9": "a", "10": "b"}"#).default_tag(), "10");
        assert_eq!(keys(r#"{"1": "a", "01": "b"}"#).default_tag(), "1");
        assert_eq!(keys(r#"{"01": "a", "1": "b"}"#).default_tag(), "01");
        assert_eq!(
            keys(r#"{"9": "a", "10": "b", "x": "c"}"#).default_tag(),
            "x"
        );
        assert_eq!(
            keys(r#"{"2024-01-01": "a", "2024-06-01": "b"}"#).default_tag(),
            "2024-06-01"
        );
        assert_eq!(
            keys(r#"{"1": "a", "99999999999999999999999": "b", "3": "c"}"#).default_tag(),
            "99999999999999999999999"
        );
        // A repeated tag keeps its place and takes the last value (Python's json.loads).
        let k = keys(r#"{"1": "a", "2": "b", "1": "c"}"#);
        assert_eq!(k.tags().collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(k.secret("1").unwrap(), b"c");
        // A secret is its UTF-8 bytes.
        assert_eq!(keys("cl\u{e9}").secret("1").unwrap(), "cl\u{e9}".as_bytes());
    }

    #[test]
    fn parse_keys_refuses_what_passlib_refuses() {
        for bad in [
            "",
            "{}",
            "[]",
            r#"["a", "b"]"#,
            "{not json",
            r#"{"1": ""}"#,
            r#"{"1": 5}"#,
            r#"{"-1": "a"}"#,
            r#"{"a b": "a"}"#,
            r#"{"": "a"}"#,
            r#"{"é": "a"}"#,
        ] {
            assert!(
                matches!(TotpKeys::parse(bad), Err(TotpError::BadKeys(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn encrypt_writes_passlibs_exact_shape_and_decrypt_reads_it() {
        let keys = keys(r#"{"1": "old secret", "2": "new secret"}"#);
        let secret = TotpSecret::generate();
        let stored = keys.encrypt(&secret);
        assert!(stored.starts_with(r#"{"enckey":{"c":14,"k":""#), "{stored}");
        assert!(
            stored.ends_with(r#"","t":"2","v":1},"type":"totp","v":1}"#),
            "{stored}"
        );
        let v: Value = serde_json::from_str(&stored).unwrap();
        let k = v["enckey"]["k"].as_str().unwrap();
        let s = v["enckey"]["s"].as_str().unwrap();
        assert_eq!(k.len(), 32);
        assert_eq!(s.len(), 20);
        assert!(k
            .chars()
            .chain(s.chars())
            .all(|c| c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
        assert_eq!(keys.decrypt(&stored).unwrap(), secret);
        assert!(!keys.needs_reencrypt(&stored));

        // A new random salt each time: two encryptions differ, both decrypt.
        let again = keys.encrypt(&secret);
        assert_ne!(again, stored);
        assert_eq!(keys.decrypt(&again).unwrap(), secret);
    }

    #[test]
    fn records_under_an_older_tag_decrypt_and_ask_to_be_rewritten() {
        let old = keys("old secret");
        let both = keys(r#"{"1": "old secret", "2": "new secret"}"#);
        let secret = TotpSecret::generate();
        let stored = old.encrypt(&secret);
        assert!(stored.contains(r#""t":"1""#));
        assert_eq!(both.decrypt(&stored).unwrap(), secret);
        assert!(both.needs_reencrypt(&stored));
        assert!(!old.needs_reencrypt(&stored));
        let rewritten = both.encrypt(&both.decrypt(&stored).unwrap());
        assert!(!both.needs_reencrypt(&rewritten));
        // Once tag 1 is gone, the old record is an error that names the tag.
        let err = keys(r#"{"2": "new secret"}"#).decrypt(&stored).unwrap_err();
        assert!(
            matches!(err, TotpError::UnknownTag { ref tag, .. } if tag == "1"),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            "unknown TOTP secret tag \"1\": SECURITY_TOTP_SECRETS has \"2\""
        );
    }

    /// CTR has no authentication: the wrong application secret under the right tag gives
    /// another key, not an error. Codes from it simply never match.
    #[test]
    fn a_wrong_application_secret_gives_a_different_key_not_an_error() {
        let secret = TotpSecret::generate();
        let stored = keys("the right secret").encrypt(&secret);
        let wrong = keys("the wrong secret").decrypt(&stored).unwrap();
        assert_ne!(wrong, secret);
        assert_eq!(wrong.as_bytes().len(), secret.as_bytes().len());
        let now = 1_700_000_015;
        assert_eq!(
            matching_step(&wrong, &code_at(&secret, now), now, Duration::ZERO),
            None,
            "(a 1-in-a-million coincidence would fail this; rerun)"
        );
    }

    #[test]
    fn passlibs_clear_form_is_read_and_asks_to_be_encrypted() {
        let k = keys("app");
        let stored = r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":1}"#;
        assert_eq!(k.decrypt(stored).unwrap(), rfc_secret());
        assert!(k.needs_reencrypt(stored));
    }

    #[test]
    fn malformed_records_are_errors_not_panics() {
        let k = keys(r#"{"1": "app"}"#);
        let good = k.encrypt(&rfc_secret());
        let v: Value = serde_json::from_str(&good).unwrap();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut v = v.clone();
            f(&mut v);
            v.to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "not passlib"),
            ("null".into(), "not passlib"),
            ("[1]".into(), "not passlib"),
            ("GEZDGNBVGY3TQOJQ".into(), "not passlib"),
            (r#"{"type":"totp","v":1}"#.into(), "not passlib"),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","v":1}"#.into(),
                "not passlib",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"hotp","v":1}"#.into(),
                "not passlib",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp"}"#.into(),
                "version",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":2}"#.into(),
                "version",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":"1"}"#.into(),
                "version",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":1,"digits":8}"#
                    .into(),
                "unsupported",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":1,"alg":"sha256"}"#
                    .into(),
                "unsupported",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":1,"period":60}"#
                    .into(),
                "unsupported",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ","type":"totp","v":1,"extra":1}"#
                    .into(),
                "not passlib",
            ),
            (
                r#"{"key":"GEZDGNBVGY3TQOJQ","type":"totp","v":1}"#.into(),
                "short",
            ),
            (
                r#"{"key":"not base 32!","type":"totp","v":1}"#.into(),
                "base32",
            ),
            (with(&|v| v["enckey"]["t"] = "3".into()), "tag"),
            (with(&|v| v["enckey"]["t"] = 1.into()), "not passlib"),
            (with(&|v| v["enckey"]["v"] = 2.into()), "version"),
            (with(&|v| v["enckey"]["c"] = 31.into()), "cost"),
            (with(&|v| v["enckey"]["c"] = (-1).into()), "cost"),
            (with(&|v| v["enckey"]["c"] = 14.5.into()), "cost"),
            (with(&|v| v["enckey"]["c"] = u64::MAX.into()), "cost"),
            (with(&|v| v["enckey"]["s"] = "!!".into()), "base32"),
            (with(&|v| v["enckey"]["k"] = "ABC".into()), "base32"),
            (
                with(&|v| v["enckey"]["k"] = "GEZDGNBVGY3TQOJQ".into()),
                "short",
            ),
            (with(&|v| v["enckey"]["k"] = Value::Null), "not passlib"),
            (with(&|v| v["enckey"] = "x".into()), "not passlib"),
            (
                with(&|v| v["key"] = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into()),
                "not passlib",
            ),
            (
                with(&|v| {
                    v["enckey"].as_object_mut().unwrap().remove("s");
                }),
                "not passlib",
            ),
        ];
        for (stored, kind) in cases {
            let err = k.decrypt(&stored).expect_err(&stored);
            let ok = match kind {
                "not passlib" => matches!(err, TotpError::NotPasslib(_)),
                "version" => matches!(err, TotpError::UnsupportedVersion { .. }),
                "unsupported" => matches!(err, TotpError::UnsupportedParameter { .. }),
                "short" => matches!(err, TotpError::KeyTooShort(_)),
                "base32" => matches!(err, TotpError::BadBase32 { .. }),
                "tag" => matches!(err, TotpError::UnknownTag { .. }),
                "cost" => matches!(err, TotpError::BadCost(_)),
                _ => unreachable!(),
            };
            assert!(ok, "{stored}: expected {kind}, got {err:?} ({err})");
            assert!(
                !k.needs_reencrypt(&stored) || kind == "short" || kind == "tag" || kind == "base32"
            );
        }
        // Fields passlib ignores or accepts with default values.
        let extra = with(&|v| {
            v["label"] = "alice".into();
            v["issuer"] = "X".into();
            v["digits"] = 6.into();
            v["period"] = 30.into();
            v["alg"] = "SHA1".into();
        });
        assert_eq!(k.decrypt(&extra).unwrap(), rfc_secret());
    }

    /// The derivation against values Python computed with passlib's own helpers
    /// (`passlib.crypto.digest.pbkdf2_hmac("sha256", b"app secret", salt=b"0123456789ab",
    /// rounds=1<<14, keylen=48)`), and a counter block whose low 96 bits are all ones, where
    /// `cryptography`'s CTR carries into the top 32 bits (a 32- or 64-bit counter would wrap).
    #[test]
    fn key_derivation_and_counter_match_passlib_and_cryptography() {
        let mut key_iv = [0u8; 48];
        pbkdf2::pbkdf2_hmac::<Sha256>(b"app secret", b"0123456789ab", 1 << 14, &mut key_iv);
        assert_eq!(
            hex::encode(key_iv),
            "0723645e8d30741a47f8ba2d486dc743f7050192f5a7de45b43a5d50c05235ff\
             426b158b398d071ff852d555f2ad6318"
        );
        let key: Vec<u8> = (0u8..32).collect();
        let iv = hex::decode("00000000ffffffffffffffffffffffff").unwrap();
        let mut data = [0u8; 48];
        Aes256Ctr::new(key.as_slice().into(), iv.as_slice().into()).apply_keystream(&mut data);
        // Python: Cipher(AES(bytes(range(32))), CTR(iv)).encryptor().update(bytes(48))
        assert_eq!(
            hex::encode(data),
            "1fe13868b5871ca55d2a84aaa4bf068c9dba41a777f3b46a37b7aaae49d6df8d\
             197b1d24ed7acc2678859df922c3b5cb"
        );
    }

    #[test]
    fn otpauth_uri_is_passlibs() {
        let secret = rfc_secret();
        assert_eq!(
            otpauth_uri(&secret, "Latchkey", "alice@example.com"),
            "otpauth://totp/Latchkey:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Latchkey"
        );
        assert_eq!(
            otpauth_uri(&secret, "My App", "o'brien+2fa@ex.org"),
            "otpauth://totp/My%20App:o%27brien%2B2fa@ex.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=My%20App"
        );
        assert_eq!(
            otpauth_uri(&secret, "A@B", "j\u{f6}rg@ex.org"),
            "otpauth://totp/A@B:j%C3%B6rg@ex.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=A%40B"
        );
        assert_eq!(
            otpauth_uri(&secret, "", "alice"),
            "otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert!(otpauth_uri(&secret, "a:b", "c:d").starts_with("otpauth://totp/a%3Ab:c%3Ad?"));
    }

    #[test]
    fn qr_svg_is_an_inline_svg_element() {
        let svg = qr_svg(&otpauth_uri(
            &TotpSecret::generate(),
            "Latchkey",
            "alice@example.com",
        ));
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("viewBox="));
        assert!(!svg.contains("<?xml"));
        assert!(!svg.contains("href"));
        assert!(!svg.contains("url("));
        assert_eq!(svg.matches("http").count(), 1, "only the SVG namespace");
        assert_eq!(qr_svg(&"x".repeat(10_000)), "");
        assert!(matches!(
            try_qr_svg(&"x".repeat(10_000)),
            Err(TotpError::QrTooLong(10_000))
        ));
    }

    #[test]
    fn debug_redacts_keys_and_secrets() {
        let secret = rfc_secret();
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(
            !shown.contains("GEZD") && !shown.contains("49, 50"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"));
        let k = keys(r#"{"1": "hunter2-app-secret", "2": "correct horse"}"#);
        let shown = format!("{k:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("horse"),
            "{shown}"
        );
        assert!(
            shown.contains("[redacted]") && shown.contains("default_tag: \"2\""),
            "{shown}"
        );
    }
}
