//! What an operator does to an account (`latchkey users …`): find it as the login form
//! would, switch it on or off, and log it out everywhere. Callable without HTTP.

use super::events::SecurityEvent;
use super::lifecycle;
use super::login::ClientInfo;
use diesel::Connection;

use super::error::ServiceError;
use super::services::Services;
use crate::db::models::User;
use crate::db::users;
use crate::domain::Email;

/// The account an email names, matched as the login form matches it (normalised, case
/// folded); a string that is not a valid email is looked up exactly as stored, so that an
/// adopted row with an odd address can still be found.
pub async fn find_by_email(services: &Services, typed: &str) -> Result<Option<User>, ServiceError> {
    let found = match Email::parse(typed) {
        Ok(email) => {
            services
                .db
                .run(move |conn| users::find_by_email(conn, &email))
                .await?
        }
        Err(_) => {
            let stored = typed.to_owned();
            services
                .db
                .run(move |conn| users::find_by_stored_email(conn, &stored))
                .await?
        }
    };
    Ok(found)
}

/// What switching an account on or off did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// It was already in that state.
    Unchanged,
    /// Switched; this many logins ended (deactivation ends them all).
    Done { logins_ended: usize },
}

/// Lets an account log in again, or stops it: a deactivated account's logins end at once
/// (they would be refused at their next request anyway; the rows go too).
pub async fn set_active(
    services: &Services,
    user: &User,
    active: bool,
    client: &ClientInfo,
) -> Result<Switched, ServiceError> {
    if user.is_active() == active {
        return Ok(Switched::Unchanged);
    }
    let id = user.id;
    let ended = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                users::set_active(conn, id, active)?;
                Ok(if active {
                    0
                } else {
                    let scope = lifecycle::Scope::user(id);
                    lifecycle::apply(conn, lifecycle::Event::Deactivate, &scope)?.logins
                })
            })
        })
        .await?;
    let event = match active {
        true => SecurityEvent::AccountActivated,
        false => SecurityEvent::AccountDeactivated,
    };
    services.emit(event, Some(id), client);
    Ok(Switched::Done {
        logins_ended: ended,
    })
}

/// Logs the user out everywhere: a new `fs_uniquifier` (which every login and remember-me
/// cookie is bound to) and every login row gone. Returns how many logins ended.
pub async fn reset_access(
    services: &Services,
    user: &User,
    client: &ClientInfo,
) -> Result<usize, ServiceError> {
    let id = user.id;
    let ended = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                let scope = lifecycle::Scope::user(id);
                Ok(lifecycle::apply(conn, lifecycle::Event::ResetAccess, &scope)?.logins)
            })
        })
        .await?;
    services.emit(SecurityEvent::AccessReset, Some(id), client);
    Ok(ended)
}

/// Something `latchkey db check` reports about the identities of an adopted database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityFinding {
    /// A stored email or username that today's rules would refuse (an invisible character,
    /// mixed scripts, …). Its owner still logs in by typing it as stored.
    Refused {
        field: &'static str,
        user_id: i32,
        stored: String,
        reason: String,
    },
    /// A stored email or username whose case differs from its folded form beyond ASCII
    /// (`Ädmin@…`). It still logs in, but SQLite's `lower()` folds only ASCII, so on SQLite
    /// a new account `ädmin@…` would not be seen as taken: store it folded.
    NotFolded {
        field: &'static str,
        user_id: i32,
        stored: String,
    },
    /// Accounts whose emails (or usernames) differ only in case: they look alike, and a
    /// case-folded login finds only one of them.
    LookAlike {
        field: &'static str,
        user_ids: Vec<i32>,
        folded: String,
    },
}

/// Checks every account's email and username (`(id, email, username)` rows) against the
/// rules new accounts follow.
pub fn check_identities(
    rows: &[crate::db::users::Identity],
    usernames: &crate::config::UsernamePolicy,
    messages: &crate::messages::Messages,
) -> Vec<IdentityFinding> {
    use std::collections::BTreeMap;
    let mut findings = Vec::new();
    let mut folded: BTreeMap<(&'static str, String), Vec<i32>> = BTreeMap::new();
    for (id, email, username) in rows {
        if let Some(stored) = email {
            match Email::parse(stored) {
                Ok(email) => {
                    if unfolded_beyond_ascii(stored, email.as_str()) {
                        findings.push(IdentityFinding::NotFolded {
                            field: "email",
                            user_id: *id,
                            stored: stored.clone(),
                        });
                    }
                    folded
                        .entry(("email", email.as_str().to_owned()))
                        .or_default()
                        .push(*id)
                }
                Err(e) => findings.push(IdentityFinding::Refused {
                    field: "email",
                    user_id: *id,
                    stored: stored.clone(),
                    reason: messages.describe(&e),
                }),
            }
        }
        if let Some(stored) = username {
            match crate::domain::Username::existing(stored, usernames) {
                Ok(name) => {
                    if unfolded_beyond_ascii(stored, name.as_str()) {
                        findings.push(IdentityFinding::NotFolded {
                            field: "username",
                            user_id: *id,
                            stored: stored.clone(),
                        });
                    }
                    folded
                        .entry(("username", name.as_str().to_owned()))
                        .or_default()
                        .push(*id)
                }
                Err(e) => findings.push(IdentityFinding::Refused {
                    field: "username",
                    user_id: *id,
                    stored: stored.clone(),
                    reason: messages.describe(&e),
                }),
            }
        }
    }
    for ((field, folded), user_ids) in folded {
        if user_ids.len() > 1 {
            findings.push(IdentityFinding::LookAlike {
                field,
                user_ids,
                folded,
            });
        }
    }
    findings
}

/// Whether `stored` differs from its `folded` form by more than ASCII case (what SQLite's
/// `lower()` cannot see).
fn unfolded_beyond_ascii(stored: &str, folded: &str) -> bool {
    use unicode_normalization::UnicodeNormalization;
    let nfc: String = stored.nfc().collect();
    let nfkd: String = stored.nfkd().collect();
    let ascii_folded = [nfc.to_ascii_lowercase(), nfkd.to_ascii_lowercase()];
    !ascii_folded.iter().any(|f| f == folded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adopted_look_alikes_and_refused_identities_are_reported() {
        let rows = vec![
            (
                1,
                Some("admin@example.com".to_owned()),
                Some("admin".to_owned()),
            ),
            (2, Some("admin\u{200B}@example.com".to_owned()), None),
            (
                3,
                Some("Ädmin@example.com".to_owned()),
                Some("\u{0430}dmin".to_owned()),
            ),
            (
                4,
                Some("ädmin@example.com".to_owned()),
                Some("ADMIN".to_owned()),
            ),
            (5, None, Some("clean".to_owned())),
        ];
        let findings = check_identities(
            &rows,
            &crate::config::UsernamePolicy::default(),
            &crate::messages::Messages::default(),
        );
        assert!(findings.contains(&IdentityFinding::Refused {
            field: "email",
            user_id: 2,
            stored: "admin\u{200B}@example.com".to_owned(),
            reason: "Invalid email address".to_owned(),
        }));
        assert!(findings.iter().any(|f| matches!(
            f,
            IdentityFinding::Refused {
                field: "username",
                user_id: 3,
                ..
            }
        )));
        assert!(findings.contains(&IdentityFinding::LookAlike {
            field: "email",
            user_ids: vec![3, 4],
            folded: "ädmin@example.com".to_owned(),
        }));
        assert!(findings.contains(&IdentityFinding::LookAlike {
            field: "username",
            user_ids: vec![1, 4],
            folded: "admin".to_owned(),
        }));
        assert!(findings.contains(&IdentityFinding::NotFolded {
            field: "email",
            user_id: 3,
            stored: "Ädmin@example.com".to_owned(),
        }));
        assert_eq!(findings.len(), 5, "{findings:?}");
    }
}
