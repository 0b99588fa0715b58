//! The authentication core: the rules, callable without HTTP (the web handlers, the CLI and
//! tests all call them). [`Services`] is what they need; [`authenticate`] is the one pipeline
//! every credential check goes through; the feature rules ([`registration`], [`confirmable`],
//! [`recoverable`], [`changeable`], [`accounts`]) build on it. Nothing here names actix.

pub mod account;
pub mod accounts;
pub mod activity;
pub mod api_token_keys;
pub mod api_tokens;
pub mod authenticate;
pub mod change_email;
pub mod changeable;
pub mod confirmable;
pub mod csrf;
pub mod device;
pub mod error;
pub mod events;
pub mod hashing;
pub mod health;
pub mod housekeeping;
pub mod lifecycle;
pub mod link_mail;
pub mod login;
pub mod mail_limits;
pub mod notices;
pub mod oauth;
pub mod oidc;
pub mod page_reads;
pub mod passkeys;
pub mod recoverable;
pub mod registration;
pub mod roles;
pub mod sending;
pub mod services;
pub mod sessions;
pub mod signin;
pub mod sms;
pub mod throttle;
pub mod totp;
pub mod two_factor;
pub mod unified;
pub mod user_tokens;
pub mod usernames;

pub use hashing::PasswordHasher;
pub use services::Services;

pub use error::ServiceError;
