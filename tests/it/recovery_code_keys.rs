//! Recovery codes a Flask-Security app stored encrypted (`SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS`,
//! `SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL`): Flask-Security's own `MfRecoveryCodesUtil`, run
//! from the reference app's virtualenv, encrypts the codes with a list of Fernet keys into the
//! column as Flask-Security stores it; Latchkey accepts each once, refuses a wrong, used,
//! expired or foreign one, and reads codes made under an older key after a rotation.
//!
//! The virtualenv is `REF_VENV` or `~/.cache/latchkey-ref-venv` ([`reference::python`]).
//! These tests fail, never skip, when something they need is missing.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::reference;
use common::{new_email, set_up_authenticator, spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::db::schema::user;
use reqwest::StatusCode;
use serde_json::json;

/// Flask-Security 5.9's encryption of recovery codes, as `create_recovery_codes` stores them:
/// `MfRecoveryCodesUtil._encrypt_codes` under an app whose
/// `SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS` is the given list (the first key encrypts),
/// joined with commas as its `AsaList` column does. `age` seconds back-dates the tokens (the
/// clock Fernet reads is moved back while it encrypts).
const ENCRYPT: &str = r#"
import json, sys, time
from flask import Flask
from flask_security.recovery_codes import MfRecoveryCodesUtil

req = json.load(sys.stdin)
app = Flask("encrypt")
app.config["SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS"] = req["keys"]
with app.app_context():
    util = MfRecoveryCodesUtil(app)
    assert util.cryptor is not None, "Flask-Security did not set up its MultiFernet"
    real = time.time
    time.time = lambda: real() - req["age"]
    try:
        stored = util._encrypt_codes(req["codes"])
    finally:
        time.time = real
print(",".join(stored))
"#;

fn flask_encrypted(keys: &[&str], codes: &[&str], age: u64) -> String {
    let python = reference::python();
    let mut child = Command::new(&python)
        .arg("-c")
        .arg(ENCRYPT)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let request = json!({"keys": keys, "codes": codes, "age": age}).to_string();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Flask-Security's encryption failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stored = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(stored.split(',').count(), codes.len(), "{stored}");
    for token in stored.split(',') {
        assert!(token.starts_with("gAAAAA"), "a Fernet token: {token}");
    }
    stored
}

fn new_key() -> String {
    fernet::Fernet::generate_key()
}

fn now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

async fn app_with(extra: &[(&str, &str)]) -> TestApp {
    let mut all = vec![
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "recovery-code-keys-test-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
    ];
    all.extend_from_slice(extra);
    spawn_app_with(&all).await
}

/// A new account with an authenticator, its recovery codes replaced by `stored`.
async fn account_with_codes(app: &TestApp, tag: &str, stored: &str) -> String {
    let email = new_email(tag);
    app.create_user(&email, PASSWORD).await;
    let (c, step) = password_step(app, &email).await;
    assert_eq!(step["tf_required"], false);
    set_up_authenticator(&c).await;
    set_codes(app, &email, stored);
    email
}

fn set_codes(app: &TestApp, email: &str, stored: &str) {
    let id = app.user(email).id;
    diesel::update(user::table.find(id))
        .set(user::mf_recovery_codes.eq(Some(stored)))
        .execute(&mut app.db())
        .unwrap();
}

fn stored_codes(app: &TestApp, email: &str) -> Vec<String> {
    app.user(email)
        .mf_recovery_codes
        .unwrap_or_default()
        .split(',')
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The password step of a login: the second factor is asked for.
async fn password_step(app: &TestApp, email: &str) -> (TestClient, serde_json::Value) {
    let c = app.client();
    let r = c
        .post_json_via(
            "/login",
            "/login",
            &json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    (c, body["response"].clone())
}

/// A login with `code` instead of the second factor: its status, and whether it logged in.
async fn login_with_code(app: &TestApp, email: &str, code: &str) -> (StatusCode, bool) {
    let (c, step) = password_step(app, email).await;
    assert_eq!(step["tf_required"], true, "{step}");
    let status = recovery(&c, code).await;
    (status, c.is_authenticated().await)
}

async fn recovery(c: &TestClient, code: &str) -> StatusCode {
    c.post_json_via("/mf-recovery", "/mf-recovery", &json!({"code": code}))
        .await
        .status()
}

#[actix_web::test]
async fn codes_flask_security_encrypted_work_once_each_and_are_hashed_at_first_use() {
    let key = new_key();
    let codes = ["1a2b-3c4d-5e6f", "0f0f-1e1e-2d2d", "abcd-ef01-2345"];
    let stored = flask_encrypted(&[&key], &codes, 0);
    let keys = json!([key]).to_string();
    let app = app_with(&[("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &keys)]).await;
    let email = account_with_codes(&app, "fernet", &stored).await;

    assert_eq!(
        login_with_code(&app, &email, codes[0]).await,
        (StatusCode::OK, true)
    );
    // The others are Latchkey's dated digests now: no token, no code in clear.
    let left = stored_codes(&app, &email);
    assert_eq!(left.len(), 2, "{left:?}");
    for entry in &left {
        assert!(entry.starts_with("lk2$"), "{entry}");
        for code in codes {
            assert!(!entry.contains(code), "{entry}");
        }
    }
    assert_eq!(
        login_with_code(&app, &email, codes[0]).await,
        (StatusCode::BAD_REQUEST, false),
        "used once"
    );
    assert_eq!(
        login_with_code(&app, &email, "dead-beef-0000").await,
        (StatusCode::BAD_REQUEST, false),
        "a code never given"
    );
    // Typed in capitals, as a hex code may be.
    assert_eq!(
        login_with_code(&app, &email, &codes[1].to_uppercase()).await,
        (StatusCode::OK, true)
    );
    assert_eq!(
        login_with_code(&app, &email, codes[2]).await,
        (StatusCode::OK, true)
    );
    assert!(stored_codes(&app, &email).is_empty());
}

#[actix_web::test]
async fn an_encrypted_code_used_by_two_requests_at_once_works_once() {
    let key = new_key();
    let codes = ["aaaa-bbbb-cccc", "dddd-eeee-ffff"];
    let stored = flask_encrypted(&[&key], &codes, 0);
    let app = app_with(&[("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &key)]).await;
    let email = account_with_codes(&app, "racer", &stored).await;
    let mut logins = Vec::new();
    for _ in 0..4 {
        logins.push(Arc::new(password_step(&app, &email).await.0));
    }
    let tries: Vec<_> = logins
        .iter()
        .map(|c| {
            let c = c.clone();
            actix_web::rt::spawn(async move { recovery(&c, codes[0]).await })
        })
        .collect();
    let mut won = 0;
    for t in tries {
        match t.await.unwrap() {
            StatusCode::OK => won += 1,
            StatusCode::BAD_REQUEST | StatusCode::TOO_MANY_REQUESTS => {}
            other => panic!("{other}"),
        }
    }
    assert_eq!(won, 1, "one recovery code, one login");
    assert_eq!(stored_codes(&app, &email).len(), 1);
}

#[actix_web::test]
async fn after_a_key_rotation_codes_under_the_old_key_still_work() {
    let (old, new, foreign) = (new_key(), new_key(), new_key());
    let old_codes = ["0123-4567-89ab", "cdef-0123-4567"];
    let new_codes = ["1111-2222-3333"];
    let stored = [
        flask_encrypted(&[&old], &old_codes, 0),
        // Made after the rotation: the new key first, the old one kept to decrypt.
        flask_encrypted(&[&new, &old], &new_codes, 0),
        flask_encrypted(&[&foreign], &["9999-8888-7777"], 0),
    ]
    .join(",");
    let keys = json!([new, old]).to_string();
    let app = app_with(&[("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &keys)]).await;
    let email = account_with_codes(&app, "rotated", &stored).await;

    assert_eq!(
        login_with_code(&app, &email, old_codes[0]).await,
        (StatusCode::OK, true)
    );
    assert_eq!(
        login_with_code(&app, &email, new_codes[0]).await,
        (StatusCode::OK, true)
    );
    assert_eq!(
        login_with_code(&app, &email, "9999-8888-7777").await,
        (StatusCode::BAD_REQUEST, false),
        "under a key that is not configured"
    );
    // The code no key opens is kept as it was (its key may come back); the other is hashed.
    let left = stored_codes(&app, &email);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left[0].starts_with("lk2$"), "{left:?}");
    assert!(left[1].starts_with("gAAAAA"), "{left:?}");
    assert_eq!(
        login_with_code(&app, &email, old_codes[1]).await,
        (StatusCode::OK, true)
    );
}

#[actix_web::test]
async fn with_a_ttl_an_expired_encrypted_code_is_refused_and_the_ttl_outlives_hashing() {
    let key = new_key();
    let stored = [
        flask_encrypted(&[&key], &["0000-1111-2222"], 7_200),
        flask_encrypted(&[&key], &["3333-4444-5555"], 0),
        flask_encrypted(&[&key], &["6666-7777-8888"], 1_800),
    ]
    .join(",");
    // One key, given bare rather than as a list.
    let app = app_with(&[
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &key),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL", "3600"),
    ])
    .await;
    let email = account_with_codes(&app, "ttl", &stored).await;

    assert_eq!(
        login_with_code(&app, &email, "0000-1111-2222").await,
        (StatusCode::BAD_REQUEST, false),
        "two hours old, the TTL is one"
    );
    assert_eq!(
        login_with_code(&app, &email, "3333-4444-5555").await,
        (StatusCode::OK, true)
    );
    // The half-hour-old code is hashed with its token's time.
    let left = stored_codes(&app, &email);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].starts_with("gAAAAA"),
        "the expired token stays: {left:?}"
    );
    let made: u64 = left[1]
        .strip_prefix("lk2$")
        .and_then(|rest| rest.split('$').next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a dated digest: {left:?}"));
    assert!(
        (now() - 1_800 - 120..=now() - 1_800 + 5).contains(&made),
        "{made}"
    );

    // The same database under a TTL of 20 minutes: the code, now a digest, is too old.
    let shorter = spawn_app_with(&[
        ("DATABASE_URL", &app.database_url),
        ("SECRET_KEY", &app.secret_key),
        ("SECURITY_PASSWORD_SALT", &app.salt),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "recovery-code-keys-test-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &key),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL", "1200"),
    ])
    .await;
    assert_eq!(
        login_with_code(&shorter, &email, "6666-7777-8888").await,
        (StatusCode::BAD_REQUEST, false)
    );
    drop(shorter);
    // Under the hour it still works.
    assert_eq!(
        login_with_code(&app, &email, "6666-7777-8888").await,
        (StatusCode::OK, true)
    );
}

#[actix_web::test]
async fn without_the_keys_encrypted_codes_are_refused_and_kept() {
    let key = new_key();
    let stored = flask_encrypted(&[&key], &["abab-cdcd-efef", "1212-3434-5656"], 0);
    let app = app_with(&[]).await;
    let email = account_with_codes(&app, "nokeys", &stored).await;
    assert_eq!(
        login_with_code(&app, &email, "abab-cdcd-efef").await,
        (StatusCode::BAD_REQUEST, false)
    );
    assert_eq!(
        app.user(&email).mf_recovery_codes.as_deref(),
        Some(stored.as_str())
    );
}

#[actix_web::test]
async fn codes_latchkey_makes_with_the_keys_set_are_dated_digests() {
    let key = new_key();
    let app = app_with(&[
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES_KEYS", &key),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODE_TTL", "3600"),
    ])
    .await;
    let email = new_email("made");
    app.create_user(&email, PASSWORD).await;
    let (c, _) = password_step(&app, &email).await;
    set_up_authenticator(&c).await;
    let r = c
        .post_json_via("/mf-recovery-codes", "/mf-recovery-codes", &json!({}))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let codes: Vec<String> =
        serde_json::from_value(body["response"]["recovery_codes"].clone()).unwrap();
    let stored = stored_codes(&app, &email);
    assert_eq!(stored.len(), codes.len());
    for (entry, code) in stored.iter().zip(&codes) {
        assert!(entry.starts_with("lk2$"), "{entry}");
        assert!(!entry.contains(code.as_str()), "{entry}");
    }
    assert_eq!(
        login_with_code(&app, &email, &codes[0]).await,
        (StatusCode::OK, true)
    );
}
