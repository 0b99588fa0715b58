//! `GET/POST /lang`: the language chooser. `lang=<tag>` (one of the catalogue's languages)
//! is kept in the `lang` cookie, which wins over `Accept-Language`; then the browser goes
//! back to `next` (a local path, by the same rules as the login's `next`) or `/`. A POST
//! needs the CSRF token like every form; a GET is a plain link (a preference, no account
//! state). `GET /lang` as JSON, without `lang`, tells the current and offered languages.

use actix_web::HttpResponse;
use serde::Deserialize;
use serde_json::json;

use super::mount;
use crate::domain::SafeNext;
use crate::messages::Lang;
use crate::urls::{Route, Urls};
use crate::web::page::{add_cookie, redirect};
use crate::web::submission::query_param;
use crate::web::{language, AppError, Submission, Web};

/// Registers the language chooser.
pub fn routes(cfg: &mut actix_web::web::ServiceConfig, urls: Urls) {
    cfg.service(mount::form(urls.path(Route::Lang), link, submit));
}

#[derive(Debug, Default, Deserialize)]
pub struct LangForm {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    next: Option<String>,
}

pub async fn link(web: Web) -> Result<HttpResponse, AppError> {
    let form = LangForm {
        lang: query_param(&web.request, "lang"),
        next: query_param(&web.request, "next"),
    };
    if form.lang.is_none() && web.format.is_json() {
        let offered: Vec<String> = web
            .state
            .messages
            .languages()
            .iter()
            .map(ToString::to_string)
            .collect();
        return Ok(web.json_ok(json!({"lang": web.lang().as_str(), "languages": offered})));
    }
    choose(&web, form)
}

pub async fn submit(web: Web, form: Submission<LangForm>) -> Result<HttpResponse, AppError> {
    choose(&web, form.data)
}

fn choose(web: &Web, form: LangForm) -> Result<HttpResponse, AppError> {
    let settings = web.settings();
    let next = match form.next.as_deref().filter(|n| !n.is_empty()) {
        None => None,
        Some(raw) => match SafeNext::parse_with(raw, &settings.base_url, &settings.spa) {
            Ok(next) => Some(next),
            Err(e) => return Ok(refused(web, web.describe(&e))),
        },
    };
    let offered = web.state.messages.languages();
    let Some(lang) = form
        .lang
        .as_deref()
        .and_then(Lang::parse)
        .filter(|l| offered.contains(l))
    else {
        return Ok(refused(web, web.translate("Unknown language", &[])));
    };
    let location = next
        .as_ref()
        .map_or(web.path(Route::Home), SafeNext::as_str);
    let mut response = match web.format {
        crate::web::Format::Json => web.json_ok(json!({"lang": lang.as_str()})),
        crate::web::Format::Html => redirect(location),
    };
    add_cookie(&mut response, &language::cookie(&lang, settings))?;
    Ok(response)
}

/// A language or `next` that cannot be used: 400 for JSON; browsers go home with a message.
fn refused(web: &Web, message: String) -> HttpResponse {
    if web.format.is_json() {
        return web.json_error(message);
    }
    web.flash("error", message);
    redirect(web.path(Route::Home))
}
