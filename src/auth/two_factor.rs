//! Two-factor sign-in (`SECURITY_TWO_FACTOR`) and recovery codes
//! (`SECURITY_MULTI_FACTOR_RECOVERY_CODES`), the rules. Flask-Security's columns and formats,
//! stricter where it is weak:
//!
//! * an authenticator code is accepted once: its time step is recorded (`otp_used`, whose
//!   primary key refuses a second use on every instance);
//! * mailed and texted codes are random and single-use (kept as a digest in the pending
//!   login, gone with it), not a TOTP of the secret;
//! * every code, and every recovery code, is counted before it is checked against the
//!   account's second-factor budget ([`super::throttle`]'s rule 5): per account, from any
//!   address, and only a completed sign-in clears it;
//! * recovery codes are stored as keyed digests (with the time they were made, for
//!   `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL`); Flask's clear ones, and its encrypted ones
//!   (with `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`), work once and are hashed at first
//!   use; one code used from two requests at once succeeds at most once (a compare-and-swap
//!   on the column).

use super::events::{SecurityEvent, TwoFactorChange};
use super::lifecycle;
use super::login::ClientInfo;
use super::notices::{self, Notice};
use std::time::Duration;

use diesel::prelude::*;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::authenticate::{self, Attempt};
use super::error::ServiceError;
use super::sending::{self, Allowance, Destination};
use super::services::Services;
use super::throttle;
use super::totp::{self, TotpSecret};
use crate::config::{self, TwoFactorMethod};
use crate::crypto::{constant_time_eq, derive_key, keyed_digest};
use crate::db::models::User;
use crate::db::schema::{otp_used, user};
use crate::db::{self, roles, users, DbConnection, DbError};
use crate::mail;
use crate::messages::{self, Msg};

/// The second factor `user` has set up, if any (`tf_primary_method`). A method this build
/// does not know is still a second factor: refusing it is safer than ignoring it.
pub fn primary_method(user: &User) -> Option<Result<TwoFactorMethod, String>> {
    let stored = user.tf_primary_method.as_deref()?.trim();
    if stored.is_empty() {
        return None;
    }
    Some(TwoFactorMethod::parse(stored).ok_or_else(|| stored.to_owned()))
}

/// Whether `user` has to set up a second factor before logging in: everyone does under
/// `SECURITY_TWO_FACTOR_REQUIRED`, holders of `SECURITY_TWO_FACTOR_REQUIRED_ROLES` do.
pub async fn setup_required(services: &Services, user: &User) -> Result<bool, ServiceError> {
    let settings = &services.settings.two_factor;
    if !settings.enabled || primary_method(user).is_some() {
        return Ok(false);
    }
    if settings.required {
        return Ok(true);
    }
    if settings.required_roles.is_empty() {
        return Ok(false);
    }
    let id = user.id;
    let held = services
        .db
        .run(move |conn| roles::names_for_user(conn, id))
        .await?;
    Ok(held.iter().any(|r| settings.required_roles.contains(r)))
}

/// A code sent by mail or text message: its keyed digest and when it went out. It lives in
/// the pending login (or setup) it was sent for, so it is used at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    digest: String,
    sent_at: i64,
}

impl SentCode {
    fn new(services: &Services, code: &str, now: i64) -> Self {
        Self {
            digest: code_digest(services, code),
            sent_at: now,
        }
    }

    fn matches(&self, services: &Services, code: &str, now: i64, validity: Duration) -> bool {
        let fresh = now >= self.sent_at && ((now - self.sent_at) as u64) < validity.as_secs();
        fresh
            && constant_time_eq(
                &code_digest(services, &totp::normalize_code(code)),
                &self.digest,
            )
    }
}

impl SentCode {
    /// Uses this code up in the database (`otp_used`, purpose `sent`): true the first time,
    /// false for every later presentation, whatever copy of the session cookie carries it,
    /// on whichever instance.
    pub async fn consume(&self, services: &Services, user_id: i32) -> Result<bool, ServiceError> {
        // The code's keyed digest and the time it went out name it.
        let name = format!("{}:{}", self.digest, self.sent_at);
        record_once(services, user_id, "sent", &name).await
    }
}

fn code_digest(services: &Services, code: &str) -> String {
    keyed_digest(
        &derive_key(&services.settings.secret_key, "two-factor-code"),
        code,
    )
}

/// Six random digits.
fn random_code() -> String {
    format!("{:06}", rand::thread_rng().gen_range(0..1_000_000))
}

/// Where a code for `method` goes (`None`: the authenticator, whose codes come from the
/// app). A text is to a verified number when it is the account's stored one.
fn destination(user: &User, stored: &User, method: TwoFactorMethod) -> Option<Destination> {
    match method {
        TwoFactorMethod::Authenticator => None,
        TwoFactorMethod::Email => Some(Destination::Mail(user.email_or_empty().to_owned())),
        TwoFactorMethod::Sms => {
            let number = user.tf_phone_number.clone().unwrap_or_default();
            let verified = stored.tf_primary_method.as_deref() == Some("sms")
                && stored.tf_phone_number.as_deref() == Some(number.as_str());
            Some(Destination::Text { number, verified })
        }
    }
}

/// Sends a fresh code for `method` to `user` (mail or text message) if the sending budget
/// allows it ([`super::sending`]), from `client`; `None` for the authenticator, whose codes
/// come from the app, and when the budget is spent (nothing sent: the caller answers as
/// usual).
pub async fn send_code(
    services: &Services,
    user: &User,
    method: TwoFactorMethod,
    now: i64,
    client: &str,
) -> Result<Option<SentCode>, ServiceError> {
    let Some(to) = destination(user, user, method) else {
        return Ok(None);
    };
    match sending::reserve(services, user.id, to, client).await? {
        Allowance::Send => deliver_code(services, user, method, now).await,
        Allowance::Withheld { .. } => Ok(None),
    }
}

/// Sends the code, budget already spent.
async fn deliver_code(
    services: &Services,
    user: &User,
    method: TwoFactorMethod,
    now: i64,
) -> Result<Option<SentCode>, ServiceError> {
    let code = random_code();
    let validity = match method {
        TwoFactorMethod::Authenticator => return Ok(None),
        TwoFactorMethod::Email => services.settings.two_factor.mail_validity,
        TwoFactorMethod::Sms => services.settings.two_factor.sms_validity,
    };
    match method {
        TwoFactorMethod::Email => {
            let message =
                services
                    .mailer()
                    .two_factor_code(user.email_or_empty(), &code, validity)?;
            let key = services.outbox_key.clone();
            services
                .db
                .run(move |conn| mail::enqueue(conn, &key, &message))
                .await?;
        }
        TwoFactorMethod::Sms => {
            let to = user.tf_phone_number.clone().unwrap_or_default();
            services.sms.send(&to, &sms_text(&code, validity));
        }
        TwoFactorMethod::Authenticator => {}
    }
    Ok(Some(SentCode::new(services, &code, now)))
}

fn sms_text(code: &str, validity: Duration) -> String {
    format!(
        "Your code is {code}. It expires in {}.",
        messages::describe_period(validity)
    )
}

/// What proved a pending login's code: its second factor, or a code mailed through the
/// rescue ("I cannot use my second factor"), which is not the second factor itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    SecondFactor,
    Rescue,
}

/// Checks `code` for a pending login of `user` whose second factor is `method` (`sent`: the
/// code mailed or texted for it; `rescue`: a code mailed through "I cannot use my second
/// factor"), as one attempt through the login throttle. An authenticator code is accepted
/// once.
pub async fn check_code(
    services: &Services,
    user: &User,
    method: Option<TwoFactorMethod>,
    sent: Option<&SentCode>,
    rescue: Option<&SentCode>,
    code: &str,
    client: &str,
) -> Result<Attempt<Via>, ServiceError> {
    let now = unix_now();
    let settings = &services.settings.two_factor;
    let rescued = std::cell::Cell::new(false);
    let check = async {
        if let Some(rescue) =
            rescue.filter(|r| r.matches(services, code, now, settings.mail_validity))
        {
            rescued.set(true);
            return rescue.consume(services, user.id).await;
        }
        Ok(match method {
            Some(TwoFactorMethod::Authenticator) => {
                let Some(secret) = stored_secret(services, user)? else {
                    return Ok(false);
                };
                let validity = settings.authenticator_validity;
                match totp::matching_step(
                    &secret,
                    &totp::normalize_code(code),
                    now as u64,
                    validity,
                ) {
                    Some(step) => record_step(services, user.id, "tf", step).await?,
                    None => false,
                }
            }
            Some(TwoFactorMethod::Email) => match sent {
                Some(s) if s.matches(services, code, now, settings.mail_validity) => {
                    s.consume(services, user.id).await?
                }
                _ => false,
            },
            Some(TwoFactorMethod::Sms) => match sent {
                Some(s) if s.matches(services, code, now, settings.sms_validity) => {
                    s.consume(services, user.id).await?
                }
                _ => false,
            },
            None => false,
        })
    };
    let checked = settle(services, user, client, check).await?;
    if checked == Attempt::Proved(()) && !rescued.get() {
        // An authenticator or a phone proved after an email change: the old mailbox loses
        // its "this wasn't me" link.
        if let Some(method) = method {
            let (user, method) = (user.clone(), method.as_str());
            services
                .db
                .run(move |conn| lifecycle::second_factor_proved(conn, &user, method))
                .await?;
        }
    }
    Ok(checked.map(|()| match rescued.get() {
        true => Via::Rescue,
        false => Via::SecondFactor,
    }))
}

/// Mails a rescue code to `user`'s address (their second factor is out of reach), within
/// the sending budget (`None`: nothing sent).
pub async fn send_rescue_code(
    services: &Services,
    user: &User,
    client: &str,
) -> Result<Option<SentCode>, ServiceError> {
    send_code(services, user, TwoFactorMethod::Email, unix_now(), client).await
}

/// Mails the site's support address (`SECURITY_TWO_FACTOR_RESCUE_MAIL`, else the sender)
/// that `user` cannot sign in, within the sending budget (false: nothing sent).
pub async fn ask_support(
    services: &Services,
    user: &User,
    client: &str,
) -> Result<bool, ServiceError> {
    if let Allowance::Withheld { .. } =
        sending::reserve(services, user.id, Destination::Support, client).await?
    {
        return Ok(false);
    }
    let settings = &services.settings;
    let support = settings
        .two_factor
        .rescue_mail
        .clone()
        .unwrap_or_else(|| settings.mail.default_sender.clone());
    let message = services
        .mailer()
        .two_factor_rescue(&support, user.email_or_empty())?;
    let key = services.outbox_key.clone();
    services
        .db
        .run(move |conn| mail::enqueue(conn, &key, &message))
        .await?;
    Ok(true)
}

/// Counts a second-factor check of `user` against the account's second-factor budget (the
/// throttle's rule 5: per account, across addresses, never cleared by the password) and
/// settles it.
pub async fn settle<F>(
    services: &Services,
    user: &User,
    client: &str,
    check: F,
) -> Result<Attempt, ServiceError>
where
    F: std::future::Future<Output = Result<bool, ServiceError>>,
{
    let budget = throttle::Budget::SecondFactor(user.id);
    authenticate::settle(services, budget, client, check).await
}

/// Records that the thing called `name` (a sent code, a pending login) of `user` was used
/// for `purpose`, as an `otp_used` step derived from a digest of the name; false if it
/// already was.
pub async fn record_once(
    services: &Services,
    user_id: i32,
    purpose: &'static str,
    name: &str,
) -> Result<bool, ServiceError> {
    let digest = crate::crypto::digest(name);
    let step = u64::from_str_radix(digest.get(..15).unwrap_or("0"), 16).unwrap_or(0);
    record_step(services, user_id, purpose, step).await
}

/// Records that `step` of `user`'s codes for `purpose` was used; false if it already was.
pub async fn record_step(
    services: &Services,
    user_id: i32,
    purpose: &'static str,
    step: u64,
) -> Result<bool, ServiceError> {
    let step = i64::try_from(step).unwrap_or(i64::MAX);
    let inserted = services
        .db
        .run(move |conn| {
            let result = diesel::insert_into(otp_used::table)
                .values((
                    otp_used::user_id.eq(user_id),
                    otp_used::purpose.eq(purpose),
                    otp_used::step.eq(step),
                    otp_used::used_at.eq(db::now()),
                ))
                .execute(conn);
            match result {
                Ok(_) => Ok(true),
                Err(diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                )) => Ok(false),
                Err(e) => Err(DbError::from(e)),
            }
        })
        .await?;
    Ok(inserted)
}

/// The user's TOTP secret, decrypted with `SECURITY_TOTP_SECRETS`.
fn stored_secret(services: &Services, user: &User) -> Result<Option<TotpSecret>, ServiceError> {
    let (Some(stored), Some(keys)) = (user.tf_totp_secret.as_deref(), services.totp_keys()) else {
        return Ok(None);
    };
    match keys.decrypt(stored) {
        Ok(secret) => Ok(Some(secret)),
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "stored TOTP secret cannot be read");
            Ok(None)
        }
    }
}

/// A setup started and waiting for its first code: the new secret (and the code sent, for
/// email and text), kept in the browser's encrypted session under a random token that the
/// form posts back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSetup {
    pub token: String,
    pub user_id: i32,
    pub method: String,
    /// The new TOTP secret, base32 (nothing is stored until the first code is right).
    secret: String,
    pub phone: Option<String>,
    sent: Option<SentCode>,
    started_at: i64,
}

/// What a started setup shows the user.
#[derive(Debug, Clone)]
pub struct SetupChallenge {
    pub pending: PendingSetup,
    /// For the authenticator: the key as Flask shows it, the otpauth URI and its QR code.
    pub authenticator: Option<AuthenticatorKey>,
}

#[derive(Debug, Clone)]
pub struct AuthenticatorKey {
    pub pretty: String,
    pub base32: String,
    pub uri: String,
    pub qr_svg: String,
    pub issuer: String,
    pub account: String,
}

/// What `POST /tf-setup` did.
pub enum SetupStep {
    /// Two-factor is off now (`setup=disable`).
    Disabled(Box<User>),
    /// A setup started: the challenge (kept by the caller until the first code), and where
    /// the code went (the email or phone; `None` for the authenticator).
    Started {
        /// Kept by the caller until the first code.
        challenge: Box<SetupChallenge>,
        /// The method being set up.
        method: TwoFactorMethod,
        /// Where the code went.
        sent_to: Option<String>,
    },
    /// Refused, with the field to blame and why.
    Refused {
        /// The form field at fault (`setup` or `phone`).
        field: &'static str,
        /// The message to show.
        message: Msg,
    },
}

/// `POST /tf-setup`: switches two-factor off (`choice` is `disable`, unless the setup is
/// `required` before a login goes on or none is set up), or starts setting up the method
/// `choice` names (a text needs a valid `phone`).
pub async fn setup_request(
    services: &Services,
    user: &User,
    required: bool,
    choice: &str,
    phone: Option<&str>,
    client: &str,
    origin: &ClientInfo,
) -> Result<SetupStep, ServiceError> {
    if choice == "disable" && !required && user.tf_primary_method.is_some() {
        let updated = disable(services, user, origin).await?;
        tracing::info!(
            event = "two_factor_disabled",
            user_id = updated.id,
            "two-factor switched off"
        );
        return Ok(SetupStep::Disabled(Box::new(updated)));
    }
    let method =
        TwoFactorMethod::parse(choice).filter(|m| services.settings.two_factor.methods.contains(m));
    let Some(method) = method else {
        let message = messages::TWO_FACTOR_METHOD_NOT_AVAILABLE;
        return Ok(SetupStep::Refused {
            field: "setup",
            message,
        });
    };
    let phone = match method {
        TwoFactorMethod::Sms => match phone.map(|raw| {
            crate::domain::phone::Phone::parse(raw, services.settings.sms.phone_region_default)
        }) {
            Some(Ok(phone)) => Some(phone.into_string()),
            _ => {
                let message = messages::PHONE_INVALID;
                return Ok(SetupStep::Refused {
                    field: "phone",
                    message,
                });
            }
        },
        _ => None,
    };
    let challenge = begin_setup(services, user, method, phone.clone(), client).await?;
    let sent_to = match method {
        TwoFactorMethod::Email => user.email.clone(),
        TwoFactorMethod::Sms => phone,
        TwoFactorMethod::Authenticator => None,
    };
    Ok(SetupStep::Started {
        challenge: Box::new(challenge),
        method,
        sent_to,
    })
}

/// Starts setting up `method` for `user`: a new secret, and for email or text a code sent
/// at once.
///
/// The code spends the sending budget: past it, [`ServiceError::SendingLimited`] (the user
/// is signed in, or proved the password: a 429 tells them nothing new). A text to a number
/// the account has not verified has a strict budget of its own.
pub async fn begin_setup(
    services: &Services,
    user: &User,
    method: TwoFactorMethod,
    phone: Option<String>,
    client: &str,
) -> Result<SetupChallenge, ServiceError> {
    let now = unix_now();
    let secret = TotpSecret::generate();
    let mut target = user.clone();
    if let Some(phone) = &phone {
        target.tf_phone_number = Some(phone.clone());
    }
    if let Some(to) = destination(&target, user, method) {
        sending::reserve_or_refuse(services, user.id, to, client).await?;
    }
    let sent = deliver_code(services, &target, method, now).await?;
    let authenticator = (method == TwoFactorMethod::Authenticator)
        .then(|| authenticator_key(services, user, &secret));
    Ok(SetupChallenge {
        pending: PendingSetup {
            token: crate::crypto::random_token(24),
            user_id: user.id,
            method: method.as_str().to_owned(),
            secret: secret.base32(),
            phone,
            sent,
            started_at: now,
        },
        authenticator,
    })
}

impl PendingSetup {
    /// Whether a form posted to `/tf-setup/<token>` by `user` continues this setup.
    pub fn is_for(&self, token: &str, user: &User) -> bool {
        constant_time_eq(&self.token, token) && self.user_id == user.id
    }

    /// The authenticator key to show again (a form sent back with a wrong code).
    pub fn authenticator(&self, services: &Services, user: &User) -> Option<AuthenticatorKey> {
        if self.method != TwoFactorMethod::Authenticator.as_str() {
            return None;
        }
        let secret = TotpSecret::from_base32(&self.secret).ok()?;
        Some(authenticator_key(services, user, &secret))
    }
}

/// The authenticator app's setup values for `secret` (key, URI, QR code).
pub fn authenticator_key(
    services: &Services,
    user: &User,
    secret: &TotpSecret,
) -> AuthenticatorKey {
    let issuer = services.settings.two_factor.totp_issuer.clone();
    let account = user
        .email
        .clone()
        .or_else(|| user.username.clone())
        .unwrap_or_default();
    let uri = totp::otpauth_uri(secret, &issuer, &account);
    AuthenticatorKey {
        pretty: secret.pretty(),
        base32: secret.base32(),
        qr_svg: totp::qr_svg(&uri),
        uri,
        issuer,
        account,
    }
}

/// How finishing a setup ended.
#[derive(Debug, Clone)]
pub enum SetupOutcome {
    Done(Box<User>),
    WrongCode,
    Expired,
    Throttled { retry_after: Duration },
}

/// Finishes a setup with its first code: stores the method and the encrypted secret (and
/// the phone number) once the code is right. The secret is kept for email and text too, so
/// that an app moving back to Flask-Security (whose mailed codes are TOTPs) keeps working.
pub async fn finish_setup(
    services: &Services,
    user: &User,
    pending: &PendingSetup,
    code: &str,
    client: &str,
    origin: &ClientInfo,
) -> Result<SetupOutcome, ServiceError> {
    let now = unix_now();
    let settings = &services.settings.two_factor;
    if pending.user_id != user.id
        || now < pending.started_at
        || (now - pending.started_at) as u64 >= settings.setup_within.as_secs()
    {
        return Ok(SetupOutcome::Expired);
    }
    let Some(method) = TwoFactorMethod::parse(&pending.method) else {
        return Ok(SetupOutcome::Expired);
    };
    let Ok(secret) = TotpSecret::from_base32(&pending.secret) else {
        return Ok(SetupOutcome::Expired);
    };
    let check = async {
        Ok(match method {
            TwoFactorMethod::Authenticator => totp::matching_step(
                &secret,
                code.trim(),
                now as u64,
                settings.authenticator_validity,
            )
            .is_some(),
            TwoFactorMethod::Email | TwoFactorMethod::Sms => {
                let validity = match method {
                    TwoFactorMethod::Sms => settings.sms_validity,
                    _ => settings.mail_validity,
                };
                match pending.sent.as_ref() {
                    Some(s) if s.matches(services, code, now, validity) => {
                        s.consume(services, user.id).await?
                    }
                    _ => false,
                }
            }
        })
    };
    match settle(services, user, client, check).await? {
        Attempt::Proved(()) => {}
        Attempt::Refused(()) => return Ok(SetupOutcome::WrongCode),
        Attempt::Throttled { retry_after } => return Ok(SetupOutcome::Throttled { retry_after }),
    }
    let Some(keys) = services.totp_keys() else {
        return Err(ServiceError::Config(
            "SECURITY_TOTP_SECRETS is not set".to_owned(),
        ));
    };
    let encrypted = keys.encrypt(&secret);
    let (id, method, phone) = (user.id, method.as_str(), pending.phone.clone());
    let updated = services
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                diesel::update(user::table.find(id))
                    .set((
                        user::tf_primary_method.eq(Some(method)),
                        user::tf_totp_secret.eq(Some(encrypted)),
                        user::tf_phone_number.eq(phone),
                    ))
                    .execute(conn)?;
                let scope = lifecycle::Scope::user(id);
                lifecycle::apply(conn, lifecycle::Event::SecondFactorChange, &scope)?;
                found(conn, id)
            })
        })
        .await?;
    let change = match user.tf_primary_method {
        Some(_) => TwoFactorChange::MethodChanged,
        None => TwoFactorChange::Enabled,
    };
    let method = updated.tf_primary_method.clone();
    tell(services, &updated, change, method, origin).await;
    Ok(SetupOutcome::Done(Box::new(updated)))
}

/// After two-factor sign-in changed: the event, and the notice to the account's address.
async fn tell(
    services: &Services,
    user: &User,
    change: TwoFactorChange,
    method: Option<String>,
    client: &ClientInfo,
) {
    let event = SecurityEvent::TwoFactorChanged {
        change,
        method: method.clone(),
    };
    services.emit(event, Some(user.id), client);
    let notice = Notice::TwoFactor { change, method };
    notices::send(services, user, notice, client).await;
}

fn found(conn: &mut DbConnection, id: i32) -> Result<User, DbError> {
    users::find_by_id(conn, id)?.ok_or_else(|| DbError::from(diesel::result::Error::NotFound))
}

/// Switches two-factor off for `user` (method, secret and phone cleared).
pub async fn disable(
    services: &Services,
    user: &User,
    client: &ClientInfo,
) -> Result<User, ServiceError> {
    let id = user.id;
    let updated = services
        .db
        .run(move |conn| {
            // The change itself ends remembered browsers and pending logins (both are
            // bound to the second factor's secrets).
            conn.transaction(|conn| {
                lifecycle::clear_two_factor(conn, id)?;
                let scope = lifecycle::Scope::user(id);
                lifecycle::apply(conn, lifecycle::Event::SecondFactorChange, &scope)?;
                found(conn, id)
            })
        })
        .await?;
    tell(services, &updated, TwoFactorChange::Disabled, None, client).await;
    Ok(updated)
}

/// The operator's "I lost my phone" (`latchkey users tf-reset`): every second factor and
/// every recovery code of `user` removed.
pub async fn reset(
    services: &Services,
    user: &User,
    client: &super::login::ClientInfo,
) -> Result<User, ServiceError> {
    let id = user.id;
    let updated = services
        .db
        .run(move |conn| {
            // Every second factor and recovery code, and second-factor passkeys
            // (first-factor ones stay).
            conn.transaction(|conn| {
                let scope = lifecycle::Scope::user(id);
                lifecycle::apply(conn, lifecycle::Event::TfReset, &scope)?;
                found(conn, id)
            })
        })
        .await?;
    let event = super::events::SecurityEvent::SecondFactorsReset;
    services.emit(event, Some(id), client);
    Ok(updated)
}

/// A server must not start with second factors it would not ask for: users who set one up
/// would log in with the password alone. Refused while `SECURITY_TWO_FACTOR` is off and
/// any user has a `tf_primary_method`, or while `SECURITY_WEBAUTHN` is off and any user has
/// a second-factor passkey, unless `SECURITY_ALLOW_SECOND_FACTORS_UNUSED` says it is meant. (The CLI does not check: `latchkey users tf-reset` is how to clear them.)
pub fn check_no_unused_second_factors(
    services: &Services,
) -> Result<(), crate::config::ConfigError> {
    use crate::config::ConfigError;
    let settings = &services.settings;
    let tf = &settings.two_factor;
    if tf.allow_unused_second_factors {
        return Ok(());
    }
    let db_error = |e: &dyn std::fmt::Display| ConfigError::new("DATABASE_URL", e.to_string());
    let mut conn = services.db.get().map_err(|e| db_error(&e))?;
    if !tf.enabled {
        let with_second_factor: i64 = user::table
            .filter(user::tf_primary_method.is_not_null())
            .filter(user::tf_primary_method.ne(""))
            .count()
            .get_result(&mut **conn)
            .map_err(|e| db_error(&e))?;
        if with_second_factor > 0 {
            return Err(ConfigError::new(
                "SECURITY_TWO_FACTOR",
                format!(
                    "is off, but {with_second_factor} user(s) have a second factor set up: \
                     they would log in with the password alone. Turn SECURITY_TWO_FACTOR on, \
                     clear their second factors with `latchkey users tf-reset EMAIL`, or set \
                     SECURITY_ALLOW_SECOND_FACTORS_UNUSED=true (dangerous)"
                ),
            ));
        }
    }
    if !settings.webauthn.enabled {
        let with_passkey = crate::db::passkeys::users_with_usage(&mut conn, "secondary")
            .map_err(|e| db_error(&e))?;
        if with_passkey > 0 {
            return Err(ConfigError::new(
                "SECURITY_WEBAUTHN",
                format!(
                    "is off, but {with_passkey} user(s) have a passkey as their second \
                     factor: they would log in with the password alone. Turn SECURITY_WEBAUTHN \
                     on, clear their second factors with `latchkey users tf-reset EMAIL`, or \
                     set SECURITY_ALLOW_SECOND_FACTORS_UNUSED=true (dangerous)"
                ),
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Recovery codes
// ---------------------------------------------------------------------------------------

/// What marks a stored recovery code as a digest without a date: Flask's clear codes
/// (`xxxx-xxxx-xxxx`) once hashed, and Latchkey's codes made before codes were dated.
const DIGEST_PREFIX: &str = "lk1$";
/// A dated digest, `lk2$<made, unix seconds>$<digest of made and code>`: the codes Latchkey
/// makes, and Flask's encrypted ones once hashed (with their token's time), so that
/// `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL` applies to them as to a Fernet token.
const DATED_PREFIX: &str = "lk2$";

fn recovery_digest(services: &Services, code: &str) -> String {
    let key = derive_key(&services.settings.secret_key, "recovery-code");
    format!(
        "{DIGEST_PREFIX}{}",
        keyed_digest(&key, &code.trim().to_ascii_lowercase())
    )
}

fn dated_digest(services: &Services, code: &str, made: u64) -> String {
    let key = derive_key(&services.settings.secret_key, "recovery-code");
    let code = code.trim().to_ascii_lowercase();
    format!(
        "{DATED_PREFIX}{made}${}",
        keyed_digest(&key, &format!("{made}|{code}"))
    )
}

/// The time a dated digest records, if `stored` is one.
fn dated_made(stored: &str) -> Option<u64> {
    let (made, _) = stored.strip_prefix(DATED_PREFIX)?.split_once('$')?;
    made.parse().ok()
}

/// `n` codes in Flask-Security's shape: three groups of four hex digits.
fn new_recovery_codes(n: u32) -> Vec<String> {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| {
            let groups: Vec<String> = (0..3)
                .map(|_| format!("{:04x}", rng.gen::<u16>()))
                .collect();
            groups.join("-")
        })
        .collect()
}

/// Recovery codes just made, kept in the browser's session to be shown again: bound to the
/// account (and its uniquifier) that made them, so another account logging in over the same
/// session, or the same one after its access was reset, never sees them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShownCodes {
    user_id: i32,
    binding: String,
    codes: Vec<String>,
}

impl ShownCodes {
    pub fn new(user: &User, codes: &[String]) -> Self {
        Self {
            user_id: user.id,
            binding: shown_binding(user),
            codes: codes.to_vec(),
        }
    }

    /// The codes, if `user` is the account that made them.
    pub fn for_user(self, user: &User) -> Option<Vec<String>> {
        (self.user_id == user.id && constant_time_eq(&self.binding, &shown_binding(user)))
            .then_some(self.codes)
    }
}

fn shown_binding(user: &User) -> String {
    crate::crypto::digest(&format!("shown-codes:{}", user.fs_uniquifier))
}

/// How many recovery codes `user` has left that would still work: not a Flask-Security
/// token no configured key opens, nor one (or its dated digest) past
/// `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL`.
pub fn recovery_codes_left(services: &Services, user: &User) -> usize {
    let rules = CodeRules::new(services);
    let now = u64::try_from(unix_now()).unwrap_or_default();
    stored_codes(user)
        .iter()
        .filter(|stored| rules.usable(stored, now))
        .count()
}

fn stored_codes(user: &User) -> Vec<String> {
    user.mf_recovery_codes
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// New recovery codes for `user`, replacing any old ones; returned in clear once, stored
/// only as dated digests (never encrypted, even with
/// `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`: a digest cannot be read back by anyone).
pub async fn replace_recovery_codes(
    services: &Services,
    user: &User,
    client: &ClientInfo,
) -> Result<Vec<String>, ServiceError> {
    let codes = new_recovery_codes(services.settings.two_factor.recovery_codes_n);
    let made = u64::try_from(unix_now()).unwrap_or(0);
    let stored = codes
        .iter()
        .map(|c| dated_digest(services, c, made))
        .collect::<Vec<_>>()
        .join(",");
    let id = user.id;
    services
        .db
        .run(move |conn| {
            diesel::update(user::table.find(id))
                .set(user::mf_recovery_codes.eq(Some(stored)))
                .execute(conn)?;
            Ok(())
        })
        .await?;
    tracing::info!(
        event = "recovery_codes_generated",
        user_id = user.id,
        "recovery codes replaced"
    );
    services.emit(
        SecurityEvent::RecoveryCodesRegenerated,
        Some(user.id),
        client,
    );
    notices::send(services, user, Notice::RecoveryCodes, client).await;
    Ok(codes)
}

/// Uses one recovery code of `user` instead of the second factor, through the login
/// throttle. The code is removed with a compare-and-swap on the column, so two requests
/// using it at once succeed at most once; Flask's clear and encrypted codes are hashed on
/// the way.
pub async fn use_recovery_code(
    services: &Services,
    user: &User,
    code: &str,
    client: &str,
) -> Result<Attempt, ServiceError> {
    let typed = code.trim().to_ascii_lowercase();
    let check = async {
        if typed.is_empty() || typed.len() > 64 {
            return Ok(false);
        }
        let digest = recovery_digest(services, &typed);
        let services = services.clone();
        let id = user.id;
        Ok(services
            .db
            .clone()
            .run(move |conn| {
                let rules = CodeRules::new(&services);
                let now = u64::try_from(unix_now()).unwrap_or(0);
                // Read, remove, write back only if nobody changed it meanwhile; a lost race
                // reads again (and no longer finds a code used by the winner).
                for _ in 0..5 {
                    let current = users::find_by_id(conn, id)?;
                    let Some(current) = current else {
                        return Ok(false);
                    };
                    let before = current.mf_recovery_codes.clone();
                    let codes = stored_codes(&current);
                    let position = codes
                        .iter()
                        .position(|stored| rules.matches(&services, stored, &typed, &digest, now));
                    let Some(position) = position else {
                        return Ok(false);
                    };
                    let rest: Vec<String> = codes
                        .iter()
                        .enumerate()
                        .filter(|(i, _)| *i != position)
                        .map(|(_, stored)| rules.restore(&services, stored))
                        .collect();
                    let after = (!rest.is_empty()).then(|| rest.join(","));
                    let swapped = diesel::update(
                        user::table
                            .find(id)
                            .filter(user::mf_recovery_codes.eq(before.clone()))
                            .filter(user::mf_recovery_codes.is_not_null()),
                    )
                    .set(user::mf_recovery_codes.eq(after))
                    .execute(conn)?;
                    if swapped == 1 {
                        return Ok(true);
                    }
                }
                Ok(false)
            })
            .await?)
    };
    settle(services, user, client, check).await
}

/// How stored recovery codes are read: Latchkey's digests, and Flask-Security's codes, clear
/// or encrypted with `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS` (any key decrypts, as its
/// `MultiFernet`). `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL` applies, as in Flask-Security,
/// only with the keys: to the tokens' time and to the time a dated digest records.
struct CodeRules<'a> {
    keys: Option<&'a config::RecoveryCodeKeys>,
    ttl: Option<u64>,
}

impl<'a> CodeRules<'a> {
    fn new(services: &'a Services) -> Self {
        let settings = &services.settings.two_factor;
        let keys = settings.recovery_codes_keys.as_ref();
        Self {
            keys,
            ttl: settings
                .recovery_code_ttl
                .filter(|_| keys.is_some())
                .map(|ttl| ttl.as_secs()),
        }
    }

    /// Whether `stored` is the `typed` code (lowercased; `digest` is its undated digest),
    /// and still usable at `now`.
    fn matches(
        &self,
        services: &Services,
        stored: &str,
        typed: &str,
        digest: &str,
        now: u64,
    ) -> bool {
        if stored.starts_with(DIGEST_PREFIX) {
            constant_time_eq(stored, digest)
        } else if stored.starts_with(DATED_PREFIX) {
            dated_made(stored).is_some_and(|made| {
                !self.expired(made, now)
                    && constant_time_eq(stored, &dated_digest(services, typed, made))
            })
        } else if is_fernet_token(stored) {
            self.decrypt(stored)
                .is_some_and(|(clear, _)| constant_time_eq(&clear, typed))
        } else {
            constant_time_eq(&stored.to_ascii_lowercase(), typed)
        }
    }

    /// Whether `stored` could still be used at `now` (by the code it holds).
    fn usable(&self, stored: &str, now: u64) -> bool {
        if stored.starts_with(DIGEST_PREFIX) {
            true
        } else if stored.starts_with(DATED_PREFIX) {
            dated_made(stored).is_some_and(|made| !self.expired(made, now))
        } else if is_fernet_token(stored) {
            self.decrypt(stored).is_some()
        } else {
            true
        }
    }

    /// As Fernet's TTL check: too old once `made + ttl` is before `now`.
    fn expired(&self, made: u64, now: u64) -> bool {
        self.ttl.is_some_and(|ttl| made.saturating_add(ttl) < now)
    }

    /// The code inside `token` (lowercased, as typed codes are compared) and the time the
    /// token was made, if a key opens it and, with a TTL, it is not older than that.
    /// Without keys, nothing opens.
    fn decrypt(&self, token: &str) -> Option<(String, u64)> {
        let keys = self.keys?;
        let clear = keys.fernets().iter().find_map(|fernet| {
            match self.ttl {
                Some(ttl) => fernet.decrypt_with_ttl(token, ttl),
                None => fernet.decrypt(token),
            }
            .ok()
        })?;
        let clear = String::from_utf8(clear).ok()?;
        Some((clear.trim().to_ascii_lowercase(), fernet_time(token)?))
    }

    /// How a code that stays is stored once another is used: digests stay; Flask's clear
    /// codes become undated digests, its encrypted ones dated digests (the token's time, so
    /// the TTL still applies). A token no key opens (expired, or its key no longer
    /// configured) is kept as it is.
    fn restore(&self, services: &Services, stored: &str) -> String {
        if stored.starts_with(DIGEST_PREFIX) || stored.starts_with(DATED_PREFIX) {
            stored.to_owned()
        } else if is_fernet_token(stored) {
            match self.decrypt(stored) {
                Some((clear, made)) => dated_digest(services, &clear, made),
                None => stored.to_owned(),
            }
        } else {
            recovery_digest(services, stored)
        }
    }
}

/// Whether a stored recovery code is a Fernet token (what Flask-Security stores with
/// `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`): version byte 0x80 and a timestamp whose
/// high bytes are zero give `gAAAAA`, and a token is far longer than any code.
fn is_fernet_token(stored: &str) -> bool {
    stored.starts_with("gAAAAA") && stored.len() > 64
}

/// The time a Fernet token was made (its spec: a version byte, then the time as 64-bit
/// big-endian seconds). Read only after a key opened the token, so the field is authentic.
fn fernet_time(token: &str) -> Option<u64> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .ok()?;
    let time: [u8; 8] = bytes.get(1..9)?.try_into().ok()?;
    Some(u64::from_be_bytes(time))
}

// ---------------------------------------------------------------------------------------
// "Remember this device" (`tf_validity`)
// ---------------------------------------------------------------------------------------

/// The `tf_validity` cookie's value for `user`, valid until `until` (unix seconds): the
/// user id, the expiry and a MAC over both and the account's current `fs_uniquifier` and
/// password hash, so that rotating access or changing the password revokes it.
pub fn validity_token(services: &Services, user: &User, until: i64) -> String {
    format!(
        "{}.{until}.{}",
        user.id,
        validity_mac(services, user, until)
    )
}

/// Whether a `tf_validity` cookie lets `user` skip the second factor at `now`.
pub fn validity_accepts(services: &Services, user: &User, token: &str, now: i64) -> bool {
    let mut parts = token.splitn(3, '.');
    let (Some(id), Some(until), Some(mac)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Ok(id), Ok(until)) = (id.parse::<i32>(), until.parse::<i64>()) else {
        return false;
    };
    id == user.id && now < until && constant_time_eq(mac, &validity_mac(services, user, until))
}

/// Over the account's uniquifier, password hash and second-factor secrets: a new password,
/// a rotated uniquifier or a re-keyed second factor (a new authenticator, phone or method)
/// ends every remembered browser.
fn validity_mac(services: &Services, user: &User, until: i64) -> String {
    let key = derive_key(&services.settings.secret_key, "tf-validity");
    keyed_digest(
        &key,
        &format!(
            "{}|{until}|{}|{}|{}",
            user.id,
            user.fs_uniquifier,
            user.password_hash().unwrap_or(""),
            lifecycle::second_factor_fingerprint(user),
        ),
    )
}

pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_look_like_flask_securitys() {
        let codes = new_recovery_codes(5);
        assert_eq!(codes.len(), 5);
        for code in &codes {
            assert_eq!(code.len(), 14, "{code}");
            assert!(code
                .split('-')
                .all(|g| g.len() == 4 && g.chars().all(|c| c.is_ascii_hexdigit())));
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 5);
    }

    #[test]
    fn a_fernet_tokens_time_is_read_and_a_dated_digests_too() {
        // Python's `Fernet(key).encrypt_at_time(b"abcd-1234-ef01", 1700000000)`.
        let token = "gAAAAABlU_EAkibQ_l1oHs8CFKZyLRZJpkzKR4Kn2LALdMZpIEaSTDwYF3uZWBVhjVP1eVXo8VzJJoA3l0BF2Yszge12MLOI5Q==";
        assert!(is_fernet_token(token), "{token}");
        assert_eq!(fernet_time(token), Some(1_700_000_000));
        assert!(!is_fernet_token("abcd-1234-ef01"));
        assert!(!is_fernet_token("lk1$00ff"));
        assert_eq!(dated_made("lk2$1700000000$00ff"), Some(1_700_000_000));
        assert_eq!(dated_made("lk2$soon$00ff"), None);
        assert_eq!(dated_made("lk1$00ff"), None);
    }

    #[test]
    fn with_a_ttl_a_code_made_longer_ago_is_expired() {
        let rules = CodeRules {
            keys: None,
            ttl: Some(60),
        };
        assert!(!rules.expired(1_000, 1_060));
        assert!(rules.expired(1_000, 1_061));
        assert!(!rules.expired(u64::MAX, 1_061));
        let no_ttl = CodeRules {
            keys: None,
            ttl: None,
        };
        assert!(!no_ttl.expired(0, u64::MAX));
        assert_eq!(no_ttl.decrypt("gAAAAA"), None, "no keys, nothing opens");
    }

    #[test]
    fn only_codes_that_would_still_work_are_counted_as_left() {
        let rules = CodeRules {
            keys: None,
            ttl: Some(60),
        };
        let token = "gAAAAABlU_EAkibQ_l1oHs8CFKZyLRZJpkzKR4Kn2LALdMZpIEaSTDwYF3uZWBVhjVP1eVXo8VzJJoA3l0BF2Yszge12MLOI5Q==";
        assert!(
            rules.usable("lk1$00ff", 5_000),
            "an undated digest never expires"
        );
        assert!(rules.usable("lk2$1000$00ff", 1_060));
        assert!(!rules.usable("lk2$1000$00ff", 1_061), "past the TTL");
        assert!(rules.usable("abcd-1234-ef01", 5_000), "Flask's clear code");
        assert!(!rules.usable(token, 5_000), "no key opens it");
    }

    #[test]
    fn random_codes_are_six_digits() {
        for _ in 0..200 {
            let code = random_code();
            assert_eq!(code.len(), 6);
            assert!(code.chars().all(|c| c.is_ascii_digit()));
        }
    }
}
