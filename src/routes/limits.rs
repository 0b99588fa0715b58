//! The limits of the forms that send mail (register, reset, confirm): see
//! [`crate::auth::throttle::mail_allowance`].

use crate::auth::mail_limits;
use crate::auth::throttle::{Action, MailAllowance};
use crate::domain::Email;
use crate::web::{signin, AppError, Web};

/// Whether this request for `email` may send its mail: `Ok(true)` send it, `Ok(false)`
/// answer exactly as usual but send nothing, `Err` 429 (this client asked too often,
/// whatever the addresses).
pub async fn may_send_mail(web: &Web, action: Action, email: &Email) -> Result<bool, AppError> {
    let client = signin::client_key(web);
    let allowance = mail_limits::for_email(&web.services(), action, email, client.clone()).await?;
    answer(action, &client, allowance)
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
    let services = web.services();
    let allowance =
        mail_limits::for_target(&services, action, target, account, client.clone()).await?;
    answer(action, &client, allowance)
}

/// The allowance as the handlers use it, logged.
fn answer(action: Action, client: &str, allowance: MailAllowance) -> Result<bool, AppError> {
    match allowance {
        MailAllowance::Send => Ok(true),
        MailAllowance::Quiet => {
            tracing::info!(
                event = "mail_suppressed",
                action = ?action,
                ip = %client,
                "no mail sent: this address had its share"
            );
            Ok(false)
        }
        MailAllowance::Refused { retry_after } => {
            tracing::warn!(
                event = "rate_limited",
                action = ?action,
                ip = %client,
                retry_after = retry_after.as_secs(),
                "request refused: rate limit"
            );
            Err(AppError::TooManyAttempts { retry_after })
        }
    }
}
