//! "Sign in with Latchkey", the OpenID Connect provider's endpoints: discovery
//! (`/.well-known/openid-configuration`), the JWKS, authorize (with its consent form),
//! token, userinfo, revocation, introspection and end-session (RP-initiated logout); and the
//! account's "Apps with access" page, where a person removes an app's access. The rules are `crate::auth::oidc`'s; these parse and answer.
//!
//! The token, userinfo, revocation and introspection endpoints are called by apps' servers, not browsers: they take
//! no CSRF token and keep no session; a client proves itself by its secret (HTTP Basic or
//! the form) or, public, by PKCE.

use actix_identity::Identity;
use actix_web::http::header;
use actix_web::{web as aweb, HttpRequest, HttpResponse};
use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::mount;
use crate::auth::oidc::authorize::{self, AuthorizeError, AuthorizeParams, Next};
use crate::auth::oidc::keys::Alg;
use crate::auth::oidc::logout::{self, CheckedLogout, LogoutParams};
use crate::auth::oidc::tokens::{self, Presented, TokenError, TokenForm};
use crate::auth::oidc::{apps, discovery, keys, OidcError};
use crate::urls::{Route, Urls};
use crate::web::current_user::MaybeUser;
use crate::web::page::{add_cookie, redirect};
use crate::web::submission::form_urlencoded_pairs;
use crate::web::{AppError, AuthenticatedUser, Submission, Web};

/// Registers the provider's endpoints.
pub fn routes(cfg: &mut aweb::ServiceConfig, urls: Urls) {
    cfg.service(mount::page(urls.path(Route::OidcDiscovery), configuration))
        .service(mount::page(urls.path(Route::OidcJwks), jwks))
        .service(mount::get_post(
            urls.path(Route::OidcAuthorize),
            authorize,
            consent,
        ))
        .service(mount::post(urls.path(Route::OidcToken), token))
        .service(mount::get_post(
            urls.path(Route::OidcUserinfo),
            userinfo,
            userinfo,
        ))
        .service(mount::post(urls.path(Route::OidcRevoke), revoke))
        .service(mount::post(urls.path(Route::OidcIntrospect), introspect))
        .service(mount::get_post(
            urls.path(Route::OidcLogout),
            logout_page,
            logout,
        ))
        .service(mount::page(urls.path(Route::OidcApps), apps_page))
        .service(mount::post(urls.path(Route::OidcAppsRevoke), revoke_app));
}

const APPS_TEMPLATE: &str = "security/oidc_apps.html";

/// `GET /apps`: the apps with access to the account.
pub async fn apps_page(web: Web, current: AuthenticatedUser) -> Result<HttpResponse, AppError> {
    let list = apps::list(&web.services(), &current.0.user)
        .await
        .map_err(provider_error)?;
    if web.format.is_json() {
        return Ok(web.json_ok(json!({ "apps": list })));
    }
    web.page(
        APPS_TEMPLATE,
        crate::web::page::context_of("apps", json!(list)),
    )
}

/// The form that removes an app's access: its `client_id`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RevokeAppForm {
    #[serde(default)]
    client_id: Option<String>,
}

/// `POST /apps/revoke` (CSRF-checked): the app's access removed, back to the list.
pub async fn revoke_app(
    web: Web,
    current: AuthenticatedUser,
    form: Submission<RevokeAppForm>,
) -> Result<HttpResponse, AppError> {
    let client_id = form.data.client_id.unwrap_or_default();
    let removed = apps::revoke(&web.services(), &current.0.user, &client_id, &web.client())
        .await
        .map_err(provider_error)?;
    let name = removed.ok_or(AppError::NotFound)?;
    let message = web.translate("Access removed for %(app)s.", &[("app", &name)]);
    Ok(web.success(
        web.path(Route::OidcApps),
        Some(("info", message)),
        json!({}),
    ))
}

const CONSENT_TEMPLATE: &str = "security/oidc_consent.html";
const LOGOUT_TEMPLATE: &str = "security/oidc_logout.html";
const CONTINUE_TEMPLATE: &str = "security/oidc_continue.html";

fn provider_error(e: OidcError) -> AppError {
    AppError::Unexpected(anyhow::anyhow!(e))
}

/// Parameters of a query or form: each at most once (RFC 6749 3.1), as strings.
fn params<T: DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    let pairs = form_urlencoded_pairs(raw).map_err(|_| "the parameters are not UTF-8")?;
    let mut map = Map::new();
    for (name, value) in pairs {
        if map.insert(name.clone(), Value::String(value)).is_some() {
            return Err(format!("the parameter {name} is repeated"));
        }
    }
    serde_json::from_value(Value::Object(map)).map_err(|e| e.to_string())
}

/// Answers as JSON that no cache may keep.
fn no_store(mut response: actix_web::HttpResponseBuilder, body: Value) -> HttpResponse {
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body)
}

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(web: Web) -> HttpResponse {
    HttpResponse::Ok().json(discovery::document(&web.services()))
}

/// `GET /oidc/jwks`: the public keys, current and retired (an RS256 and an EdDSA key made
/// first if there are none).
pub async fn jwks(web: Web) -> Result<HttpResponse, AppError> {
    let services = web.services();
    for alg in Alg::ALL {
        tokens::signing_key(&services, alg)
            .await
            .map_err(provider_error)?;
    }
    let set = keys::jwks(&services).await.map_err(provider_error)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(set))
}

/// `GET /oidc/authorize`: the request checked, then sign in, consent, or the code.
pub async fn authorize(web: Web, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let raw = web.request.query_string().as_bytes().to_vec();
    let asked: AuthorizeParams = params(&raw).map_err(AppError::BadRequest)?;
    answer(&web, &user, asked, None).await
}

/// `POST /oidc/authorize` (CSRF-checked): the consent form's answer.
pub async fn consent(
    web: Web,
    user: MaybeUser,
    form: Submission<ConsentForm>,
) -> Result<HttpResponse, AppError> {
    let ConsentForm { asked, decision } = form.data;
    let agreed = decision.as_deref() == Some("allow");
    answer(&web, &user, asked, Some(agreed)).await
}

/// The consent form: the authorization request's parameters (hidden fields) and the button
/// pressed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ConsentForm {
    #[serde(flatten)]
    asked: AuthorizeParams,
    #[serde(default)]
    decision: Option<String>,
}

/// The authorize answer: `agreed` is the consent form's decision, if it was sent.
async fn answer(
    web: &Web,
    user: &MaybeUser,
    asked: AuthorizeParams,
    agreed: Option<bool>,
) -> Result<HttpResponse, AppError> {
    let services = web.services();
    let checked = match authorize::check(&services, &asked).await {
        Ok(checked) => checked,
        Err(AuthorizeError::Shown(e)) => {
            return Err(AppError::BadRequest(format!(
                "{}: {}",
                e.error, e.description
            )))
        }
        Err(AuthorizeError::Redirect(e)) => {
            return Ok(redirect(&authorize::error_url(&e, &services)))
        }
    };
    if agreed == Some(false) && user.0.is_some() {
        return Ok(redirect(&authorize::error_url(
            &authorize::declined(&checked),
            &services,
        )));
    }
    let current = user.0.as_ref();
    let next = authorize::decide(&services, &checked, current, agreed == Some(true))
        .await
        .map_err(provider_error)?;
    match next {
        Next::Redirect(to) => continue_to(web, &checked, &to),
        Next::Refused(e) => continue_to(web, &checked, &authorize::error_url(&e, &services)),
        Next::SignIn => Ok(redirect(&sign_in_url(web, current.is_some(), &asked))),
        Next::Consent => {
            let who = current
                .map(|c| c.user.email_or_empty().to_owned())
                .unwrap_or_default();
            consent_page(web, &who, &checked, &asked)
        }
    }
}

/// The answer that sends the browser back to the app. A redirect, except for a browser that
/// came from one of this site's own pages (`Sec-Fetch-Site: same-origin`, as after the login
/// form): browsers apply the form's `form-action` to every redirect that follows a form, and
/// ours allows only this site, so that browser gets a page that moves on by itself (a meta
/// refresh, which `form-action` does not govern) with a link to follow.
fn continue_to(
    web: &Web,
    checked: &authorize::Checked,
    to: &str,
) -> Result<HttpResponse, AppError> {
    let from_our_page = web
        .request
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"same-origin");
    if !from_our_page {
        return Ok(redirect(to));
    }
    let mut ctx = tera::Context::new();
    ctx.insert("to", to);
    ctx.insert("client_name", &checked.client.name);
    web.page(CONTINUE_TEMPLATE, ctx)
}

/// Where the person proves themselves: the login page (nobody signed in) or the
/// re-authentication (`prompt=login`, `max_age`), back to this request afterwards without
/// its `prompt=login` (the proof just made satisfies it).
fn sign_in_url(web: &Web, signed_in: bool, asked: &AuthorizeParams) -> String {
    let mut back = asked.clone();
    back.prompt = back.prompt.map(|p| {
        p.split_ascii_whitespace()
            .filter(|v| *v != "login")
            .collect::<Vec<_>>()
            .join(" ")
    });
    if asked.prompt.as_deref().is_some_and(|p| p.contains("login")) {
        let window = authorize::PROMPT_LOGIN_WINDOW_SECS.to_string();
        back.max_age = Some(back.max_age.map_or(window.clone(), |m| m.min(window)));
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in string_fields(&back) {
        query.append_pair(&name, &value);
    }
    let next = format!("{}?{}", web.path(Route::OidcAuthorize), query.finish());
    let route = if signed_in {
        Route::Verify
    } else {
        Route::Login
    };
    web.urls().with_next(route, Some(&next))
}

/// The parameters that were given, as the hidden fields of a page's form
/// (`{"name": …, "value": …}`).
fn hidden_fields<T: serde::Serialize>(asked: &T) -> Vec<Value> {
    string_fields(asked)
        .into_iter()
        .map(|(name, value)| json!({"name": name, "value": value}))
        .collect()
}

/// The parameters that were given, as name and value.
fn string_fields<T: serde::Serialize>(asked: &T) -> Vec<(String, String)> {
    serde_json::to_value(asked)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| v.as_str().map(|v| (k, v.to_owned())))
        .collect()
}

fn consent_page(
    web: &Web,
    signed_in_as: &str,
    checked: &authorize::Checked,
    asked: &AuthorizeParams,
) -> Result<HttpResponse, AppError> {
    let mut ctx = tera::Context::new();
    ctx.insert("client_name", &checked.client.name);
    ctx.insert("signed_in_as", &signed_in_as);
    let scopes: Vec<String> = checked
        .scopes
        .iter()
        .map(|s| discovery::scope_description(s).to_owned())
        .collect();
    ctx.insert("scopes", &scopes);
    ctx.insert("params", &hidden_fields(asked));
    let mut page = web.page(CONSENT_TEMPLATE, ctx)?;
    allow_form_to(&mut page, Some(&checked.redirect_uri));
    Ok(page)
}

/// A page whose form's answer is a redirect to the app: its `form-action` allows the app's
/// origin too.
fn allow_form_to(page: &mut HttpResponse, uri: Option<&str>) {
    if let Some(policy) = uri
        .and_then(discovery::redirect_origin)
        .and_then(|origin| crate::web::headers::content_security_policy(&[origin]))
    {
        page.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
}

/// The client's credentials from `Authorization: Basic` (RFC 6749 2.3.1: each part
/// form-urlencoded) or the form; both at once is refused.
fn presented(req: &HttpRequest, form: &TokenForm) -> Result<(Presented, bool), TokenError> {
    let basic = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    let Some(encoded) = basic else {
        let presented = Presented {
            client_id: form.client_id.clone(),
            client_secret: form.client_secret.clone(),
        };
        return Ok((presented, false));
    };
    let bad = || TokenError {
        error: "invalid_client",
        description: "the Basic credentials cannot be read".into(),
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let part = |raw: &str| {
        form_urlencoded_pairs(format!("v={raw}").as_bytes())
            .ok()
            .and_then(|mut p| p.pop())
            .map(|(_, v)| v)
            .ok_or_else(bad)
    };
    if form.client_secret.is_some() {
        return Err(TokenError {
            error: "invalid_request",
            description: "the client authenticated in more than one way".into(),
        });
    }
    let presented = Presented {
        client_id: Some(part(id)?),
        client_secret: Some(part(secret)?),
    };
    Ok((presented, true))
}

fn token_error(e: &TokenError, basic: bool) -> HttpResponse {
    let body = json!({"error": e.error, "error_description": e.description});
    if e.error == "invalid_client" {
        let mut response = HttpResponse::Unauthorized();
        if basic {
            response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"latchkey\""));
        }
        return no_store(response, body);
    }
    no_store(HttpResponse::BadRequest(), body)
}

/// A client's request (token, revocation, introspection): its form and credentials, or the
/// error answer.
fn client_request(web: &Web, body: &[u8]) -> Result<(TokenForm, Presented, bool), TokenError> {
    let form: TokenForm = params(body).map_err(|why| TokenError {
        error: "invalid_request",
        description: why,
    })?;
    let (presented, basic) = presented(&web.request, &form)?;
    Ok((form, presented, basic))
}

/// `POST /oidc/token`: the authorization code or refresh token grant.
pub async fn token(web: Web, body: aweb::Bytes) -> Result<HttpResponse, AppError> {
    let (form, presented, basic) = match client_request(&web, &body) {
        Ok(request) => request,
        Err(e) => return Ok(token_error(&e, false)),
    };
    let answered = tokens::token(&web.services(), presented, form, &web.client())
        .await
        .map_err(provider_error)?;
    Ok(match answered {
        Ok(tokens) => no_store(HttpResponse::Ok(), json!(tokens)),
        Err(e) => token_error(&e, basic),
    })
}

/// `POST /oidc/revoke` (RFC 7009): 200 whether or not the token was known.
pub async fn revoke(web: Web, body: aweb::Bytes) -> Result<HttpResponse, AppError> {
    let (form, presented, basic) = match client_request(&web, &body) {
        Ok(request) => request,
        Err(e) => return Ok(token_error(&e, false)),
    };
    let answered = tokens::revoke(&web.services(), presented, form.token, &web.client())
        .await
        .map_err(provider_error)?;
    Ok(match answered {
        Ok(()) => no_store(HttpResponse::Ok(), json!({})),
        Err(e) => token_error(&e, basic),
    })
}

/// `POST /oidc/introspect` (RFC 7662), for resource servers registered as clients.
pub async fn introspect(web: Web, body: aweb::Bytes) -> Result<HttpResponse, AppError> {
    let (form, presented, basic) = match client_request(&web, &body) {
        Ok(request) => request,
        Err(e) => return Ok(token_error(&e, false)),
    };
    let answered = tokens::introspect(&web.services(), presented, form.token)
        .await
        .map_err(provider_error)?;
    Ok(match answered {
        Ok(found) => no_store(HttpResponse::Ok(), found),
        Err(e) => token_error(&e, basic),
    })
}

/// The end-session request checked: where to go afterwards, or the error page.
async fn checked_logout(web: &Web, asked: &LogoutParams) -> Result<CheckedLogout, AppError> {
    logout::check(&web.services(), asked)
        .await
        .map_err(provider_error)?
        .map_err(AppError::BadRequest)
}

/// `GET /oidc/logout`: a "Sign out?" page for whoever is signed in; nobody signed in goes
/// straight to the app's post-logout URI (or sees that nobody is signed in).
pub async fn logout_page(web: Web, user: MaybeUser) -> Result<HttpResponse, AppError> {
    let raw = web.request.query_string().as_bytes().to_vec();
    let asked: LogoutParams = params(&raw).map_err(AppError::BadRequest)?;
    let checked = checked_logout(&web, &asked).await?;
    if user.0.is_none() {
        if let Some(then) = checked.then {
            return Ok(redirect(&then));
        }
    }
    let mut ctx = tera::Context::new();
    ctx.insert("params", &hidden_fields(&asked));
    let mut page = web.page(LOGOUT_TEMPLATE, ctx)?;
    allow_form_to(&mut page, checked.then.as_deref());
    Ok(page)
}

/// `POST /oidc/logout` (CSRF-checked): signs out, then to the app's post-logout URI, else
/// home.
pub async fn logout(
    web: Web,
    identity: Option<Identity>,
    form: Submission<LogoutParams>,
) -> Result<HttpResponse, AppError> {
    let checked = checked_logout(&web, &form.data).await?;
    let removals = super::logout::end_login(&web, identity).await?;
    let mut response = redirect(checked.then.as_deref().unwrap_or(web.path(Route::Home)));
    for cookie in &removals {
        add_cookie(&mut response, cookie)?;
    }
    Ok(response)
}

/// `GET` or `POST /oidc/userinfo` with `Authorization: Bearer`: the claims the token's
/// scopes allow.
pub async fn userinfo(web: Web) -> Result<HttpResponse, AppError> {
    let bearer = web
        .request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let claims = match bearer {
        Some(token) => tokens::userinfo(&web.services(), token)
            .await
            .map_err(provider_error)?,
        None => None,
    };
    Ok(match claims {
        Some(claims) => no_store(HttpResponse::Ok(), claims),
        None => {
            let mut response = HttpResponse::Unauthorized();
            response.insert_header((
                header::WWW_AUTHENTICATE,
                "Bearer error=\"invalid_token\", error_description=\"the access token is not valid\"",
            ));
            no_store(response, json!({"error": "invalid_token"}))
        }
    })
}
