//! Password recovery (`SECURITY_RECOVERABLE`): the rules behind `/reset` and
//! `/reset/<token>`. Callable without HTTP.

use super::lifecycle;
use diesel::Connection;

use super::error::ServiceError;
use super::events::SecurityEvent;
use super::link_mail::{queue_link_mail, MailedLink};
use super::login::ClientInfo;
use super::services::Services;
use super::user_tokens::{Purpose, TokenState};
use crate::crypto::new_uniquifier;
use crate::db::models::User;
use crate::db::{tokens, users, DbConnection};
use crate::domain::{Email, FormErrors, Password};
use crate::mail;

#[derive(Debug, PartialEq, Eq)]
pub enum ForgotOutcome {
    Sent,
    UnknownUser,
    /// Confirmable and not yet confirmed: no reset before confirmation.
    ConfirmationRequired,
}

/// "I forgot my password": mails a reset link. With generic responses an unconfirmed user
/// gets the confirmation mail instead, so the answer can stay the same for everyone.
///
/// With `send` false (the address had its share of mail), or `SECURITY_SEND_PASSWORD_RESET_EMAIL`
/// false, the outcome is the same, and no reset mail is queued.
pub async fn forgot(
    services: &Services,
    email: &Email,
    send: bool,
) -> Result<ForgotOutcome, ServiceError> {
    let services = services.clone();
    let email = email.clone();
    services
        .db
        .clone()
        .run_with(move |conn| {
            let Some(user) = users::find_by_email(conn, &email)? else {
                return Ok(ForgotOutcome::UnknownUser);
            };
            let features = &services.settings.features;
            if features.confirmable && user.confirmed_at.is_none() {
                if features.return_generic_responses && send {
                    conn.transaction::<_, ServiceError, _>(|conn| {
                        queue_link_mail(conn, &services, &user, MailedLink::Confirm)
                    })?;
                }
                return Ok(ForgotOutcome::ConfirmationRequired);
            }
            if send && features.send_password_reset_email {
                conn.transaction::<_, ServiceError, _>(|conn| {
                    queue_link_mail(conn, &services, &user, MailedLink::Reset)
                })?;
            }
            Ok(ForgotOutcome::Sent)
        })
        .await
}

#[derive(Debug, PartialEq, Eq)]
pub enum ResetLink {
    Valid,
    /// Too old: fresh instructions went to this address.
    ExpiredResent(String),
    Invalid,
}

/// Checks a reset link before showing its form.
pub async fn check_link(services: &Services, raw_token: &str) -> Result<ResetLink, ServiceError> {
    let services = services.clone();
    let raw = raw_token.to_owned();
    services
        .db
        .clone()
        .run_with(move |conn| {
            Ok(match services.tokens.check(conn, &raw, Purpose::Reset)? {
                TokenState::Valid(_) => ResetLink::Valid,
                TokenState::Expired(user) => {
                    // Issuing the fresh link retires the expired one.
                    if services.settings.features.send_password_reset_email {
                        conn.transaction::<_, ServiceError, _>(|conn| {
                            queue_link_mail(conn, &services, &user, MailedLink::Reset)
                        })?;
                    }
                    ResetLink::ExpiredResent(user.email_or_empty().to_owned())
                }
                TokenState::Used(_) | TokenState::Invalid => ResetLink::Invalid,
            })
        })
        .await
}

/// The account a still-valid reset link is for, without using or renewing it: the new
/// password's zxcvbn check counts that account's email and username as guessable.
pub async fn link_owner(
    services: &Services,
    raw_token: &str,
) -> Result<Option<User>, ServiceError> {
    let services = services.clone();
    let raw = raw_token.to_owned();
    services
        .db
        .clone()
        .run_with(move |conn| {
            Ok(match services.tokens.check(conn, &raw, Purpose::Reset)? {
                TokenState::Valid(user) => Some(user),
                _ => None,
            })
        })
        .await
}

/// The reset form, whole: checks the new password (and its confirmation) against the
/// policy, then sets it through the link ([`reset_password`]). `Ok(Err(..))` the form's
/// errors; `Ok(Ok(None))` the link is not (or no longer) valid.
pub async fn reset_from_form(
    services: &Services,
    raw_token: &str,
    password: &str,
    password_confirm: Option<&str>,
    client: &ClientInfo,
) -> Result<Result<Option<User>, FormErrors>, ServiceError> {
    let policy = &services.settings.password_policy;
    let mut errors = FormErrors::default();
    // Only zxcvbn needs to know whose password it is.
    let owner = match policy.zxcvbn_min_score {
        Some(_) => link_owner(services, raw_token).await?,
        None => None,
    };
    let user_inputs = owner.as_ref().map_or(["", ""], |u| {
        [u.email_or_empty(), u.username.as_deref().unwrap_or("")]
    });
    let fields = ["password", "password_confirm"];
    let messages = &services.messages;
    let password = Password::parse_confirmed(
        password,
        password_confirm,
        (policy, &user_inputs),
        fields,
        messages,
        &mut errors,
    );
    let Some(password) = password.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    let reset = reset_password(services, raw_token, password, client).await?;
    if let Some(user) = &reset {
        tracing::info!(
            event = "password_reset",
            user_id = user.id,
            ip = %client.ip.as_deref().unwrap_or("-"),
            "password reset"
        );
    }
    Ok(Ok(reset))
}

/// Sets a new password through a reset link. The token is used at most once, even by
/// concurrent requests; every login of the user ends; no one is logged in. The notice
/// (unless `SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL` is off) names `client`'s time,
/// device and address; the `password_reset` event is emitted.
pub async fn reset_password(
    services: &Services,
    raw_token: &str,
    new_password: Password,
    client: &ClientInfo,
) -> Result<Option<User>, ServiceError> {
    // Hash before the transaction: the database is not held while bcrypt runs.
    let hash = services.hasher.hash(new_password).await?;
    let services2 = services.clone();
    let raw = raw_token.to_owned();
    let details = super::notices::details(client, &services.messages);
    let updated = services
        .db
        .clone()
        .run_with(move |conn| {
            let services = services2;
            conn.transaction::<_, ServiceError, _>(|conn| {
                let Some(user) = services.tokens.consume(conn, &raw, Purpose::Reset)? else {
                    return Ok(None);
                };
                // A recovery through the mailbox; the first proof of it, for an account
                // never confirmed (it is confirmed now).
                let event = match user.confirmed_at {
                    None => lifecycle::Event::MailboxProven,
                    Some(_) => lifecycle::Event::PasswordReset,
                };
                replace_password(conn, &user, &hash, event)?;
                if user.confirmed_at.is_none() {
                    users::set_confirmed(conn, user.id, crate::db::now())?;
                }
                if services.settings.notices.password_reset {
                    let notice = services
                        .mailer()
                        .reset_notice(user.email_or_empty(), &details)?;
                    mail::enqueue(conn, &services.outbox_key, &notice)?;
                }
                Ok(users::find_by_id(conn, user.id)?)
            })
        })
        .await?;
    if let Some(user) = &updated {
        services.emit(SecurityEvent::PasswordReset, Some(user.id), client);
    }
    Ok(updated)
}

/// Stores a new hash and uniquifier, ends what `event` (a reset, a change, or the first
/// proof of the mailbox) ends in the lifecycle table, every login among them, and every
/// outstanding reset link; the account's failed logins are forgotten (the owner proved a
/// mailbox or the password).
pub fn replace_password(
    conn: &mut DbConnection,
    user: &User,
    hash: &str,
    event: lifecycle::Event,
) -> Result<(), ServiceError> {
    users::set_password(conn, user.id, hash, &new_uniquifier())?;
    lifecycle::apply(conn, event, &lifecycle::Scope::user(user.id))?;
    tokens::delete_for_user(conn, user.id, Purpose::Reset.as_str())?;
    super::throttle::clear_account(conn, user.id)?;
    Ok(())
}
