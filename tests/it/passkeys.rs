//! Passkeys (`SECURITY_WEBAUTHN`) over HTTP with a software authenticator
//! (`common::passkey`), on SQLite and (with `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL:
//! registering and signing in, as a first factor and as the second after the password;
//! where Latchkey is stricter than Flask-Security (a ceremony finishes once and only in
//! the session that began it, a counter that goes backwards is refused, answers go through
//! the login throttle); re-authentication; deleting; sign-up with a passkey and no
//! password; and passkeys that Flask-Security registered (`tests/fixtures/flask_passkeys.json`,
//! made by `tests/fixtures/make_passkey_fixtures.py` with the reference app).

use crate::common;
use crate::mail_support;

use common::passkey::{Answer, SoftPasskey};
use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::db::schema::{user, webauthn};
use mail_support::wait_for_eml;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

fn settings<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_CHANGEABLE", "true"),
    ];
    all.extend_from_slice(extra);
    all
}

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    spawn_app_with(&settings(extra)).await
}

async fn post_from(c: &TestClient, token_from: &str, path: &str, body: Value) -> Response {
    c.post_json_via(token_from, path, &body).await
}

async fn json(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A logged-in client of a new account.
async fn account(app: &TestApp, tag: &str) -> (String, TestClient) {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    (email, c)
}

/// The two steps that make a passkey at `page` (`/wan-register`, `/wan-signup`): begins with
/// `body`, answers with a new software passkey. The second step's answer, and the passkey.
async fn make_passkey(
    app: &TestApp,
    c: &TestClient,
    page: &str,
    body: Value,
) -> (StatusCode, Value, SoftPasskey) {
    let (status, begun) = json(post_from(c, page, page, body).await).await;
    assert_eq!(status, StatusCode::OK, "{begun}");
    let mut key = SoftPasskey::new(&app.address);
    let answer = key.create(&begun["response"]["credential_options"]);
    let state = begun["response"]["wan_state"].as_str().unwrap();
    let (status, finished) = json(
        post_from(
            c,
            page,
            &format!("{page}/{state}"),
            json!({"credential": answer.to_string()}),
        )
        .await,
    )
    .await;
    (status, finished, key)
}

/// Adds a passkey for the logged-in `c`.
async fn register(app: &TestApp, c: &TestClient, name: &str, usage: &str) -> SoftPasskey {
    let (status, body, key) = make_passkey(
        app,
        c,
        "/wan-register",
        json!({"name": name, "usage": usage}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    key
}

/// `POST /wan-signin` (with an identity, or none: a discoverable passkey).
async fn begin(c: &TestClient, identity: Option<&str>) -> (Value, String) {
    let body = match identity {
        Some(identity) => json!({"identity": identity}),
        None => json!({}),
    };
    let (status, body) = json(post_from(c, "/wan-signin", "/wan-signin", body).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["response"];
    (
        r["credential_options"].clone(),
        r["wan_state"].as_str().unwrap().to_owned(),
    )
}

async fn finish(c: &TestClient, state: &str, answer: &Value) -> (StatusCode, Value) {
    json(
        post_from(
            c,
            "/wan-signin",
            &format!("/wan-signin/{state}"),
            json!({"credential": answer.to_string()}),
        )
        .await,
    )
    .await
}

fn credential_error(body: &Value) -> String {
    body["response"]["field_errors"]["credential"][0]
        .as_str()
        .or_else(|| body["response"]["errors"][0].as_str())
        .unwrap_or_default()
        .to_owned()
}

fn stored_count(app: &TestApp, email: &str) -> Option<i32> {
    let id = app.user(email).id;
    webauthn::table
        .filter(webauthn::user_id.eq(id))
        .select(webauthn::sign_count)
        .first(&mut app.db())
        .unwrap()
}

#[actix_web::test]
async fn a_passkey_registered_on_the_account_signs_in_on_its_own() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-first").await;
    let mut key = register(&app, &c, "laptop", "first").await;

    // Stored as Flask-Security stores it; the user got a 32-hex-character handle.
    let handle = app.user(&email).fs_webauthn_user_handle.unwrap();
    assert_eq!(handle.len(), 32);
    assert_eq!(key.user_handle.as_deref(), Some(handle.as_bytes()));
    let (status, listed) = json(c.get_json("/wan-register").await).await;
    assert_eq!(status, StatusCode::OK);
    let listed = &listed["response"]["registered_credentials"];
    assert_eq!(listed[0]["name"], "laptop");
    assert_eq!(listed[0]["usage"], "first");
    assert_eq!(listed[0]["transports"], json!(["internal"]));
    assert_eq!(listed[0]["discoverable"], true);
    let page = c.get("/profile").await.text().await.unwrap();
    assert!(page.contains("laptop"), "the account page lists it");

    // With the identity: only this account's passkeys are offered.
    let s = app.client();
    let (options, state) = begin(&s, Some(&email)).await;
    assert_eq!(options["rpId"], "127.0.0.1");
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["response"]["tf_required"], false);
    assert_eq!(body["response"]["post_login_url"], "/");
    assert!(s.is_authenticated().await);
    assert_eq!(stored_count(&app, &email), Some(1));

    // Without it (a discoverable passkey), and as an HTML form.
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    assert_eq!(options["allowCredentials"], json!([]));
    let csrf = s.csrf_token("/wan-signin").await;
    let answer = key.get(&options).to_string();
    let r = s
        .post_form(
            &format!("/wan-signin/{state}"),
            &[("csrf_token", &csrf), ("credential", &answer)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(s.is_authenticated().await);
    assert_eq!(stored_count(&app, &email), Some(2));
}

#[actix_web::test]
async fn an_answer_is_accepted_once_even_from_a_passkey_without_a_counter() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-replay").await;
    let mut key = register(&app, &c, "no-counter", "first").await;
    let zero = Answer {
        sign_count: Some(0),
        ..Answer::default()
    };

    let s = app.client();
    let (options, state) = begin(&s, Some(&email)).await;
    let answer = key.get_with(&options, &zero);
    let (status, body) = finish(&s, &state, &answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        stored_count(&app, &email),
        Some(0),
        "a counter-less passkey"
    );

    // The same answer again, in the same session and in a new one: the ceremony is gone.
    let (status, body) = finish(&s, &state, &answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let other = app.client();
    let (status, _) = finish(&other, &state, &answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(!other.is_authenticated().await);

    // A new ceremony with the same counter-less passkey still works.
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &key.get_with(&options, &zero)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn a_ceremony_finishes_only_in_the_session_that_began_it_and_before_it_expires() {
    let app = app_with(&[("SECURITY_WAN_SIGNIN_WITHIN", "2 seconds")]).await;
    let (email, c) = account(&app, "wan-bound").await;
    let mut key = register(&app, &c, "phone", "first").await;

    let victim = app.client();
    let (options, state) = begin(&victim, Some(&email)).await;
    let answer = key.get(&options);
    // A stranger holding the state token and the answer gets nothing...
    let stranger = app.client();
    let (status, body) = finish(&stranger, &state, &answer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!stranger.is_authenticated().await);
    // ...and has not used it up.
    let (status, body) = finish(&victim, &state, &answer).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Too late: refused, in Flask-Security's words.
    let late = app.client();
    let (options, state) = begin(&late, Some(&email)).await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, body) = finish(&late, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["response"]["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("Passkey operations must be completed within 2 seconds"),
        "{body}"
    );
}

#[actix_web::test]
async fn a_counter_that_goes_backwards_is_refused_as_a_possible_copy() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-clone").await;
    let mut key = register(&app, &c, "token", "first").await;
    let s = app.client();
    let (options, state) = begin(&s, Some(&email)).await;
    let at = |n| Answer {
        sign_count: Some(n),
        ..Answer::default()
    };
    let (status, _) = finish(&s, &state, &key.get_with(&options, &at(5))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_count(&app, &email), Some(5));

    for count in [3, 5] {
        let copy = app.client();
        let (options, state) = begin(&copy, Some(&email)).await;
        let (status, body) = finish(&copy, &state, &key.get_with(&options, &at(count))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{count}: {body}");
        assert!(
            credential_error(&body).contains("may have been copied"),
            "{body}"
        );
        assert!(!copy.is_authenticated().await);
    }
    assert_eq!(stored_count(&app, &email), Some(5), "unchanged");
}

#[actix_web::test]
async fn answers_for_another_origin_or_relying_party_are_refused() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-origin").await;
    let mut key = register(&app, &c, "laptop", "first").await;
    for (answer, cause) in [
        (
            Answer {
                origin: Some("http://evil.example".into()),
                ..Answer::default()
            },
            "Unexpected client data origin",
        ),
        (
            Answer {
                rp_id: Some("evil.example".into()),
                ..Answer::default()
            },
            "Unexpected RP ID hash",
        ),
    ] {
        let s = app.client();
        let (options, state) = begin(&s, Some(&email)).await;
        let (status, body) = finish(&s, &state, &key.get_with(&options, &answer)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            credential_error(&body),
            format!("Could not verify passkey: {cause}.")
        );
        assert!(!s.is_authenticated().await);
    }
    // A passkey the server never saw.
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &SoftPasskey::new(&app.address).get(&options)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(credential_error(&body), "Unregistered passkey.");
}

#[actix_web::test]
async fn wrong_passkey_answers_are_throttled_with_the_password() {
    let app = app_with(&[
        ("SECURITY_LOGIN_FREE_ATTEMPTS", "3"),
        ("SECURITY_LOGIN_DELAY", "60 seconds"),
    ])
    .await;
    let (email, c) = account(&app, "wan-throttle").await;
    let mut key = register(&app, &c, "laptop", "first").await;
    let forged = Answer {
        origin: Some("http://evil.example".into()),
        ..Answer::default()
    };
    let s = app.client();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let (options, state) = begin(&s, Some(&email)).await;
        let (status, _) = finish(&s, &state, &key.get_with(&options, &forged)).await;
        statuses.push(status);
    }
    assert_eq!(
        statuses,
        [
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_REQUEST,
            StatusCode::TOO_MANY_REQUESTS,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
    // The account is throttled for this address: a right passkey and the right password
    // wait too.
    let (options, state) = begin(&s, Some(&email)).await;
    let (status, _) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let r = s.login_json(&email, PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(!s.is_authenticated().await);
}

#[actix_web::test]
async fn a_second_factor_passkey_completes_a_password_login_and_nothing_else() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-second").await;
    let mut key = register(&app, &c, "yubikey", "secondary").await;

    // The password alone: a pending login, not a login.
    let s = app.client();
    let (status, body) = json(s.login_json(&email, PASSWORD).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let step = &body["response"];
    assert_eq!(step["tf_required"], true);
    assert_eq!(step["tf_method"], "webauthn");
    assert_eq!(step["tf_signin_url"], "/wan-signin");
    assert!(!s.is_authenticated().await);
    let (_, form) = json(s.get_json("/wan-signin").await).await;
    assert_eq!(form["response"]["is_secondary"], true);
    let (options, state) = begin(&s, None).await;
    assert_eq!(options["allowCredentials"].as_array().unwrap().len(), 1);
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.is_authenticated().await);

    // It is no first factor...
    let anon = app.client();
    let (options, state) = begin(&anon, Some(&email)).await;
    let (status, body) = finish(&anon, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        credential_error(&body),
        "Passkey not registered for this use (first or secondary)"
    );
    // ...and another user's passkey does not finish this user's login.
    let (_, other) = account(&app, "wan-other").await;
    let mut other_key = register(&app, &other, "theirs", "secondary").await;
    let s = app.client();
    s.login_json(&email, PASSWORD).await;
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &other_key.get(&options)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(!s.is_authenticated().await);

    // HTML: the password form sends the browser to the passkey page.
    let h = app.client();
    let r = h.login(&email, PASSWORD, false).await;
    assert_eq!(common::location(&r).as_deref(), Some("/wan-signin"));
}

/// `/wan-verify` in two steps with `key`.
async fn verify(c: &TestClient, key: &mut SoftPasskey) -> (StatusCode, Value) {
    let (status, body) = json(post_from(c, "/wan-verify", "/wan-verify", json!({})).await).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let options = body["response"]["credential_options"].clone();
    let state = body["response"]["wan_state"].as_str().unwrap().to_owned();
    let answer = key.get(&options);
    json(
        post_from(
            c,
            "/wan-verify",
            &format!("/wan-verify/{state}"),
            json!({"credential": answer.to_string()}),
        )
        .await,
    )
    .await
}

#[actix_web::test]
async fn a_passkey_re_authenticates_only_its_owner() {
    let app = app_with(&[
        ("SECURITY_FRESHNESS", "1 seconds"),
        ("SECURITY_FRESHNESS_GRACE_PERIOD", "0 seconds"),
    ])
    .await;
    let (_, c) = account(&app, "wan-verify").await;
    let mut key = register(&app, &c, "laptop", "first").await;
    let (_, other) = account(&app, "wan-verify-other").await;
    let mut other_key = register(&app, &other, "theirs", "first").await;
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        c.get_json("/wan-register").await.status(),
        StatusCode::UNAUTHORIZED,
        "stale"
    );

    let (status, _) = verify(&c, &mut other_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another user's passkey");
    assert_eq!(
        c.get_json("/wan-register").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (status, body) = verify(&c, &mut key).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(c.get_json("/wan-register").await.status(), StatusCode::OK);
}

#[actix_web::test]
async fn a_passkey_re_authentication_follows_next_to_a_host_the_redirect_keys_allow() {
    let allowed = "https://app.example.com/settings";
    let app = app_with(&[
        ("SECURITY_REDIRECT_BASE_DOMAIN", "example.com"),
        ("SECURITY_REDIRECT_ALLOWED_SUBDOMAINS", "app"),
    ])
    .await;
    let (_, c) = account(&app, "wan-verify-next").await;
    let mut key = register(&app, &c, "laptop", "first").await;
    for (next, then) in [(allowed, allowed), ("https://evil.example/", "/")] {
        let (status, body) =
            json(post_from(&c, "/wan-verify", "/wan-verify", json!({})).await).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let state = body["response"]["wan_state"].as_str().unwrap().to_owned();
        let answer = key.get(&body["response"]["credential_options"]).to_string();
        let token = c.csrf_token("/wan-verify").await;
        let r = c
            .post_form(
                &format!("/wan-verify/{state}"),
                &[
                    ("credential", &answer),
                    ("next", next),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(r.status(), StatusCode::FOUND, "{next}");
        assert_eq!(common::location(&r).as_deref(), Some(then), "{next}");
    }
}

#[actix_web::test]
async fn names_are_unique_per_user_and_deleting_works() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-names").await;
    register(&app, &c, "laptop", "first").await;
    let (status, body) = json(
        post_from(
            &c,
            "/wan-register",
            "/wan-register",
            json!({"name": "laptop", "usage": "first"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["name"][0],
        "laptop is already associated with a passkey."
    );
    let (status, body) = json(
        post_from(
            &c,
            "/wan-register",
            "/wan-delete",
            json!({"name": "desktop"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["response"]["field_errors"]["name"][0],
        "desktop not registered with current user."
    );
    let (status, _) = json(
        post_from(
            &c,
            "/wan-register",
            "/wan-delete",
            json!({"name": "laptop"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = app.user(&email).id;
    let left: i64 = webauthn::table
        .filter(webauthn::user_id.eq(id))
        .count()
        .get_result(&mut app.db())
        .unwrap();
    assert_eq!(left, 0);
}

#[actix_web::test]
async fn the_server_refuses_to_start_while_second_factor_passkeys_would_be_ignored() {
    let app = app_with(&[]).await;
    let (email, c) = account(&app, "wan-off").await;
    register(&app, &c, "yubikey", "secondary").await;
    let db_url = app.database_url.clone();
    let err = common::try_spawn_app_with(&[
        ("DATABASE_URL", db_url.as_str()),
        ("SECURITY_WEBAUTHN", "false"),
    ])
    .await
    .err()
    .expect("refused");
    assert!(err.to_string().contains("SECURITY_WEBAUTHN"), "{err}");
    // The operator's way out: tf-reset removes second-factor passkeys with the rest.
    let out = common::latchkey_command(
        std::path::Path::new(&common::crate_dir(".")),
        &[
            ("DATABASE_URL", db_url.as_str()),
            ("SECRET_KEY", app.secret_key.as_str()),
            ("SECURITY_PASSWORD_SALT", app.salt.as_str()),
        ],
    )
    .args(["users", "tf-reset", &email])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    common::try_spawn_app_with(&[
        ("DATABASE_URL", db_url.as_str()),
        ("SECURITY_WEBAUTHN", "false"),
    ])
    .await
    .expect("starts once no second factor would be ignored");
}

// ---------------------------------------------------------------------------------------
// Sign-up with a passkey
// ---------------------------------------------------------------------------------------

async fn sign_up(app: &TestApp, c: &TestClient, email: &str) -> (StatusCode, Value, SoftPasskey) {
    make_passkey(
        app,
        c,
        "/wan-signup",
        json!({"email": email, "name": "phone"}),
    )
    .await
}

#[actix_web::test]
async fn signing_up_with_a_passkey_confirms_by_mail_and_can_add_a_password_later() {
    let app = app_with(&[
        ("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;
    let email = new_email("wan-signup");
    let c = app.client();
    let (status, body, mut key) = sign_up(&app, &c, &email).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(!c.is_authenticated().await, "confirm first");
    let stored = app.user(&email);
    assert_eq!(stored.password_hash(), None, "no password");
    assert!(stored.confirmed_at.is_none());
    // Not before confirming...
    let s = app.client();
    let (options, state) = begin(&s, Some(&email)).await;
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(credential_error(&body), "Email requires confirmation.");
    // ...then with the link in the welcome mail.
    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let r = app.client().get(&mails[0].link_path("/confirm/")).await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No password guesses in: an empty password never matches.
    let r = app.client().login_json(&email, "").await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // A password can be added without a current one (the session is fresh).
    let (status, body) = json(
        post_from(
            &s,
            "/change",
            "/change",
            json!({"new_password": "brand-new-password-7", "new_password_confirm": "brand-new-password-7"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = app
        .client()
        .login_json(&email, "brand-new-password-7")
        .await;
    assert_eq!(r.status(), StatusCode::OK);
}

#[actix_web::test]
async fn signing_up_without_confirmation_logs_in_and_refuses_a_taken_email() {
    let app = app_with(&[("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true")]).await;
    let email = new_email("wan-signup-now");
    let c = app.client();
    let (status, body, _) = sign_up(&app, &c, &email).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(c.is_authenticated().await);
    let (status, body) = json(
        post_from(
            &app.client(),
            "/wan-signup",
            "/wan-signup",
            json!({"email": email}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["response"]["field_errors"]["email"][0]
            .as_str()
            .unwrap()
            .contains("is already associated with an account"),
        "{body}"
    );
    // The last way in of an account without a password stays.
    let (status, body) =
        json(post_from(&c, "/wan-register", "/wan-delete", json!({"name": "phone"})).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

// ---------------------------------------------------------------------------------------
// Passkeys Flask-Security registered
// ---------------------------------------------------------------------------------------

/// The fixture file: rows and keys the reference app made (see the script).
fn flask_fixtures() -> Value {
    let path = common::crate_dir("tests/fixtures/flask_passkeys.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

#[actix_web::test]
async fn passkeys_registered_by_flask_security_sign_in_to_latchkey() {
    let fixtures = flask_fixtures();
    let app = app_with(&[]).await;
    let email = new_email("flask-wan");
    app.create_user(&email, PASSWORD).await;
    let id = app.user(&email).id;
    let account = &fixtures["user"];
    diesel::update(user::table.find(id))
        .set(user::fs_webauthn_user_handle.eq(account["fs_webauthn_user_handle"].as_str()))
        .execute(&mut app.db())
        .unwrap();
    let mut keys = Vec::new();
    for row in fixtures["webauthn"].as_array().unwrap() {
        let hex = |k: &str| hex::decode(row[k].as_str().unwrap()).unwrap();
        diesel::insert_into(webauthn::table)
            .values((
                webauthn::credential_id.eq(hex("credential_id")),
                webauthn::public_key.eq(hex("public_key")),
                webauthn::sign_count.eq(row["sign_count"].as_i64().map(|n| n as i32)),
                webauthn::transports.eq(row["transports"].as_str()),
                webauthn::backup_state.eq(row["backup_state"].as_bool().unwrap()),
                webauthn::device_type.eq(row["device_type"].as_str().unwrap()),
                webauthn::extensions.eq(row["extensions"].as_str()),
                webauthn::create_datetime.eq(latchkey::db::now()),
                webauthn::lastuse_datetime.eq(latchkey::db::now()),
                webauthn::name.eq(row["name"].as_str().unwrap()),
                webauthn::usage.eq(row["usage"].as_str().unwrap()),
                webauthn::user_id.eq(id),
            ))
            .execute(&mut app.db())
            .unwrap();
        let mut key = SoftPasskey::from_pem(
            &app.address,
            row["private_key_pem"].as_str().unwrap(),
            hex("credential_id"),
        );
        key.sign_count = row["sign_count"].as_i64().unwrap() as u32;
        key.user_handle = Some(
            account["fs_webauthn_user_handle"]
                .as_str()
                .unwrap()
                .as_bytes()
                .to_vec(),
        );
        keys.push((row["usage"].as_str().unwrap().to_owned(), key));
    }
    assert_eq!(keys.len(), 2, "a first-factor and a second-factor passkey");

    // The first-factor one signs in...
    let (_, first) = keys.iter_mut().find(|(u, _)| u == "first").unwrap();
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &first.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // ...and the second-factor one follows the password.
    let (_, second) = keys.iter_mut().find(|(u, _)| u == "secondary").unwrap();
    let s = app.client();
    let (_, body) = json(s.login_json(&email, PASSWORD).await).await;
    assert_eq!(body["response"]["tf_method"], "webauthn");
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &second.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.is_authenticated().await);
    // Latchkey kept the row in Flask's shape: the key bytes are untouched.
    let stored: Vec<u8> = webauthn::table
        .filter(webauthn::usage.eq("first"))
        .filter(webauthn::user_id.eq(id))
        .select(webauthn::public_key)
        .first(&mut app.db())
        .unwrap();
    let row = fixtures["webauthn"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["usage"] == "first")
        .unwrap();
    assert_eq!(hex::encode(stored), row["public_key"].as_str().unwrap());
}

#[actix_web::test]
async fn with_generic_responses_a_typed_identity_lists_no_passkeys() {
    let app = app_with(&[
        ("SECURITY_RETURN_GENERIC_RESPONSES", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = new_email("wan-generic");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let c = app.logged_in_client(&email, PASSWORD, false).await;
    let mut key = register(&app, &c, "laptop", "first").await;
    // The same options for the owner's email and for an address nobody has.
    for identity in [email.as_str(), "nobody@example.com"] {
        let (options, _) = begin(&app.client(), Some(identity)).await;
        assert_eq!(options["allowCredentials"], json!([]), "{identity}");
    }
    // The passkey still signs in (discoverable).
    let s = app.client();
    let (options, state) = begin(&s, Some(&email)).await;
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// "Confirm it's you" offers every way the user has: `/verify` (where a stale login is sent)
/// a passkey beside the password, `/wan-verify` the password beside the passkey; a user
/// without a passkey is offered none.
#[actix_web::test]
async fn the_confirm_page_offers_a_passkey_and_the_passkey_page_the_password() {
    let app = app_with(&[]).await;
    let (_, without) = account(&app, "reauth-nopasskey").await;
    let page = without.get("/verify").await.text().await.unwrap();
    assert!(page.contains("name=\"verify_user_form\""));
    assert!(!page.contains("Other ways to confirm"), "{page}");

    let (_, c) = account(&app, "reauth-passkey").await;
    register(&app, &c, "laptop", "first").await;
    let other_ways = common::other_ways_on(&c, "/verify?next=%2Fsessions").await;
    assert!(
        other_ways.contains("name=\"wan_verify_start_form\""),
        "{other_ways}"
    );
    assert!(
        other_ways.contains("action=\"/wan-verify\""),
        "{other_ways}"
    );
    assert!(
        other_ways.contains("name=\"next\" value=\"&#x2F;sessions\""),
        "{other_ways}"
    );

    let other_ways = common::other_ways_on(&c, "/wan-verify?next=%2Fsessions").await;
    assert!(
        other_ways.contains("href=\"/verify?next=%2Fsessions\""),
        "{other_ways}"
    );
    assert!(!other_ways.contains("wan_verify_start_form"));
}

/// An account without a password (signed up with a passkey) is not shown a password form
/// it cannot fill on `/verify`: it is told it has none and offered its passkey.
#[actix_web::test]
async fn the_confirm_page_asks_a_passwordless_account_for_its_passkey_not_a_password() {
    let app = app_with(&[("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true")]).await;
    let email = new_email("reauth-nopassword");
    let (status, body, mut key) = sign_up(&app, &app.client(), &email).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let s = app.client();
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let page = s
        .get("/verify?next=%2Fsessions")
        .await
        .text()
        .await
        .unwrap();
    assert!(!page.contains("name=\"verify_user_form\""), "{page}");
    assert!(!page.contains("name=\"password\""), "{page}");
    assert!(page.contains("Your account has no password."), "{page}");
    assert!(page.contains("name=\"wan_verify_start_form\""), "{page}");
}

/// A user with a two-factor code and a second-factor passkey is asked for the code, but the
/// code page offers the passkey ("Use a passkey instead"), `/tf-select` lists both, and
/// choosing the passkey there leads to it, which completes the login.
#[actix_web::test]
async fn a_code_and_a_second_factor_passkey_are_both_offered() {
    let app = app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "passkey-and-code"),
    ])
    .await;
    let (email, c) = account(&app, "wan-and-code").await;
    common::set_up_authenticator(&c).await;
    let mut key = register(&app, &c, "yubikey", "secondary").await;

    let s = app.client();
    let r = s.login(&email, PASSWORD, false).await;
    assert_eq!(common::location(&r).as_deref(), Some("/tf-validate"));
    let page = s.get("/tf-validate").await.text().await.unwrap();
    assert!(
        page.contains("href=\"/wan-signin\">Use a passkey instead</a>"),
        "{page}"
    );
    let (_, select) = json(s.get_json("/tf-select").await).await;
    assert_eq!(
        select["response"]["tf_select_methods"],
        json!(["authenticator", "webauthn"])
    );
    let token = s.csrf_token("/tf-select").await;
    let r = s
        .post_form(
            "/tf-select",
            &[("which", "webauthn"), ("csrf_token", token.as_str())],
        )
        .await;
    assert_eq!(common::location(&r).as_deref(), Some("/wan-signin"));
    let (options, state) = begin(&s, None).await;
    let (status, body) = finish(&s, &state, &key.get(&options)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(s.is_authenticated().await);
}
