//! Identities that look alike cannot be made: invisible characters (U+200B, U+202E, U+00AD,
//! U+034F, …) and a leading combining mark are refused in emails and usernames, usernames may
//! not mix scripts (a Cyrillic `а` among Latin letters), and case is folded in Rust, so
//! `Ädmin@` and `ädmin@` are one account on SQLite as on PostgreSQL. Accounts adopted from a
//! database that holds such rows keep logging in, and `latchkey db check` lists them.

use crate::common;

use common::{latchkey_command, spawn_app_with, TestApp, PASSWORD};
use latchkey::auth::PasswordHasher;
use latchkey::config::Secret;
use latchkey::db::models::NewUser;
use latchkey::domain::Password;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn app() -> TestApp {
    spawn_app_with(&[("SECURITY_USERNAME_ENABLE", "true")]).await
}

/// A registration as JSON: the status and the field errors.
async fn register(app: &TestApp, email: &str, username: &str) -> (StatusCode, Value) {
    let c = app.client();
    let token = c.json_csrf_token().await;
    let r = c
        .post_json(
            "/register",
            &json!({"email": email, "username": username, "password": PASSWORD,
                    "password_confirm": PASSWORD}),
            Some(&token),
        )
        .await;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["response"]["field_errors"].clone())
}

#[actix_web::test]
async fn invisible_characters_and_mixed_scripts_cannot_make_a_second_admin() {
    let app = app().await;
    let (status, _) = register(&app, "admin@example.com", "admin").await;
    assert_eq!(status, StatusCode::OK);
    for email in [
        "admin\u{200B}@example.com",
        "ad\u{202E}min@example.com",
        "ad\u{00AD}min@example.com",
        "\u{0301}admin@example.com",
    ] {
        let (status, errors) = register(&app, email, "someone").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{email:?}");
        assert_eq!(errors["email"][0], "Invalid email address", "{email:?}");
    }
    for (username, error) in [
        // A combining grapheme joiner (Mn) is outside SECURITY_USERNAME_ALLOWED_CHARS.
        (
            "ad\u{034F}min",
            "Username can contain only letters and numbers",
        ),
        // The Hangul filler is a letter (Lo) that shows nothing.
        ("ad\u{3164}min", "Username contains illegal characters"),
        (
            "\u{0430}dmin",
            "Username mixes letters of different scripts",
        ),
    ] {
        let (status, errors) = register(&app, "other@example.com", username).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{username:?}");
        assert_eq!(errors["username"][0], error, "{username:?}");
    }
    assert_eq!(app.count_users(), 1);
}

#[actix_web::test]
async fn case_is_folded_the_same_way_on_every_backend() {
    let app = app().await;
    let (status, _) = register(&app, "Ädmin@example.com", "Ürsula").await;
    assert_eq!(status, StatusCode::OK);
    let (status, errors) = register(&app, "ädmin@example.com", "fresh1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(errors["email"][0]
        .as_str()
        .unwrap()
        .ends_with("is already associated with an account."));
    let (status, errors) = register(&app, "fresh@example.com", "üRSULA").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(errors.get("username").is_some(), "{errors}");
    assert_eq!(app.count_users(), 1);
    // Stored folded, found whatever the case typed at login.
    let user = &app.users()[0];
    assert_eq!(user.email.as_deref(), Some("ädmin@example.com"));
    assert_eq!(
        user.username.as_deref(),
        Some("u\u{0308}rsula"),
        "NFKD, folded"
    );
    for identity in ["ÄDMIN@example.com", "ädmin@EXAMPLE.com", "ÜRSULA"] {
        let r = app.client().login(identity, PASSWORD, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{identity}");
    }
}

/// Rows as a Flask-Security database (or an earlier Latchkey) may hold them.
fn adopt(app: &TestApp, rows: &[(&str, Option<&str>)]) {
    let hasher = PasswordHasher::bcrypt(Secret::new(app.salt.clone()), 4).unwrap();
    let mut conn = app.db();
    for (email, username) in rows {
        let new = NewUser {
            email: (*email).to_owned(),
            username: username.map(str::to_owned),
            password: hasher
                .hash_blocking(&Password::normalize(
                    PASSWORD,
                    latchkey::config::NormalizeForm::DEFAULT,
                ))
                .unwrap(),
            active: Some(true),
            fs_uniquifier: common::random_hex(16),
            confirmed_at: None,
        };
        latchkey::db::users::insert(&mut conn, &new).expect("insert an adopted row");
    }
}

#[actix_web::test]
async fn adopted_look_alikes_still_log_in_and_db_check_lists_them() {
    let app = app().await;
    let mut rows = vec![
        ("legacy\u{200B}@adopted.example", None),
        ("Ädmin@adopted.example", Some("Legacy")),
        ("Mixed.Case@adopted.example", Some("l\u{0435}gacy")),
    ];
    // PostgreSQL's unique lower(email) index folds Unicode: only SQLite can hold this pair.
    if app.is_sqlite() {
        rows.push(("ädmin@adopted.example", None));
    }
    adopt(&app, &rows);
    for (identity, how) in [
        (
            "legacy\u{200B}@adopted.example",
            "as stored, invisible character and all",
        ),
        ("Ädmin@adopted.example", "as stored"),
        ("Mixed.Case@adopted.example", "as stored"),
        ("mixed.case@adopted.example", "in another case"),
        ("legacy", "by username, in another case"),
        ("l\u{0435}gacy", "by a mixed-script username, as stored"),
    ] {
        let r = app.client().login(identity, PASSWORD, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{identity:?} {how}");
    }

    let env = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("SECRET_KEY", app.secret_key.as_str()),
        ("SECURITY_PASSWORD_SALT", app.salt.as_str()),
    ];
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey_command(dir.path(), &env)
        .args(["db", "check"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(5), "{stdout}");
    let line = |needle: &str| {
        stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in:\n{stdout}"))
            .to_owned()
    };
    assert!(line("legacy\\u{200b}@adopted.example").starts_with("refused"));
    assert!(line("\"Ädmin@adopted.example\"").starts_with("not-folded"));
    assert!(line("mixes letters").starts_with("refused"));
    if app.is_sqlite() {
        assert!(line("all fold to \"ädmin@adopted.example\"").starts_with("look-alike"));
        // The adopted pair: each still logs in as stored.
        let r = app
            .client()
            .login("ädmin@adopted.example", PASSWORD, false)
            .await;
        assert_eq!(r.status(), StatusCode::FOUND);
    }
}
