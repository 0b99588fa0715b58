//! Session control (ASVS V3): the "Your sessions" page (HTML and JSON) and its sign-outs,
//! idle and absolute timeouts, re-authentication before sensitive changes (`/verify`,
//! freshness), a new login id on every privilege change, and `__Host-` cookies in
//! production.

use crate::common;

use std::time::Duration;

use common::{
    csrf_from_html, flashes, form_errors, location, new_email, set_cookie, spawn_app_with, TestApp,
    TestClient, PASSWORD,
};
use diesel::prelude::*;
use latchkey::db::schema::login_session;
use reqwest::header::{ACCEPT, USER_AGENT};
use reqwest::StatusCode;
use serde_json::{json, Value};

const NEW_PASSWORD: &str = "brand-new-pass-42";

/// The ids of the user's logins, from the database.
fn login_ids(app: &TestApp, email: &str) -> Vec<String> {
    let user = app.user(email);
    let mut ids: Vec<String> = login_session::table
        .filter(login_session::user_id.eq(user.id))
        .select(login_session::id)
        .load(&mut app.db())
        .unwrap();
    ids.sort();
    ids
}

/// A browser that logged in as `email` with its own User-Agent.
async fn browser(app: &TestApp, agent: &str, email: &str, remember: bool) -> TestClient {
    let c = app.client_as(agent);
    let r = c.login(email, PASSWORD, remember).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    c
}

async fn sessions_json(c: &TestClient) -> Vec<Value> {
    let r = c.get_json("/sessions").await;
    assert_eq!(r.status(), StatusCode::OK);
    let j: Value = r.json().await.unwrap();
    j["response"]["sessions"].as_array().unwrap().clone()
}

#[actix_web::test]
async fn the_sessions_page_lists_live_logins_and_remembered_devices() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("sessions");
    app.create_user(&email, PASSWORD).await;
    let laptop = browser(&app, "Laptop-Browser/1.0", &email, false).await;
    let _phone = browser(&app, "Phone-Browser/2.0", &email, true).await;

    let page = laptop.get("/sessions").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = common::unescape_html(&page.text().await.unwrap());
    assert!(
        html.contains("Laptop-Browser/1.0") && html.contains("Phone-Browser/2.0"),
        "{html}"
    );
    assert!(html.contains("this browser"));
    assert!(html.contains("Remembered on this device until"));
    assert!(html.contains("Sign out all other sessions"));

    let list = sessions_json(&laptop).await;
    // registration logged in too (no remember-me): that browser is a live login as well.
    assert_eq!(list.len(), 3, "{list:?}");
    let current: Vec<&Value> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop-Browser/1.0");
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for s in &list {
        for field in ["handle", "created_at", "last_seen_at", "remembered"] {
            assert!(!s[field].is_null(), "{field} in {s}");
        }
    }
    let phone = list
        .iter()
        .find(|s| s["user_agent"] == "Phone-Browser/2.0")
        .unwrap();
    assert_eq!(phone["remembered"], true);
    assert!(phone["remembered_until"].is_string());
    // Login ids are bearer secrets: the page never shows them.
    let body = serde_json::to_string(&list).unwrap();
    for id in login_ids(&app, &email) {
        assert!(!body.contains(&id) && !html.contains(&id));
    }
    // Anonymous: to the login page (HTML) or 401 (JSON).
    let anonymous = app.client();
    assert_eq!(
        location(&anonymous.get("/sessions").await).as_deref(),
        Some("/login?next=/sessions")
    );
    assert_eq!(
        anonymous.get_json("/sessions").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn signing_out_one_session_from_the_page_ends_it_everywhere() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("revoke");
    app.create_user(&email, PASSWORD).await;
    let laptop = browser(&app, "Laptop/1", &email, false).await;
    let phone = browser(&app, "Phone/1", &email, true).await;
    let list = sessions_json(&laptop).await;
    let handle = list.iter().find(|s| s["user_agent"] == "Phone/1").unwrap()["handle"]
        .as_str()
        .unwrap()
        .to_owned();

    // HTML form; without a CSRF token nothing happens.
    let r = laptop
        .post_form("/sessions/revoke", &[("session", &handle)])
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(phone.is_authenticated().await);
    let token = laptop.csrf_token("/sessions").await;
    let r = laptop
        .post_form(
            "/sessions/revoke",
            &[("session", &handle), ("csrf_token", &token)],
        )
        .await;
    let page = laptop.follow(r, "/sessions").await;
    assert!(
        flashes(&page).contains(&"You signed out of that session.".to_owned()),
        "{page}"
    );
    assert!(
        !phone.is_authenticated().await,
        "session and remember-me cookie both dead"
    );
    assert!(laptop.is_authenticated().await);

    // Someone else's handle (or nonsense) ends nothing.
    let other = new_email("other");
    app.create_user(&other, PASSWORD).await;
    let theirs = browser(&app, "Theirs/1", &other, false).await;
    let their_handle = sessions_json(&theirs).await[0]["handle"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = laptop
        .post_form(
            "/sessions/revoke",
            &[("session", &their_handle), ("csrf_token", &token)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(theirs.is_authenticated().await);

    // JSON, signing out this very browser: it is logged out.
    let csrf = laptop.json_csrf_token().await;
    let mine = sessions_json(&laptop).await;
    let mine = mine.iter().find(|s| s["current"] == true).unwrap()["handle"].clone();
    let r = laptop
        .post_json("/sessions/revoke", &json!({"session": mine}), Some(&csrf))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!laptop.is_authenticated().await);
}

#[actix_web::test]
async fn signing_out_all_others_keeps_only_this_browser() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("others");
    app.create_user(&email, PASSWORD).await;
    let a = browser(&app, "A/1", &email, true).await;
    let b = browser(&app, "B/1", &email, true).await;
    let c = browser(&app, "C/1", &email, false).await;

    let csrf = a.json_csrf_token().await;
    let r = a
        .post_json("/sessions/revoke-others", &json!({}), Some(&csrf))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let j: Value = r.json().await.unwrap();
    let left = j["response"]["sessions"].as_array().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["current"], true);
    assert!(a.is_authenticated().await);
    assert!(!b.is_authenticated().await && !c.is_authenticated().await);
    assert_eq!(login_ids(&app, &email).len(), 1);

    // The HTML form says how many.
    let d = browser(&app, "D/1", &email, false).await;
    let token = a.csrf_token("/sessions").await;
    let r = a
        .post_form("/sessions/revoke-others", &[("csrf_token", &token)])
        .await;
    let page = a.follow(r, "/sessions").await;
    assert!(
        flashes(&page).contains(&"You signed out of your other sessions (1).".to_owned()),
        "{page}"
    );
    assert!(!d.is_authenticated().await);
}

#[actix_web::test]
async fn an_idle_login_ends_unless_remembered() {
    let app = spawn_app_with(&[("SECURITY_SESSION_IDLE_TIMEOUT", "1 seconds")]).await;
    let email = new_email("idle");
    app.create_user(&email, PASSWORD).await;
    let plain = app.logged_in_client(&email, PASSWORD, false).await;
    let remembered = app.logged_in_client(&email, PASSWORD, true).await;
    let busy = app.logged_in_client(&email, PASSWORD, false).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            busy.is_authenticated().await,
            "activity keeps a login alive"
        );
    }
    assert!(!plain.is_authenticated().await, "idle for 1.2 s");
    assert!(
        remembered.is_authenticated().await,
        "remember-me outlives the idle timeout"
    );
}

#[actix_web::test]
async fn a_login_ends_at_the_absolute_timeout_however_active() {
    let app = spawn_app_with(&[("SECURITY_SESSION_ABSOLUTE_TIMEOUT", "1 seconds")]).await;
    let email = new_email("absolute");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let before = login_ids(&app, &email).len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.is_authenticated().await);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!c.is_authenticated().await);
    assert_eq!(
        login_ids(&app, &email).len(),
        before - 1,
        "the expired login is cleared"
    );
}

#[actix_web::test]
async fn a_stale_login_must_verify_the_password_before_changing_it() {
    let app = spawn_app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_FRESHNESS", "1 seconds"),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
    ])
    .await;
    let email = new_email("fresh");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    assert_eq!(
        c.get("/change").await.status(),
        StatusCode::OK,
        "fresh after login"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Page and API both ask to re-authenticate.
    let r = c.get("/change").await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fchange"));
    let r = c.get_json("/change").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let j: Value = r.json().await.unwrap();
    assert_eq!(j["response"]["reauth_required"], true);
    // A change sent anyway is not made.
    let token = c.csrf_token("/verify").await;
    let r = c
        .post_form(
            "/change",
            &[
                ("password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fchange"));

    let page = c.get("/verify?next=%2Fchange").await.text().await.unwrap();
    assert!(flashes(&page).contains(&"You must reauthenticate to access this endpoint".to_owned()));
    let token = csrf_from_html(&page).unwrap();
    let r = c
        .post_form(
            "/verify",
            &[
                ("password", "not-my-password"),
                ("next", "/change"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(form_errors(&r.text().await.unwrap()), ["Invalid password"]);
    let r = c
        .post_form(
            "/verify",
            &[
                ("password", PASSWORD),
                ("next", "/change"),
                ("csrf_token", &token),
            ],
        )
        .await;
    let page = c.follow(r, "/change").await;
    assert!(
        flashes(&page).contains(&"Reauthentication successful".to_owned()),
        "{page}"
    );
    assert!(page.contains("change_password_form"));

    let r = c.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(location(&r).as_deref(), Some("/"));

    // JSON: verify, then change.
    let api = app.logged_in_client(&email, NEW_PASSWORD, false).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let csrf = api.json_csrf_token().await;
    let r = api
        .post_json("/verify", &json!({"password": NEW_PASSWORD}), Some(&csrf))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(api.get_json("/change").await.status(), StatusCode::OK);
    // An off-site next is refused.
    let r = api
        .post_json(
            "/verify",
            &json!({"password": NEW_PASSWORD, "next": "https://evil.example/"}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_grace_period_keeps_an_open_change_form_usable() {
    let app = spawn_app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_FRESHNESS", "1 seconds"),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "1 hours"),
    ])
    .await;
    let email = new_email("grace");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let token = c.csrf_token("/change").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = c
        .post_form(
            "/change",
            &[
                ("password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("new_password_confirm", NEW_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/"));
}

#[actix_web::test]
async fn the_login_id_is_renewed_on_login_and_on_password_change() {
    let app = spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await;
    let email = new_email("renew");
    app.create_user(&email, PASSWORD).await;
    let before_login = login_ids(&app, &email);

    // An anonymous session cookie (as an attacker could plant) is not the one logged in.
    let c = app.client();
    let planted = {
        let r = c.get("/login").await;
        set_cookie(r.headers(), "session")
            .expect("session cookie")
            .value()
            .to_owned()
    };
    let r = c.login(&email, PASSWORD, false).await;
    let after_login = set_cookie(r.headers(), "session").expect("a new session cookie");
    assert_ne!(after_login.value(), planted);
    let fixed = app.client();
    fixed.set_cookie("session", &planted);
    assert!(
        !fixed.is_authenticated().await,
        "the planted cookie stays anonymous"
    );
    let first: Vec<String> = login_ids(&app, &email)
        .into_iter()
        .filter(|id| !before_login.contains(id))
        .collect();
    assert_eq!(first.len(), 1);

    // Logging in again replaces the login (the old cookie copy stops working).
    let copy = app.client();
    copy.set_cookie("session", &c.cookie("session").unwrap());
    assert!(copy.is_authenticated().await);
    let csrf = c.json_csrf_token().await;
    let r = c
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let second: Vec<String> = login_ids(&app, &email)
        .into_iter()
        .filter(|id| !before_login.contains(id))
        .collect();
    assert_eq!(second.len(), 1);
    assert_ne!(second, first);
    assert!(!copy.is_authenticated().await);
    assert!(c.is_authenticated().await);

    // A password change: a new login id, old cookie copies dead, this browser still in.
    let copy = app.client();
    copy.set_cookie("session", &c.cookie("session").unwrap());
    let r = c.change_password(PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let third = login_ids(&app, &email);
    assert_eq!(third.len(), 1, "every other login ended");
    assert_ne!(third, second);
    assert!(!copy.is_authenticated().await);
    assert!(c.is_authenticated().await);
}

/// An anonymous API session: its `__Host-session` cookie value and CSRF token. (A Secure
/// cookie is not sent back over plain HTTP, so the tests carry it by hand.)
async fn production_session(c: &TestClient, path: &str) -> (String, String) {
    let r = c.get_json(path).await;
    let headers = r.headers().clone();
    let Some(session) = set_cookie(&headers, "__Host-session") else {
        panic!(
            "no __Host-session: {} {}",
            r.status(),
            r.text().await.unwrap()
        );
    };
    assert_eq!(session.secure(), Some(true));
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.path(), Some("/"));
    assert_eq!(session.domain(), None);
    assert!(set_cookie(r.headers(), "session").is_none());
    let j: Value = r.json().await.unwrap();
    (
        session.value().to_owned(),
        j["response"]["csrf_token"].as_str().unwrap().to_owned(),
    )
}

async fn production_post(
    c: &TestClient,
    path: &str,
    (session, csrf): &(String, String),
    body: Value,
) -> reqwest::Response {
    c.http
        .post(c.url(path))
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, "test")
        .header("Cookie", format!("__Host-session={session}"))
        .header("X-CSRF-Token", csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn production_cookies_use_the_host_prefix_and_secure() {
    let app = spawn_app_with(&[("APP_ENV", "production"), ("SESSION_COOKIE_SECURE", "true")]).await;
    let email = new_email("prod");
    let c = app.client();
    let anonymous = production_session(&c, "/register").await;
    let r = production_post(
        &c,
        "/register",
        &anonymous,
        json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(set_cookie(r.headers(), "__Host-session").is_some());

    let c = app.client();
    let anonymous = production_session(&c, "/login").await;
    let r = production_post(
        &c,
        "/login",
        &anonymous,
        json!({"email": email, "password": PASSWORD, "remember": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let remember = set_cookie(r.headers(), "__Host-remember_token").expect("__Host-remember_token");
    assert_eq!(remember.secure(), Some(true));
    assert_eq!(remember.path(), Some("/"));
    assert_eq!(remember.domain(), None);
    assert!(set_cookie(r.headers(), "remember_token").is_none());
    assert!(r.headers().get("strict-transport-security").is_some());
}

#[actix_web::test]
async fn a_stale_login_must_verify_the_password_before_ending_other_sessions() {
    let app = spawn_app_with(&[
        ("SECURITY_FRESHNESS", "1 seconds"),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
    ])
    .await;
    let email = new_email("stale-sessions");
    app.create_user(&email, PASSWORD).await;
    let other = app.logged_in_client(&email, PASSWORD, false).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The list is still shown; ending sessions asks for the password first.
    let token = c.csrf_token("/sessions").await;
    let r = c
        .post_form("/sessions/revoke-others", &[("csrf_token", token.as_str())])
        .await;
    assert_eq!(location(&r).as_deref(), Some("/verify?next=%2Fsessions"));
    assert!(other.is_authenticated().await, "nothing was ended");

    let token = c.csrf_token("/verify").await;
    let r = c
        .post_form(
            "/verify?next=%2Fsessions",
            &[("password", PASSWORD), ("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(location(&r).as_deref(), Some("/sessions"));
    let token = c.csrf_token("/sessions").await;
    c.post_form("/sessions/revoke-others", &[("csrf_token", token.as_str())])
        .await;
    assert!(!other.is_authenticated().await, "ended after verifying");
    assert!(c.is_authenticated().await);
}

/// A browser whose remembered login was signed out from another one logs in again at the
/// first try: the login page it is shown keeps its CSRF token (the session it came with was
/// ended, not destroyed under the page being rendered).
#[actix_web::test]
async fn a_browser_signed_out_elsewhere_logs_in_at_the_first_try() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("first-try");
    app.create_user(&email, PASSWORD).await;
    for remember in [true, false] {
        let a = browser(&app, "A/1", &email, true).await;
        let b = browser(&app, "B/1", &email, remember).await;
        let csrf = a.json_csrf_token().await;
        let r = a
            .post_json("/sessions/revoke-others", &json!({}), Some(&csrf))
            .await;
        assert_eq!(r.status(), StatusCode::OK);

        // B's next request is the login form, then its post.
        let r = b.login(&email, PASSWORD, remember).await;
        assert_eq!(
            r.status(),
            StatusCode::FOUND,
            "remember={remember}: {}",
            r.text().await.unwrap_or_default()
        );
        assert!(b.is_authenticated().await);
    }
}
