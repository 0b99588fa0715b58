//! Whether the database can be reached, as this process last saw it. When a connection
//! cannot be opened, the database is marked down: from then on queries fail at once (the
//! caller answers 503) instead of each waiting out the pool's timeout, and a probe thread
//! tries a fresh connection every [`PROBE_INTERVAL`] until one works.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a down database is tried again.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(250);

/// Shared by the pool's connection manager, the query helper and the probe.
#[derive(Debug, Default)]
pub struct DbHealth {
    down: AtomicBool,
    /// When it went down (milliseconds since the epoch), while down.
    down_since_ms: AtomicU64,
    /// Why, in the driver's words (never a password: connection errors do not echo the URL).
    last_error: Mutex<Option<String>>,
}

/// What `/healthz` shows of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HealthStatus {
    pub up: bool,
    /// Seconds since it went down.
    pub down_for_secs: Option<u64>,
    pub error: Option<String>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// A connection could not be opened (or was found broken).
    pub fn mark_down(&self, error: &str) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.chars().take(300).collect());
        }
        if !self.down.swap(true, Ordering::AcqRel) {
            self.down_since_ms.store(now_ms(), Ordering::Release);
            tracing::error!(
                event = "database_down",
                error,
                "the database cannot be reached: answering 503 until it is back"
            );
        }
    }

    /// A fresh connection worked.
    pub fn mark_up(&self) {
        if self.down.swap(false, Ordering::AcqRel) {
            let down_for = now_ms().saturating_sub(self.down_since_ms.load(Ordering::Acquire));
            tracing::warn!(
                event = "database_up",
                down_for_ms = down_for,
                "the database answers again"
            );
            if let Ok(mut last) = self.last_error.lock() {
                *last = None;
            }
        }
    }

    pub fn status(&self) -> HealthStatus {
        let up = !self.is_down();
        HealthStatus {
            up,
            down_for_secs: (!up).then(|| {
                now_ms().saturating_sub(self.down_since_ms.load(Ordering::Acquire)) / 1000
            }),
            error: if up {
                None
            } else {
                self.last_error.lock().ok().and_then(|e| e.clone())
            },
        }
    }
}

/// Starts the probe: while the database is marked down, `try_connect` is called every
/// [`PROBE_INTERVAL`]; the first success marks it up. The thread ends with the pool.
pub fn spawn_probe<F>(health: &Arc<DbHealth>, try_connect: F)
where
    F: Fn() -> Result<(), String> + Send + 'static,
{
    let weak: Weak<DbHealth> = Arc::downgrade(health);
    let spawned = std::thread::Builder::new()
        .name("db-probe".into())
        .spawn(move || loop {
            std::thread::sleep(PROBE_INTERVAL);
            let Some(health) = weak.upgrade() else {
                return;
            };
            if health.is_down() {
                match try_connect() {
                    Ok(()) => health.mark_up(),
                    Err(e) => health.mark_down(&e),
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "database probe thread not started");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn down_then_up_reports_why_and_for_how_long() {
        let health = DbHealth::default();
        assert!(health.status().up);
        health.mark_down("connection refused");
        let status = health.status();
        assert!(!status.up);
        assert_eq!(status.error.as_deref(), Some("connection refused"));
        assert_eq!(status.down_for_secs, Some(0));
        health.mark_up();
        assert_eq!(
            health.status(),
            HealthStatus {
                up: true,
                down_for_secs: None,
                error: None
            }
        );
    }

    #[test]
    fn the_probe_brings_it_back_and_stops_with_the_pool() {
        let health = Arc::new(DbHealth::default());
        let calls = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&calls);
        spawn_probe(&health, move || {
            // Fails twice, then works.
            match counted.fetch_add(1, Ordering::AcqRel) {
                0 | 1 => Err("still down".into()),
                _ => Ok(()),
            }
        });
        health.mark_down("refused");
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while health.is_down() {
            assert!(
                std::time::Instant::now() < deadline,
                "the probe never marked it up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(calls.load(Ordering::Acquire), 3);
        drop(health);
        std::thread::sleep(PROBE_INTERVAL * 2);
        assert_eq!(calls.load(Ordering::Acquire), 3, "no probing while up");
    }
}
