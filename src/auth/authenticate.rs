//! The authentication pipeline: every proof of a credential goes through [`check_counted`],
//! which counts the attempt with the throttle *before* the credential is checked (see
//! [`super::throttle`]) and settles the count afterwards. Every check ends in one
//! [`Attempt`] (proved, refused, throttled), and every first factor asks one rule whether
//! its account may sign in ([`may_sign_in`]).
//!
//! The password's steps: [`identify`] (who is trying: the account, if the identity names
//! one, and the subject the throttle counts under), then [`login_with_password`] (the first
//! factor proved). What follows a proved factor is the login state machine,
//! [`super::signin`].
//!
//! Callable without HTTP: the client is the throttle's key for its address.

use std::future::Future;
use std::time::Duration;

use crate::config::{Features, IdentityAttribute};
use crate::db::models::User;
use crate::db::{users, Db};
use unicode_normalization::UnicodeNormalization;

use crate::domain::{Email, FormErrors, Password};
use crate::messages::{self, Messages, Msg};

use super::error::ServiceError;
use super::hashing::PasswordHasher;
use super::services::Services;
use super::throttle::{self, Budget, Gate, Reservation};

/// Why a login was refused, in Flask-Security's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    IdentityMissing,
    PasswordMissing,
    UserNotFound,
    InvalidPassword,
    ConfirmationRequired,
    Disabled,
}

impl LoginFailure {
    /// A name for events and logs (`invalid_password`, `unknown_user`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            LoginFailure::IdentityMissing => "identity_missing",
            LoginFailure::PasswordMissing => "password_missing",
            LoginFailure::UserNotFound => "unknown_user",
            LoginFailure::InvalidPassword => "invalid_password",
            LoginFailure::ConfirmationRequired => "confirmation_required",
            LoginFailure::Disabled => "disabled",
        }
    }

    pub fn msg(self) -> Msg {
        match self {
            LoginFailure::IdentityMissing => messages::EMAIL_NOT_PROVIDED,
            LoginFailure::PasswordMissing => messages::PASSWORD_NOT_PROVIDED,
            LoginFailure::UserNotFound => messages::USER_DOES_NOT_EXIST,
            LoginFailure::InvalidPassword => messages::INVALID_PASSWORD,
            LoginFailure::ConfirmationRequired => messages::CONFIRMATION_REQUIRED,
            LoginFailure::Disabled => messages::DISABLED_ACCOUNT,
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            LoginFailure::PasswordMissing | LoginFailure::InvalidPassword => "password",
            _ => "email",
        }
    }

    /// As form errors; with generic responses, "no such user" and "wrong password" become
    /// one form-wide message so the answer does not tell whether the account exists.
    pub fn to_form_errors(self, generic: bool, messages: &Messages) -> FormErrors {
        let mut errors = FormErrors::default();
        match self {
            LoginFailure::UserNotFound | LoginFailure::InvalidPassword if generic => {
                errors.add_general(messages.text(messages::GENERIC_AUTHN_FAILED, &[]))
            }
            other => errors.add(other.field(), messages.text(other.msg(), &[])),
        }
        errors
    }
}

/// A refused login, with the account it was for when there is one (for the audit log; its
/// email for `SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW`).
#[derive(Debug, Clone)]
pub struct Refused {
    pub failure: LoginFailure,
    pub user_id: Option<i32>,
    pub email: Option<String>,
}

/// Step 1 of a login: the account an identity names (if any) and the subject its attempts
/// are counted under. Unknown identities are counted too (under a keyed digest of what was
/// typed), so guessing accounts is throttled like guessing passwords.
#[derive(Debug)]
pub struct Identified {
    pub account: Option<User>,
    pub subject: String,
}

pub async fn identify(services: &Services, identity: &str) -> Result<Identified, ServiceError> {
    let account = find_account(&services.db, &services.settings.features, identity).await?;
    Ok(identified(services, identity, account))
}

/// [`identify`] by every listed identity attribute, a phone number included
/// ([`lookup_identity`]): unified sign-in's identity.
pub async fn identify_any(services: &Services, identity: &str) -> Result<Identified, ServiceError> {
    let account = lookup_identity(&services.db, &services.settings.features, identity).await?;
    Ok(identified(services, identity, account))
}

fn identified(services: &Services, identity: &str, account: Option<User>) -> Identified {
    let subject = match &account {
        Some(user) => throttle::account_subject(user.id),
        None => throttle::typed_subject(&services.settings.secret_key, identity),
    };
    Identified { account, subject }
}

/// How a counted credential check ended.
#[derive(Debug)]
pub enum Checked {
    /// Right: the caller settles the reservation ([`throttle::succeeded`], or
    /// [`throttle::release`] when the account may not log in after all).
    Right(Reservation),
    /// Wrong: counted as a failure.
    Wrong,
    /// Not checked: too many recent failures.
    Throttled { retry_after: Duration },
}

/// The one place a credential is checked: the attempt on `subject` from `client` is counted
/// first, then `check` runs. A check that fails for another reason (a full hash queue, the
/// database) takes its count back and passes the error on.
pub async fn check_counted<F>(
    services: &Services,
    subject: String,
    client: &str,
    check: F,
) -> Result<Checked, ServiceError>
where
    F: Future<Output = Result<bool, ServiceError>>,
{
    check_counted_in(services, Budget::FirstFactor(subject), client, check).await
}

/// [`check_counted`] against any budget: a second factor's is the account's own (see
/// [`throttle`]'s rule 5).
pub async fn check_counted_in<F>(
    services: &Services,
    budget: Budget,
    client: &str,
    check: F,
) -> Result<Checked, ServiceError>
where
    F: Future<Output = Result<bool, ServiceError>>,
{
    let settings = &services.settings;
    let reservation = match throttle::reserve(
        &services.db,
        &settings.login_throttle,
        budget,
        client.to_owned(),
    )
    .await?
    {
        Gate::Open(reservation) => reservation,
        Gate::Throttled { retry_after } => return Ok(Checked::Throttled { retry_after }),
    };
    match check.await {
        Ok(true) => Ok(Checked::Right(reservation)),
        Ok(false) => {
            throttle::failed(reservation);
            Ok(Checked::Wrong)
        }
        Err(e) => {
            if let Err(release) = throttle::release(&services.db, reservation).await {
                tracing::warn!(error = %release, "could not take back an unchecked attempt");
            }
            Err(e)
        }
    }
}

/// How one proof of a credential ended: the one outcome type of every check (a password,
/// a code, a link, a passkey, a second factor, a re-authentication). `T` is what the proof
/// gives (the account, the factor that proved it), `R` why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T = (), R = ()> {
    Proved(T),
    Refused(R),
    /// Not checked: too many recent failures (the throttle's answer).
    Throttled {
        retry_after: Duration,
    },
}

impl<T, R> Attempt<T, R> {
    /// The same outcome with the proof turned into another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U, R> {
        match self {
            Attempt::Proved(t) => Attempt::Proved(f(t)),
            Attempt::Refused(r) => Attempt::Refused(r),
            Attempt::Throttled { retry_after } => Attempt::Throttled { retry_after },
        }
    }
}

/// The one rule of whether an account whose credential was right may sign in: confirmed
/// (where confirmation is required before login) and active. Every first factor asks it.
pub fn may_sign_in(features: &Features, user: &User) -> Result<(), LoginFailure> {
    if features.confirmable && !features.login_without_confirmation && user.confirmed_at.is_none() {
        Err(LoginFailure::ConfirmationRequired)
    } else if !user.is_active() {
        Err(LoginFailure::Disabled)
    } else {
        Ok(())
    }
}

/// A counted check of `budget` from `client` that settles its count itself: a right
/// answer is a success (clearing that budget's failures), a wrong one a failure. For the
/// checks whose success needs no further rule (second factors, re-authentication).
pub async fn settle<F>(
    services: &Services,
    budget: Budget,
    client: &str,
    check: F,
) -> Result<Attempt, ServiceError>
where
    F: Future<Output = Result<bool, ServiceError>>,
{
    Ok(
        match check_counted_in(services, budget, client, check).await? {
            Checked::Right(reservation) => {
                throttle::succeeded(&services.db, reservation).await?;
                Attempt::Proved(())
            }
            Checked::Wrong => Attempt::Refused(()),
            Checked::Throttled { retry_after } => Attempt::Throttled { retry_after },
        },
    )
}

/// Steps 1 and 2 with a password: finds the account for `identity` (an email, or a username
/// when enabled) and checks the password through the throttle. An unknown account still
/// costs one password verification, so that the time taken does not tell.
pub async fn login_with_password(
    services: &Services,
    identity: &str,
    password: &str,
    client: &str,
) -> Result<Attempt<Box<User>, Refused>, ServiceError> {
    let refuse = |failure, user: Option<&User>| {
        Ok(Attempt::Refused(Refused {
            failure,
            user_id: user.map(|u| u.id),
            email: user.and_then(|u| u.email.clone()),
        }))
    };
    if identity.is_empty() {
        return refuse(LoginFailure::IdentityMissing, None);
    }
    if password.is_empty() {
        return refuse(LoginFailure::PasswordMissing, None);
    }
    let Identified { account, subject } = identify(services, identity).await?;
    let password = Password::normalize(password, services.settings.password_policy.normalize_form);
    // An account without a password (signed up with a passkey) is checked against the dummy
    // hash too: same time, never right.
    let stored = account
        .as_ref()
        .and_then(|u| u.password_hash().map(str::to_owned));
    let check = async {
        let verified = services.hasher.verify(password.clone(), stored).await?;
        Ok(verified && account.is_some())
    };
    let reservation = match check_counted(services, subject, client, check).await? {
        Checked::Right(reservation) => reservation,
        Checked::Wrong => {
            let failure = match account {
                Some(_) => LoginFailure::InvalidPassword,
                None => LoginFailure::UserNotFound,
            };
            return refuse(failure, account.as_ref());
        }
        Checked::Throttled { retry_after } => return Ok(Attempt::Throttled { retry_after }),
    };
    let Some(user) = account else {
        // check() cannot be right without an account.
        throttle::release(&services.db, reservation).await?;
        return refuse(LoginFailure::UserNotFound, None);
    };
    if let Err(failure) = may_sign_in(&services.settings.features, &user) {
        // The password was right: not a failure, but no login either.
        throttle::release(&services.db, reservation).await?;
        return refuse(failure, Some(&user));
    }
    throttle::succeeded(&services.db, reservation).await?;
    let user = upgrade_hash(&services.db, &services.hasher, user, password).await;
    Ok(Attempt::Proved(Box::new(user)))
}

/// The password of a logged-in `user` proved again (`/verify`, `/change`'s current
/// password): throttled and counted exactly like a login of that account, so a stolen
/// session is no way around the login throttle.
pub async fn reprove_password(
    services: &Services,
    user: &User,
    password: &str,
    client: &str,
) -> Result<Attempt, ServiceError> {
    let subject = throttle::account_subject(user.id);
    let check = services.hasher.verify(
        Password::normalize(password, services.settings.password_policy.normalize_form),
        user.password_hash().map(str::to_owned),
    );
    let check = async { Ok(check.await?) };
    settle(services, Budget::FirstFactor(subject), client, check).await
}

/// Re-hashes a password whose stored hash is not in the configured scheme and cost (as
/// Flask-Security's `verify_and_update_password`). The uniquifier stays, so the user's
/// other sessions go on. Best effort: a failure is logged and the login still succeeds.
async fn upgrade_hash(
    db: &Db,
    hasher: &PasswordHasher,
    mut user: User,
    password: Password,
) -> User {
    let Some(current) = user.password_hash().map(str::to_owned) else {
        return user;
    };
    if !hasher.needs_update(&current) {
        return user;
    }
    let new = match hasher.hash(password).await {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password hash upgrade failed");
            return user;
        }
    };
    let (id, old, stored) = (user.id, current, new.clone());
    match db
        .run(move |c| users::upgrade_password_hash(c, id, &old, &stored))
        .await
    {
        Ok(true) => {
            tracing::info!(
                event = "password_rehash",
                user_id = user.id,
                "password hash upgraded"
            );
            user.password = Some(new);
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password hash upgrade failed");
        }
    }
    user
}

/// The account a login form's identity names, by `SECURITY_USER_IDENTITY_ATTRIBUTES` as
/// Flask-Security's login form reads it: an email (an identity with `@`) when email is
/// listed, otherwise a username when username is listed. Matched case-folded; an identity
/// that today's rules refuse is still looked up exactly as stored, so that adopted accounts
/// keep working.
pub async fn find_account(
    db: &Db,
    features: &Features,
    identity: &str,
) -> Result<Option<User>, ServiceError> {
    find_identity(db, features, identity, false).await
}

/// [`find_account`] with every listed attribute, a unified sign-in phone number
/// (`us_phone_number`) included: Flask-Security's `lookup_identity`, for unified sign-in's
/// and the passkey sign-in's identity.
pub async fn lookup_identity(
    db: &Db,
    features: &Features,
    identity: &str,
) -> Result<Option<User>, ServiceError> {
    find_identity(db, features, identity, true).await
}

async fn find_identity(
    db: &Db,
    features: &Features,
    identity: &str,
    by_phone: bool,
) -> Result<Option<User>, ServiceError> {
    let typed: String = identity.nfc().collect();
    if identity.contains('@') {
        if !features.identifies_by(IdentityAttribute::Email) {
            return Ok(None);
        }
        return Ok(match Email::parse(identity) {
            Ok(email) => db.run(move |c| users::find_by_email(c, &email)).await?,
            Err(_) => {
                db.run(move |c| users::find_by_stored_email(c, &typed))
                    .await?
            }
        });
    }
    // A phone number typed with its `+country` is never a username (letters and digits
    // only); stored numbers are E.164, whatever the default region read them in.
    if by_phone
        && features.identifies_by(IdentityAttribute::UsPhoneNumber)
        && identity.trim_start().starts_with('+')
    {
        let region = crate::domain::phone::Region::US;
        if let Ok(number) = crate::domain::phone::Phone::parse(identity, region) {
            let number = number.into_string();
            return Ok(db.run(move |c| users::find_by_phone(c, &number)).await?);
        }
    }
    if features.identifies_by(IdentityAttribute::Username) {
        return Ok(
            match crate::domain::Username::existing(identity, &features.username_rules) {
                Ok(name) => db.run(move |c| users::find_by_username(c, &name)).await?,
                Err(_) => {
                    db.run(move |c| users::find_by_stored_username(c, &typed))
                        .await?
                }
            },
        );
    }
    if features.identifies_by(IdentityAttribute::Email) {
        // Not an email; an adopted account's stored address is matched as typed.
        return Ok(db
            .run(move |c| users::find_by_stored_email(c, &typed))
            .await?);
    }
    Ok(None)
}
