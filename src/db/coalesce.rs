//! Concurrent lookups of one kind answered together ("group lookup"). While a query runs,
//! the lookups that arrive queue up, and the next query answers all of them at once. Under
//! load that is one hand-off to the blocking pool and one database round trip per batch
//! instead of per request: on two cores the thread hand-offs of one lookup per request cost
//! more than the queries themselves. When idle, a lookup starts at once, as before.
//!
//! Every lookup is answered by a query that starts after the lookup was queued, so it sees
//! every change committed before its request arrived: a logout on another instance still
//! takes effect at the next request.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{Db, DbConnection, DbError};
use crate::sync::lock;

/// The most keys one query asks for (SQLite binds each as a parameter).
const MAX_BATCH: usize = 64;

/// Finds the values of some keys; a key without a value is left out of the map.
pub type LookupFn<K, V> =
    dyn Fn(&mut DbConnection, &[K]) -> Result<HashMap<K, V>, DbError> + Send + Sync;

type Answer<V> = Result<Option<V>, Arc<DbError>>;

/// Lookups by key, coalesced; see the module comment. Cheap to clone.
pub struct Coalescer<K, V> {
    db: Db,
    lookup: Arc<LookupFn<K, V>>,
    queue: Arc<Mutex<Queue<K, V>>>,
}

impl<K, V> Clone for Coalescer<K, V> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            lookup: Arc::clone(&self.lookup),
            queue: Arc::clone(&self.queue),
        }
    }
}

/// A queued lookup: its key and where its answer goes.
type Waiting<K, V> = (K, oneshot::Sender<Answer<V>>);

struct Queue<K, V> {
    waiting: Vec<Waiting<K, V>>,
    /// Whether a worker is answering the queue (there is at most one).
    draining: bool,
}

impl<K, V> Coalescer<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    pub fn new(db: Db, lookup: Arc<LookupFn<K, V>>) -> Self {
        Self {
            db,
            lookup,
            queue: Arc::new(Mutex::new(Queue {
                waiting: Vec::new(),
                draining: false,
            })),
        }
    }

    /// The value of `key`, by a query that starts after this call.
    pub async fn get(&self, key: K) -> Result<Option<V>, DbError> {
        let (answer, answered) = oneshot::channel();
        let start_worker = {
            let mut queue = lock(&self.queue);
            queue.waiting.push((key, answer));
            !std::mem::replace(&mut queue.draining, true)
        };
        if start_worker {
            self.spawn_worker();
        }
        match answered.await {
            Ok(answer) => answer.map_err(DbError::Shared),
            // The worker's task was dropped: the runtime is shutting down.
            Err(_) => Err(DbError::Blocking),
        }
    }

    /// Answers the queue, batch after batch, until it is empty. A task of its own: the
    /// request that started it may be cancelled, the others still need their answers.
    fn spawn_worker(&self) {
        let (queue, lookup) = (Arc::clone(&self.queue), Arc::clone(&self.lookup));
        let db = self.db.clone();
        // Created outside the task, so that it is dropped with it even if never polled.
        let guard = WorkerGuard {
            queue: Some(Arc::clone(&queue)),
        };
        tokio::spawn(async move {
            let guard = guard;
            loop {
                let drained = {
                    let (queue, lookup) = (Arc::clone(&queue), Arc::clone(&lookup));
                    let unchanged = db.file_unchanged();
                    db.run(move |conn| drain(&queue, &*lookup, conn, &unchanged))
                        .await
                };
                let Err(e) = drained else {
                    // The queue is empty and `draining` was reset with it.
                    return guard.disarm();
                };
                let mut state = lock(&queue);
                if matches!(e, DbError::Shared(_)) && !state.waiting.is_empty() {
                    // A query failed and its batch has its answer; the lookups queued
                    // since then get a fresh connection (the pool tests it first).
                    continue;
                }
                // No connection (or none left waiting): whoever still waits gets the
                // error, a 503 for an unavailable database.
                let e = match e {
                    DbError::Shared(e) => e,
                    other => Arc::new(other),
                };
                fail_waiting(&mut state, &e);
                return guard.disarm();
            }
        });
    }
}

/// Answers everyone waiting with `e` and lets the next lookup start a new worker.
fn fail_waiting<K, V>(state: &mut Queue<K, V>, e: &Arc<DbError>) {
    fail(state.waiting.drain(..), e);
    state.draining = false;
}

/// Answers each of `lookups` with `e`.
fn fail<K, V>(lookups: impl IntoIterator<Item = Waiting<K, V>>, e: &Arc<DbError>) {
    for (_, answer) in lookups {
        let _ = answer.send(Err(Arc::clone(e)));
    }
}

/// A worker's task dropped before it finished (its runtime shutting down) must not leave
/// lookups waiting forever, nor `draining` set with no worker: dropping this armed guard
/// fails the waiting lookups and clears the flag.
struct WorkerGuard<K, V> {
    queue: Option<Arc<Mutex<Queue<K, V>>>>,
}

impl<K, V> WorkerGuard<K, V> {
    /// The worker finished normally.
    fn disarm(mut self) {
        self.queue = None;
    }
}

impl<K, V> Drop for WorkerGuard<K, V> {
    fn drop(&mut self) {
        if let Some(queue) = self.queue.take() {
            fail_waiting(&mut lock(&queue), &Arc::new(DbError::Blocking));
        }
    }
}

/// The worker's loop on the blocking pool; returns when the queue is empty (having reset
/// `draining`), or at the first failed query, once its batch has the error: the connection
/// may be lost, and the pool must see the failure.
fn drain<K, V>(
    queue: &Mutex<Queue<K, V>>,
    lookup: &LookupFn<K, V>,
    conn: &mut DbConnection,
    unchanged: &dyn Fn() -> bool,
) -> Result<(), DbError>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    let mut first = true;
    loop {
        // Lookups queued after this connection was checked out: if the SQLite file was
        // replaced meanwhile, this connection reads the old one. Hand it back instead; the
        // worker checks out another (the pool tests it, and finds the database gone).
        if !std::mem::take(&mut first) && !unchanged() {
            return Err(DbError::Shared(Arc::new(DbError::Down)));
        }
        let batch: Vec<_> = {
            let mut queue = lock(queue);
            if queue.waiting.is_empty() {
                queue.draining = false;
                return Ok(());
            }
            let n = queue.waiting.len().min(MAX_BATCH);
            queue.waiting.drain(..n).collect()
        };
        // Concurrent requests of one user share a key: ask for it once.
        let mut asked: HashMap<&K, usize> = HashMap::new();
        let mut keys: Vec<K> = Vec::with_capacity(batch.len());
        for (key, _) in &batch {
            let times = asked.entry(key).or_default();
            if *times == 0 {
                keys.push(key.clone());
            }
            *times += 1;
        }
        // How many of the batch still wait for each key: the last one takes the value.
        let mut waiting: HashMap<K, usize> = asked
            .into_iter()
            .map(|(key, times)| (key.clone(), times))
            .collect();
        // A bug in the lookup must not leave its batch (or the queue) waiting forever.
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lookup(conn, &keys)))
            .unwrap_or(Err(DbError::LookupPanicked));
        match found {
            Ok(mut found) => {
                for (key, answer) in batch {
                    let value = match waiting.get_mut(&key) {
                        Some(left) if *left > 1 => {
                            *left -= 1;
                            found.get(&key).cloned()
                        }
                        _ => found.remove(&key),
                    };
                    let _ = answer.send(Ok(value));
                }
            }
            Err(e) => {
                let e = Arc::new(e);
                fail(batch, &e);
                return Err(DbError::Shared(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::db::DatabaseUrl;

    fn test_db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url =
            DatabaseUrl::parse(&format!("sqlite://{}/c.db", dir.path().display())).expect("url");
        (Db::connect(&url).expect("connect"), dir)
    }

    /// Doubles each key; counts queries and the keys they were asked for.
    fn doubling(
        queries: Arc<AtomicUsize>,
        asked: Arc<Mutex<Vec<Vec<i32>>>>,
    ) -> Arc<LookupFn<i32, i32>> {
        Arc::new(move |conn: &mut DbConnection, keys: &[i32]| {
            queries.fetch_add(1, Ordering::SeqCst);
            lock(&asked).push(keys.to_vec());
            // A real query, so that the batch takes a moment like one would.
            conn.batch_execute("SELECT 1")?;
            std::thread::sleep(std::time::Duration::from_millis(20));
            Ok(keys
                .iter()
                .filter(|k| **k >= 0)
                .map(|k| (*k, k * 2))
                .collect())
        })
    }

    /// A lookup queued while the worker's query ran is not answered from a SQLite file that
    /// was replaced in between: the worker hands its connection back, and the next checkout
    /// finds the database gone.
    #[actix_web::test]
    async fn lookups_after_the_file_was_replaced_are_not_answered_from_the_old_one() {
        let (db, dir) = test_db();
        let path = dir.path().join("c.db");
        let aside = dir.path().join("c.db.aside");
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let lookup: Arc<LookupFn<i32, i32>> =
            Arc::new(move |conn: &mut DbConnection, keys: &[i32]| {
                conn.batch_execute("SELECT 1")?;
                if counted.fetch_add(1, Ordering::SeqCst) == 0 {
                    // Long enough for the second lookup to queue up; then the file goes.
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    std::fs::rename(&path, &aside).expect("move the file away");
                    std::fs::create_dir(&path).expect("a directory in its place");
                }
                Ok(keys.iter().map(|k| (*k, k * 2)).collect())
            });
        let c = Coalescer::new(db, lookup);
        let first = {
            let c = c.clone();
            actix_web::rt::spawn(async move { c.get(1).await })
        };
        actix_web::rt::time::sleep(std::time::Duration::from_millis(30)).await;
        let second = c.get(2).await;
        assert_eq!(
            first.await.expect("task").expect("answered before"),
            Some(2)
        );
        assert!(second.is_err(), "answered from the old file: {second:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "no query after the swap");
    }

    #[actix_web::test]
    async fn one_lookup_alone_is_answered() {
        let (db, _dir) = test_db();
        let queries = Arc::new(AtomicUsize::new(0));
        let c = Coalescer::new(db, doubling(Arc::clone(&queries), Arc::default()));
        assert_eq!(c.get(21).await.expect("lookup"), Some(42));
        assert_eq!(c.get(-1).await.expect("lookup"), None, "no value: None");
        assert_eq!(queries.load(Ordering::SeqCst), 2);
    }

    #[actix_web::test]
    async fn concurrent_lookups_share_queries_and_each_gets_its_own_answer() {
        let (db, _dir) = test_db();
        let queries = Arc::new(AtomicUsize::new(0));
        let asked = Arc::new(Mutex::new(Vec::new()));
        let c = Coalescer::new(db, doubling(Arc::clone(&queries), Arc::clone(&asked)));
        // 200 lookups of 100 keys (each twice), all at once.
        let lookups = (0..200).map(|i| {
            let c = c.clone();
            async move { (i % 100, c.get(i % 100).await) }
        });
        for (key, answer) in futures_util::future::join_all(lookups).await {
            assert_eq!(answer.expect("lookup"), Some(key * 2));
        }
        let n = queries.load(Ordering::SeqCst);
        assert!(n < 20, "200 concurrent lookups took {n} queries");
        for keys in lock(&asked).iter() {
            assert!(keys.len() <= MAX_BATCH);
            let unique: HashSet<_> = keys.iter().collect();
            assert_eq!(
                unique.len(),
                keys.len(),
                "a key asked twice in one query: {keys:?}"
            );
        }
    }

    #[actix_web::test]
    async fn a_lookup_queued_during_a_query_is_answered_by_a_later_query() {
        let (db, _dir) = test_db();
        // The value is the number of queries so far: a stale answer would show.
        let queries = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&queries);
        let lookup: Arc<LookupFn<i32, usize>> = Arc::new(move |_, keys: &[i32]| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(keys.iter().map(|k| (*k, n)).collect())
        });
        let c = Coalescer::new(db, lookup);
        let first = {
            let c = c.clone();
            tokio::spawn(async move { c.get(1).await })
        };
        // Queued while the first query sleeps.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let second = c.get(1).await.expect("second");
        let first = first.await.expect("join").expect("first");
        assert_eq!(first, Some(1));
        assert_eq!(
            second,
            Some(2),
            "answered by the query that was already running"
        );
    }

    #[actix_web::test]
    async fn a_failed_query_fails_its_batch_and_the_next_lookup_works() {
        let (db, _dir) = test_db();
        let fail = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let flag = Arc::clone(&fail);
        let lookup: Arc<LookupFn<i32, i32>> = Arc::new(move |conn, keys: &[i32]| {
            if flag.swap(false, Ordering::SeqCst) {
                conn.batch_execute("SELECT * FROM no_such_table")?;
            }
            Ok(keys.iter().map(|k| (*k, *k)).collect())
        });
        let c = Coalescer::new(db, lookup);
        let err = c.get(7).await.expect_err("the first query fails");
        assert!(err.to_string().contains("no_such_table"), "{err}");
        assert_eq!(c.get(7).await.expect("a new worker"), Some(7));
        assert!(!fail.load(Ordering::SeqCst));
    }

    #[test]
    fn a_worker_dropped_with_its_runtime_leaves_the_coalescer_usable() {
        use futures_util::FutureExt;
        let (db, _dir) = test_db();
        let c = Coalescer::new(db, doubling(Arc::default(), Arc::default()));
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        };
        // One poll queues the lookup and spawns its worker; the runtime then goes away
        // before the worker's task ever runs.
        let first = runtime();
        let queued = first.block_on(async {
            let mut lookup = Box::pin(c.get(1));
            let pending = (&mut lookup).now_or_never().is_none();
            (pending, lookup)
        });
        assert!(queued.0, "the lookup waits for its worker");
        drop(first);
        let abandoned = queued.1.now_or_never();
        assert!(
            matches!(abandoned, Some(Err(DbError::Shared(ref e))) if matches!(**e, DbError::Blocking)),
            "the waiting lookup is told, not left waiting: {abandoned:?}"
        );
        // A new runtime: the next lookup starts a worker of its own.
        let answer = runtime().block_on(async {
            tokio::time::timeout(std::time::Duration::from_secs(10), c.get(2)).await
        });
        assert!(matches!(answer, Ok(Ok(Some(4)))), "{answer:?}");
    }

    #[actix_web::test]
    async fn a_panicking_lookup_answers_with_an_error_not_a_hang() {
        let (db, _dir) = test_db();
        let lookup: Arc<LookupFn<i32, i32>> = Arc::new(|_, keys: &[i32]| {
            assert!(keys[0] != 13, "unlucky key");
            Ok(keys.iter().map(|k| (*k, *k)).collect())
        });
        let c = Coalescer::new(db, lookup);
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), c.get(13)).await;
        let Ok(Err(DbError::Shared(e))) = answer else {
            panic!("expected the lookup's error, got {answer:?}");
        };
        assert!(matches!(*e, DbError::LookupPanicked), "{e:?}");
        assert_eq!(c.get(5).await.expect("the next lookup works"), Some(5));
    }
}
