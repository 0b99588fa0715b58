//! The limits of the forms that send mail (register, reset, confirm): see
//! [`crate::auth::throttle::mail_allowance`].

use crate::auth::accounts;
use crate::auth::throttle::{self, Action, MailAllowance};
use crate::domain::Email;
use crate::web::{signin, AppError, Web};

/// Whether this request for `email` may send its mail: `Ok(true)` send it, `Ok(false)`
/// answer exactly as usual but send nothing, `Err` 429 (this client asked too often,
/// whatever the addresses).
pub async fn may_send_mail(web: &Web, action: Action, email: &Email) -> Result<bool, AppError> {
    // Only to spare the clients its account logged in from; looked up for every address,
    // so that known and unknown ones cost the same.
    let account = accounts::find_by_email(&web.services(), email.as_str())
        .await?
        .map(|user| user.id);
    may_send_mail_to(web, action, email.as_str(), account).await
}

/// [`may_send_mail`] for a mail to the account an identity names (`target`: the identity as
/// typed, case-folded: an email or a username), `account` when there is one.
pub async fn may_send_mail_to(
    web: &Web,
    action: Action,
    target: &str,
    account: Option<i32>,
) -> Result<bool, AppError> {
    let settings = web.settings();
    let target = throttle::typed_subject(&settings.secret_key, target);
    let client = signin::client_key(web);
    let allowance = throttle::mail_allowance(
        &web.state.db,
        &settings.rate_limits,
        settings.login_throttle.trusted_ip_for,
        action,
        target,
        account,
        client.clone(),
    )
    .await?;
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
