//! Flask-Security's password schemes (BEHAVIOUR.md §6), chosen by `SECURITY_PASSWORD_HASH`:
//!
//! * bcrypt: `bcrypt(base64(HMAC-SHA512(SECURITY_PASSWORD_SALT, NFKD(password)))[..72])`, `$2b$`;
//! * argon2: `argon2id(base64(HMAC-SHA512(SECURITY_PASSWORD_SALT, NFKD(password))))`, the
//!   whole 88-character pre-hash as passlib passes it, at OWASP's parameters (19 MiB, t=2,
//!   p=1). Flask-Security's own argon2 hashes (its default, m=64 MiB t=3 p=4) verify too,
//!   since the parameters travel in the PHC string.
//!
//! Both schemes verify whatever is configured; [`PasswordHasher::needs_update`] tells the
//! login to re-hash one that is not in the configured scheme and cost.
//!
//! Hashing is deliberately slow, so it never runs on an async worker: every hash and verify
//! goes to the hasher's own threads, one per core (`HashPool`). A hash may wait for a thread
//! if it can expect to start within `SECURITY_HASH_WAIT` (its place in line × the time of one
//! hash, as measured on these threads, ÷ the cores), or, with `SECURITY_HASH_QUEUE` set, if
//! fewer than that many wait; past that, [`HashError::Busy`] answers at once (a 503 with
//! `Retry-After`) instead of letting a login flood queue without bound.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha512;
use tokio::sync::oneshot;

use crate::config::{HashQueueLimit, Secret, DEFAULT_HASH_WAIT, MAX_HASH_QUEUE};
pub use crate::domain::HashScheme;
use crate::domain::Password;

/// OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
pub const ARGON2_M_COST_KIB: u32 = 19 * 1024;
pub const ARGON2_T_COST: u32 = 2;
pub const ARGON2_P_COST: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Bcrypt(#[from] bcrypt::BcryptError),
    #[error("password hashing failed: {0}")]
    Argon2(argon2::password_hash::Error),
    #[error("a password hash was lost: its thread panicked or is gone")]
    Pool,
    #[error("too many password hashes are waiting for a core")]
    Busy,
    #[error("cannot start the password hashing threads: {0}")]
    Threads(std::io::Error),
}

#[derive(Clone)]
pub struct PasswordHasher {
    inner: Arc<Inner>,
    queue: Arc<HashQueue>,
    pool: Arc<HashPool>,
}

struct Inner {
    salt: Secret,
    scheme: HashScheme,
    cost: u32,
    /// Verified against when the account does not exist, so that both cases cost the same.
    /// Made on first use (or by [`PasswordHasher::warm_up`]): it costs a whole hash, which
    /// a command that never verifies should not pay.
    dummy_hash: OnceLock<String>,
}

impl PasswordHasher {
    /// New hashes use `scheme`; `cost` is bcrypt's (`SECURITY_BCRYPT_ROUNDS`).
    pub fn new(salt: Secret, scheme: HashScheme, cost: u32) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let inner = Inner {
            salt,
            scheme,
            cost,
            dummy_hash: OnceLock::new(),
        };
        Ok(Self {
            inner: Arc::new(inner),
            queue: Arc::new(HashQueue::new(
                cores,
                HashQueueLimit::Wait(DEFAULT_HASH_WAIT),
                estimated_hash_time(scheme, cost),
            )),
            pool: Arc::new(HashPool::start(cores)?),
        })
    }

    /// Makes the dummy hash now, in the background, so that the first login of an unknown
    /// account costs what any other does (a server calls this at start-up). It runs on a
    /// thread of its own at the lowest CPU priority: a whole hash (about 0.2 s of a core at
    /// cost 12) must not slow the start-up it overlaps, nor take a hashing thread from the
    /// first logins. A login that needs the dummy hash before it is ready makes its own
    /// rather than wait for this thread.
    pub fn warm_up(&self) {
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("latchkey-warm-up".into())
            .spawn(move || {
                lowest_cpu_priority();
                if inner.dummy_hash.get().is_none() {
                    if let Ok(hash) =
                        inner.hash_now(&Password::normalize("latchkey-dummy-password", None))
                    {
                        let _ = inner.dummy_hash.set(hash);
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no thread to make the dummy hash ahead of time");
        }
    }

    /// bcrypt's, as in Flask-Security's default.
    pub fn bcrypt(salt: Secret, cost: u32) -> Result<Self, HashError> {
        Self::new(salt, HashScheme::Bcrypt, cost)
    }

    /// At most `waiting` hashes wait for a free core; more are refused with [`HashError::Busy`].
    pub fn with_queue_limit(self, waiting: usize) -> Self {
        self.with_queue(HashQueueLimit::Fixed(waiting))
    }

    /// How many hashes may wait for a free core (`SECURITY_HASH_WAIT` or
    /// `SECURITY_HASH_QUEUE`); more are refused with [`HashError::Busy`].
    pub fn with_queue(mut self, limit: HashQueueLimit) -> Self {
        let estimate = estimated_hash_time(self.inner.scheme, self.inner.cost);
        self.queue = Arc::new(HashQueue::new(self.queue.running, limit, estimate));
        self
    }

    /// The time one hash takes on a hashing thread: the average of the latest ones, or an
    /// estimate from the scheme and cost before the first.
    pub fn hash_time(&self) -> Duration {
        self.queue.hash_time()
    }

    pub fn scheme(&self) -> HashScheme {
        self.inner.scheme
    }

    pub fn cost(&self) -> u32 {
        self.inner.cost
    }

    /// Whether `stored` is in another scheme or at another cost than new hashes would be,
    /// so that a successful login should replace it.
    pub fn needs_update(&self, stored: &str) -> bool {
        match (HashScheme::of(stored), self.inner.scheme) {
            (Some(HashScheme::Bcrypt), HashScheme::Bcrypt) => {
                bcrypt_cost(stored) != Some(self.inner.cost)
            }
            (Some(HashScheme::Argon2), HashScheme::Argon2) => {
                let Ok(parsed) = PasswordHash::new(stored) else {
                    return true;
                };
                let params = Params::try_from(&parsed).ok();
                parsed.algorithm.as_str() != "argon2id"
                    || parsed.version != Some(Version::V0x13.into())
                    || params.is_none_or(|p| {
                        (p.m_cost(), p.t_cost(), p.p_cost())
                            != (ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST)
                    })
            }
            _ => true,
        }
    }

    /// Hashes on the hashing threads.
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
                None => (inner.dummy_hash(), false),
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
        let queue = Arc::clone(&self.queue);
        self.pool
            .run(move || {
                let started = Instant::now();
                let done = f();
                queue.record(started.elapsed());
                done
            })
            .await
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core, each taking the next job from one shared queue as soon as it is done
/// with the last. Going through the async runtime between two hashes (a semaphore, then the
/// blocking pool) left a core idle for a few milliseconds per hash under a login flood: 1–2%
/// of the logins per second. The threads end when the last [`PasswordHasher`] clone is
/// dropped.
struct HashPool {
    jobs: mpsc::Sender<Job>,
}

impl HashPool {
    fn start(threads: usize) -> Result<Self, HashError> {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{n}"))
                .spawn(move || loop {
                    // Only the lock holder waits on the channel; the others wait on the lock.
                    let job = crate::sync::lock(&receiver).recv();
                    match job {
                        // A job answers through its channel, and a panic drops that channel,
                        // which its caller sees as `HashError::Pool`: the thread lives on.
                        Ok(job) => drop(catch_unwind(AssertUnwindSafe(job))),
                        Err(mpsc::RecvError) => return,
                    }
                })
                .map_err(HashError::Threads)?;
        }
        Ok(Self { jobs: sender })
    }

    async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        self.submit(f)?.await.map_err(|_| HashError::Pool)
    }

    /// Queues `f`; its result arrives on the returned channel.
    fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, HashError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            // Nobody waits for it any more (the client went away): spare the core.
            if !answer.is_closed() {
                let _ = answer.send(f());
            }
        });
        self.jobs.send(job).map_err(|_| HashError::Pool)?;
        Ok(answered)
    }
}

impl Inner {
    /// The dummy is in the configured scheme, so an unknown account costs what a known,
    /// up-to-date one does.
    fn dummy_hash(&self) -> &str {
        self.dummy_hash.get_or_init(|| {
            self.hash_now(&Password::normalize("latchkey-dummy-password", None))
                .unwrap_or_else(|e| {
                    tracing::error!(error = %e, "cannot make the dummy password hash");
                    String::new()
                })
        })
    }

    fn hash_now(&self, password: &Password) -> Result<String, HashError> {
        let mut prehashed = prehash(&self.salt, password);
        match self.scheme {
            HashScheme::Bcrypt => {
                prehashed.truncate(72);
                Ok(bcrypt::hash(prehashed, self.cost)?)
            }
            HashScheme::Argon2 => {
                let mut salt = [0u8; 16];
                rand::thread_rng().fill_bytes(&mut salt);
                let salt = SaltString::encode_b64(&salt).map_err(HashError::Argon2)?;
                let params = Params::new(ARGON2_M_COST_KIB, ARGON2_T_COST, ARGON2_P_COST, None)
                    .map_err(|e| HashError::Argon2(e.into()))?;
                Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                    .hash_password(prehashed.as_bytes(), &salt)
                    .map_err(HashError::Argon2)?
                    .to_string())
            }
        }
    }

    fn verify_now(&self, password: &Password, stored: &str) -> bool {
        let mut prehashed = prehash(&self.salt, password);
        match HashScheme::of(stored) {
            Some(HashScheme::Bcrypt) => {
                prehashed.truncate(72);
                bcrypt::verify(prehashed, stored).unwrap_or(false)
            }
            // The parameters (and variant) come from the stored string.
            Some(HashScheme::Argon2) => PasswordHash::new(stored).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(prehashed.as_bytes(), &parsed)
                    .is_ok()
            }),
            None => {
                // Another scheme (pbkdf2, plaintext…): not verifiable here.
                tracing::warn!("stored password hash uses an unsupported scheme");
                false
            }
        }
    }
}

/// The cost of a `$2b$NN$…` hash.
fn bcrypt_cost(stored: &str) -> Option<u32> {
    stored.get(4..6)?.parse().ok()
}

/// The time one hash is expected to take before any was measured: about twice what a 2-core
/// VM of 2026 takes (bcrypt cost 12: 0.25 s there), so that the first burst after a start
/// is not admitted on too hopeful a figure.
fn estimated_hash_time(scheme: HashScheme, cost: u32) -> Duration {
    match scheme {
        // Each step of the cost doubles the work: 2^12 × 120 µs ≈ 0.5 s at cost 12.
        HashScheme::Bcrypt => Duration::from_micros(120)
            .saturating_mul(1u32.checked_shl(cost.min(31)).unwrap_or(u32::MAX)),
        // m = 19 MiB, t = 2: about 50 ms.
        HashScheme::Argon2 => Duration::from_millis(100),
    }
}

/// Counts hashes running or waiting, and admits the next if it may wait (see the module
/// comment); measures the time of one hash as they finish.
struct HashQueue {
    /// Hashing threads (one per core).
    running: usize,
    limit: HashQueueLimit,
    in_flight: AtomicUsize,
    /// Nanoseconds of one hash: the estimate until the first is measured, then a moving
    /// average (each new hash weighs an eighth).
    hash_nanos: AtomicU64,
    measured: std::sync::atomic::AtomicBool,
}

impl HashQueue {
    fn new(running: usize, limit: HashQueueLimit, estimate: Duration) -> Self {
        Self {
            running: running.max(1),
            limit,
            in_flight: AtomicUsize::new(0),
            hash_nanos: AtomicU64::new(nanos(estimate)),
            measured: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A place in line, given back when dropped; `None` when the line is full.
    fn enter(&self) -> Option<QueueSlot<'_>> {
        let hash_nanos = self.hash_nanos.load(Ordering::Relaxed);
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                self.admits(n, hash_nanos).then_some(n + 1)
            })
            .ok()
            .map(|_| QueueSlot(&self.in_flight))
    }

    /// Whether a hash may join `in_flight` others (running or waiting).
    fn admits(&self, in_flight: usize, hash_nanos: u64) -> bool {
        if in_flight < self.running {
            return true;
        }
        match self.limit {
            HashQueueLimit::Fixed(waiting) => in_flight < self.running + waiting,
            HashQueueLimit::Wait(budget) => {
                // Its place in line (1: the next to start) × one hash ÷ the threads.
                let place = (in_flight + 1 - self.running) as u128;
                let expected = place * u128::from(hash_nanos) / self.running as u128;
                in_flight < self.running + MAX_HASH_QUEUE && expected <= budget.as_nanos()
            }
        }
    }

    /// A hash took `took` on a hashing thread.
    fn record(&self, took: Duration) {
        let took = nanos(took).max(1);
        if !self.measured.swap(true, Ordering::AcqRel) {
            self.hash_nanos.store(took, Ordering::Relaxed);
            return;
        }
        let _ = self
            .hash_nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(old - old / 8 + took / 8)
            });
    }

    fn hash_time(&self) -> Duration {
        Duration::from_nanos(self.hash_nanos.load(Ordering::Relaxed))
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

struct QueueSlot<'a>(&'a AtomicUsize);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// `base64(HMAC-SHA512(salt, password))`, 88 characters; bcrypt sees the first 72.
fn prehash(salt: &Secret, password: &Password) -> String {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(salt.expose().as_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(password.expose().as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Lowers the calling thread's CPU priority to the lowest (nice 19), so that it runs only on
/// otherwise idle CPU. On Linux the nice value belongs to the thread, not the process.
fn lowest_cpu_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its arguments; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 19);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A password normalised as Flask-Security's default (NFKD).
    fn nfkd(raw: &str) -> Password {
        Password::normalize(raw, crate::config::NormalizeForm::DEFAULT)
    }

    /// The test vector from DESIGN-NOTES.md: a hash made by Flask-Security-Too 5.9.2.
    const FLASK_HASH: &str = "$2b$12$R8KMspe0K.vBY5DNf8wXT.jlQoik.eLNMnUfNv//HMj1/xQt9t3NO";

    #[test]
    fn verifies_a_hash_made_by_flask_security() {
        let hasher = PasswordHasher::bcrypt(Secret::new("test-salt-1234"), 4).unwrap();
        assert!(hasher.verify_blocking(&nfkd("pässwörd-Ω ﬁ"), FLASK_HASH));
        assert!(!hasher.verify_blocking(&nfkd("passwörd-Ω ﬁ"), FLASK_HASH));
    }

    #[test]
    fn a_different_salt_does_not_verify() {
        let hasher = PasswordHasher::bcrypt(Secret::new("other-salt"), 4).unwrap();
        assert!(!hasher.verify_blocking(&nfkd("pässwörd-Ω ﬁ"), FLASK_HASH));
    }

    #[test]
    fn hashes_are_2b_at_the_configured_cost_and_round_trip() {
        let hasher = PasswordHasher::bcrypt(Secret::new("s"), 5).unwrap();
        let pw = nfkd("correct-horse-9");
        let h = hasher.hash_blocking(&pw).unwrap();
        assert!(h.starts_with("$2b$05$"), "{h}");
        assert_eq!(h.len(), 60);
        assert!(hasher.verify_blocking(&pw, &h));
    }

    #[test]
    fn prehash_is_88_chars_so_long_passwords_all_count() {
        let salt = Secret::new("s");
        let a = prehash(&salt, &nfkd(&format!("{}a", "x".repeat(100))));
        let b = prehash(&salt, &nfkd(&format!("{}b", "x".repeat(100))));
        assert_eq!(a.len(), 88);
        assert_ne!(a[..72], b[..72]);
    }

    #[test]
    fn the_queue_admits_running_plus_waiting_then_refuses() {
        let queue = HashQueue::new(2, HashQueueLimit::Fixed(1), Duration::from_secs(1));
        let held: Vec<_> = (0..3).map(|_| queue.enter().expect("a place")).collect();
        assert!(queue.enter().is_none(), "a fourth is refused");
        drop(held);
        assert!(queue.enter().is_some(), "places are given back");
    }

    #[test]
    fn a_wait_budget_admits_whoever_can_expect_to_start_within_it() {
        // Two threads, 0.5 s a hash, 5 s of budget: the 20th in line expects 20 × 0.5 ÷ 2
        // = 5 s (admitted), the 21st 5.25 s (refused); 22 in flight with the two running.
        let budget = HashQueueLimit::Wait(Duration::from_secs(5));
        let queue = HashQueue::new(2, budget, Duration::from_millis(500));
        let held: Vec<_> = (0..22).map(|_| queue.enter().expect("a place")).collect();
        assert!(queue.enter().is_none(), "the 23rd is refused");
        drop(held);
        // Measured hashes replace the estimate: at 0.1 s a hash, 100 may wait.
        queue.record(Duration::from_millis(100));
        assert_eq!(queue.hash_time(), Duration::from_millis(100));
        let held: Vec<_> = (0..102).map(|_| queue.enter().expect("a place")).collect();
        assert!(queue.enter().is_none(), "the 103rd is refused");
        drop(held);
        // Then a moving average: one slow hash weighs an eighth.
        queue.record(Duration::from_millis(900));
        assert_eq!(queue.hash_time(), Duration::from_millis(200));
    }

    #[test]
    fn a_zero_wait_admits_only_what_starts_at_once() {
        let queue = HashQueue::new(
            2,
            HashQueueLimit::Wait(Duration::ZERO),
            Duration::from_millis(1),
        );
        let held: Vec<_> = (0..2).map(|_| queue.enter().expect("a place")).collect();
        assert!(queue.enter().is_none());
        drop(held);
    }

    #[test]
    fn the_first_estimate_doubles_with_each_bcrypt_cost() {
        let at = |cost| estimated_hash_time(HashScheme::Bcrypt, cost);
        assert_eq!(at(13), at(12) * 2);
        assert!(at(12) >= Duration::from_millis(250), "{:?}", at(12));
        assert!(at(31) > Duration::from_secs(3600));
    }

    #[actix_web::test]
    async fn a_full_queue_answers_busy_at_once() {
        let hasher = PasswordHasher::bcrypt(Secret::new("s"), 4)
            .unwrap()
            .with_queue_limit(0);
        let running = hasher.queue.running;
        let _held: Vec<_> = (0..running)
            .map(|_| hasher.queue.enter().unwrap())
            .collect();
        let r = hasher.hash(nfkd("correct-horse-9")).await;
        assert!(matches!(r, Err(HashError::Busy)), "{r:?}");
    }

    #[actix_web::test]
    async fn hashes_run_on_the_pools_own_threads_one_per_core_at_once() {
        let pool = HashPool::start(2).unwrap();
        let name = pool
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("latchkey-hash-")));
        // Two jobs that each wait for the other finish only if both threads take one.
        let both = Arc::new(std::sync::Barrier::new(2));
        let (a, b) = (both.clone(), both);
        let (a, b) = futures_util::future::join(
            pool.run(move || a.wait().is_leader()),
            pool.run(move || b.wait().is_leader()),
        )
        .await;
        assert!(a.unwrap() != b.unwrap(), "exactly one leader");
    }

    #[actix_web::test]
    async fn a_panicking_hash_is_an_error_and_the_thread_lives_on() {
        let pool = HashPool::start(1).unwrap();
        let r = pool.run(|| -> u32 { panic!("in a hash") }).await;
        assert!(matches!(r, Err(HashError::Pool)), "{r:?}");
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
    }

    #[actix_web::test]
    async fn a_hash_nobody_waits_for_any_more_is_skipped() {
        let pool = HashPool::start(1).unwrap();
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let busy = pool.submit(move || blocked.recv()).unwrap();
        let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = ran.clone();
        drop(
            pool.submit(move || flag.store(true, Ordering::SeqCst))
                .unwrap(),
        );
        release.send(()).unwrap();
        busy.await.unwrap().unwrap();
        // One thread takes jobs in order: the abandoned one came up before this one.
        pool.run(|| ()).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst), "the abandoned hash ran");
    }

    #[test]
    fn unknown_schemes_do_not_verify() {
        let hasher = PasswordHasher::bcrypt(Secret::new("s"), 4).unwrap();
        assert!(!hasher.verify_blocking(&nfkd("x"), "$argon2id$v=19$m=65536"));
        assert!(!hasher.verify_blocking(&nfkd("x"), "plaintext"));
        assert!(!hasher.verify_blocking(&nfkd("x"), "$pbkdf2-sha512$29000$x$y"));
    }

    /// Made by Flask-Security-Too 5.9.2 with `SECURITY_PASSWORD_HASH="argon2"` (libpass
    /// 1.9.4 + argon2-cffi 25.1.0, its default m=64 MiB t=3 p=4) and
    /// `SECURITY_PASSWORD_SALT="test-salt-1234"`, from NFKD("pässwörd-Ω ﬁ"): see
    /// `tests/fixtures/flask_argon2_hash.py`.
    const FLASK_ARGON2_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$xBgjZEyJEcK4t/Y+J8RYiw$wReCMXJOwBPYUmx1P/3AbwIwwlD6wbyGkdATXbz9X1U";

    #[test]
    fn verifies_an_argon2_hash_made_by_flask_security() {
        for scheme in [HashScheme::Bcrypt, HashScheme::Argon2] {
            let hasher = PasswordHasher::new(Secret::new("test-salt-1234"), scheme, 4).unwrap();
            assert!(hasher.verify_blocking(&nfkd("pässwörd-Ω ﬁ"), FLASK_ARGON2_HASH));
            assert!(!hasher.verify_blocking(&nfkd("passwörd-Ω ﬁ"), FLASK_ARGON2_HASH));
            // Flask's parameters are not ours: upgraded at the next login.
            assert!(hasher.needs_update(FLASK_ARGON2_HASH));
        }
        let other_salt = PasswordHasher::new(Secret::new("x"), HashScheme::Argon2, 4).unwrap();
        assert!(!other_salt.verify_blocking(&nfkd("pässwörd-Ω ﬁ"), FLASK_ARGON2_HASH));
    }

    #[test]
    fn argon2_hashes_are_argon2id_at_owasp_parameters_and_round_trip() {
        let hasher = PasswordHasher::new(Secret::new("s"), HashScheme::Argon2, 12).unwrap();
        let pw = nfkd("correct-horse-9");
        let h = hasher.hash_blocking(&pw).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(hasher.verify_blocking(&pw, &h));
        assert!(!hasher.verify_blocking(&nfkd("correct-horse-8"), &h));
        assert!(!hasher.needs_update(&h));
        // Two hashes of one password differ (random salt).
        assert_ne!(h, hasher.hash_blocking(&pw).unwrap());
    }

    #[test]
    fn needs_update_when_scheme_or_cost_differ() {
        let pw = nfkd("correct-horse-9");
        let b4 = PasswordHasher::bcrypt(Secret::new("s"), 4).unwrap();
        let b5 = PasswordHasher::bcrypt(Secret::new("s"), 5).unwrap();
        let a = PasswordHasher::new(Secret::new("s"), HashScheme::Argon2, 4).unwrap();
        let h4 = b4.hash_blocking(&pw).unwrap();
        let ha = a.hash_blocking(&pw).unwrap();
        assert!(!b4.needs_update(&h4));
        assert!(b5.needs_update(&h4));
        assert!(a.needs_update(&h4));
        assert!(b4.needs_update(&ha));
        assert!(!a.needs_update(&ha));
        // Every scheme verifies whatever is configured.
        for hasher in [&b4, &b5, &a] {
            assert!(hasher.verify_blocking(&pw, &h4) && hasher.verify_blocking(&pw, &ha));
        }
        assert!(a.needs_update("$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"));
        assert!(a.needs_update("garbage"));
    }

    #[test]
    fn the_dummy_hash_is_in_the_configured_scheme() {
        let a = PasswordHasher::new(Secret::new("s"), HashScheme::Argon2, 4).unwrap();
        assert!(a.inner.dummy_hash().starts_with("$argon2id$"));
        let b = PasswordHasher::bcrypt(Secret::new("s"), 4).unwrap();
        assert!(b.inner.dummy_hash().starts_with("$2b$04$"));
    }
}
