//! Mail outages seen from the outside: requests that send mail never wait for SMTP and never
//! fail because of it, and nothing queued is lost when the SMTP server is down, slow, or
//! when the app is killed before delivering. A real SMTP server (a small sink) on a random
//! port; the app over HTTP, in-process or as the built binary.

use crate::common;
use crate::mail_support;

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{
    connect, latchkey_command, location, new_email, random_hex, spawn_app_with, FreshDatabase,
    TestApp, TestClient, PASSWORD,
};
use diesel::prelude::*;
use latchkey::db::schema::mail_outbox;
use mail_support::{eventually, free_port, SmtpSink};
use reqwest::StatusCode;

const WELCOME: &str = "Welcome";
const RESET: &str = "Password reset instructions";

fn outbox_rows(database_url: &str) -> i64 {
    mail_outbox::table
        .count()
        .get_result(&mut connect(database_url))
        .expect("count mail_outbox")
}

async fn app_sending_to(port: u16, extra: &[(&str, &str)]) -> TestApp {
    let port = port.to_string();
    let mut config = vec![
        ("MAIL_SERVER", "127.0.0.1"),
        ("MAIL_PORT", port.as_str()),
        ("MAIL_TIMEOUT", "30"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ];
    config.extend_from_slice(extra);
    spawn_app_with(&config).await
}

/// Registers `email`; asserts the browser got the usual redirect, not an error.
async fn register(client: &TestClient, email: &str) -> Duration {
    let started = Instant::now();
    let r = client.register(email, PASSWORD).await;
    let took = started.elapsed();
    assert_eq!(r.status(), StatusCode::FOUND, "registering {email}");
    assert_eq!(location(&r).as_deref(), Some("/"), "registering {email}");
    took
}

/// Waits (a little past) until `expected` mails are in and the outbox is empty, then checks
/// that each (recipient, subject) in `each_once` arrived exactly once and nothing else did.
async fn assert_delivered_once(
    sink: &SmtpSink,
    database_url: &str,
    each_once: &[(String, &str)],
    what: &str,
) {
    eventually(Duration::from_secs(60), what, || async {
        sink.messages().len() >= each_once.len() && outbox_rows(database_url) == 0
    })
    .await;
    // A little longer, to catch a duplicate delivery.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let counts = counts_by_recipient(sink);
    for (to, subject) in each_once {
        assert_eq!(
            counts.get(&(to.clone(), (*subject).to_owned())),
            Some(&1),
            "{to} {subject}: {counts:?}"
        );
    }
    assert_eq!(sink.messages().len(), each_once.len(), "{counts:?}");
}

fn counts_by_recipient(sink: &SmtpSink) -> HashMap<(String, String), usize> {
    let mut counts = HashMap::new();
    for m in sink.messages() {
        let key = (
            m.header("To").unwrap_or_default(),
            m.header("Subject").unwrap_or_default(),
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

#[actix_web::test]
async fn mail_queued_while_smtp_is_down_is_delivered_once_it_is_back() {
    let mut sink = SmtpSink::start().await;
    sink.stop().await;
    let app = app_sending_to(sink.port(), &[]).await;

    let users: Vec<String> = (0..3).map(|i| new_email(&format!("down{i}"))).collect();
    for email in &users {
        register(&app.client(), email).await;
    }
    app.set_confirmed(&users[0]);
    let r = app.client().submit("/reset", &[("email", &users[0])]).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "forgot-password answers normally"
    );
    assert_eq!(
        outbox_rows(&app.database_url),
        4,
        "all four mails wait in the outbox"
    );

    sink.restart().await;
    let mut expected: Vec<(String, &str)> = users.iter().map(|u| (u.clone(), WELCOME)).collect();
    expected.push((users[0].clone(), RESET));
    assert_delivered_once(
        &sink,
        &app.database_url,
        &expected,
        "every queued mail is delivered",
    )
    .await;
}

#[actix_web::test]
async fn registration_does_not_wait_for_an_smtp_server_that_takes_ten_seconds() {
    let sink = SmtpSink::start().await;
    sink.set_greeting_delay(Duration::from_secs(10));
    let app = app_sending_to(sink.port(), &[]).await;

    let mut latencies = Vec::new();
    for i in 0..5 {
        latencies.push(register(&app.client(), &new_email(&format!("slow{i}"))).await);
    }
    let slowest = latencies.iter().max().copied().unwrap_or_default();
    println!(
        "registration latency over HTTP with a 10 s SMTP greeting ({}): {:?}",
        if app.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        },
        latencies
    );
    // The server takes 10 s before it even greets; a request that waited for it would
    // take at least that long.
    assert!(slowest < Duration::from_secs(5), "{latencies:?}");
    eventually(
        Duration::from_secs(60),
        "the slow server gets every mail",
        || async { sink.messages().len() >= 5 },
    )
    .await;
}

/// Waits until no mail is being sent (no row claimed) and none is due for a while, so that a
/// kill right after leaves every mail pending. A claim the killed process held would keep
/// its row from the restarted one for `LOCK_FOR` (two minutes): on a busy machine a kill
/// landed inside a send often enough.
async fn between_attempts(database_url: &str) {
    eventually(
        Duration::from_secs(60),
        "a moment between attempts",
        || async {
            let rows: Vec<(Option<chrono::NaiveDateTime>, chrono::NaiveDateTime)> =
                mail_outbox::table
                    .select((mail_outbox::locked_until, mail_outbox::next_attempt_at))
                    .load(&mut connect(database_url))
                    .expect("read mail_outbox");
            let soon = chrono::Utc::now().naive_utc() + Duration::from_millis(500);
            rows.iter()
                .all(|(locked, next)| locked.is_none() && *next > soon)
        },
    )
    .await;
}

/// The built binary, serving on a free port until killed.
struct ServerProcess {
    child: Child,
    address: String,
}

impl ServerProcess {
    async fn start(database_url: &str, secret: &str, salt: &str, smtp_port: u16) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("http://127.0.0.1:{port}");
        let workdir = tempfile::tempdir().expect("working folder");
        let (port_text, smtp_port_text) = (port.to_string(), smtp_port.to_string());
        let env = [
            ("DATABASE_URL", database_url),
            ("SECRET_KEY", secret),
            ("SECURITY_PASSWORD_SALT", salt),
            ("HOST", "127.0.0.1"),
            ("PORT", &port_text),
            ("BASE_URL", &address),
            ("WORKERS", "1"),
            ("SECURITY_BCRYPT_ROUNDS", "4"),
            ("SECURITY_REGISTERABLE", "true"),
            ("SECURITY_CONFIRMABLE", "true"),
            ("MAIL_SERVER", "127.0.0.1"),
            ("MAIL_PORT", &smtp_port_text),
            ("RUST_LOG", "warn"),
        ];
        let child = latchkey_command(workdir.path(), &env)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the latchkey binary");
        let client = TestClient::new(&address);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = client.http.get(client.url("/login")).send().await {
                if r.status() == StatusCode::OK {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "the binary did not start on {address}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        // The working folder only had to exist at start-up.
        drop(workdir);
        Self { child, address }
    }

    /// SIGKILL: no chance to finish anything.
    fn kill(mut self) {
        self.child.kill().expect("kill the server");
        self.child.wait().expect("reap the server");
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[actix_web::test]
async fn mail_pending_when_the_app_is_killed_is_delivered_after_a_restart() {
    let database = FreshDatabase::new();
    let url = database.url.clone();
    let (secret, salt) = (random_hex(32), random_hex(16));
    let smtp_port = free_port().await;

    let first = ServerProcess::start(&url, &secret, &salt, smtp_port).await;
    let users: Vec<String> = (0..3).map(|i| new_email(&format!("killed{i}"))).collect();
    for email in &users {
        register(&TestClient::new(&first.address), email).await;
    }
    between_attempts(&url).await;
    first.kill();
    assert_eq!(outbox_rows(&url), 3, "the mails outlive the process");

    let sink = SmtpSink::start_on(smtp_port).await;
    let _second = ServerProcess::start(&url, &secret, &salt, smtp_port).await;
    let expected: Vec<(String, &str)> = users.iter().map(|u| (u.clone(), WELCOME)).collect();
    assert_delivered_once(
        &sink,
        &url,
        &expected,
        "the restarted app delivers the backlog",
    )
    .await;
}
