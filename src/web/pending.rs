//! Where a pending login (first factor proved, second to come) waits: this browser's
//! encrypted session.

use super::error::AppError;
use super::page::Web;
use crate::auth::signin::PendingLogin;
use crate::auth::two_factor;
use crate::db::models::User;

/// Where a [`PendingLogin`] waits for its second factor: the browser's encrypted session,
/// under a key of its own that nothing deciding who is logged in ever reads.
pub const PENDING_LOGIN_KEY: &str = "_pending_login";

/// Keeps a login whose first factor is proved in this browser until its second factor.
pub fn hold(web: &Web, pending: &PendingLogin) -> Result<(), AppError> {
    web.session
        .insert(PENDING_LOGIN_KEY, pending)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the pending login: {e}")))
}

/// Forgets this browser's pending login (a key absent stays absent: no session write).
pub fn forget(web: &Web) {
    if web.session.contains_key(PENDING_LOGIN_KEY) {
        web.session.remove(PENDING_LOGIN_KEY);
    }
}

/// This browser's pending login, unchecked (see [`PendingLogin::resume`]).
pub fn held(web: &Web) -> Option<PendingLogin> {
    web.session.get(PENDING_LOGIN_KEY).ok().flatten()
}

/// The pending login of this browser and its user, if it is still good (unexpired, same
/// account state); a stale one is removed.
pub async fn held_with_user(web: &Web) -> Result<Option<(PendingLogin, User)>, AppError> {
    let Some(pending) = held(web) else {
        return Ok(None);
    };
    let within = web.settings().two_factor.login_within;
    match pending
        .resume(&web.services(), two_factor::unix_now(), within)
        .await?
    {
        Some(user) => Ok(Some((pending, user))),
        None => {
            forget(web);
            Ok(None)
        }
    }
}
