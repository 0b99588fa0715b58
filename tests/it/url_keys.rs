//! Flask-Security's `SECURITY_URL_PREFIX` and `SECURITY_*_URL` keys: with every route moved
//! (tests/conformance/moved-paths.env, which the conformance suite also runs under through a
//! path map), the app serves the moved paths only, and its pages, mails and redirects name
//! no default path.

use crate::common;
use crate::mail_support;

use common::{csrf_from_html, location, new_email, spawn_app_with, try_spawn_app_with, TestApp};
use mail_support::wait_for_eml;
use reqwest::StatusCode;

/// The keys of tests/conformance/moved-paths.env.
fn moved_keys() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/moved-paths.env"
    );
    std::fs::read_to_string(path)
        .expect("moved-paths.env")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l.split_once('=').expect("KEY=value");
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

async fn moved_app() -> TestApp {
    let keys = moved_keys();
    let mut config: Vec<(&str, &str)> =
        keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    config.extend([
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator"),
        (
            "SECURITY_TOTP_SECRETS",
            "a-totp-key-of-the-tests-0123456789",
        ),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_CHANGE_EMAIL", "true"),
    ]);
    spawn_app_with(&config).await
}

/// The host app's own pages keep their paths; everything else is Latchkey's, under the prefix.
const ROOT_PATHS: &[&str] = &[
    "/",
    "/profile",
    "/premium",
    "/admin",
    "/healthz",
    "/favicon.ico",
];

/// Every local address a page names (links, forms, scripts, styles): each must be one of
/// the host app's pages or under `/auth`.
fn stray_paths(html: &str) -> Vec<String> {
    let mut stray = Vec::new();
    for attr in ["href=\"", "action=\"", "src=\"", "formaction=\""] {
        for piece in html.split(attr).skip(1) {
            let value = piece.split('"').next().unwrap_or_default();
            if !value.starts_with('/') || value.starts_with("//") {
                continue;
            }
            let path = value.split(['?', '#']).next().unwrap_or_default();
            if !ROOT_PATHS.contains(&path) && !path.starts_with("/auth/") {
                stray.push(value.to_owned());
            }
        }
    }
    stray
}

#[actix_web::test]
async fn every_route_follows_its_key_and_the_prefix_and_no_page_or_mail_names_a_default_path() {
    let app = moved_app().await;
    // The default paths are not served; the moved ones are.
    for default in [
        "/login",
        "/register",
        "/reset",
        "/confirm",
        "/tf-setup",
        "/static/latchkey.css",
    ] {
        assert_eq!(
            app.get(default).await.status(),
            StatusCode::NOT_FOUND,
            "{default}"
        );
    }
    for moved in [
        "/auth/sign-in",
        "/auth/join",
        "/auth/pw-forgot",
        "/auth/mail-check",
        "/auth/code/sign-in",
        "/auth/keys/sign-in",
        "/auth/assets/latchkey.css",
    ] {
        assert_eq!(app.get(moved).await.status(), StatusCode::OK, "{moved}");
    }
    // A page asked for anonymously sends the browser to the moved login.
    let r = app.get("/profile").await;
    assert_eq!(location(&r).as_deref(), Some("/auth/sign-in?next=/profile"));

    let browser = app.client();
    let page = browser.get("/auth/join").await.text().await.unwrap();
    assert_eq!(stray_paths(&page), Vec::<String>::new(), "{page}");
    let csrf = csrf_from_html(&page).expect("the form's CSRF token");
    let email = new_email("moved");
    let r = browser
        .post_form(
            "/auth/join",
            &[
                ("csrf_token", &csrf),
                ("email", &email),
                ("password", common::PASSWORD),
                ("password_confirm", common::PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    // The confirmation mail links the moved path, under BASE_URL.
    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let link = mails[0].link("/auth/mail-check/");
    assert!(
        link.starts_with(&format!("{}/auth/mail-check/", app.address)),
        "{link}"
    );
    for kind in ["text/plain", "text/html"] {
        let part = mails[0].part(kind).expect(kind);
        assert!(
            !part.contains(&format!("{}/confirm", app.address)),
            "{part}"
        );
        assert!(!part.contains(&format!("{}/login", app.address)), "{part}");
    }
    let r = browser.get(&mails[0].link_path("/auth/mail-check/")).await;
    assert_eq!(r.status(), StatusCode::FOUND, "the link confirms");
    assert!(app.user(&email).confirmed_at.is_some());

    // Signed in at the moved login, every page of the account area names moved paths only.
    let page = browser.get("/auth/sign-in").await.text().await.unwrap();
    assert_eq!(stray_paths(&page), Vec::<String>::new(), "{page}");
    let csrf = csrf_from_html(&page).expect("the form's CSRF token");
    let r = browser
        .post_form(
            "/auth/sign-in",
            &[
                ("csrf_token", &csrf),
                ("email", &email),
                ("password", common::PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    for page_path in [
        "/profile",
        "/auth/sessions",
        "/auth/pw-change",
        "/auth/2fa/setup",
        "/auth/code/setup",
        "/auth/keys/add",
        "/auth/mail-change/",
    ] {
        let r = browser.get(page_path).await;
        assert_eq!(r.status(), StatusCode::OK, "{page_path}");
        let page = r.text().await.unwrap();
        assert_eq!(
            stray_paths(&page),
            Vec::<String>::new(),
            "{page_path}: {page}"
        );
    }
}

#[actix_web::test]
async fn a_path_that_cannot_be_served_or_is_taken_stops_the_start() {
    let taken_by_a_key = try_spawn_app_with(&[
        ("SECURITY_LOGIN_URL", "/in"),
        ("SECURITY_REGISTER_URL", "/in"),
    ])
    .await;
    let err = format!("{:#}", taken_by_a_key.err().expect("refused"));
    assert!(
        err.contains("SECURITY_LOGIN_URL") && err.contains("SECURITY_REGISTER_URL"),
        "{err}"
    );

    // Latchkey's own /sessions is under the prefix too: a key cannot take it.
    let taken_by_a_route = try_spawn_app_with(&[("SECURITY_LOGIN_URL", "/sessions")]).await;
    let err = format!("{:#}", taken_by_a_route.err().expect("refused"));
    assert!(
        err.contains("Login") && err.contains("Sessions") && err.contains("/sessions"),
        "{err}"
    );

    let not_a_path = try_spawn_app_with(&[("SECURITY_URL_PREFIX", "auth")]).await;
    let err = format!("{:#}", not_a_path.err().expect("refused"));
    assert!(err.contains("SECURITY_URL_PREFIX"), "{err}");
}
