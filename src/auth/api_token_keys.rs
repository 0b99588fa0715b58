//! The keys API tokens are stored and refresh tokens signed under (see
//! [`super::api_tokens`]), apart so that [`super::services::Services`] can hold them.

use crate::config::Secret;
use crate::crypto::{constant_time_eq, derive_key, keyed_digest};

/// Tokens we issue are 43 characters; refuse anything absurd before hashing.
const MAX_TOKEN_LEN: usize = 128;

/// The keys tokens are stored and signed under, derived from `SECRET_KEY`.
#[derive(Clone)]
pub struct TokenKeys {
    digest: [u8; 64],
    refresh: [u8; 64],
}

impl TokenKeys {
    pub fn new(secret: &Secret) -> Self {
        Self {
            digest: derive_key(secret, "api-token"),
            refresh: derive_key(secret, "refresh-token"),
        }
    }

    /// What is stored for a token we issue.
    pub(super) fn digest_of(&self, raw: &str) -> String {
        keyed_digest(&self.digest, raw)
    }

    /// What is looked up for a presented token (`None`: too long or empty to be ours).
    pub(super) fn hash(&self, raw: &str) -> Option<String> {
        (!raw.is_empty() && raw.len() <= MAX_TOKEN_LEN).then(|| keyed_digest(&self.digest, raw))
    }

    pub(super) fn refresh_token(&self, family: &str, gen: i32) -> String {
        let body = format!("{family}.{gen}");
        let mac = keyed_digest(&self.refresh, &body);
        format!("{body}.{mac}")
    }

    /// The family and generation a refresh token names, if its MAC is ours.
    pub fn parse_refresh(&self, raw: &str) -> Option<(String, i32)> {
        if raw.len() > 256 {
            return None;
        }
        let (body, mac) = raw.rsplit_once('.')?;
        if !constant_time_eq(&keyed_digest(&self.refresh, body), mac) {
            return None;
        }
        let (family, gen) = body.split_once('.')?;
        Some((family.to_owned(), gen.parse().ok()?))
    }

    /// The handle the sessions page shows for a token (never the token or its digest).
    pub fn handle(&self, token_hash: &str) -> String {
        keyed_digest(&self.digest, &format!("handle:{token_hash}"))[..24].to_owned()
    }
}
