//! Single-page apps: Flask-Security's CSRF cookie (`SECURITY_CSRF_COOKIE*`,
//! `SECURITY_CSRF_HEADER`), `SECURITY_REDIRECT_*` and the views the links of its mails lead
//! to (`SECURITY_POST_CONFIRM_VIEW`, `SECURITY_RESET_VIEW`, ...).

use super::cookie_dict::{self, CookieAttributes, Guard};
use super::source::{ConfigError, Source};

/// The CSRF cookie (`SECURITY_CSRF_COOKIE_NAME` set): a script reads the session's CSRF token
/// from it and sends it back in [`SpaSettings::csrf_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfCookie {
    pub name: String,
    /// `SECURITY_CSRF_COOKIE` over Flask-Security's default (Strict, readable by scripts).
    pub attributes: CookieAttributes,
    /// `SECURITY_CSRF_COOKIE_REFRESH_EACH_REQUEST`: sent with every answer, not only when
    /// the token changed.
    pub refresh_each_request: bool,
}

/// Where the browser goes after a link from a mail, and how (`SECURITY_REDIRECT_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpaSettings {
    /// `SECURITY_CSRF_COOKIE_NAME` and `SECURITY_CSRF_COOKIE`; `None`: no cookie (the default).
    pub csrf_cookie: Option<CsrfCookie>,
    /// `SECURITY_CSRF_HEADER` (`X-XSRF-Token`): the header the token may come in, besides
    /// `X-CSRF-Token`, `X-CSRFToken` and the `csrf_token` field.
    pub csrf_header: String,
    /// `SECURITY_REDIRECT_BEHAVIOR=spa`: the mails' links redirect to the views below with
    /// their outcome in the query string, instead of flashing it on a page of Latchkey's.
    pub spa: bool,
    /// `SECURITY_REDIRECT_HOST`: the host (and port) those redirects go to.
    pub redirect_host: Option<String>,
    /// `SECURITY_REDIRECT_ALLOW_SUBDOMAINS`: `next` may name any subdomain of `BASE_URL`'s host.
    pub allow_subdomains: bool,
    /// `SECURITY_REDIRECT_BASE_DOMAIN` and `SECURITY_REDIRECT_ALLOWED_SUBDOMAINS`: the hosts
    /// (`.` for the base domain itself) `next` may name besides this site.
    pub allowed_hosts: Vec<String>,
    pub views: Views,
    /// `SECURITY_CORS_ALLOWED_ORIGINS` (Latchkey's own): origins (`scheme://host[:port]`)
    /// whose scripts may call Latchkey with credentials; empty: no CORS answers.
    pub cors_allowed_origins: Vec<String>,
}

/// The `SECURITY_*_VIEW` keys of the mails' links (unset: Latchkey's own page).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Views {
    /// Where a login goes when no `next` was given (`SECURITY_POST_LOGIN_VIEW`; unset: `/`).
    pub post_login: Option<String>,
    /// Where a refused sign-in link goes in SPA mode (`SECURITY_LOGIN_ERROR_VIEW`).
    pub login_error: Option<String>,
    /// Where a logout goes (`SECURITY_POST_LOGOUT_VIEW`; unset: `/`).
    pub post_logout: Option<String>,
    /// Where a registration goes without `next` (`SECURITY_POST_REGISTER_VIEW`; unset:
    /// `post_login`).
    pub post_register: Option<String>,
    /// Where a password reset goes (`SECURITY_POST_RESET_VIEW`; unset: the login page).
    pub post_reset: Option<String>,
    /// Where a password change goes without `next` (`SECURITY_POST_CHANGE_VIEW`; unset:
    /// `post_login`).
    pub post_change: Option<String>,
    pub post_confirm: Option<String>,
    pub confirm_error: Option<String>,
    pub reset: Option<String>,
    pub reset_error: Option<String>,
    pub post_change_email: Option<String>,
    pub change_email_error: Option<String>,
    /// Where a two-factor setup (or switching it off) by a logged-in user goes
    /// (`SECURITY_TWO_FACTOR_POST_SETUP_VIEW`; unset: the setup page).
    pub two_factor_post_setup: Option<String>,
    /// Where a two-factor step without a login in the middle goes
    /// (`SECURITY_TWO_FACTOR_ERROR_VIEW`; unset: the login page).
    pub two_factor_error: Option<String>,
    /// Where a unified sign-in setup goes (`SECURITY_US_POST_SETUP_VIEW`; unset: the setup
    /// page).
    pub us_post_setup: Option<String>,
    /// Where a re-authentication goes without `next` (`SECURITY_POST_VERIFY_VIEW`; unset:
    /// `/`).
    pub post_verify: Option<String>,
    /// Where a refused re-authentication with a social login goes in SPA mode
    /// (`SECURITY_VERIFY_ERROR_VIEW`; unset: `/verify`).
    pub verify_error: Option<String>,
    /// Where a logged-in user without the role a page wants goes
    /// (`SECURITY_UNAUTHORIZED_VIEW`; unset: a 403 page).
    pub unauthorized: Option<String>,
    /// Where a login refused for an unconfirmed account goes, with its `email`
    /// (`SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW`; unset: the form again).
    pub requires_confirmation_error: Option<String>,
    /// Where a username change goes without `next` (`SECURITY_POST_CHANGE_USERNAME_VIEW`;
    /// unset: `post_login`).
    pub post_change_username: Option<String>,
}

pub(super) fn spa(src: &Source) -> Result<SpaSettings, ConfigError> {
    Ok(SpaSettings {
        csrf_cookie: csrf_cookie(src)?,
        csrf_header: header_name(src)?,
        cors_allowed_origins: cors_origins(src)?,
        ..redirects(src)?
    })
}

fn redirects(src: &Source) -> Result<SpaSettings, ConfigError> {
    let behaviour = src.get("SECURITY_REDIRECT_BEHAVIOR");
    let spa = match behaviour.map(str::to_ascii_lowercase).as_deref() {
        None => false,
        Some("spa") => true,
        Some(other) => {
            return Err(ConfigError::new(
                "SECURITY_REDIRECT_BEHAVIOR",
                format!("expected spa or nothing, got {other:?}"),
            ))
        }
    };
    let view = |key: &str| -> Result<Option<String>, ConfigError> {
        match src.get(key) {
            None => Ok(None),
            Some(v) if v.chars().any(|c| c.is_control() || c == '\\' || c == ' ') => Err(
                ConfigError::new(key, format!("expected a path or URL, got {v:?}")),
            ),
            Some(v)
                if v.starts_with('/') || v.starts_with("http://") || v.starts_with("https://") =>
            {
                Ok(Some(v.to_owned()))
            }
            Some(v) => Err(ConfigError::new(
                key,
                format!("expected a path such as /confirmed or an http(s) URL, got {v:?}"),
            )),
        }
    };
    let redirect_host = match src.get("SECURITY_REDIRECT_HOST") {
        None => None,
        Some(h)
            if h.chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) =>
        {
            Some(h.to_ascii_lowercase())
        }
        Some(h) => {
            return Err(ConfigError::new(
                "SECURITY_REDIRECT_HOST",
                format!("expected a host such as localhost:8081, got {h:?}"),
            ))
        }
    };
    let allowed_hosts = match src.get("SECURITY_REDIRECT_BASE_DOMAIN") {
        None => {
            let _ = src.list("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "");
            Vec::new()
        }
        Some(base) => src
            .list("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "")
            .into_iter()
            .map(|sub| match sub.as_str() {
                "." => base.to_ascii_lowercase(),
                _ => format!("{sub}.{base}").to_ascii_lowercase(),
            })
            .collect(),
    };
    Ok(SpaSettings {
        csrf_cookie: None,
        csrf_header: String::new(),
        cors_allowed_origins: Vec::new(),
        spa,
        redirect_host,
        allow_subdomains: src.flag("SECURITY_REDIRECT_ALLOW_SUBDOMAINS", false)?,
        allowed_hosts,
        views: Views {
            post_login: view("SECURITY_POST_LOGIN_VIEW")?,
            login_error: view("SECURITY_LOGIN_ERROR_VIEW")?,
            post_logout: view("SECURITY_POST_LOGOUT_VIEW")?,
            post_register: view("SECURITY_POST_REGISTER_VIEW")?,
            post_reset: view("SECURITY_POST_RESET_VIEW")?,
            post_change: view("SECURITY_POST_CHANGE_VIEW")?,
            post_confirm: view("SECURITY_POST_CONFIRM_VIEW")?,
            confirm_error: view("SECURITY_CONFIRM_ERROR_VIEW")?,
            reset: view("SECURITY_RESET_VIEW")?,
            reset_error: view("SECURITY_RESET_ERROR_VIEW")?,
            post_change_email: view("SECURITY_POST_CHANGE_EMAIL_VIEW")?,
            change_email_error: view("SECURITY_CHANGE_EMAIL_ERROR_VIEW")?,
            two_factor_post_setup: view("SECURITY_TWO_FACTOR_POST_SETUP_VIEW")?,
            two_factor_error: view("SECURITY_TWO_FACTOR_ERROR_VIEW")?,
            us_post_setup: view("SECURITY_US_POST_SETUP_VIEW")?,
            post_verify: view("SECURITY_POST_VERIFY_VIEW")?,
            verify_error: view("SECURITY_VERIFY_ERROR_VIEW")?,
            unauthorized: view("SECURITY_UNAUTHORIZED_VIEW")?,
            requires_confirmation_error: view("SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW")?,
            post_change_username: view("SECURITY_POST_CHANGE_USERNAME_VIEW")?,
        },
    })
}

fn cors_origins(src: &Source) -> Result<Vec<String>, ConfigError> {
    const KEY: &str = "SECURITY_CORS_ALLOWED_ORIGINS";
    let origins = src.list(KEY, "");
    for origin in &origins {
        let rest = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let valid = rest.is_some_and(|host| {
            !host.is_empty()
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        });
        if !valid {
            return Err(ConfigError::new(
                KEY,
                format!("expected origins such as http://localhost:8081 (no path, no *), got {origin:?}"),
            ));
        }
    }
    Ok(origins)
}

fn header_name(src: &Source) -> Result<String, ConfigError> {
    let name = src.text("SECURITY_CSRF_HEADER", "X-XSRF-Token");
    match is_token_name(name) {
        true => Ok(name.to_owned()),
        false => Err(ConfigError::new(
            "SECURITY_CSRF_HEADER",
            format!("expected a header name, got {name:?}"),
        )),
    }
}

/// A header name: letters, digits and `-` / `_`.
fn is_token_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `SECURITY_CSRF_COOKIE`: Flask-Security's dict of `set_cookie` arguments, as JSON
/// (`{"samesite": "Strict", "httponly": false, "secure": true}`). Flask-Security's old
/// `key` entry names the cookie when `SECURITY_CSRF_COOKIE_NAME` does not.
fn csrf_cookie(src: &Source) -> Result<Option<CsrfCookie>, ConfigError> {
    let refresh_each_request = src.flag("SECURITY_CSRF_COOKIE_REFRESH_EACH_REQUEST", false)?;
    // Its point is to be read by the page's scripts: nothing is refused.
    let readable = CookieAttributes {
        http_only: false,
        ..CookieAttributes::strict_http_only()
    };
    let open = Guard {
        http_only_because: None,
        same_site_because: None,
    };
    let (attributes, key) = cookie_dict::read(src, "SECURITY_CSRF_COOKIE", readable, open)?;
    let Some(name) = src
        .get("SECURITY_CSRF_COOKIE_NAME")
        .map(str::to_owned)
        .or(key)
    else {
        return Ok(None);
    };
    if !is_token_name(&name) {
        return Err(ConfigError::new(
            "SECURITY_CSRF_COOKIE_NAME",
            format!("expected letters, digits, - or _, got {name:?}"),
        ));
    }
    Ok(Some(CsrfCookie {
        name,
        attributes,
        refresh_each_request,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::CookieSameSite;
    use super::*;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<SpaSettings, ConfigError> {
        spa(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn nothing_set_means_no_cookie_and_no_spa() {
        let s = read(&[]).unwrap();
        assert_eq!(s.csrf_cookie, None);
        assert_eq!(s.csrf_header, "X-XSRF-Token");
        assert!(!s.spa);
        assert!(s.allowed_hosts.is_empty());
    }

    #[test]
    fn the_cookie_reads_flask_securitys_dict_as_json() {
        let s = read(&[
            ("SECURITY_CSRF_COOKIE_NAME", "XSRF-TOKEN"),
            (
                "SECURITY_CSRF_COOKIE",
                r#"{"samesite": "Lax", "httponly": false, "secure": true, "domain": "example.com"}"#,
            ),
        ])
        .unwrap();
        let cookie = s.csrf_cookie.unwrap();
        assert_eq!(cookie.name, "XSRF-TOKEN");
        assert_eq!(cookie.attributes.same_site, CookieSameSite::Lax);
        assert_eq!(cookie.attributes.secure, Some(true));
        assert_eq!(cookie.attributes.domain.as_deref(), Some("example.com"));
        let old = read(&[("SECURITY_CSRF_COOKIE", r#"{"key": "XSRF-TOKEN"}"#)]).unwrap();
        assert_eq!(
            old.csrf_cookie.unwrap().attributes.same_site,
            CookieSameSite::Strict
        );
        for bad in [
            r#"{"samesite": "sometimes"}"#,
            "samesite=Strict",
            r#"{"max_age": 1}"#,
        ] {
            let pairs = [
                ("SECURITY_CSRF_COOKIE_NAME", "XSRF-TOKEN"),
                ("SECURITY_CSRF_COOKIE", bad),
            ];
            assert!(read(&pairs).is_err(), "{bad}");
        }
    }

    #[test]
    fn spa_mode_reads_its_hosts_and_views() {
        let s = read(&[
            ("SECURITY_REDIRECT_BEHAVIOR", "spa"),
            ("SECURITY_REDIRECT_HOST", "localhost:8081"),
            ("SECURITY_REDIRECT_BASE_DOMAIN", "example.com"),
            ("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "app, ."),
            ("SECURITY_POST_CONFIRM_VIEW", "/confirmed"),
            ("SECURITY_RESET_VIEW", "https://app.example.com/reset"),
        ])
        .unwrap();
        assert!(s.spa);
        assert_eq!(s.redirect_host.as_deref(), Some("localhost:8081"));
        assert_eq!(s.allowed_hosts, ["app.example.com", "example.com"]);
        assert_eq!(s.views.post_confirm.as_deref(), Some("/confirmed"));
        let more = read(&[
            ("SECURITY_TWO_FACTOR_ERROR_VIEW", "/tf-error"),
            ("SECURITY_UNAUTHORIZED_VIEW", "https://app.example.com/no"),
        ])
        .unwrap();
        assert_eq!(more.views.two_factor_error.as_deref(), Some("/tf-error"));
        assert_eq!(
            more.views.unauthorized.as_deref(),
            Some("https://app.example.com/no")
        );
        assert!(read(&[("SECURITY_POST_VERIFY_VIEW", "verified")]).is_err());
        assert!(read(&[("SECURITY_REDIRECT_BEHAVIOR", "mpa")]).is_err());
        assert!(read(&[("SECURITY_POST_CONFIRM_VIEW", "javascript:alert(1)")]).is_err());
        assert!(read(&[("SECURITY_REDIRECT_HOST", "a/b")]).is_err());
        let cors = read(&[(
            "SECURITY_CORS_ALLOWED_ORIGINS",
            "http://localhost:8081, https://app.example.com",
        )])
        .unwrap();
        assert_eq!(
            cors.cors_allowed_origins,
            ["http://localhost:8081", "https://app.example.com"]
        );
        for bad in ["*", "localhost:8081", "http://app.example.com/", "https://"] {
            assert!(
                read(&[("SECURITY_CORS_ALLOWED_ORIGINS", bad)]).is_err(),
                "{bad}"
            );
        }
    }
}
