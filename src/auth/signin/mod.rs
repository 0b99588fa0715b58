//! The login state machine. Every first factor (a password, a unified sign-in code or its
//! mailed link, a passkey, a social login) ends in [`first_factor_proved`], which
//! returns the next [`Step`]: a completed sign-in, or a pending login that names the second
//! factor it waits for. Every second factor (a code, a rescue code, a recovery code, a
//! passkey) completes through [`second_factor_proved`]. The checks themselves live with
//! their factor ([`super::authenticate`], [`super::two_factor`], [`super::unified`],
//! [`super::passkeys`]); [`factors`] joins each check to this machine, so a handler makes
//! one call and renders the step it gets back.
//!
//! ```text
//!  password ─┐                      ┌─ no second factor ──────────────► SignedIn
//!  code/link ┼─► first_factor_proved┤
//!  passkey  ─┘                      └─ second factor ─► SecondFactor(PendingLogin)
//!                                                            │ code / rescue / recovery / passkey
//!                                                            ▼
//!                                               second_factor_proved ─► SignedIn (or Used)
//! ```
//!
//! What the machine does at the end is the same for every way in: the login row (replacing
//! this browser's previous login as a sign-out of it), the new-device notice, the
//! `login_succeeded` event, and the API token when the client asked for one. The web layer
//! only binds the session to the login and sets the cookies it is given.

pub mod factors;
pub mod pending;
pub mod reauth;

pub use pending::PendingLogin;

use super::api_tokens::{self, Issued};
use super::error::ServiceError;
use super::events::{LoginMethod, SecurityEvent};
use super::lifecycle::{self, Event, Scope};
use super::login::{self, ClientInfo, LoginOptions};
use super::services::Services;
use super::two_factor;
use crate::config::TwoFactorMethod;
use crate::db::models::User;

/// Flask-Security's name for a passkey as the second factor (`tf_method`).
pub const PASSKEY_METHOD: &str = "webauthn";

/// What the browser (or API client) brings to a login, read from the request by the web
/// layer.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// Its address and user agent.
    pub client: ClientInfo,
    /// The login this browser holds now: a new login replaces it (as a sign-out of it).
    pub current_login: Option<String>,
    /// The `tf_validity` cookie's value ("remember this device" for the second factor).
    pub remembered_device: Option<String>,
    /// The client asked for an API token with the login (`?include_auth_token`).
    pub wants_token: bool,
}

impl Browser {
    /// The key the throttle counts this client's address under.
    pub fn key(&self) -> String {
        super::throttle::client_key(self.client.ip.as_deref().unwrap_or("-"))
    }
}

/// What the login form asked for, carried to the end of the login.
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// "Remember me".
    pub remember: bool,
    /// Where to go afterwards (already checked to be safe).
    pub next: Option<String>,
}

/// A first factor proved: the account (active, confirmed where required) and how.
#[derive(Debug, Clone)]
pub struct FirstFactor {
    pub user: User,
    pub method: LoginMethod,
    /// The factor counts as both (a passkey that verified its user where
    /// `SECURITY_WAN_ALLOW_AS_MULTI_FACTOR` allows it; a unified sign-in method outside
    /// `SECURITY_US_MFA_REQUIRED`).
    pub proves_both: bool,
}

/// Where a login stands after a proved factor.
#[derive(Debug)]
pub enum Step {
    /// Logged in.
    SignedIn(Box<SignedIn>),
    /// The first factor is proved; a second is asked for. The pending login is kept by the
    /// browser (its encrypted session) until then.
    SecondFactor(Box<Waiting>),
    /// The pending login this second factor was for has completed already (through
    /// another copy of its cookie): nothing happened.
    Used,
}

/// A pending login and the second factor it waits for.
#[derive(Debug)]
pub struct Waiting {
    pub pending: PendingLogin,
    pub wants: Wants,
}

/// The second step a pending login asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wants {
    /// A code (mailed, texted, or from the authenticator app), by Flask-Security's method
    /// name; an unknown stored method is still asked for (recovery codes or the rescue are
    /// then the way in).
    Code(String),
    /// A passkey registered as a second factor (`/wan-signin`).
    Passkey,
    /// None set up yet, but one is required.
    SetUp,
}

impl Wants {
    /// Flask-Security's `tf_method` (`None` while one must be set up).
    pub fn method(&self) -> Option<&str> {
        match self {
            Wants::Code(method) => Some(method),
            Wants::Passkey => Some(PASSKEY_METHOD),
            Wants::SetUp => None,
        }
    }
}

/// A completed sign-in: what the web layer binds the session to and the cookies it sets.
#[derive(Debug)]
pub struct SignedIn {
    pub user: User,
    /// The new login's id (the session is bound to it).
    pub login_id: String,
    /// The `remember_token` cookie's value, when "remember me" was asked for.
    pub remember_cookie: Option<String>,
    /// The API token (and refresh token), when the client asked for one.
    pub tokens: Option<Issued>,
    pub next: Option<String>,
    /// The second factor that completed it (`None`: the first factor was enough).
    pub second_factor: Option<String>,
    /// The `tf_validity` cookie's value, when "remember this device" was asked for.
    pub device_token: Option<String>,
}

/// What follows every proved first factor: the login itself, or, for an account with a
/// second factor (or one that must set one up), a pending login that asks for it (its code
/// sent, within the sending budget). Every way in goes through here, so no first factor
/// skips the second.
pub async fn first_factor_proved(
    services: &Services,
    browser: &Browser,
    first: FirstFactor,
    asked: Asked,
) -> Result<Step, ServiceError> {
    if !first.proves_both {
        if let Some(wants) = second_factor_wanted(services, browser, &first.user).await? {
            return ask_second_factor(services, browser, first, wants, asked).await;
        }
    }
    let signed_in = complete(services, browser, &first.user, first.method, asked, None).await?;
    Ok(Step::SignedIn(Box::new(signed_in)))
}

/// The second factor `user` must give now, if any: the configured code method, a passkey
/// registered as one, or a setup when one is required and none is set up. A browser that
/// passed the second factor recently skips it (`tf_validity`).
async fn second_factor_wanted(
    services: &Services,
    browser: &Browser,
    user: &User,
) -> Result<Option<Wants>, ServiceError> {
    let tf = &services.settings.two_factor;
    let method = if tf.enabled {
        two_factor::primary_method(user)
    } else {
        None
    };
    let passkey = super::passkeys::has_second_factor(services, user).await?;
    let must_set_up = tf.enabled
        && method.is_none()
        && !passkey
        && two_factor::setup_required(services, user).await?;
    let remembered = !tf.always_validate
        && browser.remembered_device.as_deref().is_some_and(|value| {
            two_factor::validity_accepts(services, user, value, two_factor::unix_now())
        });
    let has_second = method.is_some() || passkey;
    if !((has_second && !remembered) || must_set_up) {
        return Ok(None);
    }
    Ok(Some(match method {
        Some(Ok(method)) => Wants::Code(method.as_str().to_owned()),
        Some(Err(unknown)) => Wants::Code(unknown),
        None if passkey => Wants::Passkey,
        None => Wants::SetUp,
    }))
}

async fn ask_second_factor(
    services: &Services,
    browser: &Browser,
    first: FirstFactor,
    wants: Wants,
    asked: Asked,
) -> Result<Step, ServiceError> {
    let now = two_factor::unix_now();
    let user = &first.user;
    let mut pending = PendingLogin::new(user, asked.remember, asked.next, now);
    pending.first_factor = Some(first.method);
    if let Wants::Code(name) = &wants {
        if let Some(method) = TwoFactorMethod::parse(name) {
            // Past the sending budget nothing is sent; the answer is the same.
            pending.sent_code =
                two_factor::send_code(services, user, method, now, &browser.key()).await?;
        }
    }
    pending.method = wants.method().map(str::to_owned);
    tracing::info!(
        event = "second_factor_required",
        user_id = user.id,
        method = wants.method().unwrap_or("setup"),
        "first factor proved, second factor pending"
    );
    Ok(Step::SecondFactor(Box::new(Waiting { pending, wants })))
}

/// Ends `pending` with its second factor proved (`second_factor`: `email`,
/// `authenticator`, `sms`, `webauthn`, `recovery_code`): the login itself, and "remember
/// this device" when asked for. A pending login completes once, whatever copies of its
/// cookie exist ([`Step::Used`] for the others).
pub async fn second_factor_proved(
    services: &Services,
    browser: &Browser,
    pending: &PendingLogin,
    user: &User,
    second_factor: &str,
    remember_device: bool,
) -> Result<Step, ServiceError> {
    if !pending.consume(services).await? {
        return Ok(Step::Used);
    }
    let asked = Asked {
        remember: pending.remember,
        next: pending.next.clone(),
    };
    let method = pending.first_factor.unwrap_or(LoginMethod::Password);
    let mut signed_in =
        complete(services, browser, user, method, asked, Some(second_factor)).await?;
    let tf = &services.settings.two_factor;
    if remember_device && !tf.always_validate {
        let until = two_factor::unix_now() + tf.login_validity.as_secs() as i64;
        signed_in.device_token = Some(two_factor::validity_token(services, user, until));
    }
    Ok(Step::SignedIn(Box::new(signed_in)))
}

/// A login that needs no factor of its own because the request just proved one in another
/// way (the registration's password, a new password, a passkey signed up): recorded and
/// announced as any login ([`first_factor_proved`] without a second factor).
pub async fn sign_in_directly(
    services: &Services,
    browser: &Browser,
    user: &User,
    method: LoginMethod,
) -> Result<SignedIn, ServiceError> {
    complete(services, browser, user, method, Asked::default(), None).await
}

/// The login row only, for a signed-in user whose login is renewed (a password or an
/// email changed): no event, no notice (the change has its own).
pub async fn renew(
    services: &Services,
    browser: &Browser,
    user: &User,
    remember: bool,
) -> Result<SignedIn, ServiceError> {
    let asked = Asked {
        remember,
        next: None,
    };
    start(services, browser, user, &asked, "pwd").await
}

/// Every completed sign-in: the login row, the new-device notice (when the device and
/// address are new to the account; a failed check is logged, never the login's failure),
/// the `login_succeeded` event, and the API token when asked for.
async fn complete(
    services: &Services,
    browser: &Browser,
    user: &User,
    method: LoginMethod,
    asked: Asked,
    second_factor: Option<&str>,
) -> Result<SignedIn, ServiceError> {
    let amr = amr(method, second_factor);
    let mut signed_in = start(services, browser, user, &asked, &amr).await?;
    let (for_user, client) = (user.clone(), browser.client.clone());
    let for_services = services.clone();
    let checked = services
        .db
        .run_with(move |conn| {
            super::notices::check_new_device(conn, &for_services, &for_user, &client)
        })
        .await;
    if let Err(e) = checked {
        tracing::error!(user_id = user.id, error = %e, "new-device check failed");
    }
    let event = SecurityEvent::LoginSucceeded {
        method,
        second_factor: second_factor.map(str::to_owned),
    };
    services.emit(event, Some(user.id), &browser.client);
    if browser.wants_token && services.settings.api_tokens.enabled {
        signed_in.tokens = Some(issue_token(services, browser, user, &signed_in.login_id).await?);
    }
    signed_in.second_factor = second_factor.map(str::to_owned);
    Ok(signed_in)
}

/// The login row, replacing this browser's previous login (as a sign-out of it: its tokens
/// and refresh families end too), in one transaction.
async fn start(
    services: &Services,
    browser: &Browser,
    user: &User,
    asked: &Asked,
    amr: &str,
) -> Result<SignedIn, ServiceError> {
    let settings = &services.settings;
    let amr = amr.to_owned();
    let options = LoginOptions {
        remember: asked.remember,
        remember_for: settings.remember_for,
        trackable: settings.features.trackable,
    };
    let (for_user, client) = (user.clone(), browser.client.clone());
    let previous = browser.current_login.clone().filter(|p| !p.is_empty());
    let new_login = services
        .db
        .run(move |conn| {
            if let Some(previous) = previous {
                let scope = Scope {
                    login: Some(previous),
                    ..Scope::user(for_user.id)
                };
                lifecycle::apply(conn, Event::SignOutThis, &scope)?;
            }
            let login = login::create(conn, &for_user, &client, &options)?;
            crate::db::oidc_grants::set_login_amr(conn, &login.session_id, &amr)?;
            Ok::<_, crate::db::DbError>(login)
        })
        .await?;
    tracing::info!(
        event = "login",
        user_id = user.id,
        ip = %browser.client.ip.as_deref().unwrap_or("-"),
        remember = asked.remember,
        "login succeeded"
    );
    Ok(SignedIn {
        user: user.clone(),
        login_id: new_login.session_id,
        remember_cookie: new_login.remember_cookie,
        tokens: None,
        next: asked.next.clone(),
        second_factor: None,
        device_token: None,
    })
}

/// How a login was proved, as the `amr` values of RFC 8176 (space-separated) that the
/// OpenID Connect provider's ID tokens carry: `pwd` (a password), `otp` (a one-time code
/// or mailed link, an authenticator app's code, a recovery code), `sms` (a texted code),
/// `hwk` (a passkey: a key held in hardware), `fed` (a social login), and `mfa` when a
/// second factor was proved after the first.
pub fn amr(first: LoginMethod, second_factor: Option<&str>) -> String {
    let first = match first {
        LoginMethod::Password | LoginMethod::UnifiedSignin | LoginMethod::Reset => "pwd",
        LoginMethod::Code | LoginMethod::Confirm => "otp",
        LoginMethod::Passkey => "hwk",
        LoginMethod::Oauth => "fed",
    };
    let mut values = vec![first];
    if let Some(second) = second_factor {
        let second = match second {
            "sms" => "sms",
            PASSKEY_METHOD => "hwk",
            _ => "otp",
        };
        if !values.contains(&second) {
            values.push(second);
        }
        values.push("mfa");
    }
    values.join(" ")
}

/// An API token bound to the login that just started (Flask-Security's
/// `?include_auth_token`), and its event.
async fn issue_token(
    services: &Services,
    browser: &Browser,
    user: &User,
    login_id: &str,
) -> Result<Issued, ServiceError> {
    let issued = api_tokens::issue_at_login(services, user, login_id, &browser.client).await?;
    let refresh = issued.refresh_token.is_some();
    tracing::info!(
        event = "token_issued",
        user_id = user.id,
        refresh,
        "API token issued at login"
    );
    let event = SecurityEvent::TokenIssued {
        kind: "auth".to_owned(),
        label: refresh.then(|| "with refresh".to_owned()),
    };
    services.emit(event, Some(user.id), &browser.client);
    Ok(issued)
}

#[cfg(test)]
mod amr_tests {
    use super::*;

    #[test]
    fn amr_names_each_factor_once_and_mfa_after_a_second() {
        assert_eq!(amr(LoginMethod::Password, None), "pwd");
        assert_eq!(
            amr(LoginMethod::Password, Some("authenticator")),
            "pwd otp mfa"
        );
        assert_eq!(amr(LoginMethod::Password, Some("sms")), "pwd sms mfa");
        assert_eq!(
            amr(LoginMethod::Password, Some(PASSKEY_METHOD)),
            "pwd hwk mfa"
        );
        assert_eq!(amr(LoginMethod::Code, Some("email")), "otp mfa");
        assert_eq!(amr(LoginMethod::Passkey, None), "hwk");
        assert_eq!(
            amr(LoginMethod::Oauth, Some("recovery_code")),
            "fed otp mfa"
        );
    }
}
