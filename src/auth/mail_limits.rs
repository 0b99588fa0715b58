//! The limits of the forms that send mail (register, reset, confirm, change email, username
//! recovery, unified sign-in codes), for one request: see [`super::throttle::mail_allowance`].

use super::accounts;
use super::error::ServiceError;
use super::services::Services;
use super::throttle::{self, Action, MailAllowance};
use crate::domain::Email;

/// Whether a request from `client` (its throttle key) for `email` may send its mail:
/// `Ok(true)` send it, `Ok(false)` answer exactly as usual but send nothing,
/// [`ServiceError::RateLimited`] this client asked too often, whatever the addresses.
pub async fn may_send(
    services: &Services,
    action: Action,
    email: &Email,
    client: String,
) -> Result<bool, ServiceError> {
    // Only to spare the clients its account logged in from; looked up for every address,
    // so that known and unknown ones cost the same.
    let account = accounts::find_by_email(services, email.as_str())
        .await?
        .map(|user| user.id);
    may_send_to(services, action, email.as_str(), account, client).await
}

/// [`may_send`] for a mail to the account an identity names (`target`: the identity as
/// typed, case-folded: an email or a username), `account` when there is one.
pub async fn may_send_to(
    services: &Services,
    action: Action,
    target: &str,
    account: Option<i32>,
    client: String,
) -> Result<bool, ServiceError> {
    let settings = &services.settings;
    let target = throttle::typed_subject(&settings.secret_key, target);
    let allowance = throttle::mail_allowance(
        &services.db,
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
            Err(ServiceError::RateLimited { retry_after })
        }
    }
}
