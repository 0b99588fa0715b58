//! Flask-Security's remaining flow keys (issue 26, item 4), each changed from its default and
//! observed: the username's lengths, the mail's parts, the reset mail, the login identities,
//! the logout methods, signing in after confirming or resetting, registering without a
//! password or its confirmation, and the two-factor validity cookie.

use crate::common;

use crate::mail_support;

use common::{new_email, spawn_app_with, try_spawn_app_with, TestApp, PASSWORD};
use mail_support::wait_for_eml;
use reqwest::StatusCode;
use serde_json::{json, Value};

/// A registration as JSON: the status and the field errors.
async fn register_json(app: &TestApp, fields: Value) -> (StatusCode, Value) {
    let c = app.client();
    let token = c.json_csrf_token().await;
    let r = c.post_json("/register", &fields, Some(&token)).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["response"]["field_errors"].clone())
}

async fn register_username(app: &TestApp, email: &str, username: &str) -> (StatusCode, Value) {
    register_json(
        app,
        json!({"email": email, "username": username, "password": PASSWORD,
               "password_confirm": PASSWORD}),
    )
    .await
}

#[actix_web::test]
async fn username_lengths_follow_the_keys_in_rules_hint_and_message() {
    // The defaults: 4 to 32.
    let app = spawn_app_with(&[("SECURITY_USERNAME_ENABLE", "true")]).await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("4 to 32 letters or digits."), "{page}");
    let (status, errors) = register_username(&app, "ab@example.com", "ab").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors["username"][0],
        "Username must be at least 4 characters and less than 32 characters"
    );

    // Changed: 2 to 6.
    let app = spawn_app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_USERNAME_MIN_LENGTH", "2"),
        ("SECURITY_USERNAME_MAX_LENGTH", "6"),
    ])
    .await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("2 to 6 letters or digits."), "{page}");
    let (status, _) = register_username(&app, "ab@example.com", "ab").await;
    assert_eq!(status, StatusCode::OK, "2 letters are enough now");
    let (status, errors) = register_username(&app, "long@example.com", "abcdefg").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        errors["username"][0],
        "Username must be at least 2 characters and less than 6 characters"
    );
    // The short username signs in.
    let c = app.client();
    let token = c.json_csrf_token().await;
    let r = c
        .post_json(
            "/login",
            &json!({"username": "ab", "password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
}

/// The welcome mail of a new registration, as written by the development transport.
async fn welcome_mail(app: &TestApp) -> mail_support::Received {
    let email = new_email("parts");
    let r = app.client().register(&email, PASSWORD).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    wait_for_eml(&app.mail_dir, &email, "Welcome", 1)
        .await
        .remove(0)
}

#[actix_web::test]
async fn mails_have_the_parts_the_keys_ask_for() {
    let mail = welcome_mail(&spawn_app_with(&[]).await).await;
    let content_type = mail.header("Content-Type").unwrap();
    assert!(content_type.starts_with("multipart/alternative"), "{content_type}");
    assert!(mail.part("text/plain").is_some() && mail.part("text/html").is_some());

    let mail = welcome_mail(&spawn_app_with(&[("SECURITY_EMAIL_HTML", "false")]).await).await;
    let content_type = mail.header("Content-Type").unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert!(mail.part("text/plain").unwrap().contains("Welcome"));
    assert!(!mail.data.contains("text/html"), "{}", mail.data);

    let mail = welcome_mail(&spawn_app_with(&[("SECURITY_EMAIL_PLAINTEXT", "false")]).await).await;
    let content_type = mail.header("Content-Type").unwrap();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(mail.part("text/html").unwrap().contains("<"));
    assert!(!mail.data.contains("text/plain"), "{}", mail.data);

    let refused = try_spawn_app_with(&[
        ("SECURITY_EMAIL_PLAINTEXT", "false"),
        ("SECURITY_EMAIL_HTML", "false"),
    ])
    .await
    .err()
    .expect("both parts off is refused at start-up")
    .to_string();
    assert!(
        refused.contains("SECURITY_EMAIL_PLAINTEXT and SECURITY_EMAIL_HTML cannot both be false"),
        "{refused}"
    );
}

/// Asks for a reset link for a new account; returns the reset mails that account got.
async fn forgot_password(app: &TestApp) -> Vec<mail_support::Received> {
    let email = new_email("forgot");
    app.create_user(&email, PASSWORD).await;
    let r = app.client().submit("/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(
        common::flashes(&page).contains(&format!(
            "Instructions to reset your password have been sent to {email}."
        )),
        "the answer is the same either way: {page}"
    );
    app.mail_settled().await;
    mail_support::eml_messages_to(&app.mail_dir, &email, "Password reset instructions")
}

#[actix_web::test]
async fn without_send_password_reset_email_no_reset_mail_is_sent() {
    let app = spawn_app_with(&[("SECURITY_RECOVERABLE", "true")]).await;
    assert_eq!(forgot_password(&app).await.len(), 1, "the default mails the link");
    let app = spawn_app_with(&[
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_SEND_PASSWORD_RESET_EMAIL", "false"),
    ])
    .await;
    assert!(forgot_password(&app).await.is_empty());
}
