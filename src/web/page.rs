//! Answering a request in the client's format: a rendered page or redirect for browsers,
//! Flask-Security's `{"meta": {"code": …}, "response": {…}}` envelope for JSON clients.

use std::future::{ready, Ready};

use actix_session::{Session, SessionExt};
use actix_web::cookie::Cookie;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{dev::Payload, web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::csrf;
use super::error::AppError;
use super::format::Format;
use super::state::AppState;
use crate::auth::login::CurrentUser;
use crate::auth::Services;
pub use crate::domain::FormErrors;
use crate::messages::{Described, Lang, Messages, Msg};

const FLASHES_KEY: &str = "_flashes";

/// Queues a message for the next page this session renders, unless
/// `SECURITY_FLASH_MESSAGES=false` (where no [`Web`] is at hand: the CSRF check of a
/// submission, a guard).
pub fn flash(req: &HttpRequest, category: &str, message: String) {
    let enabled = req
        .app_data::<web::Data<AppState>>()
        .is_none_or(|state| state.settings.features.flash_messages);
    if enabled {
        queue_flash(&req.get_session(), category, message);
    }
}

fn queue_flash(session: &Session, category: &str, message: String) {
    let mut flashes: Vec<Flash> = session.get(FLASHES_KEY).ok().flatten().unwrap_or_default();
    flashes.push(Flash {
        category: category.to_owned(),
        message,
    });
    let _ = session.insert(FLASHES_KEY, flashes);
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Flash {
    category: String,
    message: String,
}

pub use super::user_view::user_view;

/// A page context of one value, moved in (`Context::insert` would copy it whole).
pub fn context_of(name: &str, value: Value) -> tera::Context {
    let mut values = serde_json::Map::new();
    values.insert(name.to_owned(), value);
    // An object always makes a context.
    tera::Context::from_value(Value::Object(values)).unwrap_or_default()
}

/// Everything a handler needs to answer: app state, session, current user, format and
/// language.
pub struct Web {
    pub state: web::Data<AppState>,
    pub session: Session,
    pub user: Option<CurrentUser>,
    pub format: Format,
    pub request: HttpRequest,
    /// The request's texts: its language's view of the catalogue (see [`super::language`]).
    pub messages: Messages,
}

impl FromRequest for Web {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        ready(
            state
                .map(|state| {
                    let lang = super::language::of(req, &state.messages);
                    Web {
                        messages: state.messages.in_language(&lang),
                        state,
                        session: req.get_session(),
                        user: req.extensions().get::<CurrentUser>().cloned(),
                        format: Format::of(req),
                        request: req.clone(),
                    }
                })
                .ok_or_else(|| AppError::Unexpected(anyhow::anyhow!("AppState is not registered"))),
        )
    }
}

impl Web {
    pub fn settings(&self) -> &crate::config::Settings {
        &self.state.settings
    }

    /// Where the app serves its routes.
    pub fn urls(&self) -> crate::urls::Urls {
        self.state.urls
    }

    /// Where the app serves `route` (its actix pattern).
    pub fn path(&self, route: crate::urls::Route) -> &'static str {
        self.state.urls.path(route)
    }

    /// The request's language.
    pub fn lang(&self) -> &Lang {
        self.messages.lang()
    }

    /// The rules' services speaking the request's language (their messages and mails).
    pub fn services(&self) -> Services {
        self.state.services.in_language(self.lang())
    }

    /// A user-facing message in the request's language and the configured wording
    /// (`SECURITY_MSG_<NAME>`).
    pub fn msg(&self, msg: Msg, args: &[(&str, &str)]) -> String {
        self.messages.text(msg, args)
    }

    /// The configured wording for a refusal that names its own message.
    pub fn describe(&self, refusal: &impl Described) -> String {
        self.messages.describe(refusal)
    }

    /// A text of Latchkey's own (not one of Flask-Security's messages) by its English
    /// wording, in the request's language, placeholders filled.
    pub fn translate(&self, msgid: &str, args: &[(&str, &str)]) -> String {
        self.messages.translate(msgid, args)
    }

    /// The client of this request: its address (`TRUSTED_PROXY_COUNT` applies) and
    /// `User-Agent`, as events and notices record them.
    pub fn client(&self) -> crate::auth::login::ClientInfo {
        super::client::client_info(&self.request, self.settings().trusted_proxy_count)
    }

    pub fn csrf_token(&self) -> String {
        csrf::token(&self.session)
    }

    /// The "Check your email" page (`security/check_email.html`), with `message` flashed above
    /// the card (see [`super::check_email`]).
    pub fn check_email_page(
        &self,
        sent: super::check_email::Sent,
        address: &str,
        message: String,
    ) -> Result<HttpResponse, AppError> {
        self.flash("info", message);
        super::check_email::queue(&self.session, self.urls(), sent, address);
        self.page("security/check_email.html", tera::Context::new())
    }

    /// Queues a message for the next rendered page (unless `SECURITY_FLASH_MESSAGES=false`).
    pub fn flash(&self, category: &str, message: impl Into<String>) {
        if self.settings().features.flash_messages {
            queue_flash(&self.session, category, message.into());
        }
    }

    fn take_flashes(&self) -> Vec<Flash> {
        // `remove` marks the session changed even for an absent key, which would re-encrypt
        // and re-send the session cookie with every page.
        if !self.session.contains_key(FLASHES_KEY) {
            return Vec::new();
        }
        self.session
            .remove_as::<Vec<Flash>>(FLASHES_KEY)
            .and_then(Result::ok)
            .unwrap_or_default()
    }

    /// A page: `extra` is merged over the context every template gets (`current_user`,
    /// `csrf_token`, `flashes`, and the settings' part from [`super::state::page_defaults`]).
    pub fn page(&self, template: &str, extra: tera::Context) -> Result<HttpResponse, AppError> {
        self.page_with_status(StatusCode::OK, template, extra)
    }

    /// A logged-in page whose context names everything it shows (no secret, nothing drawn
    /// at random): like [`Self::page`], but reused for a second when the same user asks for
    /// it again with the same context (see [`crate::templates::page_cache`]).
    pub fn reusable_page(
        &self,
        template: &str,
        extra: tera::Context,
    ) -> Result<HttpResponse, AppError> {
        self.render_page(StatusCode::OK, template, extra, true)
    }

    pub fn page_with_status(
        &self,
        status: StatusCode,
        template: &str,
        extra: tera::Context,
    ) -> Result<HttpResponse, AppError> {
        self.render_page(status, template, extra, false)
    }

    fn render_page(
        &self,
        status: StatusCode,
        template: &str,
        extra: tera::Context,
        signed_in_reusable: bool,
    ) -> Result<HttpResponse, AppError> {
        let templates = &self.state.templates;
        let flashes = self.take_flashes();
        let check_email = super::check_email::take(&self.session);
        let csrf_token = self.csrf_token();
        let reusable = (self.user.is_none() || signed_in_reusable)
            && flashes.is_empty()
            && check_email.is_none()
            && matches!(*self.request.method(), Method::GET | Method::HEAD);
        let lang = self.lang();
        let current_user = self.user.as_ref().map(|c| user_view(&c.user));
        let request_path = self
            .request
            .uri()
            .path_and_query()
            .map_or(crate::urls::ROOT, |p| p.as_str());
        // The request's own values; the settings' part goes under them when rendering.
        let values = |extra: tera::Context, csrf_token: Option<&str>| {
            let mut ctx = tera::Context::new();
            ctx.insert("lang", lang.as_str());
            ctx.insert("request_path", request_path);
            ctx.insert("current_user", &current_user);
            ctx.insert("flashes", &flashes);
            ctx.insert("check_email", &check_email);
            if let Some(token) = csrf_token {
                ctx.insert("csrf_token", token);
            }
            ctx.extend(extra);
            ctx
        };
        let defaults = &self.state.page_defaults;
        let body = if reusable {
            // Everything else in the context is fixed by the settings. The whole context
            // is the key: a page is only reused for a request that would render the same.
            let extra = extra.into_json();
            let key = page_key(
                &[template, lang.as_str(), request_path],
                &current_user,
                &extra,
            );
            // An object always makes a context.
            let mut extra = Some(tera::Context::from_value(extra).unwrap_or_default());
            let values = |token: &str, last: bool| {
                let extra = if last { extra.take() } else { extra.clone() };
                values(extra.unwrap_or_default(), Some(token))
            };
            let page = crate::templates::ReusedPage {
                key: &key,
                csrf_token: &csrf_token,
                signed_in: self.user.is_some(),
            };
            templates.render_page(lang, template, page, defaults, values)?
        } else {
            templates.render_over(lang, template, defaults, values(extra, Some(&csrf_token)))?
        };
        Ok(HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body))
    }

    /// JSON success envelope.
    pub fn json_ok(&self, response: Value) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"meta": {"code": 200}, "response": response}))
    }

    /// A refusal that belongs to no field (a bad link): a 400 JSON envelope.
    pub fn json_error(&self, message: impl Into<String>) -> HttpResponse {
        HttpResponse::BadRequest()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({"meta": {"code": 400}, "response": {"errors": [message.into()]}}))
    }

    /// A rejected form: the page again with its errors (200, like Flask-Security), or a
    /// 400 JSON envelope with `errors` and `field_errors`.
    pub fn form_failure(
        &self,
        template: &str,
        mut form: tera::Context,
        errors: &FormErrors,
    ) -> Result<HttpResponse, AppError> {
        match self.format {
            Format::Json => Ok(HttpResponse::BadRequest().json(json!({
                "meta": {"code": 400},
                "response": {
                    "errors": errors.all_messages(),
                    "field_errors": errors.fields,
                },
            }))),
            Format::Html => {
                form.insert("errors", &errors.fields);
                form.insert("form_errors", &errors.general);
                self.page(template, form)
            }
        }
    }

    /// Success: a redirect (with an optional flash) for browsers, `json` for API clients.
    pub fn success(
        &self,
        location: &str,
        flash: Option<(&str, String)>,
        json: Value,
    ) -> HttpResponse {
        match self.format {
            Format::Json => self.json_ok(json),
            Format::Html => {
                if let Some((category, message)) = flash {
                    self.flash(category, message);
                }
                redirect(location)
            }
        }
    }
}

/// A reusable page's cache key: its names (template, language, path) and its context as
/// JSON, written straight into bytes (through `Display` it cost twice as much).
fn page_key(names: &[&str], user: &Option<Value>, extra: &Value) -> Vec<u8> {
    let mut key = Vec::with_capacity(4096);
    for name in names {
        key.extend_from_slice(name.as_bytes());
        key.push(b'\n');
    }
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut key, user);
    key.push(b'\n');
    let _ = serde_json::to_writer(&mut key, extra);
    key
}

/// Adds a cookie to a response. Only an unencodable cookie fails, and that is our bug.
pub fn add_cookie<B>(response: &mut HttpResponse<B>, cookie: &Cookie<'_>) -> Result<(), AppError> {
    response
        .add_cookie(cookie)
        .map_err(|e| AppError::Unexpected(anyhow::anyhow!("cookie {}: {e}", cookie.name())))
}

/// `response` with the cookies `from` sets (a login's session and remember-me cookies, when
/// another answer replaces the login's redirect).
pub fn with_cookies_of(mut response: HttpResponse, from: &HttpResponse) -> HttpResponse {
    for cookie in from.headers().get_all(header::SET_COOKIE) {
        response
            .headers_mut()
            .append(header::SET_COOKIE, cookie.clone());
    }
    response
}

pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}
