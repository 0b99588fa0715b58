//! Hooks: typed security events (Flask-Security's signals), delivered off the request path.
//!
//! A rule or handler *emits* a [`SecurityEvent`] with [`Events::emit`] (or the one-liners
//! `services.emit(..)` and, in a handler, `web.emit(..)`): the event, the user it concerns,
//! the time and the client (IP address and `User-Agent`) become an [`EventRecord`], which is
//! put on a bounded queue and returns at once. One dispatcher thread takes records off the
//! queue in order and hands each to every [`EventSubscriber`], one after the other, so each
//! subscriber sees the events in the order they were emitted.
//!
//! * **Never blocking a request.** When the queue is full (`SECURITY_EVENT_QUEUE` records
//!   waiting: a subscriber is slow or stuck), the new record is dropped, counted
//!   ([`Events::dropped`]) and logged (`event="security_event_dropped"`, the first and
//!   every 100th). What must not be lost is therefore never built on the queue: the
//!   security notices are queued as mail by the rules themselves.
//! * **A panicking subscriber** is caught (`catch_unwind`) and logged
//!   (`event="security_event_subscriber_panicked"`); the dispatcher goes on, and later
//!   events still reach it and every other subscriber.
//! * **No secrets.** Events carry ids, names and methods, never a password, code, token or
//!   cookie; a failed login carries no trace of what was typed.
//!
//! The built-in subscriber, [`EventLog`], writes each record to the `security_event` table:
//! the account page's "Recent security activity", `/admin`'s list, and the login history
//! that the new-device notice reads (see `auth::notices`).
//!
//! An app that mounts Latchkey subscribes when it builds its state:
//!
//! ```no_run
//! use std::sync::Arc;
//! use latchkey::auth::events::{EventRecord, EventSubscriber};
//!
//! struct Audit;
//! impl EventSubscriber for Audit {
//!     fn handle(&self, record: &EventRecord) {
//!         println!("{} user={:?} ip={:?}", record.event.kind(), record.user_id, record.ip);
//!     }
//! }
//!
//! # fn main() -> anyhow::Result<()> {
//! let state = latchkey::AppState::new(latchkey::Settings::from_env()?)?;
//! state.events.subscribe(Arc::new(Audit));
//! // A closure works too:
//! state.events.subscribe(Arc::new(|record: &EventRecord| {
//!     eprintln!("{}", serde_json::to_string(record).unwrap_or_default());
//! }));
//! # Ok(()) }
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crate::messages::Messages;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::login::ClientInfo;
use crate::db::models::{NewSecurityEvent, SecurityEventRow};
use crate::db::{self, Db};

/// How a login proved who it is (its first factor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginMethod {
    /// The password, on `/login` (or the sign-in that follows `/register`).
    Password,
    /// A one-time code as the first factor: a unified sign-in code (mailed, texted or from
    /// an authenticator app) or its mailed link.
    Code,
    /// A passkey (`/wan-signin`, or the sign-in that follows `/wan-signup`).
    Passkey,
    /// The password, typed into unified sign-in's one form (`/us-signin`).
    UnifiedSignin,
    /// An identity at a social login provider (`/login/oauthresponse/<name>`).
    Oauth,
    /// The mailed confirmation link (`SECURITY_AUTO_LOGIN_AFTER_CONFIRM`).
    Confirm,
    /// A new password set through the mailed reset link (`SECURITY_AUTO_LOGIN_AFTER_RESET`).
    Reset,
}

impl LoginMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Code => "code",
            Self::Passkey => "passkey",
            Self::UnifiedSignin => "unified_signin",
            Self::Oauth => "oauth",
            Self::Confirm => "confirm",
            Self::Reset => "reset",
        }
    }

    fn from_str(s: &str) -> Option<Self> {
        Some(match s {
            "password" => Self::Password,
            "code" => Self::Code,
            "passkey" => Self::Passkey,
            "unified_signin" => Self::UnifiedSignin,
            "oauth" => Self::Oauth,
            "confirm" => Self::Confirm,
            "reset" => Self::Reset,
            _ => return None,
        })
    }
}

/// What happened to two-factor sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TwoFactorChange {
    /// Turned on (it was off).
    Enabled,
    /// Turned off.
    Disabled,
    /// Still on, with another method (or the same method set up anew, e.g. a new phone).
    MethodChanged,
}

impl TwoFactorChange {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
            Self::MethodChanged => "method_changed",
        }
    }
}

/// Something that happened to an account's security, with Flask-Security's signal it
/// stands for. Serialised as JSON with a `type` tag (`{"type": "login_succeeded",
/// "method": "password", ...}`), so a subscriber can forward it as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum SecurityEvent {
    /// An account was created (`user_registered`).
    Registered,
    /// Its address was confirmed by the mailed link (`user_confirmed`).
    Confirmed,
    /// A login completed (`user_authenticated`): how the first factor was proved, and the
    /// second factor's method when one was asked (`email`, `authenticator`, `sms`,
    /// `webauthn`, `recovery_code`). Resuming a remembered login is not a login.
    LoginSucceeded {
        method: LoginMethod,
        second_factor: Option<String>,
    },
    /// A login was refused (`user_failed_authn`): the method tried and why (`reason`, e.g.
    /// `invalid_password`, `unknown_user`, `second_factor`). The user id is known only when
    /// the identity named an account; what was typed is never kept.
    LoginFailed {
        method: LoginMethod,
        reason: String,
    },
    /// The first factor was right but the second step failed (`user_failed_authn`): a wrong
    /// code of the second factor (`method`: `email`, `authenticator`, `sms`) or a wrong
    /// recovery code (`recovery_code`).
    SecondFactorFailed {
        method: String,
    },
    /// A logout (`user_unauthenticated`).
    LoggedOut,
    /// The password was changed while logged in, or by an operator (`password_changed`).
    PasswordChanged,
    /// The password was replaced through a reset link (`password_reset`).
    PasswordReset,
    /// Two-factor sign-in was turned on or off, or its method changed
    /// (`tf_profile_changed`, `tf_disabled`). `method` is the method now in use.
    TwoFactorChanged {
        change: TwoFactorChange,
        method: Option<String>,
    },
    /// A passkey was registered (`wan_registered`): its name and use (`first`,
    /// `secondary`).
    PasskeyAdded {
        name: String,
        usage: String,
    },
    /// A passkey was deleted (`wan_deleted`).
    PasskeyRemoved {
        name: String,
    },
    /// New recovery codes replaced the old ones (the codes themselves never travel).
    RecoveryCodesRegenerated,
    /// The account moved to another email address (`change_email_confirmed`); the
    /// addresses are not carried.
    EmailChanged,
    /// The username changed (`username_changed`).
    UsernameChanged,
    /// The account was deactivated, or activated again (an operator's `latchkey users
    /// deactivate` / `activate`).
    AccountDeactivated,
    AccountActivated,
    /// Every login, token and remembered browser of the account ended by an operator
    /// (`latchkey users reset-access`).
    AccessReset,
    /// Every second factor and recovery code removed by an operator (`latchkey users
    /// tf-reset`).
    SecondFactorsReset,
    /// An API or refresh token was issued (`refresh_tracker_created`). `kind` says which
    /// (`api`, `refresh`); `label` is the token's public name or id, **never the token**.
    /// Emitted by the API-token feature.
    TokenIssued {
        kind: String,
        label: Option<String>,
    },
    /// An API or refresh token was revoked (`refresh_tracker_revoked`), as for
    /// [`SecurityEvent::TokenIssued`].
    TokenRevoked {
        kind: String,
        label: Option<String>,
    },
    /// An identity at a social login provider was linked to the account
    /// (`provider`: its name); the subject is not carried.
    IdentityLinked {
        provider: String,
    },
    /// A social login identity was unlinked from the account (`provider`: its name).
    IdentityUnlinked {
        provider: String,
    },
    /// An app was registered with Latchkey's OpenID Connect provider (an operator's
    /// `latchkey clients create`): its public `client_id`, never its secret. No user.
    OidcClientCreated {
        client_id: String,
    },
    /// A client's secret was replaced (`latchkey clients rotate-secret`).
    OidcClientSecretRotated {
        client_id: String,
    },
    /// A client was deleted (`latchkey clients delete`).
    OidcClientDeleted {
        client_id: String,
    },
    /// A new ID-token signing key became current for its algorithm (`latchkey keys
    /// rotate`); the previous one is retired. Its public `kid` and `alg` only.
    SigningKeyRotated {
        kid: String,
        alg: String,
    },
}

impl SecurityEvent {
    /// The event's name, as stored in `security_event.kind` and in the JSON's `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::Confirmed => "confirmed",
            Self::LoginSucceeded { .. } => "login_succeeded",
            Self::LoginFailed { .. } => "login_failed",
            Self::SecondFactorFailed { .. } => "second_factor_failed",
            Self::LoggedOut => "logged_out",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::TwoFactorChanged { .. } => "two_factor_changed",
            Self::PasskeyAdded { .. } => "passkey_added",
            Self::PasskeyRemoved { .. } => "passkey_removed",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::EmailChanged => "email_changed",
            Self::UsernameChanged => "username_changed",
            Self::AccountDeactivated => "account_deactivated",
            Self::AccountActivated => "account_activated",
            Self::AccessReset => "access_reset",
            Self::SecondFactorsReset => "second_factors_reset",
            Self::TokenIssued { .. } => "token_issued",
            Self::TokenRevoked { .. } => "token_revoked",
            Self::IdentityLinked { .. } => "identity_linked",
            Self::IdentityUnlinked { .. } => "identity_unlinked",
            Self::OidcClientCreated { .. } => "oidc_client_created",
            Self::OidcClientSecretRotated { .. } => "oidc_client_secret_rotated",
            Self::OidcClientDeleted { .. } => "oidc_client_deleted",
            Self::SigningKeyRotated { .. } => "signing_key_rotated",
        }
    }

    /// The short detail stored beside the kind (`security_event.detail`): a method, a
    /// change, a passkey's name. Never a secret.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::LoginSucceeded {
                method,
                second_factor,
            } => Some(match second_factor {
                Some(second) => format!("{}+{second}", method.as_str()),
                None => method.as_str().to_owned(),
            }),
            Self::LoginFailed { method, reason } => Some(format!("{}:{reason}", method.as_str())),
            Self::SecondFactorFailed { method } => Some(method.clone()),
            Self::TwoFactorChanged { change, method } => Some(match method {
                Some(method) => format!("{}:{method}", change.as_str()),
                None => change.as_str().to_owned(),
            }),
            Self::PasskeyAdded { name, .. } | Self::PasskeyRemoved { name } => Some(name.clone()),
            Self::IdentityLinked { provider } | Self::IdentityUnlinked { provider } => {
                Some(provider.clone())
            }
            Self::OidcClientCreated { client_id }
            | Self::OidcClientSecretRotated { client_id }
            | Self::OidcClientDeleted { client_id } => Some(client_id.clone()),
            Self::SigningKeyRotated { kid, alg } => Some(format!("{alg}:{kid}")),
            Self::TokenIssued { kind, label } | Self::TokenRevoked { kind, label } => {
                Some(match label {
                    Some(label) => format!("{kind}:{label}"),
                    None => kind.clone(),
                })
            }
            _ => None,
        }
        .map(|d| d.chars().take(255).collect())
    }
}

/// What a stored event (`kind`, `detail`) says, in words for the activity lists
/// ("Signed in with a password and an authenticator code"), in `messages`' language.
pub fn describe(kind: &str, detail: Option<&str>, messages: &Messages) -> String {
    let detail = detail.unwrap_or("");
    let (before, after) = detail.split_once([':', '+']).unwrap_or((detail, ""));
    let t = |msgid: &str| messages.gettext(msgid).to_owned();
    let method = |m: &str| {
        t(match LoginMethod::from_str(m) {
            Some(LoginMethod::Password) => "a password",
            Some(LoginMethod::Code) => "a one-time code",
            Some(LoginMethod::Passkey) => "a passkey",
            Some(LoginMethod::UnifiedSignin) => "a password (unified sign-in)",
            Some(LoginMethod::Oauth) => "a social login",
            Some(LoginMethod::Confirm) => "the confirmation link",
            Some(LoginMethod::Reset) => "a password reset link",
            None => "an unknown method",
        })
    };
    let second = |s: &str| match s {
        "email" => t("a code by email"),
        "sms" => t("a code by text message"),
        "authenticator" => t("an authenticator code"),
        "webauthn" => t("a passkey"),
        "recovery_code" => t("a recovery code"),
        other => other.to_owned(),
    };
    let with = |msgid: &str, args: &[(&str, &str)]| messages.translate(msgid, args);
    match kind {
        "registered" => t("Account created"),
        "confirmed" => t("Email address confirmed"),
        "login_succeeded" if after.is_empty() => {
            with("Signed in with %(method)s", &[("method", &method(before))])
        }
        "login_succeeded" => with(
            "Signed in with %(method)s and %(second)s",
            &[("method", &method(before)), ("second", &second(after))],
        ),
        "login_failed" => with(
            "Failed sign-in with %(method)s",
            &[("method", &method(before))],
        ),
        "second_factor_failed" => with(
            "Failed second step of sign-in with %(second)s",
            &[("second", &second(before))],
        ),
        "logged_out" => t("Signed out"),
        "password_changed" => t("Password changed"),
        "password_reset" => t("Password reset by email link"),
        "two_factor_changed" => match before {
            "enabled" => with(
                "Two-factor sign-in turned on (%(method)s)",
                &[("method", &second(after))],
            ),
            "disabled" => t("Two-factor sign-in turned off"),
            _ => with(
                "Two-factor sign-in changed to %(method)s",
                &[("method", &second(after))],
            ),
        },
        "passkey_added" => with(
            "Passkey \u{201c}%(name)s\u{201d} added",
            &[("name", detail)],
        ),
        "passkey_removed" => with(
            "Passkey \u{201c}%(name)s\u{201d} removed",
            &[("name", detail)],
        ),
        "recovery_codes_regenerated" => t("New recovery codes generated"),
        "email_changed" => t("Email address changed"),
        "username_changed" => t("Username changed"),
        "account_deactivated" => t("Account deactivated"),
        "account_activated" => t("Account activated"),
        "access_reset" => t("Signed out everywhere by an administrator"),
        "second_factors_reset" => t("Second factors removed by an administrator"),
        "token_issued" => with("Token issued (%(kind)s)", &[("kind", before)]),
        "token_revoked" => with("Token revoked (%(kind)s)", &[("kind", before)]),
        "identity_linked" => with(
            "Social login \u{201c}%(name)s\u{201d} linked",
            &[("name", detail)],
        ),
        "identity_unlinked" => with(
            "Social login \u{201c}%(name)s\u{201d} unlinked",
            &[("name", detail)],
        ),
        "oidc_client_created" => with(
            "Client %(id)s registered for sign-in with Latchkey",
            &[("id", detail)],
        ),
        "oidc_client_secret_rotated" => with("Client %(id)s given a new secret", &[("id", detail)]),
        "oidc_client_deleted" => with("Client %(id)s deleted", &[("id", detail)]),
        "signing_key_rotated" => with("Signing key rotated (%(key)s)", &[("key", detail)]),
        other => other.replace('_', " "),
    }
}

/// A stored event as the activity lists show it.
#[derive(Debug, Clone, Serialize)]
pub struct ActivityView {
    /// "2026-11-30 07:18:34 UTC".
    pub time: String,
    /// The same as ISO 8601 ("2026-11-30T07:18:34Z"), for `<time datetime>`.
    pub datetime: String,
    pub kind: String,
    /// In words ("Signed in with a password").
    pub what: String,
    /// The approximate client ("Firefox on Linux").
    pub client: String,
    pub ip: Option<String>,
    /// A refused sign-in (shown as a warning).
    pub failure: bool,
    pub user_id: Option<i32>,
    /// The account's email (only in the list across users).
    pub email: Option<String>,
}

impl ActivityView {
    pub fn of(row: &SecurityEventRow, email: Option<String>, messages: &Messages) -> Self {
        Self {
            time: crate::times::readable_utc(row.created_at),
            datetime: crate::times::iso_utc(row.created_at),
            kind: row.kind.clone(),
            what: describe(&row.kind, row.detail.as_deref(), messages),
            client: super::device::describe_in(row.user_agent.as_deref(), messages),
            ip: row.ip.clone(),
            failure: matches!(row.kind.as_str(), "login_failed" | "second_factor_failed"),
            user_id: row.user_id,
            email,
        }
    }
}

/// The newest `limit` stored events of one user ("Recent security activity").
pub async fn recent_for_user(
    db: &Db,
    user_id: i32,
    limit: i64,
    messages: &Messages,
) -> Result<Vec<ActivityView>, crate::db::DbError> {
    let rows = db
        .run(move |conn| crate::db::events::recent_for_user(conn, user_id, limit))
        .await?;
    Ok(rows
        .iter()
        .map(|row| ActivityView::of(row, None, messages))
        .collect())
}

/// The newest `limit` stored events across users, with their accounts' emails (`/admin`).
pub async fn recent(
    db: &Db,
    limit: i64,
    messages: &Messages,
) -> Result<Vec<ActivityView>, crate::db::DbError> {
    let rows = db
        .run(move |conn| crate::db::events::recent(conn, limit))
        .await?;
    Ok(rows
        .into_iter()
        .map(|(row, email)| ActivityView::of(&row, email, messages))
        .collect())
}

/// One emitted event with its circumstances.
#[derive(Debug, Clone, Serialize)]
pub struct EventRecord {
    #[serde(flatten)]
    pub event: SecurityEvent,
    /// The account concerned, when known.
    pub user_id: Option<i32>,
    /// When it was emitted (UTC).
    pub at: DateTime<Utc>,
    /// The client address of the request that caused it (as the throttle and logs see
    /// it: `TRUSTED_PROXY_COUNT` applies), `None` outside a request.
    pub ip: Option<String>,
    /// That request's `User-Agent` (at most 255 characters).
    pub user_agent: Option<String>,
}

impl EventRecord {
    /// The approximate client, from the user agent ("Firefox on Linux").
    pub fn client(&self) -> String {
        super::device::describe(self.user_agent.as_deref())
    }
}

/// Receives every event, on the dispatcher thread, in emission order. Keep `handle` short:
/// while it runs, the events after it wait (and, past the queue's bound, are dropped). A
/// subscriber with slow work (a network call) hands the record to a thread or task of its
/// own, as `examples/webhook.rs` does.
pub trait EventSubscriber: Send + Sync + 'static {
    fn handle(&self, record: &EventRecord);

    /// Its name in log lines (a panic, say).
    fn name(&self) -> &str {
        std::any::type_name::<Self>()
    }
}

impl<F> EventSubscriber for F
where
    F: Fn(&EventRecord) + Send + Sync + 'static,
{
    fn handle(&self, record: &EventRecord) {
        self(record)
    }
}

type Subscribers = Arc<RwLock<Vec<Arc<dyn EventSubscriber>>>>;

enum Envelope {
    Record(Box<EventRecord>),
    /// Answered once everything queued before it has been delivered.
    Flush(mpsc::Sender<()>),
}

/// The event bus: emit, subscribe, and what was dropped. Cheap to clone; the dispatcher
/// thread ends when the last clone is dropped.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    sender: SyncSender<Envelope>,
    subscribers: Subscribers,
    dropped: AtomicU64,
    capacity: usize,
}

const MAX_USER_AGENT: usize = 255;

impl Events {
    /// A bus whose queue holds `capacity` records (at least 1), with its dispatcher thread
    /// started and no subscriber.
    pub fn start(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        let (sender, receiver) = mpsc::sync_channel(capacity);
        let subscribers: Subscribers = Arc::default();
        let theirs = Arc::clone(&subscribers);
        let spawned = std::thread::Builder::new()
            .name("latchkey-events".to_owned())
            .spawn(move || dispatch(receiver, theirs));
        if let Err(e) = spawned {
            // Without a dispatcher every emit finds the queue full: counted and logged.
            tracing::error!(error = %e, "cannot start the security event dispatcher");
        }
        Self {
            inner: Arc::new(Inner {
                sender,
                subscribers,
                dropped: AtomicU64::new(0),
                capacity,
            }),
        }
    }

    /// Adds a subscriber: it receives every event emitted from now on.
    pub fn subscribe(&self, subscriber: Arc<dyn EventSubscriber>) {
        crate::sync::write(&self.inner.subscribers).push(subscriber);
    }

    /// Emits `event` about `user_id`, caused by a request from `client` (use
    /// `ClientInfo::default()` outside a request). Never blocks: a full queue drops it.
    pub fn emit(&self, event: SecurityEvent, user_id: Option<i32>, client: &ClientInfo) {
        let record = EventRecord {
            event,
            user_id,
            at: db::now().and_utc(),
            ip: client.ip.clone(),
            user_agent: client
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        };
        self.emit_record(record);
    }

    /// Queues a record made elsewhere (its time and client as given).
    pub fn emit_record(&self, record: EventRecord) {
        let kind = record.event.kind();
        match self
            .inner
            .sender
            .try_send(Envelope::Record(Box::new(record)))
        {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let dropped = self.inner.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                if dropped == 1 || dropped.is_multiple_of(100) {
                    tracing::warn!(
                        event = "security_event_dropped",
                        kind,
                        dropped_total = dropped,
                        queue = self.inner.capacity,
                        "security event queue full: event dropped (a subscriber is slow)"
                    );
                }
            }
        }
    }

    /// How many events were dropped because the queue was full, since start-up.
    pub fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// The queue's bound (`SECURITY_EVENT_QUEUE`).
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Waits (up to `timeout`) until every event emitted before the call has been handed to
    /// every subscriber; returns whether that happened in time. For shutdown and tests:
    /// never call it on a request path.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (done, wait) = mpsc::channel();
        let mut envelope = Envelope::Flush(done);
        loop {
            match self.inner.sender.try_send(envelope) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) if Instant::now() < deadline => {
                    envelope = back;
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(_) => return false,
            }
        }
        wait.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events")
            .field("capacity", &self.inner.capacity)
            .field("dropped", &self.dropped())
            .finish_non_exhaustive()
    }
}

/// The dispatcher: every record to every subscriber, in order, each call guarded.
fn dispatch(receiver: Receiver<Envelope>, subscribers: Subscribers) {
    for envelope in receiver {
        match envelope {
            Envelope::Record(record) => {
                let current: Vec<Arc<dyn EventSubscriber>> =
                    crate::sync::read(&subscribers).clone();
                for subscriber in current {
                    let delivered = catch_unwind(AssertUnwindSafe(|| subscriber.handle(&record)));
                    if delivered.is_err() {
                        tracing::error!(
                            event = "security_event_subscriber_panicked",
                            subscriber = subscriber.name(),
                            kind = record.event.kind(),
                            "a security event subscriber panicked; it keeps receiving events"
                        );
                    }
                }
            }
            Envelope::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// The built-in subscriber: writes each event to `security_event`, and prunes rows older
/// than `SECURITY_EVENT_RETENTION` about once an hour.
pub struct EventLog {
    db: Db,
    retention: Duration,
    last_prune: Mutex<Option<Instant>>,
}

const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl EventLog {
    pub fn new(db: Db, retention: Duration) -> Self {
        Self {
            db,
            retention,
            last_prune: Mutex::new(None),
        }
    }

    fn prune_due(&self) -> bool {
        let mut last = crate::sync::lock(&self.last_prune);
        let due = last.is_none_or(|at| at.elapsed() >= PRUNE_EVERY);
        if due {
            *last = Some(Instant::now());
        }
        due
    }
}

impl EventSubscriber for EventLog {
    fn handle(&self, record: &EventRecord) {
        let row = NewSecurityEvent {
            user_id: record.user_id,
            kind: record.event.kind().to_owned(),
            detail: record.event.detail(),
            ip: record.ip.clone(),
            user_agent: record.user_agent.clone(),
            created_at: record.at.naive_utc(),
        };
        let prune = self.prune_due();
        let retention =
            chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::days(90));
        let result = self.db.get().and_then(|mut conn| {
            crate::db::events::insert(&mut conn, &row)?;
            if prune {
                crate::db::events::prune(&mut conn, db::now() - retention)?;
            }
            Ok(())
        });
        if let Err(e) = result {
            tracing::warn!(
                event = "security_event_not_stored",
                kind = row.kind,
                error = %e,
                "a security event could not be stored"
            );
        }
    }

    fn name(&self) -> &str {
        "security_event table"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn client() -> ClientInfo {
        ClientInfo {
            ip: Some("192.0.2.7".to_owned()),
            user_agent: Some("x".repeat(400)),
        }
    }

    #[test]
    fn subscribers_see_events_in_emission_order_and_survive_a_panic() {
        let events = Events::start(64);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let theirs = Arc::clone(&seen);
        events.subscribe(Arc::new(|record: &EventRecord| {
            if record.event == SecurityEvent::LoggedOut {
                panic!("a subscriber's bug");
            }
        }));
        events.subscribe(Arc::new(move |record: &EventRecord| {
            crate::sync::lock(&theirs).push(record.user_id);
        }));
        for id in 0..10 {
            events.emit(SecurityEvent::LoggedOut, Some(id), &client());
        }
        assert!(events.flush(Duration::from_secs(5)));
        assert_eq!(
            *crate::sync::lock(&seen),
            (0..10).map(Some).collect::<Vec<_>>()
        );
        assert_eq!(events.dropped(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let events = Events::start(2);
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let handled = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&handled);
        events.subscribe(Arc::new(move |_: &EventRecord| {
            let _ = crate::sync::lock(&wait).recv_timeout(Duration::from_secs(5));
            count.fetch_add(1, Ordering::SeqCst);
        }));
        let started = Instant::now();
        for _ in 0..50 {
            events.emit(SecurityEvent::Registered, Some(1), &client());
        }
        assert!(started.elapsed() < Duration::from_secs(1), "emit blocked");
        // One record is with the stuck subscriber, two wait: the rest were dropped.
        assert!(events.dropped() >= 47, "dropped {}", events.dropped());
        for _ in 0..50 {
            let _ = release.send(());
        }
        assert!(events.flush(Duration::from_secs(5)));
        assert_eq!(handled.load(Ordering::SeqCst) as u64 + events.dropped(), 50);
    }

    #[test]
    fn records_keep_no_more_than_255_characters_of_user_agent_and_serialise_with_a_type() {
        let events = Events::start(4);
        let kept = Arc::new(Mutex::new(None));
        let theirs = Arc::clone(&kept);
        events.subscribe(Arc::new(move |record: &EventRecord| {
            *crate::sync::lock(&theirs) = Some(record.clone());
        }));
        events.emit(
            SecurityEvent::LoginSucceeded {
                method: LoginMethod::Password,
                second_factor: Some("authenticator".to_owned()),
            },
            Some(3),
            &client(),
        );
        assert!(events.flush(Duration::from_secs(5)));
        let record = crate::sync::lock(&kept).clone().expect("delivered");
        assert_eq!(record.user_agent.as_deref().map(str::len), Some(255));
        let json = serde_json::to_value(&record).expect("json");
        assert_eq!(json["type"], "login_succeeded");
        assert_eq!(json["method"], "password");
        assert_eq!(json["second_factor"], "authenticator");
        assert_eq!(json["user_id"], 3);
        assert_eq!(json["ip"], "192.0.2.7");
        assert_eq!(
            describe(
                record.event.kind(),
                record.event.detail().as_deref(),
                &Messages::default()
            ),
            "Signed in with a password and an authenticator code"
        );
        let german = crate::messages::Messages::default()
            .in_language(&crate::messages::Lang::parse("de").expect("de"));
        assert_eq!(
            describe(
                record.event.kind(),
                record.event.detail().as_deref(),
                &german
            ),
            "Angemeldet mit einem Passwort und einem Authenticator-Code"
        );
    }

    #[test]
    fn the_identity_providers_events_are_worded_in_the_readers_language() {
        let event = SecurityEvent::OidcClientCreated {
            client_id: "grafana-1".into(),
        };
        let detail = event.detail();
        assert_eq!(
            describe(event.kind(), detail.as_deref(), &Messages::default()),
            "Client grafana-1 registered for sign-in with Latchkey"
        );
        let french =
            Messages::default().in_language(&crate::messages::Lang::parse("fr").expect("fr"));
        let key = SecurityEvent::SigningKeyRotated {
            kid: "k1".into(),
            alg: "RS256".into(),
        };
        assert_eq!(
            describe(key.kind(), key.detail().as_deref(), &french),
            "Clé de signature renouvelée (RS256:k1)"
        );
    }
}
