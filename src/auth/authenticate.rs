//! The login rule: who may log in with which password. Callable without HTTP.

use crate::config::Features;
use crate::db::models::User;
use crate::db::{users, Db};
use crate::domain::{Email, FormErrors, Password};
use crate::messages::{self, Messages, Msg};

use super::{PasswordHasher, ServiceError};

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

/// Finds the account for `identity` (an email, or a username when enabled) and checks the
/// password. An unknown account still costs one password verification.
pub async fn authenticate(
    db: &Db,
    hasher: &PasswordHasher,
    features: &Features,
    identity: &str,
    password: &str,
) -> Result<Result<User, LoginFailure>, ServiceError> {
    Ok(
        authenticate_detailed(db, hasher, features, identity, password)
            .await?
            .map_err(|refused| refused.failure),
    )
}

/// A refused login, with the account it was for when there is one (for the audit log).
#[derive(Debug, Clone, Copy)]
pub struct Refused {
    pub failure: LoginFailure,
    pub user_id: Option<i32>,
}

/// [`authenticate`], also telling which account a refusal concerned.
pub async fn authenticate_detailed(
    db: &Db,
    hasher: &PasswordHasher,
    features: &Features,
    identity: &str,
    password: &str,
) -> Result<Result<User, Refused>, ServiceError> {
    let refuse = |failure, user: Option<&User>| {
        Ok(Err(Refused {
            failure,
            user_id: user.map(|u| u.id),
        }))
    };
    if identity.is_empty() {
        return refuse(LoginFailure::IdentityMissing, None);
    }
    if password.is_empty() {
        return refuse(LoginFailure::PasswordMissing, None);
    }
    let user = find_account(db, features, identity).await?;
    let password = Password::normalize(password);
    let verified = hasher
        .verify(password.clone(), user.as_ref().map(|u| u.password.clone()))
        .await?;
    let Some(user) = user else {
        return refuse(LoginFailure::UserNotFound, None);
    };
    if !verified {
        return refuse(LoginFailure::InvalidPassword, Some(&user));
    }
    if features.confirmable && !features.login_without_confirmation && user.confirmed_at.is_none() {
        return refuse(LoginFailure::ConfirmationRequired, Some(&user));
    }
    if !user.is_active() {
        return refuse(LoginFailure::Disabled, Some(&user));
    }
    Ok(Ok(upgrade_hash(db, hasher, user, password).await))
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
    if !hasher.needs_update(&user.password) {
        return user;
    }
    let new = match hasher.hash(password).await {
        Ok(new) => new,
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password hash upgrade failed");
            return user;
        }
    };
    let (id, old, stored) = (user.id, user.password.clone(), new.clone());
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
            user.password = new;
        }
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password hash upgrade failed");
        }
    }
    user
}

/// The account an identity names, matched case-insensitively.
pub async fn find_account(
    db: &Db,
    features: &Features,
    identity: &str,
) -> Result<Option<User>, ServiceError> {
    let by_username = features.username_enable && !identity.contains('@');
    if by_username {
        let name = crate::domain::Username::parse(identity).ok();
        return Ok(match name {
            Some(name) => {
                db.run(move |c| users::find_by_username(c, name.as_str()))
                    .await?
            }
            None => None,
        });
    }
    Ok(match Email::parse(identity) {
        Ok(email) => {
            db.run(move |c| users::find_by_email(c, email.as_str()))
                .await?
        }
        Err(_) => None,
    })
}
