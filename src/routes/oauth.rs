//! Social login: `POST /login/oauthstart/<name>` sends the browser to the provider,
//! `GET /login/oauthresponse/<name>` is where the provider sends it back. The round trip's
//! secrets wait in the browser's encrypted session meanwhile; every answer of the response
//! URL is a redirect (Flask-Security's `oauthstart` and `oauthresponse`). The verify pair
//! (`/login/oauth-verify-start/<name>`, `/login/oauth-verify-response/<name>`) does the same
//! for a signed-in user's re-authentication (`oauth_verify_start`, `oauth_verify_response`).
//! The account page links another identity (`POST /oauth-link/<name>`, answered at the
//! verify response URL, so a provider needs no third redirect URI) and unlinks one
//! (`POST /oauth-unlink`), both after a fresh proof.

use actix_web::{web as aweb, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::auth::authenticate::Attempt;
use crate::auth::oauth::{self, Callback, Flow, Purpose, Refusal};
use crate::auth::signin::Step;
use crate::messages;
use crate::urls::{Route, Urls};
use crate::web::format::Format;
use crate::web::guards::{mark_reauthenticated, require_fresh};
use crate::web::page::redirect;
use crate::web::signin;
use crate::web::submission::{query_param, safe_next, NoFields};
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Where a round trip in progress waits: the browser's encrypted session.
const FLOW_KEY: &str = "_oauth_flow";

/// Registers the start and response URLs, the verify pair and the account page's link and
/// unlink, when social login is on (`SECURITY_OAUTH_ENABLE`).
pub fn routes(cfg: &mut aweb::ServiceConfig, settings: &crate::config::Settings, urls: Urls) {
    if !settings.oauth.enabled {
        return;
    }
    cfg.service(mount::post(urls.path(Route::OauthStart), start));
    cfg.service(mount::get(urls.path(Route::OauthResponse), response));
    cfg.service(mount::post(
        urls.path(Route::OauthVerifyStart),
        verify_start,
    ));
    cfg.service(mount::get(
        urls.path(Route::OauthVerifyResponse),
        verify_response,
    ));
    cfg.service(mount::post(urls.path(Route::OauthLink), link_start));
    cfg.service(mount::post(urls.path(Route::OauthUnlink), unlink));
}

/// The unlink form: the identity's id.
#[derive(Debug, Default, Deserialize)]
pub struct UnlinkForm {
    #[serde(default)]
    id: Option<String>,
}

/// `POST /login/oauthstart/<name>` (CSRF-checked): to the provider's authorization page,
/// `?next=` kept for the way back. Signed in already: home (JSON: 400). An unknown provider
/// is 404; a provider that cannot be reached, the login page with the handshake error.
pub async fn start(
    web: Web,
    name: aweb::Path<String>,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    if web.user.is_some() {
        return Ok(match web.format {
            Format::Json => web.json_error(web.msg(messages::ANONYMOUS_USER_REQUIRED, &[])),
            Format::Html => redirect(web.path(Route::Home)),
        });
    }
    send_to_provider(&web, &name, Purpose::Login).await
}

/// `GET /login/oauthresponse/<name>`: the provider's answer. The round trip this browser
/// began is used up whatever the answer; a proved identity goes on as any first factor (a
/// second factor is asked for where the account has one).
///
/// JSON as Flask-Security's `oauthresponse`: every answer is a redirect, a completed sign-in
/// too (to `next`), except a second factor asked for, answered as a login's
/// (`tf_required`).
pub async fn response(mut web: Web, name: aweb::Path<String>) -> Result<HttpResponse, AppError> {
    let flow = take(&web);
    let callback = callback(&web);
    let redirect_uri = provider_uri(&web, Route::OauthResponse, &name);
    let browser = signin::browser(&web);
    let services = web.services();
    let outcome =
        oauth::sign_in(&services, &browser, &name, flow, &callback, &redirect_uri).await?;
    match outcome {
        Attempt::Proved(step) => {
            if matches!(step, Step::SignedIn(_)) {
                web.format = Format::Html;
            }
            signin::render(&web, step, json!({}))
        }
        Attempt::Refused(Refusal::UnknownProvider) => Err(AppError::NotFound),
        Attempt::Refused(refusal) => Ok(back_to_login(&web, &refusal)),
        Attempt::Throttled { retry_after } => {
            Err(signin::throttled(&web, "oauth_throttled", retry_after))
        }
    }
}

/// `POST /login/oauth-verify-start/<name>` (CSRF-checked, signed in): to the provider, for a
/// fresh proof that it is them (`?next=` kept).
pub async fn verify_start(
    web: Web,
    _current: AuthenticatedUser,
    name: aweb::Path<String>,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    send_to_provider(&web, &name, Purpose::Verify).await
}

/// `GET /login/oauth-verify-response/<name>`: the provider's answer to a re-authentication.
/// An identity linked to this user makes the login fresh (`REAUTHENTICATION_SUCCESSFUL`,
/// then `next`); anything else goes back to `/verify` with the refusal.
pub async fn verify_response(
    web: Web,
    current: AuthenticatedUser,
    name: aweb::Path<String>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    let flow = take(&web);
    if flow.as_ref().is_some_and(|f| f.purpose == Purpose::Link) {
        return link_response(&web, &current, &name, flow).await;
    }
    let kept_next = flow.as_ref().and_then(|f| f.next.clone());
    let redirect_uri = provider_uri(&web, Route::OauthVerifyResponse, &name);
    let browser = signin::browser(&web);
    let services = web.services();
    let callback = callback(&web);
    let checked = oauth::verify(
        &services,
        &browser,
        &current.user,
        &name,
        flow,
        &callback,
        &redirect_uri,
    )
    .await?;
    match checked {
        Attempt::Proved(next) => {
            mark_reauthenticated(&web, &current, &browser.key(), "oauth").await?;
            let message = web.msg(messages::REAUTHENTICATION_SUCCESSFUL, &[]);
            web.flash("success", message);
            Ok(redirect(
                &next.unwrap_or_else(|| crate::web::spa::post_verify(&web)),
            ))
        }
        Attempt::Refused(Refusal::UnknownProvider) => Err(AppError::NotFound),
        Attempt::Refused(refusal) => Ok(verify_refused(&web, &refusal, kept_next.as_deref())),
        Attempt::Throttled { retry_after } => {
            Err(signin::throttled(&web, "verify_throttled", retry_after))
        }
    }
}

/// `POST /oauth-link/<name>` (CSRF-checked, signed in, fresh): to the provider, to link
/// another identity to this account.
pub async fn link_start(
    web: Web,
    current: AuthenticatedUser,
    name: aweb::Path<String>,
    _form: Submission<NoFields>,
) -> Result<HttpResponse, AppError> {
    if let Some(reauthenticate) = require_fresh(&web, &current.0, web.path(Route::Profile)) {
        return Ok(reauthenticate);
    }
    send_to_provider(&web, &name, Purpose::Link).await
}

/// The provider's answer to a link (at the verify response URL): back to the account page
/// with what happened.
async fn link_response(
    web: &Web,
    current: &crate::auth::login::CurrentUser,
    name: &str,
    flow: Option<Flow>,
) -> Result<HttpResponse, AppError> {
    let redirect_uri = provider_uri(web, Route::OauthVerifyResponse, name);
    let browser = signin::browser(web);
    let services = web.services();
    let callback = callback(web);
    let user = &current.user;
    let linked = oauth::link(
        &services,
        &browser,
        user,
        name,
        flow,
        &callback,
        &redirect_uri,
    )
    .await?;
    let provider = [("provider", name)];
    match linked {
        Attempt::Proved(Some(_)) => web.flash(
            "success",
            web.msg(messages::OAUTH_IDENTITY_LINKED, &provider),
        ),
        Attempt::Proved(None) => web.flash(
            "info",
            web.msg(messages::OAUTH_IDENTITY_ALREADY_LINKED, &provider),
        ),
        Attempt::Refused(Refusal::UnknownProvider) => return Err(AppError::NotFound),
        Attempt::Refused(refusal) => web.flash("error", web.describe(&refusal)),
        Attempt::Throttled { retry_after } => {
            return Err(signin::throttled(web, "oauth_link_throttled", retry_after))
        }
    }
    Ok(redirect(web.path(Route::Profile)))
}

/// `POST /oauth-unlink` (CSRF-checked, signed in, fresh): unlinks one of this account's
/// identities, unless it is the last way to sign in.
pub async fn unlink(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<UnlinkForm>,
) -> Result<HttpResponse, AppError> {
    let current = current.0;
    if let Some(reauthenticate) = require_fresh(&web, &current, web.path(Route::Profile)) {
        return Ok(reauthenticate);
    }
    let id = form
        .data
        .id
        .as_deref()
        .and_then(|id| id.parse::<i32>().ok());
    let services = web.services();
    let unlinked = match id {
        Some(id) => oauth::unlink(&services, &signin::browser(&web), &current.user, id).await?,
        None => Err(Refusal::NoSuchIdentity),
    };
    Ok(match unlinked {
        Ok(identity) => {
            let provider = [("provider", identity.provider.as_str())];
            let message = web.msg(messages::OAUTH_IDENTITY_UNLINKED, &provider);
            let body = json!({"csrf_token": web.csrf_token()});
            web.success(web.path(Route::Profile), Some(("success", message)), body)
        }
        Err(refusal) => match web.format {
            Format::Json => web.json_error(web.describe(&refusal)),
            Format::Html => {
                web.flash("error", web.describe(&refusal));
                redirect(web.path(Route::Profile))
            }
        },
    })
}

/// The start of a round trip for `purpose`: to the provider's authorization page, a safe
/// `?next=` kept. An unknown provider is 404; one that cannot be reached, the handshake
/// error (on the login page, or back at `/verify`).
async fn send_to_provider(
    web: &Web,
    name: &str,
    purpose: Purpose,
) -> Result<HttpResponse, AppError> {
    // An unsafe `next` is passed over, as Flask-Security's redirects do. A link comes back
    // to the account page.
    let next = match purpose {
        Purpose::Link => Some(web.path(Route::Profile).to_owned()),
        _ => safe_next(web, query_param(&web.request, "next"))
            .ok()
            .flatten(),
    };
    let response = match purpose {
        Purpose::Login => Route::OauthResponse,
        Purpose::Verify | Purpose::Link => Route::OauthVerifyResponse,
    };
    let redirect_uri = provider_uri(web, response, name);
    let services = web.services();
    match oauth::begin(&services, name, purpose, &redirect_uri, next.clone()).await {
        Ok(begun) => {
            hold(web, &begun.flow)?;
            Ok(redirect(&begun.authorize_url))
        }
        Err(Refusal::UnknownProvider) => Err(AppError::NotFound),
        Err(refusal) if purpose == Purpose::Verify => {
            web.flash("error", web.describe(&refusal));
            Ok(redirect(
                &web.urls().with_next(Route::Verify, next.as_deref()),
            ))
        }
        Err(refusal) if purpose == Purpose::Link => {
            web.flash("error", web.describe(&refusal));
            Ok(redirect(web.path(Route::Profile)))
        }
        Err(refusal) => Ok(back_to_login(web, &refusal)),
    }
}

/// The provider's answer, from the query.
fn callback(web: &Web) -> Callback {
    Callback {
        code: query_param(&web.request, "code"),
        state: query_param(&web.request, "state"),
        error: query_param(&web.request, "error"),
        error_description: query_param(&web.request, "error_description"),
    }
}

/// A refused re-authentication: in SPA mode to `SECURITY_VERIFY_ERROR_VIEW` with the
/// refusal as `error`, else back to `/verify` (its `next` kept) under the flashed refusal.
fn verify_refused(web: &Web, refusal: &Refusal, next: Option<&str>) -> HttpResponse {
    let message = web.describe(refusal);
    let view = web.settings().spa.views.verify_error.as_ref();
    if let Some(spa) = crate::web::spa::link_redirect(web, view, &[("error", &message)]) {
        return spa;
    }
    web.flash("error", message);
    redirect(&web.urls().with_next(Route::Verify, next))
}

/// The login page, with the refusal flashed (Flask-Security's answer to every refusal).
fn back_to_login(web: &Web, refusal: &Refusal) -> HttpResponse {
    web.flash("error", web.describe(refusal));
    redirect(web.path(Route::Login))
}

/// The response URL (`route`) of provider `name`, under `BASE_URL`: the `redirect_uri`
/// sent, exactly.
fn provider_uri(web: &Web, route: Route, name: &str) -> String {
    let name = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!(
        "{}{}",
        web.settings().base_url,
        web.urls().with_token(route, &name.to_string())
    )
}

fn hold(web: &Web, flow: &Flow) -> Result<(), AppError> {
    web.session
        .insert(FLOW_KEY, flow)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("keeping the OAuth flow: {e}")))
}

/// This browser's round trip in progress, removed (a round trip is answered once).
fn take(web: &Web) -> Option<Flow> {
    if !web.session.contains_key(FLOW_KEY) {
        return None;
    }
    web.session.remove_as::<Flow>(FLOW_KEY).and_then(Result::ok)
}
