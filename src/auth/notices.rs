//! Security notices: mail to the account's address when something about its security
//! changes, each switchable (`SECURITY_SEND_NOTICE_*`, and Flask-Security's
//! `SECURITY_SEND_PASSWORD_CHANGE_EMAIL` / `SECURITY_SEND_PASSWORD_RESET_NOTICE_EMAIL`).
//! Every notice names the time, the approximate client (browser and OS from the user
//! agent), the IP address, and links to `/sessions`.
//!
//! Notices are queued in the outbox by the rules and handlers themselves (never by a
//! subscriber of the droppable event queue), so a full event queue loses none; the outbox
//! delivers them off the request path.
//!
//! **A new device.** A successful sign-in is "from a new device" when neither its device
//! (browser family and OS, see [`super::device`]) nor its address (IPv6 by its /64, as the
//! throttle counts it) appears among the account's last [`HISTORY`] successful sign-ins
//! within `SECURITY_EVENT_RETENTION`. That history is the `security_event` table's
//! `login_succeeded` rows (written by the built-in subscriber). An account with no sign-in
//! there yet (the first one after registration, or the first after adopting a
//! Flask-Security database) is not told: there is nothing to compare with.

use super::device::Device;
use super::error::ServiceError;
use super::events::TwoFactorChange;
use super::login::ClientInfo;
use super::services::Services;
use crate::db::events::EventClient;
use crate::db::models::User;
use crate::db::{self, DbConnection};
use crate::mail::{self, NoticeDetails};
use crate::messages::Messages;
use chrono::NaiveDateTime;

/// How many of an account's latest sign-ins the new-device check compares with.
pub const HISTORY: i64 = 50;

/// The common facts of a notice about something `client` did just now, the device named in
/// the language of `messages` (the notice's).
pub fn details(client: &ClientInfo, messages: &Messages) -> NoticeDetails {
    details_at(client, messages, db::now())
}

pub fn details_at(client: &ClientInfo, messages: &Messages, at: NaiveDateTime) -> NoticeDetails {
    NoticeDetails {
        time: crate::times::readable_utc_minutes(at),
        client: super::device::describe_in(client.user_agent.as_deref(), messages),
        ip: client.ip.clone(),
    }
}

/// A notice queued by [`send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Two-factor sign-in turned on or off, or its method changed.
    TwoFactor {
        change: TwoFactorChange,
        method: Option<String>,
    },
    /// A passkey added (`added`) or removed.
    Passkey { added: bool, name: String },
    /// New recovery codes.
    RecoveryCodes,
    /// A social login identity at `provider` (with the address it gave) linked or unlinked.
    SocialLogin {
        linked: bool,
        provider: String,
        email: Option<String>,
    },
}

/// Queues `notice` to `user`'s address, unless its setting is off. Returns whether it was
/// queued.
pub fn queue(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    notice: &Notice,
    client: &ClientInfo,
) -> Result<bool, ServiceError> {
    let settings = &services.settings.notices;
    let email = user.email_or_empty();
    if email.is_empty() {
        return Ok(false);
    }
    let mailer = services.mailer();
    let details = details(client, &services.messages);
    let message = match notice {
        Notice::TwoFactor { change, method } if settings.two_factor => {
            mailer.two_factor_notice(email, change.as_str(), method.as_deref(), &details)?
        }
        Notice::Passkey { added, name } if settings.passkey => {
            mailer.passkey_notice(email, *added, name, &details)?
        }
        Notice::RecoveryCodes if settings.recovery_codes => {
            mailer.recovery_codes_notice(email, &details)?
        }
        Notice::SocialLogin {
            linked,
            provider,
            email: address,
        } if settings.social_login => {
            mailer.social_login_notice(email, *linked, provider, address.as_deref(), &details)?
        }
        _ => return Ok(false),
    };
    mail::enqueue(conn, &services.outbox_key, &message)?;
    Ok(true)
}

/// [`queue`] on the blocking pool, after the change it tells of was made. A failure is
/// logged, not returned: the change stands, and the caller's answer should say so.
pub async fn send(services: &Services, user: &User, notice: Notice, client: &ClientInfo) {
    let services2 = services.clone();
    let user2 = user.clone();
    let client = client.clone();
    let result = services
        .db
        .run_with(move |conn| queue(conn, &services2, &user2, &notice, &client))
        .await;
    if let Err(e) = result {
        tracing::error!(
            event = "security_notice_failed",
            user_id = user.id,
            error = %e,
            "a security notice could not be queued"
        );
    }
}

/// Whether a sign-in by `client` comes from a new device (see the module comment), and if
/// so (and `SECURITY_SEND_NOTICE_NEW_DEVICE` is on) queues the notice. Returns whether a
/// notice was queued.
pub fn check_new_device(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
    client: &ClientInfo,
) -> Result<bool, ServiceError> {
    let settings = &services.settings;
    if !settings.notices.new_device || user.email_or_empty().is_empty() {
        return Ok(false);
    }
    let retention =
        chrono::Duration::from_std(settings.events.retention).unwrap_or(chrono::Duration::MAX);
    let since = db::now()
        .checked_sub_signed(retention)
        .unwrap_or(NaiveDateTime::MIN);
    let history =
        crate::db::events::clients_since(conn, user.id, "login_succeeded", since, HISTORY)?;
    if !is_new(&history, client) {
        return Ok(false);
    }
    let message = services
        .mailer()
        .new_device_notice(user.email_or_empty(), &details(client, &services.messages))?;
    mail::enqueue(conn, &services.outbox_key, &message)?;
    tracing::info!(
        event = "new_device_notice",
        user_id = user.id,
        "sign-in from a new device and address: notice queued"
    );
    Ok(true)
}

/// The rule itself: no history is not new; otherwise new when neither the device nor the
/// address has been seen.
pub fn is_new(history: &[EventClient], client: &ClientInfo) -> bool {
    if history.is_empty() {
        return false;
    }
    // The address first: comparing it is cheap, and a seen address settles it.
    let address = client.ip.as_deref().map(super::throttle::client_key);
    let seen_address = address.is_some_and(|address| {
        history.iter().any(|(ip, _)| {
            ip.as_deref()
                .is_some_and(|ip| super::throttle::client_key(ip) == address)
        })
    });
    if seen_address {
        return false;
    }
    // The same User-Agent is the same device without parsing it; otherwise each distinct
    // one is parsed once (up to HISTORY of them, at a few microseconds each).
    let user_agent = client.user_agent.as_deref();
    if history.iter().any(|(_, ua)| ua.as_deref() == user_agent) {
        return false;
    }
    let device = Device::parse(user_agent);
    let mut parsed = std::collections::HashSet::new();
    let seen_device = history
        .iter()
        .filter(|(_, ua)| parsed.insert(ua.as_deref()))
        .any(|(_, ua)| Device::parse(ua.as_deref()) == device);
    !seen_device
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
    const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

    fn client(ip: &str, ua: &str) -> ClientInfo {
        ClientInfo {
            ip: Some(ip.to_owned()),
            user_agent: Some(ua.to_owned()),
        }
    }

    fn seen(ip: &str, ua: &str) -> (Option<String>, Option<String>) {
        (Some(ip.to_owned()), Some(ua.to_owned()))
    }

    #[test]
    fn new_only_when_neither_the_device_nor_the_address_was_seen() {
        let history = [seen("192.0.2.1", FIREFOX)];
        assert!(is_new(&history, &client("198.51.100.9", SAFARI)));
        assert!(
            !is_new(&history, &client("192.0.2.1", SAFARI)),
            "known address"
        );
        assert!(
            !is_new(&history, &client("198.51.100.9", FIREFOX)),
            "known device"
        );
        let updated = FIREFOX.replace("128.0", "130.0");
        assert!(
            !is_new(&history, &client("198.51.100.9", &updated)),
            "an update"
        );
    }

    #[test]
    fn the_first_sign_in_is_not_new() {
        assert!(!is_new(&[], &client("198.51.100.9", SAFARI)));
    }

    #[test]
    fn ipv6_addresses_count_by_their_64() {
        let history = [seen("2001:db8:1:2::10", FIREFOX)];
        assert!(!is_new(&history, &client("2001:db8:1:2::99", SAFARI)));
        assert!(is_new(&history, &client("2001:db8:1:3::10", SAFARI)));
    }
}
