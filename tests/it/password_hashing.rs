//! `SECURITY_PASSWORD_HASH` and re-hashing at login (ASVS 2.4): argon2id for new
//! passwords when configured, Flask-Security's argon2 hashes verifying, and a stored hash
//! in another scheme or cost replaced at the next successful login — without ending the
//! user's other sessions.

use crate::common;

use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::db::schema::user;
use reqwest::StatusCode;

/// From `src/auth/hashing.rs`: made by Flask-Security-Too 5.9.2 with
/// `SECURITY_PASSWORD_HASH="argon2"`, salt `test-salt-1234`, for NFKD("pässwörd-Ω ﬁ").
const FLASK_ARGON2_HASH: &str = "$argon2id$v=19$m=65536,t=3,p=4$xBgjZEyJEcK4t/Y+J8RYiw$wReCMXJOwBPYUmx1P/3AbwIwwlD6wbyGkdATXbz9X1U";
const FLASK_SALT: &str = "test-salt-1234";
const FLASK_PASSWORD: &str = "p\u{e4}ssw\u{f6}rd-\u{3a9} \u{fb01}";

const OUR_ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

fn set_hash(app: &TestApp, email: &str, hash: &str) {
    diesel::update(user::table.filter(user::email.eq(email)))
        .set(user::password.eq(hash))
        .execute(&mut app.db())
        .unwrap();
}

/// Another Latchkey on the same database and secrets, with `overrides`.
async fn same_database(app: &TestApp, overrides: &[(&str, &str)]) -> TestApp {
    let mut config = vec![
        ("DATABASE_URL", app.database_url.as_str()),
        ("SECRET_KEY", app.secret_key.as_str()),
        ("SECURITY_PASSWORD_SALT", app.salt.as_str()),
    ];
    config.extend_from_slice(overrides);
    spawn_app_with(&config).await
}

async fn wrong_password_refused(app: &TestApp, email: &str) {
    let browser = app.client();
    let r = browser.login(email, "not-the-password", false).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(!browser.is_authenticated().await);
}

#[actix_web::test]
async fn argon2_config_hashes_new_passwords_as_argon2id() {
    let app = spawn_app_with(&[
        ("SECURITY_PASSWORD_HASH", "argon2"),
        ("SECURITY_CHANGEABLE", "true"),
    ])
    .await;
    let email = new_email("argon");
    app.create_user(&email, PASSWORD).await;
    let stored = app.user(&email).password.unwrap();
    assert!(stored.starts_with(OUR_ARGON2), "{stored}");

    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    assert_eq!(
        app.user(&email).password.unwrap(),
        stored,
        "current: not re-hashed"
    );
    wrong_password_refused(&app, &email).await;

    let r = browser.change_password(PASSWORD, "another-pass-77").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    let changed = app.user(&email).password.unwrap();
    assert!(
        changed.starts_with(OUR_ARGON2) && changed != stored,
        "{changed}"
    );
}

#[actix_web::test]
async fn a_flask_security_argon2_hash_logs_in_and_is_upgraded() {
    for (scheme, upgraded_prefix) in [("bcrypt", "$2b$04$"), ("argon2", OUR_ARGON2)] {
        let app = spawn_app_with(&[
            ("SECURITY_PASSWORD_SALT", FLASK_SALT),
            ("SECURITY_PASSWORD_HASH", scheme),
        ])
        .await;
        let email = new_email("flask");
        app.create_user(&email, PASSWORD).await;
        set_hash(&app, &email, FLASK_ARGON2_HASH);

        wrong_password_refused(&app, &email).await;
        assert_eq!(
            app.user(&email).password.unwrap(),
            FLASK_ARGON2_HASH,
            "no upgrade on failure"
        );

        // Typed precomposed or decomposed, it is the same password after NFKD.
        let first = app.logged_in_client(&email, FLASK_PASSWORD, false).await;
        let upgraded = app.user(&email).password.unwrap();
        assert!(
            upgraded.starts_with(upgraded_prefix),
            "{scheme}: {upgraded}"
        );
        assert!(first.is_authenticated().await);
        let decomposed = "pa\u{308}sswo\u{308}rd-\u{3a9} fi";
        app.logged_in_client(&email, decomposed, false).await;
        assert_eq!(
            app.user(&email).password.unwrap(),
            upgraded,
            "upgraded once"
        );
    }
}

/// Logs `email` in from two browsers (one with remember-me), then logs in on `upgrader`,
/// which re-hashes; checks the hash changed to `prefix` and both earlier logins still work.
async fn upgrade_keeps_sessions(old: &TestApp, upgrader: &TestApp, email: &str, prefix: &str) {
    let before = old.user(email).password.unwrap();
    let uniquifier = old.user(email).fs_uniquifier;
    let session = old.logged_in_client(email, PASSWORD, false).await;
    let remembered = old.logged_in_client(email, PASSWORD, true).await;
    let remember_cookie = remembered
        .cookie("remember_token")
        .expect("remember cookie");
    assert_eq!(
        old.user(email).password.unwrap(),
        before,
        "the old app has nothing to upgrade"
    );

    wrong_password_refused(upgrader, email).await;
    assert_eq!(upgrader.user(email).password.unwrap(), before);
    upgrader.logged_in_client(email, PASSWORD, false).await;

    let after = upgrader.user(email);
    assert_ne!(after.password.clone().unwrap(), before);
    assert!(
        after.password.clone().unwrap().starts_with(prefix),
        "{}",
        after.password.clone().unwrap()
    );
    assert_eq!(after.fs_uniquifier, uniquifier, "no login ends");
    assert!(session.is_authenticated().await, "the old session goes on");
    assert!(remembered.is_authenticated().await);
    let replay = TestClient::new(&old.address);
    replay.set_cookie("remember_token", &remember_cookie);
    assert!(replay.is_authenticated().await, "remember-me goes on");

    // Now current: the next login leaves it alone.
    upgrader.logged_in_client(email, PASSWORD, false).await;
    assert_eq!(
        upgrader.user(email).password.unwrap(),
        after.password.clone().unwrap()
    );
}

#[actix_web::test]
async fn bcrypt_is_upgraded_to_argon2_at_login_without_ending_sessions() {
    let old = spawn_app_with(&[]).await;
    let email = new_email("upgrade");
    old.create_user(&email, PASSWORD).await;
    assert!(old.user(&email).password.unwrap().starts_with("$2b$04$"));
    let argon = same_database(&old, &[("SECURITY_PASSWORD_HASH", "argon2")]).await;

    upgrade_keeps_sessions(&old, &argon, &email, OUR_ARGON2).await;
}

#[actix_web::test]
async fn bcrypt_cost_4_is_upgraded_to_5_at_login_without_ending_sessions() {
    let old = spawn_app_with(&[("SECURITY_BCRYPT_ROUNDS", "4")]).await;
    let email = new_email("cost");
    old.create_user(&email, PASSWORD).await;
    let cost5 = same_database(&old, &[("SECURITY_BCRYPT_ROUNDS", "5")]).await;

    upgrade_keeps_sessions(&old, &cost5, &email, "$2b$05$").await;
}

#[actix_web::test]
async fn argon2_is_upgraded_back_to_bcrypt_when_bcrypt_is_configured() {
    let argon = spawn_app_with(&[("SECURITY_PASSWORD_HASH", "argon2")]).await;
    let email = new_email("down");
    argon.create_user(&email, PASSWORD).await;
    let bcrypt = same_database(&argon, &[]).await;

    upgrade_keeps_sessions(&argon, &bcrypt, &email, "$2b$04$").await;
}

#[actix_web::test]
async fn json_login_upgrades_too() {
    let old = spawn_app_with(&[]).await;
    let email = new_email("jsonup");
    old.create_user(&email, PASSWORD).await;
    let argon = same_database(&old, &[("SECURITY_PASSWORD_HASH", "argon2")]).await;
    let browser = argon.client();
    let csrf = browser.json_csrf_token().await;
    let r = browser
        .post_json(
            "/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
            Some(&csrf),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(argon.user(&email).password.unwrap().starts_with(OUR_ARGON2));
}
