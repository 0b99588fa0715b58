//! Delivers the outbox: the background task that takes due rows out of `mail_outbox` and
//! hands them to the [`Transport`].
//!
//! * **Waking.** [`super::enqueue`] calls [`wake`]; the worker also polls every
//!   [`POLL_INTERVAL`], which picks up rows written by other processes, retries that fell
//!   due, and rows whose wake-up came before their transaction committed.
//! * **Claiming.** A row is claimed with one conditional `UPDATE … SET locked_until = now +
//!   LOCK_FOR WHERE id = ? AND (locked_until IS NULL OR locked_until < now)`: only the
//!   instance whose update changed the row sends it, so several instances sharing one
//!   database never send a message twice. A send is cut off after [`SEND_DEADLINE`], well
//!   inside the lock, so a lock never expires under a live send.
//! * **Bodies** are stored sealed ([`super::seal`]) and opened only here, just before the
//!   send; a body that cannot be opened (another `SECRET_KEY`) is given up at once.
//! * **Success** deletes the row (its body holds a secret link: nothing is kept).
//! * **Failure** increments `attempts`, stores `last_error`, clears the lock and sets
//!   `next_attempt_at` to now + [`backoff`] (1 s, 2 s, 4 s … capped at [`MAX_BACKOFF`]).
//! * **Giving up.** After [`MAX_ATTEMPTS`] failed attempts (about an hour and a half of
//!   SMTP outage), or at once when the message can never be built (a malformed address),
//!   the row is logged at error level and left in the table with its `last_error` and
//!   `attempts = MAX_ATTEMPTS`, its bodies cleared (a working link must not stay at rest);
//!   it is never tried again. Its owner asks again (another reset, another confirmation
//!   mail) once the cause is fixed; the row is for the operator to read, then delete.
//! * **Crashes.** A process that dies between claim and delete leaves a lock that expires
//!   after [`LOCK_FOR`]; the message is then sent again (at-least-once in that case only).
//!
//! The worker never panics out and never stops on errors: database and SMTP failures are
//! logged and retried, and a panic inside a pass is caught and logged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

// Declared here (not in `mail/mod.rs`, which this change leaves alone); it is the file
// `src/mail/transport.rs`, re-exported below.
#[path = "transport.rs"]
pub mod transport;

pub use self::transport::{SendError, SetupError, Transport};
use super::message::Message;
use super::seal::OutboxKey;
use crate::config::MailSettings;
use crate::db::schema::mail_outbox;
use crate::db::{self, Db, DbConnection, DbError};

/// How often the worker looks for due rows when nobody wakes it.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How long a claim holds a row.
pub const LOCK_FOR: Duration = Duration::from_secs(120);
/// The longest one send may take (connect, greeting, every command): inside [`LOCK_FOR`].
pub const SEND_DEADLINE: Duration = Duration::from_secs(90);
/// Failed attempts after which a message is given up.
pub const MAX_ATTEMPTS: i32 = 25;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// After a wake-up, give the enqueuing transaction a moment to commit.
const WAKE_SETTLE: Duration = Duration::from_millis(50);
/// Candidate ids read per query.
const BATCH: i64 = 50;
/// How long [`WorkerHandle::shutdown`] waits for the message being sent.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// `last_error` is cut to this many characters.
const MAX_ERROR_CHARS: usize = 1000;

static WAKE: Notify = Notify::const_new();

/// Tells the worker that a message is waiting. Cheap, callable from any thread, never blocks.
pub fn wake() {
    WAKE.notify_one();
}

/// The wait before the next attempt after `attempts` failed ones: 1 s, 2 s, 4 s, … capped at
/// [`MAX_BACKOFF`].
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 16) as u32;
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

/// What one [`deliver_due`] pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PassReport {
    /// Sent and removed from the outbox.
    pub delivered: usize,
    /// Failed; will be tried again later.
    pub retrying: usize,
    /// Failed for the last time; left in the outbox with `last_error`.
    pub given_up: usize,
}

/// Delivers every message that is due now and not claimed by someone else, one at a time,
/// and returns what happened. Each row is tried at most once per call. Errors are database
/// errors only (the pass stops there; claimed rows are released by their lock's expiry).
pub async fn deliver_due(
    db: &Db,
    transport: &Transport,
    key: &OutboxKey,
) -> Result<PassReport, DbError> {
    deliver_due_until(db, transport, key, &AtomicBool::new(false)).await
}

async fn deliver_due_until(
    db: &Db,
    transport: &Transport,
    key: &OutboxKey,
    stop: &AtomicBool,
) -> Result<PassReport, DbError> {
    let started = db::now();
    let mut report = PassReport::default();
    let mut after_id = 0i64;
    loop {
        let ids = db.run(move |conn| due_ids(conn, started, after_id)).await?;
        let Some(&last) = ids.last() else {
            return Ok(report);
        };
        after_id = last;
        for id in ids {
            if stop.load(Ordering::Relaxed) {
                return Ok(report);
            }
            match deliver_one(db, transport, key, id).await? {
                Outcome::NotClaimed => {}
                Outcome::Delivered => report.delivered += 1,
                Outcome::Retrying => report.retrying += 1,
                Outcome::GivenUp => report.given_up += 1,
            }
        }
    }
}

/// Ids of rows due at `at`, unlocked (or with an expired lock) and not given up.
fn due_ids(
    conn: &mut DbConnection,
    at: chrono::NaiveDateTime,
    after_id: i64,
) -> Result<Vec<i64>, DbError> {
    Ok(mail_outbox::table
        .filter(mail_outbox::id.gt(after_id))
        .filter(mail_outbox::next_attempt_at.le(at))
        .filter(
            mail_outbox::locked_until
                .is_null()
                .or(mail_outbox::locked_until.lt(at)),
        )
        .filter(mail_outbox::attempts.lt(MAX_ATTEMPTS))
        .order(mail_outbox::id.asc())
        .select(mail_outbox::id)
        .limit(BATCH)
        .load(conn)?)
}

#[derive(Queryable)]
struct OutboxRow {
    recipient: String,
    subject: String,
    text_body: String,
    html_body: String,
    attempts: i32,
}

enum Outcome {
    NotClaimed,
    Delivered,
    Retrying,
    GivenUp,
}

/// Claims row `id` (the conditional update) and reads it. `None`: someone else has it, it is
/// gone, or it is no longer due.
fn claim(
    conn: &mut DbConnection,
    id: i64,
    lock: chrono::NaiveDateTime,
) -> Result<Option<OutboxRow>, DbError> {
    let now = db::now();
    let claimed = diesel::update(
        mail_outbox::table
            .filter(mail_outbox::id.eq(id))
            .filter(
                mail_outbox::locked_until
                    .is_null()
                    .or(mail_outbox::locked_until.lt(now)),
            )
            .filter(mail_outbox::next_attempt_at.le(now))
            .filter(mail_outbox::attempts.lt(MAX_ATTEMPTS)),
    )
    .set(mail_outbox::locked_until.eq(Some(lock)))
    .execute(conn)?;
    if claimed != 1 {
        return Ok(None);
    }
    Ok(mail_outbox::table
        .filter(mail_outbox::id.eq(id))
        .select((
            mail_outbox::recipient,
            mail_outbox::subject,
            mail_outbox::text_body,
            mail_outbox::html_body,
            mail_outbox::attempts,
        ))
        .get_result(conn)
        .optional()?)
}

async fn deliver_one(
    db: &Db,
    transport: &Transport,
    key: &OutboxKey,
    id: i64,
) -> Result<Outcome, DbError> {
    let lock = db::now() + LOCK_FOR;
    let Some(row) = db.run(move |conn| claim(conn, id, lock)).await? else {
        return Ok(Outcome::NotClaimed);
    };
    let recipient = key.recipient_tag(&row.recipient);
    let opened = key.open(&row.text_body).and_then(|text| {
        let html = key.open(&row.html_body)?;
        Ok((text, html))
    });
    let (text, html) = match opened {
        Ok(bodies) => bodies,
        Err(sealed) => {
            let error = SendError::Message(sealed.to_string());
            return record_failure(db, id, lock, row.attempts, &recipient, &row.subject, &error)
                .await;
        }
    };
    // An empty body is a part the mail does not have (`SECURITY_EMAIL_PLAINTEXT`, `_HTML`).
    let part = |body: String| (!body.is_empty()).then_some(body);
    let message = Message {
        to: row.recipient,
        subject: row.subject,
        text: part(text),
        html: part(html),
    };
    let sent = match tokio::time::timeout(SEND_DEADLINE, transport.send(&message)).await {
        Ok(sent) => sent,
        Err(_) => Err(SendError::Smtp(format!(
            "gave up waiting after {} s",
            SEND_DEADLINE.as_secs()
        ))),
    };
    match sent {
        Ok(()) => {
            remove_delivered(db, id).await;
            tracing::debug!(id, recipient = %recipient, subject = %message.subject, "mail delivered");
            Ok(Outcome::Delivered)
        }
        Err(error) => {
            record_failure(
                db,
                id,
                lock,
                row.attempts,
                &recipient,
                &message.subject,
                &error,
            )
            .await
        }
    }
}

/// Deletes a delivered row. A failure here would let the lock expire and the message go out
/// twice, so it is retried a few times before giving up with an error log.
async fn remove_delivered(db: &Db, id: i64) {
    let mut tries = 0;
    loop {
        tries += 1;
        let deleted = db
            .run(move |conn| {
                Ok(
                    diesel::delete(mail_outbox::table.filter(mail_outbox::id.eq(id)))
                        .execute(conn)?,
                )
            })
            .await;
        match deleted {
            Ok(_) => return,
            Err(e) if tries < 5 => {
                tracing::warn!(id, error = %e, "mail delivered but not yet removed from the outbox; retrying");
                tokio::time::sleep(Duration::from_millis(500 * tries)).await;
            }
            Err(e) => {
                tracing::error!(
                    id,
                    error = %e,
                    "mail delivered but could not be removed from the outbox: \
                     it will be sent again when its lock expires"
                );
                return;
            }
        }
    }
}

/// Records a failed attempt (`recipient` is the keyed tag, for the log). A mail given up
/// keeps its recipient, subject and last error for the operator, but not its bodies: the
/// links they carry must not outlive the attempt to deliver them.
async fn record_failure(
    db: &Db,
    id: i64,
    lock: chrono::NaiveDateTime,
    previous_attempts: i32,
    recipient: &str,
    subject: &str,
    error: &SendError,
) -> Result<Outcome, DbError> {
    let attempts = if error.is_permanent() {
        MAX_ATTEMPTS
    } else {
        previous_attempts.saturating_add(1).min(MAX_ATTEMPTS)
    };
    let wait = backoff(attempts);
    let text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
    let stored = text.clone();
    let updated = db
        .run(move |conn| {
            let now = db::now();
            // Only while the claim is still ours: never overwrite another instance's claim.
            Ok(diesel::update(
                mail_outbox::table
                    .filter(mail_outbox::id.eq(id))
                    .filter(mail_outbox::locked_until.eq(Some(lock))),
            )
            .set((
                mail_outbox::attempts.eq(attempts),
                mail_outbox::next_attempt_at.eq(now + wait),
                mail_outbox::locked_until.eq(None::<chrono::NaiveDateTime>),
                mail_outbox::last_error.eq(Some(stored)),
            ))
            .execute(conn)
            .and_then(|updated| {
                if attempts >= MAX_ATTEMPTS {
                    diesel::update(mail_outbox::table.filter(mail_outbox::id.eq(id)))
                        .set((mail_outbox::text_body.eq(""), mail_outbox::html_body.eq("")))
                        .execute(conn)?;
                }
                Ok(updated)
            })?)
        })
        .await?;
    if updated == 0 {
        tracing::warn!(id, error = %text, "mail failed, and its claim had already expired");
    }
    if attempts >= MAX_ATTEMPTS {
        tracing::error!(
            id,
            recipient = %recipient,
            subject = %subject,
            attempts,
            error = %text,
            "giving up on a mail: it stays in mail_outbox with its last_error (its bodies cleared) and will not be retried"
        );
        Ok(Outcome::GivenUp)
    } else {
        tracing::warn!(
            id,
            recipient = %recipient,
            attempts,
            retry_in_s = wait.as_secs(),
            error = %text,
            "mail not delivered; will retry"
        );
        Ok(Outcome::Retrying)
    }
}

/// Starts the worker with the transport chosen by `mail` (see [`Transport::from_settings`]).
/// Call it once per process, inside a Tokio runtime (e.g. from `Application::build`).
/// `key` opens the bodies [`super::enqueue`] sealed (the same `SECRET_KEY`).
pub fn spawn(db: Db, mail: &MailSettings, key: OutboxKey) -> Result<WorkerHandle, SetupError> {
    let transport = Transport::from_settings(mail)?;
    tracing::info!("mail delivery: {}", transport.describe());
    Ok(spawn_with(db, transport, key))
}

/// Starts the worker with a given transport.
pub fn spawn_with(db: Db, transport: Transport, key: OutboxKey) -> WorkerHandle {
    let stop = Arc::new(Stop::default());
    let task = tokio::spawn(run(db, Arc::new(transport), key, stop.clone()));
    WorkerHandle { stop, task }
}

#[derive(Default)]
struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

/// The running worker. Dropping the handle leaves the worker running (like a detached task);
/// call [`WorkerHandle::shutdown`] to stop it.
pub struct WorkerHandle {
    stop: Arc<Stop>,
    task: JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops the worker: it finishes the message it is sending (waiting at most 10 s, after
    /// which the send is abandoned and its row is retried once its lock expires), then closes
    /// its SMTP connections. Rows not yet claimed stay queued for the next start.
    pub async fn shutdown(self) {
        self.stop.requested.store(true, Ordering::Relaxed);
        self.stop.notify.notify_one();
        let mut task = self.task;
        if tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
            .await
            .is_err()
        {
            tracing::warn!("mail worker did not stop in time; abandoning the message in flight");
            task.abort();
            let _ = task.await;
        }
    }

    /// True once the worker has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Aborts the inner task when the worker itself is cancelled.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(db: Db, transport: Arc<Transport>, key: OutboxKey, stop: Arc<Stop>) {
    let mut database_failing = false;
    while !stop.requested.load(Ordering::Relaxed) {
        // Each pass runs as its own task so that a panic in it is caught here.
        let pass = {
            let (db, transport, key, stop) =
                (db.clone(), transport.clone(), key.clone(), stop.clone());
            AbortOnDrop(tokio::spawn(async move {
                deliver_due_until(&db, &transport, &key, &stop.requested).await
            }))
        };
        let mut pass = pass;
        match (&mut pass.0).await {
            Ok(Ok(report)) => {
                if database_failing {
                    tracing::info!("mail outbox reachable again");
                    database_failing = false;
                }
                if report.retrying + report.given_up > 0 {
                    tracing::debug!(?report, "mail delivery pass");
                }
            }
            Ok(Err(e)) => {
                if !database_failing {
                    tracing::warn!(error = %e, "cannot read the mail outbox; retrying every second");
                    database_failing = true;
                }
            }
            Err(e) if e.is_panic() => {
                tracing::error!("mail delivery pass panicked; the worker carries on");
            }
            Err(_) => {}
        }
        if stop.requested.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            _ = WAKE.notified() => {
                tokio::select! {
                    _ = tokio::time::sleep(WAKE_SETTLE) => {}
                    _ = stop.notify.notified() => {}
                }
            }
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = stop.notify.notified() => {}
        }
    }
    transport.shutdown().await;
    tracing::debug!("mail worker stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_one_second_up_to_five_minutes() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(4));
        assert_eq!(backoff(9), Duration::from_secs(256));
        assert_eq!(backoff(10), MAX_BACKOFF);
        assert_eq!(backoff(i32::MAX), MAX_BACKOFF);
    }
}
