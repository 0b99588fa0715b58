//! Unified sign-in (`SECURITY_UNIFIED_SIGNIN`), Flask-Security's one form for a password or
//! a code: a code mailed (with a link), texted, or from an authenticator app. Each set-up
//! method has its own TOTP secret, stored encrypted as Flask-Security stores them
//! (`user.us_totp_secrets`, JSON `{"email": "<passlib record>", ...}`), so a Flask-Security
//! database with unified sign-in set up keeps working, and the reverse.
//!
//! Stricter than Flask-Security: a code (typed or in the mailed link) is accepted once (its
//! time step is recorded in `otp_used`); every password or code goes through the login
//! throttle before it is checked; with generic responses the identity step answers the same
//! whether or not the account exists.

use super::sending::{self, Destination};
use std::collections::BTreeMap;
use std::time::Duration;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::authenticate::{
    check_counted, lookup_identity, may_sign_in, Attempt, Checked, LoginFailure,
};
use super::error::ServiceError;
use super::services::Services;
use super::throttle;
use super::totp::{self, TotpSecret};
use super::two_factor::{record_step, settle, unix_now};
use crate::config::UsMethod;
use crate::crypto::constant_time_eq;
use crate::db::models::User;
use crate::db::schema::user;
use crate::db::{users, DbConnection, DbError};
use crate::domain::Password;
use crate::mail;
use crate::messages::{self, Described, Msg};

/// The encrypted secret of each set-up method, by Flask-Security's method name.
fn stored_secrets(user: &User) -> BTreeMap<String, String> {
    user.us_totp_secrets
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .unwrap_or_default()
}

/// The secret of `method`, decrypted (`None`: not set up, or unreadable with today's keys).
fn secret_for(services: &Services, user: &User, method: UsMethod) -> Option<TotpSecret> {
    let stored = stored_secrets(user).remove(method.as_str())?;
    let keys = services.totp_keys()?;
    match keys.decrypt(&stored) {
        Ok(secret) => Some(secret),
        Err(e) => {
            tracing::warn!(user_id = user.id, method = method.as_str(), error = %e,
                "stored unified sign-in secret cannot be read");
            None
        }
    }
}

/// The enabled methods `user` can sign in with today: the password if the account has one,
/// and each code method set up.
pub fn active_methods(services: &Services, user: &User) -> Vec<UsMethod> {
    let secrets = stored_secrets(user);
    services
        .settings
        .unified_signin
        .methods
        .iter()
        .copied()
        .filter(|m| match m {
            UsMethod::Password => user.password_hash().is_some(),
            other => secrets.contains_key(other.as_str()),
        })
        .collect()
}

/// The enabled methods that send a code (Flask-Security's `code_methods`).
pub fn code_methods(services: &Services) -> Vec<UsMethod> {
    let methods = &services.settings.unified_signin.methods;
    methods.iter().copied().filter(|m| m.sends_code()).collect()
}

/// The enabled methods that need a setup (all but the password).
pub fn setup_methods(services: &Services) -> Vec<UsMethod> {
    let methods = &services.settings.unified_signin.methods;
    methods
        .iter()
        .copied()
        .filter(|m| *m != UsMethod::Password)
        .collect()
}

/// Why unified sign-in refused, in Flask-Security's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No account for the identity (or none typed).
    IdentityUnknown,
    /// Neither the password nor a code of a set-up method.
    InvalidPasscode,
    MethodNotAvailable,
    PhoneInvalid,
    PhoneInUse(String),
    /// The account may not sign in; `email`: its address (for
    /// `SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW`, as [`super::authenticate::Refused`]).
    Login {
        failure: LoginFailure,
        email: Option<String>,
    },
    /// The link's account or code does not match (said generically).
    InvalidLink,
}

impl Refusal {
    /// `user` may not sign in, for `failure`.
    fn login(failure: LoginFailure, user: &User) -> Self {
        Refusal::Login {
            failure,
            email: user.email.clone(),
        }
    }

    /// A name for events and logs (never what was typed).
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::IdentityUnknown => "unknown_user",
            Refusal::InvalidPasscode => "invalid_passcode",
            Refusal::MethodNotAvailable => "method_not_available",
            Refusal::PhoneInvalid | Refusal::PhoneInUse(_) => "phone",
            Refusal::Login { failure, .. } => failure.as_str(),
            Refusal::InvalidLink => "invalid_link",
        }
    }

    pub fn field(&self) -> &'static str {
        match self {
            Refusal::IdentityUnknown | Refusal::Login { .. } => "identity",
            Refusal::InvalidPasscode => "passcode",
            Refusal::MethodNotAvailable => "chosen_method",
            Refusal::PhoneInvalid | Refusal::PhoneInUse(_) => "phone",
            Refusal::InvalidLink => "",
        }
    }
}

impl Described for Refusal {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            Refusal::IdentityUnknown => (messages::US_SPECIFY_IDENTITY, vec![]),
            Refusal::InvalidPasscode => (messages::INVALID_PASSWORD_CODE, vec![]),
            Refusal::MethodNotAvailable => (messages::US_METHOD_NOT_AVAILABLE, vec![]),
            Refusal::PhoneInvalid => (messages::PHONE_INVALID, vec![]),
            Refusal::PhoneInUse(phone) => (
                messages::IDENTITY_ALREADY_ASSOCIATED,
                vec![
                    ("attr", "us_phone_number".to_owned()),
                    ("value", phone.clone()),
                ],
            ),
            Refusal::Login { failure, .. } => (failure.msg(), vec![]),
            Refusal::InvalidLink => (messages::GENERIC_AUTHN_FAILED, vec![]),
        }
    }
}

/// How a unified sign-in attempt ended: the account, and the method that proved it.
pub type SigninOutcome = Attempt<(Box<User>, UsMethod), Refusal>;

/// Which method `passcode` proves for `user`: the password (verified on the hashing
/// threads), else a code of a set-up method, whose time step is then recorded so that it
/// is accepted once. Flask-Security's order: the enabled methods as configured.
async fn proving_method(
    services: &Services,
    user: &User,
    passcode: &str,
) -> Result<Option<UsMethod>, ServiceError> {
    let settings = &services.settings.unified_signin;
    let code = totp::normalize_code(passcode);
    let now = unix_now() as u64;
    for method in settings.methods.iter().copied() {
        if method == UsMethod::Password {
            let Some(hash) = user.password_hash() else {
                continue;
            };
            let typed =
                Password::normalize(passcode, services.settings.password_policy.normalize_form);
            if services.hasher.verify(typed, Some(hash.to_owned())).await? {
                return Ok(Some(method));
            }
            continue;
        }
        let Some(secret) = secret_for(services, user, method) else {
            continue;
        };
        if let Some(step) = totp::matching_step(&secret, &code, now, settings.token_validity) {
            if record_step(services, user.id, step_purpose(method), step).await? {
                return Ok(Some(method));
            }
        }
    }
    Ok(None)
}

/// The `otp_used` purpose of a method's codes.
fn step_purpose(method: UsMethod) -> &'static str {
    match method {
        UsMethod::Email => "us-email",
        UsMethod::Authenticator => "us-authenticator",
        UsMethod::Sms => "us-sms",
        UsMethod::Password => "us-password",
    }
}

/// `POST /us-signin`: the account of `identity`, proved by `passcode` (its password or a
/// code), counted by the login throttle before anything is checked. An unknown identity
/// costs a password verification too.
pub async fn sign_in(
    services: &Services,
    identity: &str,
    passcode: &str,
    client: &str,
) -> Result<SigninOutcome, ServiceError> {
    let identity = identity.trim();
    if identity.is_empty() {
        return Ok(Attempt::Refused(Refusal::IdentityUnknown));
    }
    if passcode.trim().is_empty() {
        return Ok(Attempt::Refused(Refusal::InvalidPasscode));
    }
    let identified = super::authenticate::identify_any(services, identity).await?;
    let account = identified.account.clone();
    let mut proved = None;
    let check = async {
        match &account {
            Some(user) => {
                proved = proving_method(services, user, passcode).await?;
                Ok(proved.is_some())
            }
            None => {
                // Same cost as a known account's password check.
                services
                    .hasher
                    .verify(
                        Password::normalize(
                            passcode,
                            services.settings.password_policy.normalize_form,
                        ),
                        None,
                    )
                    .await?;
                Ok(false)
            }
        }
    };
    let reservation = match check_counted(services, identified.subject, client, check).await? {
        Checked::Right(reservation) => reservation,
        Checked::Wrong => {
            return Ok(Attempt::Refused(match account {
                Some(_) => Refusal::InvalidPasscode,
                None => Refusal::IdentityUnknown,
            }))
        }
        Checked::Throttled { retry_after } => return Ok(Attempt::Throttled { retry_after }),
    };
    let (Some(user), Some(method)) = (account, proved) else {
        throttle::release(&services.db, reservation).await?;
        return Ok(Attempt::Refused(Refusal::InvalidPasscode));
    };
    if let Err(failure) = may_sign_in(&services.settings.features, &user) {
        throttle::release(&services.db, reservation).await?;
        return Ok(Attempt::Refused(Refusal::login(failure, &user)));
    }
    throttle::succeeded(&services.db, reservation).await?;
    Ok(Attempt::Proved((Box::new(user), method)))
}

/// `POST /us-verify`: the logged-in `user` proves it again with a password or a code.
pub async fn reverify(
    services: &Services,
    user: &User,
    passcode: &str,
    client: &str,
) -> Result<Attempt, ServiceError> {
    if passcode.trim().is_empty() {
        return Ok(Attempt::Refused(()));
    }
    let check = async { Ok(proving_method(services, user, passcode).await?.is_some()) };
    settle(services, user, client, check).await
}

/// How a request for a code ended.
#[derive(Debug)]
pub enum CodeRequest {
    /// Sent (or, with generic responses, answered as if sent).
    Sent,
    Refused(Refusal),
}

/// The `method` (mail or text) `user` may be sent a code for.
fn code_method(services: &Services, user: &User, method: &str) -> Result<UsMethod, Refusal> {
    let method = UsMethod::parse(method)
        .filter(|m| m.sends_code() && services.settings.unified_signin.methods.contains(m))
        .ok_or(Refusal::MethodNotAvailable)?;
    if !stored_secrets(user).contains_key(method.as_str()) {
        return Err(Refusal::MethodNotAvailable);
    }
    if method == UsMethod::Sms && user.us_phone_number.is_none() {
        return Err(Refusal::PhoneInvalid);
    }
    Ok(method)
}

/// `POST /us-signin/send-code` (`identity`, `chosen_method`): mails (with the sign-in link)
/// or texts a code. With generic responses, an unknown identity or a method not set up gets
/// the answer a sent code gets, and nothing is sent. `send` false (the address had its share
/// of mail): the same answer, nothing sent.
pub async fn send_signin_code(
    services: &Services,
    identity: &str,
    method: &str,
    send: bool,
) -> Result<(CodeRequest, Option<User>), ServiceError> {
    let generic = services.settings.features.return_generic_responses;
    let quiet = |refusal| {
        Ok((
            if generic {
                CodeRequest::Sent
            } else {
                CodeRequest::Refused(refusal)
            },
            None,
        ))
    };
    let Some(user) =
        lookup_identity(&services.db, &services.settings.features, identity.trim()).await?
    else {
        return quiet(Refusal::IdentityUnknown);
    };
    if let Err(failure) = may_sign_in(&services.settings.features, &user) {
        return quiet(Refusal::login(failure, &user));
    }
    let method = match code_method(services, &user, method) {
        Ok(method) => method,
        Err(refusal) => return quiet(refusal),
    };
    // Anyone may ask for an account's code: the request goes by the mail forms' limits
    // (`send`: this client's share for the identity, the mailbox's cap), never by the
    // account's sending budget, which a stranger could otherwise spend to keep the owner's
    // own second-factor codes from going out.
    if send {
        send_code(services, &user, method, true).await?;
    }
    Ok((CodeRequest::Sent, Some(user)))
}

/// `POST /us-verify/send-code`: a code for the logged-in `user` (no link), within the
/// sending budget (past it, [`ServiceError::SendingLimited`]: 429).
pub async fn send_verify_code(
    services: &Services,
    user: &User,
    method: &str,
    client: &str,
) -> Result<CodeRequest, ServiceError> {
    match code_method(services, user, method) {
        Ok(method) => {
            let to = destination(user, user, method);
            sending::reserve_or_refuse(services, user.id, to, client).await?;
            send_code(services, user, method, false).await?;
            Ok(CodeRequest::Sent)
        }
        Err(refusal) => Ok(CodeRequest::Refused(refusal)),
    }
}

/// Where a code of `method` for `user` goes; a text is to a verified number when it is the
/// one `stored` (the account as it is) already signs in with.
fn destination(user: &User, stored: &User, method: UsMethod) -> Destination {
    match method {
        UsMethod::Sms => {
            let number = user.us_phone_number.clone().unwrap_or_default();
            let verified = stored_secrets(stored).contains_key(UsMethod::Sms.as_str())
                && stored.us_phone_number.as_deref() == Some(number.as_str());
            Destination::Text { number, verified }
        }
        _ => Destination::Mail(user.email_or_empty().to_owned()),
    }
}

/// Mails or texts the current code of `method` (a TOTP of its secret, as Flask-Security's),
/// with the sign-in link when `with_link`. The caller has spent the sending budget.
async fn send_code(
    services: &Services,
    user: &User,
    method: UsMethod,
    with_link: bool,
) -> Result<(), ServiceError> {
    let Some(secret) = secret_for(services, user, method) else {
        return Err(ServiceError::Config(
            "a unified sign-in secret cannot be read with SECURITY_TOTP_SECRETS".to_owned(),
        ));
    };
    send_code_of(services, user, method, &secret, with_link).await
}

async fn send_code_of(
    services: &Services,
    user: &User,
    method: UsMethod,
    secret: &TotpSecret,
    with_link: bool,
) -> Result<(), ServiceError> {
    let settings = &services.settings;
    let code = totp::code_at(secret, unix_now() as u64);
    let validity = settings.unified_signin.token_validity;
    match method {
        UsMethod::Email => {
            // The sign-in link's query (the mailer puts it on the link's route).
            let link = with_link.then(|| format!("id={}&code={code}", user.fs_uniquifier));
            let message = services.mailer().us_code(
                user.email_or_empty(),
                &code,
                link.as_deref(),
                validity,
            )?;
            let key = services.outbox_key.clone();
            services
                .db
                .run(move |conn| mail::enqueue(conn, &key, &message))
                .await?;
        }
        UsMethod::Sms => {
            let to = user.us_phone_number.clone().unwrap_or_default();
            services.sms.send(
                &to,
                &format!(
                    "Use this code to sign in: {code}. It expires in {}.",
                    messages::describe_period(validity)
                ),
            );
        }
        UsMethod::Password | UsMethod::Authenticator => {}
    }
    tracing::info!(
        event = "us_code_sent",
        user_id = user.id,
        method = method.as_str(),
        "unified sign-in code sent"
    );
    Ok(())
}

/// `GET`/`POST /us-verify-link` (`id`: the account's `fs_uniquifier`, `code`): the account,
/// if the code is one of its mailed codes not used yet. Counted by the login throttle; the
/// answer to anything wrong says nothing about the account.
pub async fn check_link(
    services: &Services,
    id: &str,
    code: &str,
    client: &str,
) -> Result<SigninOutcome, ServiceError> {
    let settings = &services.settings.unified_signin;
    let lookup = id.to_owned();
    let account = if id.is_empty() || id.len() > 255 {
        None
    } else {
        services
            .db
            .run(move |conn| users::find_by_uniquifier(conn, &lookup))
            .await?
    };
    let subject = match &account {
        Some(user) => throttle::account_subject(user.id),
        None => throttle::typed_subject(&services.settings.secret_key, &format!("us-link:{id}")),
    };
    let check = async {
        let Some(user) = &account else {
            return Ok(false);
        };
        if !settings.methods.contains(&UsMethod::Email) {
            return Ok(false);
        }
        let Some(secret) = secret_for(services, user, UsMethod::Email) else {
            return Ok(false);
        };
        let code = totp::normalize_code(code);
        let now = unix_now() as u64;
        match totp::matching_step(&secret, &code, now, settings.token_validity) {
            Some(step) => record_step(services, user.id, step_purpose(UsMethod::Email), step).await,
            None => Ok(false),
        }
    };
    let reservation = match check_counted(services, subject, client, check).await? {
        Checked::Right(reservation) => reservation,
        Checked::Wrong => return Ok(Attempt::Refused(Refusal::InvalidLink)),
        Checked::Throttled { retry_after } => return Ok(Attempt::Throttled { retry_after }),
    };
    let Some(user) = account else {
        throttle::release(&services.db, reservation).await?;
        return Ok(Attempt::Refused(Refusal::InvalidLink));
    };
    if let Err(failure) = may_sign_in(&services.settings.features, &user) {
        throttle::release(&services.db, reservation).await?;
        return Ok(Attempt::Refused(Refusal::login(failure, &user)));
    }
    throttle::succeeded(&services.db, reservation).await?;
    Ok(Attempt::Proved((Box::new(user), UsMethod::Email)))
}

/// What the browser that asked for a sign-in code keeps: a digest of the account's
/// uniquifier, or of a random value when the identity names no account (the same length
/// either way, so the session cookie tells nothing).
pub fn link_marker(user_uniquifier: Option<&str>) -> String {
    let named = match user_uniquifier {
        Some(uniquifier) => uniquifier.to_owned(),
        None => format!("none:{}", crate::crypto::random_token(24)),
    };
    crate::crypto::digest(&format!("us-link:{named}"))
}

/// Whether a link's `id` names the account the browser asked for (`marker`, from
/// [`link_marker`]).
pub fn link_is_for(marker: &str, id: &str) -> bool {
    constant_time_eq(marker, &link_marker(Some(id)))
}

// ---------------------------------------------------------------------------------------
// Setup
// ---------------------------------------------------------------------------------------

/// A setup waiting for its first code: the new secret, kept in the browser's encrypted
/// session under a random token the form posts back (Flask-Security signs it into the
/// token itself).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingUsSetup {
    pub token: String,
    pub user_id: i32,
    pub method: String,
    secret: String,
    pub phone: Option<String>,
    pub started_at: i64,
}

impl PendingUsSetup {
    pub fn is_for(&self, token: &str, user: &User) -> bool {
        constant_time_eq(&self.token, token) && self.user_id == user.id
    }
}

/// What a started setup shows: for an authenticator, its key (Flask-Security's `authr_*`).
#[derive(Debug)]
pub struct UsSetupChallenge {
    pub pending: PendingUsSetup,
    pub authenticator: Option<super::two_factor::AuthenticatorKey>,
}

/// `POST /us-setup` (`chosen_method`, `phone`): a new secret for `method`, and for email and
/// text a code sent at once (no link).
pub async fn begin_setup(
    services: &Services,
    user: &User,
    method: &str,
    phone: Option<&str>,
    client: &str,
) -> Result<Result<UsSetupChallenge, Refusal>, ServiceError> {
    let Some(method) = UsMethod::parse(method).filter(|m| setup_methods(services).contains(m))
    else {
        return Ok(Err(Refusal::MethodNotAvailable));
    };
    let phone = match method {
        UsMethod::Sms => {
            let region = services.settings.sms.phone_region_default;
            let Some(phone) = phone
                .and_then(|raw| crate::domain::phone::Phone::parse(raw, region).ok())
                .map(crate::domain::phone::Phone::into_string)
            else {
                return Ok(Err(Refusal::PhoneInvalid));
            };
            let (wanted, id) = (phone.clone(), user.id);
            let taken = services
                .db
                .run(move |conn| phone_taken(conn, &wanted, id))
                .await?;
            if taken {
                return Ok(Err(Refusal::PhoneInUse(phone)));
            }
            Some(phone)
        }
        _ => None,
    };
    let secret = TotpSecret::generate();
    if method.sends_code() {
        let mut target = user.clone();
        target.us_phone_number = phone.clone().or(target.us_phone_number);
        let to = destination(&target, user, method);
        sending::reserve_or_refuse(services, user.id, to, client).await?;
        send_code_of(services, &target, method, &secret, false).await?;
    }
    let authenticator = (method == UsMethod::Authenticator)
        .then(|| super::two_factor::authenticator_key(services, user, &secret));
    Ok(Ok(UsSetupChallenge {
        pending: PendingUsSetup {
            token: crate::crypto::random_token(24),
            user_id: user.id,
            method: method.as_str().to_owned(),
            secret: secret.base32(),
            phone,
            started_at: unix_now(),
        },
        authenticator,
    }))
}

fn phone_taken(conn: &mut DbConnection, phone: &str, except: i32) -> Result<bool, DbError> {
    let n: i64 = user::table
        .filter(user::us_phone_number.eq(phone))
        .filter(user::id.ne(except))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// How finishing a setup ended.
#[derive(Debug)]
pub enum UsSetupOutcome {
    Done(Box<User>, UsMethod),
    WrongCode,
    Expired,
    Refused(Refusal),
    Throttled { retry_after: Duration },
}

/// `POST /us-setup/<state>` (`passcode`): stores the method's encrypted secret (and the
/// phone number) once its code is right.
pub async fn finish_setup(
    services: &Services,
    user: &User,
    pending: &PendingUsSetup,
    passcode: &str,
    client: &str,
) -> Result<UsSetupOutcome, ServiceError> {
    let settings = &services.settings.unified_signin;
    let now = unix_now();
    if pending.user_id != user.id
        || now < pending.started_at
        || (now - pending.started_at) as u64 >= settings.setup_within.as_secs()
    {
        return Ok(UsSetupOutcome::Expired);
    }
    let (Some(method), Ok(secret)) = (
        UsMethod::parse(&pending.method),
        TotpSecret::from_base32(&pending.secret),
    ) else {
        return Ok(UsSetupOutcome::Expired);
    };
    let code = totp::normalize_code(passcode);
    let check = async {
        Ok(totp::matching_step(&secret, &code, now as u64, settings.token_validity).is_some())
    };
    match settle(services, user, client, check).await? {
        Attempt::Proved(()) => {}
        Attempt::Refused(()) => return Ok(UsSetupOutcome::WrongCode),
        Attempt::Throttled { retry_after } => return Ok(UsSetupOutcome::Throttled { retry_after }),
    }
    let Some(keys) = services.totp_keys() else {
        return Err(ServiceError::Config(
            "SECURITY_TOTP_SECRETS is not set".to_owned(),
        ));
    };
    let encrypted = keys.encrypt(&secret);
    let (id, phone) = (user.id, pending.phone.clone());
    let stored = services
        .db
        .run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let current = found(conn, id)?;
                let mut secrets = stored_secrets(&current);
                secrets.insert(method.as_str().to_owned(), encrypted);
                let json = serde_json::to_string(&secrets).unwrap_or_default();
                let target = user::table.find(id);
                match &phone {
                    Some(phone) => diesel::update(target)
                        .set((
                            user::us_totp_secrets.eq(Some(json)),
                            user::us_phone_number.eq(Some(phone)),
                        ))
                        .execute(conn)?,
                    None => diesel::update(target)
                        .set(user::us_totp_secrets.eq(Some(json)))
                        .execute(conn)?,
                };
                found(conn, id)
            })
        })
        .await;
    match stored {
        Ok(updated) => Ok(UsSetupOutcome::Done(Box::new(updated), method)),
        Err(e) if e.is_unique_violation() => Ok(UsSetupOutcome::Refused(Refusal::PhoneInUse(
            pending.phone.clone().unwrap_or_default(),
        ))),
        Err(e) => Err(e.into()),
    }
}

/// What `POST /us-setup` did: the user as it now is, and the setup started (the method as
/// typed, and its challenge), when one was asked for.
pub struct SetupChange {
    /// The user after the removals.
    pub user: User,
    /// The method to set up, as typed, and its challenge.
    pub started: Option<(String, UsSetupChallenge)>,
}

/// `POST /us-setup` (`delete_method`, `chosen_method`, `phone`): removes the methods in
/// `delete`, then starts setting up `add`. A refusal comes with the user as it then is (the
/// removal may have been done).
pub async fn change_setup(
    services: &Services,
    user: &User,
    delete: &[String],
    add: Option<&str>,
    phone: Option<&str>,
    client: &str,
) -> Result<Result<SetupChange, (Box<User>, Refusal)>, ServiceError> {
    let mut user = user.clone();
    if !delete.is_empty() {
        match delete_methods(services, &user, delete).await? {
            Ok(updated) => {
                tracing::info!(event = "us_methods_deleted", user_id = user.id,
                    methods = ?delete, "unified sign-in methods removed");
                user = updated;
            }
            Err(refusal) => return Ok(Err((Box::new(user), refusal))),
        }
    }
    let Some(add) = add else {
        return Ok(Ok(SetupChange {
            user,
            started: None,
        }));
    };
    match begin_setup(services, &user, add, phone, client).await? {
        Ok(challenge) => Ok(Ok(SetupChange {
            user,
            started: Some((add.to_owned(), challenge)),
        })),
        Err(refusal) => Ok(Err((Box::new(user), refusal))),
    }
}

/// `POST /us-setup` (`delete_method`): removes set-up methods (their secrets; the phone
/// number with `sms`). The password cannot be removed here.
pub async fn delete_methods(
    services: &Services,
    user: &User,
    methods: &[String],
) -> Result<Result<User, Refusal>, ServiceError> {
    let active = active_methods(services, user);
    let mut remove = Vec::new();
    for name in methods {
        match UsMethod::parse(name) {
            Some(m) if m != UsMethod::Password && active.contains(&m) => remove.push(m),
            _ => return Ok(Err(Refusal::MethodNotAvailable)),
        }
    }
    let id = user.id;
    let updated = services
        .db
        .run(move |conn| {
            conn.transaction::<_, DbError, _>(|conn| {
                let current = found(conn, id)?;
                let mut secrets = stored_secrets(&current);
                for m in &remove {
                    secrets.remove(m.as_str());
                }
                let json = (!secrets.is_empty())
                    .then(|| serde_json::to_string(&secrets).unwrap_or_default());
                diesel::update(user::table.find(id))
                    .set(user::us_totp_secrets.eq(json))
                    .execute(conn)?;
                if remove.contains(&UsMethod::Sms) {
                    diesel::update(user::table.find(id))
                        .set(user::us_phone_number.eq(None::<String>))
                        .execute(conn)?;
                }
                found(conn, id)
            })
        })
        .await?;
    Ok(Ok(updated))
}

/// Sets up codes and links by mail for a new account registered without a password
/// (`SECURITY_PASSWORD_REQUIRED=false`), in the caller's transaction: Flask-Security's
/// `us_setup_email`. Nothing when the email method is not enabled or no key is configured.
pub fn set_up_email(
    conn: &mut DbConnection,
    services: &Services,
    new: &User,
) -> Result<(), ServiceError> {
    let settings = &services.settings.unified_signin;
    let Some(keys) = services.totp_keys() else {
        return Ok(());
    };
    if !settings.enabled || !settings.methods.contains(&UsMethod::Email) {
        return Ok(());
    }
    let mut secrets = stored_secrets(new);
    let encrypted = keys.encrypt(&TotpSecret::generate());
    secrets.insert(UsMethod::Email.as_str().to_owned(), encrypted);
    let json = serde_json::to_string(&secrets).unwrap_or_default();
    diesel::update(user::table.find(new.id))
        .set(user::us_totp_secrets.eq(Some(json)))
        .execute(conn)
        .map_err(DbError::from)?;
    Ok(())
}

fn found(conn: &mut DbConnection, id: i32) -> Result<User, DbError> {
    users::find_by_id(conn, id)?.ok_or_else(|| DbError::from(diesel::result::Error::NotFound))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_with(secrets: Option<&str>) -> User {
        User {
            id: 1,
            email: Some("ada@example.com".into()),
            username: None,
            password: None,
            last_login_at: None,
            current_login_at: None,
            last_login_ip: None,
            current_login_ip: None,
            login_count: None,
            active: Some(true),
            premium: None,
            fs_uniquifier: "u".into(),
            confirmed_at: None,
            tf_primary_method: None,
            tf_totp_secret: None,
            tf_phone_number: None,
            mf_recovery_codes: None,
            fs_webauthn_user_handle: None,
            us_totp_secrets: secrets.map(str::to_owned),
            us_phone_number: None,
        }
    }

    #[test]
    fn stored_secrets_read_flask_security_json_and_tolerate_garbage() {
        let mut user = user_with(None);
        user.us_totp_secrets = Some(r#"{"email": "x", "authenticator": "y"}"#.to_owned());
        let secrets = stored_secrets(&user);
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets["email"], "x");
        user.us_totp_secrets = Some("not json".to_owned());
        assert!(stored_secrets(&user).is_empty());
        user.us_totp_secrets = None;
        assert!(stored_secrets(&user).is_empty());
    }

    #[test]
    fn every_refusal_names_a_field_and_a_message() {
        let messages = crate::messages::Messages::default();
        for refusal in [
            Refusal::IdentityUnknown,
            Refusal::InvalidPasscode,
            Refusal::MethodNotAvailable,
            Refusal::PhoneInvalid,
            Refusal::PhoneInUse("+15551234567".into()),
            Refusal::InvalidLink,
        ] {
            assert!(!messages.describe(&refusal).is_empty(), "{refusal:?}");
            let _ = refusal.field();
        }
        assert_eq!(
            messages.describe(&Refusal::InvalidPasscode),
            "Password or code submitted is not valid"
        );
    }
}
