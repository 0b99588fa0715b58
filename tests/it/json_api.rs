//! The JSON API (BEHAVIOUR.md §8): the same endpoints, answered in Flask-Security's
//! `{"meta": {"code": …}, "response": {…}}` envelope.

use crate::common;

use common::{assert_json_error, content_type, new_email, spawn_app, TestApp, PASSWORD};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn json_of(r: reqwest::Response) -> Value {
    assert!(
        content_type(&r).starts_with("application/json"),
        "{}",
        content_type(&r)
    );
    r.json().await.expect("JSON body")
}

/// Logs `email` in through the API in a new client; returns it with its token.
async fn api_login(app: &TestApp, email: &str) -> (common::TestClient, String) {
    let client = app.client();
    let r = client.login_json(email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = client.json_csrf_token().await;
    (client, token)
}

#[actix_web::test]
async fn get_login_gives_a_csrf_token_and_the_identity_attributes() {
    let app = spawn_app().await;

    let r = app.get_json("/login").await;

    assert_eq!(r.status(), StatusCode::OK);
    let j = json_of(r).await;
    assert_eq!(j["meta"]["code"], 200);
    assert!(j["response"]["csrf_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
    assert_eq!(j["response"]["identity_attributes"], json!(["email"]));
    assert!(j["response"].get("user").is_none(), "{j}");
}

#[actix_web::test]
async fn get_register_gives_a_csrf_token() {
    let app = spawn_app().await;

    let j = json_of(app.get_json("/register").await).await;

    assert_eq!(j["meta"]["code"], 200);
    assert!(j["response"]["csrf_token"]
        .as_str()
        .is_some_and(|t| !t.is_empty()));
}

#[actix_web::test]
async fn logging_in_answers_with_the_token_and_a_user() {
    let app = spawn_app().await;
    let email = new_email("api-login");
    app.create_user(&email, PASSWORD).await;
    let token = app.json_csrf_token().await;

    let r = app
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(common::set_cookie(r.headers(), "session").is_some());
    assert!(common::set_cookie(r.headers(), "remember_token").is_none());
    let j = json_of(r).await;
    assert_eq!(j["meta"]["code"], 200);
    assert!(j["response"]["csrf_token"].is_string(), "{j}");
    assert!(j["response"]["user"].is_object(), "{j}");
    assert!(app.is_authenticated().await);
    // Logged in, GET /login also shows the user.
    let j = json_of(app.get_json("/login").await).await;
    assert!(j["response"]["user"].is_object(), "{j}");
}

#[actix_web::test]
async fn logging_in_with_remember_sets_the_remember_cookie() {
    let app = spawn_app().await;
    let email = new_email("api-remember");
    app.create_user(&email, PASSWORD).await;
    let token = app.json_csrf_token().await;

    let r = app
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "remember": true}),
            Some(&token),
        )
        .await;

    assert_eq!(r.status(), StatusCode::OK);
    assert!(app.cookie("remember_token").is_some());
}

#[actix_web::test]
async fn login_errors_name_the_field() {
    let app = spawn_app().await;
    let email = new_email("api-errors");
    app.create_user(&email, PASSWORD).await;
    for (body, field, message) in [
        (
            json!({"email": email, "password": "wrong-password-1"}),
            "password",
            "Invalid password",
        ),
        (
            json!({"email": new_email("nobody"), "password": PASSWORD}),
            "email",
            "Specified user does not exist",
        ),
        (json!({"password": PASSWORD}), "email", "Email not provided"),
    ] {
        let client = app.client();
        let token = client.json_csrf_token().await;

        let r = client.post_json("/login", &body, Some(&token)).await;

        let j = assert_json_error(r, 400).await;
        assert_eq!(
            j["response"]["field_errors"][field],
            json!([message]),
            "{j}"
        );
        assert!(j["response"]["errors"]
            .as_array()
            .unwrap()
            .contains(&json!(message)));
        assert!(!client.is_authenticated().await);
    }
}

#[actix_web::test]
async fn registering_answers_with_a_user_and_logs_in() {
    let app = spawn_app().await;
    let email = new_email("api-register");
    let token = app.json_csrf_token().await;

    let r = app
        .post_json(
            "/register",
            &json!({"email": email, "password": PASSWORD, "password_confirm": PASSWORD}),
            Some(&token),
        )
        .await;

    assert_eq!(r.status(), StatusCode::OK);
    let j = json_of(r).await;
    assert_eq!(j["meta"]["code"], 200);
    assert!(j["response"]["user"].is_object(), "{j}");
    assert!(j["response"]["csrf_token"].is_string(), "{j}");
    assert!(app.is_authenticated().await);
    assert!(app.find_user(&email).is_some());
}

#[actix_web::test]
async fn registration_errors_name_the_field() {
    let app = spawn_app().await;
    let taken = new_email("taken");
    app.create_user(&taken, PASSWORD).await;
    let fresh = || new_email("api-reg");
    let cases = [
        (
            json!({"email": taken, "password": PASSWORD, "password_confirm": PASSWORD}),
            "email",
        ),
        (
            json!({"email": fresh(), "password": "short", "password_confirm": "short"}),
            "password",
        ),
        (
            json!({"email": fresh(), "password": PASSWORD, "password_confirm": "other-pass-1"}),
            "password_confirm",
        ),
        (
            json!({"email": fresh(), "password": PASSWORD}),
            "password_confirm",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD, "password_confirm": PASSWORD}),
            "email",
        ),
    ];
    for (body, field) in cases {
        let client = app.client();
        let token = client.json_csrf_token().await;

        let r = client.post_json("/register", &body, Some(&token)).await;

        let j = assert_json_error(r, 400).await;
        let messages = j["response"]["field_errors"][field].as_array();
        assert!(messages.is_some_and(|m| !m.is_empty()), "{field}: {j}");
        assert!(!client.is_authenticated().await);
    }
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn logging_out_answers_with_an_empty_response() {
    let app = spawn_app().await;
    let email = new_email("api-logout");
    app.create_user(&email, PASSWORD).await;
    let (client, token) = api_login(&app, &email).await;

    let r = client.post_json("/logout", &json!({}), Some(&token)).await;

    assert_eq!(r.status(), StatusCode::OK);
    let j = json_of(r).await;
    assert_eq!(j, json!({"meta": {"code": 200}, "response": {}}));
    assert!(!client.is_authenticated().await);
}

#[actix_web::test]
async fn anonymous_api_clients_get_401_on_protected_pages() {
    let app = spawn_app().await;
    for path in ["/profile", "/premium"] {
        let r = app.get_json(path).await;

        let j = assert_json_error(r, 401).await;
        assert_eq!(
            j["response"]["errors"],
            json!(["You must sign in to view this resource."])
        );
    }
}

#[actix_web::test]
async fn the_profile_answers_with_the_user_but_never_secrets() {
    let app = spawn_app().await;
    let email = new_email("api-profile");
    app.create_user(&email, PASSWORD).await;
    let (client, _) = api_login(&app, &email).await;

    let r = client.get_json("/profile").await;

    assert_eq!(r.status(), StatusCode::OK);
    let j = json_of(r).await;
    assert_eq!(j["response"]["user"]["email"], json!(email));
    let text = j.to_string();
    let row = app.user(&email);
    assert!(!text.contains(row.password_hash().unwrap()), "{text}");
    assert!(!text.contains(&row.fs_uniquifier), "{text}");
}

#[actix_web::test]
async fn premium_is_403_for_a_regular_api_client_and_200_for_a_premium_one() {
    let app = spawn_app().await;
    let email = new_email("api-premium");
    app.create_user(&email, PASSWORD).await;
    let (client, _) = api_login(&app, &email).await;

    assert_json_error(client.get_json("/premium").await, 403).await;

    app.set_premium(&email, true);
    let r = client.get_json("/premium").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(json_of(r).await["meta"]["code"], 200);
}

#[actix_web::test]
async fn the_home_page_answers_json_with_the_user_or_null() {
    let app = spawn_app().await;
    let email = new_email("api-home");
    app.create_user(&email, PASSWORD).await;

    let j = json_of(app.get_json("/").await).await;
    assert_eq!(j["response"]["user"], Value::Null, "{j}");

    let (client, _) = api_login(&app, &email).await;
    let j = json_of(client.get_json("/").await).await;
    assert_eq!(j["response"]["user"]["email"], json!(email), "{j}");
}
