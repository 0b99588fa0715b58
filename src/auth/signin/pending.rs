//! The state between "first factor proved" and "logged in": a [`PendingLogin`]. It is a
//! value of its own, never a logged-in user: it is kept in the browser's (encrypted) session
//! under its own key, expires after a few minutes, is bound to the account's current
//! `fs_uniquifier` and second factor (a password change, an access reset or a new second
//! factor kills it), and only the second-factor step can turn it into a login. The codes it
//! waits for are used up in the database, so a copy of the cookie cannot replay one. The request pipeline that decides who is logged in never
//! reads it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::auth::error::ServiceError;
use crate::auth::services::Services;
use crate::auth::two_factor::SentCode;
use crate::crypto::{constant_time_eq, digest};
use crate::db::models::User;
use crate::db::users;

/// Password (or another first factor) proved for `user_id`, second factor still to come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub user_id: i32,
    /// A digest of the account's `fs_uniquifier` when the first factor was proved.
    binding: String,
    /// When the first factor was proved (unix seconds).
    pub proved_at: i64,
    /// What the login form asked for, carried to the end of the login.
    pub remember: bool,
    pub next: Option<String>,
    /// The second factor asked for (Flask-Security's method name); `None` while the user
    /// must first set one up (a required second factor not set up yet).
    #[serde(default)]
    pub method: Option<String>,
    /// The code mailed or texted for this login (its digest): used at most once, since the
    /// pending login goes when the login completes.
    #[serde(default)]
    pub sent_code: Option<SentCode>,
    /// A code mailed through the rescue ("I cannot use my second factor").
    #[serde(default)]
    pub rescue_code: Option<SentCode>,
    /// How the first factor was proved, for the login event (`None`: a password, in a
    /// pending login made before this field).
    #[serde(default)]
    pub first_factor: Option<crate::auth::events::LoginMethod>,
    /// Names this pending login in the database when it completes ([`Self::consume`]).
    #[serde(default)]
    nonce: String,
}

impl PendingLogin {
    pub fn new(user: &User, remember: bool, next: Option<String>, now: i64) -> Self {
        Self {
            user_id: user.id,
            binding: binding(user),
            proved_at: now,
            remember,
            next,
            method: None,
            sent_code: None,
            rescue_code: None,
            first_factor: None,
            nonce: crate::crypto::random_token(16),
        }
    }

    /// Uses this pending login up in the database as its second factor completes: true the
    /// first time, false for any copy of the cookie that carries it afterwards, on any
    /// instance (whatever code that copy brings).
    pub async fn consume(&self, services: &Services) -> Result<bool, ServiceError> {
        let name = format!("{}:{}:{}", self.nonce, self.user_id, self.proved_at);
        crate::auth::two_factor::record_once(services, self.user_id, "pending", &name).await
    }

    /// Whether more than `within` has passed since the first factor was proved (or the
    /// clock went backwards past it).
    pub fn is_expired(&self, now: i64, within: Duration) -> bool {
        let age = now - self.proved_at;
        age < 0 || age as u64 >= within.as_secs()
    }

    /// Whether `user` is still the account this was started for, in the same state.
    pub fn is_for(&self, user: &User) -> bool {
        user.id == self.user_id
            && constant_time_eq(&self.binding, &binding(user))
            && user.is_active()
    }

    /// The account, if the pending login is still good: unexpired, same uniquifier, active.
    pub async fn resume(
        &self,
        services: &Services,
        now: i64,
        within: Duration,
    ) -> Result<Option<User>, ServiceError> {
        if self.is_expired(now, within) {
            return Ok(None);
        }
        let id = self.user_id;
        let user = services
            .db
            .run(move |conn| users::find_by_id(conn, id))
            .await?;
        Ok(user.filter(|u| self.is_for(u)))
    }
}

/// Over the uniquifier and the second factor's secrets: a password change, an access reset
/// or a second factor set up, changed or removed ends the pending login.
fn binding(user: &User) -> String {
    digest(&format!(
        "pending-login:{}:{}",
        user.fs_uniquifier,
        crate::auth::lifecycle::second_factor_fingerprint(user)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(uniquifier: &str) -> User {
        User {
            id: 7,
            email: Some("p@example.com".to_owned()),
            username: None,
            password: Some("$2b$04$x".to_owned()),
            active: Some(true),
            fs_uniquifier: uniquifier.to_owned(),
            confirmed_at: None,
            last_login_at: None,
            current_login_at: None,
            last_login_ip: None,
            current_login_ip: None,
            login_count: None,
            premium: None,
            tf_primary_method: None,
            tf_totp_secret: None,
            tf_phone_number: None,
            mf_recovery_codes: None,
            fs_webauthn_user_handle: None,
            us_totp_secrets: None,
            us_phone_number: None,
        }
    }

    #[test]
    fn a_pending_login_expires() {
        let p = PendingLogin::new(&user("u1"), false, None, 1_000);
        let five_minutes = Duration::from_secs(300);
        assert!(!p.is_expired(1_000, five_minutes));
        assert!(!p.is_expired(1_299, five_minutes));
        assert!(p.is_expired(1_300, five_minutes));
        assert!(p.is_expired(999, five_minutes), "a clock that went back");
    }

    #[test]
    fn a_pending_login_dies_with_a_new_uniquifier_or_deactivation() {
        let p = PendingLogin::new(&user("u1"), true, Some("/profile".to_owned()), 0);
        assert!(p.is_for(&user("u1")));
        assert!(!p.is_for(&user("u2")), "password change or access reset");
        let mut other = user("u1");
        other.id = 8;
        assert!(!p.is_for(&other));
        let mut inactive = user("u1");
        inactive.active = Some(false);
        assert!(!p.is_for(&inactive));
    }

    #[test]
    fn what_the_session_holds_names_no_secret() {
        let p = PendingLogin::new(&user("the-uniquifier"), false, None, 0);
        let stored = serde_json::to_string(&p).unwrap();
        assert!(!stored.contains("the-uniquifier"), "{stored}");
    }
}
