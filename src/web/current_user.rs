//! Who is making the request. A middleware resolves the login once per request (from the
//! session, or from the remember-me cookie when the browser dropped the session) and the
//! extractors below hand it to handlers. Anonymous requests never touch the database.

use std::future::{ready, Ready};

use actix_identity::{Identity, IdentityExt};
use actix_session::SessionExt;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use super::error::AppError;
use super::format::Format;
use super::page::add_cookie;
use super::state::AppState;
use crate::auth::login::CurrentUser;
use crate::auth::page_reads::{PageRead, PageRows};
use crate::auth::sessions;
use crate::domain::SafeNext;
use crate::urls::Route;

/// Resolves the current user into the request extensions.
pub async fn resolve_current_user(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Static files never need the user: keep them off the database.
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .filter(|state| !state.urls.encloses(Route::Static, req.path()));
    let Some(state) = state else {
        return next.call(req).await;
    };
    let (current, drop_remember_cookie) = find_current(&req, &state).await?;
    if let Some(current) = current {
        req.extensions_mut().insert(current);
    }
    let mut res = next.call(req).await?;
    if drop_remember_cookie {
        add_cookie(res.response_mut(), &removal_cookie(&state.settings))?;
    }
    Ok(res)
}

/// Who the request is from: its session's login, else its API token's user, else its
/// remember-me cookie's login (restoring the session); and whether the remember-me cookie
/// should go (its login ended).
async fn find_current(
    req: &ServiceRequest,
    state: &AppState,
) -> Result<(Option<CurrentUser>, bool), AppError> {
    let remember_name = state.settings.remember_cookie_name();
    let identity = req.get_identity().ok();
    if let Some(session_id) = identity.as_ref().and_then(|i| i.id().ok()) {
        let page = page_read(req, &state.urls);
        let found = state.session_lookups.get((session_id, page)).await?;
        let found = found.map(|(current, rows)| {
            if let Some(rows) = rows {
                req.extensions_mut().insert(PageRowsRead(rows));
            }
            current
        });
        let mut drop_remember_cookie = false;
        if found.is_none() {
            // Revoked elsewhere (logout, password change, deactivation): forget it here too.
            // Cleared, not purged: a purged session ignores every later write, so the page
            // this request renders (the login form) would carry a CSRF token that was never
            // stored, and its first post would fail. A new session id as well.
            drop(identity);
            let session = req.get_session();
            session.clear();
            session.renew();
            drop_remember_cookie = req.cookie(remember_name).is_some();
        }
        return Ok((found, drop_remember_cookie));
    }
    if let Some(token) = presented_token(req, &state.settings.api_tokens) {
        // An API token: it authenticates this request only; no session is made for it.
        return Ok((
            sessions::resolve_token(&state.services, token).await?,
            false,
        ));
    }
    let Some(cookie) = req.cookie(remember_name) else {
        return Ok((None, false));
    };
    let value = cookie.value().to_owned();
    let found = sessions::resolve_remember(&state.services, value).await?;
    match &found {
        // Restore the browser session from the remembered login.
        Some(current) => {
            Identity::login(&req.extensions(), current.session_id.clone())
                .map_err(|e| AppError::Unexpected(anyhow::anyhow!("restoring the session: {e}")))?;
            Ok((found, false))
        }
        None => Ok((None, true)),
    }
}

/// The rows of the request's page, read with its login (see
/// [`crate::auth::page_reads::PageRead`]); a handler takes them with [`take_page_rows`].
struct PageRowsRead(PageRows);

/// The reads of the page a request is for, asked with its login lookup: the account
/// overview and the sessions page, on GET (the overview only for a page, not JSON).
fn page_read(req: &ServiceRequest, urls: &crate::urls::Urls) -> Option<PageRead> {
    if req.method() != Method::GET {
        return None;
    }
    let path = req.path();
    if path == urls.path(Route::Sessions) {
        Some(PageRead::Sessions)
    } else if path == urls.path(Route::Profile) && !Format::of(req.request()).is_json() {
        Some(PageRead::Overview)
    } else {
        None
    }
}

/// The rows the login lookup read for this request's page, if it did (once).
pub fn take_page_rows(req: &HttpRequest) -> Option<PageRows> {
    req.extensions_mut()
        .remove::<PageRowsRead>()
        .map(|read| read.0)
}

/// The API token a request presents (`SECURITY_TOKEN_AUTHENTICATION_HEADER`, or the
/// `SECURITY_TOKEN_AUTHENTICATION_KEY` query parameter), when tokens are enabled.
fn presented_token(
    req: &ServiceRequest,
    settings: &crate::config::ApiTokenSettings,
) -> Option<String> {
    if !settings.enabled {
        return None;
    }
    let from_header = req
        .headers()
        .get(settings.header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned);
    from_header.or_else(|| crate::web::submission::query_param(req.request(), &settings.query_key))
}

/// The cookie that deletes the remember-me cookie (`Secure` like it, or a `__Host-` name
/// would be refused by the browser).
pub fn removal_cookie(settings: &crate::config::Settings) -> actix_web::cookie::Cookie<'static> {
    let mut cookie = actix_web::cookie::Cookie::build(settings.remember_cookie_name(), "")
        .path(crate::urls::ROOT)
        .http_only(true)
        .secure(settings.cookie_secure)
        .same_site(actix_web::cookie::SameSite::Lax)
        .finish();
    cookie.make_removal();
    cookie
}

/// The user if someone is logged in: for pages open to everyone.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<CurrentUser>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(MaybeUser(
            req.extensions().get::<CurrentUser>().cloned(),
        )))
    }
}

/// A logged-in user, or: 401 JSON for API clients, a redirect to the login page (with
/// `next`) for browsers.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub CurrentUser);

impl FromRequest for AuthenticatedUser {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<CurrentUser>().cloned();
        ready(found.map(AuthenticatedUser).ok_or_else(|| {
            let path_and_query = req
                .uri()
                .path_and_query()
                .map_or(crate::urls::ROOT, |pq| pq.as_str())
                .to_owned();
            AppError::Unauthenticated {
                login_url: SafeNext::login_url_for(
                    super::state::urls_of(req).path(Route::Login),
                    &path_and_query,
                ),
            }
        }))
    }
}
