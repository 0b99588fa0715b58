//! API tokens and refresh tokens over HTTP, on SQLite and (with
//! `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: Flask-Security's `?include_auth_token`,
//! `Authentication-Token` and `/refresh-token`, and where Latchkey is stricter: a token dies
//! at logout, password change, deactivation and `users reset-access`, is listed on the
//! sessions page (and revoked there), comes only after the second factor, and a replayed
//! refresh token revokes its whole family.

use crate::common;
use crate::mail_support;

use common::{
    assert_json_error, latchkey_command, new_email, set_cookies, spawn_app_with,
    try_spawn_app_with, TestApp, TestClient, PASSWORD,
};
use latchkey::auth::totp::code_at;
use reqwest::StatusCode;
use serde_json::{json, Value};

const HEADER: &str = "Authentication-Token";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SECURITY_API_ENABLED_METHODS", "session,token"),
        ("SECURITY_CHANGEABLE", "true"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

async fn account(app: &TestApp, tag: &str) -> String {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    email
}

/// Logs `client` in through the JSON API asking for a token; the whole answer.
async fn login_for_token(client: &TestClient, email: &str) -> Value {
    let token = client.json_csrf_token().await;
    let r = client
        .post_json(
            "/login?include_auth_token",
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    r.json().await.unwrap()
}

async fn token_for(app: &TestApp, email: &str) -> (TestClient, String) {
    let client = app.client();
    let body = login_for_token(&client, email).await;
    let token = body["response"]["user"]["authentication_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {body}"))
        .to_owned();
    (client, token)
}

async fn profile_with(app: &TestApp, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/profile", app.address))
        .header("Accept", "application/json")
        .header(HEADER, token)
        .send()
        .await
        .unwrap()
}

async fn works(app: &TestApp, token: &str) -> bool {
    let status = profile_with(app, token).await.status();
    assert!(
        status == StatusCode::OK || status == StatusCode::UNAUTHORIZED,
        "{status}"
    );
    status == StatusCode::OK
}

/// A JSON POST authenticated by the token alone: no cookies, no CSRF token.
async fn post_with_token(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}{path}", app.address))
        .header("Accept", "application/json")
        .header(HEADER, token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_token_authenticates_without_a_session_and_forgeries_get_401() {
    let app = app_with(&[]).await;
    let email = account(&app, "token").await;
    let plain = login_for_token(&app.client(), &email).await;
    assert!(plain["response"]["user"]["authentication_token"].is_string());
    // Without the query, no token (Flask-Security's shape: an empty user object).
    let r: Value = app
        .client()
        .login_json(&email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["response"]["user"], json!({}), "{r}");

    let (_, token) = token_for(&app, &email).await;
    let r = profile_with(&app, &token).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        set_cookies(r.headers())
            .iter()
            .all(|c| c.name() != "session"),
        "a token request must not start a browser session"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["user"]["email"], email.as_str());
    // The query parameter works too (SECURITY_TOKEN_AUTHENTICATION_KEY).
    let r = reqwest::Client::new()
        .get(format!("{}/profile?auth_token={token}", app.address))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let mut spliced = token.clone();
    spliced.replace_range(token.len() - 3.., "AAA");
    for bad in ["garbage", spliced.as_str(), "", &"x".repeat(5000)] {
        assert!(!works(&app, bad).await, "{bad}");
    }
}

#[actix_web::test]
async fn tokens_are_off_unless_the_api_methods_name_them() {
    let app = app_with(&[("SECURITY_API_ENABLED_METHODS", "session")]).await;
    let email = account(&app, "off").await;
    let body = login_for_token(&app.client(), &email).await;
    assert_eq!(body["response"]["user"], json!({}), "{body}");
    let err = try_spawn_app_with(&[("SECURITY_API_ENABLED_METHODS", "session,basic")])
        .await
        .err()
        .expect("basic is refused");
    assert!(
        format!("{err:#}").contains("SECURITY_API_ENABLED_METHODS"),
        "{err:#}"
    );
}

#[actix_web::test]
async fn logout_ends_the_token_issued_with_that_login_and_a_tokens_own_logout_ends_it() {
    let app = app_with(&[]).await;
    let email = account(&app, "logout").await;
    let (browser, token) = token_for(&app, &email).await;
    let (_, other) = token_for(&app, &email).await;
    assert!(works(&app, &token).await);

    let r = browser.post_json_via("/login", "/logout", &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        !works(&app, &token).await,
        "Flask-Security's shortfall: it survives"
    );
    assert!(
        works(&app, &other).await,
        "another login's token is not touched"
    );

    // A client holding only a token logs out with it: no cookie, no CSRF token needed.
    let r = post_with_token(&app, &other, "/logout", json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!works(&app, &other).await);
}

#[actix_web::test]
async fn a_password_change_deactivation_reset_access_and_email_change_end_tokens() {
    let app = app_with(&[("SECURITY_CHANGE_EMAIL", "true")]).await;
    let env = |app: &TestApp| {
        vec![
            ("DATABASE_URL", app.database_url.clone()),
            ("SECRET_KEY", app.secret_key.clone()),
            ("SECURITY_PASSWORD_SALT", app.salt.clone()),
        ]
    };
    let cli = |args: &[&str]| {
        let env = env(&app);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let dir = tempfile::tempdir().unwrap();
        let out = latchkey_command(dir.path(), &env)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", out);
    };

    // Password change, from a browser session.
    let email = account(&app, "changer").await;
    let (_, token) = token_for(&app, &email).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    let r = browser
        .change_password(PASSWORD, "another-long-passphrase")
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(!works(&app, &token).await);

    // Deactivation and reset-access, by the operator.
    for (tag, args) in [("deactivated", "deactivate"), ("reset", "reset-access")] {
        let email = account(&app, tag).await;
        let (_, token) = token_for(&app, &email).await;
        assert!(works(&app, &token).await);
        cli(&["users", args, &email]);
        assert!(!works(&app, &token).await, "{args}");
    }

    // A change of email (Flask-Security keeps the token; Latchkey ends every login).
    let email = account(&app, "mover").await;
    let (_, token) = token_for(&app, &email).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    let new = new_email("moved");
    let r = browser
        .post_json_via("/change-email", "/change-email", &json!({"email": new}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let link = mail_support::wait_for_eml(&app.mail_dir, &new, "Confirm your new email address", 1)
        .await[0]
        .link_path("/change-email/");
    assert_eq!(browser.get(&link).await.status(), StatusCode::FOUND);
    assert!(!works(&app, &token).await);
}

#[actix_web::test]
async fn the_sessions_page_lists_tokens_and_revokes_one_without_csrf_for_a_token() {
    let app = app_with(&[]).await;
    let email = account(&app, "listed").await;
    let (_, first) = token_for(&app, &email).await;
    let (_, second) = token_for(&app, &email).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;

    let page = browser.get("/sessions").await.text().await.unwrap();
    assert!(page.contains("API tokens"), "{page}");
    assert_eq!(
        page.matches("name=\"revoke_token_form\"").count(),
        2,
        "{page}"
    );
    assert!(
        !page.contains(&first) && !page.contains(&second),
        "never the token itself"
    );

    // The second token lists itself as the current one and revokes the first by handle.
    let list: Value = reqwest::Client::new()
        .get(format!("{}/sessions", app.address))
        .header("Accept", "application/json")
        .header(HEADER, &second)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let tokens = list["response"]["api_tokens"].as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2, "{list}");
    let other = tokens.iter().find(|t| t["current"] == false).unwrap();
    let r = post_with_token(
        &app,
        &second,
        "/sessions/revoke-token",
        json!({"token": other["handle"]}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!works(&app, &first).await);
    assert!(works(&app, &second).await);
    // An unknown handle is a 404, not a 500.
    let r = post_with_token(
        &app,
        &second,
        "/sessions/revoke-token",
        json!({"token": "nope"}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn token_requests_need_a_csrf_token_when_the_setting_says_so() {
    let app = app_with(&[("SECURITY_CSRF_PROTECT_MECHANISMS", "session,token")]).await;
    let email = account(&app, "csrf").await;
    let (_, token) = token_for(&app, &email).await;
    let r = post_with_token(&app, &token, "/logout", json!({})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(works(&app, &token).await);
}

#[actix_web::test]
async fn a_token_expires_after_its_max_age() {
    let app = app_with(&[("SECURITY_TOKEN_MAX_AGE", "1")]).await;
    let email = account(&app, "expiring").await;
    let (_, token) = token_for(&app, &email).await;
    assert!(works(&app, &token).await);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert!(!works(&app, &token).await);
}

#[actix_web::test]
async fn a_two_factor_user_gets_a_token_only_after_the_second_factor() {
    let app = app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "api-token-test-secret"),
    ])
    .await;
    let email = account(&app, "twofactor").await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    let key = common::set_up_authenticator(&browser).await;

    let client = app.client();
    let body = login_for_token(&client, &email).await;
    assert_eq!(body["response"]["tf_required"], true, "{body}");
    assert!(body["response"]["user"]
        .get("authentication_token")
        .is_none());
    // The setup used this time step's code; a code works once.
    let now = chrono::Utc::now().timestamp() as u64;
    let code = code_at(&key, now - 30);
    let r = client
        .post_json_via(
            "/tf-validate",
            "/tf-validate?include_auth_token",
            &json!({"code": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let token = body["response"]["user"]["authentication_token"]
        .as_str()
        .unwrap();
    assert!(works(&app, token).await);
}

async fn refresh(app: &TestApp, refresh_token: &str) -> (StatusCode, Value) {
    let r = app
        .client()
        .post_json_via(
            "/login",
            "/refresh-token",
            &json!({"refresh_token": refresh_token}),
        )
        .await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// An app with refresh tokens in the JSON body (not a cookie), and a fresh account's token
/// login answer.
async fn refresh_in_body(tag: &str) -> (TestApp, Value) {
    let app = app_with(&[
        ("SECURITY_REFRESH_TOKEN", "true"),
        ("SECURITY_REFRESH_TOKEN_COOKIE_NAME", ""),
    ])
    .await;
    let email = account(&app, tag).await;
    let body = login_for_token(&app.client(), &email).await;
    (app, body)
}

#[actix_web::test]
async fn a_refresh_token_rotates_and_a_replayed_one_revokes_its_family() {
    let (app, body) = refresh_in_body("refresher").await;
    let first_access = body["response"]["user"]["authentication_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first_refresh = body["response"]["user"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body) = refresh(&app, &first_refresh).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_access = body["response"]["user"]["authentication_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_refresh = body["response"]["user"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first_refresh, second_refresh);
    assert!(works(&app, &second_access).await);

    // Someone replays the first refresh token: the family dies, tokens and all.
    let (status, body) = refresh(&app, &first_refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("GEN_MISMATCH"), "{body}");
    assert!(!works(&app, &second_access).await);
    assert!(!works(&app, &first_access).await);
    let (status, body) = refresh(&app, &second_refresh).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.to_string().contains("REVOKED"), "{body}");

    // A forged or garbled one is refused without touching anything.
    for bad in ["", "x", "a.1.b", &second_refresh.replace(".2.", ".3.")] {
        let (status, _) = refresh(&app, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[actix_web::test]
async fn two_requests_with_one_refresh_token_get_one_new_pair() {
    let (app, body) = refresh_in_body("racer").await;
    let token = body["response"]["user"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answers = futures_util::future::join_all((0..4).map(|_| refresh(&app, &token))).await;
    let ok = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert!(ok <= 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "{answers:?}"
    );
}

#[actix_web::test]
async fn a_refresh_token_in_its_cookie_works_and_idles_out() {
    let app = app_with(&[
        ("SECURITY_REFRESH_TOKEN", "true"),
        ("SECURITY_REFRESH_TOKEN_MAX_IDLE", "1"),
    ])
    .await;
    let email = account(&app, "cookie").await;
    let client = app.client();
    let token = client.json_csrf_token().await;
    let r = client
        .post_json(
            "/login?include_auth_token",
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await;
    let cookie = set_cookies(r.headers())
        .into_iter()
        .find(|c| c.name() == "fs_refresh")
        .expect("the refresh cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    let body: Value = r.json().await.unwrap();
    assert!(
        body["response"]["user"].get("refresh_token").is_none(),
        "{body}"
    );

    let r = client
        .post_json_via("/login", "/refresh-token", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(1300)).await;
    let r = client
        .post_json_via("/login", "/refresh-token", &json!({}))
        .await;
    let body = assert_json_error(r, 400).await;
    assert!(body.to_string().contains("EXPIRED"), "{body}");
}

#[actix_web::test]
async fn issuing_and_revoking_tokens_are_security_events() {
    use diesel::prelude::*;
    use latchkey::db::schema::security_event;
    let app = app_with(&[]).await;
    let email = account(&app, "events").await;
    let (browser, _token) = token_for(&app, &email).await;
    let r = browser.post_json_via("/login", "/logout", &json!({})).await;
    assert_eq!(r.status(), StatusCode::OK);
    let events = app.events.clone();
    let drained =
        tokio::task::spawn_blocking(move || events.flush(std::time::Duration::from_secs(10)))
            .await
            .unwrap();
    assert!(drained);
    let user_id = app.user(&email).id;
    let rows: Vec<(String, Option<String>)> = security_event::table
        .filter(security_event::user_id.eq(user_id))
        .order(security_event::id.asc())
        .select((security_event::kind, security_event::detail))
        .load(&mut app.db())
        .unwrap();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    let issued = kinds.iter().position(|k| *k == "token_issued");
    let revoked = kinds.iter().position(|k| *k == "token_revoked");
    assert!(issued.is_some() && revoked > issued, "{rows:?}");
    assert!(
        rows.iter()
            .any(|(k, d)| k == "token_revoked" && d.as_deref() == Some("auth:logout")),
        "{rows:?}"
    );
}
