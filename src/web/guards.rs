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
//! user who lacks the role or the premium flag gets 403. Roles are read from the database
//! once per request, and only when a role guard asks.

use std::future::{ready, Future, Ready};
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::AppError;
use crate::auth::login::CurrentUser;
use crate::db::roles;
use crate::startup::AppState;

pub use super::current_user::AuthenticatedUser;

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

/// What a guard demands.
#[derive(Debug, Clone)]
pub enum Rule {
    Authenticated,
    AllRoles(Vec<String>),
    AnyRole(Vec<String>),
    Premium,
}

fn unauthenticated(req: &HttpRequest) -> AppError {
    let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
    AppError::Unauthenticated {
        login_url: crate::domain::SafeNext::login_url_for(path_and_query),
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
    let names = state
        .db
        .run(move |conn| roles::names_for_user(conn, user_id))
        .await?;
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
        Err(AppError::Forbidden)
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
            Some(_) => Err(AppError::Forbidden),
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
