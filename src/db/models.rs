//! Rows of the tables in [`super::schema`].

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::{login_session, user};

/// A row of Flask-Security's `user` table. Nullable columns stay `Option` because a
/// database created by the Flask app may hold NULLs there.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = user)]
pub struct User {
    pub id: i32,
    pub email: Option<String>,
    pub username: Option<String>,
    pub password: String,
    pub last_login_at: Option<NaiveDateTime>,
    pub current_login_at: Option<NaiveDateTime>,
    pub last_login_ip: Option<String>,
    pub current_login_ip: Option<String>,
    pub login_count: Option<i32>,
    pub active: Option<bool>,
    pub premium: Option<bool>,
    pub fs_uniquifier: String,
    pub confirmed_at: Option<NaiveDateTime>,
    /// `email`, `authenticator` or `sms` once a second factor is set up.
    pub tf_primary_method: Option<String>,
    /// The TOTP secret, encrypted as passlib does (see `auth::totp`).
    pub tf_totp_secret: Option<String>,
    pub tf_phone_number: Option<String>,
    /// Recovery codes, comma-separated: keyed digests (Latchkey), or in clear as
    /// Flask-Security wrote them (each is hashed once one of them is used).
    pub mf_recovery_codes: Option<String>,
}

impl User {
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
    pub created_at: NaiveDateTime,
    pub last_seen_at: NaiveDateTime,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub remember_hash: Option<String>,
    pub remember_expires_at: Option<NaiveDateTime>,
    /// Last proof of the password (login or re-authentication); `None` means `created_at`.
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
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}
