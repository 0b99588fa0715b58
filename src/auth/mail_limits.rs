//! The limits of the forms that send mail (register, reset, confirm, change email, username
//! recovery, unified sign-in codes), for one request: see [`super::throttle::mail_allowance`].

use super::accounts;
use super::error::ServiceError;
use super::services::Services;
use super::throttle::{self, Action, MailAllowance};
use crate::domain::Email;

/// Whether a request from `client` (its throttle key) for `email` may send its mail.
pub async fn for_email(
    services: &Services,
    action: Action,
    email: &Email,
    client: String,
) -> Result<MailAllowance, ServiceError> {
    // Only to spare the clients its account logged in from; looked up for every address,
    // so that known and unknown ones cost the same.
    let account = accounts::find_by_email(services, email.as_str())
        .await?
        .map(|user| user.id);
    for_target(services, action, email.as_str(), account, client).await
}

/// [`for_email`] for a mail to the account an identity names (`target`: the identity as
/// typed, case-folded: an email or a username), `account` when there is one.
pub async fn for_target(
    services: &Services,
    action: Action,
    target: &str,
    account: Option<i32>,
    client: String,
) -> Result<MailAllowance, ServiceError> {
    let settings = &services.settings;
    let target = throttle::typed_subject(&settings.secret_key, target);
    Ok(throttle::mail_allowance(
        &services.db,
        &settings.rate_limits,
        settings.login_throttle.trusted_ip_for,
        action,
        target,
        account,
        client,
    )
    .await?)
}
