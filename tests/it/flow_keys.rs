//! Flask-Security's remaining flow keys (issue 26, item 4), each changed from its default and
//! observed: the username's lengths, the mail's parts, the reset mail, the login identities,
//! the logout methods, signing in after confirming or resetting, registering without a
//! password or its confirmation, the two-factor validity and refresh-token cookies, flash
//! messages, the two-factor rescue mail, and where logout and the language chooser go.

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
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
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
    assert_eq!(
        forgot_password(&app).await.len(),
        1,
        "the default mails the link"
    );
    let app = spawn_app_with(&[
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_SEND_PASSWORD_RESET_EMAIL", "false"),
    ])
    .await;
    assert!(forgot_password(&app).await.is_empty());
}

/// A JSON login with `identity` in the `field` the login form has for it.
async fn login_as(app: &TestApp, field: &str, identity: &str) -> StatusCode {
    let c = app.client();
    let token = c.json_csrf_token().await;
    c.post_json(
        "/login",
        &json!({field: identity, "password": PASSWORD}),
        Some(&token),
    )
    .await
    .status()
}

async fn identity_attributes(app: &TestApp) -> Value {
    let body: Value = app.client().get_json("/login").await.json().await.unwrap();
    body["response"]["identity_attributes"].clone()
}

#[actix_web::test]
async fn user_identity_attributes_say_what_a_login_identity_may_be() {
    // The default, with usernames: email, and username added by SECURITY_USERNAME_ENABLE.
    let app = spawn_app_with(&[("SECURITY_USERNAME_ENABLE", "true")]).await;
    assert_eq!(
        identity_attributes(&app).await,
        json!(["email", "username"])
    );
    let (status, _) = register_username(&app, "both@example.com", "bothways").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        login_as(&app, "email", "both@example.com").await,
        StatusCode::OK
    );
    assert_eq!(login_as(&app, "username", "bothways").await, StatusCode::OK);
    let page = app.get("/login").await.text().await.unwrap();
    assert!(page.contains("Email or username"), "{page}");

    // Flask-Security's list without email: usernames only.
    let app = spawn_app_with(&[
        ("SECURITY_USERNAME_ENABLE", "true"),
        (
            "SECURITY_USER_IDENTITY_ATTRIBUTES",
            r#"[{"username": {"mapper": "uia_username_mapper", "case_insensitive": true}}]"#,
        ),
    ])
    .await;
    assert_eq!(identity_attributes(&app).await, json!(["username"]));
    let (status, _) = register_username(&app, "named@example.com", "namedonly").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        login_as(&app, "email", "named@example.com").await,
        StatusCode::BAD_REQUEST,
        "an email is not an identity any more"
    );
    assert_eq!(
        login_as(&app, "username", "NamedOnly").await,
        StatusCode::OK
    );
    let page = app.get("/login").await.text().await.unwrap();
    assert!(!page.contains("Email or username"), "{page}");
    assert!(page.contains(">Username<"), "{page}");

    // A key that is not Flask-Security's list is refused at start-up, naming it.
    let refused = try_spawn_app_with(&[("SECURITY_USER_IDENTITY_ATTRIBUTES", "email,username")])
        .await
        .err()
        .expect("refused")
        .to_string();
    assert!(
        refused.contains("SECURITY_USER_IDENTITY_ATTRIBUTES"),
        "{refused}"
    );
}

#[actix_web::test]
async fn a_listed_phone_number_is_a_unified_sign_in_identity() {
    let sms = tempfile::tempdir().unwrap();
    let sms_path = sms.path().to_string_lossy().into_owned();
    let base = [
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,sms"),
        ("SECURITY_TOTP_SECRETS", "flow-keys-test-secret"),
        ("SMS_OUTBOX_DIR", sms_path.as_str()),
    ];
    let us_signin = |app: &TestApp, identity: &'static str| {
        let c = app.client();
        async move {
            let token = c.csrf_token("/us-signin").await;
            let r = c
                .post_json(
                    "/us-signin",
                    &json!({"identity": identity, "passcode": PASSWORD}),
                    Some(&token),
                )
                .await;
            r.status()
        }
    };
    for (listed, expected) in [(false, StatusCode::BAD_REQUEST), (true, StatusCode::OK)] {
        let mut settings = base.to_vec();
        if listed {
            settings.push((
                "SECURITY_USER_IDENTITY_ATTRIBUTES",
                r#"[{"email": {"mapper": "uia_email_mapper", "case_insensitive": true}},
                    {"us_phone_number": {"mapper": "uia_phone_mapper"}}]"#,
            ));
        }
        let app = spawn_app_with(&settings).await;
        let email = new_email("phone");
        app.create_user(&email, PASSWORD).await;
        {
            use diesel::prelude::*;
            use latchkey::db::schema::user;
            diesel::update(user::table.filter(user::email.eq(&email)))
                .set(user::us_phone_number.eq(Some("+16505550123")))
                .execute(&mut app.db())
                .unwrap();
        }
        assert_eq!(
            us_signin(&app, "+1 650 555 0123").await,
            expected,
            "phone listed: {listed}"
        );
        // The password login form never takes a phone number, as in Flask-Security.
        assert_eq!(
            login_as(&app, "email", "+16505550123").await,
            StatusCode::BAD_REQUEST
        );
    }
}

#[actix_web::test]
async fn with_get_in_logout_methods_a_get_logs_out() {
    // The default: GET /logout asks, and the user stays logged in.
    let app = spawn_app_with(&[]).await;
    app.register(&new_email("get-logout"), PASSWORD).await;
    assert!(app.is_authenticated().await);
    assert_eq!(
        app.get("/logout").await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert!(app.is_authenticated().await);

    let app = spawn_app_with(&[("SECURITY_LOGOUT_METHODS", "GET,POST")]).await;
    app.register(&new_email("get-logout"), PASSWORD).await;
    assert!(app.is_authenticated().await);
    let r = app.get("/logout").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(common::location(&r).as_deref(), Some("/"));
    assert!(!app.is_authenticated().await, "a GET logged out");
    assert_eq!(app.count_login_sessions(), 0, "the login ended server-side");
    // POST still does.
    app.login(&app.users()[0].email.clone().unwrap(), PASSWORD, false)
        .await;
    assert!(app.is_authenticated().await);
    app.logout().await;
    assert!(!app.is_authenticated().await);
}

/// Registers a new account on a confirmable app; returns its email and the path of the
/// confirmation link in its welcome mail.
async fn registered_unconfirmed(app: &TestApp) -> (String, String) {
    let email = new_email("auto-confirm");
    let r = app.client().register(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    (email, mails[0].link_path("/confirm/"))
}

#[actix_web::test]
async fn auto_login_after_confirm_signs_in_by_the_link_second_factor_included() {
    // The default: the link confirms and sends to the login page.
    let app = spawn_app_with(&[("SECURITY_CONFIRMABLE", "true")]).await;
    let (_, link) = registered_unconfirmed(&app).await;
    let browser = app.client();
    let r = browser.get(&link).await;
    assert_eq!(common::location(&r).as_deref(), Some("/login"));
    assert!(!browser.is_authenticated().await);

    let app = spawn_app_with(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_AUTO_LOGIN_AFTER_CONFIRM", "true"),
    ])
    .await;
    let (_, link) = registered_unconfirmed(&app).await;
    let browser = app.client();
    let r = browser.get(&link).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(common::location(&r).as_deref(), Some("/"));
    let page = browser.get("/").await.text().await.unwrap();
    assert!(
        common::flashes(&page).contains(&"Thank you. Your email has been confirmed.".to_owned()),
        "{page}"
    );
    assert!(browser.is_authenticated().await, "the link signed in");
    // Used once: the link does not sign in again.
    let other = app.client();
    other.get(&link).await;
    assert!(!other.is_authenticated().await);

    // With a second factor required, the link leads to its setup, not into the account.
    let app = spawn_app_with(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_AUTO_LOGIN_AFTER_CONFIRM", "true"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TWO_FACTOR_REQUIRED", "true"),
        ("SECURITY_TOTP_SECRETS", "flow-keys-test-secret"),
    ])
    .await;
    let (_, link) = registered_unconfirmed(&app).await;
    let browser = app.client();
    let r = browser.get(&link).await;
    assert_eq!(common::location(&r).as_deref(), Some("/tf-setup"));
    assert!(!browser.is_authenticated().await);
}

/// Asks for a reset link for a new account and sets `new` through it from a new browser;
/// returns that browser and the answer.
async fn reset_by_link(app: &TestApp, new: &str) -> (common::TestClient, reqwest::Response) {
    let email = new_email("auto-reset");
    app.create_user(&email, PASSWORD).await;
    app.client().submit("/reset", &[("email", &email)]).await;
    let mails = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    let link = mails[0].link_path("/reset/");
    let browser = app.client();
    let csrf = browser.csrf_token(&link).await;
    let r = browser
        .post_form(
            &link,
            &[
                ("password", new),
                ("password_confirm", new),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    (browser, r)
}

#[actix_web::test]
async fn auto_login_after_reset_signs_in_with_the_new_password() {
    let new = "a-new-long-password-9";
    let app = spawn_app_with(&[("SECURITY_RECOVERABLE", "true")]).await;
    let (browser, r) = reset_by_link(&app, new).await;
    assert_eq!(common::location(&r).as_deref(), Some("/login"));
    assert!(!browser.is_authenticated().await);

    let app = spawn_app_with(&[
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_AUTO_LOGIN_AFTER_RESET", "true"),
    ])
    .await;
    let (browser, r) = reset_by_link(&app, new).await;
    assert_eq!(common::location(&r).as_deref(), Some("/"));
    let page = browser.get("/").await.text().await.unwrap();
    assert!(
        common::flashes(&page).contains(
            &"You successfully reset your password and you have been logged in automatically."
                .to_owned()
        ),
        "{page}"
    );
    assert!(browser.is_authenticated().await, "the reset signed in");
}

#[actix_web::test]
async fn without_password_confirm_required_the_password_is_typed_once() {
    let once = |email: &str| json!({"email": email, "password": PASSWORD});
    let app = spawn_app_with(&[]).await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains("name=\"password_confirm\""), "{page}");
    let (status, errors) = register_json(&app, once("once@example.com")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(errors["password_confirm"][0].is_string(), "{errors}");

    let app = spawn_app_with(&[("SECURITY_PASSWORD_CONFIRM_REQUIRED", "false")]).await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(!page.contains("name=\"password_confirm\""), "{page}");
    let (status, errors) = register_json(&app, once("once@example.com")).await;
    assert_eq!(status, StatusCode::OK, "{errors}");
    assert_eq!(
        login_as(&app, "email", "once@example.com").await,
        StatusCode::OK
    );
}

#[actix_web::test]
async fn without_password_required_an_account_registers_without_one_and_signs_in_by_mail() {
    let unified = [
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TOTP_SECRETS", "flow-keys-test-secret"),
    ];
    let required = "name=\"password\" type=\"password\" autocomplete=\"new-password\" required";
    let app = spawn_app_with(&unified).await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(page.contains(required), "{page}");
    let (status, errors) = register_json(&app, json!({"email": "nopw@example.com"})).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a password is required by default"
    );
    assert!(errors["password"][0].is_string(), "{errors}");

    let mut settings = unified.to_vec();
    settings.push(("SECURITY_PASSWORD_REQUIRED", "false"));
    let app = spawn_app_with(&settings).await;
    let page = app.get("/register").await.text().await.unwrap();
    assert!(!page.contains(required), "{page}");
    let (status, errors) = register_json(&app, json!({"email": "nopw@example.com"})).await;
    assert_eq!(status, StatusCode::OK, "{errors}");
    let user = app.user("nopw@example.com");
    assert!(user.password.as_deref().unwrap_or("").is_empty());
    // Flask-Security's us_setup_email: codes by mail are set up.
    assert!(
        user.us_totp_secrets
            .as_deref()
            .unwrap_or("")
            .contains("\"email\""),
        "{:?}",
        user.us_totp_secrets
    );
    assert_eq!(
        login_as(&app, "email", "nopw@example.com").await,
        StatusCode::BAD_REQUEST
    );
    // It signs in with a code by mail.
    let c = app.client();
    let r = c
        .post_json_via(
            "/us-signin",
            "/us-signin/send-code",
            &json!({"identity": "nopw@example.com", "chosen_method": "email"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let mails = wait_for_eml(&app.mail_dir, "nopw@example.com", "Verification Code", 1).await;
    let text = mails[0].part("text/plain").unwrap();
    let code = text
        .split(|ch: char| !ch.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned();
    let r = c
        .post_json_via(
            "/us-signin",
            "/us-signin",
            &json!({"identity": "nopw@example.com", "passcode": code}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(c.is_authenticated().await);
    // A password typed is still checked against the policy.
    let (status, errors) = register_json(
        &app,
        json!({"email": "short@example.com", "password": "short", "password_confirm": "short"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(errors["password"][0].is_string(), "{errors}");

    let refused = try_spawn_app_with(&[("SECURITY_PASSWORD_REQUIRED", "false")])
        .await
        .err()
        .expect("refused without unified sign-in")
        .to_string();
    assert!(
        refused.contains("SECURITY_UNIFIED_SIGNIN=true"),
        "{refused}"
    );
}

/// Signs a new account in with its authenticator code, asking to remember the device;
/// returns the account's email and the answer's cookie `name`.
async fn remembered_device(
    app: &TestApp,
    name: &str,
) -> (String, actix_web::cookie::Cookie<'static>) {
    use latchkey::auth::totp::code_at;
    let email = new_email("tf-cookie");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    let key = common::set_up_authenticator(&owner).await;
    let browser = app.client();
    let r = browser.login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::OK);
    let now = chrono::Utc::now().timestamp() as u64;
    let r = browser
        .post_json_via(
            "/tf-validate",
            "/tf-validate",
            &json!({"code": code_at(&key, now - 30), "remember_device": true}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = common::set_cookie(r.headers(), name)
        .unwrap_or_else(|| panic!("a {name} cookie in {:?}", r.headers()));
    (email, cookie)
}

#[actix_web::test]
async fn the_two_factor_validity_cookie_has_the_configured_name_and_attributes() {
    use actix_web::cookie::SameSite;
    let tf = [
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "flow-keys-test-secret"),
        ("SECURITY_TWO_FACTOR_ALWAYS_VALIDATE", "false"),
    ];
    let app = spawn_app_with(&tf).await;
    let (_, cookie) = remembered_device(&app, "tf_validity").await;
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site(),
        Some(SameSite::Strict),
        "Flask-Security's default"
    );
    assert_ne!(
        cookie.secure(),
        Some(true),
        "plain HTTP without SESSION_COOKIE_SECURE"
    );

    let mut settings = tf.to_vec();
    settings.extend([
        ("SECURITY_TWO_FACTOR_VALIDITY_COOKIE_NAME", "device_ok"),
        (
            "SECURITY_TWO_FACTOR_VALIDITY_COOKIE",
            r#"{"httponly": true, "secure": true, "samesite": "Lax"}"#,
        ),
    ]);
    let app = spawn_app_with(&settings).await;
    let (email, cookie) = remembered_device(&app, "device_ok").await;
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.same_site(), Some(SameSite::Lax));
    assert_eq!(cookie.secure(), Some(true));
    // Read back under its name: the second factor is skipped.
    let check = app.client();
    check.set_cookie("device_ok", cookie.value());
    let body: Value = check
        .login_json(&email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["response"]["tf_required"], false, "{body}");

    for weaker in [r#"{"httponly": false}"#, r#"{"samesite": "None"}"#] {
        let mut settings = tf.to_vec();
        settings.push(("SECURITY_TWO_FACTOR_VALIDITY_COOKIE", weaker));
        let refused = try_spawn_app_with(&settings)
            .await
            .err()
            .expect(weaker)
            .to_string();
        assert!(
            refused.contains("SECURITY_TWO_FACTOR_VALIDITY_COOKIE"),
            "{refused}"
        );
    }
}

#[actix_web::test]
async fn the_refresh_token_cookie_has_the_attributes_its_dict_gives() {
    use actix_web::cookie::SameSite;
    let app = spawn_app_with(&[
        ("SECURITY_REFRESH_TOKEN", "true"),
        (
            "SECURITY_REFRESH_TOKEN_COOKIE",
            r#"{"samesite": "None", "secure": true, "httponly": true, "path": "/refresh-token"}"#,
        ),
    ])
    .await;
    let email = new_email("refresh-dict");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let token = c.json_csrf_token().await;
    let r = c
        .post_json(
            "/login?include_auth_token",
            &json!({"email": email, "password": PASSWORD}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = common::set_cookie(r.headers(), "fs_refresh").expect("the refresh cookie");
    assert_eq!(cookie.same_site(), Some(SameSite::None));
    assert_eq!(cookie.secure(), Some(true));
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(cookie.path(), Some("/refresh-token"));

    // A refresh token scripts could read, or a cross-site cookie browsers would drop, is
    // refused at start-up with the key named.
    for refused in [
        r#"{"httponly": false}"#,
        r#"{"samesite": "None", "secure": false}"#,
        r#"{"key": "other"}"#,
    ] {
        let e = try_spawn_app_with(&[
            ("SECURITY_REFRESH_TOKEN", "true"),
            ("SECURITY_REFRESH_TOKEN_COOKIE", refused),
        ])
        .await
        .err()
        .expect(refused)
        .to_string();
        assert!(e.contains("SECURITY_REFRESH_TOKEN_COOKIE"), "{e}");
    }
}

/// A change of password that flashes its outcome; the page it leads to.
async fn changed_password_page(app: &TestApp) -> String {
    let email = new_email("flash");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let token = c.csrf_token("/change").await;
    let r = c
        .post_form(
            "/change",
            &[
                ("password", PASSWORD),
                ("new_password", "another-horse-battery-8"),
                ("new_password_confirm", "another-horse-battery-8"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let then = common::location(&r).expect("a redirect");
    c.get(&then).await.text().await.unwrap()
}

#[actix_web::test]
async fn without_flash_messages_no_message_is_shown() {
    let shown = "You successfully changed your password";
    let page =
        changed_password_page(&spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await).await;
    assert!(page.contains(shown), "the default flashes: {page}");
    let app = spawn_app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_FLASH_MESSAGES", "false"),
    ])
    .await;
    let page = changed_password_page(&app).await;
    assert!(!page.contains(shown), "{page}");
}

#[actix_web::test]
async fn without_two_factor_rescue_email_no_code_is_mailed_instead() {
    let tf = [
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "flow-keys-test-secret"),
    ];
    for (rescue_email, offered) in [("true", true), ("false", false)] {
        let mut settings = tf.to_vec();
        settings.push(("SECURITY_TWO_FACTOR_RESCUE_EMAIL", rescue_email));
        let app = spawn_app_with(&settings).await;
        let email = new_email("rescue");
        app.create_user(&email, PASSWORD).await;
        let owner = app.logged_in_client(&email, PASSWORD, false).await;
        common::set_up_authenticator(&owner).await;
        let c = app.client();
        assert_eq!(
            c.login_json(&email, PASSWORD).await.status(),
            StatusCode::OK
        );
        let body: Value = c.get_json("/tf-rescue").await.json().await.unwrap();
        let options = &body["response"]["recovery_options"];
        assert_eq!(options.get("email").is_some(), offered, "{body}");
        assert!(options["help"].is_string(), "{body}");
        let page = c.get("/tf-rescue").await.text().await.unwrap();
        assert_eq!(page.contains("Mail me a code instead"), offered, "{page}");
        assert!(
            page.contains("Ask the site&#x27;s support for help")
                || page.contains("Ask the site's support for help")
        );
        let r = c
            .post_json_via("/tf-rescue", "/tf-rescue", &json!({"help_setup": "email"}))
            .await;
        let expected = if offered {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        assert_eq!(r.status(), expected, "{}", r.text().await.unwrap());
    }
}

#[actix_web::test]
async fn logout_goes_to_a_safe_next_and_passes_over_an_unsafe_one() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("logout-next");
    app.create_user(&email, PASSWORD).await;
    for (next, then) in [
        ("/goodbye?a=1", "/goodbye?a=1"),
        ("https://evil.example/", "/"),
        ("", "/"),
    ] {
        let c = app.logged_in_client(&email, PASSWORD, false).await;
        let token = c.csrf_token("/profile").await;
        let r = c
            .post_form("/logout", &[("csrf_token", &token), ("next", next)])
            .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{next}");
        assert_eq!(common::location(&r).as_deref(), Some(then), "{next}");
        assert!(!c.is_authenticated().await);
    }
    // In the query string too, as Flask-Security reads it.
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let token = c.csrf_token("/profile").await;
    let r = c
        .post_form("/logout?next=/after", &[("csrf_token", &token)])
        .await;
    assert_eq!(common::location(&r).as_deref(), Some("/after"));
}

#[actix_web::test]
async fn the_language_chooser_follows_next_to_a_host_the_redirect_keys_allow() {
    let allowed = "https://app.example.com/settings";
    let settings = [
        ("SECURITY_REDIRECT_BASE_DOMAIN", "example.com"),
        ("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "app"),
    ];
    for (settings, then) in [(&[][..], None), (&settings[..], Some(allowed))] {
        let app = spawn_app_with(settings).await;
        let c = app.client();
        let token = c.csrf_token("/login").await;
        let r = c
            .post_form(
                "/lang",
                &[("lang", "de"), ("next", allowed), ("csrf_token", &token)],
            )
            .await;
        // Another host is refused: back to the home page with a message.
        assert_eq!(r.status(), StatusCode::FOUND);
        assert_eq!(common::location(&r).as_deref(), Some(then.unwrap_or("/")));
    }
}
