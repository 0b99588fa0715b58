//! Security headers on every answer (ASVS V14.4), `Cache-Control: no-store` on every page and
//! every answer that sets a session, no version banner, no CORS, and 5xx answers that show
//! a request id and never their cause (V7.4).

use crate::common;

use common::{content_type, new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::connection::SimpleConnection;
use reqwest::header::{HeaderMap, CACHE_CONTROL, SET_COOKIE};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const ALL_FEATURES: &[(&str, &str)] = &[
    ("SECURITY_CONFIRMABLE", "true"),
    ("SECURITY_RECOVERABLE", "true"),
    ("SECURITY_CHANGEABLE", "true"),
    ("SECURITY_TRACKABLE", "true"),
    ("SECURITY_LOGIN_WITHOUT_CONFIRMATION", "true"),
];

/// Every page the app serves, plus answers that are not pages.
const PATHS: &[&str] = &[
    "/",
    "/login",
    "/login?next=%2Fprofile",
    "/register",
    "/reset",
    "/reset/not-a-token",
    "/confirm",
    "/confirm/not-a-token",
    "/change",
    "/profile",
    "/premium",
    "/admin",
    "/sessions",
    "/verify",
    "/healthz",
    "/static/latchkey.css",
    "/no-such-page",
];

fn check(headers: &HeaderMap, what: &str, secure: bool) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{what}: no {name}"))
            .to_owned()
    };
    let csp = get("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "{what}: CSP {csp:?} lacks {directive}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{what}: {csp}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
    assert_eq!(get("referrer-policy"), "same-origin", "{what}");
    assert!(headers.get("server").is_none(), "{what}: a Server banner");
    assert!(
        !headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-")),
        "{what}: CORS headers"
    );
    assert_eq!(
        headers.get("strict-transport-security").is_some(),
        secure,
        "{what}: HSTS"
    );
    // A text answer names its character set; an API answer is never rendered as a page.
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("text/") {
        assert!(
            content_type.contains("charset=utf-8"),
            "{what}: Content-Type {content_type:?}"
        );
    }
    if content_type.starts_with("application/json") {
        assert_eq!(
            headers
                .get("content-disposition")
                .and_then(|v| v.to_str().ok()),
            Some("attachment; filename=\"api.json\""),
            "{what}"
        );
    }
    let is_static = what.contains("/static/");
    let no_store = headers.get(CACHE_CONTROL).is_some_and(|v| v == "no-store");
    if !is_static || headers.contains_key(SET_COOKIE) {
        assert!(
            no_store,
            "{what}: Cache-Control {:?}",
            headers.get(CACHE_CONTROL)
        );
    }
}

async fn sweep(app: &TestApp, c: &TestClient, who: &str, secure: bool) {
    for path in PATHS {
        let r = c.get(path).await;
        check(
            r.headers(),
            &format!("{who} GET {path} ({})", r.status()),
            secure,
        );
        let r = c.get_json(path).await;
        check(
            r.headers(),
            &format!("{who} GET {path} JSON ({})", r.status()),
            secure,
        );
    }
    let r = c.http.head(app.url("/login")).send().await.unwrap();
    check(r.headers(), &format!("{who} HEAD /login"), secure);
    let r = c.post_form("/logout", &[]).await;
    check(
        r.headers(),
        &format!("{who} POST /logout without CSRF ({})", r.status()),
        secure,
    );
    let r = c.http.delete(app.url("/login")).send().await.unwrap();
    check(
        r.headers(),
        &format!("{who} DELETE /login ({})", r.status()),
        secure,
    );
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app_with(ALL_FEATURES).await;
    let email = new_email("headers");
    app.create_user(&email, PASSWORD).await;
    sweep(&app, &app.client(), "anonymous", false).await;
    let user = app.logged_in_client(&email, PASSWORD, true).await;
    sweep(&app, &user, "logged in", false).await;

    // Answers to forms, among them those that set a session (login, logout).
    let c = app.client();
    let r = c.login(&email, "wrong-password-1", false).await;
    check(r.headers(), "failed login", false);
    for r in [c.login(&email, PASSWORD, true).await, c.logout().await] {
        assert!(r.headers().contains_key(SET_COOKIE));
        check(r.headers(), "answer setting a cookie", false);
    }
    // A throttled attempt too.
    let mut last = None;
    for _ in 0..7 {
        last = Some(c.login(&email, "wrong-password-1", false).await);
    }
    let r = last.unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    check(r.headers(), "429", false);
}

#[actix_web::test]
async fn secure_cookies_bring_strict_transport_security() {
    let app = spawn_app_with(&[("SESSION_COOKIE_SECURE", "true")]).await;
    sweep(&app, &app.client(), "anonymous", true).await;
}

#[actix_web::test]
async fn static_files_may_be_cached_pages_may_not() {
    let app = spawn_app_with(&[]).await;
    let r = app.get("/static/latchkey.css").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r
        .headers()
        .get(CACHE_CONTROL)
        .is_none_or(|v| v != "no-store"));
    let r = app.get("/").await;
    assert_eq!(r.headers().get(CACHE_CONTROL).unwrap(), "no-store");
}

fn request_id(r: &Response) -> String {
    r.headers()
        .get("x-request-id")
        .expect("X-Request-Id")
        .to_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn a_server_error_shows_a_request_id_and_never_its_cause() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("broken");
    app.create_user(&email, PASSWORD).await;
    // Break the database under the running app: the next login cannot count its attempt.
    app.db()
        .batch_execute("DROP TABLE auth_attempt")
        .expect("drop auth_attempt");

    let c = app.client();
    let r = c.login(&email, PASSWORD, false).await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    check(r.headers(), "500", false);
    let id = request_id(&r);
    let page = r.text().await.unwrap();
    assert!(page.contains(&id), "the page names the request id: {page}");
    for leak in [
        "auth_attempt",
        "no such table",
        "does not exist",
        "diesel",
        "Database",
    ] {
        assert!(!page.contains(leak), "the page leaks {leak:?}: {page}");
    }

    let csrf = c.json_csrf_token().await;
    let r = c
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(content_type(&r).starts_with("application/json"));
    let id = request_id(&r);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["meta"]["request_id"], id.as_str());
    assert_eq!(j["response"]["errors"][0], "Internal Server Error");
    // The server still answers.
    assert_eq!(app.get("/").await.status(), StatusCode::OK);
}
