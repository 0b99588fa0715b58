//! The limits of the forms that send mail (register, reset, confirm), for a request: see
//! [`crate::auth::mail_limits`].

use crate::auth::mail_limits;
use crate::auth::throttle::Action;
use crate::domain::Email;
use crate::web::{signin, AppError, Web};

/// Whether this request for `email` may send its mail: `Ok(true)` send it, `Ok(false)`
/// answer exactly as usual but send nothing, `Err` 429 (this client asked too often,
/// whatever the addresses).
pub async fn may_send_mail(web: &Web, action: Action, email: &Email) -> Result<bool, AppError> {
    let client = signin::client_key(web);
    Ok(mail_limits::may_send(&web.services(), action, email, client).await?)
}

/// [`may_send_mail`] for a mail to the account an identity names (`target`: the identity as
/// typed, case-folded: an email or a username), `account` when there is one.
pub async fn may_send_mail_to(
    web: &Web,
    action: Action,
    target: &str,
    account: Option<i32>,
) -> Result<bool, AppError> {
    let client = signin::client_key(web);
    Ok(mail_limits::may_send_to(&web.services(), action, target, account, client).await?)
}
