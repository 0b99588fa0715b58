//! Security notices by mail (`latchkey::auth::notices`), read from the development
//! transport's `.eml` files, on SQLite and (with `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL:
//! each names the time, the approximate client, the IP address and links to `/sessions`;
//! a sign-in is "new" only when neither its device nor its address was seen, never the
//! first one; each notice stays unsent when its setting is off.
//!
//! Clients' addresses come from `X-Forwarded-For` (one trusted proxy), so that "another
//! address" can be tested from one machine.

use crate::common;
use crate::mail_support;

use std::time::Duration;

use common::passkey::SoftPasskey;
use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use latchkey::auth::totp::{code_at, TotpSecret};
use mail_support::{eml_messages_to, wait_for_eml, Received};
use reqwest::StatusCode;
use serde_json::{json, Value};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
const HOME_IP: &str = "198.51.100.1";
const AWAY_IP: &str = "203.0.113.9";

const NEW_DEVICE: &str = "New sign-in to your account";
const TWO_FACTOR: &str = "Your two-factor sign-in has changed";
const PASSKEY: &str = "Your passkeys have changed";
const RECOVERY_CODES: &str = "New recovery codes were generated";
const PASSWORD_CHANGED: &str = "Your password has been changed";
const PASSWORD_RESET: &str = "Your password has been reset";
const EMAIL_CHANGED: &str = "Your email address has been changed";

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    // Latchkey's own notices are opt-in: switched on here, off where a test says so.
    let mut settings = vec![
        ("TRUSTED_PROXY_COUNT", "1"),
        ("SECURITY_SEND_NOTICE_NEW_DEVICE", "true"),
        ("SECURITY_SEND_NOTICE_TWO_FACTOR", "true"),
        ("SECURITY_SEND_NOTICE_PASSKEY", "true"),
        ("SECURITY_SEND_NOTICE_RECOVERY_CODES", "true"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

/// A browser with its own user agent and address.
fn browser(app: &TestApp, user_agent: &str, ip: &str) -> TestClient {
    TestClient::with_headers(
        &app.address,
        &[("User-Agent", user_agent), ("X-Forwarded-For", ip)],
    )
}

/// Waits until the login history (the `security_event` rows) holds what happened so far.
async fn history_written(app: &TestApp) {
    let events = app.events.clone();
    let done = tokio::task::spawn_blocking(move || events.flush(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(done);
}

/// A new account registered (and so signed in) from Firefox at home.
async fn account_at_home(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    let home = browser(app, FIREFOX, HOME_IP);
    assert_eq!(
        home.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    history_written(app).await;
    (email, home)
}

/// The one notice `subject` to `to`: its text part, after checking that both parts name the
/// time, the client, the address and the sessions page.
async fn notice(app: &TestApp, to: &str, subject: &str, client: &str, ip: &str) -> String {
    let mail: Received = wait_for_eml(&app.mail_dir, to, subject, 1).await.remove(0);
    let text = mail.part("text/plain").expect("text part");
    let html = mail.part("text/html").expect("html part");
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    for part in [&text, &html] {
        assert!(part.contains(&format!("When: {today} ")), "{part}");
        assert!(part.contains(" UTC"), "{part}");
        assert!(
            part.contains(&format!("Device: {client} (approximate)")),
            "{part}"
        );
        assert!(part.contains(&format!("IP address: {ip}")), "{part}");
        assert!(
            part.contains(&format!("{}/sessions", app.address)),
            "{part}"
        );
    }
    text
}

/// No mail `subject` to `to`, once everything queued has been delivered.
async fn no_notice(app: &TestApp, to: &str, subject: &str) {
    app.mail_settled().await;
    let found = eml_messages_to(&app.mail_dir, to, subject);
    assert!(
        found.is_empty(),
        "unexpected {subject:?}: {:?}",
        found[0].part("text/plain")
    );
}

#[actix_web::test]
async fn a_sign_in_from_a_new_device_and_address_is_told_with_its_client_and_address() {
    let app = app_with(&[]).await;
    let (email, _home) = account_at_home(&app, "newdev").await;
    // Registration's own sign-in was the first: nothing to compare with, no notice.
    no_notice(&app, &email, NEW_DEVICE).await;

    let away = browser(&app, SAFARI, AWAY_IP);
    assert_eq!(
        away.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    let text = notice(&app, &email, NEW_DEVICE, "Safari on iPhone", AWAY_IP).await;
    assert!(
        text.contains("signed in to from a device and an address"),
        "{text}"
    );
}

/// The device is named in the mail's language, as the rest of the notice is ("Safari auf
/// iPhone" in a German notice, not "Safari on iPhone").
#[actix_web::test]
async fn the_new_device_notice_names_the_device_in_the_readers_language() {
    let app = app_with(&[]).await;
    let (email, _home) = account_at_home(&app, "newdevde").await;
    let away = TestClient::with_headers(
        &app.address,
        &[
            ("User-Agent", SAFARI),
            ("X-Forwarded-For", AWAY_IP),
            ("Accept-Language", "de"),
        ],
    );
    assert_eq!(
        away.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    let mail = wait_for_eml(&app.mail_dir, &email, "Neue Anmeldung bei Ihrem Konto", 1)
        .await
        .remove(0);
    for kind in ["text/plain", "text/html"] {
        let part = mail.part(kind).expect("both parts");
        assert!(
            part.contains("Gerät: Safari auf iPhone (ungefähr)"),
            "{kind}: {part}"
        );
    }
}

#[actix_web::test]
async fn a_known_device_or_a_known_address_is_not_new() {
    let app = app_with(&[]).await;
    let (email, _home) = account_at_home(&app, "known").await;
    // Firefox (updated) from another address: the device is known.
    let newer = FIREFOX.replace("128.0", "131.0");
    let travelling = browser(&app, &newer, AWAY_IP);
    assert_eq!(
        travelling.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    // Safari from home: the address is known.
    let phone_at_home = browser(&app, SAFARI, HOME_IP);
    assert_eq!(
        phone_at_home.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    no_notice(&app, &email, NEW_DEVICE).await;
}

#[actix_web::test]
async fn the_first_sign_in_after_confirming_is_not_new_and_the_setting_turns_it_off() {
    let app = app_with(&[("SECURITY_CONFIRMABLE", "true")]).await;
    let email = new_email("first");
    let home = browser(&app, FIREFOX, HOME_IP);
    assert_eq!(
        home.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    app.set_confirmed(&email);
    let away = browser(&app, SAFARI, AWAY_IP);
    assert_eq!(
        away.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    no_notice(&app, &email, NEW_DEVICE).await;

    let app = app_with(&[("SECURITY_SEND_NOTICE_NEW_DEVICE", "false")]).await;
    let (email, _home) = account_at_home(&app, "off").await;
    let away = browser(&app, SAFARI, AWAY_IP);
    assert_eq!(
        away.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    no_notice(&app, &email, NEW_DEVICE).await;
}

#[actix_web::test]
async fn a_password_change_and_a_reset_are_told_with_the_common_facts() {
    let app = app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;
    let (email, home) = account_at_home(&app, "pw").await;
    let r = home.change_password(PASSWORD, "another-horse-77").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let text = notice(&app, &email, PASSWORD_CHANGED, "Firefox on Linux", HOME_IP).await;
    assert!(text.contains("Your password has been changed."), "{text}");

    // The reset link, opened on a phone elsewhere.
    let phone = browser(&app, SAFARI, AWAY_IP);
    assert_eq!(
        phone.submit("/reset", &[("email", &email)]).await.status(),
        StatusCode::OK
    );
    let link = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await[0]
        .link_path("/reset/");
    let csrf = phone.csrf_token("/reset").await;
    let new = "third-horse-55";
    let r = phone
        .post_form(
            &link,
            &[
                ("password", new),
                ("password_confirm", new),
                ("csrf_token", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let text = notice(&app, &email, PASSWORD_RESET, "Safari on iPhone", AWAY_IP).await;
    assert!(text.contains("Your password has been reset."), "{text}");
}

#[actix_web::test]
async fn flask_securitys_settings_turn_the_password_notices_off() {
    let app = app_with(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_SEND_PASSWORD_CHANGE_EMAIL", "false"),
    ])
    .await;
    let (email, home) = account_at_home(&app, "pwoff").await;
    let r = home.change_password(PASSWORD, "another-horse-77").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    no_notice(&app, &email, PASSWORD_CHANGED).await;
}

async fn post(c: &TestClient, page: &str, path: &str, body: Value) -> (StatusCode, Value) {
    let r = c.post_json_via(page, path, &body).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn set_up_authenticator(c: &TestClient) {
    let (status, body) = post(
        c,
        "/tf-setup",
        "/tf-setup",
        json!({"setup": "authenticator"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["response"];
    let key = TotpSecret::from_base32(r["tf_authr_key"].as_str().unwrap()).unwrap();
    let token = r["tf_state_token"].as_str().unwrap().to_owned();
    let code = code_at(&key, chrono::Utc::now().timestamp() as u64);
    let path = format!("/tf-setup/{token}");
    let (status, body) = post(c, "/tf-setup", &path, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

const TWO_FACTOR_SETTINGS: [(&str, &str); 3] = [
    ("SECURITY_TWO_FACTOR", "true"),
    ("SECURITY_TOTP_SECRETS", "notice-test-secret"),
    ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
];

#[actix_web::test]
async fn two_factor_on_and_off_and_new_recovery_codes_are_told() {
    let app = app_with(&TWO_FACTOR_SETTINGS).await;
    let (email, home) = account_at_home(&app, "tf").await;
    set_up_authenticator(&home).await;
    let on = notice(&app, &email, TWO_FACTOR, "Firefox on Linux", HOME_IP).await;
    assert!(on.contains("Two-factor sign-in was turned on"), "{on}");
    assert!(on.contains("(authenticator)"), "{on}");

    let (status, body) = post(&home, "/tf-setup", "/tf-setup", json!({"setup": "disable"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mails = wait_for_eml(&app.mail_dir, &email, TWO_FACTOR, 2).await;
    let off = mails
        .iter()
        .filter_map(|m| m.part("text/plain"))
        .find(|t| t.contains("turned off"))
        .expect("the notice that it is off");
    assert!(off.contains(&format!("IP address: {HOME_IP}")), "{off}");

    let page = "/mf-recovery-codes";
    let (status, body) = post(&home, page, page, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> = body["response"]["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let text = notice(&app, &email, RECOVERY_CODES, "Firefox on Linux", HOME_IP).await;
    assert!(text.contains("New recovery codes were generated"), "{text}");
    for code in codes {
        assert!(!text.contains(&code), "a recovery code in the mail");
    }
}

#[actix_web::test]
async fn with_their_settings_off_two_factor_and_recovery_code_changes_send_nothing() {
    let mut settings = TWO_FACTOR_SETTINGS.to_vec();
    settings.push(("SECURITY_SEND_NOTICE_TWO_FACTOR", "false"));
    settings.push(("SECURITY_SEND_NOTICE_RECOVERY_CODES", "false"));
    let app = app_with(&settings).await;
    let (email, home) = account_at_home(&app, "tfoff").await;
    set_up_authenticator(&home).await;
    let page = "/mf-recovery-codes";
    assert_eq!(post(&home, page, page, json!({})).await.0, StatusCode::OK);
    no_notice(&app, &email, TWO_FACTOR).await;
    no_notice(&app, &email, RECOVERY_CODES).await;
}

#[actix_web::test]
async fn adding_and_removing_a_passkey_is_told() {
    let app = app_with(&[("SECURITY_WEBAUTHN", "true")]).await;
    let (email, home) = account_at_home(&app, "pk").await;
    let page = "/wan-register";
    let (status, begun) = post(
        &home,
        page,
        page,
        json!({"name": "Work key", "usage": "first"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let mut key = SoftPasskey::new(&app.address);
    let answer = key.create(&begun["response"]["credential_options"]);
    let state = begun["response"]["wan_state"].as_str().unwrap();
    let path = format!("{page}/{state}");
    let body = json!({"credential": answer.to_string()});
    let (status, finished) = post(&home, page, &path, body).await;
    assert_eq!(status, StatusCode::OK, "{finished}");
    let added = notice(&app, &email, PASSKEY, "Firefox on Linux", HOME_IP).await;
    assert!(
        added.contains("A passkey named \u{201c}Work key\u{201d} was added"),
        "{added}"
    );

    let (status, body) = post(&home, page, "/wan-delete", json!({"name": "Work key"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mails = wait_for_eml(&app.mail_dir, &email, PASSKEY, 2).await;
    assert!(mails.iter().any(|m| m
        .part("text/plain")
        .is_some_and(|t| t.contains("\u{201c}Work key\u{201d} was removed"))));
}

#[actix_web::test]
async fn the_change_of_email_notice_names_the_client_that_opened_the_link() {
    let app = app_with(&[("SECURITY_CHANGE_EMAIL", "true")]).await;
    let (old, home) = account_at_home(&app, "moving").await;
    let new = new_email("moved");
    let (status, _) = post(
        &home,
        "/change-email",
        "/change-email",
        json!({"email": new}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let link = wait_for_eml(&app.mail_dir, &new, "Confirm your new email address", 1).await[0]
        .link_path("/change-email/");
    let phone = browser(&app, SAFARI, AWAY_IP);
    assert_eq!(phone.get(&link).await.status(), StatusCode::FOUND);
    let text = notice(&app, &old, EMAIL_CHANGED, "Safari on iPhone", AWAY_IP).await;
    assert!(text.contains("/change-email/revert/"), "{text}");
}

#[actix_web::test]
async fn latchkeys_own_notices_are_off_unless_switched_on() {
    // No SECURITY_SEND_NOTICE_* at all: Flask-Security sends none of these.
    let mut settings = TWO_FACTOR_SETTINGS.to_vec();
    settings.push(("TRUSTED_PROXY_COUNT", "1"));
    let app = spawn_app_with(&settings).await;
    let (email, home) = account_at_home(&app, "default").await;
    set_up_authenticator(&home).await;
    let page = "/mf-recovery-codes";
    assert_eq!(post(&home, page, page, json!({})).await.0, StatusCode::OK);
    no_notice(&app, &email, TWO_FACTOR).await;
    no_notice(&app, &email, RECOVERY_CODES).await;
}
