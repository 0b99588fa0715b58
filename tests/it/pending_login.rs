//! A login whose first factor is proved and whose second factor is pending is not a login.
//! The pending state lives in the browser's encrypted session under a key of its own
//! (`web::pending::PENDING_LOGIN_KEY`); nothing that decides who is logged in reads it. The
//! test forges exactly such a session (it knows the app's `SECRET_KEY`) and tries every
//! door that needs a login.

use crate::common;

use std::collections::HashMap;

use actix_web::cookie::{Cookie, CookieJar, Key};
use common::{new_email, spawn_app_with, PASSWORD};
use latchkey::auth::signin::PendingLogin;
use latchkey::config::Secret;
use latchkey::crypto::derive_key;
use latchkey::web::pending::PENDING_LOGIN_KEY;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The session cookie the app would set for `entries` (actix-session's cookie store: a map
/// of JSON-encoded values, encrypted with the key derived from `SECRET_KEY`).
fn session_cookie(secret_key: &str, entries: &[(&str, String)]) -> String {
    let state: HashMap<&str, &String> = entries.iter().map(|(k, v)| (*k, v)).collect();
    let key = Key::from(&derive_key(&Secret::new(secret_key), "session-cookie"));
    let mut jar = CookieJar::new();
    jar.private_mut(&key).add(Cookie::new(
        "session",
        serde_json::to_string(&state).unwrap(),
    ));
    jar.get("session").expect("encrypted").value().to_owned()
}

#[actix_web::test]
async fn a_pending_second_factor_opens_no_page_that_needs_a_login() {
    let app = spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await;
    let email = new_email("halfway");
    app.create_user(&email, PASSWORD).await;
    let user = app.user(&email);
    // (Registering logged the account in, in a browser of its own.)
    let logins_before = app.count_login_sessions();
    let now = chrono::Utc::now().timestamp();
    let pending = PendingLogin::new(&user, true, Some("/profile".to_owned()), now);
    let planted = "planted-csrf-token-0123456789";
    let browser = app.client();
    browser.set_cookie(
        "session",
        &session_cookie(
            &app.secret_key,
            &[
                (PENDING_LOGIN_KEY, serde_json::to_string(&pending).unwrap()),
                ("csrf_token", serde_json::to_string(planted).unwrap()),
            ],
        ),
    );

    // The app reads this session (its CSRF token is the planted one)...
    assert_eq!(browser.json_csrf_token().await, planted);
    // ...and still sees nobody logged in.
    for page in [
        "/profile",
        "/sessions",
        "/verify",
        "/change",
        "/premium",
        "/admin",
    ] {
        let r = browser.get(page).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{page}");
        let to = common::location(&r).unwrap_or_default();
        assert!(to.starts_with("/login?next="), "{page} sent to {to}");
        let r = browser.get_json(page).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{page} (JSON)");
    }
    let r = browser
        .post_json(
            "/change",
            &json!({"password": PASSWORD, "new_password": "x-new-pass-77", "new_password_confirm": "x-new-pass-77"}),
            Some(planted),
        )
        .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = browser.get_json("/login").await;
    let body: Value = r.json().await.unwrap();
    assert!(body["response"].get("user").is_none(), "{body}");
    assert!(browser.cookie("remember_token").is_none());
    assert_eq!(
        app.count_login_sessions(),
        logins_before,
        "no login was recorded"
    );
}
