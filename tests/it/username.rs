//! `SECURITY_USERNAME_ENABLE`: an optional username, usable instead of the email to log in.

use crate::common;

use common::{assert_form_rejected, form_errors, new_email, spawn_app_with, TestApp, PASSWORD};
use reqwest::StatusCode;

async fn app_with_usernames() -> TestApp {
    spawn_app_with(&[("SECURITY_USERNAME_ENABLE", "true")]).await
}

fn new_username() -> String {
    format!("user{}", common::random_hex(4))
}

async fn register_with_username(app: &TestApp, email: &str, username: &str) -> reqwest::Response {
    app.client()
        .submit(
            "/register",
            &[
                ("email", email),
                ("username", username),
                ("password", PASSWORD),
                ("password_confirm", PASSWORD),
            ],
        )
        .await
}

#[actix_web::test]
async fn the_forms_ask_for_a_username_and_the_api_names_it() {
    let app = app_with_usernames().await;

    let register = app.get("/register").await.text().await.unwrap();
    assert!(register.contains("name=\"username\""), "{register}");
    let j: serde_json::Value = app.get_json("/login").await.json().await.unwrap();
    assert_eq!(
        j["response"]["identity_attributes"],
        serde_json::json!(["email", "username"])
    );
}

#[actix_web::test]
async fn a_user_logs_in_with_their_username_in_any_case() {
    let app = app_with_usernames().await;
    let email = new_email("named");
    let username = new_username();
    let r = register_with_username(&app, &email, &username).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        app.user(&email).username.as_deref(),
        Some(username.as_str())
    );

    for identity in [username.clone(), username.to_uppercase(), email.clone()] {
        let browser = app.client();
        let r = browser.login(&identity, PASSWORD, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{identity}");
        assert!(browser.is_authenticated().await, "{identity}");
    }
}

#[actix_web::test]
async fn a_taken_username_is_refused() {
    let app = app_with_usernames().await;
    let username = new_username();
    register_with_username(&app, &new_email("first"), &username).await;

    let r = register_with_username(&app, &new_email("second"), &username.to_uppercase()).await;

    let body = assert_form_rejected(r).await;
    assert!(
        form_errors(&body)
            .iter()
            .any(|e| e.ends_with("is already associated with an account.")),
        "{:?}",
        form_errors(&body)
    );
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn usernames_follow_the_rules() {
    let app = app_with_usernames().await;
    for bad in ["abc", "has space", "a@b", &"x".repeat(33)] {
        let email = new_email("badname");

        let r = register_with_username(&app, &email, bad).await;

        let body = assert_form_rejected(r).await;
        assert!(!form_errors(&body).is_empty(), "{bad:?}");
        assert!(app.find_user(&email).is_none(), "{bad:?}");
    }
}

#[actix_web::test]
async fn without_the_feature_a_username_cannot_log_in() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("plain");
    app.create_user(&email, PASSWORD).await;

    let r = app.login("someusername", PASSWORD, false).await;

    let body = assert_form_rejected(r).await;
    assert_eq!(
        form_errors(&body),
        vec!["Specified user does not exist".to_owned()]
    );
}
