//! Database access: one connection type over SQLite and PostgreSQL, an r2d2 pool, the
//! embedded migrations of each backend, and the helper that runs blocking queries off the
//! async executor.
//!
//! Lookups by a unique key use `get_result`, not `first`: `first` adds `LIMIT ?`, and
//! SQLite (3.47+) re-prepares a statement whose LIMIT is a bound parameter every time the
//! parameter is bound, which would defeat Diesel's statement cache on every request.

pub mod api_tokens;
pub mod attempts;
pub mod coalesce;
pub mod events;
pub mod health;
pub mod identities;
pub mod models;
pub mod oidc;
pub mod oidc_grants;
pub mod passkeys;
pub mod roles;
pub mod schema;
pub mod sessions;
pub mod stamp;
pub mod sweep;
pub mod tokens;
pub mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, ManageConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// Every backend this build can talk to. Variants are chosen by the URL scheme, never by
/// trial (see [`ConnectionManager`]).
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection of whichever backend `$conn` is.
/// For the queries of every logged-in request: through `MultiConnection`, Diesel serialises
/// the whole query to SQL again at each execution (even when the prepared statement is
/// cached), which cost about a tenth of a logged-in page; on the concrete connection a
/// cached statement is found by its type and only the values are bound.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            #[cfg(feature = "postgres")]
            $crate::db::DbConnection::Postgres($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The rows of several users, grouped by user (in `rows`' order), every id in `user_ids`
/// with a list, empty when it has no row. For the batched reads of the account pages
/// ([`crate::auth::page_reads`]): PostgreSQL answers all users in one query, and SQLite,
/// which has no round trip to save, runs the one-user query (`one`) per user.
pub fn by_user<T>(
    user_ids: &[i32],
    rows: Vec<T>,
    owner: impl Fn(&T) -> Option<i32>,
) -> std::collections::HashMap<i32, Vec<T>> {
    let mut grouped: std::collections::HashMap<i32, Vec<T>> =
        user_ids.iter().map(|&id| (id, Vec::new())).collect();
    for row in rows {
        if let Some(list) = owner(&row).and_then(|id| grouped.get_mut(&id)) {
            list.push(row);
        }
    }
    grouped
}

/// [`by_user`] for SQLite: `one` per user.
pub fn each_user<T>(
    conn: &mut DbConnection,
    user_ids: &[i32],
    one: impl Fn(&mut DbConnection, i32) -> Result<Vec<T>, DbError>,
) -> Result<std::collections::HashMap<i32, Vec<T>>, DbError> {
    user_ids
        .iter()
        .map(|&id| Ok((id, one(conn, id)?)))
        .collect()
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// `DATABASE_URL` and the pool's shape are settings, read by `config`; `db` connects with
/// them.
pub use crate::config::{DatabaseUrl, PoolOptions};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database unavailable: {0}")]
    Pool(#[from] r2d2::PoolError),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
    #[error("the blocking thread pool is gone")]
    Blocking,
    /// A coalesced lookup's error, shared by every lookup of its batch.
    #[error(transparent)]
    Shared(Arc<DbError>),
    #[error("a database lookup panicked")]
    LookupPanicked,
    /// The database was found unreachable moments ago: failed at once, not after the pool's
    /// timeout (see [`health`]).
    #[error("database unavailable (failing fast until it is back)")]
    Down,
}

impl DbError {
    /// The database cannot be reached (no connection, or the one in use was lost): a 503,
    /// not a bug. The pool tests that connection before it is used again.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self.unshared(),
            DbError::Pool(_)
                | DbError::Down
                | DbError::Query(Error::DatabaseError(
                    DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                    _
                ))
        )
    }

    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self.unshared(),
            DbError::Query(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }

    /// The error itself, out of the `Arc` a coalesced batch shares it through.
    fn unshared(&self) -> &DbError {
        match self {
            DbError::Shared(e) => e.unshared(),
            other => other,
        }
    }
}

/// Opens connections for the pool, with the per-connection SQLite settings.
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: DatabaseUrl,
    /// Marked down when a connection cannot be opened (or a SQLite file was swapped).
    health: Arc<health::DbHealth>,
    /// Refuse to open a SQLite file that is not there (instead of creating it empty).
    must_exist: bool,
    /// Counts failed queries in this pool: a connection that has not succeeded since the
    /// last failure anywhere is tested before use (one lost connection usually means all
    /// were lost, e.g. the server restarted).
    failures: Arc<AtomicU64>,
}

/// A SQLite file's identity (device, inode): a connection whose file was replaced or removed
/// under it would go on writing to the old one, which nobody will ever read.
fn file_identity(url: &DatabaseUrl) -> Option<(u64, u64)> {
    #[cfg(unix)]
    if let DatabaseUrl::Sqlite(path) = url {
        use std::os::unix::fs::MetadataExt;
        return std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    }
    let _ = url;
    None
}

impl ConnectionManager {
    fn open(&self) -> Result<DbConnection, r2d2::Error> {
        self.open_unwatched()
            .inspect_err(|e| self.health.mark_down(&e.to_string()))
    }

    /// What the probe tries: a fresh connection that can read Latchkey's tables.
    fn check(&self) -> Result<(), r2d2::Error> {
        let mut conn = self.open_unwatched()?;
        conn.batch_execute("SELECT 1 FROM __diesel_schema_migrations LIMIT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn open_unwatched(&self) -> Result<DbConnection, r2d2::Error> {
        match &self.url {
            DatabaseUrl::Sqlite(path) if self.must_exist && !path.is_file() => Err(
                r2d2::Error::ConnectionError(ConnectionError::BadConnection(
                    "the SQLite database file is missing (or is not a file)".into(),
                )),
            ),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    r2d2::Error::ConnectionError(ConnectionError::BadConnection(
                        "SQLite path is not valid UTF-8".into(),
                    ))
                })?;
                let new_file = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
                let mut conn =
                    SqliteConnection::establish(path).map_err(r2d2::Error::ConnectionError)?;
                // The busy timeout makes concurrent writers wait instead of failing; WAL lets
                // readers run beside the writer; SQLite leaves foreign keys off otherwise.
                // The WAL is cut back to 64 MiB whenever it restarts (it keeps its largest
                // size otherwise).
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_size_limit = {};",
                    SQLITE_BUSY_TIMEOUT.as_millis(),
                    SQLITE_WAL_SIZE_LIMIT
                ))
                .map_err(r2d2::Error::QueryError)?;
                // A new file gets incremental auto-vacuum (it must be chosen before the first
                // table): housekeeping then gives the pages its deletes free back to the
                // file system. Only then: on a file that has it, the pragma is a write
                // transaction at every connection. An older file switches with one
                // `PRAGMA auto_vacuum = INCREMENTAL; VACUUM;` (bench/README.md, "Growth").
                if new_file {
                    conn.batch_execute("PRAGMA auto_vacuum = INCREMENTAL;")
                        .map_err(r2d2::Error::QueryError)?;
                }
                switch_to_wal(&mut conn).map_err(r2d2::Error::QueryError)?;
                conn.batch_execute("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
                    .map_err(r2d2::Error::QueryError)?;
                Ok(DbConnection::Sqlite(conn))
            }
            #[cfg(feature = "postgres")]
            DatabaseUrl::Postgres(url) => {
                diesel::PgConnection::establish(&with_connect_timeout(url))
                    .map(DbConnection::Postgres)
                    .map_err(r2d2::Error::ConnectionError)
            }
            #[cfg(not(feature = "postgres"))]
            DatabaseUrl::Postgres(_) => Err(r2d2::Error::ConnectionError(
                ConnectionError::BadConnection("PostgreSQL support is not compiled in".into()),
            )),
        }
    }
}

/// A PostgreSQL URL with `connect_timeout` (libpq waits forever by default for a server that
/// does not answer), unless it names one.
#[cfg(feature = "postgres")]
fn with_connect_timeout(url: &str) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout=5")
}

/// The size a SQLite WAL file is cut back to when it restarts (`journal_size_limit`).
const SQLITE_WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// How long a SQLite connection waits for another's lock before "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// `PRAGMA journal_mode = WAL`. Switching a fresh file needs it to itself, and SQLite answers
/// "database is locked" at once, without the busy timeout, to a connection that finds
/// another switching it (several instances starting together): so try again, within the
/// busy timeout. Once the file is in WAL mode the pragma only reads it.
fn switch_to_wal(conn: &mut SqliteConnection) -> Result<(), diesel::result::Error> {
    let deadline = Instant::now() + SQLITE_BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(2);
    loop {
        match conn.batch_execute("PRAGMA journal_mode = WAL;") {
            Err(diesel::result::Error::DatabaseError(_, info))
                // SQLITE_BUSY's message; Diesel gives no error code for it.
                if info.message() == "database is locked" && Instant::now() < deadline =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            result => return result,
        }
    }
}

/// Connections that answered this recently are handed out without a test query (the
/// "alive bypass window" of HikariCP): testing every checkout would cost a round trip per
/// query under load, when the connection has just proved itself.
const VALIDATION_BYPASS: Duration = Duration::from_millis(500);

/// A pooled connection, and until when it is trusted without a test query.
pub struct PoolConnection {
    conn: DbConnection,
    /// The SQLite file it opened (see [`file_identity`]).
    file: Option<(u64, u64)>,
    trusted_until: Instant,
    /// The pool's failure count when this connection last succeeded.
    failures_seen: u64,
}

impl PoolConnection {
    /// After a query: success extends the trust; an error (possibly a lost connection)
    /// makes the next checkout of this and every other connection test it first, so dead
    /// connections are replaced, not reused.
    fn record<T, E>(&mut self, result: &Result<T, E>, failures: &AtomicU64) {
        let now = Instant::now();
        if result.is_ok() {
            self.trusted_until = now + VALIDATION_BYPASS;
            self.failures_seen = failures.load(Ordering::Acquire);
        } else {
            self.trusted_until = now;
            failures.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl std::ops::Deref for PoolConnection {
    type Target = DbConnection;
    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for PoolConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl ManageConnection for ConnectionManager {
    type Connection = PoolConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<PoolConnection, r2d2::Error> {
        let conn = self.open()?;
        Ok(PoolConnection {
            file: file_identity(&self.url),
            conn,
            trusted_until: Instant::now() + VALIDATION_BYPASS,
            failures_seen: self.failures.load(Ordering::Acquire),
        })
    }

    /// Run by r2d2 at every checkout; a failure discards the connection and opens another.
    fn is_valid(&self, conn: &mut PoolConnection) -> Result<(), r2d2::Error> {
        if conn.file.is_some() && file_identity(&self.url) != conn.file {
            let error = "the SQLite database file was removed or replaced";
            self.health.mark_down(error);
            return Err(r2d2::Error::ConnectionError(
                ConnectionError::BadConnection(error.into()),
            ));
        }
        let failures = self.failures.load(Ordering::Acquire);
        if Instant::now() < conn.trusted_until && conn.failures_seen == failures {
            return Ok(());
        }
        conn.conn
            .batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)?;
        conn.trusted_until = Instant::now() + VALIDATION_BYPASS;
        conn.failures_seen = failures;
        Ok(())
    }

    fn has_broken(&self, _conn: &mut PoolConnection) -> bool {
        false
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// The pool plus the helper that moves each query onto the blocking thread pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    /// Shared with the pool's [`ConnectionManager`].
    failures: Arc<AtomicU64>,
    health: Arc<health::DbHealth>,
    connection_timeout: Duration,
    /// The database, for [`Db::file_unchanged`].
    url: DatabaseUrl,
}

impl Db {
    /// A check for work that keeps one connection across several steps (the coalesced
    /// lookups): `true` while the SQLite file is still the one it was when this was called
    /// (always `true` on PostgreSQL). The pool checks each connection it hands out; this
    /// covers the steps after the first.
    pub fn file_unchanged(&self) -> impl Fn() -> bool + Send + 'static {
        let url = self.url.clone();
        let at_start = file_identity(&url);
        move || file_identity(&url) == at_start
    }

    /// Connects (creating the SQLite file and its folder if needed) and applies pending
    /// migrations. Fails with a readable message when the database cannot be reached.
    pub fn connect(url: &DatabaseUrl) -> anyhow::Result<Self> {
        Self::connect_with(url, PoolOptions::server(url))
    }

    /// [`Db::connect`] with a pool of the given shape.
    pub fn connect_with(url: &DatabaseUrl, options: PoolOptions) -> anyhow::Result<Self> {
        create_sqlite_folder(url)?;
        let failures = Arc::new(AtomicU64::new(0));
        let health = Arc::new(health::DbHealth::default());
        let manager = ConnectionManager {
            url: url.clone(),
            failures: Arc::clone(&failures),
            health: Arc::clone(&health),
            must_exist: false,
        };
        // Fail fast at start-up with the real cause, instead of r2d2's 30 s wait.
        let mut probe = manager
            .open()
            .map_err(|e| anyhow::anyhow!("cannot open the {} database: {e}", url.backend_name()))?;
        run_migrations(&mut probe)?;
        drop(probe);
        // From here on a SQLite file must exist: one removed under a running server must
        // not be silently recreated empty.
        let manager = ConnectionManager {
            must_exist: true,
            ..manager
        };
        let prober = manager.clone();
        health::spawn_probe(&health, move || prober.check().map_err(|e| e.to_string()));
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(options.min_idle))
            .connection_timeout(options.connection_timeout)
            .build(manager)
            .map_err(|e| anyhow::anyhow!("cannot build the connection pool: {e}"))?;
        Ok(Self {
            pool,
            failures,
            health,
            connection_timeout: options.connection_timeout,
            url: url.clone(),
        })
    }

    /// Whether the database answered, as this process last saw it (for `/healthz`).
    pub fn health(&self) -> health::HealthStatus {
        self.health.status()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool.
    pub async fn run<T, F>(&self, f: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_with(f).await
    }

    /// Like [`Db::run`], for closures with their own error type (e.g. a transaction that
    /// also renders mail).
    pub async fn run_with<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        // While the database is down, fail at once: no blocking thread, no wait.
        if self.health.is_down() {
            return Err(E::from(DbError::Down));
        }
        let pool = self.pool.clone();
        let failures = Arc::clone(&self.failures);
        let health = Arc::clone(&self.health);
        let timeout = self.connection_timeout;
        // The caller's span (request id) follows the query onto the blocking thread.
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = checkout(&pool, &health, timeout)?;
            let result = f(&mut conn);
            conn.record(&result, &failures);
            result
        })
        .await
        .map_err(|_| E::from(DbError::Blocking))?
    }

    /// A connection for synchronous callers (CLI, tests).
    pub fn get(&self) -> Result<PooledConnection, DbError> {
        Ok(self.pool.get()?)
    }
}

/// How long one wait for a connection lasts before the database's health is looked at
/// again: a request waiting for a connection gives up soon after the database is found down.
const CHECKOUT_SLICE: Duration = Duration::from_millis(50);

/// A pooled connection within `timeout`, or an error as soon as the database is known down.
fn checkout(
    pool: &Pool,
    health: &health::DbHealth,
    timeout: Duration,
) -> Result<PooledConnection, DbError> {
    let deadline = Instant::now() + timeout;
    loop {
        match pool.get_timeout(CHECKOUT_SLICE.min(timeout)) {
            Ok(conn) => return Ok(conn),
            Err(_) if health.is_down() => return Err(DbError::Down),
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(_) => {}
        }
    }
}

/// Runs `f` in a transaction that runs alone among those naming any of the same `keys`, on
/// every instance: a check and the write that depends on it (count the attempts, then add
/// one) cannot interleave with another's. On SQLite the transaction takes the database's
/// write lock before it reads anything (one writer at a time, waiting out the busy timeout);
/// on PostgreSQL it holds a transaction-scoped advisory lock per key, taken in a fixed order
/// so that two such transactions never wait for each other in a circle.
pub fn exclusive_transaction<T, E, F>(conn: &mut DbConnection, keys: &[&str], f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    conn.transaction(|conn| {
        match conn {
            // A write that changes nothing still makes this transaction the writer.
            DbConnection::Sqlite(c) => {
                c.batch_execute("UPDATE __diesel_schema_migrations SET version = version WHERE 0")?
            }
            #[cfg(feature = "postgres")]
            DbConnection::Postgres(c) => {
                let mut ids: Vec<i64> = keys.iter().map(|k| advisory_lock_id(k)).collect();
                ids.sort_unstable();
                ids.dedup();
                for id in ids {
                    c.batch_execute(&format!("SELECT pg_advisory_xact_lock({id})"))?;
                }
            }
        }
        #[cfg(not(feature = "postgres"))]
        let _ = keys;
        f(conn)
    })
}

/// A 64-bit advisory lock id for a key (the first 8 bytes of its SHA-256).
#[cfg(feature = "postgres")]
fn advisory_lock_id(key: &str) -> i64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("latchkey-lock:{key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Applies the pending migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    apply_migrations(conn).map(|_| ())
}

/// Applies the pending migrations and returns the versions applied, oldest first.
pub fn apply_migrations(conn: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    // Several instances may start at once on a fresh database: one migrates, the others
    // wait for it and then find nothing pending (instead of failing on a duplicate table).
    let fail = |e| anyhow::anyhow!("database migration failed: {e}");
    let versions = match conn {
        DbConnection::Sqlite(c) => c.immediate_transaction(|c| {
            let applied = c
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect())
                .map_err(fail)?;
            add_missing_columns(c).map_err(|e| {
                anyhow::anyhow!("adding Flask-Security's optional columns failed: {e}")
            })?;
            Ok::<_, anyhow::Error>(applied)
        })?,
        #[cfg(feature = "postgres")]
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK_ID})"))?;
            let result = c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(ToString::to_string).collect())
                .map_err(fail);
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK_ID})"))?;
            result?
        }
    };
    Ok(versions)
}

/// Columns of Flask-Security's `user` table that Latchkey reads but a database adopted from
/// a Flask app may lack (they come with features such as two-factor). PostgreSQL adds them
/// in its migrations (`ADD COLUMN IF NOT EXISTS`); SQLite has no such clause, so they are
/// added here, after the migrations, only where missing.
const FLASK_OPTIONAL_USER_COLUMNS: &[(&str, &str)] = &[
    ("tf_primary_method", "VARCHAR(64)"),
    ("tf_totp_secret", "VARCHAR(255)"),
    ("tf_phone_number", "VARCHAR(128)"),
    ("mf_recovery_codes", "TEXT"),
    // Passkeys (SECURITY_WEBAUTHN); unique, like Flask-Security's column (below).
    ("fs_webauthn_user_handle", "VARCHAR(64)"),
    // Unified sign-in (SECURITY_UNIFIED_SIGNIN); the phone number is unique (below).
    ("us_totp_secrets", "TEXT"),
    ("us_phone_number", "VARCHAR(128)"),
];

fn add_missing_columns(conn: &mut SqliteConnection) -> Result<(), diesel::result::Error> {
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let present: Vec<String> = diesel::sql_query("SELECT name FROM pragma_table_info('user')")
        .load::<Column>(conn)?
        .into_iter()
        .map(|c| c.name)
        .collect();
    for (column, sql_type) in FLASK_OPTIONAL_USER_COLUMNS {
        if !present.iter().any(|p| p == column) {
            conn.batch_execute(&format!(
                "ALTER TABLE \"user\" ADD COLUMN {column} {sql_type}"
            ))?;
            if matches!(*column, "fs_webauthn_user_handle" | "us_phone_number") {
                // SQLite cannot add a UNIQUE column; a unique index does the same.
                conn.batch_execute(&format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS ix_user_{column} ON \"user\" ({column})"
                ))?;
            }
        }
    }
    // Start-up counts the users with a second factor when two-factor is off (see
    // `auth::two_factor::check_no_unused_second_factors`): without this index that read every
    // account, a tenth of a second per million. (PostgreSQL: migration 000011.)
    conn.batch_execute(
        "CREATE INDEX IF NOT EXISTS ix_user_tf_primary_method ON \"user\" (tf_primary_method)",
    )?;
    Ok(())
}

/// The PostgreSQL advisory lock that serialises migrations between processes.
#[cfg(feature = "postgres")]
const MIGRATION_LOCK_ID: i64 = 0x4c61_7463_686b;

/// Opens the database (creating a SQLite file and its folder if needed), applies pending
/// migrations and returns their versions: `latchkey db migrate`.
pub fn migrate(url: &DatabaseUrl) -> anyhow::Result<Vec<String>> {
    open_single(url).map(|(_, applied)| applied)
}

/// One connection, without a pool, migrations applied: for short-lived commands (the CLI).
/// A pool keeps connections on background threads, which must not outlive `main`.
pub fn open_single(url: &DatabaseUrl) -> anyhow::Result<(DbConnection, Vec<String>)> {
    create_sqlite_folder(url)?;
    let mut conn = ConnectionManager {
        url: url.clone(),
        failures: Arc::default(),
        health: Arc::default(),
        must_exist: false,
    }
    .open()
    .map_err(|e| anyhow::anyhow!("cannot open the {} database: {e}", url.backend_name()))?;
    let applied = apply_migrations(&mut conn)?;
    Ok((conn, applied))
}

fn create_sqlite_folder(url: &DatabaseUrl) -> anyhow::Result<()> {
    if let DatabaseUrl::Sqlite(path) = url {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the folder {} for the database: {e}",
                    dir.display()
                )
            })?;
        }
    }
    Ok(())
}

/// Now, as naive UTC with microsecond precision: the format SQLAlchemy writes, so that both
/// apps can share one SQLite file. Diesel's SQLite text format (`%.f`) prints 3, 6 or 9
/// fractional digits as needed; a microsecond count that is a multiple of 1000 is nudged by
/// 1 µs so that exactly six digits (`YYYY-MM-DD HH:MM:SS.ffffff`) are always written.
pub fn now() -> chrono::NaiveDateTime {
    let now = chrono::Utc::now().naive_utc();
    let mut micros = now.and_utc().timestamp_subsec_micros();
    if micros.is_multiple_of(1000) {
        micros += 1;
    }
    chrono::Timelike::with_nanosecond(&now, micros * 1000).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_urls_choose_the_backend_by_scheme() {
        assert_eq!(
            DatabaseUrl::parse("instance/data.db").unwrap(),
            DatabaseUrl::Sqlite("instance/data.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db").unwrap(),
            DatabaseUrl::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://rel.db").unwrap(),
            DatabaseUrl::Sqlite("rel.db".into())
        );
        assert!(DatabaseUrl::parse("mysql://localhost/x")
            .unwrap_err()
            .contains("unsupported"));
        assert!(DatabaseUrl::parse("").is_err());
    }

    #[test]
    fn postgres_urls_need_the_feature() {
        let parsed = DatabaseUrl::parse("postgres://127.0.0.1/test");
        if cfg!(feature = "postgres") {
            assert!(matches!(parsed, Ok(DatabaseUrl::Postgres(_))));
        } else {
            assert!(parsed.unwrap_err().contains("--features postgres"));
        }
    }

    #[test]
    fn now_has_microsecond_precision_printed_as_six_digits() {
        for _ in 0..1000 {
            let t = now();
            assert_eq!(chrono::Timelike::nanosecond(&t) % 1000, 0);
            let text = t.format("%F %T%.f").to_string();
            assert_eq!(text.len(), "2026-01-01 00:00:00.000000".len(), "{text}");
        }
    }

    /// How SQLite would run `sql` (`EXPLAIN QUERY PLAN`'s lines).
    fn sqlite_plan(conn: &mut SqliteConnection, sql: &str) -> String {
        #[derive(QueryableByName)]
        struct Step {
            #[diesel(sql_type = diesel::sql_types::Text)]
            detail: String,
        }
        diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<Step>(conn)
            .unwrap()
            .into_iter()
            .map(|s| s.detail)
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Queries that run at every start-up or counted login reach their rows through an
    /// index: a million accounts or throttle rows must not make them read the whole table.
    #[test]
    fn start_up_and_throttle_queries_use_their_indexes_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = open_single(&DatabaseUrl::Sqlite(dir.path().join("plan.db"))).unwrap();
        #[allow(irrefutable_let_patterns)]
        let DbConnection::Sqlite(mut conn) = conn
        else {
            unreachable!()
        };
        let second_factors = sqlite_plan(
            &mut conn,
            "SELECT count(*) FROM \"user\" WHERE tf_primary_method IS NOT NULL \
             AND tf_primary_method != ''",
        );
        assert!(
            second_factors.contains("ix_user_tf_primary_method"),
            "{second_factors}"
        );
        let old_attempts = sqlite_plan(
            &mut conn,
            "SELECT id FROM auth_attempt WHERE action = 'login_failed' \
             AND created_at <= '2026-01-01' LIMIT 100",
        );
        assert!(
            old_attempts.contains("ix_auth_attempt_action_created_at"),
            "{old_attempts}"
        );
    }

    /// Several processes starting at once on a fresh file all switch it to WAL; SQLite
    /// answers some of them "database is locked" at once, without waiting.
    #[test]
    fn connections_opened_at_once_on_a_fresh_sqlite_file_all_succeed() {
        for _ in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let manager = ConnectionManager {
                url: DatabaseUrl::Sqlite(dir.path().join("fresh.db")),
                failures: Arc::default(),
                health: Arc::default(),
                must_exist: false,
            };
            let start = Arc::new(std::sync::Barrier::new(4));
            let opened: Vec<_> = (0..4)
                .map(|_| {
                    let (manager, start) = (manager.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        manager.open().map(drop).map_err(|e| e.to_string())
                    })
                })
                .collect();
            for opened in opened {
                assert_eq!(opened.join().unwrap(), Ok(()));
            }
        }
    }
}
