//! The one sending budget: every code, rescue mail and help request that Latchkey sends on
//! the request of someone who proved something (second-factor codes at login and at setup,
//! rescue codes, mails to support, unified sign-in setup and re-authentication codes)
//! spends it before anything goes out. Callable without HTTP.
//!
//! What anyone may ask for (`/us-signin/send-code`, and the reset, confirmation and
//! registration mails) goes by the mail forms' limits instead ([`super::throttle`]'s
//! `mail_allowance`: a share per client and identity, a cap per mailbox that spares the
//! account's known addresses): a stranger must never be able to spend the account's budget
//! and so keep the owner's own second-factor codes from going out.
//!
//! Within `SECURITY_RATE_LIMIT_WINDOW`, a message is sent only while all of these hold:
//! - the account has had fewer than `SECURITY_SEND_LIMIT_PER_ACCOUNT` messages;
//! - the mailbox or phone number has had fewer than `SECURITY_SEND_LIMIT_PER_DESTINATION`,
//!   whatever the account (the support mailbox is exempt: one account must not be able to
//!   silence everyone's help requests);
//! - the client address has asked for fewer than `SECURITY_SEND_LIMIT_PER_IP`;
//! - a text to a number the account has not verified (a number typed at setup) is one of
//!   at most `SECURITY_SMS_UNVERIFIED_LIMIT` such texts of the account: toll fraud ("SMS
//!   pumping") costs money per text.
//!
//! Check and count are one exclusive transaction (SQLite's write lock; PostgreSQL advisory
//! locks on the account, the destination and the client), so several instances together
//! send no more than one would. Past the budget the caller answers as usual with nothing
//! sent, or, where the user is signed in and nothing leaks, 429
//! ([`ServiceError::SendingLimited`]).

use std::time::Duration;

use chrono::NaiveDateTime;

use super::error::ServiceError;
use super::services::Services;
use super::throttle::{account_subject, over_limit, typed_subject};
use crate::db::{self, attempts};

/// Messages sent for an account (`auth_attempt.action`), under its [`account_subject`].
pub const SENT_FOR_ACCOUNT: &str = "sent";
/// Messages sent to a destination, under its keyed digest.
pub const SENT_TO: &str = "sent_to";
/// Texts to numbers the account had not verified, under its [`account_subject`].
pub const UNVERIFIED_TEXT: &str = "sms_unverified";

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The account's own mailbox (or the one it is moving to).
    Mail(String),
    /// A phone number; `verified` when the account proved it (a stored second factor or
    /// sign-in number), not when it was typed for a setup.
    Text { number: String, verified: bool },
    /// The site's support mailbox (a help request): counted per account and client only.
    Support,
}

/// Whether a message may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowance {
    /// Counted: send it.
    Send,
    /// Over the budget: send nothing; this long until the oldest counted message leaves the
    /// window.
    Withheld { retry_after: Duration },
}

/// Spends one message of the budget for `account` to `destination`, asked for from
/// `client` (the throttle's key of its address), if the budget allows it.
pub async fn reserve(
    services: &Services,
    account: i32,
    destination: Destination,
    client: &str,
) -> Result<Allowance, ServiceError> {
    let limits = services.settings.rate_limits.send;
    let window = to_chrono(services.settings.rate_limits.window);
    let subject = account_subject(account);
    let target = match &destination {
        Destination::Mail(address) => Some(typed_subject(&services.settings.secret_key, address)),
        Destination::Text { number, .. } => Some(typed_subject(
            &services.settings.secret_key,
            &format!("tel:{number}"),
        )),
        Destination::Support => None,
    };
    let unverified_text = matches!(
        destination,
        Destination::Text {
            verified: false,
            ..
        }
    );
    let client = client.to_owned();
    let allowance = services
        .db
        .run(move |conn| {
            let account_lock = format!("send:{subject}");
            let target_lock = format!("send-to:{}", target.as_deref().unwrap_or("-"));
            let ip_lock = format!("send-ip:{client}");
            db::exclusive_transaction(conn, &[&account_lock, &target_lock, &ip_lock], |conn| {
                let now = db::now();
                let since = now - window;
                let mut waits = Vec::new();
                let times = |rows: Vec<(String, NaiveDateTime)>| -> Vec<NaiveDateTime> {
                    rows.into_iter().map(|(_, at)| at).collect()
                };
                let for_account = times(attempts::since(conn, SENT_FOR_ACCOUNT, &subject, since)?);
                waits.push(over_limit(limits.per_account, for_account, window, now));
                if let Some(target) = &target {
                    let to = times(attempts::since(conn, SENT_TO, target, since)?);
                    waits.push(over_limit(limits.per_destination, to, window, now));
                }
                let from_ip = attempts::times_from(conn, SENT_FOR_ACCOUNT, &client, since)?;
                waits.push(over_limit(limits.per_ip, from_ip, window, now));
                if unverified_text {
                    let texts = times(attempts::since(conn, UNVERIFIED_TEXT, &subject, since)?);
                    waits.push(over_limit(limits.unverified_texts, texts, window, now));
                }
                if let Some(retry_after) = waits.into_iter().flatten().max() {
                    return Ok(Allowance::Withheld { retry_after });
                }
                attempts::insert(conn, SENT_FOR_ACCOUNT, &subject, &client, now)?;
                if let Some(target) = &target {
                    attempts::insert(conn, SENT_TO, target, &client, now)?;
                }
                if unverified_text {
                    attempts::insert(conn, UNVERIFIED_TEXT, &subject, &client, now)?;
                }
                for action in [SENT_FOR_ACCOUNT, SENT_TO, UNVERIFIED_TEXT] {
                    attempts::prune(conn, action, since)?;
                }
                Ok(Allowance::Send)
            })
        })
        .await?;
    if let Allowance::Withheld { retry_after } = allowance {
        tracing::warn!(
            event = "sending_limited",
            user_id = account,
            retry_after = retry_after.as_secs(),
            "message withheld: sending budget spent"
        );
    }
    Ok(allowance)
}

/// [`reserve`] for a signed-in user: over the budget is [`ServiceError::SendingLimited`]
/// (429).
pub async fn reserve_or_refuse(
    services: &Services,
    account: i32,
    destination: Destination,
    client: &str,
) -> Result<(), ServiceError> {
    match reserve(services, account, destination, client).await? {
        Allowance::Send => Ok(()),
        Allowance::Withheld { retry_after } => Err(ServiceError::SendingLimited { retry_after }),
    }
}

fn to_chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> NaiveDateTime {
        chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0)
            .unwrap()
            .naive_utc()
    }

    #[test]
    fn a_budget_waits_for_its_oldest_message_to_leave_the_window() {
        let hour = chrono::Duration::hours(1);
        let three: Vec<_> = [0, 10, 20].map(at).to_vec();
        assert_eq!(over_limit(4, three.clone(), hour, at(30)), None);
        assert_eq!(
            over_limit(3, three.clone(), hour, at(30)),
            Some(Duration::from_secs(3570))
        );
        assert_eq!(
            over_limit(2, three.clone(), hour, at(30)),
            Some(Duration::from_secs(3580))
        );
        assert_eq!(over_limit(0, three, hour, at(30)), None, "0: no limit");
    }

    #[test]
    fn every_action_name_fits_the_action_column() {
        for action in [SENT_FOR_ACCOUNT, SENT_TO, UNVERIFIED_TEXT] {
            assert!(action.len() <= 16, "{action}");
        }
    }
}
