//! Hooks (security events, `latchkey::auth::events`) over HTTP, on SQLite and (with
//! `LATCHKEY_TEST_POSTGRES_URL`) PostgreSQL: a subscriber sees what users do in the order it
//! happened, with the client's address and user agent; a panicking subscriber breaks no
//! request and no other subscriber; a full queue drops (and counts) instead of holding up
//! requests; the built-in subscriber's `security_event` rows feed the account page's
//! "Recent security activity" and the admin page, and hold nothing typed.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use diesel::prelude::*;
use latchkey::auth::events::{EventRecord, SecurityEvent};
use latchkey::db::models::SecurityEventRow;
use latchkey::db::roles;
use latchkey::db::schema::security_event;
use reqwest::StatusCode;

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";

/// Every record a subscriber received.
#[derive(Default, Clone)]
struct Recorder(Arc<Mutex<Vec<EventRecord>>>);

impl Recorder {
    fn subscribe(&self, app: &TestApp) {
        let mine = self.0.clone();
        app.events.subscribe(Arc::new(move |record: &EventRecord| {
            mine.lock().unwrap().push(record.clone());
        }));
    }

    fn kinds_for(&self, user_id: Option<i32>) -> Vec<&'static str> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.user_id == user_id)
            .map(|r| r.event.kind())
            .collect()
    }
}

/// Waits until the dispatcher has delivered everything emitted so far.
async fn flush(app: &TestApp) {
    let events = app.events.clone();
    let done = tokio::task::spawn_blocking(move || events.flush(Duration::from_secs(10)))
        .await
        .unwrap();
    assert!(done, "the event queue did not drain");
}

fn rows_for(app: &TestApp, user_id: i32) -> Vec<SecurityEventRow> {
    security_event::table
        .filter(security_event::user_id.eq(user_id))
        .order(security_event::id.asc())
        .select(SecurityEventRow::as_select())
        .load(&mut app.db())
        .expect("read security_event")
}

fn browser(app: &TestApp) -> TestClient {
    TestClient::with_headers(&app.address, &[("User-Agent", FIREFOX)])
}

#[actix_web::test]
async fn a_subscriber_sees_what_happened_in_order_with_the_client() {
    let app = spawn_app_with(&[("SECURITY_CHANGEABLE", "true")]).await;
    let seen = Recorder::default();
    seen.subscribe(&app);
    let email = new_email("order");
    let c = browser(&app);
    assert_eq!(
        c.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    assert_eq!(c.logout().await.status(), StatusCode::FOUND);
    let wrong = c.login(&email, "not-the-password", false).await;
    assert_eq!(wrong.status(), StatusCode::OK, "the form again");
    assert_eq!(
        c.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    let changed = c.change_password(PASSWORD, "another-horse-77").await;
    assert_eq!(changed.status(), StatusCode::FOUND);
    flush(&app).await;

    let id = app.user(&email).id;
    assert_eq!(
        seen.kinds_for(Some(id)),
        [
            "registered",
            "login_succeeded",
            "logged_out",
            "login_failed",
            "login_succeeded",
            "password_changed",
        ]
    );
    let records = seen.0.lock().unwrap().clone();
    let failed = records
        .iter()
        .find(|r| r.event.kind() == "login_failed")
        .unwrap();
    assert_eq!(
        failed.event,
        SecurityEvent::LoginFailed {
            method: latchkey::auth::events::LoginMethod::Password,
            reason: "invalid_password".to_owned(),
        }
    );
    for record in records.iter().filter(|r| r.user_id == Some(id)) {
        assert_eq!(record.ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(record.user_agent.as_deref(), Some(FIREFOX));
        assert_eq!(record.client(), "Firefox on Linux");
        assert!((chrono::Utc::now() - record.at).num_seconds() < 60);
    }
    // The same, in the built-in subscriber's table, in the same order.
    let stored: Vec<String> = rows_for(&app, id).into_iter().map(|r| r.kind).collect();
    assert_eq!(stored, seen.kinds_for(Some(id)));
}

#[actix_web::test]
async fn a_panicking_subscriber_breaks_no_request_and_no_other_subscriber() {
    let app = spawn_app_with(&[]).await;
    let panics = Arc::new(AtomicUsize::new(0));
    let count = panics.clone();
    app.events.subscribe(Arc::new(move |_: &EventRecord| {
        count.fetch_add(1, Ordering::SeqCst);
        panic!("a subscriber with a bug");
    }));
    let seen = Recorder::default();
    seen.subscribe(&app);
    let email = new_email("panic");
    let c = app.client();
    assert_eq!(
        c.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    assert_eq!(c.logout().await.status(), StatusCode::FOUND);
    assert_eq!(
        c.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    assert!(c.is_authenticated().await);
    flush(&app).await;
    let id = app.user(&email).id;
    let expected = [
        "registered",
        "login_succeeded",
        "logged_out",
        "login_succeeded",
    ];
    // The panicking one was called every time (it is not dropped after its first panic),
    // and the one after it and the table got every event.
    assert_eq!(panics.load(Ordering::SeqCst), expected.len());
    assert_eq!(seen.kinds_for(Some(id)), expected);
    assert_eq!(rows_for(&app, id).len(), expected.len());
}

#[actix_web::test]
async fn a_full_queue_drops_and_counts_without_holding_up_requests() {
    let app = spawn_app_with(&[("SECURITY_EVENT_QUEUE", "2")]).await;
    // A subscriber stuck until released: the dispatcher holds one record, two wait.
    let released = Arc::new(AtomicBool::new(false));
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let (theirs, gate) = (released.clone(), Mutex::new(gate));
    app.events.subscribe(Arc::new(move |_: &EventRecord| {
        if !theirs.load(Ordering::SeqCst) {
            let _ = gate.lock().unwrap().recv_timeout(Duration::from_secs(30));
        }
    }));
    let email = new_email("full");
    app.create_user(&email, PASSWORD).await;
    let c = app.client();
    let started = Instant::now();
    for _ in 0..4 {
        assert_eq!(
            c.login(&email, PASSWORD, false).await.status(),
            StatusCode::FOUND
        );
        assert_eq!(c.logout().await.status(), StatusCode::FOUND);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "requests waited for the stuck subscriber: {:?}",
        started.elapsed()
    );
    // Registration's two events and these eight: at most three fit.
    let dropped = app.events.dropped();
    assert!(dropped >= 7, "dropped {dropped}");
    released.store(true, Ordering::SeqCst);
    release.send(()).unwrap();
    flush(&app).await;
    let id = app.user(&email).id;
    assert_eq!(rows_for(&app, id).len() as u64, 10 - dropped);
    // The queue works again once the subscriber is.
    assert_eq!(
        c.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    flush(&app).await;
    assert_eq!(rows_for(&app, id).len() as u64, 11 - dropped);
    assert_eq!(app.events.dropped(), dropped);
}

#[actix_web::test]
async fn the_account_page_shows_recent_activity_and_admin_sees_every_user() {
    let app = spawn_app_with(&[]).await;
    let email = new_email("activity");
    let c = browser(&app);
    assert_eq!(
        c.register(&email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    assert_eq!(c.logout().await.status(), StatusCode::FOUND);
    let typed = "a-wrong-Secret-99";
    assert_eq!(c.login(&email, typed, false).await.status(), StatusCode::OK);
    assert_eq!(
        c.login(&email, PASSWORD, false).await.status(),
        StatusCode::FOUND
    );
    // A failed login of an identity that names no account.
    let stranger = new_email("nobody");
    assert_eq!(
        app.client().login(&stranger, typed, false).await.status(),
        StatusCode::OK
    );
    flush(&app).await;

    let page = c.get("/profile").await.text().await.unwrap();
    assert!(page.contains("Recent security activity"), "{page}");
    let section = &page[page.find("account-activity").expect("the list")..];
    let items: Vec<&str> = section.split("<li").skip(1).collect();
    assert_eq!(items.len(), 5, "{section}");
    // Newest first, each with the time, what happened, the client and its address.
    assert!(
        items[0].contains("Signed in with a password"),
        "{}",
        items[0]
    );
    assert!(
        items[1].contains("Failed sign-in with a password"),
        "{}",
        items[1]
    );
    assert!(items[1].contains("activity-failure"));
    assert!(items[2].contains("Signed out"));
    assert!(items[4].contains("Account created"));
    for item in &items {
        assert!(item.contains("Firefox on Linux"), "{item}");
        assert!(item.contains("(127.0.0.1)"), "{item}");
        assert!(item.contains(" UTC</time>"), "{item}");
    }

    // The admin page lists events across users, the stranger's failure included.
    let admin_email = new_email("admin");
    let admin = app.client();
    assert_eq!(
        admin.register(&admin_email, PASSWORD).await.status(),
        StatusCode::FOUND
    );
    {
        let mut conn = app.db();
        let role = roles::create(&mut conn, "admin", None).unwrap().unwrap();
        roles::add_to_user(&mut conn, app.user(&admin_email).id, role.id).unwrap();
    }
    flush(&app).await;
    let r = admin.get_json("/admin").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: serde_json::Value = r.json().await.unwrap();
    let events = body["response"]["events"]
        .as_array()
        .expect("events")
        .clone();
    let of = |who: &str| {
        events
            .iter()
            .filter(|e| e["email"] == who)
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(of(&email).len(), 5);
    assert_eq!(of(&admin_email), ["login_succeeded", "registered"]);
    assert!(events
        .iter()
        .any(|e| e["user_id"].is_null() && e["kind"] == "login_failed"));
    let html = admin.get("/admin").await.text().await.unwrap();
    assert!(html.contains("Recent security events"), "{html}");
    assert!(html.contains("Failed sign-in with a password"));
    assert!(html.contains(&email));
    // Nothing typed is kept: neither the wrong password nor the unknown identity.
    let dump: Vec<SecurityEventRow> = security_event::table
        .select(SecurityEventRow::as_select())
        .load(&mut app.db())
        .unwrap();
    let text = format!("{dump:?}");
    assert!(!text.contains(typed) && !text.contains(PASSWORD));
    assert!(!text.contains(&stranger));
    assert!(!html.contains(&stranger));
}

/// A wrong second-factor code (or recovery code) after a right password is recorded as what
/// it is: a failed second step naming the factor, shown as a failure on the account page,
/// never as "Failed sign-in with a password".
#[actix_web::test]
async fn a_failed_second_factor_is_recorded_as_such() {
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "events-test-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
    ])
    .await;
    let email = new_email("tf-fail");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    common::set_up_authenticator(&owner).await;
    let c = browser(&app);
    let r = c
        .post_json_via(
            "/login",
            "/login",
            &serde_json::json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "the password step");
    let r = c
        .post_json_via(
            "/tf-validate",
            "/tf-validate",
            &serde_json::json!({"code": "000000x"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a wrong code");
    let r = c
        .post_json_via(
            "/mf-recovery",
            "/mf-recovery",
            &serde_json::json!({"code": "0000-0000-0000"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "a wrong recovery code");
    flush(&app).await;
    let id = app.user(&email).id;
    let failed: Vec<(String, Option<String>)> = rows_for(&app, id)
        .into_iter()
        .filter(|row| row.kind.contains("failed"))
        .map(|row| (row.kind, row.detail))
        .collect();
    assert_eq!(
        failed,
        [
            (
                "second_factor_failed".to_owned(),
                Some("authenticator".to_owned())
            ),
            (
                "second_factor_failed".to_owned(),
                Some("recovery_code".to_owned())
            ),
        ]
    );
    let page = owner.get("/profile").await.text().await.unwrap();
    assert!(
        page.contains("Failed second step of sign-in with an authenticator code"),
        "{page}"
    );
    assert!(!page.contains("Failed sign-in with a password"), "{page}");
    assert!(page.contains("activity-failure"));
}
