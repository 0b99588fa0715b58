//! Housekeeping, on SQLite and (with `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: `latchkey db
//! sweep` removes what is of no use any more and never a live login, an unused link, a
//! pending mail or anything else still in use; the server sweeps by itself every
//! `HOUSEKEEPING_INTERVAL`.

use crate::common;

use chrono::{Duration, NaiveDateTime, Utc};
use common::{latchkey_command, new_email, spawn_app_with, TestApp, PASSWORD};
use diesel::prelude::*;
use latchkey::db::models::{AuthToken, LoginSession, NewRefreshTracker, UserToken};
use latchkey::db::schema::{
    auth_attempt, auth_token, fs_refresh, login_session, mail_outbox, otp_used, user_token,
    webauthn_ceremony,
};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn login(id: &str, user_id: i32, created: NaiveDateTime, seen: NaiveDateTime) -> LoginSession {
    LoginSession {
        id: id.to_owned(),
        user_id,
        fs_uniquifier: "u".to_owned(),
        created_at: created,
        last_seen_at: seen,
        ip: None,
        user_agent: None,
        remember_hash: None,
        remember_expires_at: None,
        authenticated_at: None,
    }
}

fn link_token(hash: &str, user_id: i32, expires: NaiveDateTime, used: bool) -> UserToken {
    UserToken {
        token_hash: hash.to_owned(),
        user_id,
        purpose: "reset".to_owned(),
        binding: "b".to_owned(),
        created_at: now() - Duration::hours(1),
        expires_at: expires,
        used_at: used.then(now),
        detail: None,
    }
}

/// Rows of every kind, live and dead, for one user. Returns the live rows' keys.
fn fill(app: &TestApp, user_id: i32) {
    let mut conn = app.db();
    let t = now();
    // Logins (idle 30 minutes, absolute 12 hours by default).
    let remembered = |id: &str, until: NaiveDateTime| LoginSession {
        remember_hash: Some("h".to_owned()),
        remember_expires_at: Some(until),
        ..login(id, user_id, t - Duration::days(40), t - Duration::days(20))
    };
    let logins = [
        login("live", user_id, t - Duration::minutes(5), t),
        login(
            "idle",
            user_id,
            t - Duration::hours(1),
            t - Duration::hours(1),
        ),
        login("too-old", user_id, t - Duration::hours(13), t),
        remembered("remembered-live", t + Duration::days(300)),
        remembered("remembered-gone", t - Duration::seconds(1)),
    ];
    // One by one: MultiConnection has no batch insert.
    for row in &logins {
        diesel::insert_into(login_session::table)
            .values(row)
            .execute(&mut conn)
            .unwrap();
    }
    let tokens = [
        link_token("unused", user_id, t + Duration::hours(1), false),
        link_token("used", user_id, t + Duration::hours(1), true),
        link_token("expired", user_id, t - Duration::seconds(1), false),
    ];
    for row in &tokens {
        diesel::insert_into(user_token::table)
            .values(row)
            .execute(&mut conn)
            .unwrap();
    }
    // Throttle rows: failures count for an hour, known addresses for 30 days, mail for an hour.
    for (action, age) in [
        ("login_failed", Duration::minutes(10)),
        ("login_failed", Duration::hours(2)),
        ("login_ok", Duration::days(10)),
        ("login_ok", Duration::days(40)),
        ("reset", Duration::minutes(10)),
        ("reset", Duration::hours(2)),
    ] {
        diesel::insert_into(auth_attempt::table)
            .values((
                auth_attempt::action.eq(action),
                auth_attempt::subject.eq("s"),
                auth_attempt::ip.eq("192.0.2.1"),
                auth_attempt::created_at.eq(t - age),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    // Mail: one still being tried (old, but not given up), one given up long ago, one
    // given up yesterday (kept for the operator: retention 7 days).
    for (attempts, age) in [
        (3, Duration::days(30)),
        (25, Duration::days(8)),
        (25, Duration::days(1)),
    ] {
        diesel::insert_into(mail_outbox::table)
            .values((
                mail_outbox::recipient.eq("r"),
                mail_outbox::subject.eq("s"),
                mail_outbox::text_body.eq(""),
                mail_outbox::html_body.eq(""),
                mail_outbox::created_at.eq(t - age),
                mail_outbox::attempts.eq(attempts),
                mail_outbox::next_attempt_at.eq(t + Duration::hours(1)),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    for (hash, expires) in [
        ("ceremony-live", t + Duration::minutes(5)),
        ("ceremony-gone", t - Duration::seconds(1)),
    ] {
        diesel::insert_into(webauthn_ceremony::table)
            .values((
                webauthn_ceremony::token_hash.eq(hash),
                webauthn_ceremony::binding.eq("b"),
                webauthn_ceremony::purpose.eq("signin"),
                webauthn_ceremony::state.eq("{}"),
                webauthn_ceremony::created_at.eq(t - Duration::minutes(10)),
                webauthn_ceremony::expires_at.eq(expires),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    for (step, age) in [(1_i64, Duration::minutes(5)), (2, Duration::days(2))] {
        diesel::insert_into(otp_used::table)
            .values((
                otp_used::user_id.eq(user_id),
                otp_used::purpose.eq("tf"),
                otp_used::step.eq(step),
                otp_used::used_at.eq(t - age),
            ))
            .execute(&mut conn)
            .unwrap();
    }
    let api = |hash: &str, expires: NaiveDateTime| AuthToken {
        token_hash: hash.to_owned(),
        user_id,
        fs_uniquifier: "u".to_owned(),
        login_id: None,
        refresh_family: None,
        created_at: t - Duration::minutes(20),
        expires_at: expires,
        last_used_at: t,
        ip: None,
        user_agent: None,
        authenticated_at: None,
    };
    for row in [
        api("api-live", t + Duration::minutes(5)),
        api("api-gone", t - Duration::seconds(1)),
    ] {
        diesel::insert_into(auth_token::table)
            .values(&row)
            .execute(&mut conn)
            .unwrap();
    }
    for (family, expires) in [
        ("family-live", t + Duration::days(1)),
        ("family-gone", t - Duration::seconds(1)),
    ] {
        diesel::insert_into(fs_refresh::table)
            .values(&NewRefreshTracker {
                refresh_family: family.to_owned(),
                gen: Some(1),
                expires_at: expires,
                last_used_at: t,
                create_datetime: t - Duration::days(90),
                name: "default".to_owned(),
                user_id,
            })
            .execute(&mut conn)
            .unwrap();
    }
}

fn remaining(app: &TestApp) -> Vec<String> {
    let mut conn = app.db();
    let mut keys: Vec<String> = login_session::table
        .select(login_session::id)
        .load(&mut conn)
        .unwrap();
    keys.extend(
        user_token::table
            .select(user_token::token_hash)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    keys.extend(
        auth_attempt::table
            .select((auth_attempt::action, auth_attempt::created_at))
            .load::<(String, NaiveDateTime)>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|(action, at)| format!("{action}:{}", (now() - at).num_days())),
    );
    keys.extend(
        mail_outbox::table
            .select((mail_outbox::attempts, mail_outbox::created_at))
            .load::<(i32, NaiveDateTime)>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|(attempts, at)| format!("mail:{attempts}:{}", (now() - at).num_days())),
    );
    keys.extend(
        webauthn_ceremony::table
            .select(webauthn_ceremony::token_hash)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    keys.extend(
        otp_used::table
            .select(otp_used::step)
            .load::<i64>(&mut conn)
            .unwrap()
            .into_iter()
            .map(|s| format!("step:{s}")),
    );
    keys.extend(
        auth_token::table
            .select(auth_token::token_hash)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    keys.extend(
        fs_refresh::table
            .select(fs_refresh::refresh_family)
            .load::<String>(&mut conn)
            .unwrap(),
    );
    keys.sort();
    keys
}

/// What must survive: the rows the app made itself (`before`) and the live ones of [`fill`].
fn expected_survivors(before: &[String]) -> Vec<String> {
    let mut keys: Vec<String> = [
        "live",
        "remembered-live",
        "unused",
        "login_failed:0",
        "login_ok:10",
        "reset:0",
        "mail:3:30",
        "mail:25:1",
        "ceremony-live",
        "step:1",
        "api-live",
        "family-live",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(before.iter().cloned())
    .collect();
    keys.sort();
    keys
}

fn sweep_command(app: &TestApp) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey_command(
        dir.path(),
        &[
            ("DATABASE_URL", &app.database_url),
            ("SECRET_KEY", &app.secret_key),
            ("SECURITY_PASSWORD_SALT", &app.salt),
        ],
    )
    .args(["db", "sweep"])
    .output()
    .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The number printed beside `what`.
fn count(report: &str, what: &str) -> usize {
    report
        .lines()
        .find(|l| l.trim_end().ends_with(what))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {what:?} in {report}"))
}

#[actix_web::test]
async fn db_sweep_removes_what_is_spent_and_keeps_everything_in_use() {
    let app = spawn_app_with(&[("HOUSEKEEPING_INTERVAL", "0")]).await;
    let email = new_email("swept");
    app.create_user(&email, PASSWORD).await;
    // Registration logged nobody in (no row), and the user's real login must survive too.
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    // The welcome mail is delivered (and its row deleted) first.
    app.mail_settled().await;
    let before = remaining(&app);
    let user_id = app.user(&email).id;
    fill(&app, user_id);

    let report = sweep_command(&app);
    assert_eq!(count(&report, "expired logins"), 3, "{report}");
    assert_eq!(count(&report, "used or expired link tokens"), 2, "{report}");
    assert_eq!(count(&report, "old throttle rows"), 3, "{report}");
    assert_eq!(count(&report, "mail given up"), 1, "{report}");
    assert_eq!(
        count(&report, "unfinished passkey ceremonies"),
        1,
        "{report}"
    );
    assert_eq!(count(&report, "old code steps"), 1, "{report}");
    assert_eq!(count(&report, "expired API tokens"), 1, "{report}");
    assert_eq!(count(&report, "expired refresh families"), 1, "{report}");
    assert_eq!(count(&report, "in all"), 13, "{report}");

    assert_eq!(remaining(&app), expected_survivors(&before));
    assert!(browser.is_authenticated().await, "a live login survives");

    // A second pass finds nothing.
    let again = sweep_command(&app);
    assert_eq!(count(&again, "in all"), 0, "{again}");
}

#[actix_web::test]
async fn the_server_sweeps_by_itself() {
    // The rows are laid under a server that does not sweep; a second one on the same
    // database, sweeping every minute (the shortest interval allowed), makes its first pass
    // within a second of starting.
    let app = spawn_app_with(&[("HOUSEKEEPING_INTERVAL", "0")]).await;
    let email = new_email("auto");
    app.create_user(&email, PASSWORD).await;
    let user_id = app.user(&email).id;
    // The welcome mail is delivered (and its row deleted) first.
    app.mail_settled().await;
    let before = remaining(&app);
    fill(&app, user_id);
    let _sweeping = spawn_app_with(&[
        ("HOUSEKEEPING_INTERVAL", "1 minutes"),
        ("DATABASE_URL", &app.database_url),
    ])
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while remaining(&app) != expected_survivors(&before) {
        assert!(
            std::time::Instant::now() < deadline,
            "not swept: {:?}",
            remaining(&app)
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A SQLite page count (`page_count` or `freelist_count`).
fn sqlite_pages(conn: &mut latchkey::db::DbConnection, pragma: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    #[allow(irrefutable_let_patterns)] // a build without PostgreSQL has only SQLite
    let latchkey::db::DbConnection::Sqlite(c) = conn
    else {
        unreachable!("SQLite only")
    };
    diesel::sql_query(format!("SELECT {pragma} AS n FROM pragma_{pragma}()"))
        .get_result::<Pages>(c)
        .unwrap()
        .n
}

/// Deleted rows leave free pages in a SQLite file, which otherwise keeps its largest size:
/// the sweep gives them back to the file system (files Latchkey creates use incremental
/// auto-vacuum).
#[actix_web::test]
async fn on_sqlite_the_sweep_gives_the_room_of_what_it_removed_back() {
    let app = spawn_app_with(&[("HOUSEKEEPING_INTERVAL", "0")]).await;
    if !app.database_url.ends_with(".db") {
        return; // PostgreSQL keeps its files' size until VACUUM FULL (see the README).
    }
    let email = new_email("room");
    app.create_user(&email, PASSWORD).await;
    let user_id = app.user(&email).id;
    let mut conn = app.db();
    let old = now() - Duration::days(3);
    let rows: Vec<LoginSession> = (0..3000)
        .map(|i| LoginSession {
            user_agent: Some("Mozilla/5.0 ".repeat(20)),
            ..login(&format!("idle-{i:05}"), user_id, old, old)
        })
        .collect();
    conn.transaction(|conn| {
        rows.iter().try_for_each(|row| {
            diesel::insert_into(login_session::table)
                .values(row)
                .execute(conn)
                .map(drop)
        })
    })
    .unwrap();
    let grown = sqlite_pages(&mut conn, "page_count");

    let report = sweep_command(&app);
    assert_eq!(count(&report, "expired logins"), 3000, "{report}");
    let given_back = count(
        &report,
        "KiB of free database pages given back to the file system",
    );
    assert!(given_back > 0, "{report}");
    assert_eq!(sqlite_pages(&mut conn, "freelist_count"), 0);
    assert!(sqlite_pages(&mut conn, "page_count") < grown);
}

/// A counted login forgets old throttle rows as it goes, but never more than a few at once,
/// however many wait: its write stays short, and the sweep takes the rest.
#[actix_web::test]
async fn a_login_forgets_a_few_old_throttle_rows_and_the_sweep_the_rest() {
    let app = spawn_app_with(&[("HOUSEKEEPING_INTERVAL", "0")]).await;
    let email = new_email("backlog");
    app.create_user(&email, PASSWORD).await;
    let mut conn = app.db();
    let old = now() - Duration::hours(3); // the failures' window is an hour
    conn.transaction(|conn| {
        (0..250).try_for_each(|i| {
            diesel::insert_into(auth_attempt::table)
                .values((
                    auth_attempt::action.eq("login_failed"),
                    auth_attempt::subject.eq(format!("someone-{i}")),
                    auth_attempt::ip.eq("192.0.2.9"),
                    auth_attempt::created_at.eq(old),
                ))
                .execute(conn)
                .map(drop)
        })
    })
    .unwrap();
    let old_failures = |conn: &mut latchkey::db::DbConnection| -> i64 {
        auth_attempt::table
            .filter(auth_attempt::created_at.le(old))
            .count()
            .get_result(conn)
            .unwrap()
    };

    let refused = app
        .client()
        .login(&email, "not-the-password-9", false)
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::OK, "the form again");
    assert_eq!(
        old_failures(&mut conn),
        250 - latchkey::db::attempts::PRUNE_LIMIT
    );

    let report = sweep_command(&app);
    assert_eq!(count(&report, "old throttle rows"), 150, "{report}");
    assert_eq!(old_failures(&mut conn), 0);
}
