//! Flask-Security's remaining redirect-view keys (issue 26): each one changed from its default
//! and observed where Flask-Security 5.9 uses it, with Latchkey's own page answering when the
//! key is unset. Browsers' form posts are redirected; JSON answers never change.

use crate::common;
use crate::mail_support;

use common::{
    flashes, location, new_email, random_hex, set_up_authenticator, spawn_app_with, TestApp,
    TestClient, PASSWORD,
};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An app with `base` and, when given, the view key set to `view`.
async fn app(base: &[(&str, &str)], key: &str, view: Option<&str>) -> TestApp {
    let mut settings = base.to_vec();
    if let Some(view) = view {
        settings.push((key, view));
    }
    spawn_app_with(&settings).await
}

/// A new account and a browser logged in to it.
async fn account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (email, c)
}

const TWO_FACTOR: &[(&str, &str)] = &[
    ("SECURITY_TWO_FACTOR", "true"),
    ("SECURITY_TOTP_SECRETS", "view-keys-test-secret"),
];

#[actix_web::test]
async fn two_factor_post_setup_view_is_where_switching_two_factor_off_goes() {
    let key = "SECURITY_TWO_FACTOR_POST_SETUP_VIEW";
    for (view, expected) in [(None, "/tf-setup"), (Some("/tf-done"), "/tf-done")] {
        let app = app(TWO_FACTOR, key, view).await;
        let (_, c) = account(&app, "tf-post-setup").await;
        set_up_authenticator(&c).await;
        let r = c.submit("/tf-setup", &[("setup", "disable")]).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{view:?}");
        assert_eq!(location(&r).as_deref(), Some(expected), "{view:?}");
        // JSON is answered as before.
        set_up_authenticator(&c).await;
        let r = c
            .post_json_via("/tf-setup", "/tf-setup", &json!({"setup": "disable"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{view:?}");
    }
}

#[actix_web::test]
async fn two_factor_error_view_is_where_a_stray_two_factor_step_goes() {
    let key = "SECURITY_TWO_FACTOR_ERROR_VIEW";
    for (view, expected) in [(None, "/login"), (Some("/tf-error"), "/tf-error")] {
        let app = app(TWO_FACTOR, key, view).await;
        // No login waits for a second factor in this browser.
        let c = app.client();
        let r = c.get("/tf-validate").await;
        assert_eq!(r.status(), StatusCode::FOUND, "{view:?}");
        assert_eq!(location(&r).as_deref(), Some(expected), "{view:?}");
        let page = c.get("/login").await.text().await.unwrap();
        assert!(
            flashes(&page)
                .contains(&"You currently do not have permissions to access this page".into()),
            "{page}"
        );
        // JSON: Flask-Security's 400, whatever the view.
        let r = c.get_json("/tf-validate").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{view:?}");
    }
}

const UNIFIED: &[(&str, &str)] = &[
    ("SECURITY_UNIFIED_SIGNIN", "true"),
    ("SECURITY_US_ENABLED_METHODS", "password,email"),
    ("SECURITY_TOTP_SECRETS", "view-keys-test-secret"),
];

#[actix_web::test]
async fn us_post_setup_view_is_where_a_unified_sign_in_setup_goes() {
    let key = "SECURITY_US_POST_SETUP_VIEW";
    for (view, expected) in [(None, "/us-setup"), (Some("/us-done"), "/us-done")] {
        let app = app(UNIFIED, key, view).await;
        let (email, c) = account(&app, "us-post-setup").await;
        let r = c
            .post_json_via("/us-setup", "/us-setup", &json!({"chosen_method": "email"}))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let body: Value = r.json().await.unwrap();
        let state = body["response"]["state"].as_str().unwrap().to_owned();
        let mails = mail_support::wait_for_eml(&app.mail_dir, &email, "Verification Code", 1).await;
        let text = mails[0].part("text/plain").unwrap();
        let code = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .unwrap_or_else(|| panic!("no code in {text}"))
            .to_owned();
        let token = c.csrf_token("/us-setup").await;
        let r = c
            .post_form(
                &format!("/us-setup/{state}"),
                &[("passcode", &code), ("csrf_token", &token)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{view:?}");
        assert_eq!(location(&r).as_deref(), Some(expected), "{view:?}");
    }
}

#[actix_web::test]
async fn post_verify_view_is_where_a_re_authentication_without_next_goes() {
    let key = "SECURITY_POST_VERIFY_VIEW";
    for (view, expected) in [(None, "/"), (Some("/verified"), "/verified")] {
        let app = app(UNIFIED, key, view).await;
        let (_, c) = account(&app, "post-verify").await;
        let r = c.submit("/verify", &[("password", PASSWORD)]).await;
        assert_eq!(location(&r).as_deref(), Some(expected), "/verify {view:?}");
        let r = c.submit("/us-verify", &[("passcode", PASSWORD)]).await;
        assert_eq!(
            location(&r).as_deref(),
            Some(expected),
            "/us-verify {view:?}"
        );
        // `next` still wins.
        let r = c
            .submit("/verify?next=/change", &[("password", PASSWORD)])
            .await;
        assert_eq!(location(&r).as_deref(), Some("/change"), "{view:?}");
    }
}

#[actix_web::test]
async fn unauthorized_view_is_where_a_user_without_the_role_goes() {
    let key = "SECURITY_UNAUTHORIZED_VIEW";
    let app = app(&[], key, None).await;
    let (_, c) = account(&app, "unauthorized").await;
    assert_eq!(c.get("/premium").await.status(), StatusCode::FORBIDDEN);

    let app = self::app(&[], key, Some("/not-for-you")).await;
    let (_, c) = account(&app, "unauthorized").await;
    let r = c.get("/premium").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some("/not-for-you"));
    let page = c.get("/").await.text().await.unwrap();
    assert!(
        flashes(&page).contains(&"You do not have permission to view this resource.".into()),
        "{page}"
    );
    // JSON clients still get Flask-Security's 403.
    common::assert_json_error(c.get_json("/premium").await, 403).await;

    // Without flash messages the redirect says nothing on the next page.
    let quiet = self::app(
        &[("SECURITY_FLASH_MESSAGES", "false")],
        key,
        Some("/not-for-you"),
    )
    .await;
    let (_, c) = account(&quiet, "unauthorized-quiet").await;
    assert_eq!(c.get("/premium").await.status(), StatusCode::FOUND);
    let page = c.get("/").await.text().await.unwrap();
    assert!(flashes(&page).is_empty(), "{page}");
}

/// An account that awaits confirmation, and where `/confirm-first` sends it: its email, and
/// the view's URL with that email.
async fn unconfirmed_account(app: &TestApp) -> (String, String) {
    let email = format!("u{}@example.com", random_hex(4));
    app.create_user(&email, PASSWORD).await;
    let wanted = format!("/confirm-first?email={}", email.replace('@', "%40"));
    (email, wanted)
}

/// `r` went to `wanted`, and the next page flashes "Email requires confirmation."
async fn assert_sent_to_confirm_first(c: &TestClient, r: reqwest::Response, wanted: &str) {
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(location(&r).as_deref(), Some(wanted));
    let page = c.get("/").await.text().await.unwrap();
    assert!(
        flashes(&page).contains(&"Email requires confirmation.".into()),
        "{page}"
    );
}

#[actix_web::test]
async fn requires_confirmation_error_view_is_where_an_unconfirmed_login_goes() {
    let key = "SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW";
    let base = [
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ];
    // Unset: the login form again, with its error.
    let app = app(&base, key, None).await;
    let email = new_email("unconfirmed");
    app.create_user(&email, PASSWORD).await;
    let r = app.client().login(&email, PASSWORD, false).await;
    let page = common::assert_form_rejected(r).await;
    assert!(page.contains("Email requires confirmation."), "{page}");

    let app = self::app(&base, key, Some("/confirm-first")).await;
    let (email, wanted) = unconfirmed_account(&app).await;
    let c = app.client();
    let r = c.login(&email, PASSWORD, false).await;
    assert_sent_to_confirm_first(&c, r, &wanted).await;
    // The forgotten-password form too.
    let r = c.submit("/reset", &[("email", &email)]).await;
    assert_eq!(location(&r), Some(wanted));
    // JSON clients get the error as before.
    let r = app.client().login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Generic responses say nothing about the account: no redirect.
    let mut generic = base.to_vec();
    generic.push(("SECURITY_RETURN_GENERIC_RESPONSES", "true"));
    let app = self::app(&generic, key, Some("/confirm-first")).await;
    app.create_user(&email, PASSWORD).await;
    let r = app.client().login(&email, PASSWORD, false).await;
    assert_ne!(r.status(), StatusCode::FOUND);
}

#[actix_web::test]
async fn requires_confirmation_error_view_is_where_an_unconfirmed_unified_sign_in_goes() {
    let key = "SECURITY_REQUIRES_CONFIRMATION_ERROR_VIEW";
    let base = [
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_TOTP_SECRETS", "view-keys-totp-secret"),
    ];
    let app = app(&base, key, Some("/confirm-first")).await;
    let (email, wanted) = unconfirmed_account(&app).await;
    // As Flask-Security's us_signin: the right password of an account that awaits
    // confirmation goes to the view, under the flashed message.
    let c = app.client();
    let r = c
        .submit(
            "/us-signin",
            &[("identity", &email), ("passcode", PASSWORD)],
        )
        .await;
    assert_sent_to_confirm_first(&c, r, &wanted).await;
    // Asking for a code too (us_signin_send_code).
    let token = c.csrf_token("/us-signin").await;
    let fields = [
        ("identity", email.as_str()),
        ("chosen_method", "email"),
        ("csrf_token", token.as_str()),
    ];
    let r = c.post_form("/us-signin/send-code", &fields).await;
    assert_eq!(location(&r), Some(wanted));
    // A wrong password says nothing of the account: the form again.
    let r = app
        .client()
        .submit("/us-signin", &[("identity", &email), ("passcode", "wrong")])
        .await;
    let page = common::assert_form_rejected(r).await;
    assert!(!page.contains("Email requires confirmation."), "{page}");
}

#[actix_web::test]
async fn post_change_username_view_is_where_a_username_change_goes() {
    let key = "SECURITY_POST_CHANGE_USERNAME_VIEW";
    let base = [
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_CHANGE_USERNAME", "true"),
    ];
    let mut with_login_view = base.to_vec();
    with_login_view.push(("SECURITY_POST_LOGIN_VIEW", "/welcome"));
    for (settings, view, expected) in [
        (&base[..], None, "/"),
        (&with_login_view[..], None, "/welcome"),
        (&with_login_view[..], Some("/name-changed"), "/name-changed"),
    ] {
        let app = app(settings, key, view).await;
        let (_, c) = account(&app, "rename").await;
        let name = format!("user{}", random_hex(4));
        let r = c.submit("/change-username", &[("username", &name)]).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{view:?}");
        assert_eq!(location(&r).as_deref(), Some(expected), "{view:?}");
    }
}

#[actix_web::test]
async fn verify_error_view_is_where_a_refused_social_re_authentication_goes_in_spa_mode() {
    let key = "SECURITY_VERIFY_ERROR_VIEW";
    let base = [
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "github"),
        ("GITHUB_CLIENT_ID", "gh-client"),
        ("GITHUB_CLIENT_SECRET", "gh-secret"),
        ("SECURITY_REDIRECT_BEHAVIOR", "spa"),
    ];
    // The provider's refusal, with no re-authentication started in this browser.
    let refused = "/login/oauth-verify-response/github?error=access_denied";
    let app = app(&base, key, None).await;
    let (_, c) = account(&app, "verify-error").await;
    let r = c.get(refused).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        location(&r).is_some_and(|l| l.starts_with("/verify")),
        "{:?}",
        location(&r)
    );

    let app = self::app(&base, key, Some("/verify-error")).await;
    let (_, c) = account(&app, "verify-error").await;
    let r = c.get(refused).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let to = location(&r).unwrap();
    let url = url::Url::parse(&format!("http://spa{to}")).unwrap();
    assert_eq!(url.path(), "/verify-error");
    let error = url
        .query_pairs()
        .find(|(k, _)| k == "error")
        .map(|(_, v)| v);
    assert!(
        error.is_some_and(|e| !e.is_empty()),
        "the refusal is named: {to}"
    );
}
