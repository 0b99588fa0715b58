//! Single-page apps, as Flask-Security serves them: the CSRF cookie a script reads and sends
//! back in `X-XSRF-Token` (`SECURITY_CSRF_COOKIE_NAME`, `SECURITY_CSRF_COOKIE`,
//! `SECURITY_CSRF_HEADER`), and `SECURITY_REDIRECT_BEHAVIOR=spa`, where the links of the mails
//! redirect to the app's own views with their outcome in the query string.

use crate::common;

use common::{new_email, set_cookie, set_cookies, spawn_app, spawn_app_with, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

const COOKIE: &str = "XSRF-TOKEN";
const WITH_COOKIE: &[(&str, &str)] = &[("SECURITY_CSRF_COOKIE_NAME", COOKIE)];

/// POSTs `body` as JSON with `token` in `X-XSRF-Token`.
async fn post_xsrf(
    client: &common::TestClient,
    path: &str,
    body: &Value,
    token: &str,
) -> reqwest::Response {
    client
        .http
        .post(client.url(path))
        .header("Accept", "application/json")
        .header("X-XSRF-Token", token)
        .json(body)
        .send()
        .await
        .expect("POST")
}

#[actix_web::test]
async fn a_script_reads_the_csrf_cookie_and_sends_it_in_x_xsrf_token() {
    let app = spawn_app_with(WITH_COOKIE).await;
    let email = new_email("xsrf");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    // The JSON GET of the login form sets the cookie: readable by scripts, SameSite=Strict.
    let r = client.get_json("/login").await;
    let cookie = set_cookie(r.headers(), COOKIE).expect("the CSRF cookie");
    assert_ne!(cookie.http_only(), Some(true), "scripts must read it");
    assert_eq!(
        cookie.same_site(),
        Some(actix_web::cookie::SameSite::Strict)
    );
    assert_eq!(cookie.path(), Some("/"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["response"]["csrf_token"], json!(cookie.value()));
    let before = client.cookie(COOKIE).expect("the browser keeps it");

    let r = post_xsrf(
        &client,
        "/login",
        &json!({"email": email, "password": PASSWORD}),
        &before,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(client.is_authenticated().await);
    // The login gave the session a new token, and the cookie follows it.
    let after = client.cookie(COOKIE).expect("the cookie after login");
    assert_ne!(after, before);

    // A protected call with the old token is refused; with the cookie's new one it works.
    let r = post_xsrf(&client, "/logout", &json!({}), &before).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(client.is_authenticated().await);
    let r = post_xsrf(&client, "/logout", &json!({}), &after).await;
    assert_eq!(r.status(), StatusCode::OK);
    let removal = set_cookie(r.headers(), COOKIE).expect("logout clears the cookie");
    assert_eq!(removal.value(), "");
    assert!(client.cookie(COOKIE).is_none(), "the browser dropped it");
    assert!(!client.is_authenticated().await);
}

#[actix_web::test]
async fn a_wrong_x_xsrf_token_is_refused_with_a_json_400() {
    let app = spawn_app_with(WITH_COOKIE).await;
    let email = new_email("xsrf-wrong");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    client.get_json("/login").await;
    assert!(client.cookie(COOKIE).is_some());

    for token in ["", "bogus", &app.client().json_csrf_token().await] {
        let r = post_xsrf(
            &client,
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            token,
        )
        .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{token:?}");
        let body: Value = r.json().await.expect("a JSON answer");
        assert_eq!(body["meta"]["code"], json!(400), "{body}");
        assert!(!client.is_authenticated().await);
    }
}

#[actix_web::test]
async fn no_csrf_cookie_without_the_setting_but_the_header_still_counts() {
    let app = spawn_app().await;
    let email = new_email("no-xsrf");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    let r = client.get_json("/login").await;
    assert!(set_cookie(r.headers(), COOKIE).is_none());
    let token = r.json::<Value>().await.unwrap()["response"]["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Flask-Security always adds SECURITY_CSRF_HEADER to the headers the token may come in.
    let r = post_xsrf(
        &client,
        "/login",
        &json!({"email": email, "password": PASSWORD}),
        &token,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let names: Vec<String> = set_cookies(r.headers())
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    assert!(!names.iter().any(|n| n == COOKIE), "{names:?}");
    assert!(client.cookie(COOKIE).is_none());
}

#[actix_web::test]
async fn the_cookie_follows_the_configured_attributes_header_and_refresh() {
    let app = spawn_app_with(&[
        ("SECURITY_CSRF_COOKIE_NAME", "csrf-cookie"),
        (
            "SECURITY_CSRF_COOKIE",
            r#"{"samesite": "Lax", "httponly": false, "secure": false, "path": "/"}"#,
        ),
        ("SECURITY_CSRF_HEADER", "X-My-Csrf"),
        ("SECURITY_CSRF_COOKIE_REFRESH_EACH_REQUEST", "true"),
    ])
    .await;
    let email = new_email("xsrf-custom");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();

    let first = client.get_json("/login").await;
    let cookie = set_cookie(first.headers(), "csrf-cookie").expect("the cookie");
    assert_eq!(cookie.same_site(), Some(actix_web::cookie::SameSite::Lax));
    // Refreshed with every answer, not only when the token changes.
    let second = client.get_json("/login").await;
    let again = set_cookie(second.headers(), "csrf-cookie").expect("sent again");
    assert_eq!(again.value(), cookie.value());

    let r = client
        .http
        .post(client.url("/login"))
        .header("Accept", "application/json")
        .header("X-My-Csrf", cookie.value())
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(client.is_authenticated().await);
}
