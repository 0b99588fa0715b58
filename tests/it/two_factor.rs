//! Two-factor sign-in (`SECURITY_TWO_FACTOR`), stricter than Flask-Security: a code works
//! once, code guesses are throttled like passwords, recovery codes are single-use even when
//! two requests race, a half-finished login expires and is never a logged-in user, roles can
//! require a second factor, and a remembered browser is forgotten when access is rotated.
//! JSON API unless a test says HTML; codes are computed here from the key the setup shows.

use crate::common;
use crate::mail_support;

use std::sync::Arc;
use std::time::Duration;

use common::{new_email, set_up_authenticator, spawn_app_with, TestApp, TestClient, PASSWORD};
use latchkey::auth::totp::{code_at, TotpSecret};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

fn settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "two-factor-test-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_CHANGEABLE", "true"),
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

/// A JSON POST with this client's session token, taken from the JSON GET of the page posted
/// to (a GET of `/login` would abandon a half-finished login, as in Flask-Security).
async fn post(c: &TestClient, path: &str, body: Value) -> Response {
    let page = match path.split('/').nth(1) {
        Some("tf-setup") => "/tf-setup",
        Some("login") => "/login",
        _ => path,
    };
    c.post_json_via(page, path, &body).await
}

/// Creates the `admin` role and gives it to `email`.
fn make_admin(app: &TestApp, email: &str) {
    use diesel::prelude::*;
    let mut conn = app.db();
    diesel::sql_query("INSERT INTO role (name) VALUES ('admin')")
        .execute(&mut conn)
        .unwrap();
    let user = app.user(email);
    let role = latchkey::db::roles::find_by_name(&mut conn, "admin")
        .unwrap()
        .unwrap();
    latchkey::db::roles::add_to_user(&mut conn, user.id, role.id).unwrap();
}

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The first step of a login: the password.
async fn password_step(app: &TestApp, email: &str) -> (TestClient, Value) {
    let c = app.client();
    let (status, body) =
        json(post(&c, "/login", json!({"email": email, "password": PASSWORD})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (c, body["response"].clone())
}

/// A logged-in client of a new account.
async fn account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let (c, step) = password_step(app, &email).await;
    assert_eq!(step["tf_required"], false);
    (email, c)
}

async fn validate(c: &TestClient, code: &str) -> (StatusCode, Value) {
    json(post(c, "/tf-validate", json!({"code": code})).await).await
}

/// A code for `key` of another time step than `now` (so a test can use two distinct codes).
fn code_of_step(key: &TotpSecret, steps_back: u64) -> String {
    code_at(key, now() - 30 * steps_back)
}

#[actix_web::test]
async fn an_authenticator_code_completes_the_login_and_works_only_once() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "authr").await;
    let key = set_up_authenticator(&c).await;

    let (first, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_required"], true);
    assert_eq!(step["tf_method"], "authenticator");
    assert!(
        !first.is_authenticated().await,
        "the password alone is no login"
    );
    let code = code_of_step(&key, 1);
    let (status, body) = validate(&first, &code).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(first.is_authenticated().await);

    // The same code in another login: refused (the reference accepts it again).
    let (second, _) = password_step(&app, &email).await;
    let (status, body) = validate(&second, &code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["response"]["field_errors"]["code"][0], "Invalid code");
    assert!(!second.is_authenticated().await);
    // A fresh code still works.
    let (status, _) = validate(&second, &code_of_step(&key, 0)).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn wrong_codes_spend_the_accounts_second_factor_budget() {
    let app = app_with(&[("SECURITY_LOGIN_DELAY", "60 seconds")]).await;
    let (email, c) = account(&app, "guesser").await;
    let key = set_up_authenticator(&c).await;
    let (guesser, _) = password_step(&app, &email).await;
    let right = code_at(&key, now());
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    // The password step succeeded (its count was cleared); five free wrong codes...
    for _ in 0..5 {
        let (status, _) = validate(&guesser, wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    // ...then even the right code waits.
    let r = post(&guesser, "/tf-validate", json!({"code": right})).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!guesser.is_authenticated().await);
    // The budget is the second factor's own: the password still proves the first factor
    // (from another browser), and a fresh pending login does not get a fresh allowance.
    let (again, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_required"], true, "{step}");
    let r = post(&again, "/tf-validate", json!({"code": right})).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!again.is_authenticated().await);
}

#[actix_web::test]
async fn a_half_finished_login_is_no_login_and_expires() {
    let app = app_with(&[("SECURITY_TWO_FACTOR_LOGIN_WITHIN", "2 seconds")]).await;
    let (email, c) = account(&app, "halfway").await;
    let key = set_up_authenticator(&c).await;

    let half = app.client();
    let token = half.json_csrf_token().await;
    let r = half
        .post_json(
            "/login",
            &json!({"email": email, "password": PASSWORD, "remember": true}),
            Some(&token),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        common::set_cookie(r.headers(), "remember_token").is_none(),
        "no remember cookie yet"
    );
    for page in [
        "/profile",
        "/sessions",
        "/change",
        "/tf-setup",
        "/mf-recovery-codes",
    ] {
        let r = half.get_json(page).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{page}");
    }
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, body) = validate(&half, &code_at(&key, now())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["response"]["errors"][0],
        "You currently do not have permissions to access this page"
    );
    assert!(!half.is_authenticated().await);
}

#[actix_web::test]
async fn mailed_codes_are_random_and_die_with_their_login() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "mailed").await;
    let (status, body) = json(post(&c, "/tf-setup", json!({"setup": "email"})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let mails = mail_support::wait_for_eml(&app.mail_dir, &email, "Two-Factor Login", 1).await;
    let code = six_digits(&mails[0]);
    let (status, _) =
        json(post(&c, &format!("/tf-setup/{token}"), json!({"code": code})).await).await;
    assert_eq!(status, StatusCode::OK);

    let (first, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_method"], "email");
    let mails = mail_support::wait_for_eml(&app.mail_dir, &email, "Two-Factor Login", 2).await;
    let first_code = six_digits(&mails[1]);
    let (second, _) = password_step(&app, &email).await;
    let mails = mail_support::wait_for_eml(&app.mail_dir, &email, "Two-Factor Login", 3).await;
    let second_code = six_digits(&mails[2]);
    // Each login has its own code (the reference mails the same TOTP twice in a window).
    let (status, _) = validate(&second, &first_code).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another login's code");
    let (status, _) = validate(&first, &first_code).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = validate(&second, &second_code).await;
    assert_eq!(status, StatusCode::OK);
}

fn six_digits(mail: &mail_support::Received) -> String {
    let text = mail.part("text/plain").unwrap_or_else(|| mail.data.clone());
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code in the mail")
        .to_owned()
}

#[actix_web::test]
async fn a_recovery_code_used_by_two_requests_at_once_works_once() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "racer").await;
    set_up_authenticator(&c).await;
    let (status, body) = json(post(&c, "/mf-recovery-codes", json!({})).await).await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<String> =
        serde_json::from_value(body["response"]["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 5);
    // Stored as digests, never as typed.
    let stored = app.user(&email).mf_recovery_codes.unwrap();
    for code in &codes {
        assert!(!stored.contains(code.as_str()));
    }

    let mut logins = Vec::new();
    for _ in 0..6 {
        logins.push(Arc::new(password_step(&app, &email).await.0));
    }
    let tries: Vec<_> = logins
        .iter()
        .map(|c| {
            let (c, code) = (c.clone(), codes[0].clone());
            actix_web::rt::spawn(async move {
                post(&c, "/mf-recovery", json!({"code": code}))
                    .await
                    .status()
            })
        })
        .collect();
    let mut won = 0;
    for t in tries {
        match t.await.unwrap() {
            StatusCode::OK => won += 1,
            // Refused, or not even checked: every attempt is counted before its check, and
            // the sixth at once from one address waits (the login throttle).
            StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(won, 1, "one recovery code, one login");
    assert_eq!(
        app.user(&email)
            .mf_recovery_codes
            .unwrap_or_default()
            .split(',')
            .filter(|c| !c.trim().is_empty())
            .count(),
        4
    );
}

#[actix_web::test]
async fn a_role_can_require_a_second_factor_before_anything_else() {
    let app = app_with(&[("SECURITY_TWO_FACTOR_REQUIRED_ROLES", "admin")]).await;
    let email = new_email("boss");
    app.create_user(&email, PASSWORD).await;
    make_admin(&app, &email);
    let (c, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_required"], true);
    assert_eq!(step["tf_state"], "setup_from_login");
    assert!(!c.is_authenticated().await);
    assert_eq!(
        c.get_json("/admin").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // The setup is the only way on, and it ends in the login.
    let key = set_up_authenticator(&c).await;
    assert!(c.is_authenticated().await);
    assert_eq!(
        app.user(&email).tf_primary_method.as_deref(),
        Some("authenticator")
    );
    let (next, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_method"], "authenticator");
    let (status, _) = validate(&next, &code_at(&key, now())).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn a_remembered_browser_skips_the_code_until_the_password_changes() {
    let app = app_with(&[("SECURITY_TWO_FACTOR_ALWAYS_VALIDATE", "false")]).await;
    let (email, c) = account(&app, "device").await;
    let key = set_up_authenticator(&c).await;
    let (browser, _) = password_step(&app, &email).await;
    let r = post(
        &browser,
        "/tf-validate",
        json!({"code": code_of_step(&key, 1), "remember_device": true}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let validity = common::set_cookie(r.headers(), "tf_validity").expect("tf_validity cookie");
    assert!(validity.http_only().unwrap_or(false));
    browser.logout().await;

    // The same browser (it keeps the cookie) logs in with the password alone...
    let (status, body) = json(
        post(
            &browser,
            "/login",
            json!({"email": email, "password": PASSWORD}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["response"]["tf_required"], false);
    assert!(browser.is_authenticated().await);
    // ...another browser does not...
    let (_, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_required"], true);
    // ...and after a password change, neither does this one.
    let new_password = "a-brand-new-one-5";
    let r = post(
        &browser,
        "/change",
        json!({"password": PASSWORD, "new_password": new_password, "new_password_confirm": new_password}),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    browser.logout().await;
    let (_, body) = json(
        post(
            &browser,
            "/login",
            json!({"email": email, "password": new_password}),
        )
        .await,
    )
    .await;
    assert_eq!(body["response"]["tf_required"], true);
}

#[actix_web::test]
async fn html_login_goes_through_the_code_page() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "html").await;
    let key = set_up_authenticator(&c).await;
    let browser = app.client();
    let r = browser.login(&email, PASSWORD, false).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(common::location(&r).as_deref(), Some("/tf-validate"));
    let page = browser.get("/tf-validate").await.text().await.unwrap();
    assert!(page.contains("name=\"code\""), "{page}");
    let r = browser.submit("/tf-validate", &[("code", "12345x")]).await;
    assert_eq!(r.status(), StatusCode::OK, "the form again, with its error");
    assert!(!browser.is_authenticated().await);
    let r = browser
        .submit("/tf-validate", &[("code", &code_at(&key, now()))])
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(browser.is_authenticated().await);
}

#[actix_web::test]
async fn the_setup_stores_an_encrypted_secret_and_disable_clears_it() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "stored").await;
    let key = set_up_authenticator(&c).await;
    let user = app.user(&email);
    let stored = user.tf_totp_secret.expect("secret stored");
    assert!(!stored.contains(&key.base32()), "never in clear");
    assert!(stored.contains("\"enckey\""), "passlib's format: {stored}");
    let (status, _) = json(post(&c, "/tf-setup", json!({"setup": "disable"})).await).await;
    assert_eq!(status, StatusCode::OK);
    let user = app.user(&email);
    assert_eq!(user.tf_primary_method, None);
    assert_eq!(user.tf_totp_secret, None);
    let (_, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_required"], false);
}

#[actix_web::test]
async fn a_wrong_first_code_enables_nothing() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wrongsetup").await;
    let (_, body) = json(post(&c, "/tf-setup", json!({"setup": "authenticator"})).await).await;
    let token = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) =
        json(post(&c, &format!("/tf-setup/{token}"), json!({"code": "000000"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(app.user(&email).tf_primary_method, None);
}

#[actix_web::test]
async fn the_server_refuses_to_start_when_second_factors_would_be_ignored() {
    let app = app_with(&[]).await;
    let (_email, c) = account(&app, "orphan").await;
    set_up_authenticator(&c).await;
    let database_url = app.database_url.clone();
    let err = common::try_spawn_app_with(&[
        ("DATABASE_URL", database_url.as_str()),
        ("SECURITY_TWO_FACTOR", "false"),
    ])
    .await
    .err()
    .expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("SECURITY_TWO_FACTOR"), "{text}");
    assert!(text.contains("1 user(s)"), "{text}");
    let started = common::try_spawn_app_with(&[
        ("DATABASE_URL", database_url.as_str()),
        ("SECURITY_TWO_FACTOR", "false"),
        ("SECURITY_ALLOW_SECOND_FACTORS_UNUSED", "true"),
    ])
    .await;
    assert!(started.is_ok(), "the explicit override starts");
}

#[actix_web::test]
async fn text_message_codes_go_through_the_sms_sender() {
    let sms_dir = tempfile::tempdir().unwrap();
    let sms_path = sms_dir.path().to_string_lossy().into_owned();
    let app = app_with(&[
        (
            "SECURITY_TWO_FACTOR_ENABLED_METHODS",
            "email,authenticator,sms",
        ),
        ("SMS_OUTBOX_DIR", &sms_path),
    ])
    .await;
    let (email, c) = account(&app, "texted").await;
    // A phone number is required, and checked.
    let (status, body) =
        json(post(&c, "/tf-setup", json!({"setup": "sms", "phone": "12"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["response"]["field_errors"]["phone"].is_array(),
        "{body}"
    );
    let (status, body) = json(
        post(
            &c,
            "/tf-setup",
            json!({"setup": "sms", "phone": "+1 650 555 0100"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = last_text_code(sms_dir.path(), 1);
    let (status, _) =
        json(post(&c, &format!("/tf-setup/{token}"), json!({"code": code})).await).await;
    assert_eq!(status, StatusCode::OK);
    let user = app.user(&email);
    assert_eq!(user.tf_primary_method.as_deref(), Some("sms"));
    assert_eq!(user.tf_phone_number.as_deref(), Some("+16505550100"));

    let (login, step) = password_step(&app, &email).await;
    assert_eq!(step["tf_method"], "sms");
    let code = last_text_code(sms_dir.path(), 2);
    let (status, _) = validate(&login, &code).await;
    assert_eq!(status, StatusCode::OK);
}

/// The code in the `count`-th text message the development sender wrote to `dir`.
fn last_text_code(dir: &std::path::Path, count: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        if files.len() >= count {
            let text = std::fs::read_to_string(&files[count - 1]).unwrap();
            assert!(text.starts_with("To: +16505550100"), "{text}");
            return text
                .split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .expect("a code")
                .to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no text message written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The code page of a login names whose code it wants, keeps the other ways out as quiet
/// links (a recovery code, a mailed code, the support, cancelling), and a login with a
/// recovery code says how many are left. Replacing the codes asks for a tick first.
#[actix_web::test]
async fn the_code_page_names_the_account_and_a_recovery_login_counts_what_is_left() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "quiet").await;
    set_up_authenticator(&c).await;
    let (_, body) = json(post(&c, "/mf-recovery-codes", json!({})).await).await;
    let codes: Vec<String> =
        serde_json::from_value(body["response"]["recovery_codes"].clone()).unwrap();

    let b = app.client();
    let r = b.login(&email, PASSWORD, false).await;
    let page = b.follow(r, "/tf-validate").await;
    assert!(
        page.contains(&format!("Signing in as <strong>{email}</strong>")),
        "{page}"
    );
    assert!(
        page.contains(r#"<li><a href="/login">Cancel and sign in again</a></li>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<a href="/mf-recovery">Use a recovery code</a>"#),
        "{page}"
    );
    assert!(
        page.contains(r#"<input type="hidden" name="help_setup" value="email">"#)
            && page.contains(r#"<input type="hidden" name="help_setup" value="help">"#),
        "each way out is its own small form: {page}"
    );
    assert!(
        !page.contains(r#"type="radio""#),
        "no radio buttons to pick from: {page}"
    );

    let r = b.submit("/mf-recovery", &[("code", &codes[0])]).await;
    let home = b.follow(r, "/").await;
    assert!(
        common::flashes(&home)
            .iter()
            .any(|f| f.starts_with("You have 4 recovery codes left.")),
        "{home}"
    );
    let page = b.get("/mf-recovery-codes").await.text().await.unwrap();
    assert!(
        page.contains(
            r#"<input id="replace_codes" name="replace_codes" type="checkbox" value="y" required>"#
        ),
        "replacing live codes asks for a tick: {page}"
    );
}

/// The setup page has one primary action at a time: while a code is awaited, "Continue"
/// (start again) is secondary; the authenticator's key opens the app on a phone; a mailed
/// code can be sent again; turning two-factor off is a separate danger action behind a
/// disclosure, not a radio beside the methods.
#[actix_web::test]
async fn the_setup_page_has_one_primary_action_and_turning_off_is_apart() {
    let app = app_with(&[("SECURITY_TWO_FACTOR_ENABLED_METHODS", "authenticator,email")]).await;
    let email = new_email("setup-page");
    app.create_user(&email, PASSWORD).await;
    let b = app.logged_in_client(&email, PASSWORD, false).await;

    let page = b
        .submit("/tf-setup", &[("setup", "authenticator")])
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"<a class="button-link" href="otpauth:"#),
        "a link that opens the authenticator app: {page}"
    );
    assert!(
        page.contains(r#"data-copy-from="authenticator-key""#),
        "{page}"
    );
    assert!(
        page.contains(r#"<button type="submit" name="submit" value="Submit" class="secondary">"#),
        "Continue is secondary while a code is awaited: {page}"
    );

    let page = b
        .submit("/tf-setup", &[("setup", "email")])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#"name="two_factor_resend_form""#), "{page}");
    assert!(
        page.contains(r#"<input type="hidden" name="setup" value="email">"#),
        "{page}"
    );

    // Turned on: off is its own form behind a disclosure.
    set_up_authenticator(&b).await;
    let page = b.get("/tf-setup").await.text().await.unwrap();
    assert!(
        !page.contains(r#"value="disable" required"#),
        "no radio: {page}"
    );
    assert!(
        page.contains(r#"<details class="card danger-zone">"#)
            && page.contains(r#"<input type="hidden" name="setup" value="disable">"#),
        "{page}"
    );
}

/// Starts an authenticator setup as JSON (for its key) and proves it with the form, as the
/// setup page does: the answer to the form.
async fn finish_setup_with_the_form(c: &TestClient) -> Response {
    let (status, body) = json(post(c, "/tf-setup", json!({"setup": "authenticator"})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = TotpSecret::from_base32(body["response"]["tf_authr_key"].as_str().unwrap()).unwrap();
    let state = body["response"]["tf_state_token"].as_str().unwrap();
    let token = c.csrf_token("/tf-setup").await;
    c.post_form(
        &format!("/tf-setup/{state}"),
        &[
            ("code", code_at(&key, now()).as_str()),
            ("csrf_token", token.as_str()),
        ],
    )
    .await
}

/// As GitHub does: turning two-factor on in the browser makes the recovery codes at once and
/// shows them as the next step, whose "Continue" goes back to the account; a JSON client
/// (Flask-Security's API) gets no codes it did not ask for. Someone who already has codes is
/// not given new ones.
#[actix_web::test]
async fn turning_two_factor_on_shows_new_recovery_codes_as_the_next_step() {
    let app = app_with(&[]).await;
    let email = new_email("tf-codes-step");
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;

    let r = finish_setup_with_the_form(&c).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        "/mf-recovery-codes?show_codes=true&next=%2Fprofile"
    );
    let page = c.get(&location).await.text().await.unwrap();
    assert!(page.contains("Two-factor sign-in is on."), "the flash");
    let shown = page.matches("<li><code>").count();
    assert_eq!(shown, 5, "the new codes, shown once: {page}");
    assert!(
        page.contains("href=\"&#x2F;profile\">I have saved my recovery codes</a>"),
        "{page}"
    );
    let (_, body) = json(c.get_json("/mf-recovery-codes").await).await;
    assert_eq!(body["response"]["recovery_codes_left"], shown);

    // Off and on again: the codes are still there, so the setup page answers as before.
    let (status, _) = json(post(&c, "/tf-setup", json!({"setup": "disable"})).await).await;
    assert_eq!(status, StatusCode::OK);
    let r = finish_setup_with_the_form(&c).await;
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/tf-setup");

    let api_user = new_email("tf-codes-json");
    app.create_user(&api_user, PASSWORD).await;
    let api = app.logged_in_client(&api_user, PASSWORD, false).await;
    set_up_authenticator(&api).await;
    let (_, body) = json(api.get_json("/mf-recovery-codes").await).await;
    assert_eq!(body["response"]["recovery_codes_left"], 0);
}

/// A login that had to set two-factor up first ends, in the browser, on the new recovery
/// codes, whose "Continue" goes where the login was going; the login is complete.
#[actix_web::test]
async fn a_setup_required_at_login_shows_the_codes_before_going_on() {
    let app = app_with(&[("SECURITY_TWO_FACTOR_REQUIRED_ROLES", "admin")]).await;
    let email = new_email("boss-codes");
    app.create_user(&email, PASSWORD).await;
    make_admin(&app, &email);
    let c = app.client();
    let token = c.csrf_token("/login").await;
    let r = c
        .post_form(
            "/login?next=%2Fsessions",
            &[
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("remember", "y"),
                ("csrf_token", token.as_str()),
            ],
        )
        .await;
    assert!(r.status().is_redirection() || r.status() == StatusCode::OK);
    assert!(!c.is_authenticated().await);

    let r = finish_setup_with_the_form(&c).await;
    assert!(r.status().is_redirection(), "{}", r.status());
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(
        location,
        "/mf-recovery-codes?show_codes=true&next=%2Fsessions"
    );
    assert!(
        common::set_cookie(r.headers(), "remember_token").is_some(),
        "the login's cookies come along"
    );
    assert!(c.is_authenticated().await);
    let page = c.get(&location).await.text().await.unwrap();
    assert!(page.contains("href=\"&#x2F;sessions\">I have saved my recovery codes</a>"));
    assert_eq!(page.matches("<li><code>").count(), 5);
}

const TWILIO_CONFIG: &str = r#"{"ACCOUNT_SID": "AC0123456789abcdef", "AUTH_TOKEN": "twilio-token", "PHONE_NUMBER": "+15005550006"}"#;

fn twilio_config(url: &str) -> latchkey::config::TwilioConfig {
    latchkey::config::TwilioConfig {
        account_sid: "AC0123456789abcdef".into(),
        auth_token: latchkey::config::Secret::new("twilio-token"),
        phone_number: "+15005550006".into(),
        api_url: url.into(),
    }
}

#[actix_web::test]
async fn twilio_gets_the_message_in_its_api_and_its_error_answer_is_a_clear_error() {
    use base64::Engine;
    use latchkey::auth::sms::{SmsError, TwilioSms};
    let stub = common::twilio::TwilioStub::start(201, r#"{"sid": "SM1", "status": "queued"}"#);
    let sms = TwilioSms::new(&twilio_config(&stub.url));
    sms.deliver("+16505550100", "Your code: 123456")
        .await
        .expect("sent");
    let request = stub.requests(1).pop().unwrap();
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path,
        "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json"
    );
    let basic = base64::engine::general_purpose::STANDARD.encode("AC0123456789abcdef:twilio-token");
    assert_eq!(request.authorization, Some(format!("Basic {basic}")));
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.field("To"), Some("+16505550100"));
    assert_eq!(request.field("From"), Some("+15005550006"));
    assert_eq!(request.field("Body"), Some("Your code: 123456"));

    let refusing = common::twilio::TwilioStub::start(
        400,
        r#"{"code": 21211, "message": "The 'To' number +16505550100 is not a valid phone number.", "status": 400}"#,
    );
    let err = TwilioSms::new(&twilio_config(&refusing.url))
        .deliver("+16505550100", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SmsError::Refused { status: 400, code, .. } if code == "21211"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("is not a valid phone number"),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("twilio-token"));

    // Nobody listening: an error, in time.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let started = std::time::Instant::now();
    let err = TwilioSms::new(&twilio_config(&url))
        .deliver("+16505550100", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, SmsError::Unreachable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[actix_web::test]
async fn with_sms_service_twilio_codes_are_texted_in_e164_read_in_the_default_region() {
    let stub = common::twilio::TwilioStub::start(201, r#"{"sid": "SM1"}"#);
    let app = app_with(&[
        (
            "SECURITY_TWO_FACTOR_ENABLED_METHODS",
            "email,authenticator,sms",
        ),
        ("SECURITY_SMS_SERVICE", "Twilio"),
        ("SECURITY_SMS_SERVICE_CONFIG", TWILIO_CONFIG),
        ("SMS_TWILIO_API_URL", &stub.url),
        ("SECURITY_PHONE_REGION_DEFAULT", "GB"),
    ])
    .await;
    let (email, c) = account(&app, "twilio").await;
    // A number without +country is read in SECURITY_PHONE_REGION_DEFAULT's region.
    let (status, body) = json(
        post(
            &c,
            "/tf-setup",
            json!({"setup": "sms", "phone": "020 7946 0958"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["response"]["tf_state_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let request = stub.requests(1).pop().expect("Twilio was called");
    assert_eq!(request.field("To"), Some("+442079460958"));
    assert_eq!(request.field("From"), Some("+15005550006"));
    let text = request.field("Body").unwrap();
    assert!(text.ends_with("It expires in 2 minutes."), "{text}");
    let code: String = text.chars().filter(char::is_ascii_digit).take(6).collect();
    let (status, _) =
        json(post(&c, &format!("/tf-setup/{token}"), json!({"code": code})).await).await;
    assert_eq!(status, StatusCode::OK, "the texted code: {text}");
    assert_eq!(
        app.user(&email).tf_phone_number.as_deref(),
        Some("+442079460958")
    );
    // A US number is not valid in Britain's numbering: Flask-Security's PHONE_INVALID.
    let (_, c2) = account(&app, "twilio-bad").await;
    let (status, body) = json(
        post(
            &c2,
            "/tf-setup",
            json!({"setup": "sms", "phone": "(650) 253-0000"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["response"]["field_errors"]["phone"][0],
        "Phone number not valid e.g. missing country code"
    );
}

#[actix_web::test]
async fn a_twilio_refusal_is_logged_and_the_user_gets_an_answer_not_a_500() {
    let stub = common::twilio::TwilioStub::start(
        401,
        r#"{"code": 20003, "message": "Authenticate", "status": 401}"#,
    );
    let app = app_with(&[
        (
            "SECURITY_TWO_FACTOR_ENABLED_METHODS",
            "email,authenticator,sms",
        ),
        ("SECURITY_SMS_SERVICE", "Twilio"),
        ("SECURITY_SMS_SERVICE_CONFIG", TWILIO_CONFIG),
        ("SMS_TWILIO_API_URL", &stub.url),
    ])
    .await;
    let (_, c) = account(&app, "twilio-refused").await;
    let (status, body) = json(
        post(
            &c,
            "/tf-setup",
            json!({"setup": "sms", "phone": "+1 650 253 0000"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stub.requests(1).len(), 1);
    // The server goes on answering.
    let (status, _) = json(
        post(
            &c,
            "/tf-setup",
            json!({"setup": "sms", "phone": "+1 650 253 0000"}),
        )
        .await,
    )
    .await;
    assert!(
        status.is_success() || status == StatusCode::TOO_MANY_REQUESTS,
        "{status}"
    );
}
