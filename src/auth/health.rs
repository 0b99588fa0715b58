//! Whether the database answers, as `/healthz` reports it: a query on Latchkey's tables
//! within a deadline, and what this process last saw of the database's availability.

use std::time::Duration;

use super::services::Services;

/// The database's health, as `/healthz` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseHealth {
    /// The query answered in time.
    pub up: bool,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Seconds since this process saw it go down, while down.
    pub down_for_secs: Option<u64>,
    /// Why it is down, in the driver's words (never the URL or a password).
    pub error: Option<String>,
}

/// Asks the database a query on Latchkey's tables, waiting at most `timeout`.
pub async fn database(services: &Services, timeout: Duration) -> DatabaseHealth {
    let query = services.db.run(crate::db::users::probe);
    let problem = match tokio::time::timeout(timeout, query).await {
        Ok(Ok(())) => None,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database did not answer");
            Some(e.to_string())
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer in time");
            Some(format!("no answer within {} s", timeout.as_secs()))
        }
    };
    let seen = services.db.health();
    DatabaseHealth {
        up: problem.is_none(),
        backend: services.settings.database_url.backend_name(),
        down_for_secs: seen.down_for_secs,
        error: seen.error.or(problem),
    }
}
