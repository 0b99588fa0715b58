//! `SECURITY_TRACKABLE`: each login updates the user's login columns, in the format the
//! Flask app writes (naive UTC `YYYY-MM-DD HH:MM:SS.ffffff` text on SQLite).

use crate::common;

use common::{new_email, spawn_app, spawn_app_with, PASSWORD};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};
use latchkey::db::models::NewUser;
use latchkey::db::{DatabaseUrl, Db};

#[derive(QueryableByName, Debug)]
struct RawTimes {
    #[diesel(sql_type = Nullable<Text>)]
    current_login_at: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    last_login_at: Option<String>,
}

/// The login timestamps of `email` as SQLite stores them (text).
fn raw_times(sqlite_path: &str, email: &str) -> RawTimes {
    let mut conn = SqliteConnection::establish(sqlite_path).expect("open SQLite");
    diesel::sql_query(
        "SELECT CAST(current_login_at AS TEXT) AS current_login_at, \
                CAST(last_login_at AS TEXT) AS last_login_at \
         FROM \"user\" WHERE email = ?",
    )
    .bind::<Text, _>(email)
    .get_result(&mut conn)
    .expect("read the raw timestamps")
}

/// SQLAlchemy's SQLite DATETIME text: exactly `YYYY-MM-DD HH:MM:SS.ffffff`.
fn is_sqlalchemy_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 26
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b' ',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            _ => c.is_ascii_digit(),
        })
}

#[test]
fn the_format_check_itself() {
    assert!(is_sqlalchemy_datetime("2026-01-02 03:04:05.120000"));
    assert!(!is_sqlalchemy_datetime("2026-01-02 03:04:05.120"));
    assert!(!is_sqlalchemy_datetime("2026-01-02 03:04:05"));
    assert!(!is_sqlalchemy_datetime("2026-01-02T03:04:05.120000"));
}

#[actix_web::test]
async fn each_login_is_counted_with_its_time_and_address() {
    let app = spawn_app_with(&[("SECURITY_TRACKABLE", "true")]).await;
    let email = new_email("tracked");

    // Registering logs in: that is the first login.
    app.create_user(&email, PASSWORD).await;
    let first = app.user(&email);
    assert_eq!(first.login_count, Some(1));
    assert_eq!(first.current_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.last_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(first.last_login_at, first.current_login_at);
    let first_at = first.current_login_at.expect("current_login_at");

    app.logged_in_client(&email, PASSWORD, false).await;
    app.logged_in_client(&email, PASSWORD, true).await;

    let user = app.user(&email);
    assert_eq!(user.login_count, Some(3));
    assert_eq!(user.current_login_ip.as_deref(), Some("127.0.0.1"));
    assert_eq!(user.last_login_ip.as_deref(), Some("127.0.0.1"));
    let current = user.current_login_at.expect("current_login_at");
    let last = user.last_login_at.expect("last_login_at");
    assert!(current >= last, "current {current} < last {last}");
    assert!(last >= first_at, "last {last} < first {first_at}");
    // Naive UTC: within a minute of the test's clock.
    let now = chrono::Utc::now().naive_utc();
    assert!(
        (now - current).num_seconds().abs() < 60,
        "{current} vs {now}"
    );

    if app.is_sqlite() {
        let raw = raw_times(&app.database_url, &email);
        for value in [&raw.current_login_at, &raw.last_login_at] {
            let value = value.as_deref().expect("a stored time");
            assert!(is_sqlalchemy_datetime(value), "stored as {value:?}");
        }
    }
}

#[actix_web::test]
async fn failed_logins_are_not_counted() {
    let app = spawn_app_with(&[("SECURITY_TRACKABLE", "true")]).await;
    let email = new_email("tracked-fail");
    app.create_user(&email, PASSWORD).await;

    app.client().login(&email, "wrong-password-1", false).await;

    assert_eq!(app.user(&email).login_count, Some(1));
}

#[actix_web::test]
async fn without_trackable_the_columns_stay_empty() {
    let app = spawn_app().await;
    let email = new_email("untracked");
    app.create_user(&email, PASSWORD).await;

    app.logged_in_client(&email, PASSWORD, false).await;

    let user = app.user(&email);
    assert_eq!(user.login_count, None);
    assert_eq!(user.current_login_at, None);
    assert_eq!(user.last_login_at, None);
    assert_eq!(user.current_login_ip, None);
    assert_eq!(user.last_login_ip, None);
}

/// Every time is written with six fractional digits, also when the microseconds end in
/// zeros (the HTTP test above catches that only one time in a thousand).
#[actix_web::test]
async fn login_times_are_always_stored_with_six_fractional_digits_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("format.db");
    let path_str = path.to_string_lossy().into_owned();
    let db = Db::connect(&DatabaseUrl::Sqlite(path)).expect("SQLite database");
    let email = "format@example.com";
    let mut conn = db.get().unwrap();
    let user = latchkey::db::users::insert(
        &mut conn,
        &NewUser {
            email: email.to_owned(),
            username: None,
            password: "$2b$04$not-a-real-hash".to_owned(),
            active: Some(true),
            fs_uniquifier: common::random_hex(16),
            confirmed_at: None,
        },
    )
    .expect("insert a user");
    // Every time the app writes comes from `latchkey::db::now()`; check many of them
    // (including ones whose microseconds are a multiple of 1000, which Diesel's `%.f`
    // would shorten) come back as SQLAlchemy's `YYYY-MM-DD HH:MM:SS.ffffff`.
    let mut before = user;
    for _ in 0..200 {
        let at = latchkey::db::now();
        latchkey::db::users::record_login(&mut conn, &before, Some("127.0.0.1"), at)
            .expect("record the login");
        before = latchkey::db::users::find_by_id(&mut conn, before.id)
            .unwrap()
            .unwrap();
        let stored = raw_times(&path_str, email).current_login_at.unwrap();
        assert_eq!(stored, at.format("%Y-%m-%d %H:%M:%S%.6f").to_string());
    }
}

#[actix_web::test]
async fn a_forwarded_for_header_is_ignored_unless_proxies_are_trusted() {
    let app = spawn_app_with(&[("SECURITY_TRACKABLE", "true")]).await;
    let email = new_email("spoof");
    app.create_user(&email, PASSWORD).await;
    let browser = app.client();
    let token = browser.csrf_token("/login").await;

    browser
        .http
        .post(browser.url("/login"))
        .header("X-Forwarded-For", "6.6.6.6")
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(app.user(&email).login_count, Some(2));
    assert_eq!(
        app.user(&email).current_login_ip.as_deref(),
        Some("127.0.0.1")
    );
}

#[actix_web::test]
async fn behind_a_trusted_proxy_the_forwarded_address_is_recorded() {
    let app = spawn_app_with(&[("SECURITY_TRACKABLE", "true"), ("TRUSTED_PROXY_COUNT", "1")]).await;
    let email = new_email("proxied");
    app.create_user(&email, PASSWORD).await;
    let browser = app.client();
    let token = browser.csrf_token("/login").await;

    browser
        .http
        .post(browser.url("/login"))
        // The client claims 6.6.6.6; our proxy appended the address it saw.
        .header("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
        .form(&[
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .unwrap();

    let user = app.user(&email);
    assert_eq!(user.current_login_ip.as_deref(), Some("203.0.113.7"));
    assert_eq!(user.last_login_ip.as_deref(), Some("127.0.0.1"));
}
