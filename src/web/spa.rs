//! Where the links of the mails lead a single-page app (`SECURITY_REDIRECT_BEHAVIOR=spa`):
//! to the app's own view (`SECURITY_POST_CONFIRM_VIEW`, `SECURITY_RESET_VIEW`, ...) with the
//! outcome in the query string, on `SECURITY_REDIRECT_HOST` when set. Flask-Security's
//! `get_url` and `transform_url`.

use actix_web::HttpResponse;

use super::page::{redirect, Web};
use crate::config::SpaSettings;
use crate::db::models::User;
use crate::urls::Route;

/// `view` (a path or an absolute URL) with `params` merged into its query string (a
/// parameter it has already is replaced) and its host replaced by `SECURITY_REDIRECT_HOST`
/// when set: a path becomes `//host/path`, as Flask-Security's `urlunsplit` makes it.
pub fn view_url(settings: &SpaSettings, view: &str, params: &[(&str, &str)]) -> String {
    let (rest, fragment) = match view.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (view, None),
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    for (name, value) in params {
        match pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => pairs.push(((*name).to_owned(), (*value).to_owned())),
        }
    }
    let base = match &settings.redirect_host {
        None => base.to_owned(),
        Some(host) => with_host(base, host),
    };
    let mut url = base;
    if !pairs.is_empty() {
        url.push('?');
        url.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish(),
        );
    }
    if let Some(fragment) = fragment {
        url.push('#');
        url.push_str(fragment);
    }
    url
}

/// `base` (`scheme://host/path` or `/path`) on `host`.
fn with_host(base: &str, host: &str) -> String {
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let path = rest.find('/').map_or("", |i| &rest[i..]);
            format!("{scheme}://{host}{path}")
        }
        None => format!("//{host}{base}"),
    }
}

/// Where a mail's link leads: the SPA's view (the redirect) or a page's address.
pub enum Target {
    Spa(HttpResponse),
    Page(String),
}

/// The redirect a mail's link answers with in SPA mode: to `view` with `params`; `None`
/// outside SPA mode or when the view is not configured (Latchkey's own page answers then,
/// where Flask-Security would fail).
pub fn link_redirect(
    web: &Web,
    view: Option<&String>,
    params: &[(&str, &str)],
) -> Option<HttpResponse> {
    let settings = &web.settings().spa;
    match (settings.spa, view) {
        (true, Some(view)) => Some(redirect(&view_url(settings, view, params))),
        _ => None,
    }
}

/// Where a link goes outside SPA mode: the configured view when set (on
/// `SECURITY_REDIRECT_HOST`), else Latchkey's page.
pub fn view_or(web: &Web, view: Option<&String>, default: &str) -> String {
    match view {
        Some(view) => view_url(&web.settings().spa, view, &[]),
        None => default.to_owned(),
    }
}

/// Where a re-authentication (`/verify`, `/us-verify`, `/wan-verify`, a social login's)
/// goes without `next`: `SECURITY_POST_VERIFY_VIEW`, else the home page.
pub fn post_verify(web: &Web) -> String {
    let view = web.settings().spa.views.post_verify.as_ref();
    view_or(web, view, web.path(Route::Home))
}

/// Where a logged-in user's two-factor setup (or switching it off) goes:
/// `SECURITY_TWO_FACTOR_POST_SETUP_VIEW`, else the setup page.
pub fn two_factor_post_setup(web: &Web) -> String {
    let view = web.settings().spa.views.two_factor_post_setup.as_ref();
    view_or(web, view, web.path(Route::TfSetup))
}

/// Where a browser's two-factor step without a login in the middle goes:
/// `SECURITY_TWO_FACTOR_ERROR_VIEW`, else the login page.
pub fn two_factor_error(web: &Web) -> String {
    let view = web.settings().spa.views.two_factor_error.as_ref();
    view_or(web, view, web.path(Route::Login))
}

/// Where a unified sign-in setup goes: `SECURITY_US_POST_SETUP_VIEW`, else the setup page.
pub fn us_post_setup(web: &Web) -> String {
    let view = web.settings().spa.views.us_post_setup.as_ref();
    view_or(web, view, web.path(Route::UsSetup))
}

/// Where a username change goes without `next`: `SECURITY_POST_CHANGE_USERNAME_VIEW`, else
/// `SECURITY_POST_LOGIN_VIEW`, else the home page.
pub fn post_change_username(web: &Web) -> String {
    let views = &web.settings().spa.views;
    let view = views
        .post_change_username
        .as_ref()
        .or(views.post_login.as_ref());
    view_or(web, view, web.path(Route::Home))
}

/// Flask-Security's `_confirm_redirect`: a browser's login refused because the account
/// awaits confirmation goes to `SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW` with the
/// account's `email`, under the flashed "Email requires confirmation." `None` (the form
/// answers) for JSON, with generic responses, or when the view is not set.
pub fn requires_confirmation(web: &Web, email: Option<&str>) -> Option<HttpResponse> {
    let settings = web.settings();
    let view = settings.spa.views.requires_confirmation_error.as_ref()?;
    if web.format.is_json() || settings.features.return_generic_responses {
        return None;
    }
    web.flash(
        "error",
        web.msg(crate::messages::CONFIRMATION_REQUIRED, &[]),
    );
    let params: Vec<(&str, &str)> = email.map(|e| ("email", e)).into_iter().collect();
    Some(redirect(&view_url(&settings.spa, view, &params)))
}

/// Flask-Security's `get_redirect_qparams`: the account's `email` and `identity` (its
/// first identity attribute that is set: the email, else the username), then `extra`
/// (none when its name is empty).
pub fn account_params<'a>(user: &'a User, extra: (&'a str, &'a str)) -> Vec<(&'a str, &'a str)> {
    let mut params = Vec::new();
    if let Some(email) = user.email.as_deref() {
        params.push(("email", email));
    }
    let identity = user
        .email
        .as_deref()
        .filter(|e| !e.is_empty())
        .or(user.username.as_deref())
        .unwrap_or_default();
    params.push(("identity", identity));
    if !extra.0.is_empty() {
        params.push(extra);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: Option<&str>) -> SpaSettings {
        SpaSettings {
            spa: true,
            redirect_host: host.map(str::to_owned),
            ..SpaSettings::default()
        }
    }

    #[test]
    fn views_get_their_parameters_and_the_redirect_host() {
        let none = settings(None);
        assert_eq!(
            view_url(
                &none,
                "/confirmed",
                &[("email", "a+b@example.com"), ("info", "Thank you. Done!")]
            ),
            "/confirmed?email=a%2Bb%40example.com&info=Thank+you.+Done%21"
        );
        assert_eq!(
            view_url(&none, "/r?x=1&token=old#top", &[("token", "new")]),
            "/r?x=1&token=new#top"
        );
        let host = settings(Some("localhost:8081"));
        assert_eq!(
            view_url(&host, "/reset-view", &[("token", "t")]),
            "//localhost:8081/reset-view?token=t"
        );
        assert_eq!(
            view_url(&host, "https://app.example.com/x/y", &[]),
            "https://localhost:8081/x/y"
        );
        assert_eq!(
            view_url(&host, "https://app.example.com", &[]),
            "https://localhost:8081"
        );
    }
}
