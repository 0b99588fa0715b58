//! Logging in with the login form.

use crate::common;

use common::{
    assert_form_rejected, form_errors, location, new_email, set_cookie, spawn_app, spawn_app_with,
    PASSWORD,
};
use reqwest::StatusCode;

#[actix_web::test]
async fn the_login_form_has_its_fields() {
    let app = spawn_app().await;

    let r = app.get("/login").await;

    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.unwrap();
    for name in ["email", "password", "remember", "csrf_token", "next"] {
        assert!(body.contains(&format!("name=\"{name}\"")), "{name}: {body}");
    }
}

#[actix_web::test]
async fn logging_in_goes_home_and_shows_the_profile() {
    let app = spawn_app().await;
    let email = new_email("login");
    app.create_user(&email, PASSWORD).await;

    let r = app.login(&email, PASSWORD, false).await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/"));
    let session = set_cookie(r.headers(), "session").expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(session.same_site(), Some(actix_web::cookie::SameSite::Lax));
    assert_eq!(session.path(), Some("/"));
    let profile = app.get("/profile").await;
    assert_eq!(profile.status(), StatusCode::OK);
    let body = profile.text().await.unwrap();
    assert!(body.contains(&email), "{body}");
    assert!(body.contains("action=\"/logout\""), "{body}");
    assert!(common::csrf_from_html(&body).is_some());
}

#[actix_web::test]
async fn a_wrong_password_is_refused() {
    let app = spawn_app().await;
    let email = new_email("badpw");
    app.create_user(&email, PASSWORD).await;

    let r = app.login(&email, "wrong-password-1", false).await;

    let body = assert_form_rejected(r).await;
    assert_eq!(form_errors(&body), vec!["Invalid password".to_owned()]);
    assert!(!app.is_authenticated().await);
    // The email typed is kept in the form, the password is not.
    assert!(body.contains(&format!("value=\"{email}\"")), "{body}");
    assert!(!body.contains("wrong-password-1"));
}

#[actix_web::test]
async fn an_unknown_email_is_refused() {
    let app = spawn_app().await;

    let r = app.login(&new_email("nobody"), PASSWORD, false).await;

    let body = assert_form_rejected(r).await;
    assert_eq!(
        form_errors(&body),
        vec!["Specified user does not exist".to_owned()]
    );
    assert!(!app.is_authenticated().await);
}

#[actix_web::test]
async fn an_empty_form_says_what_is_missing() {
    let app = spawn_app().await;

    let r = app
        .submit("/login", &[("email", ""), ("password", "")])
        .await;
    let body = assert_form_rejected(r).await;
    assert_eq!(form_errors(&body), vec!["Email not provided".to_owned()]);

    let r = app
        .submit("/login", &[("email", "a@example.com"), ("password", "")])
        .await;
    let body = assert_form_rejected(r).await;
    assert_eq!(form_errors(&body), vec!["Password not provided".to_owned()]);
}

#[actix_web::test]
async fn the_email_is_matched_regardless_of_case() {
    let app = spawn_app().await;
    let tag = common::random_hex(4);
    app.create_user(&format!("mixed.{tag}@example.com"), PASSWORD)
        .await;

    let r = app
        .login(&format!("MIXED.{tag}@EXAMPLE.COM"), PASSWORD, false)
        .await;

    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(app.is_authenticated().await);
}

#[actix_web::test]
async fn a_disabled_account_cannot_log_in() {
    let app = spawn_app().await;
    let email = new_email("disabled");
    app.create_user(&email, PASSWORD).await;
    app.set_active(&email, false);

    let r = app.login(&email, PASSWORD, false).await;

    let body = assert_form_rejected(r).await;
    assert_eq!(form_errors(&body), vec!["Account is disabled.".to_owned()]);
    assert!(!app.is_authenticated().await);
}

#[actix_web::test]
async fn generic_responses_do_not_tell_whether_the_account_exists() {
    // Generic responses need registration not to log in (start-up refuses otherwise).
    let app = spawn_app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = new_email("generic");
    app.create_user(&email, PASSWORD).await;

    let wrong_password = app.client().login(&email, "wrong-password-1", false).await;
    let unknown_user = app
        .client()
        .login(&new_email("ghost"), PASSWORD, false)
        .await;

    assert_eq!(wrong_password.status(), unknown_user.status());
    let a = form_errors(&assert_form_rejected(wrong_password).await);
    let b = form_errors(&assert_form_rejected(unknown_user).await);
    assert!(!a.is_empty());
    assert_eq!(a, b);
    for e in &a {
        assert!(!e.contains("Invalid password"), "{e}");
        assert!(!e.contains("does not exist"), "{e}");
    }
}

#[actix_web::test]
async fn generic_responses_are_the_same_for_api_clients_too() {
    // Generic responses need registration not to log in (start-up refuses otherwise).
    let app = spawn_app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = new_email("generic-json");
    app.create_user(&email, PASSWORD).await;
    let client = app.client();
    let token = client.json_csrf_token().await;

    let wrong_password = client
        .post_json(
            "/login",
            &serde_json::json!({"email": email, "password": "wrong-password-1"}),
            Some(&token),
        )
        .await;
    let unknown_user = client
        .post_json(
            "/login",
            &serde_json::json!({"email": new_email("ghost"), "password": PASSWORD}),
            Some(&token),
        )
        .await;

    let a = common::assert_json_error(wrong_password, 400).await;
    let b = common::assert_json_error(unknown_user, 400).await;
    assert_eq!(a, b);
}

#[actix_web::test]
async fn a_logged_in_user_visiting_login_or_register_is_sent_home() {
    let app = spawn_app().await;
    let email = new_email("already");
    app.register(&email, PASSWORD).await;
    assert!(app.is_authenticated().await);

    for page in ["/login", "/register"] {
        let r = app.get(page).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{page}");
        assert_eq!(location(&r).as_deref(), Some("/"), "{page}");
    }
}

#[actix_web::test]
async fn a_very_long_user_agent_does_not_break_login() {
    let app = spawn_app().await;
    let email = new_email("agent");
    app.create_user(&email, PASSWORD).await;
    let browser = app.client();
    let token = browser.csrf_token("/login").await;

    let r = browser
        .http
        .post(browser.url("/login"))
        .header("User-Agent", "Mozilla/5.0 ".repeat(200))
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(browser.is_authenticated().await);
}

/// `SECURITY_DEFAULT_REMEMBER_ME`: the login page's box starts ticked, and a JSON login that
/// does not say is remembered; a form sent with the box unticked is not (and with the key
/// unset, nothing is remembered unasked).
#[actix_web::test]
async fn default_remember_me_ticks_the_box_and_remembers_a_json_login() {
    let app = common::spawn_app_with(&[("SECURITY_DEFAULT_REMEMBER_ME", "true")]).await;
    let email = common::new_email("default-remember");
    app.create_user(&email, PASSWORD).await;
    let page = app.client().get("/login").await.text().await.unwrap();
    assert!(
        page.contains("name=\"remember\" type=\"checkbox\" value=\"y\" checked"),
        "{page}"
    );
    let c = app.client();
    assert_eq!(
        c.login_json(&email, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert!(
        c.cookie("remember_token").is_some(),
        "a JSON login is remembered"
    );
    let f = app.client();
    assert_eq!(
        f.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    assert!(
        f.cookie("remember_token").is_none(),
        "an unticked box is not"
    );

    let plain = common::spawn_app().await;
    let email = common::new_email("no-default-remember");
    plain.create_user(&email, PASSWORD).await;
    let page = plain.client().get("/login").await.text().await.unwrap();
    assert!(!page.contains("value=\"y\" checked"), "{page}");
    let c = plain.client();
    assert_eq!(
        c.login_json(&email, PASSWORD).await.status(),
        StatusCode::OK
    );
    assert!(c.cookie("remember_token").is_none());
}
