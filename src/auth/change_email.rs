//! Change of email address (`SECURITY_CHANGE_EMAIL`): the rules behind `/change-email`,
//! `/change-email/<token>` and the "this wasn't me" link. Callable without HTTP.
//!
//! As Flask-Security: a link to the new address switches the account when it is opened.
//! Stricter: the link works once and dies if the address or the password changes first;
//! the switch ends every other login; and the old address is told, with the new one masked
//! and a link that takes the account back (every login ends, the old address returns when
//! it is still free, and a password reset is mailed to it).

use super::lifecycle;
use diesel::Connection;

use super::error::ServiceError;
use super::events::SecurityEvent;
use super::link_mail::{queue_link_mail_to, MailedLink};
use super::login::ClientInfo;
use super::services::Services;
use super::user_tokens::{Purpose, TokenState};
use crate::crypto::new_uniquifier;
use crate::db::models::User;
use crate::db::users::{self, IdentityChangeError};
use crate::db::{self, tokens, DbConnection};
use crate::domain::{Email, FormErrors};
use crate::mail::{self, NoticeDetails};
use crate::messages;

/// Asks to move `user` to `new`: mails the confirmation link to `new`. A taken address
/// (the user's own included) is a form error, unless responses are generic: then the
/// answer is the same as for a free address and nothing is sent (as Flask-Security; a mail
/// to the taken address would let anyone pester its owner).
///
/// With `send` false (the address had its share of mail) the outcome is the same, and no
/// mail is queued.
pub async fn request_change(
    services: &Services,
    user: &User,
    new: &Email,
    send: bool,
) -> Result<Result<(), FormErrors>, ServiceError> {
    let services = services.clone();
    let (user, new) = (user.clone(), new.clone());
    services
        .db
        .clone()
        .run_with(move |conn| {
            if users::find_by_email(conn, &new)?.is_some() {
                let settings = &services.settings;
                if settings.features.return_generic_responses {
                    return Ok(Ok(()));
                }
                return Ok(Err(FormErrors::single(
                    "email",
                    services.messages.text(
                        messages::EMAIL_ALREADY_ASSOCIATED,
                        &[("email", new.as_typed())],
                    ),
                )));
            }
            if send {
                conn.transaction::<_, ServiceError, _>(|conn| {
                    let within = services.settings.account_changes.change_email_within;
                    let token = services.tokens.issue_with_detail(
                        conn,
                        &user,
                        Purpose::ChangeEmail,
                        within,
                        Some(new.as_str()),
                    )?;
                    let mail = services.mailer().change_email_instructions(
                        new.as_str(),
                        user.email_or_empty(),
                        &token,
                        within,
                    )?;
                    mail::enqueue(conn, &services.outbox_key, &mail)?;
                    Ok(())
                })?;
            }
            Ok(Ok(()))
        })
        .await
}

/// What opening a confirmation link did.
#[derive(Debug)]
pub enum Confirmed {
    /// The account now has the new address; every login it had has ended.
    Changed { user: Box<User>, old_email: String },
    /// Genuine but too old.
    Expired,
    /// Unknown, used, bound to an address or password that has changed since, or for an
    /// address another account took meanwhile.
    Invalid,
}

/// Opens a confirmation link: switches the account to the address it carries, confirmed,
/// with a new uniquifier (every login and remember-me cookie ends), and mails the old
/// address its notice with the "this wasn't me" link, all in one transaction. The notice
/// names `client`'s time, device and address (whoever opened the link); the
/// `email_changed` event is emitted.
pub async fn confirm_change(
    services: &Services,
    raw: &str,
    client: &ClientInfo,
) -> Result<Confirmed, ServiceError> {
    let outer = services;
    let services = services.clone();
    let raw = raw.to_owned();
    let details = super::notices::details(client, &services.messages);
    let confirmed = services
        .db
        .clone()
        .run_with(move |conn| {
            let changed = conn.transaction::<_, ServiceError, _>(|conn| {
                let consumed =
                    services
                        .tokens
                        .consume_with_detail(conn, &raw, Purpose::ChangeEmail)?;
                let Some((user, Some(new))) = consumed else {
                    return Ok(None);
                };
                let Ok(new) = Email::parse(&new) else {
                    return Ok(None);
                };
                switch_email(conn, &services, &user, &new, &details)
            });
            match changed {
                Ok(Some(confirmed)) => Ok(confirmed),
                // A lost race for the address rolls back, token included; the link is dead
                // anyway while the address is taken.
                Ok(None) | Err(ServiceError::Conflict) => Ok(
                    match services.tokens.check(conn, &raw, Purpose::ChangeEmail)? {
                        TokenState::Expired(_) => Confirmed::Expired,
                        _ => Confirmed::Invalid,
                    },
                ),
                Err(e) => Err(e),
            }
        })
        .await?;
    if let Confirmed::Changed { user, .. } = &confirmed {
        outer.emit(SecurityEvent::EmailChanged, Some(user.id), client);
    }
    Ok(confirmed)
}

/// The switch itself, inside the caller's transaction.
fn switch_email(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    new: &Email,
    details: &NoticeDetails,
) -> Result<Option<Confirmed>, ServiceError> {
    let old_email = user.email_or_empty().to_owned();
    match users::set_email(conn, user.id, new, &new_uniquifier(), db::now()) {
        Ok(()) => {}
        Err(IdentityChangeError::Taken) => return Err(ServiceError::Conflict),
        Err(IdentityChangeError::Db(e)) => return Err(e.into()),
    }
    if users::email_held_by_another(conn, new, user.id)? {
        return Err(ServiceError::Conflict);
    }
    let scope = lifecycle::Scope::user(user.id);
    lifecycle::apply(conn, lifecycle::Event::EmailChange, &scope)?;
    // Links to the old address (confirmation, reset) are void.
    for purpose in [Purpose::Confirm, Purpose::Reset] {
        tokens::delete_for_user(conn, user.id, purpose.as_str())?;
    }
    if !old_email.is_empty() {
        let within = services.settings.account_changes.change_email_revert_within;
        // The link remembers the second factor the account has now: proving it after the
        // change ends the link (the old mailbox never had it).
        let detail = match lifecycle::revert_snapshot(user) {
            Some(snapshot) => format!("{old_email}{}{snapshot}", lifecycle::SNAPSHOT_SEPARATOR),
            None => old_email.clone(),
        };
        let token = services.tokens.issue_with_detail(
            conn,
            user,
            Purpose::RevertEmail,
            within,
            Some(&detail),
        )?;
        let notice = services.mailer().change_email_notice(
            &old_email,
            &mask_email(new.as_str()),
            &token,
            within,
            details,
        )?;
        mail::enqueue(conn, &services.outbox_key, &notice)?;
    }
    let user = users::find_by_id(conn, user.id)?
        .ok_or(ServiceError::Db(diesel::result::Error::NotFound.into()))?;
    Ok(Some(Confirmed::Changed {
        user: Box::new(user),
        old_email,
    }))
}

/// Whether a "this wasn't me" link can still be used (shown before the user confirms).
pub async fn revert_link_is_valid(services: &Services, raw: &str) -> Result<bool, ServiceError> {
    let services = services.clone();
    let raw = raw.to_owned();
    services
        .db
        .clone()
        .run_with(move |conn| {
            Ok(matches!(
                services.tokens.check(conn, &raw, Purpose::RevertEmail)?,
                TokenState::Valid(_)
            ))
        })
        .await
}

/// What a "this wasn't me" link did.
#[derive(Debug, PartialEq, Eq)]
pub enum Reverted {
    /// Every login ended. `restored`: the account has the old address again (false when
    /// another account took it meanwhile). `reset_sent_to`: the old address, where the
    /// password reset link went.
    Locked {
        user_id: i32,
        restored: bool,
        reset_sent_to: String,
    },
    /// Unknown, expired or used.
    Invalid,
}

/// Uses a "this wasn't me" link: a new uniquifier and every login gone (whoever changed the
/// address is out), pending changes void, the old address back when no one else has it,
/// and a password reset mailed to the old address, in one transaction.
pub async fn revert_change(services: &Services, raw: &str) -> Result<Reverted, ServiceError> {
    let services = services.clone();
    let raw = raw.to_owned();
    services
        .db
        .clone()
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                let consumed =
                    services
                        .tokens
                        .consume_with_detail(conn, &raw, Purpose::RevertEmail)?;
                let Some((user, Some(detail))) = consumed else {
                    return Ok(Reverted::Invalid);
                };
                let old = match detail.split_once(lifecycle::SNAPSHOT_SEPARATOR) {
                    Some((old, _snapshot)) => old.to_owned(),
                    None => detail,
                };
                let scope = lifecycle::Scope::user(user.id);
                lifecycle::apply(conn, lifecycle::Event::EmailRevert, &scope)?;
                let uniquifier = new_uniquifier();
                users::rotate_uniquifier(conn, user.id, &uniquifier)?;
                let restored = match Email::parse(&old) {
                    Ok(email) if user.email_or_empty() == email.as_str() => true,
                    Ok(email) => restore_email(conn, &user, &email, &uniquifier)?,
                    Err(_) => false,
                };
                let user = users::find_by_id(conn, user.id)?
                    .ok_or(ServiceError::Db(diesel::result::Error::NotFound.into()))?;
                // The reset goes to the address the link was mailed to, whatever the
                // account's address is now.
                queue_link_mail_to(conn, &services, &user, MailedLink::Reset, &old)?;
                Ok(Reverted::Locked {
                    user_id: user.id,
                    restored,
                    reset_sent_to: old,
                })
            })
        })
        .await
}

/// Gives the account its old address back, if no other account took it. A savepoint keeps
/// a refused update from spoiling the surrounding transaction on PostgreSQL.
fn restore_email(
    conn: &mut DbConnection,
    user: &User,
    old: &Email,
    uniquifier: &str,
) -> Result<bool, ServiceError> {
    let restored = conn.transaction::<_, ServiceError, _>(|conn| {
        match users::set_email(conn, user.id, old, uniquifier, db::now()) {
            Ok(()) if users::email_held_by_another(conn, old, user.id)? => {
                Err(ServiceError::Conflict)
            }
            Ok(()) => Ok(true),
            Err(IdentityChangeError::Taken) => Err(ServiceError::Conflict),
            Err(IdentityChangeError::Db(e)) => Err(e.into()),
        }
    });
    match restored {
        Ok(done) => Ok(done),
        Err(ServiceError::Conflict) => Ok(false),
        Err(e) => Err(e),
    }
}

/// An address as the old one's notice shows it: enough for its owner to recognise, not
/// enough to copy: `j***@example.com`.
pub fn mask_email(email: &str) -> String {
    match email.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_email;

    #[test]
    fn a_masked_address_keeps_the_first_letter_and_the_domain() {
        assert_eq!(mask_email("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask_email("é@example.org"), "é***@example.org");
        assert_eq!(mask_email("nodomain"), "***");
    }
}
