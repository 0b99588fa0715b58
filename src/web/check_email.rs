//! The "Check your email" card: after registering (with confirmation), asking for the
//! confirmation again, a password reset or a username reminder, the next page says where the
//! mail went, that it may take a minute or sit in the spam folder, and offers to send it
//! again. It shows the address as typed, the same whether or not an account has it (what a
//! flow reveals about accounts is up to its own answer: see `docs/mail.md`).

use serde::{Deserialize, Serialize};

use crate::urls::{Route, Urls};

/// Where the card comes from (the session holds it until the next page shows it).
const KEY: &str = "_check_email";

/// How long the card asks the user to wait before sending again (the sending budget is what
/// enforces it; this only saves a pointless click).
pub const RESEND_AFTER_SECS: u64 = 60;

/// Which mail was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sent {
    /// The confirmation link, to an account just registered.
    Registered,
    /// The confirmation link again (`/confirm`).
    Confirmation,
    /// The password reset link (`/reset`).
    PasswordReset,
    /// The username reminder (`/recover-username`).
    Username,
}

impl Sent {
    /// The form that sends this mail again.
    fn resend_url(self, urls: Urls) -> &'static str {
        match self {
            Sent::Registered | Sent::Confirmation => urls.path(Route::Confirm),
            Sent::PasswordReset => urls.path(Route::Reset),
            Sent::Username => urls.path(Route::RecoverUsername),
        }
    }
}

/// What the card shows (the template's `check_email`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Card {
    pub sent: Sent,
    pub address: String,
    pub resend_url: String,
    pub resend_after_secs: u64,
}

impl Card {
    fn new(sent: Sent, address: &str, urls: Urls) -> Self {
        Card {
            sent,
            address: address.to_owned(),
            resend_url: sent.resend_url(urls).to_owned(),
            resend_after_secs: RESEND_AFTER_SECS,
        }
    }
}

/// Shows the card on the next page rendered (after a redirect; [`super::page::Web::check_email_page`]
/// shows it at once).
pub fn queue(session: &actix_session::Session, urls: Urls, sent: Sent, address: &str) {
    let _ = session.insert(KEY, Card::new(sent, address, urls));
}

/// The queued card, taken out of the session (`None`, touching nothing, when there is none).
pub fn take(session: &actix_session::Session) -> Option<Card> {
    if !session.contains_key(KEY) {
        return None;
    }
    session.remove_as::<Card>(KEY).and_then(Result::ok)
}
