//! Passwords: the policy a new one must satisfy (`SECURITY_PASSWORD_LENGTH_MIN`,
//! `SECURITY_PASSWORD_COMPLEXITY_CHECKER`, …), the hash scheme and cost
//! (`SECURITY_PASSWORD_HASH`, `SECURITY_BCRYPT_ROUNDS`) and the hashing queue
//! (`SECURITY_HASH_WAIT`, or a fixed `SECURITY_HASH_QUEUE`). The policy is applied by
//! `domain::Password`.

use std::time::Duration;

use super::normalize::{self, NormalizeForm};
use super::source::{parse_flag, ConfigError, Source};

/// What a new password must satisfy (ASVS V2.1): a length range counted in code points
/// after normalising (NFKD by default), any Unicode, no composition rules; optionally a
/// zxcvbn score and the offline common-password list. Also how every typed password is
/// normalised before it is checked or hashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// `SECURITY_PASSWORD_LENGTH_MIN` (8, as Flask-Security; ASVS 2.1.1 asks 12).
    pub min_length: usize,
    /// 128, as Flask-Security (ASVS 2.1.2 asks that at least 64 be allowed).
    pub max_length: usize,
    /// `SECURITY_PASSWORD_COMPLEXITY_CHECKER=zxcvbn`: the lowest zxcvbn score (0–4)
    /// accepted, `SECURITY_ZXCVBN_MINIMUM_SCORE`.
    pub zxcvbn_min_score: Option<u8>,
    /// `SECURITY_PASSWORD_CHECK_BREACHED=offline`: refuse passwords on the shipped list.
    pub check_breached: bool,
    /// `SECURITY_PASSWORD_NORMALIZE_FORM` (NFKD; `None`: as typed).
    pub normalize_form: Option<NormalizeForm>,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            zxcvbn_min_score: None,
            check_breached: false,
            normalize_form: NormalizeForm::DEFAULT,
        }
    }
}

/// `SECURITY_PASSWORD_HASH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    Bcrypt,
    Argon2,
}

impl HashScheme {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "bcrypt" => Some(HashScheme::Bcrypt),
            "argon2" => Some(HashScheme::Argon2),
            _ => None,
        }
    }
}

/// How many password hashes may wait for a free core before the next is refused with a 503.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashQueueLimit {
    /// As many as can expect to start within this time (`SECURITY_HASH_WAIT`, the default):
    /// a hash waits if its place in line × the time of one hash ÷ the cores fits.
    Wait(Duration),
    /// A fixed number (`SECURITY_HASH_QUEUE`, when set).
    Fixed(usize),
}

/// `SECURITY_HASH_WAIT`'s default: a hash may wait up to about 5 seconds for a core.
pub const DEFAULT_HASH_WAIT: Duration = Duration::from_secs(5);

/// The longest `SECURITY_HASH_WAIT` accepted (each waiting login holds a request open).
pub const MAX_HASH_WAIT: Duration = Duration::from_secs(600);

/// The longest `SECURITY_HASH_QUEUE` accepted; also the most hashes a wait budget lets wait.
pub const MAX_HASH_QUEUE: usize = 10_000;

/// `SECURITY_BCRYPT_ROUNDS`: bcrypt's cost, 4 to 31.
pub(super) fn bcrypt_rounds(src: &Source) -> Result<u32, ConfigError> {
    let bcrypt_rounds: u32 = src.number("SECURITY_BCRYPT_ROUNDS", 12)?;
    if !(4..=31).contains(&bcrypt_rounds) {
        return Err(ConfigError::new(
            "SECURITY_BCRYPT_ROUNDS",
            format!("must be between 4 and 31, got {bcrypt_rounds}"),
        ));
    }
    Ok(bcrypt_rounds)
}

/// `SECURITY_PASSWORD_HASH`: bcrypt (the default) or argon2.
pub(super) fn password_hash(src: &Source) -> Result<HashScheme, ConfigError> {
    match src.get("SECURITY_PASSWORD_HASH") {
        None => Ok(HashScheme::Bcrypt),
        Some(v) => HashScheme::parse(v).ok_or_else(|| {
            ConfigError::new(
                "SECURITY_PASSWORD_HASH",
                format!("expected bcrypt or argon2, got {v:?}"),
            )
        }),
    }
}

/// `SECURITY_HASH_QUEUE` (a fixed count, at most [`MAX_HASH_QUEUE`]) when set; otherwise
/// `SECURITY_HASH_WAIT` (seconds, or a period such as "10 seconds"; default 5, at most
/// [`MAX_HASH_WAIT`]).
pub(super) fn hash_queue(src: &Source) -> Result<HashQueueLimit, ConfigError> {
    let wait = src.seconds_or_period("SECURITY_HASH_WAIT", "5 seconds")?;
    if wait > MAX_HASH_WAIT {
        return Err(ConfigError::new(
            "SECURITY_HASH_WAIT",
            format!(
                "must be at most {} seconds (each waiting login holds a request open), got {}",
                MAX_HASH_WAIT.as_secs(),
                wait.as_secs()
            ),
        ));
    }
    if src.get("SECURITY_HASH_QUEUE").is_none() {
        return Ok(HashQueueLimit::Wait(wait));
    }
    let hash_queue: usize = src.number("SECURITY_HASH_QUEUE", 0)?;
    if hash_queue > MAX_HASH_QUEUE {
        return Err(ConfigError::new(
            "SECURITY_HASH_QUEUE",
            format!("must be at most {MAX_HASH_QUEUE} (each waiting login holds a request open), got {hash_queue}"),
        ));
    }
    Ok(HashQueueLimit::Fixed(hash_queue))
}

/// `SECURITY_PASSWORD_LENGTH_MIN`, `SECURITY_PASSWORD_COMPLEXITY_CHECKER`,
/// `SECURITY_ZXCVBN_MINIMUM_SCORE`, `SECURITY_PASSWORD_CHECK_BREACHED` (with
/// `SECURITY_PASSWORD_BREACHED_COUNT`) and `SECURITY_PASSWORD_NORMALIZE_FORM`.
pub(super) fn password_policy(src: &Source) -> Result<PasswordPolicy, ConfigError> {
    let defaults = PasswordPolicy::default();
    let min_length: usize = src.number("SECURITY_PASSWORD_LENGTH_MIN", defaults.min_length)?;
    if !(1..=defaults.max_length).contains(&min_length) {
        return Err(ConfigError::new(
            "SECURITY_PASSWORD_LENGTH_MIN",
            format!("must be between 1 and {}", defaults.max_length),
        ));
    }
    let min_score: u8 = src.number("SECURITY_ZXCVBN_MINIMUM_SCORE", 3)?;
    if min_score > 4 {
        return Err(ConfigError::new(
            "SECURITY_ZXCVBN_MINIMUM_SCORE",
            format!("must be between 0 and 4 (zxcvbn's scores), got {min_score}"),
        ));
    }
    let zxcvbn_min_score = match src
        .get("SECURITY_PASSWORD_COMPLEXITY_CHECKER")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => None,
        Some("zxcvbn") => Some(min_score),
        Some(other) => {
            return Err(ConfigError::new(
                "SECURITY_PASSWORD_COMPLEXITY_CHECKER",
                format!("expected zxcvbn (or unset), got {other:?}"),
            ))
        }
    };
    let check_breached = match src
        .get("SECURITY_PASSWORD_CHECK_BREACHED")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None => false,
        Some("offline") => true,
        // Flask-Security's values ask HaveIBeenPwned over the network, which Latchkey
        // does not do: say so rather than silently checking less than asked.
        Some(v @ ("strict" | "best-effort")) => {
            return Err(ConfigError::new(
                "SECURITY_PASSWORD_CHECK_BREACHED",
                format!(
                    "{v:?} is Flask-Security's online HaveIBeenPwned check, which Latchkey \
                     does not offer; use offline (the list shipped with Latchkey) or false"
                ),
            ))
        }
        Some(v) => match parse_flag(v) {
            Some(false) => false,
            _ => {
                return Err(ConfigError::new(
                    "SECURITY_PASSWORD_CHECK_BREACHED",
                    format!("expected offline or false, got {v:?}"),
                ))
            }
        },
    };
    if check_breached {
        breached_count(src)?;
    }
    Ok(PasswordPolicy {
        min_length,
        zxcvbn_min_score,
        check_breached,
        normalize_form: normalize::password_form(src)?,
        ..defaults
    })
}

/// `SECURITY_PASSWORD_BREACHED_COUNT`, read only when the offline list is on: the list has no
/// counts (a password is on it or not), so only Flask-Security's default, 1, means what it
/// says; a higher count (let through passwords seen fewer times) is refused rather than
/// silently checked more strictly than asked.
fn breached_count(src: &Source) -> Result<(), ConfigError> {
    const KEY: &str = "SECURITY_PASSWORD_BREACHED_COUNT";
    if src.get(KEY).is_none() {
        return Ok(());
    }
    match src.number::<u64>(KEY, 1)? {
        0 | 1 => Ok(()),
        n => Err(ConfigError::new(
            KEY,
            format!(
                "is {n}, but Latchkey's offline list (SECURITY_PASSWORD_CHECK_BREACHED=offline) \
                 has no counts: every password on it is refused, as with a count of 1; \
                 remove the key or set it to 1"
            ),
        )),
    }
}
