//! Password change (`SECURITY_CHANGEABLE`): the rule behind `/change`, and the one behind
//! `latchkey users change-password`. Callable without HTTP.

use std::time::Duration;

use diesel::Connection;

use super::authenticate::{reprove_password, Attempt};
use super::error::ServiceError;
use super::events::SecurityEvent;
use super::login::ClientInfo;
use super::recoverable::replace_password;
use super::services::Services;
use crate::db::models::User;
use crate::db::users;
use crate::domain::password::PasswordError;
use crate::domain::{FormErrors, Password};
use crate::mail;
use crate::messages;

#[derive(Debug, Default, Clone)]
pub struct ChangeInput {
    pub current: String,
    pub new: String,
    pub new_confirm: Option<String>,
}

/// Why a change was not made.
#[derive(Debug)]
pub enum ChangeRefusal {
    Invalid(FormErrors),
    /// Too many wrong current passwords: the login throttle's answer.
    Throttled {
        retry_after: Duration,
    },
}

/// `/change`: proves the current password (through the login throttle, counted like a
/// login of this account from `client`), checks the new one, then replaces it: every login
/// of the user ends (the caller starts a fresh one for the session that made the change)
/// and a notice is mailed. Returns the updated user.
///
/// An account without a password (signed up with a passkey) sets its first one here with
/// no current password: as in Flask-Security, the caller's fresh session is the proof.
pub async fn change_password(
    services: &Services,
    user: &User,
    input: &ChangeInput,
    client: &str,
    origin: &ClientInfo,
) -> Result<Result<User, ChangeRefusal>, ServiceError> {
    let settings = &services.settings;
    let messages = &services.messages;
    let mut errors = FormErrors::default();
    let has_password = user.password_hash().is_some();
    if input.current.is_empty() && has_password {
        errors.add("password", messages.describe(&PasswordError::Missing));
    }
    let new = Password::parse_confirmed(
        &input.new,
        input.new_confirm.as_deref(),
        (&settings.password_policy, &user_inputs(user)),
        ["new_password", "new_password_confirm"],
        messages,
        &mut errors,
    );
    if has_password && !input.current.is_empty() {
        match reprove_password(services, user, &input.current, client).await? {
            Attempt::Proved(()) => {}
            Attempt::Refused(()) => {
                errors.add("password", messages.text(messages::INVALID_PASSWORD, &[]));
            }
            Attempt::Throttled { retry_after } => {
                return Ok(Err(ChangeRefusal::Throttled { retry_after }))
            }
        }
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Ok(Err(ChangeRefusal::Invalid(errors)));
    };
    if has_password
        && new == Password::normalize(&input.current, settings.password_policy.normalize_form)
    {
        return Ok(Err(ChangeRefusal::Invalid(FormErrors::single(
            "new_password",
            messages.text(messages::PASSWORD_IS_THE_SAME, &[]),
        ))));
    }
    let updated = set_password(services, user, new, origin).await?;
    tracing::info!(
        event = "password_change",
        user_id = updated.id,
        ip = %origin.ip.as_deref().unwrap_or("-"),
        "password changed"
    );
    Ok(Ok(updated))
}

/// An operator's new password for `user` (no current password): the same policy and the
/// same "must be different" rule as `/change`, then [`set_password`].
pub async fn set_new_password(
    services: &Services,
    user: &User,
    raw: &str,
) -> Result<Result<User, FormErrors>, ServiceError> {
    let settings = &services.settings;
    let new = match Password::parse(raw, &settings.password_policy, &user_inputs(user)) {
        Ok(new) => new,
        Err(e) => {
            return Ok(Err(FormErrors::single(
                "new_password",
                services.messages.describe(&e),
            )))
        }
    };
    let old = user.password_hash().map(str::to_owned);
    if old.is_some() && services.hasher.verify(new.clone(), old).await? {
        return Ok(Err(FormErrors::single(
            "new_password",
            services.messages.text(messages::PASSWORD_IS_THE_SAME, &[]),
        )));
    }
    Ok(Ok(set_password(
        services,
        user,
        new,
        &ClientInfo::default(),
    )
    .await?))
}

/// Stores `new` (already checked) for `user`: every login ends, every reset link dies, the
/// account's failed logins are forgotten, and the "password changed" notice is queued
/// (unless `SECURITY_SEND_PASSWORD_CHANGE_EMAIL` is off), all in one transaction; the
/// `password_changed` event is emitted. `origin` is the request that asked (the notice names
/// its time, client and address; `ClientInfo::default()` for an operator's command).
/// Returns the updated user.
pub async fn set_password(
    services: &Services,
    user: &User,
    new: Password,
    origin: &ClientInfo,
) -> Result<User, ServiceError> {
    // Hash before the transaction: the database is not held while the hash runs.
    let hash = services.hasher.hash(new).await?;
    let services2 = services.clone();
    let user = user.clone();
    let details = super::notices::details(origin, &services.messages);
    let updated = services
        .db
        .clone()
        .run_with(move |conn| {
            let services = services2;
            conn.transaction::<_, ServiceError, _>(|conn| {
                let event = super::lifecycle::Event::PasswordChange;
                replace_password(conn, &user, &hash, event)?;
                if services.settings.notices.password_change {
                    let notice = services
                        .mailer()
                        .change_notice(user.email_or_empty(), &details)?;
                    mail::enqueue(conn, &services.outbox_key, &notice)?;
                }
                users::find_by_id(conn, user.id)?
                    .ok_or(ServiceError::Db(diesel::result::Error::NotFound.into()))
            })
        })
        .await?;
    services.emit(SecurityEvent::PasswordChanged, Some(updated.id), origin);
    Ok(updated)
}

/// The account's own words, which zxcvbn counts as guessable.
fn user_inputs(user: &User) -> [&str; 2] {
    [
        user.email_or_empty(),
        user.username.as_deref().unwrap_or(""),
    ]
}
