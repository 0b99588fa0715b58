//! Access guards for handlers, the equivalents of Flask-Security's `@auth_required`,
//! `@roles_required` and `@roles_accepted`, plus the tutorial's premium check.
//!
//! Two forms, same rules:
//!
//! * **Extractors** a handler takes as an argument: [`AuthenticatedUser`],
//!   [`RolesRequired<R>`] (every role of `R`), [`RolesAccepted<R>`] (any role of `R`) and
//!   [`Premium`]. `R` is a [`RoleSet`], declared with [`role_set!`](crate::role_set)
//!   ([`Admin`] is built in).
//! * **Middleware** for a whole scope: [`auth_required()`], [`roles_required`],
//!   [`roles_accepted`] and [`premium_required()`].
//!
//! Anonymous visitors get 401 (JSON) or a redirect to the login page (HTML); a logged-in
//! user who lacks the role or the premium flag gets 403 (a browser goes to
//! `SECURITY_UNAUTHORIZED_VIEW` instead, when set). Roles are read from the database
//! once per request, and only when a role guard asks.

use std::future::{ready, Future, Ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use chrono::NaiveDateTime;
use serde_json::json;

use super::error::AppError;
use super::state::AppState;
use crate::auth::login::{self, CurrentUser};
use crate::db;

pub use super::current_user::AuthenticatedUser;
use super::format::Format;
use super::page::Web;
use crate::messages;
use crate::urls::Route;

/// Until when a fresh visit keeps protected pages usable (unix seconds), in the browser
/// session like Flask-Security's `fs_gexp`.
const GRACE_KEY: &str = "fs_gexp";

// ---------------------------------------------------------------------------------------
// Step-up: a recent proof of the password before a sensitive change
// ---------------------------------------------------------------------------------------

/// The step-up guard (Flask-Security's `@auth_required(within=…)`): call it first in a
/// handler that changes something sensitive. It answers `None` when the user proved their
/// password within `SECURITY_FRESHNESS` (or a grace period opened by an earlier fresh
/// visit still runs; the grace period is extended), and otherwise the answer that asks to
/// re-authenticate: a redirect to `/verify` that comes back to `return_to`, or 401 with
/// `reauth_required` for JSON clients.
///
/// ```
/// use actix_web::HttpResponse;
/// use latchkey::web::guards::{require_fresh, AuthenticatedUser};
/// use latchkey::web::{AppError, Web};
///
/// async fn delete_account(web: Web, user: AuthenticatedUser) -> Result<HttpResponse, AppError> {
///     if let Some(reauthenticate) = require_fresh(&web, &user.0, "/account/delete") {
///         return Ok(reauthenticate);
///     }
///     // ... the change itself
///     Ok(HttpResponse::NoContent().finish())
/// }
/// ```
pub fn require_fresh(web: &Web, current: &CurrentUser, return_to: &str) -> Option<HttpResponse> {
    let policy = &web.settings().session_policy;
    let now = db::now();
    let window = policy.freshness?;
    if now - current.authenticated_at < chrono::Duration::from_std(window).ok()? {
        extend_grace(web, now);
        return None;
    }
    let grace_until = web
        .session
        .get::<i64>(GRACE_KEY)
        .ok()
        .flatten()
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|t| t.naive_utc());
    if login::is_fresh(current, policy, grace_until, now) {
        return None;
    }
    let message = web.msg(messages::REAUTHENTICATION_REQUIRED, &[]);
    Some(match web.format {
        Format::Json => HttpResponse::Unauthorized().json(json!({
            "meta": {"code": 401},
            "response": {"errors": [message], "reauth_required": true},
        })),
        Format::Html => {
            web.flash("error", message);
            super::page::redirect(&web.urls().with_next(Route::Verify, Some(return_to)))
        }
    })
}

/// Records a fresh proof of who is logged in (`/verify` with the password, `/wan-verify`
/// with a passkey): the login's `authenticated_at`, a new session cookie (a privilege
/// change), and the grace period.
pub async fn mark_reauthenticated(
    web: &Web,
    current: &CurrentUser,
    client: &str,
    method: &'static str,
) -> Result<(), AppError> {
    // A token's holder who proved themselves again: that token is fresh.
    crate::auth::sessions::record_reauthentication(&web.state.services, current).await?;
    web.session.renew();
    extend_grace(web, db::now());
    tracing::info!(
        event = "verify",
        user_id = current.user.id,
        ip = %client,
        method,
        "re-authenticated"
    );
    Ok(())
}

/// Opens (or extends) the grace period after a fresh proof of the password.
pub fn extend_grace(web: &Web, now: NaiveDateTime) {
    let grace = chrono::Duration::from_std(web.settings().session_policy.freshness_grace)
        .unwrap_or_default();
    let _ = web
        .session
        .insert(GRACE_KEY, (now + grace).and_utc().timestamp());
}

/// A fixed list of role names, for [`RolesRequired`] and [`RolesAccepted`].
pub trait RoleSet: 'static {
    const ROLES: &'static [&'static str];
}

/// Declares a [`RoleSet`]: `latchkey::role_set!(pub Editors = ["editor", "admin"]);`
#[macro_export]
macro_rules! role_set {
    ($vis:vis $name:ident = [$($role:expr),+ $(,)?]) => {
        $vis struct $name;
        impl $crate::web::guards::RoleSet for $name {
            const ROLES: &'static [&'static str] = &[$($role),+];
        }
    };
}

/// The role that may open `/admin`.
pub struct Admin;
impl RoleSet for Admin {
    const ROLES: &'static [&'static str] = &["admin"];
}

/// The current user's role names, cached in the request once loaded.
#[derive(Debug, Clone)]
pub struct UserRoles(pub Vec<String>);

impl UserRoles {
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|r| r == name)
    }
}

/// The request's own path and query: where a page that asks for a fresh login comes back to
/// (its `next` kept).
pub fn here(web: &Web) -> String {
    web.request
        .uri()
        .path_and_query()
        .map_or(crate::urls::ROOT, |pq| pq.as_str())
        .to_owned()
}

/// What a guard demands.
#[derive(Debug, Clone)]
pub enum Rule {
    Authenticated,
    AllRoles(Vec<String>),
    AnyRole(Vec<String>),
    Premium,
}

fn unauthenticated(req: &HttpRequest) -> AppError {
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or(crate::urls::ROOT, |pq| pq.as_str());
    AppError::Unauthenticated {
        login_url: crate::domain::SafeNext::login_url_for(
            super::state::urls_of(req).path(crate::urls::Route::Login),
            path_and_query,
        ),
    }
}

/// The current user's roles (from the request cache, or the database).
pub async fn user_roles(req: &HttpRequest, user: &CurrentUser) -> Result<UserRoles, AppError> {
    if let Some(cached) = req.extensions().get::<UserRoles>() {
        return Ok(cached.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("AppState is not registered")))?;
    let user_id = user.user.id;
    let names = crate::auth::roles::names_for_user(&state.services, user_id).await?;
    let loaded = UserRoles(names);
    req.extensions_mut().insert(loaded.clone());
    Ok(loaded)
}

/// Applies `rule` to the request: the current user, or the error to answer with.
pub async fn check(req: &HttpRequest, rule: &Rule) -> Result<CurrentUser, AppError> {
    let current = req
        .extensions()
        .get::<CurrentUser>()
        .cloned()
        .ok_or_else(|| unauthenticated(req))?;
    let allowed = match rule {
        Rule::Authenticated => true,
        Rule::Premium => current.user.is_premium(),
        Rule::AllRoles(wanted) => {
            let held = user_roles(req, &current).await?;
            wanted.iter().all(|r| held.has(r))
        }
        Rule::AnyRole(wanted) => {
            let held = user_roles(req, &current).await?;
            wanted.iter().any(|r| held.has(r))
        }
    };
    if allowed {
        Ok(current)
    } else {
        Err(forbidden(req))
    }
}

/// A logged-in user without what the page wants: 403, or a browser to
/// `SECURITY_UNAUTHORIZED_VIEW` when set, under the flashed "You do not have permission to
/// view this resource." (Flask-Security's `default_unauthz_handler`).
fn forbidden(req: &HttpRequest) -> AppError {
    let Some(state) = req.app_data::<web::Data<AppState>>() else {
        return AppError::Forbidden;
    };
    let spa = &state.settings.spa;
    let Some(view) = spa.views.unauthorized.as_ref() else {
        return AppError::Forbidden;
    };
    if super::format::Format::of(req).is_json() {
        return AppError::Forbidden;
    }
    let messages = &state.messages;
    let messages = messages.in_language(&super::language::of(req, messages));
    let message = messages.text(crate::messages::UNAUTHORIZED, &[]);
    super::page::flash(req, "error", message);
    AppError::ForbiddenElsewhere {
        location: super::spa::view_url(spa, view, &[]),
    }
}

fn role_names(roles: &[&str]) -> Vec<String> {
    roles.iter().map(|r| (*r).to_owned()).collect()
}

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// A logged-in user holding every role of `R`.
pub struct RolesRequired<R: RoleSet> {
    pub user: CurrentUser,
    _roles: PhantomData<R>,
}

impl<R: RoleSet> FromRequest for RolesRequired<R> {
    type Error = AppError;
    type Future = LocalFuture<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = check(&req, &Rule::AllRoles(role_names(R::ROLES))).await?;
            Ok(Self {
                user,
                _roles: PhantomData,
            })
        })
    }
}

/// A logged-in user holding at least one role of `R`.
pub struct RolesAccepted<R: RoleSet> {
    pub user: CurrentUser,
    _roles: PhantomData<R>,
}

impl<R: RoleSet> FromRequest for RolesAccepted<R> {
    type Error = AppError;
    type Future = LocalFuture<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = check(&req, &Rule::AnyRole(role_names(R::ROLES))).await?;
            Ok(Self {
                user,
                _roles: PhantomData,
            })
        })
    }
}

/// A logged-in user whose `premium` column is true.
#[derive(Debug, Clone)]
pub struct Premium(pub CurrentUser);

impl FromRequest for Premium {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // No database access: the flag came with the user.
        let current = req.extensions().get::<CurrentUser>().cloned();
        ready(match current {
            None => Err(unauthenticated(req)),
            Some(c) if c.user.is_premium() => Ok(Premium(c)),
            Some(_) => Err(forbidden(req)),
        })
    }
}

/// Middleware form of the guards: `web::scope("/admin").wrap(roles_required(["admin"]))`.
/// It must sit inside Latchkey's middleware (any scope or resource of [`crate::app`]).
#[derive(Clone)]
pub struct Guard {
    rule: Arc<Rule>,
}

pub fn auth_required() -> Guard {
    Guard {
        rule: Arc::new(Rule::Authenticated),
    }
}

pub fn roles_required<I, S>(roles: I) -> Guard
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Guard {
        rule: Arc::new(Rule::AllRoles(roles.into_iter().map(Into::into).collect())),
    }
}

pub fn roles_accepted<I, S>(roles: I) -> Guard
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Guard {
        rule: Arc::new(Rule::AnyRole(roles.into_iter().map(Into::into).collect())),
    }
}

pub fn premium_required() -> Guard {
    Guard {
        rule: Arc::new(Rule::Premium),
    }
}

impl<S, B> Transform<S, ServiceRequest> for Guard
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = GuardService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(GuardService {
            service: Rc::new(service),
            rule: self.rule.clone(),
        }))
    }
}

pub struct GuardService<S> {
    service: Rc<S>,
    rule: Arc<Rule>,
}

impl<S, B> Service<ServiceRequest> for GuardService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = self.service.clone();
        let rule = self.rule.clone();
        Box::pin(async move {
            match check(req.request(), &rule).await {
                Ok(_) => Ok(service.call(req).await?.map_into_left_body()),
                // An error response (not an `Err`), so Latchkey's error negotiation still
                // answers JSON clients in JSON.
                Err(e) => Ok(req.error_response(e).map_into_right_body()),
            }
        })
    }
}
