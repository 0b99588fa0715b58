//! Housekeeping: what may be deleted, and the pass that deletes it in small batches. The
//! server runs a pass every `HOUSEKEEPING_INTERVAL` (one task per instance; several
//! instances on one PostgreSQL may overlap harmlessly: every delete is by primary key of a
//! row already past its use); `latchkey db sweep` runs one pass and prints what it removed.
//!
//! Removed: logins past their idle or absolute timeout (remembered ones past their
//! remember-me expiry), used or expired link tokens, throttle rows older than their window,
//! mail given up longer than `MAIL_OUTBOX_RETENTION` ago (delivered mail is deleted on
//! delivery), unfinished passkey ceremonies, used code steps older than a day, expired API
//! tokens and refresh families past their maximum age. Never a live login, an unused link,
//! or mail still being tried. On SQLite the pages the deletes freed are then given back to
//! the file system, a few megabytes per step (files Latchkey creates use incremental
//! auto-vacuum; an older file needs one `VACUUM` to switch, see bench/README.md).

use std::fmt;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::error::ServiceError;
use super::services::Services;
use super::throttle::{Action, LOGIN_FAILED, LOGIN_OK};
use crate::config::Settings;
use crate::db::{self, sweep};

/// Rows per delete: a few milliseconds of SQLite's write lock.
pub const BATCH: i64 = 500;
/// The pause between two batches, so logins and other writers get the lock in between.
pub const PAUSE: Duration = Duration::from_millis(5);
/// Free pages given back to the file system per step on SQLite (4 MiB of 4 KiB pages): a
/// step is one short write transaction.
pub const VACUUM_PAGES: i64 = 1024;
/// Rows deleted between two WAL checkpoints on SQLite (see [`sweep::checkpoint`]).
pub const CHECKPOINT_ROWS: usize = 20_000;
/// How long a used code step is kept (every code method's window is far shorter).
const CODE_STEPS_KEPT: chrono::Duration = chrono::Duration::days(1);

/// How many rows one pass removed, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub logins: usize,
    pub link_tokens: usize,
    pub throttle_rows: usize,
    pub dead_mail: usize,
    pub passkey_ceremonies: usize,
    pub code_steps: usize,
    pub api_tokens: usize,
    pub refresh_families: usize,
    /// Bytes of free pages given back to the file system (SQLite; see
    /// [`sweep::return_free_pages`]). Not a row count: not in [`SweepReport::total`].
    pub bytes_returned: u64,
}

impl SweepReport {
    pub fn total(&self) -> usize {
        self.logins
            + self.link_tokens
            + self.throttle_rows
            + self.dead_mail
            + self.passkey_ceremonies
            + self.code_steps
            + self.api_tokens
            + self.refresh_families
    }
}

impl fmt::Display for SweepReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows = [
            ("expired logins", self.logins),
            ("used or expired link tokens", self.link_tokens),
            ("old throttle rows", self.throttle_rows),
            ("mail given up", self.dead_mail),
            ("unfinished passkey ceremonies", self.passkey_ceremonies),
            ("old code steps", self.code_steps),
            ("expired API tokens", self.api_tokens),
            ("expired refresh families", self.refresh_families),
        ];
        for (what, n) in rows {
            writeln!(f, "{n:>9}  {what}")?;
        }
        writeln!(f, "{:>9}  in all", self.total())?;
        write!(
            f,
            "{:>9}  KiB of free database pages given back to the file system",
            self.bytes_returned / 1024
        )
    }
}

/// The cut-off times of one pass, from the settings.
#[derive(Debug, Clone)]
pub struct Cutoffs {
    pub now: NaiveDateTime,
    pub idle_before: NaiveDateTime,
    pub begun_before: NaiveDateTime,
    pub attempt_windows: Vec<(&'static str, NaiveDateTime)>,
    pub other_attempts_before: NaiveDateTime,
    pub dead_mail_before: NaiveDateTime,
    pub code_steps_before: NaiveDateTime,
}

impl Cutoffs {
    pub fn at(now: NaiveDateTime, settings: &Settings) -> Self {
        let ago =
            |d: Duration| now - chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 4);
        let policy = &settings.session_policy;
        let throttle = &settings.login_throttle;
        let rates = settings.rate_limits.window;
        let mut attempt_windows = vec![
            (LOGIN_FAILED, ago(throttle.window)),
            (LOGIN_OK, ago(throttle.trusted_ip_for)),
        ];
        for action in Action::ALL {
            attempt_windows.push((action.as_str(), ago(rates)));
        }
        // Rows of an action this build does not know: kept for the longest window.
        let longest = throttle.window.max(throttle.trusted_ip_for).max(rates);
        Self {
            now,
            idle_before: ago(policy.idle_timeout),
            begun_before: ago(policy.absolute_timeout),
            attempt_windows,
            other_attempts_before: ago(longest),
            dead_mail_before: ago(settings.mail.retention),
            code_steps_before: now - CODE_STEPS_KEPT,
        }
    }
}

/// One pass over every table, in batches of `batch` rows with `pause` between them.
pub async fn sweep_once(
    services: &Services,
    batch: i64,
    pause: Duration,
) -> Result<SweepReport, ServiceError> {
    let cut = Cutoffs::at(db::now(), &services.settings);
    let db = &services.db;
    let mut report = SweepReport::default();

    // Rows deleted since the last WAL checkpoint (SQLite; see `sweep::checkpoint`).
    let mut unchecked = 0;
    // Walks one table: `step` deletes a batch after the cursor and gives the next cursor.
    macro_rules! walk {
        ($field:ident, $start:expr, |$conn:ident, $after:ident, $cut:ident| $step:expr) => {{
            let mut cursor = Some($start);
            while let Some($after) = cursor.take() {
                let $cut = cut.clone();
                let (deleted, next) = db.run(move |$conn| $step).await?;
                report.$field += deleted;
                unchecked += deleted;
                if unchecked >= CHECKPOINT_ROWS {
                    db.run(sweep::checkpoint).await?;
                    unchecked = 0;
                }
                cursor = next;
                tokio::time::sleep(pause).await;
            }
        }};
    }

    walk!(logins, String::new(), |conn, after, cut| {
        sweep::expired_logins(
            conn,
            &after,
            cut.now,
            cut.idle_before,
            cut.begun_before,
            batch,
        )
    });
    walk!(link_tokens, String::new(), |conn, after, cut| {
        sweep::spent_user_tokens(conn, &after, cut.now, batch)
    });
    walk!(throttle_rows, i64::MIN, |conn, after, cut| {
        sweep::old_attempts(
            conn,
            after,
            &cut.attempt_windows,
            cut.other_attempts_before,
            batch,
        )
    });
    walk!(dead_mail, i64::MIN, |conn, after, cut| sweep::dead_mail(
        conn,
        after,
        crate::mail::worker::MAX_ATTEMPTS,
        cut.dead_mail_before,
        batch
    ));
    walk!(passkey_ceremonies, String::new(), |conn, after, cut| {
        sweep::expired_ceremonies(conn, &after, cut.now, batch)
    });
    walk!(api_tokens, String::new(), |conn, after, cut| {
        sweep::expired_api_tokens(conn, &after, cut.now, batch)
    });
    walk!(refresh_families, i32::MIN, |conn, after, cut| {
        sweep::expired_refresh_families(conn, after, cut.now, batch)
    });
    loop {
        let before = cut.code_steps_before;
        let deleted = db
            .run(move |conn| sweep::old_code_steps(conn, before, batch))
            .await?;
        report.code_steps += deleted;
        if (deleted as i64) < batch {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    // What the deletes freed, given back to the file system in steps (SQLite): a file that
    // kept every page it ever had would stay at its largest however many rows are left.
    // Pages moved go through the WAL too: checkpointed every few steps.
    let mut steps = 0;
    while let Some((returned, left)) = db
        .run(|conn| sweep::return_free_pages(conn, VACUUM_PAGES))
        .await?
    {
        report.bytes_returned += returned;
        if left == 0 || returned == 0 {
            break;
        }
        steps += 1;
        if steps % 4 == 0 {
            db.run(sweep::checkpoint).await?;
        }
        tokio::time::sleep(pause).await;
    }
    if report.total() > 0 {
        db.run(sweep::checkpoint).await?;
    }
    Ok(report)
}

/// Runs a pass every `interval` until the task is dropped (the server's). A failed pass is
/// logged and tried again at the next interval.
pub async fn run_every(services: Services, interval: Duration) {
    // Instances started together should not sweep in step.
    let jitter = Duration::from_millis(rand::random::<u64>() % 1000);
    tokio::time::sleep(jitter.min(interval)).await;
    loop {
        let started = std::time::Instant::now();
        match sweep_once(&services, BATCH, PAUSE).await {
            Ok(report) => tracing::info!(
                event = "housekeeping",
                removed = report.total(),
                logins = report.logins,
                link_tokens = report.link_tokens,
                throttle_rows = report.throttle_rows,
                dead_mail = report.dead_mail,
                bytes_returned = report.bytes_returned,
                millis = started.elapsed().as_millis() as u64,
                "housekeeping pass done"
            ),
            Err(e) => {
                tracing::warn!(event = "housekeeping", error = %e, "housekeeping pass failed")
            }
        }
        tokio::time::sleep(interval).await;
    }
}
