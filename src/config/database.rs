//! The database: `DATABASE_URL`, the server's pool (`DATABASE_POOL_SIZE`,
//! `DATABASE_POOL_TIMEOUT`) and how often the server sweeps it (`HOUSEKEEPING_INTERVAL`).
//! Plain values: `db` connects with them.

use std::path::PathBuf;
use std::time::Duration;

use super::source::{ConfigError, Source};

/// A parsed `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl DatabaseUrl {
    /// A plain path or `sqlite://…` is SQLite; `postgres://` / `postgresql://` is PostgreSQL.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            if cfg!(feature = "postgres") {
                return Ok(DatabaseUrl::Postgres(raw.to_owned()));
            }
            return Err("this build has no PostgreSQL support; build it with \
                 `cargo build --release --features postgres` (needs libpq-dev)"
                .to_owned());
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            // sqlite:///abs/path (SQLAlchemy style) and sqlite://relative/path
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if raw.contains("://") {
            let scheme = raw.split("://").next().unwrap_or_default();
            return Err(format!(
                "unsupported database scheme {scheme:?}: use a file path, sqlite://PATH or postgres://..."
            ));
        } else {
            raw
        };
        if path.is_empty() {
            return Err("is empty: give a SQLite file path or a postgres:// URL".to_owned());
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite(_) => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
        }
    }
}

/// The shape of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_size: u32,
    /// Connections kept open while idle (the pool opens them in the background).
    pub min_idle: u32,
    /// How long a query waits for a free connection.
    pub connection_timeout: Duration,
}

impl PoolOptions {
    /// The server's defaults: 8 connections on SQLite (one writer at a time anyway), 10 on
    /// PostgreSQL; a request waits up to 5 s for one (`DATABASE_POOL_SIZE`,
    /// `DATABASE_POOL_TIMEOUT` change them).
    pub fn server(url: &DatabaseUrl) -> Self {
        Self {
            max_size: match url {
                DatabaseUrl::Sqlite(_) => 8,
                DatabaseUrl::Postgres(_) => 10,
            },
            min_idle: 1,
            connection_timeout: Duration::from_secs(5),
        }
    }

    /// A short-lived command's: connections opened when first used, none kept idle in the
    /// background.
    pub fn command_line() -> Self {
        Self {
            max_size: 2,
            min_idle: 0,
            connection_timeout: Duration::from_secs(10),
        }
    }
}

/// `DATABASE_URL` (default `instance/latchkey.db`).
pub(super) fn database_url(src: &Source) -> Result<DatabaseUrl, ConfigError> {
    DatabaseUrl::parse(src.get("DATABASE_URL").unwrap_or("instance/latchkey.db"))
        .map_err(|reason| ConfigError::new("DATABASE_URL", reason))
}

/// `DATABASE_POOL_SIZE` (default 8 on SQLite, 10 on PostgreSQL) and
/// `DATABASE_POOL_TIMEOUT` (how long a request waits for a free connection; default 5 s).
pub(super) fn database_pool(src: &Source, url: &DatabaseUrl) -> Result<PoolOptions, ConfigError> {
    let defaults = PoolOptions::server(url);
    let max_size: u32 = src.number("DATABASE_POOL_SIZE", defaults.max_size)?;
    if !(1..=MAX_POOL_SIZE).contains(&max_size) {
        return Err(ConfigError::new(
            "DATABASE_POOL_SIZE",
            format!("must be between 1 and {MAX_POOL_SIZE}, got {max_size}"),
        ));
    }
    let timeout = src.seconds_or_period("DATABASE_POOL_TIMEOUT", "5 seconds")?;
    if timeout < Duration::from_secs(1) || timeout > Duration::from_secs(120) {
        return Err(ConfigError::new(
            "DATABASE_POOL_TIMEOUT",
            format!("must be between 1 and 120 seconds, got {timeout:?}"),
        ));
    }
    Ok(PoolOptions {
        max_size,
        min_idle: defaults.min_idle.min(max_size),
        connection_timeout: timeout,
    })
}

/// The largest `DATABASE_POOL_SIZE` accepted (PostgreSQL's default `max_connections` is
/// 100, shared by every instance).
pub const MAX_POOL_SIZE: u32 = 500;

/// `HOUSEKEEPING_INTERVAL` (default 10 minutes; a bare `0`: never).
pub(super) fn housekeeping_interval(src: &Source) -> Result<Option<Duration>, ConfigError> {
    match src.get("HOUSEKEEPING_INTERVAL").map(str::trim) {
        Some("0") => Ok(None),
        _ => {
            let every = src.duration("HOUSEKEEPING_INTERVAL", "10 minutes")?;
            // A sweep per second or faster is a busy loop, not housekeeping.
            if every < Duration::from_secs(60) {
                return Err(ConfigError::new(
                    "HOUSEKEEPING_INTERVAL",
                    "must be at least 1 minute (or a bare 0 to switch the sweeper off)",
                ));
            }
            Ok(Some(every))
        }
    }
}
