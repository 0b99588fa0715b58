//! Confirmation, reset and change-of-email tokens: 256 random bits sent by mail, stored only
//! as an HMAC (keyed by `SECRET_KEY`), bound to a purpose, a user and a value of that user
//! (the email to confirm, the password to replace), expiring, and used at most once. A
//! token may carry one value of its own (`detail`: the new address a change-of-email link
//! switches to).

use std::time::Duration;

use crate::config::Secret;
use crate::db::models::{User, UserToken};
use crate::db::{self, tokens, DbConnection, DbError};

use crate::crypto::{constant_time_eq, derive_key, digest, keyed_digest, random_token};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Confirm,
    Reset,
    /// Switches the account to the address in the token's detail (mailed to that address).
    ChangeEmail,
    /// "This wasn't me", mailed to the address a change replaced (in the detail): locks the
    /// account and gives it back to that address.
    RevertEmail,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Confirm => "confirm",
            Purpose::Reset => "reset",
            Purpose::ChangeEmail => "change_email",
            Purpose::RevertEmail => "revert_email",
        }
    }

    /// Whether a new token of this purpose retires the user's older ones. A "this wasn't
    /// me" link must survive further changes: whoever took the account could otherwise
    /// cancel the owner's link by changing the address again.
    fn replaces_older(self) -> bool {
        !matches!(self, Purpose::RevertEmail)
    }

    /// What the token is bound to: it dies when that value changes.
    fn binding(self, user: &User) -> String {
        match self {
            Purpose::Confirm => digest(&user.email_or_empty().to_lowercase()),
            Purpose::Reset => digest(&format!(
                "{}:{}",
                user.password_hash().unwrap_or(""),
                user.fs_uniquifier
            )),
            // Dies if the address or the password changes before the link is opened.
            Purpose::ChangeEmail => digest(&format!(
                "{}:{}",
                user.email_or_empty().to_lowercase(),
                user.password_hash().unwrap_or("")
            )),
            // Bound to the account alone: nothing its new holder can change kills it.
            Purpose::RevertEmail => digest(&format!("revert:{}", user.id)),
        }
    }
}

/// Issues and checks tokens under one key derived from `SECRET_KEY`.
#[derive(Clone)]
pub struct TokenIssuer {
    key: [u8; 64],
}

/// The state of a presented token.
#[derive(Debug)]
pub enum TokenState {
    Valid(User),
    /// Genuine but too old: the caller may send a fresh one to this user.
    Expired(User),
    /// Genuine and already used.
    Used(User),
    /// Unknown, tampered, for another purpose or another key, or bound to a changed value.
    Invalid,
}

impl TokenIssuer {
    pub fn new(secret: &Secret) -> Self {
        Self {
            key: derive_key(secret, "user-token"),
        }
    }

    fn hash(&self, raw: &str) -> Option<String> {
        // Real tokens are 43 characters; refuse anything absurd before hashing.
        (!raw.is_empty() && raw.len() <= 128).then(|| keyed_digest(&self.key, raw))
    }

    /// Creates a token for `user` (replacing older ones of the same purpose) and returns the
    /// raw value to put in a link.
    pub fn issue(
        &self,
        conn: &mut DbConnection,
        user: &User,
        purpose: Purpose,
        valid_for: Duration,
    ) -> Result<String, DbError> {
        self.issue_with_detail(conn, user, purpose, valid_for, None)
    }

    /// [`Self::issue`], the token carrying `detail` (given back by
    /// [`Self::consume_with_detail`]).
    pub fn issue_with_detail(
        &self,
        conn: &mut DbConnection,
        user: &User,
        purpose: Purpose,
        valid_for: Duration,
        detail: Option<&str>,
    ) -> Result<String, DbError> {
        let raw = random_token(32);
        let now = db::now();
        if purpose.replaces_older() {
            tokens::delete_for_user(conn, user.id, purpose.as_str())?;
        }
        let lifetime = chrono::Duration::from_std(valid_for).unwrap_or(chrono::Duration::days(1));
        tokens::insert(
            conn,
            &UserToken {
                token_hash: keyed_digest(&self.key, &raw),
                user_id: user.id,
                purpose: purpose.as_str().to_owned(),
                binding: purpose.binding(user),
                created_at: now,
                expires_at: now + lifetime,
                used_at: None,
                detail: detail.map(str::to_owned),
            },
        )?;
        Ok(raw)
    }

    pub fn check(
        &self,
        conn: &mut DbConnection,
        raw: &str,
        purpose: Purpose,
    ) -> Result<TokenState, DbError> {
        let Some(hash) = self.hash(raw) else {
            return Ok(TokenState::Invalid);
        };
        let Some((token, user)) = tokens::find_with_user(conn, &hash)? else {
            return Ok(TokenState::Invalid);
        };
        if token.purpose != purpose.as_str()
            || !constant_time_eq(&token.binding, &purpose.binding(&user))
        {
            return Ok(TokenState::Invalid);
        }
        if token.used_at.is_some() {
            return Ok(TokenState::Used(user));
        }
        if token.expires_at <= db::now() {
            return Ok(TokenState::Expired(user));
        }
        Ok(TokenState::Valid(user))
    }

    /// Atomically uses a valid token; `None` if it was not valid (or another request used it
    /// first). Call inside the transaction that performs what the token allows. The write
    /// comes first so that SQLite takes its write lock before reading anything.
    pub fn consume(
        &self,
        conn: &mut DbConnection,
        raw: &str,
        purpose: Purpose,
    ) -> Result<Option<User>, DbError> {
        Ok(self
            .consume_with_detail(conn, raw, purpose)?
            .map(|(user, _)| user))
    }

    /// [`Self::consume`], with the value the token carries.
    pub fn consume_with_detail(
        &self,
        conn: &mut DbConnection,
        raw: &str,
        purpose: Purpose,
    ) -> Result<Option<(User, Option<String>)>, DbError> {
        let Some(hash) = self.hash(raw) else {
            return Ok(None);
        };
        if !tokens::consume(conn, &hash, purpose.as_str(), db::now())? {
            return Ok(None);
        }
        let Some((token, user)) = tokens::find_with_user(conn, &hash)? else {
            return Ok(None);
        };
        let bound = constant_time_eq(&token.binding, &purpose.binding(&user));
        Ok(bound.then_some((user, token.detail)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::NewUser;
    use crate::db::{users, DatabaseUrl};
    use proptest::prelude::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new(&Secret::new("token-test-secret"))
    }

    /// A migrated SQLite database with one user holding a live reset token.
    fn database() -> (tempfile::TempDir, DbConnection, String) {
        let dir = tempfile::tempdir().unwrap();
        let url = DatabaseUrl::parse(&dir.path().join("t.db").to_string_lossy()).unwrap();
        let (mut conn, _) = db::open_single(&url).unwrap();
        let user = users::insert(
            &mut conn,
            &NewUser {
                email: "t@example.com".into(),
                username: None,
                password: "$2b$04$x".into(),
                active: Some(true),
                fs_uniquifier: "u".into(),
                confirmed_at: None,
            },
        )
        .unwrap();
        let raw = issuer()
            .issue(&mut conn, &user, Purpose::Reset, Duration::from_secs(3600))
            .unwrap();
        (dir, conn, raw)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_string_hashes_within_bounds(raw in "\\PC{0,300}") {
            let hashed = issuer().hash(&raw);
            prop_assert_eq!(hashed.is_some(), !raw.is_empty() && raw.len() <= 128);
            if let Some(h) = hashed {
                prop_assert_eq!(h.len(), 64);
                prop_assert_eq!(Some(h), issuer().hash(&raw));
            }
        }
    }

    #[test]
    fn arbitrary_strings_never_match_a_live_token() {
        let (_dir, conn, real) = database();
        // proptest's runner takes an `Fn`: the connection goes in a RefCell.
        let conn = std::cell::RefCell::new(conn);
        let tokens = issuer();
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(256));
        runner
            .run(&"\\PC{0,200}|[A-Za-z0-9_-]{43}", |raw| {
                prop_assume!(raw != real);
                let conn = &mut *conn.borrow_mut();
                for purpose in [Purpose::Reset, Purpose::Confirm] {
                    let state = tokens.check(conn, &raw, purpose).unwrap();
                    prop_assert!(matches!(state, TokenState::Invalid), "{raw:?}: {state:?}");
                    prop_assert!(tokens.consume(conn, &raw, purpose).unwrap().is_none());
                }
                Ok(())
            })
            .unwrap();
        let mut conn = conn.into_inner();
        // One character off is another token.
        let mut flipped = real.clone().into_bytes();
        flipped[0] = if flipped[0] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert!(matches!(
            tokens.check(&mut conn, &flipped, Purpose::Reset).unwrap(),
            TokenState::Invalid
        ));
        // And the real one survived all of it.
        assert!(matches!(
            tokens.check(&mut conn, &real, Purpose::Reset).unwrap(),
            TokenState::Valid(_)
        ));
        assert!(matches!(
            tokens.check(&mut conn, &real, Purpose::Confirm).unwrap(),
            TokenState::Invalid
        ));
    }
}
