//! Unified sign-in (`SECURITY_UNIFIED_SIGNIN`) over HTTP, on SQLite and (with
//! `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: one form for a password or a code, the codes'
//! setup, re-authentication, and where Latchkey is stricter than Flask-Security: a code (or
//! its mailed link) works once, guesses are throttled like passwords, generic responses hide
//! whether an account exists, and the mailed link signs in only the browser that asked for
//! it unless another browser confirms.

use crate::common;
use crate::mail_support;

use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use latchkey::auth::totp::{code_at, TotpSecret};
use mail_support::wait_for_eml;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

const SUBJECT: &str = "Verification Code";

fn settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        (
            "SECURITY_US_ENABLED_METHODS",
            "password,email,authenticator",
        ),
        ("SECURITY_TOTP_SECRETS", "unified-signin-test-secret"),
    ];
    all.extend_from_slice(extra);
    all
}

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(&settings(extra)).await
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

async fn post(c: &TestClient, token_from: &str, path: &str, body: Value) -> (StatusCode, Value) {
    json(c.post_json_via(token_from, path, &body).await).await
}

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn us_signin(c: &TestClient, identity: &str, passcode: &str) -> (StatusCode, Value) {
    post(
        c,
        "/us-signin",
        "/us-signin",
        json!({"identity": identity, "passcode": passcode}),
    )
    .await
}

async fn send_code(c: &TestClient, identity: &str) -> (StatusCode, Value) {
    post(
        c,
        "/us-signin",
        "/us-signin/send-code",
        json!({"identity": identity, "chosen_method": "email"}),
    )
    .await
}

/// The code in the `n`-th "Verification Code" mail to `email`.
async fn mailed_code(app: &TestApp, email: &str, n: usize) -> (String, String) {
    let mails = wait_for_eml(&app.mail_dir, email, SUBJECT, n).await;
    let mail = &mails[n - 1];
    let text = mail.part("text/plain").unwrap();
    let code = text
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned();
    let link = if text.contains("/us-verify-link") {
        mail.link_path("/us-verify-link")
    } else {
        String::new()
    };
    (code, link)
}

/// A new account, logged in, with codes by email set up (the setup's code read from its
/// mail, which is the first "Verification Code" mail).
async fn account_with_email_codes(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "email"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let state = body["response"]["state"].as_str().unwrap().to_owned();
    let (code, link) = mailed_code(app, &email, 1).await;
    assert!(link.is_empty(), "a setup code comes without a sign-in link");
    let (status, body) = post(
        &c,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (email, c)
}

#[actix_web::test]
async fn the_form_signs_in_with_the_password_and_describes_itself() {
    let app = app_with(&[]).await;
    let (status, page) = json(app.client().get_json("/us-signin").await).await;
    assert_eq!(status, StatusCode::OK);
    let page = &page["response"];
    assert_eq!(
        page["available_methods"],
        json!(["password", "email", "authenticator"])
    );
    assert_eq!(page["code_methods"], json!(["email"]));
    assert_eq!(page["identity_attributes"], json!(["email"]));
    let html = app.client().get("/us-signin").await.text().await.unwrap();
    for field in [
        "identity",
        "passcode",
        "chosen_method",
        "csrf_token",
        "remember",
    ] {
        assert!(html.contains(&format!("name=\"{field}\"")), "{field}");
    }

    let email = new_email("us-password");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let (status, body) = us_signin(&c, &email, "not-the-password").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["passcode"][0],
        "Password or code submitted is not valid"
    );
    let (status, body) = us_signin(&c, "nobody@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["identity"][0],
        "You must specify a valid identity to sign in"
    );
    assert!(!c.is_authenticated().await);
    let (status, body) = us_signin(&c, &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["tf_required"], false);
    assert!(c.is_authenticated().await);
}

#[actix_web::test]
async fn a_mailed_code_signs_in_once() {
    let app = app_with(&[]).await;
    let (email, c) = account_with_email_codes(&app, "us-code").await;
    let (_, setup) = json(c.get_json("/us-setup").await).await;
    assert_eq!(
        setup["response"]["active_methods"],
        json!(["password", "email"])
    );
    let stored = app.user(&email).us_totp_secrets.unwrap();
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert!(
        stored["email"].as_str().unwrap().contains("\"enckey\""),
        "passlib's encrypted record: {stored}"
    );

    let s = app.client();
    let (status, _) = send_code(&s, &email).await;
    assert_eq!(status, StatusCode::OK);
    let (code, link) = mailed_code(&app, &email, 2).await;
    assert!(link.starts_with("/us-verify-link?id="), "{link}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = us_signin(&s, &email, wrong).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = us_signin(&s, &email, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.is_authenticated().await);

    // The same code again (Flask-Security accepts it for its whole window), and its link.
    let again = app.client();
    let (status, body) = us_signin(&again, &email, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let r = again.get(&link).await;
    assert_eq!(r.status(), StatusCode::OK, "another browser is asked first");
    let csrf = common::csrf_from_html(&r.text().await.unwrap()).unwrap();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(link.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let id = &query.iter().find(|(k, _)| k == "id").unwrap().1;
    let r = again
        .post_form(
            "/us-verify-link",
            &[("csrf_token", &csrf), ("id", id), ("code", &code)],
        )
        .await;
    assert_eq!(common::location(&r).as_deref(), Some("/us-signin"));
    assert!(!again.is_authenticated().await);
}

#[actix_web::test]
async fn the_link_signs_in_the_browser_that_asked_and_asks_any_other_first() {
    let app = app_with(&[]).await;
    let (email, _) = account_with_email_codes(&app, "us-link").await;

    // The browser that asked: the link signs it in.
    let asker = app.client();
    send_code(&asker, &email).await;
    let (_, link) = mailed_code(&app, &email, 2).await;
    let r = asker.get(&link).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(common::location(&r).as_deref(), Some("/"));
    assert!(asker.is_authenticated().await);

    // A stranger with another account's link: a question, no login; confirming signs in,
    // once.
    let (email, _) = account_with_email_codes(&app, "us-link-other").await;
    let asker = app.client();
    send_code(&asker, &email).await;
    let (_, link) = mailed_code(&app, &email, 2).await;
    let stranger = app.client();
    let r = stranger.get(&link).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign in on this browser?"), "{page}");
    assert!(!stranger.is_authenticated().await);
    let csrf = common::csrf_from_html(&page).unwrap();
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(link.split_once('?').unwrap().1.as_bytes())
            .into_owned()
            .collect();
    let field = |k: &str| query.iter().find(|(n, _)| n == k).unwrap().1.clone();
    let fields = [
        ("csrf_token", csrf.clone()),
        ("id", field("id")),
        ("code", field("code")),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = stranger.post_form("/us-verify-link", &fields).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(stranger.is_authenticated().await);
    // The asker's own browser cannot use it any more.
    let r = asker.get(&link).await;
    assert_eq!(common::location(&r).as_deref(), Some("/us-signin"));
    assert!(!asker.is_authenticated().await);
}

#[actix_web::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let app = app_with(&[
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "3"),
        ("SECURITY_LOGIN_DELAY", "60 seconds"),
    ])
    .await;
    let (email, _) = account_with_email_codes(&app, "us-throttle").await;
    let s = app.client();
    let mut statuses = Vec::new();
    for guess in ["000001", "000002", "000003", "000004"] {
        statuses.push(us_signin(&s, &email, guess).await.0);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // The password waits too, here and on the login form.
    assert_eq!(
        us_signin(&s, &email, PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        s.login_json(&email, PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[actix_web::test]
async fn generic_responses_hide_whether_the_account_exists() {
    let app = app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = new_email("us-generic");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    // Sending a code: the same answer for an account, a stranger, and a method not set up.
    let known = send_code(&app.client(), &email).await;
    let unknown = send_code(&app.client(), "nobody@example.com").await;
    assert_eq!(known.0, StatusCode::OK);
    assert_eq!(known.0, unknown.0);
    let strip = |v: &Value| {
        let mut v = v["response"].clone();
        v.as_object_mut().unwrap().remove("csrf_token");
        v
    };
    assert_eq!(strip(&known.1), strip(&unknown.1));
    app.mail_settled().await;
    // Signing in: one message for both.
    let (s1, b1) = us_signin(&app.client(), &email, "wrong-password").await;
    let (s2, b2) = us_signin(&app.client(), "nobody@example.com", "wrong-password").await;
    assert_eq!((s1, s2), (StatusCode::BAD_REQUEST, StatusCode::BAD_REQUEST));
    assert_eq!(b1["response"]["errors"], b2["response"]["errors"]);
    assert_eq!(
        b1["response"]["errors"][0],
        "Authentication failed - identity or password/passcode invalid"
    );
    assert_eq!(b1["response"]["field_errors"], json!({}));
}

#[actix_web::test]
async fn a_method_not_set_up_sends_nothing() {
    let app = app_with(&[]).await;
    let email = new_email("us-not-set-up");
    app.create_user(&email, PASSWORD).await;
    let (status, body) = send_code(&app.client(), &email).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["chosen_method"][0],
        "Requested method is not valid"
    );
}

#[actix_web::test]
async fn an_authenticator_app_signs_in_and_counts_as_two_factors() {
    let app = app_with(&[("SECURITY_TWO_FACTOR", "true")]).await;
    let email = new_email("us-authr");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    // A second factor (codes by email) for password logins.
    let (status, body) = post(&c, "/tf-setup", "/tf-setup", json!({"setup": "email"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let state = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mails = wait_for_eml(&app.mail_dir, &email, "Two-Factor Login", 1).await;
    let tf_code: String = mails[0]
        .part("text/plain")
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned();
    let (status, _) = post(
        &c,
        "/tf-setup",
        &format!("/tf-setup/{state}"),
        json!({"code": tf_code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // The authenticator as a sign-in option.
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "authenticator"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["response"];
    assert!(r["authr_uri"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let key = TotpSecret::from_base32(r["authr_b32key"].as_str().unwrap()).unwrap();
    let state = r["state"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &c,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code_at(&key, now())}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The password still needs the second factor; the app's code is both.
    let (status, body) = us_signin(&app.client(), &email, PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["response"]["tf_required"], true);
    let s = app.client();
    let (status, body) = us_signin(&s, &email, &code_at(&key, now() + 30)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["tf_required"], false);
    assert!(s.is_authenticated().await);
}

#[actix_web::test]
async fn a_password_or_a_code_makes_the_login_fresh_again() {
    let app = app_with(&[
        ("SECURITY_FRESHNESS", "1 seconds"),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
    ])
    .await;
    let (email, c) = account_with_email_codes(&app, "us-verify").await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        c.get_json("/us-setup").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = post(&c, "/us-verify", "/us-verify", json!({"passcode": "wrong"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post(
        &c,
        "/us-verify",
        "/us-verify",
        json!({"passcode": PASSWORD}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(c.get_json("/us-setup").await.status(), StatusCode::OK);
    // A mailed code works too (no link in a re-authentication mail).
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _) = post(
        &c,
        "/us-verify",
        "/us-verify/send-code",
        json!({"chosen_method": "email"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (code, link) = mailed_code(&app, &email, 2).await;
    assert!(link.is_empty());
    let (status, body) = post(&c, "/us-verify", "/us-verify", json!({"passcode": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(c.get_json("/us-setup").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn removing_a_method_stops_its_codes() {
    let app = app_with(&[]).await;
    let (email, c) = account_with_email_codes(&app, "us-remove").await;
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"delete_method": ["email"]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["active_methods"], json!(["password"]));
    assert!(app.user(&email).us_totp_secrets.is_none());
    let (status, _) = send_code(&app.client(), &email).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn the_login_page_can_be_replaced_by_the_one_form() {
    let app = app_with(&[("SECURITY_US_SIGNIN_REPLACES_LOGIN", "true")]).await;
    let r = app.client().get("/login?next=/profile").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(
        common::location(&r).as_deref(),
        Some("/us-signin?next=%2Fprofile")
    );
}

/// The `count`-th text message in `dir` (the development SMS sender's files), its code.
fn texted_code(dir: &std::path::Path, count: usize) -> (String, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        if files.len() >= count {
            let text = std::fs::read_to_string(&files[count - 1]).unwrap();
            let code = text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a code")
                .to_owned();
            return (text, code);
        }
        assert!(std::time::Instant::now() < deadline, "no text message");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[actix_web::test]
async fn text_message_codes_need_a_phone_of_ones_own() {
    let sms = tempfile::tempdir().unwrap();
    let sms_path = sms.path().to_string_lossy().into_owned();
    let app = app_with(&[
        ("SECURITY_US_ENABLED_METHODS", "password,sms"),
        ("SMS_OUTBOX_DIR", &sms_path),
    ])
    .await;
    let email = new_email("us-sms");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "sms", "phone": "not a phone"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["response"]["field_errors"]["phone"][0].is_string(),
        "{body}"
    );
    let (status, body) = post(
        &c,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "sms", "phone": "+1 (650) 555-0101"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["phone"], "+16505550101");
    let state = body["response"]["state"].as_str().unwrap().to_owned();
    let (text, code) = texted_code(sms.path(), 1);
    assert!(text.starts_with("To: +16505550101"), "{text}");
    let (status, _) = post(
        &c,
        "/us-setup",
        &format!("/us-setup/{state}"),
        json!({"passcode": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.user(&email).us_phone_number.as_deref(),
        Some("+16505550101")
    );

    // The number is an identity: another account cannot take it.
    let other = new_email("us-sms-other");
    app.create_user(&other, PASSWORD).await;
    let o = app.logged_in_client(&other, PASSWORD, false).await;
    let (status, body) = post(
        &o,
        "/us-setup",
        "/us-setup",
        json!({"chosen_method": "sms", "phone": "+16505550101"}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["response"]["field_errors"]["phone"][0]
            .as_str()
            .unwrap()
            .contains("is already associated with an account"),
        "{body}"
    );

    // Signing in with a texted code.
    let s = app.client();
    let (status, _) = post(
        &s,
        "/us-signin",
        "/us-signin/send-code",
        json!({"identity": email, "chosen_method": "sms"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, code) = texted_code(sms.path(), 2);
    let (status, body) = us_signin(&s, &email, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.is_authenticated().await);
}

/// After "Send code", the form asks for the code: a field for the phone's number pad and the
/// code autofill of its messages (as two-factor's), and a way back to the password. Before,
/// the password field stays a password field.
#[actix_web::test]
async fn once_a_code_is_sent_the_field_asks_for_a_code() {
    let app = app_with(&[]).await;
    let (email, _owner) = account_with_email_codes(&app, "us-code-field").await;
    let c = app.client();
    let before = c.get("/us-signin").await.text().await.unwrap();
    assert!(before.contains("autocomplete=\"current-password\""));
    assert!(!before.contains("inputmode=\"numeric\""));
    let token = c.csrf_token("/us-signin").await;
    let r = c
        .post_form(
            "/us-signin/send-code",
            &[
                ("identity", email.as_str()),
                ("chosen_method", "email"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    let field = page
        .split("<input")
        .find(|tag| tag.contains("name=\"passcode\""))
        .expect("the passcode field");
    for attribute in [
        "type=\"text\"",
        "inputmode=\"numeric\"",
        "autocomplete=\"one-time-code\"",
    ] {
        assert!(field.contains(attribute), "{attribute} in {field}");
    }
    assert!(page.contains("Enter the code we sent you."));
    assert!(page.contains("Use my password instead"));
    assert!(
        !page.contains("name=\"submit_send_code\""),
        "one action: sign in with the code"
    );
}

/// `/verify` offers a user with email codes "Email me a code": it sends one and asks for it
/// on `/us-verify`, keeping `next`.
#[actix_web::test]
async fn the_confirm_page_offers_the_codes_the_user_has() {
    let app = app_with(&[]).await;
    let (email, c) = account_with_email_codes(&app, "reauth-codes").await;
    let other_ways = common::other_ways_on(&c, "/verify?next=%2Fsessions").await;
    assert!(
        other_ways.contains("action=\"/us-verify/send-code?next=%2Fsessions\""),
        "{other_ways}"
    );
    assert!(other_ways.contains("Email me a code"));
    assert!(!other_ways.contains("Text me a code"), "no phone set up");

    let token = c.csrf_token("/verify").await;
    let r = c
        .post_form(
            "/us-verify/send-code?next=%2Fsessions",
            &[("chosen_method", "email"), ("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("inputmode=\"numeric\""), "asks for the code");
    assert!(page.contains("name=\"us_verify_form\""));
    let (code, _) = mailed_code(&app, &email, 2).await;
    assert!(!code.is_empty());
}

/// SPA mode: the link of the code mail leads to `SECURITY_POST_LOGIN_VIEW` with the account
/// (logged in by the session cookie it sets), or to `SECURITY_LOGIN_ERROR_VIEW` with the
/// message, on `SECURITY_REDIRECT_HOST`.
#[actix_web::test]
async fn in_spa_mode_the_sign_in_link_leads_to_the_apps_views() {
    let app = app_with(&[
        ("SECURITY_REDIRECT_BEHAVIOR", "spa"),
        ("SECURITY_REDIRECT_HOST", "localhost:8081"),
        ("SECURITY_POST_LOGIN_VIEW", "/welcome"),
        ("SECURITY_LOGIN_ERROR_VIEW", "/login-error"),
    ])
    .await;
    let (email, _) = account_with_email_codes(&app, "us-spa-link").await;
    let asker = app.client();
    send_code(&asker, &email).await;
    let (_, link) = mailed_code(&app, &email, 2).await;

    let r = asker.get(&link).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let expected = format!(
        "//localhost:8081/welcome?email={0}&identity={0}",
        email.replace('@', "%40")
    );
    assert_eq!(common::location(&r), Some(expected));
    assert!(asker.is_authenticated().await);

    // The used link, from a browser that asked for a code too: the error view.
    let again = app.client();
    send_code(&again, &email).await;
    let r = again.get(&link).await;
    let location = common::location(&r).unwrap_or_default();
    assert!(
        location.starts_with("//localhost:8081/login-error?error="),
        "{location}"
    );
    assert!(!again.is_authenticated().await);
}
