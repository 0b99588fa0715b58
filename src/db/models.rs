//! Rows of the tables in [`super::schema`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_session, user};
use super::stamp::{OptStamp, Stamp};

/// A row of Flask-Security's `user` table. Nullable columns stay `Option` because a
/// database created by the Flask app may hold NULLs there.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = user)]
pub struct User {
    pub id: i32,
    pub email: Option<String>,
    pub username: Option<String>,
    /// The password hash; NULL or empty for an account without a password (see
    /// [`User::password_hash`]).
    pub password: Option<String>,
    #[diesel(deserialize_as = OptStamp)]
    pub last_login_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = OptStamp)]
    pub current_login_at: Option<NaiveDateTime>,
    pub last_login_ip: Option<String>,
    pub current_login_ip: Option<String>,
    pub login_count: Option<i32>,
    pub active: Option<bool>,
    pub premium: Option<bool>,
    pub fs_uniquifier: String,
    #[diesel(deserialize_as = OptStamp)]
    pub confirmed_at: Option<NaiveDateTime>,
    /// `email`, `authenticator` or `sms` once a second factor is set up.
    pub tf_primary_method: Option<String>,
    /// The TOTP secret, encrypted as passlib does (see `auth::totp`).
    pub tf_totp_secret: Option<String>,
    pub tf_phone_number: Option<String>,
    /// Recovery codes, comma-separated: keyed digests (Latchkey), or in clear as
    /// Flask-Security wrote them (each is hashed once one of them is used).
    pub mf_recovery_codes: Option<String>,
    /// The passkey user handle (32 hex characters), set at the first passkey registration.
    pub fs_webauthn_user_handle: Option<String>,
    /// Unified sign-in: each set-up method's encrypted TOTP secret, as JSON
    /// (`{"email": "<passlib record>", ...}`).
    pub us_totp_secrets: Option<String>,
    /// Unified sign-in: where text-message codes go (unique).
    pub us_phone_number: Option<String>,
}

impl User {
    /// The stored password hash, if the account has a password. Flask-Security treats NULL
    /// and an empty string alike (an account registered without a password); Latchkey
    /// writes the empty string, which every `user` table accepts.
    pub fn password_hash(&self) -> Option<&str> {
        self.password.as_deref().filter(|p| !p.is_empty())
    }

    /// Flask-Security treats a NULL `active` as inactive.
    pub fn is_active(&self) -> bool {
        self.active == Some(true)
    }

    pub fn is_premium(&self) -> bool {
        self.premium == Some(true)
    }

    pub fn email_or_empty(&self) -> &str {
        self.email.as_deref().unwrap_or("")
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = user)]
pub struct NewUser {
    pub email: String,
    pub username: Option<String>,
    pub password: String,
    pub active: Option<bool>,
    pub fs_uniquifier: String,
    pub confirmed_at: Option<NaiveDateTime>,
}

/// One login: a browser session and, optionally, its remember-me cookie.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Insertable)]
#[diesel(table_name = login_session)]
pub struct LoginSession {
    pub id: String,
    pub user_id: i32,
    pub fs_uniquifier: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub last_seen_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub remember_hash: Option<String>,
    #[diesel(deserialize_as = OptStamp)]
    pub remember_expires_at: Option<NaiveDateTime>,
    /// Last proof of the password (login or re-authentication); `None` means `created_at`.
    #[diesel(deserialize_as = OptStamp)]
    pub authenticated_at: Option<NaiveDateTime>,
}

/// A single-use token (its digest), bound to a purpose, a user and a value of that user.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::user_token)]
pub struct UserToken {
    pub token_hash: String,
    pub user_id: i32,
    pub purpose: String,
    pub binding: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub expires_at: NaiveDateTime,
    #[diesel(deserialize_as = OptStamp)]
    pub used_at: Option<NaiveDateTime>,
    /// A value the token carries (the address a change-of-email link switches to).
    pub detail: Option<String>,
}

/// A passkey: a row of Flask-Security's `webauthn` table.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = super::schema::webauthn)]
pub struct Passkey {
    pub id: i32,
    pub credential_id: Vec<u8>,
    /// The COSE public key, as the authenticator gave it.
    pub public_key: Vec<u8>,
    /// The authenticator's signature counter at its last use (0: it keeps none).
    pub sign_count: Option<i32>,
    /// How the browser may reach it (`usb`, `nfc`, `internal`, …), comma-separated.
    pub transports: Option<String>,
    pub backup_state: bool,
    /// `single_device` or `multi_device` (a synced passkey).
    pub device_type: String,
    /// The client's extension results at registration, as JSON (`credProps`).
    pub extensions: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub create_datetime: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub lastuse_datetime: NaiveDateTime,
    /// The user's name for it, unique per user.
    pub name: String,
    /// `first` (signs in on its own) or `secondary` (a second factor).
    pub usage: String,
    pub user_id: i32,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = super::schema::webauthn)]
pub struct NewPasskey {
    pub credential_id: Vec<u8>,
    pub public_key: Vec<u8>,
    pub sign_count: Option<i32>,
    pub transports: Option<String>,
    pub backup_state: bool,
    pub device_type: String,
    pub extensions: Option<String>,
    pub create_datetime: NaiveDateTime,
    pub lastuse_datetime: NaiveDateTime,
    pub name: String,
    pub usage: String,
    pub user_id: i32,
}

/// A passkey ceremony in progress (Latchkey's own table).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::webauthn_ceremony)]
pub struct Ceremony {
    pub token_hash: String,
    pub binding: String,
    pub purpose: String,
    pub user_id: Option<i32>,
    /// webauthn-rs's state for the ceremony, and what it is for, as JSON.
    pub state: String,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub expires_at: NaiveDateTime,
}

/// An API token (its keyed digest) and what it is bound to.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = super::schema::auth_token)]
pub struct AuthToken {
    pub token_hash: String,
    pub user_id: i32,
    /// The user's `fs_uniquifier` when issued: a rotated one (password change,
    /// `users reset-access`) voids the token.
    pub fs_uniquifier: String,
    /// The login it was issued with; logging out of it revokes the token.
    pub login_id: Option<String>,
    /// The refresh family that issued it.
    pub refresh_family: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub expires_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub last_used_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When the holder of the login it was issued with last proved who they are
    /// (interactively: password, code, passkey); `None` for a token bought with a refresh
    /// token, which never counts as a recent sign-in.
    #[diesel(deserialize_as = OptStamp)]
    pub authenticated_at: Option<NaiveDateTime>,
}

/// A row of Flask-Security's `fs_refresh` table: one refresh-token family.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = super::schema::fs_refresh)]
pub struct RefreshTracker {
    pub id: i32,
    pub refresh_family: String,
    pub gen: Option<i32>,
    #[diesel(deserialize_as = Stamp)]
    pub expires_at: NaiveDateTime,
    #[diesel(deserialize_as = OptStamp)]
    pub revoked_at: Option<NaiveDateTime>,
    #[diesel(deserialize_as = Stamp)]
    pub last_used_at: NaiveDateTime,
    #[diesel(deserialize_as = Stamp)]
    pub create_datetime: NaiveDateTime,
    pub name: String,
    pub user_id: i32,
}

/// A new refresh-token family.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = super::schema::fs_refresh)]
pub struct NewRefreshTracker {
    pub refresh_family: String,
    pub gen: Option<i32>,
    pub expires_at: NaiveDateTime,
    pub last_used_at: NaiveDateTime,
    pub create_datetime: NaiveDateTime,
    pub name: String,
    pub user_id: i32,
}

/// A stored security event (Latchkey's own table, written by the hooks' built-in
/// subscriber).
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = super::schema::security_event)]
pub struct SecurityEventRow {
    pub id: i64,
    pub user_id: Option<i32>,
    /// What happened (`login`, `login_failed`, `password_changed`, ...).
    pub kind: String,
    /// A short, never secret, description (a login method, a passkey's name).
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    #[diesel(deserialize_as = Stamp)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = super::schema::security_event)]
pub struct NewSecurityEvent {
    pub user_id: Option<i32>,
    pub kind: String,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: NaiveDateTime,
}
