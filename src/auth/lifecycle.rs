//! The credential lifecycle: for every security event, what it ends. One table
//! ([`ends`]) and one function that applies it ([`apply`]), called inside the transaction
//! of every path that causes the event (web, JSON, CLI), so that a recovery, a sign-out or
//! a second-factor change means the same thing everywhere. SECURITY.md ("What ends what")
//! prints the same table; `tests/it/lifecycle.rs` checks it cell by cell on both backends.
//!
//! The things an event can end:
//! - **browser sessions** (`login_session` rows) and with them their **remember-me**
//!   cookies (the secret's digest lives in the row);
//! - **API tokens** and the **refresh families** that issued them or were started at an
//!   ended login (a token bound to a browser session dies with it); with every login
//!   (`Reach::All`), the **apps' tokens** too ("Sign in with Latchkey": access and refresh
//!   tokens and unused codes);
//! - **remembered browsers** (`tf_validity`, a MAC over the uniquifier, the password hash
//!   and the second factor's secrets) and **pending logins** (bound to the uniquifier and
//!   the second factor's secrets): a new uniquifier ends both;
//! - **revert links** ("this wasn't me") and **change-email links**;
//! - credentials: **first-factor passkeys**, **sign-in methods** (unified sign-in's
//!   authenticator and text message), **linked identities** (social login), **second
//!   factors** (`tf_*` and second-factor passkeys) and **recovery codes**.
//!
//! The rules the table meets:
//! - A recovery through the mailbox (password reset, email revert) leaves no way in that
//!   does not need the new password: every first-factor passkey and sign-in method goes
//!   (whoever held a session may have added them), every session, token and remembered
//!   browser ends. Second factors and recovery codes stay: they only work after the new
//!   password, which only the recovering person knows, and the account page lists them.
//!   Linked identities (social login) stay too: linking one needs a fresh proof and a round
//!   trip with the provider, the account page lists them, and their owner unlinks what they
//!   do not recognise.
//! - The first proof of a mailbox (a confirmation of an account usable before it, or a
//!   reset of an account never confirmed) removes every credential added before it: a
//!   squatter who registered the address first keeps nothing.
//! - A revert gives the old mailbox no more than a password reset before the change would
//!   have (a reset link; the second factor still asked for).
//! - The old mailbox loses the revert once the owner proves, after the change, a second
//!   factor the account had before it ([`second_factor_proved`]): something the old
//!   mailbox never had. A password proves nothing here (whoever changed the address knew
//!   it), so a password change leaves the revert alone.

use diesel::prelude::*;

use super::api_tokens;
use super::events::SecurityEvent;
use super::user_tokens::Purpose;
use crate::crypto::new_uniquifier;
use crate::db::models::User;
use crate::db::schema::{user, user_token, webauthn};
use crate::db::{sessions, tokens, users, DbConnection, DbError};

/// A security event that ends credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A new password through a mailed reset link.
    PasswordReset,
    /// "This wasn't me": an email change taken back from the old address.
    EmailRevert,
    /// A new password from a signed-in session (`/change`) or an operator.
    PasswordChange,
    /// The account moved to a new, proved address.
    EmailChange,
    /// One login signed out: logout, or "sign out" of one session on the sessions page.
    SignOutThis,
    /// "Sign out all other sessions".
    SignOutOthers,
    /// Every login, token and remembered browser of the account ended (`latchkey users
    /// reset-access` is the operator's; see [`Event::ResetAccess`]).
    SignOutEverywhere,
    /// A second factor set up, changed or switched off.
    SecondFactorChange,
    /// A passkey removed by its owner.
    PasskeyRemoved,
    /// The account deactivated.
    Deactivate,
    /// The operator's `latchkey users reset-access`.
    ResetAccess,
    /// The operator's `latchkey users tf-reset` ("I lost my phone").
    TfReset,
    /// The first proof of the mailbox: a confirmation of an account usable before it, or a
    /// reset of an account never confirmed.
    MailboxProven,
    /// A social login identity linked to the account by its owner.
    IdentityLinked,
    /// A social login identity unlinked by its owner.
    IdentityUnlinked,
}

impl Event {
    pub const ALL: [Event; 15] = [
        Event::PasswordReset,
        Event::EmailRevert,
        Event::PasswordChange,
        Event::EmailChange,
        Event::SignOutThis,
        Event::SignOutOthers,
        Event::SignOutEverywhere,
        Event::SecondFactorChange,
        Event::PasskeyRemoved,
        Event::Deactivate,
        Event::ResetAccess,
        Event::TfReset,
        Event::MailboxProven,
        Event::IdentityLinked,
        Event::IdentityUnlinked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Event::PasswordReset => "password reset",
            Event::EmailRevert => "email revert",
            Event::PasswordChange => "password change",
            Event::EmailChange => "email change",
            Event::SignOutThis => "sign out this session",
            Event::SignOutOthers => "sign out other sessions",
            Event::SignOutEverywhere => "sign out everywhere",
            Event::SecondFactorChange => "second factor added, changed or removed",
            Event::PasskeyRemoved => "passkey removed",
            Event::Deactivate => "deactivate",
            Event::ResetAccess => "users reset-access",
            Event::TfReset => "users tf-reset",
            Event::MailboxProven => "first proof of the mailbox",
            Event::IdentityLinked => "social login identity linked",
            Event::IdentityUnlinked => "social login identity unlinked",
        }
    }
}

/// Which of the account's logins (with their API tokens and refresh families) an event
/// ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// None.
    Keeps,
    /// The one named in the [`Scope`].
    This,
    /// All but the one named in the [`Scope`] (the session that asked).
    Others,
    /// Every one.
    All,
}

/// What an event ends (true: ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ends {
    /// Browser sessions, their remember-me cookies, API tokens and refresh families.
    pub logins: Reach,
    /// `tf_validity` cookies.
    pub remembered_browsers: bool,
    /// Logins waiting for their second factor.
    pub pending_logins: bool,
    /// "This wasn't me" links.
    pub revert_links: bool,
    /// Change-email confirmation links.
    pub change_email_links: bool,
    pub first_factor_passkeys: bool,
    /// Unified sign-in's authenticator and text-message methods.
    pub signin_methods: bool,
    /// Social login identities linked to the account (`oauth_identity`).
    pub linked_identities: bool,
    /// The two-factor method (`tf_*`) and second-factor passkeys.
    pub second_factors: bool,
    pub recovery_codes: bool,
}

const KEEPS: Ends = Ends {
    logins: Reach::Keeps,
    remembered_browsers: false,
    pending_logins: false,
    revert_links: false,
    change_email_links: false,
    first_factor_passkeys: false,
    signin_methods: false,
    linked_identities: false,
    second_factors: false,
    recovery_codes: false,
};

/// Everything that signs in, ended (a new uniquifier).
const EVERY_LOGIN: Ends = Ends {
    logins: Reach::All,
    remembered_browsers: true,
    pending_logins: true,
    ..KEEPS
};

/// The table.
pub const fn ends(event: Event) -> Ends {
    match event {
        Event::PasswordReset => Ends {
            change_email_links: true,
            first_factor_passkeys: true,
            signin_methods: true,
            ..EVERY_LOGIN
        },
        Event::EmailRevert => Ends {
            revert_links: true,
            change_email_links: true,
            first_factor_passkeys: true,
            signin_methods: true,
            ..EVERY_LOGIN
        },
        // The session that changed it starts a new login right after.
        Event::PasswordChange => Ends {
            change_email_links: true,
            ..EVERY_LOGIN
        },
        Event::EmailChange => Ends {
            change_email_links: true,
            ..EVERY_LOGIN
        },
        Event::SignOutThis => Ends {
            logins: Reach::This,
            ..KEEPS
        },
        Event::SignOutOthers => Ends {
            logins: Reach::Others,
            ..KEEPS
        },
        Event::SignOutEverywhere | Event::ResetAccess => EVERY_LOGIN,
        Event::SecondFactorChange => Ends {
            remembered_browsers: true,
            pending_logins: true,
            ..KEEPS
        },
        // The identity itself is linked or unlinked by the rule (`auth::oauth`).
        Event::PasskeyRemoved | Event::IdentityLinked | Event::IdentityUnlinked => KEEPS,
        Event::Deactivate => Ends {
            change_email_links: true,
            ..EVERY_LOGIN
        },
        Event::TfReset => Ends {
            remembered_browsers: true,
            pending_logins: true,
            second_factors: true,
            recovery_codes: true,
            ..KEEPS
        },
        Event::MailboxProven => Ends {
            first_factor_passkeys: true,
            signin_methods: true,
            linked_identities: true,
            second_factors: true,
            recovery_codes: true,
            ..EVERY_LOGIN
        },
    }
}

/// Whose event it is, and which login (or token) is "this one".
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub user_id: i32,
    /// The login the event is about (sign out this one) or that asked (sign out the
    /// others: it stays).
    pub login: Option<String>,
    /// The API token (its digest) that asked, for a token-authenticated request.
    pub token: Option<String>,
}

impl Scope {
    pub fn user(user_id: i32) -> Self {
        Self {
            user_id,
            ..Self::default()
        }
    }
}

/// Clears the account's two-factor method, secret and phone (second-factor passkeys are
/// rows of their own).
pub fn clear_two_factor(conn: &mut DbConnection, id: i32) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set((
            user::tf_primary_method.eq(None::<String>),
            user::tf_totp_secret.eq(None::<String>),
            user::tf_phone_number.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// [`apply`] in a transaction of its own, for an event that changes nothing else (a
/// sign-out).
pub async fn end(
    services: &super::services::Services,
    event: Event,
    scope: Scope,
) -> Result<Applied, super::error::ServiceError> {
    services
        .db
        .run_with(move |conn| {
            // Exclusive: the table's reads and writes (sign out the others: list, then
            // delete) must not meet another writer between them (on SQLite a read that
            // turns into a write while another connection writes fails at once).
            let key = format!("lifecycle:{}", scope.user_id);
            crate::db::exclusive_transaction::<_, super::error::ServiceError, _>(
                conn,
                &[&key],
                |conn| Ok(apply(conn, event, &scope)?),
            )
        })
        .await
}

/// Logout: this login (or the token that asked) ends, with its tokens and refresh
/// families, and the `token_revoked` (when tokens ended) and `logged_out` events are
/// emitted for `client`.
pub async fn sign_out(
    services: &super::services::Services,
    scope: Scope,
    client: &super::login::ClientInfo,
) -> Result<Applied, super::error::ServiceError> {
    let user_id = scope.user_id;
    let applied = end(services, Event::SignOutThis, scope).await?;
    if applied.tokens > 0 {
        tracing::info!(
            event = "token_revoked",
            user_id,
            count = applied.tokens,
            "API tokens ended at logout"
        );
        let event = SecurityEvent::TokenRevoked {
            kind: "auth".to_owned(),
            label: Some("logout".to_owned()),
        };
        services.emit(event, Some(user_id), client);
    }
    services.emit(SecurityEvent::LoggedOut, Some(user_id), client);
    Ok(applied)
}

/// What [`apply`] ended, for the caller's answer and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub logins: usize,
    pub tokens: usize,
    pub passkeys: usize,
}

/// Applies `event`'s row of the table to `scope`'s account, inside the caller's
/// transaction.
pub fn apply(conn: &mut DbConnection, event: Event, scope: &Scope) -> Result<Applied, DbError> {
    let ends = ends(event);
    let id = scope.user_id;
    let mut applied = Applied::default();
    match ends.logins {
        Reach::Keeps => {}
        Reach::This => {
            if let Some(login) = &scope.login {
                sessions::delete(conn, login)?;
                applied.logins = 1;
                applied.tokens = api_tokens::revoke_for_login(conn, login)?;
            }
            if let Some(token) = &scope.token {
                applied.tokens += api_tokens::revoke(conn, token)?;
            }
        }
        Reach::Others => {
            for row in sessions::for_user(conn, id)? {
                if scope.login.as_deref() != Some(row.id.as_str()) {
                    sessions::delete(conn, &row.id)?;
                    api_tokens::revoke_for_login(conn, &row.id)?;
                    applied.logins += 1;
                }
            }
            applied.tokens = api_tokens::revoke_all_but(
                conn,
                id,
                scope.login.as_deref(),
                scope.token.as_deref(),
            )?;
        }
        Reach::All => {
            applied.logins = sessions::delete_for_user(conn, id, None)?;
            applied.tokens = api_tokens::revoke_all(conn, id)?;
            // The tokens apps hold through "Sign in with Latchkey" end with every login:
            // what the person agreed to share stays, so signing in again asks nothing.
            applied.tokens +=
                crate::db::oidc_grants::revoke_for_user(conn, id, None, crate::db::now())?;
        }
    }
    // Remembered browsers and pending logins are bound to the uniquifier; so are every
    // login, token and reset link. A second factor's change ends its own (their binding
    // covers the second factor's secrets), without signing anyone out.
    if ends.logins == Reach::All {
        users::rotate_uniquifier(conn, id, &new_uniquifier())?;
    }
    let mut purposes = Vec::new();
    if ends.revert_links {
        purposes.push(Purpose::RevertEmail);
    }
    if ends.change_email_links {
        purposes.push(Purpose::ChangeEmail);
    }
    for purpose in purposes {
        tokens::delete_for_user(conn, id, purpose.as_str())?;
    }
    let of_user = webauthn::table.filter(webauthn::user_id.eq(id));
    applied.passkeys = match (ends.first_factor_passkeys, ends.second_factors) {
        // Every passkey, rows of an adopted database with another usage included.
        (true, true) => diesel::delete(of_user).execute(conn)?,
        (true, false) => {
            diesel::delete(of_user.filter(webauthn::usage.eq("first"))).execute(conn)?
        }
        (false, true) => {
            diesel::delete(of_user.filter(webauthn::usage.eq("secondary"))).execute(conn)?
        }
        (false, false) => 0,
    };
    if ends.signin_methods {
        diesel::update(user::table.find(id))
            .set((
                user::us_totp_secrets.eq(None::<String>),
                user::us_phone_number.eq(None::<String>),
            ))
            .execute(conn)?;
    }
    if ends.linked_identities {
        crate::db::identities::delete_for_user(conn, id)?;
    }
    if ends.second_factors {
        clear_two_factor(conn, id)?;
    }
    if ends.recovery_codes {
        diesel::update(user::table.find(id))
            .set(user::mf_recovery_codes.eq(None::<String>))
            .execute(conn)?;
    }
    tracing::info!(
        event = "credentials_ended",
        user_id = id,
        cause = event.as_str(),
        logins = applied.logins,
        tokens = applied.tokens,
        passkeys = applied.passkeys,
        "credential lifecycle applied"
    );
    Ok(applied)
}

/// A digest of the account's second-factor settings (method, encrypted secret, phone): it
/// changes whenever the second factor is set up, changed or removed.
pub fn second_factor_fingerprint(user: &User) -> String {
    crate::crypto::digest(&format!(
        "tf|{}|{}|{}",
        user.tf_primary_method.as_deref().unwrap_or(""),
        user.tf_totp_secret.as_deref().unwrap_or(""),
        user.tf_phone_number.as_deref().unwrap_or("")
    ))
}

/// The part of a revert link's detail that records the second factor the account had when
/// its address changed: a [`second_factor_fingerprint`] of a factor the
/// old mailbox cannot reach (an authenticator or a phone).
pub fn revert_snapshot(user: &User) -> Option<String> {
    match user.tf_primary_method.as_deref() {
        Some("authenticator") | Some("sms") => Some(second_factor_fingerprint(user)),
        _ => None,
    }
}

/// The separator between the old address and the snapshot in a revert link's detail (no
/// address contains it).
pub const SNAPSHOT_SEPARATOR: char = '\n';

/// A second factor the old mailbox never had was proved (`method`: `authenticator` or
/// `sms`; a mailed code, a rescue code or a recovery code prove nothing here): every
/// revert link made while the account already had that factor dies. Returns how many.
pub fn second_factor_proved(
    conn: &mut DbConnection,
    user: &User,
    method: &str,
) -> Result<usize, DbError> {
    if !matches!(method, "authenticator" | "sms") {
        return Ok(0);
    }
    let Some(snapshot) = revert_snapshot(user) else {
        return Ok(0);
    };
    let links: Vec<(String, Option<String>)> = user_token::table
        .filter(user_token::user_id.eq(user.id))
        .filter(user_token::purpose.eq(Purpose::RevertEmail.as_str()))
        .filter(user_token::used_at.is_null())
        .select((user_token::token_hash, user_token::detail))
        .load(conn)?;
    let mut ended = 0;
    for (hash, detail) in links {
        let made_with = detail
            .as_deref()
            .and_then(|d| d.split_once(SNAPSHOT_SEPARATOR))
            .map(|(_, snapshot)| snapshot);
        if made_with.is_some_and(|s| crate::crypto::constant_time_eq(s, &snapshot)) {
            ended += diesel::delete(user_token::table.find(&hash)).execute(conn)?;
        }
    }
    if ended > 0 {
        tracing::info!(
            event = "revert_links_ended",
            user_id = user.id,
            count = ended,
            "the owner proved a second factor the old address never had"
        );
    }
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_through_the_mailbox_leaves_no_way_in_without_the_new_password() {
        for event in [
            Event::PasswordReset,
            Event::EmailRevert,
            Event::MailboxProven,
        ] {
            let e = ends(event);
            assert_eq!(e.logins, Reach::All, "{event:?}");
            assert!(e.remembered_browsers && e.pending_logins, "{event:?}");
            assert!(e.first_factor_passkeys && e.signin_methods, "{event:?}");
        }
        let first = ends(Event::MailboxProven);
        assert!(first.second_factors && first.recovery_codes);
    }

    #[test]
    fn a_password_never_kills_the_revert() {
        for event in Event::ALL {
            if event != Event::EmailRevert {
                assert!(!ends(event).revert_links, "{event:?}");
            }
        }
    }
}
