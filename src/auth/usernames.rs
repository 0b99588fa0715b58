//! Usernames that change and can be recovered (`SECURITY_CHANGE_USERNAME`,
//! `SECURITY_USERNAME_RECOVERY`): the rules behind `/change-username` and
//! `/recover-username`. Callable without HTTP.
//!
//! A new username passes the registration form's checks ([`crate::domain::Username`]:
//! normalised, case-folded, no invisible characters, no mixed scripts), so two accounts
//! cannot look alike, and the unique index settles two accounts racing for one name.

use super::events::SecurityEvent;
use super::login::ClientInfo;
use diesel::Connection;

use super::error::ServiceError;
use super::services::Services;
use crate::db::models::User;
use crate::db::users::{self, IdentityChangeError};
use crate::domain::{Email, FormErrors, Username, UsernameError};
use crate::mail;
use crate::messages;

/// Gives `user` the username typed as `raw`, and mails the notice (unless
/// `SECURITY_SEND_USERNAME_CHANGE_EMAIL` is off), in one transaction. A name that another
/// account has (or this one already has) is a form error: usernames are public, so saying
/// so reveals nothing a sign-up form would not. Returns the updated user.
pub async fn change_username(
    services: &Services,
    user: &User,
    raw: &str,
    client: &ClientInfo,
) -> Result<Result<User, FormErrors>, ServiceError> {
    let messages = &services.messages;
    let raw = raw.trim();
    let parsed = if raw.is_empty() {
        Err(UsernameError::Missing)
    } else {
        Username::parse(raw, &services.settings.username_policy)
    };
    let username = match parsed {
        Ok(username) => username,
        Err(e) => return Ok(Err(FormErrors::single("username", messages.describe(&e)))),
    };
    let taken = FormErrors::single(
        "username",
        messages.text(
            messages::USERNAME_ALREADY_ASSOCIATED,
            &[("username", username.as_typed())],
        ),
    );
    let unchanged = user
        .username
        .as_deref()
        .and_then(|current| username.like(current))
        .is_some_and(|current| current == username);
    if unchanged {
        return Ok(Err(taken));
    }
    let for_db = services.clone();
    let user = user.clone();
    let changed = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                // The write comes first, so that SQLite takes its write lock before reading:
                // two transactions that both read first could not both upgrade.
                match users::set_username(conn, user.id, &username) {
                    Ok(()) => {}
                    Err(IdentityChangeError::Taken) => return Err(ServiceError::Conflict),
                    Err(IdentityChangeError::Db(e)) => return Err(e.into()),
                }
                // An adopted row stored in another case is not caught by every backend's
                // unique index; the lookup folds as the login form does.
                if users::username_held_by_another(conn, &username, user.id)? {
                    return Err(ServiceError::Conflict);
                }
                let settings = &for_db.settings.account_changes;
                if settings.send_username_change_email && user.email.is_some() {
                    let notice = for_db
                        .mailer()
                        .username_change_notice(user.email_or_empty(), username.as_str())?;
                    mail::enqueue(conn, &for_db.outbox_key, &notice)?;
                }
                users::find_by_id(conn, user.id)?
                    .ok_or(ServiceError::Db(diesel::result::Error::NotFound.into()))
            })
        })
        .await;
    match changed {
        Ok(user) => {
            services.emit(SecurityEvent::UsernameChanged, Some(user.id), client);
            Ok(Ok(user))
        }
        Err(ServiceError::Conflict) => Ok(Err(taken)),
        Err(e) => Err(e),
    }
}

/// "I forgot my username": mails it to `email` when that address has an active account
/// with a username. The caller answers the same whatever happened here.
///
/// With `send` false (the address had its share of mail) nothing is queued.
pub async fn recover_username(
    services: &Services,
    email: &Email,
    send: bool,
) -> Result<(), ServiceError> {
    let services = services.clone();
    let email = email.clone();
    services
        .db
        .clone()
        .run_with(move |conn| {
            let Some(user) = users::find_by_email(conn, &email)? else {
                return Ok(());
            };
            let Some(username) = user.username.as_deref().filter(|_| user.is_active()) else {
                return Ok(());
            };
            if send {
                let mail = services
                    .mailer()
                    .username_recovery(user.email_or_empty(), username)?;
                mail::enqueue(conn, &services.outbox_key, &mail)?;
            }
            Ok(())
        })
        .await
}
