//! The outbox worker against a real SMTP conversation (a small SMTP server in
//! `mail_support`), on SQLite, or on PostgreSQL with `LATCHKEY_TEST_POSTGRES_URL` and
//! `--features postgres`.

use crate::mail_support;

use std::time::{Duration, Instant};

use diesel::prelude::*;
use latchkey::db::schema::mail_outbox;
use latchkey::mail::worker::{self, deliver_due, Transport, MAX_ATTEMPTS};
use mail_support::{
    enqueue, eventually, free_port, key, message, outbox, smtp_settings, SmtpSink, TestDb,
};

const TIMEOUT: Duration = Duration::from_secs(5);

fn transport_for(port: u16) -> Transport {
    Transport::from_settings(&smtp_settings(port, TIMEOUT)).expect("transport")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_message_is_delivered_as_multipart_and_removed() {
    let test = TestDb::new();
    let sink = SmtpSink::start().await;
    let worker =
        worker::spawn(test.db.clone(), &smtp_settings(sink.port(), TIMEOUT), key()).unwrap();

    enqueue(&test.db, message("alice@example.com", "Welcome")).await;
    eventually(
        Duration::from_secs(20),
        "the message reaches the server",
        || async { !sink.messages().is_empty() },
    )
    .await;
    eventually(Duration::from_secs(10), "the row is deleted", || async {
        outbox(&test.db).await.is_empty()
    })
    .await;

    let received = sink.messages();
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m.mail_from, "FROM:<no-reply@example.com>");
    assert_eq!(m.rcpt_to, vec!["TO:<alice@example.com>"]);
    assert_eq!(
        m.header("From").as_deref(),
        Some("Latchkey <no-reply@example.com>")
    );
    assert_eq!(m.header("To").as_deref(), Some("alice@example.com"));
    assert_eq!(m.header("Subject").as_deref(), Some("Welcome"));
    assert!(m.header("Message-ID").is_some());
    assert!(m.header("Date").is_some());
    let content_type = m.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("multipart/alternative"),
        "{content_type}"
    );
    let text_at = m.data.find("Content-Type: text/plain").expect("text part");
    let html_at = m.data.find("Content-Type: text/html").expect("HTML part");
    assert!(text_at < html_at, "text first, then HTML");
    let text = m.part("text/plain").expect("text part");
    assert_eq!(
        text,
        "Hello alice@example.com,\r\n\r\nConfirm: http://localhost:8080/confirm/tok-Welcome\r\n"
    );
    let html = m.part("text/html").expect("HTML part");
    assert_eq!(
        html,
        "<p>Hello alice@example.com,</p><p><a href=\"http://localhost:8080/confirm/tok-Welcome\">Confirm</a></p>"
    );

    // A stopped worker delivers nothing more.
    worker.shutdown().await;
    enqueue(&test.db, message("bob@example.com", "After shutdown")).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(outbox(&test.db).await.len(), 1);
    println!("backend: {}", test.backend);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_queued_while_smtp_is_down_are_delivered_once_it_is_up() {
    let test = TestDb::new();
    let port = free_port().await;
    let worker = worker::spawn(test.db.clone(), &smtp_settings(port, TIMEOUT), key()).unwrap();

    for i in 0..5 {
        enqueue(
            &test.db,
            message(&format!("u{i}@example.com"), &format!("down-{i}")),
        )
        .await;
    }
    eventually(
        Duration::from_secs(20),
        "every row records a failure",
        || async {
            let rows = outbox(&test.db).await;
            rows.len() == 5
                && rows
                    .iter()
                    .all(|r| r.attempts >= 1 && r.last_error.is_some())
        },
    )
    .await;
    let rows = outbox(&test.db).await;
    for row in &rows {
        assert!(row.attempts < MAX_ATTEMPTS, "not given up: {row:?}");
        let error = row.last_error.as_deref().unwrap_or_default();
        assert!(error.starts_with("SMTP: "), "{error}");
    }
    println!("while down: {:?}", rows[0].last_error);

    let sink = SmtpSink::start_on(port).await;
    eventually(Duration::from_secs(30), "all five delivered", || async {
        sink.messages().len() >= 5 && outbox(&test.db).await.is_empty()
    })
    .await;
    // Let any duplicate have its chance to show up.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts = sink.subject_counts();
    assert_eq!(counts.len(), 5, "{counts:?}");
    assert!(
        counts.values().all(|&n| n == 1),
        "each exactly once: {counts:?}"
    );
    assert!(!worker.is_finished(), "the worker survived the outage");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_going_away_and_coming_back_is_survived() {
    let test = TestDb::new();
    let mut sink = SmtpSink::start().await;
    let worker =
        worker::spawn(test.db.clone(), &smtp_settings(sink.port(), TIMEOUT), key()).unwrap();
    enqueue(&test.db, message("a@example.com", "before")).await;
    eventually(Duration::from_secs(20), "first delivered", || async {
        sink.messages().len() == 1
    })
    .await;

    // The pooled connection dies with the server.
    sink.stop().await;
    enqueue(&test.db, message("b@example.com", "during")).await;
    eventually(Duration::from_secs(20), "a failure is recorded", || async {
        outbox(&test.db).await.iter().any(|r| r.attempts >= 1)
    })
    .await;
    sink.restart().await;
    eventually(Duration::from_secs(30), "second delivered", || async {
        sink.messages().len() >= 2 && outbox(&test.db).await.is_empty()
    })
    .await;
    let counts = sink.subject_counts();
    assert_eq!(counts.get("before"), Some(&1));
    assert_eq!(counts.get("during"), Some(&1));
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_left_by_a_killed_app_are_delivered_by_the_next_worker() {
    let test = TestDb::new();
    let sink = SmtpSink::start().await;
    // Queued with no worker running, as a process that died before delivering.
    for i in 0..3 {
        enqueue(
            &test.db,
            message(&format!("k{i}@example.com"), &format!("pending-{i}")),
        )
        .await;
    }
    // One row claimed by an instance that crashed mid-send (its lock has expired), and one
    // claimed by an instance still at work (lock in the future): only the first may go.
    let now = latchkey::db::now();
    enqueue(&test.db, message("stale@example.com", "stale-lock")).await;
    enqueue(&test.db, message("busy@example.com", "live-lock")).await;
    test.db
        .run(move |conn| {
            diesel::update(mail_outbox::table.filter(mail_outbox::subject.eq("stale-lock")))
                .set((
                    mail_outbox::locked_until.eq(Some(now - chrono::Duration::minutes(1))),
                    mail_outbox::attempts.eq(1),
                ))
                .execute(conn)?;
            diesel::update(mail_outbox::table.filter(mail_outbox::subject.eq("live-lock")))
                .set(mail_outbox::locked_until.eq(Some(now + chrono::Duration::hours(1))))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();

    let worker =
        worker::spawn(test.db.clone(), &smtp_settings(sink.port(), TIMEOUT), key()).unwrap();
    eventually(
        Duration::from_secs(20),
        "the four deliverable rows are sent",
        || async { sink.messages().len() >= 4 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts = sink.subject_counts();
    for subject in ["pending-0", "pending-1", "pending-2", "stale-lock"] {
        assert_eq!(counts.get(subject), Some(&1), "{subject}: {counts:?}");
    }
    assert_eq!(counts.get("live-lock"), None, "a live claim is respected");
    let left = outbox(&test.db).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].subject, "live-lock");
    worker.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_database_deliver_each_message_once() {
    let test = TestDb::new();
    let sink = SmtpSink::start().await;
    const N: usize = 40;
    for i in 0..N {
        enqueue(
            &test.db,
            message(&format!("p{i}@example.com"), &format!("pair-{i:02}")),
        )
        .await;
    }
    let settings = smtp_settings(sink.port(), TIMEOUT);
    let first = worker::spawn(test.db.clone(), &settings, key()).unwrap();
    let second = worker::spawn(test.db.clone(), &settings, key()).unwrap();
    // And two explicit passes racing each other, for good measure.
    let (a, b) = (transport_for(sink.port()), transport_for(sink.port()));
    let key = key();
    let (ra, rb) = tokio::join!(
        deliver_due(&test.db, &a, &key),
        deliver_due(&test.db, &b, &key)
    );
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    println!(
        "explicit passes delivered {} + {}",
        ra.delivered, rb.delivered
    );

    eventually(Duration::from_secs(60), "all delivered", || async {
        sink.messages().len() >= N && outbox(&test.db).await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let counts = sink.subject_counts();
    assert_eq!(counts.len(), N, "{counts:?}");
    let duplicated: Vec<_> = counts.iter().filter(|(_, &n)| n != 1).collect();
    assert!(
        duplicated.is_empty(),
        "delivered more than once: {duplicated:?}"
    );
    assert_eq!(sink.messages().len(), N);
    first.shutdown().await;
    second.shutdown().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_address_is_given_up_without_stopping_the_others() {
    let test = TestDb::new();
    let sink = SmtpSink::start().await;
    let transport = transport_for(sink.port());
    enqueue(&test.db, message("not an address", "broken")).await;
    enqueue(&test.db, message("fine@example.com", "fine")).await;

    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(report.given_up, 1, "{report:?}");
    let left = outbox(&test.db).await;
    assert_eq!(left.len(), 1);
    let row = &left[0];
    assert_eq!(row.subject, "broken");
    assert_eq!(row.attempts, MAX_ATTEMPTS);
    assert_eq!(row.locked_until, None);
    let error = row.last_error.as_deref().unwrap_or_default();
    assert!(error.contains("invalid recipient address"), "{error}");

    // Never tried again, even once it would be due.
    test.db
        .run(|conn| {
            diesel::update(mail_outbox::table)
                .set(mail_outbox::next_attempt_at.eq(latchkey::db::now()))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report, Default::default());
    assert_eq!(outbox(&test.db).await[0].attempts, MAX_ATTEMPTS);
    assert_eq!(sink.subject_counts().get("fine"), Some(&1));
    transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_recorded_with_backoff_and_retried() {
    let test = TestDb::new();
    let port = free_port().await;
    let transport = transport_for(port);
    enqueue(&test.db, message("r@example.com", "retry")).await;

    let before = latchkey::db::now();
    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    let row = outbox(&test.db).await.remove(0);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.locked_until, None);
    assert!(row.next_attempt_at > before, "{row:?}");
    assert!(row.last_error.is_some());

    // Not due yet: an immediate pass leaves it alone.
    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report, Default::default());

    let sink = SmtpSink::start_on(port).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report.delivered, 1, "{report:?}");
    assert!(outbox(&test.db).await.is_empty());
    assert_eq!(sink.subject_counts().get("retry"), Some(&1));
    transport.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_does_not_wait_for_a_stalled_smtp_server() {
    let test = TestDb::new();
    let sink = SmtpSink::start().await;
    sink.set_greeting_delay(Duration::from_secs(10));
    let worker = worker::spawn(
        test.db.clone(),
        &smtp_settings(sink.port(), Duration::from_secs(30)),
        key(),
    )
    .unwrap();

    // A first message gets the worker stuck in the slow greeting...
    enqueue(&test.db, message("first@example.com", "slow-1")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ... and the next request still only inserts.
    let started = Instant::now();
    enqueue(&test.db, message("second@example.com", "slow-2")).await;
    let latency = started.elapsed();
    println!(
        "enqueue latency while the SMTP server stalls its greeting ({}): {:.3} ms",
        test.backend,
        latency.as_secs_f64() * 1000.0
    );
    assert_eq!(outbox(&test.db).await.len(), 2, "both queued");
    assert!(
        sink.messages().is_empty(),
        "nothing delivered while the server stalls"
    );

    eventually(
        Duration::from_secs(60),
        "both delivered after the stall",
        || async { sink.messages().len() >= 2 && outbox(&test.db).await.is_empty() },
    )
    .await;
    let counts = sink.subject_counts();
    assert_eq!(counts.get("slow-1"), Some(&1));
    assert_eq!(counts.get("slow-2"), Some(&1));
    worker.shutdown().await;
}
