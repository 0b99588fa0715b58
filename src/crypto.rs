//! Random secrets, keys derived from `SECRET_KEY`, and the digests stored in their place:
//! the primitives every layer that makes or checks a secret uses (sessions, links, CSRF,
//! throttling keys, request ids). No rules here.

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::config::Secret;

/// A purpose-specific key derived from `SECRET_KEY`, so one secret never serves two uses.
pub fn derive_key(secret: &Secret, purpose: &str) -> [u8; 64] {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(b"latchkey:");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// HMAC-SHA256 of `token` under `key`, hex: what is stored for a token that must also be
/// refused by an instance with another `SECRET_KEY`.
pub fn keyed_digest(key: &[u8], token: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `n` random bytes, URL-safe base64 without padding. `ThreadRng` is a CSPRNG (ChaCha12)
/// seeded from the OS and reseeded as it goes; unlike reading the OS source directly it
/// costs no system call per token (tokens are made on every anonymous page view).
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// 32 lowercase hex characters, like Flask-Security's `uuid4().hex`.
pub fn new_uniquifier() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a secret token: its SHA-256, hex. The token has 256 random bits, so a
/// plain digest is enough (no salt or stretching needed).
pub fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time string equality.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long_enough() {
        let a = random_token(32);
        let b = random_token(32);
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(new_uniquifier().len(), 32);
    }

    #[test]
    fn digests_compare_in_constant_time() {
        let t = random_token(32);
        assert!(constant_time_eq(&digest(&t), &digest(&t)));
        assert!(!constant_time_eq(&digest(&t), &digest("other")));
        assert!(!constant_time_eq("a", "ab"));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn digests_of_any_string_are_fixed_size_hex_and_deterministic(a in "\\PC{0,200}", b in "\\PC{0,200}") {
                for d in [digest(&a), keyed_digest(b"k", &a)] {
                    prop_assert_eq!(d.len(), 64);
                    prop_assert!(d.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
                }
                prop_assert_eq!(digest(&a), digest(&a));
                prop_assert_eq!(digest(&a) == digest(&b), a == b);
                prop_assert_eq!(keyed_digest(b"k", &a) == keyed_digest(b"k", &b), a == b);
                prop_assert_ne!(keyed_digest(b"k1", &a), keyed_digest(b"k2", &a));
            }

            #[test]
            fn constant_time_eq_is_equality(a in "\\PC{0,40}", b in "\\PC{0,40}") {
                prop_assert_eq!(constant_time_eq(&a, &b), a == b);
                prop_assert!(constant_time_eq(&a, &a.clone()));
            }
        }
    }
}
