//! Mail bodies at rest. A queued mail may carry a working link (a password reset, a
//! confirmation): anyone who can read the database must not be able to use it. Bodies are
//! stored sealed with AES-256-GCM under a key derived from `SECRET_KEY` (every instance
//! shares it) and opened only by the worker that sends them; a delivered row is deleted, a
//! given-up one has its bodies cleared. Log lines name a recipient by a keyed tag, never by
//! the address.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use rand::RngCore;

use crate::config::Secret;
use crate::crypto::{derive_key, keyed_digest};

/// What a sealed body starts with (version 1: nonce and ciphertext, base64).
const SEALED: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;

/// The keys of the outbox: one seals bodies, one tags recipients in logs.
#[derive(Clone)]
pub struct OutboxKey {
    cipher: Aes256Gcm,
    tag_key: [u8; 64],
}

impl std::fmt::Debug for OutboxKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OutboxKey([redacted])")
    }
}

/// A body that cannot be opened: sealed under another `SECRET_KEY`, or damaged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the mail body cannot be opened (was SECRET_KEY changed since it was queued?)")]
pub struct SealError;

impl OutboxKey {
    pub fn derive(secret: &Secret) -> Self {
        Self::derive_for(secret, "mail-outbox-seal")
    }

    /// The same sealing under a key of another purpose: what other secrets kept at rest
    /// (the OpenID Connect provider's private signing keys) are sealed with, so that one
    /// derived key never serves two uses.
    pub fn derive_for(secret: &Secret, purpose: &str) -> Self {
        let sealing = derive_key(secret, purpose);
        Self {
            cipher: Aes256Gcm::new_from_slice(&sealing[..32])
                .expect("a 32-byte key is what AES-256 takes"),
            tag_key: derive_key(secret, "mail-recipient-tag"),
        }
    }

    /// `plain`, sealed for storage.
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM seals any body that fits in memory");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&ciphertext);
        format!(
            "{SEALED}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(stored)
        )
    }

    /// A stored body, opened. Bodies queued before sealing existed are plain and come back
    /// as they are.
    pub fn open(&self, stored: &str) -> Result<String, SealError> {
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_owned());
        };
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(encoded)
            .map_err(|_| SealError)?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SealError)?;
        String::from_utf8(plain).map_err(|_| SealError)
    }

    /// A short keyed tag for a recipient, for log lines: the same address always gets the
    /// same tag (lines can be followed), and the tag does not give the address away.
    pub fn recipient_tag(&self, address: &str) -> String {
        keyed_digest(&self.tag_key, &address.to_lowercase())[..16].to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_body_opens_with_its_key_only_and_hides_the_link() {
        let key = OutboxKey::derive(&Secret::new("one secret"));
        let body = "Reset it: http://127.0.0.1/reset/abcdefghijklmnop";
        let sealed = key.seal(body);
        assert!(sealed.starts_with(SEALED));
        assert!(!sealed.contains("/reset/"), "{sealed}");
        assert_ne!(key.seal(body), sealed, "a fresh nonce each time");
        assert_eq!(key.open(&sealed).unwrap(), body);
        let other = OutboxKey::derive(&Secret::new("another secret"));
        assert_eq!(other.open(&sealed), Err(SealError));
        let mut damaged = sealed.clone();
        damaged.push('A');
        assert_eq!(key.open(&damaged), Err(SealError));
        assert_eq!(
            key.open("queued before sealing").unwrap(),
            "queued before sealing"
        );
    }

    #[test]
    fn recipient_tags_are_stable_and_keyed() {
        let key = OutboxKey::derive(&Secret::new("s"));
        let tag = key.recipient_tag("Ann@Example.com");
        assert_eq!(tag, key.recipient_tag("ann@example.com"));
        assert_eq!(tag.len(), 16);
        assert!(!tag.contains("ann"));
        assert_ne!(
            tag,
            OutboxKey::derive(&Secret::new("t")).recipient_tag("ann@example.com")
        );
    }
}
