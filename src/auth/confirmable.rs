//! Email confirmation (`SECURITY_CONFIRMABLE`): the rules behind `/confirm` and
//! `/confirm/<token>`. Callable without HTTP.

use super::events::SecurityEvent;
use super::lifecycle;
use super::login::ClientInfo;
use diesel::Connection;

use super::error::ServiceError;
use super::link_mail::{queue_link_mail, MailedLink};
use super::services::Services;
use super::user_tokens::{Purpose, TokenState};
use crate::db::models::User;
use crate::db::{self, users};
use crate::domain::Email;

#[derive(Debug)]
pub enum ConfirmOutcome {
    Confirmed(Box<User>),
    AlreadyConfirmed,
    /// The link was too old; fresh instructions went to this address.
    ExpiredResent(String),
    Invalid,
}

/// Confirms the email a link was sent to. The token is used at most once.
/// The `confirmed` event is emitted for `client`.
pub async fn confirm(
    services: &Services,
    raw_token: &str,
    client: &ClientInfo,
) -> Result<ConfirmOutcome, ServiceError> {
    let outer = services;
    let services = services.clone();
    let raw = raw_token.to_owned();
    let outcome = services
        .db
        .clone()
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                if let Some(user) = services.tokens.consume(conn, &raw, Purpose::Confirm)? {
                    if user.confirmed_at.is_some() {
                        return Ok(ConfirmOutcome::AlreadyConfirmed);
                    }
                    // Whoever used the account before its mailbox was proved (possible only
                    // with SECURITY_LOGIN_WITHOUT_CONFIRMATION) keeps nothing they added.
                    if services.settings.features.login_without_confirmation {
                        let scope = lifecycle::Scope::user(user.id);
                        lifecycle::apply(conn, lifecycle::Event::MailboxProven, &scope)?;
                    }
                    users::set_confirmed(conn, user.id, db::now())?;
                    let user = users::find_by_id(conn, user.id)?.unwrap_or(user);
                    return Ok(ConfirmOutcome::Confirmed(Box::new(user)));
                }
                Ok(match services.tokens.check(conn, &raw, Purpose::Confirm)? {
                    TokenState::Used(user) | TokenState::Valid(user)
                        if user.confirmed_at.is_some() =>
                    {
                        ConfirmOutcome::AlreadyConfirmed
                    }
                    TokenState::Expired(user) if user.confirmed_at.is_none() => {
                        // Issuing the fresh link retires the expired one.
                        queue_link_mail(conn, &services, &user, MailedLink::Confirm)?;
                        ConfirmOutcome::ExpiredResent(user.email_or_empty().to_owned())
                    }
                    TokenState::Expired(_) => ConfirmOutcome::AlreadyConfirmed,
                    _ => ConfirmOutcome::Invalid,
                })
            })
        })
        .await?;
    if let ConfirmOutcome::Confirmed(user) = &outcome {
        tracing::info!(user_id = user.id, "email confirmed");
        outer.emit(SecurityEvent::Confirmed, Some(user.id), client);
    }
    Ok(outcome)
}

#[derive(Debug, PartialEq, Eq)]
pub enum ResendOutcome {
    Sent,
    UnknownUser,
    AlreadyConfirmed,
}

/// "Send me the confirmation mail again".
/// With `send` false (the address had its share of mail) the outcome is the same, and no
/// mail is queued.
pub async fn resend(
    services: &Services,
    email: &Email,
    send: bool,
) -> Result<ResendOutcome, ServiceError> {
    let services = services.clone();
    let email = email.clone();
    services
        .db
        .clone()
        .run_with(move |conn| {
            let Some(user) = users::find_by_email(conn, &email)? else {
                return Ok(ResendOutcome::UnknownUser);
            };
            if user.confirmed_at.is_some() {
                return Ok(ResendOutcome::AlreadyConfirmed);
            }
            if send {
                conn.transaction::<_, ServiceError, _>(|conn| {
                    queue_link_mail(conn, &services, &user, MailedLink::Confirm)
                })?;
            }
            Ok(ResendOutcome::Sent)
        })
        .await
}
