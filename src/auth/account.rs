//! The account area's overview (`/profile`): everything the page shows about the user's
//! security (passkeys, recent activity, failed sign-ins since the last successful one,
//! recovery codes left) in ONE database read, coalesced with those of concurrent requests
//! ([`super::page_reads::OverviewReads`]), because the page is benchmarked.

use serde::Serialize;

use super::events::ActivityView;
use super::page_reads::OverviewRows;
use super::services::Services;
use crate::db::models::{Passkey, User};
use crate::db::DbError;
use crate::messages::Messages;

/// A passkey as the account area lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeySummary {
    pub name: String,
    /// `first` (signs in) or `secondary` (second factor).
    pub usage: String,
    /// ISO 8601 UTC ("2026-12-05T03:00:00Z").
    pub created: String,
    /// ISO 8601 UTC, `None` for a passkey never used since it was added.
    pub last_used: Option<String>,
}

impl PasskeySummary {
    /// A stored passkey: one whose last use is its creation was never used.
    pub fn of(row: &Passkey) -> Self {
        let iso = crate::times::iso_utc;
        Self {
            name: row.name.clone(),
            usage: row.usage.clone(),
            created: iso(row.create_datetime),
            last_used: (row.lastuse_datetime > row.create_datetime)
                .then(|| iso(row.lastuse_datetime)),
        }
    }
}

/// What the account area shows about the user's security.
#[derive(Debug, Clone, Serialize)]
pub struct Overview {
    /// The primary two-factor method (`None`: two-factor is off).
    pub two_factor_method: Option<String>,
    /// Unused recovery codes.
    pub recovery_codes_left: usize,
    /// The user's passkeys (`None` when passkeys are switched off).
    pub passkeys: Option<Vec<PasskeySummary>>,
    /// The newest stored security events, newest first.
    pub activity: Vec<ActivityView>,
    /// Refused sign-ins (password or second factor) since the last successful sign-in.
    pub failed_signins: usize,
}

/// The account area's overview of `user`, with its `activity_shown` newest events, from
/// `read` when the login lookup read its rows already.
pub async fn overview(
    services: &Services,
    user: &User,
    activity_shown: usize,
    read: Option<OverviewRows>,
) -> Result<Overview, DbError> {
    let (passkeys, rows) = match read {
        Some(rows) => rows,
        None => services
            .overview_reads
            .get(user.id)
            .await?
            .unwrap_or_default(),
    };
    let failed_signins = rows
        .iter()
        .take_while(|row| row.kind != "login_succeeded")
        .filter(|row| matches!(row.kind.as_str(), "login_failed" | "second_factor_failed"))
        .count();
    Ok(Overview {
        two_factor_method: user.tf_primary_method.clone(),
        recovery_codes_left: super::two_factor::recovery_codes_left(services, user),
        passkeys: passkeys.map(|rows| rows.iter().map(PasskeySummary::of).collect()),
        activity: rows
            .iter()
            .take(activity_shown)
            .map(|row| ActivityView::of(row, None, &services.messages))
            .collect(),
        failed_signins,
    })
}

/// A session or API token with the device its `User-Agent` names ("Safari on iPhone"), as
/// the sessions page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Named<T> {
    #[serde(flatten)]
    pub item: T,
    /// `None` when the `User-Agent` names no known browser or system.
    pub device: Option<String>,
}

fn named<T>(item: T, user_agent: Option<&str>, messages: &Messages) -> Named<T> {
    let device = super::device::Device::parse(user_agent);
    Named {
        device: device.is_known().then(|| device.describe_in(messages)),
        item,
    }
}

/// The logins of the sessions page with their device names, this browser's first.
pub fn named_sessions(
    sessions: Vec<super::login::LoginView>,
    messages: &Messages,
) -> Vec<Named<super::login::LoginView>> {
    let mut list: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            let ua = s.user_agent.clone();
            named(s, ua.as_deref(), messages)
        })
        .collect();
    // A stable sort: the others stay most recently seen first.
    list.sort_by_key(|s| !s.item.current);
    list
}

/// The API tokens of the sessions page with their device names.
pub fn named_tokens(
    tokens: Vec<super::api_tokens::TokenView>,
    messages: &Messages,
) -> Vec<Named<super::api_tokens::TokenView>> {
    tokens
        .into_iter()
        .map(|t| {
            let ua = t.user_agent.clone();
            named(t, ua.as_deref(), messages)
        })
        .collect()
}
