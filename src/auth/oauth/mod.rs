//! Social login (`SECURITY_OAUTH_ENABLE`): signing in through an OpenID Connect provider,
//! Flask-Security's feature made safe.
//!
//! * The protocol is the `openidconnect` crate's ([`client`]): the authorization code flow
//!   with PKCE S256; `state` and `nonce` random per round trip, kept with the PKCE verifier
//!   in the browser's encrypted session ([`Flow`]), good once and for [`FLOW_WITHIN`]; the ID
//!   token verified (signature from the provider's JWKS, issuer, audience, expiry, nonce).
//! * An identity is (provider, subject), in a table of its own. After the first sign-in it
//!   is found by subject, never by email. A first sign-in links to an existing account by
//!   email only when the provider asserts the address is verified (`email_verified`) and the
//!   account's address is confirmed here; otherwise Flask-Security's `IDENTITY_NOT_REGISTERED`.
//! * A social sign-in is a first factor: it ends in
//!   [`super::signin::first_factor_proved`] as a password does, so the second factor, the
//!   login row, the new-device notice and the events are the same.

pub mod client;

use diesel::Connection;
use serde::{Deserialize, Serialize};

pub use client::{Claims, Handshake, Providers};

use super::authenticate::{self, check_counted, Attempt, Checked, LoginFailure};
use super::error::ServiceError;
use super::events::{LoginMethod, SecurityEvent};
use super::lifecycle::{self, Scope};
use super::notices::Notice;
use super::registration;
use super::services::Services;
use super::signin::{self, Asked, Browser, FirstFactor, Step};
use super::throttle;
use crate::db::identities::LinkedIdentity;
use crate::db::models::User;
use crate::db::{self, identities};
use crate::domain::Email;
use crate::messages::{self, Described, Msg};

/// How long a begun round trip may be finished.
pub const FLOW_WITHIN: std::time::Duration = std::time::Duration::from_secs(600);

/// What a round trip is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Signing in (`/login/oauthstart/<name>`).
    Login,
    /// Re-authenticating a signed-in user (`/login/oauth-verify-start/<name>`).
    Verify,
    /// Linking another identity to a signed-in user (the account page); answered at the
    /// verify response URL, so a provider needs no third redirect URI.
    Link,
}

/// A round trip in progress: what the browser's encrypted session keeps between the start
/// and the provider's answer. Taken out (used up) by the answer, whatever it is.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flow {
    pub provider: String,
    pub purpose: Purpose,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go afterwards (already checked to be safe).
    pub next: Option<String>,
    /// Unix seconds.
    pub started_at: i64,
}

impl std::fmt::Debug for Flow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flow")
            .field("provider", &self.provider)
            .field("purpose", &self.purpose)
            .field("started_at", &self.started_at)
            .finish_non_exhaustive()
    }
}

/// The provider's answer at the response URL (its query).
#[derive(Debug, Clone, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    /// `error` (`access_denied` when the person declined) and `error_description`.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A begun round trip: where to send the browser, and what its session keeps.
#[derive(Debug)]
pub struct Begun {
    pub authorize_url: String,
    pub flow: Flow,
}

/// Why a social sign-in was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such provider is configured (404).
    UnknownProvider,
    /// The round trip failed: no flow, a wrong or expired `state`, the provider's error, an
    /// ID token that did not verify, a replay (`OAUTH_HANDSHAKE_ERROR`).
    Handshake(Handshake),
    /// No account for this identity (`IDENTITY_NOT_REGISTERED`): `id` is the address the
    /// provider gave (or the subject when it gave none).
    NotRegistered { id: String },
    /// The account may not sign in (disabled, or awaiting confirmation).
    Account(LoginFailure),
    /// The identity is linked to another account already (linking).
    LinkedElsewhere { provider: String },
    /// No such identity of this account (unlinking).
    NoSuchIdentity,
    /// Unlinking it would leave the account no way to sign in.
    LastWayIn,
}

impl Refusal {
    /// The reason stored with the `login_failed` event.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::UnknownProvider => "unknown_provider",
            Refusal::Handshake(_) => "oauth_handshake",
            Refusal::NotRegistered { .. } => "identity_not_registered",
            Refusal::Account(failure) => failure.as_str(),
            Refusal::LinkedElsewhere { .. } => "linked_elsewhere",
            Refusal::NoSuchIdentity => "no_such_identity",
            Refusal::LastWayIn => "last_way_in",
        }
    }
}

impl Described for Refusal {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        match self {
            Refusal::UnknownProvider => (
                messages::OAUTH_HANDSHAKE_ERROR,
                vec![
                    ("exerror", "unknown_provider".to_owned()),
                    ("exdesc", String::new()),
                ],
            ),
            Refusal::Handshake(h) => (
                messages::OAUTH_HANDSHAKE_ERROR,
                vec![
                    ("exerror", h.error.clone()),
                    ("exdesc", h.description.clone()),
                ],
            ),
            Refusal::NotRegistered { id } => {
                (messages::IDENTITY_NOT_REGISTERED, vec![("id", id.clone())])
            }
            Refusal::Account(failure) => (failure.msg(), vec![]),
            Refusal::LinkedElsewhere { provider } => (
                messages::OAUTH_IDENTITY_LINKED_ELSEWHERE,
                vec![("provider", provider.clone())],
            ),
            Refusal::NoSuchIdentity => (messages::OAUTH_NO_SUCH_IDENTITY, vec![]),
            Refusal::LastWayIn => (messages::OAUTH_LAST_WAY_IN, vec![]),
        }
    }
}

/// Starts a round trip with provider `name`: the authorization URL (PKCE, `state`,
/// `nonce`) and the [`Flow`] the browser keeps. `redirect_uri`: the response URL for `name`
/// under `BASE_URL`, exactly.
pub async fn begin(
    services: &Services,
    name: &str,
    purpose: Purpose,
    redirect_uri: &str,
    next: Option<String>,
) -> Result<Begun, Refusal> {
    let provider = services
        .settings
        .oauth
        .provider(name)
        .ok_or(Refusal::UnknownProvider)?;
    let authorization = services
        .oauth
        .authorize(provider, redirect_uri)
        .await
        .map_err(Refusal::Handshake)?;
    tracing::info!(event = "oauth_started", provider = %name, purpose = ?purpose,
        "social login: sent to the provider");
    Ok(Begun {
        authorize_url: authorization.url,
        flow: Flow {
            provider: name.to_owned(),
            purpose,
            state: authorization.state,
            nonce: authorization.nonce,
            pkce_verifier: authorization.pkce_verifier,
            next,
            started_at: super::two_factor::unix_now(),
        },
    })
}

/// The outcome of a social sign-in.
pub type Outcome = Attempt<Step, Refusal>;

/// Finishes a social sign-in at provider `name`'s answer: the flow this browser kept
/// (`None`: it began none), checked against the answer, the code exchanged and the ID token
/// verified; the account found by subject (or linked by a verified address to a confirmed
/// account), then on into the login state machine as any first factor. A refusal is logged
/// and recorded as a `login_failed` event.
pub async fn sign_in(
    services: &Services,
    browser: &Browser,
    name: &str,
    flow: Option<Flow>,
    callback: &Callback,
    redirect_uri: &str,
) -> Result<Outcome, ServiceError> {
    let identified = identify(services, name, Purpose::Login, flow, callback, redirect_uri).await;
    let (claims, flow) = match identified {
        Ok(identified) => identified,
        Err(refusal) => return Ok(refused(services, browser, name, refusal, None)),
    };
    let user = match account(services, browser, name, &claims).await? {
        Ok(user) => user,
        Err(refusal) => return Ok(refused(services, browser, name, refusal, None)),
    };
    // The account's login throttle, as for a password: an account throttled for this
    // address (or closed to unknown addresses by its ceiling) is not signed in, however its
    // identity was proved. The proof is already checked, so the attempt counts as right.
    let subject = throttle::account_subject(user.id);
    let proved = async { Ok(true) };
    let reservation = match check_counted(services, subject, &browser.key(), proved).await? {
        Checked::Right(reservation) => reservation,
        Checked::Throttled { retry_after } => {
            tracing::info!(event = "oauth_signin_throttled", provider = %name,
                user_id = user.id, ip = %browser.key(), "social login throttled");
            return Ok(Attempt::Throttled { retry_after });
        }
        Checked::Wrong => {
            let wrong = Refusal::Handshake(Handshake::new("invalid_state", "not proved"));
            return Ok(refused(services, browser, name, wrong, Some(user.id)));
        }
    };
    if let Err(failure) = authenticate::may_sign_in(&services.settings.features, &user) {
        // The identity was right: not a failure, but no login either.
        throttle::release(&services.db, reservation).await?;
        return Ok(refused(
            services,
            browser,
            name,
            Refusal::Account(failure),
            Some(user.id),
        ));
    }
    // The same answer twice (a copy of the session cookie, on any instance) signs in once;
    // a replay stays counted as a failure.
    let once = format!("{}:{}", flow.state, flow.nonce);
    if !super::two_factor::record_once(services, user.id, "oauth", &once).await? {
        throttle::failed(reservation);
        let replay = Refusal::Handshake(Handshake::new("invalid_state", "already used"));
        return Ok(refused(services, browser, name, replay, Some(user.id)));
    }
    throttle::succeeded(&services.db, reservation).await?;
    tracing::info!(event = "oauth_signin", provider = %name, user_id = user.id,
        "social login: identity proved");
    let first = FirstFactor {
        user,
        method: LoginMethod::Oauth,
        proves_both: false,
    };
    let asked = Asked {
        remember: false,
        next: flow
            .next
            .clone()
            .or_else(|| services.settings.oauth.post_login_view.clone()),
    };
    let step = signin::first_factor_proved(services, browser, first, asked).await?;
    Ok(Attempt::Proved(step))
}

/// Finishes a re-authentication at provider `name`'s answer: the same round trip's checks
/// as [`sign_in`], then the identity must be one already linked to `user` (found by its
/// subject; nothing is linked here). Proved: where to go afterwards (the kept `next`, else
/// `SECURITY_POST_OAUTH_VERIFY_VIEW`). The caller records the fresh proof.
pub async fn verify(
    services: &Services,
    browser: &Browser,
    user: &User,
    name: &str,
    flow: Option<Flow>,
    callback: &Callback,
    redirect_uri: &str,
) -> Result<Attempt<Option<String>, Refusal>, ServiceError> {
    let refused = |refusal: Refusal| {
        tracing::info!(event = "verify_failed", provider = %name, reason = refusal.reason(),
            user_id = user.id, ip = %browser.key(), "social re-authentication refused");
        Ok(Attempt::Refused(refusal))
    };
    let identified = identify(
        services,
        name,
        Purpose::Verify,
        flow,
        callback,
        redirect_uri,
    )
    .await;
    let (claims, flow) = match identified {
        Ok(identified) => identified,
        Err(refusal) => return refused(refusal),
    };
    let (provider, subject) = (name.to_owned(), claims.subject.clone());
    let linked = services
        .db
        .run(move |conn| identities::find(conn, &provider, &subject))
        .await?;
    let Some(linked) = linked.filter(|l| l.user_id == user.id) else {
        let id = claims
            .email
            .clone()
            .unwrap_or_else(|| claims.subject.clone());
        return refused(Refusal::NotRegistered { id });
    };
    let once = format!("{}:{}", flow.state, flow.nonce);
    if !super::two_factor::record_once(services, user.id, "oauth", &once).await? {
        return refused(Refusal::Handshake(Handshake::new(
            "invalid_state",
            "already used",
        )));
    }
    let id = linked.id;
    services
        .db
        .run(move |conn| identities::touch(conn, id, db::now()))
        .await?;
    let next = flow
        .next
        .or_else(|| services.settings.oauth.post_verify_view.clone());
    Ok(Attempt::Proved(next))
}

/// Finishes linking an identity at provider `name` to the signed-in `user` (the account
/// page, after a fresh proof): the same round trip's checks as [`sign_in`], then the
/// identity is linked unless it is linked to another account. Linking needs no address to
/// match: the signed-in user proved both sides. Proved: `Some(next)` or `None` when it was
/// linked to `user` already (nothing changed).
pub async fn link(
    services: &Services,
    browser: &Browser,
    user: &User,
    name: &str,
    flow: Option<Flow>,
    callback: &Callback,
    redirect_uri: &str,
) -> Result<Attempt<Option<Option<String>>, Refusal>, ServiceError> {
    let refused = |refusal: Refusal| {
        tracing::info!(event = "oauth_link_failed", provider = %name, reason = refusal.reason(),
            user_id = user.id, ip = %browser.key(), "social login: linking refused");
        Ok(Attempt::Refused(refusal))
    };
    let identified = identify(services, name, Purpose::Link, flow, callback, redirect_uri).await;
    let (claims, flow) = match identified {
        Ok(identified) => identified,
        Err(refusal) => return refused(refusal),
    };
    let once = format!("{}:{}", flow.state, flow.nonce);
    if !super::two_factor::record_once(services, user.id, "oauth", &once).await? {
        return refused(Refusal::Handshake(Handshake::new(
            "invalid_state",
            "already used",
        )));
    }
    let (provider, claims_for, user_id) = (name.to_owned(), claims.clone(), user.id);
    let linked = services
        .db
        .run(move |conn| {
            conn.transaction::<_, db::DbError, _>(|conn| {
                match identities::find(conn, &provider, &claims_for.subject)? {
                    Some(l) if l.user_id == user_id => Ok(Some(false)),
                    Some(_) => Ok(None),
                    None => {
                        let address = claims_for.email.as_deref();
                        let now = db::now();
                        identities::insert(
                            conn,
                            &provider,
                            &claims_for.subject,
                            user_id,
                            address,
                            now,
                        )?;
                        lifecycle::apply(
                            conn,
                            lifecycle::Event::IdentityLinked,
                            &Scope::user(user_id),
                        )?;
                        Ok(Some(true))
                    }
                }
            })
        })
        .await?;
    match linked {
        None => refused(Refusal::LinkedElsewhere {
            provider: name.to_owned(),
        }),
        Some(false) => Ok(Attempt::Proved(None)),
        Some(true) => {
            tracing::info!(event = "oauth_identity_linked", provider = %name, user_id = user.id,
                "social login: identity linked on the account page");
            let event = SecurityEvent::IdentityLinked {
                provider: name.to_owned(),
            };
            services.emit(event, Some(user.id), &browser.client);
            let notice = Notice::SocialLogin {
                linked: true,
                provider: name.to_owned(),
                email: claims.email.clone(),
            };
            super::notices::send(services, user, notice, &browser.client).await;
            Ok(Attempt::Proved(Some(flow.next)))
        }
    }
}

/// Unlinks the identity `identity_id` of `user` (the account page, after a fresh proof),
/// unless it is the account's last way to sign in (no password, no first-factor passkey, no
/// unified sign-in method, no other identity at an offered provider). The unlinked
/// identity.
pub async fn unlink(
    services: &Services,
    browser: &Browser,
    user: &User,
    identity_id: i32,
) -> Result<Result<LinkedIdentity, Refusal>, ServiceError> {
    let settings = &services.settings;
    let (user_id, has_password) = (user.id, user.password_hash().is_some());
    let passkeys_sign_in = settings.webauthn.enabled && settings.webauthn.allow_as_first_factor;
    let unified = settings.unified_signin.enabled
        && super::unified::active_methods(services, user)
            .iter()
            .any(|m| *m != crate::config::UsMethod::Password);
    let offered = settings.oauth.provider_names();
    let unlinked = services
        .db
        .run(move |conn| {
            conn.transaction::<_, db::DbError, _>(|conn| {
                let all = identities::for_user(conn, user_id)?;
                let Some(target) = all.iter().find(|l| l.id == identity_id).cloned() else {
                    return Ok(Err(Refusal::NoSuchIdentity));
                };
                let other_identity = all
                    .iter()
                    .any(|l| l.id != identity_id && offered.contains(&l.provider));
                let passkey = passkeys_sign_in && db::passkeys::has_usage(conn, user_id, "first")?;
                if !(has_password || passkey || unified || other_identity) {
                    return Ok(Err(Refusal::LastWayIn));
                }
                identities::delete(conn, identity_id, user_id)?;
                lifecycle::apply(
                    conn,
                    lifecycle::Event::IdentityUnlinked,
                    &Scope::user(user_id),
                )?;
                Ok(Ok(target))
            })
        })
        .await?;
    let target = match unlinked {
        Ok(target) => target,
        Err(refusal) => {
            tracing::info!(
                event = "oauth_unlink_refused",
                user_id = user.id,
                reason = refusal.reason(),
                "social login: unlinking refused"
            );
            return Ok(Err(refusal));
        }
    };
    tracing::info!(event = "oauth_identity_unlinked", provider = %target.provider,
        user_id = user.id, "social login: identity unlinked");
    let event = SecurityEvent::IdentityUnlinked {
        provider: target.provider.clone(),
    };
    services.emit(event, Some(user.id), &browser.client);
    let notice = Notice::SocialLogin {
        linked: false,
        provider: target.provider.clone(),
        email: target.email.clone(),
    };
    super::notices::send(services, user, notice, &browser.client).await;
    Ok(Ok(target))
}

/// The identities linked to `user`, oldest first (the account page).
pub async fn linked(services: &Services, user: &User) -> Result<Vec<LinkedIdentity>, ServiceError> {
    let id = user.id;
    Ok(services
        .db
        .run(move |conn| identities::for_user(conn, id))
        .await?)
}

fn refused(
    services: &Services,
    browser: &Browser,
    name: &str,
    refusal: Refusal,
    user_id: Option<i32>,
) -> Outcome {
    tracing::info!(event = "oauth_signin_failed", provider = %name, reason = refusal.reason(),
        user_id, ip = %browser.key(), "social login refused");
    let event = SecurityEvent::LoginFailed {
        method: LoginMethod::Oauth,
        reason: refusal.reason().to_owned(),
    };
    services.emit(event, user_id, &browser.client);
    Attempt::Refused(refusal)
}

/// The round trip's checks: a flow this browser began, for this provider and purpose, not
/// expired, whose `state` the answer carries; then the code exchanged and the ID token
/// verified. The verified claims and the flow.
async fn identify(
    services: &Services,
    name: &str,
    purpose: Purpose,
    flow: Option<Flow>,
    callback: &Callback,
    redirect_uri: &str,
) -> Result<(Claims, Flow), Refusal> {
    let provider = services
        .settings
        .oauth
        .provider(name)
        .ok_or(Refusal::UnknownProvider)?;
    let handshake = |error: &str, description: &str| {
        Refusal::Handshake(Handshake::new(error, description.to_owned()))
    };
    let flow = flow.ok_or_else(|| handshake("invalid_state", "no sign-in was started here"))?;
    if flow.provider != name || flow.purpose != purpose {
        return Err(handshake("invalid_state", "the state does not match"));
    }
    // The provider's refusal (`access_denied`: the person declined) proves nothing and
    // grants nothing: it is reported as it is, with or without a state.
    if let Some(error) = &callback.error {
        let description = callback.error_description.as_deref().unwrap_or_default();
        return Err(handshake(error, description));
    }
    let state_matches = callback
        .state
        .as_deref()
        .is_some_and(|state| crate::crypto::constant_time_eq(state, &flow.state));
    if !state_matches {
        return Err(handshake("invalid_state", "the state does not match"));
    }
    let age = super::two_factor::unix_now() - flow.started_at;
    if !(0..FLOW_WITHIN.as_secs() as i64).contains(&age) {
        return Err(handshake("invalid_state", "the sign-in took too long"));
    }
    let code = callback
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| handshake("invalid_request", "no code"))?;
    let claims = services
        .oauth
        .exchange(
            provider,
            redirect_uri,
            code,
            &flow.pkce_verifier,
            &flow.nonce,
        )
        .await
        .map_err(Refusal::Handshake)?;
    Ok((claims, flow))
}

/// What the first transaction of [`account`] found.
enum Found {
    /// The account (`true`: the identity was just linked to it by its verified address).
    Account(Box<User>, bool),
    /// No account has the verified address: a sign-up may make one.
    AddressFree(Email),
    /// No account for this identity, and none may be made.
    Nobody,
}

/// The account of a verified identity: the one it is linked to; else, on a first sign-in,
/// the account with the address the provider asserts is verified, if that account's address
/// is confirmed here (the identity is linked to it, with its event); else, when sign-up
/// through a provider is on and no account has that verified address, a new account
/// ([`sign_up`]).
async fn account(
    services: &Services,
    browser: &Browser,
    name: &str,
    claims: &Claims,
) -> Result<Result<User, Refusal>, ServiceError> {
    let (provider, claims_for) = (name.to_owned(), claims.clone());
    let verified_email = claims
        .email
        .as_deref()
        .filter(|_| claims.email_verified == Some(true))
        .and_then(|e| Email::parse(e).ok());
    let found = services
        .db
        .run(move |conn| {
            // One transaction: the account read and the link written together.
            conn.transaction::<_, db::DbError, _>(|conn| {
                let now = db::now();
                if let Some(linked) = identities::find(conn, &provider, &claims_for.subject)? {
                    identities::touch(conn, linked.id, now)?;
                    return Ok(match db::users::find_by_id(conn, linked.user_id)? {
                        Some(user) => Found::Account(Box::new(user), false),
                        None => Found::Nobody,
                    });
                }
                let Some(email) = verified_email else {
                    return Ok(Found::Nobody);
                };
                match db::users::find_by_email(conn, &email)? {
                    Some(user) if user.confirmed_at.is_some() => {
                        let address = claims_for.email.as_deref();
                        identities::insert(
                            conn,
                            &provider,
                            &claims_for.subject,
                            user.id,
                            address,
                            now,
                        )?;
                        Ok(Found::Account(Box::new(user), true))
                    }
                    Some(_) => Ok(Found::Nobody),
                    None => Ok(Found::AddressFree(email)),
                }
            })
        })
        .await;
    let not_registered = || {
        let id = claims
            .email
            .clone()
            .unwrap_or_else(|| claims.subject.clone());
        Ok(Err(Refusal::NotRegistered { id }))
    };
    let (user, linked) = match found {
        Ok(Found::Account(user, linked)) => (*user, linked),
        Ok(Found::AddressFree(email)) => {
            return match sign_up(services, browser, name, claims, email).await? {
                Some(user) => Ok(Ok(user)),
                None => not_registered(),
            }
        }
        Ok(Found::Nobody) => return not_registered(),
        // Linked meanwhile by a concurrent answer: the next sign-in finds it.
        Err(e) if e.is_unique_violation() => return not_registered(),
        Err(e) => return Err(e.into()),
    };
    if linked {
        tracing::info!(event = "oauth_identity_linked", provider = %name, user_id = user.id,
            "social login: identity linked by its verified address");
        let event = SecurityEvent::IdentityLinked {
            provider: name.to_owned(),
        };
        services.emit(event, Some(user.id), &browser.client);
    }
    Ok(Ok(user))
}

/// Sign-up through a provider (`SECURITY_OAUTH_REGISTER`, with `SECURITY_REGISTERABLE`):
/// a new account for `email`, an address the provider asserts is verified and no account
/// has. As a passkey sign-up makes it ([`registration::create_passwordless_account`]):
/// active, no password (one can be set later); its address confirmed at once (the provider
/// vouched for it) and the identity linked, in the same transaction. No welcome mail: there
/// is nothing to confirm. `None` when sign-up is off, a username is required (a provider
/// gives none), or the address was taken meanwhile.
async fn sign_up(
    services: &Services,
    browser: &Browser,
    name: &str,
    claims: &Claims,
    email: Email,
) -> Result<Option<User>, ServiceError> {
    let features = &services.settings.features;
    if !(services.settings.oauth.register && features.registerable) || features.username_required {
        return Ok(None);
    }
    let now = db::now();
    let (provider, subject, given) = (
        name.to_owned(),
        claims.subject.clone(),
        claims.email.clone(),
    );
    let created = registration::create_passwordless_account(
        services,
        email.as_str(),
        None,
        false,
        move |conn, user| {
            db::users::set_confirmed(conn, user.id, now)?;
            match identities::insert(conn, &provider, &subject, user.id, given.as_deref(), now) {
                Ok(()) => Ok(Ok(())),
                // Linked meanwhile by a concurrent answer: no account is made.
                Err(e) if e.is_unique_violation() => Ok(Err(crate::domain::FormErrors::single(
                    "identity",
                    String::new(),
                ))),
                Err(e) => Err(e.into()),
            }
        },
    )
    .await?;
    let Ok(Some(mut user)) = created else {
        // The address (or the identity) was taken meanwhile: no account is made.
        return Ok(None);
    };
    user.confirmed_at = Some(now);
    tracing::info!(event = "oauth_signup", provider = %name, user_id = user.id,
        "social login: account made through the provider");
    services.emit(SecurityEvent::Registered, Some(user.id), &browser.client);
    let event = SecurityEvent::IdentityLinked {
        provider: name.to_owned(),
    };
    services.emit(event, Some(user.id), &browser.client);
    Ok(Some(user))
}
