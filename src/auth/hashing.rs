//! Flask-Security's password scheme (BEHAVIOUR.md §6):
//! `bcrypt(base64(HMAC-SHA512(SECURITY_PASSWORD_SALT, NFKD(password)))[..72])`, `$2b$`.
//!
//! Hashing is deliberately slow, so it never runs on an async worker: every hash and verify
//! goes to the blocking pool, at most one per core at a time. A bounded number may wait for a
//! core (`SECURITY_HASH_QUEUE`); past that, [`HashError::Busy`] answers at once (a 503 with
//! `Retry-After`) instead of letting a login flood queue without bound.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha512;
use tokio::sync::Semaphore;

use crate::config::Secret;
use crate::domain::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("the hashing pool is gone")]
    Pool,
    #[error("too many password hashes are waiting for a core")]
    Busy,
}

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
    queue: Arc<HashQueue>,
}

struct Inner {
    salt: Secret,
    cost: u32,
    /// Verified against when the account does not exist, so that both cases cost the same.
    dummy_hash: String,
    permits: Semaphore,
}

impl PasswordHasher {
    pub fn new(salt: Secret, cost: u32) -> Result<Self, HashError> {
        let dummy = prehash(&salt, &Password::normalize("latchkey-dummy-password"));
        let dummy_hash = bcrypt::hash(dummy, cost)?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Ok(Self {
            inner: Arc::new(Inner {
                salt,
                cost,
                dummy_hash,
                permits: Semaphore::new(cores),
            }),
            queue: Arc::new(HashQueue::new(cores, default_queue_limit())),
        })
    }

    /// At most `waiting` hashes wait for a free core; more are refused with [`HashError::Busy`].
    pub fn with_queue_limit(mut self, waiting: usize) -> Self {
        self.queue = Arc::new(HashQueue::new(self.queue.running, waiting));
        self
    }

    pub fn cost(&self) -> u32 {
        self.inner.cost
    }

    /// Hashes on the blocking pool.
    pub async fn hash(&self, password: Password) -> Result<String, HashError> {
        let inner = self.inner.clone();
        self.run(move || inner.hash_now(&password)).await?
    }

    /// Verifies against `stored`, or against a dummy hash when there is no account, so an
    /// unknown email costs exactly one verify too.
    pub async fn verify(
        &self,
        password: Password,
        stored: Option<String>,
    ) -> Result<bool, HashError> {
        let inner = self.inner.clone();
        self.run(move || {
            let (hash, real) = match &stored {
                Some(h) => (h.as_str(), true),
                None => (inner.dummy_hash.as_str(), false),
            };
            inner.verify_now(&password, hash) && real
        })
        .await
    }

    /// Synchronous hash, for the CLI and tests.
    pub fn hash_blocking(&self, password: &Password) -> Result<String, HashError> {
        self.inner.hash_now(password)
    }

    /// Synchronous verify, for the CLI and tests.
    pub fn verify_blocking(&self, password: &Password, stored: &str) -> bool {
        self.inner.verify_now(password, stored)
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let _slot = self.queue.enter().ok_or(HashError::Busy)?;
        let _permit = self
            .inner
            .permits
            .acquire()
            .await
            .map_err(|_| HashError::Pool)?;
        actix_web::web::block(f).await.map_err(|_| HashError::Pool)
    }
}

impl Inner {
    fn hash_now(&self, password: &Password) -> Result<String, HashError> {
        Ok(bcrypt::hash(prehash(&self.salt, password), self.cost)?)
    }

    fn verify_now(&self, password: &Password, stored: &str) -> bool {
        if !(stored.starts_with("$2b$") || stored.starts_with("$2a$") || stored.starts_with("$2y$"))
        {
            // Another scheme (e.g. Flask-Security's default argon2): not verifiable here.
            tracing::warn!("stored password hash uses an unsupported scheme");
            return false;
        }
        bcrypt::verify(prehash(&self.salt, password), stored).unwrap_or(false)
    }
}

/// `SECURITY_HASH_QUEUE`'s default: four waiting hashes per core (on 2 cores at bcrypt cost
/// 12, the last in line starts within about a second).
pub fn default_queue_limit() -> usize {
    4 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Counts hashes running or waiting; admits at most `running + waiting` at a time.
struct HashQueue {
    running: usize,
    waiting: usize,
    in_flight: AtomicUsize,
}

impl HashQueue {
    fn new(running: usize, waiting: usize) -> Self {
        Self {
            running,
            waiting,
            in_flight: AtomicUsize::new(0),
        }
    }

    /// A place in line, given back when dropped; `None` when the line is full.
    fn enter(&self) -> Option<QueueSlot<'_>> {
        let limit = self.running + self.waiting;
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSlot(&self.in_flight))
    }
}

struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The 72-character pre-hash that bcrypt sees.
fn prehash(salt: &Secret, password: &Password) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(salt.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(password.expose().as_bytes());
    let mut encoded = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    encoded.truncate(72);
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector from DESIGN-NOTES.md: a hash made by Flask-Security-Too 5.9.2.
    const FLASK_HASH: &str = "$2b$12$R8KMspe0K.vBY5DNf8wXT.jlQoik.eLNMnUfNv//HMj1/xQt9t3NO";

    #[test]
    fn verifies_a_hash_made_by_flask_security() {
        let hasher = PasswordHasher::new(Secret::new("test-salt-1234"), 4).unwrap();
        assert!(hasher.verify_blocking(&Password::normalize("pässwörd-Ω ﬁ"), FLASK_HASH));
        assert!(!hasher.verify_blocking(&Password::normalize("passwörd-Ω ﬁ"), FLASK_HASH));
    }

    #[test]
    fn a_different_salt_does_not_verify() {
        let hasher = PasswordHasher::new(Secret::new("other-salt"), 4).unwrap();
        assert!(!hasher.verify_blocking(&Password::normalize("pässwörd-Ω ﬁ"), FLASK_HASH));
    }

    #[test]
    fn hashes_are_2b_at_the_configured_cost_and_round_trip() {
        let hasher = PasswordHasher::new(Secret::new("s"), 5).unwrap();
        let pw = Password::normalize("correct-horse-9");
        let h = hasher.hash_blocking(&pw).unwrap();
        assert!(h.starts_with("$2b$05$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(hasher.verify_blocking(&pw, &h));
    }

    #[test]
    fn prehash_is_72_chars_so_long_passwords_all_count() {
        let salt = Secret::new("s");
        let a = prehash(
            &salt,
            &Password::normalize(&format!("{}a", "x".repeat(100))),
        );
        let b = prehash(
            &salt,
            &Password::normalize(&format!("{}b", "x".repeat(100))),
        );
        assert_eq!(a.len(), 72);
        assert_ne!(a, b);
    }

    #[test]
    fn the_queue_admits_running_plus_waiting_then_refuses() {
        let queue = HashQueue::new(2, 1);
        let held: Vec<_> = (0..3).map(|_| queue.enter().expect("a place")).collect();
        assert!(queue.enter().is_none(), "a fourth is refused");
        drop(held);
        assert!(queue.enter().is_some(), "places are given back");
    }

    #[actix_web::test]
    async fn a_full_queue_answers_busy_at_once() {
        let hasher = PasswordHasher::new(Secret::new("s"), 4)
            .unwrap()
            .with_queue_limit(0);
        let running = hasher.queue.running;
        let _held: Vec<_> = (0..running)
            .map(|_| hasher.queue.enter().unwrap())
            .collect();
        let r = hasher.hash(Password::normalize("correct-horse-9")).await;
        assert!(matches!(r, Err(HashError::Busy)), "{r:?}");
    }

    #[test]
    fn unknown_schemes_do_not_verify() {
        let hasher = PasswordHasher::new(Secret::new("s"), 4).unwrap();
        assert!(!hasher.verify_blocking(&Password::normalize("x"), "$argon2id$v=19$m=65536"));
        assert!(!hasher.verify_blocking(&Password::normalize("x"), "plaintext"));
    }
}
