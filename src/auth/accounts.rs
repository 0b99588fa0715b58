//! What an operator does to an account (`latchkey users …`): find it as the login form
//! would, switch it on or off, and log it out everywhere. Callable without HTTP.

use diesel::Connection;

use super::error::ServiceError;
use super::services::Services;
use crate::crypto::new_uniquifier;
use crate::db::models::User;
use crate::db::{sessions, users};
use crate::domain::Email;

/// The account an email names, matched as the login form matches it (normalised, case
/// folded); a string that is not a valid email is looked up as typed, so that an adopted
/// row with an odd address can still be found.
pub async fn find_by_email(services: &Services, typed: &str) -> Result<Option<User>, ServiceError> {
    let lookup = Email::parse(typed).map_or_else(|_| typed.to_owned(), Email::into_inner);
    Ok(services
        .db
        .run(move |conn| users::find_by_email(conn, &lookup))
        .await?)
}

/// What switching an account on or off did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// It was already in that state.
    Unchanged,
    /// Switched; this many logins ended (deactivation ends them all).
    Done { logins_ended: usize },
}

/// Lets an account log in again, or stops it: a deactivated account's logins end at once
/// (they would be refused at their next request anyway; the rows go too).
pub async fn set_active(
    services: &Services,
    user: &User,
    active: bool,
) -> Result<Switched, ServiceError> {
    if user.is_active() == active {
        return Ok(Switched::Unchanged);
    }
    let id = user.id;
    let ended = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                users::set_active(conn, id, active)?;
                Ok(if active {
                    0
                } else {
                    sessions::delete_for_user(conn, id, None)?
                })
            })
        })
        .await?;
    Ok(Switched::Done {
        logins_ended: ended,
    })
}

/// Logs the user out everywhere: a new `fs_uniquifier` (which every login and remember-me
/// cookie is bound to) and every login row gone. Returns how many logins ended.
pub async fn reset_access(services: &Services, user: &User) -> Result<usize, ServiceError> {
    let id = user.id;
    services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                users::rotate_uniquifier(conn, id, &new_uniquifier())?;
                Ok(sessions::delete_for_user(conn, id, None)?)
            })
        })
        .await
}
