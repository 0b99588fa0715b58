//! No usable secret at rest in the outbox (ASVS 2.5.1): a queued mail's bodies are sealed
//! under a key derived from `SECRET_KEY`, so someone who can read the database cannot take
//! the reset link out of a mail waiting for an SMTP server; given-up mails lose their bodies.
//! And log lines name recipients by a keyed tag, never by their address.

use crate::common;
use crate::mail_support;

use common::{connect, new_email, spawn_app_with, PASSWORD};
use diesel::prelude::*;
use latchkey::db::schema::mail_outbox;
use latchkey::mail::worker::{deliver_due, MAX_ATTEMPTS};
use latchkey::mail::{Message, OutboxKey};
use mail_support::{enqueue, free_port, key, message, TestDb};
use reqwest::StatusCode;

#[derive(Debug, Queryable)]
struct Stored {
    recipient: String,
    text_body: String,
    html_body: String,
}

fn stored(database_url: &str) -> Vec<Stored> {
    mail_outbox::table
        .select((
            mail_outbox::recipient,
            mail_outbox::text_body,
            mail_outbox::html_body,
        ))
        .load(&mut connect(database_url))
        .expect("read mail_outbox")
}

/// The finding: with SMTP unreachable, the pending row held a `/reset/<token>` that worked.
#[actix_web::test]
async fn a_reset_mail_waiting_for_smtp_holds_no_usable_link() {
    let closed = free_port().await.to_string();
    let app = spawn_app_with(&[
        ("MAIL_SERVER", "127.0.0.1"),
        ("MAIL_PORT", &closed),
        ("SECURITY_RECOVERABLE", "true"),
    ])
    .await;
    let email = new_email("waiting");
    app.create_user(&email, PASSWORD).await;
    let r = app.client().submit("/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK);

    let rows = stored(&app.database_url);
    assert_eq!(rows.len(), 2, "the welcome mail and the reset mail wait");
    assert!(rows.iter().all(|row| row.recipient == email));
    for row in &rows {
        for body in [&row.text_body, &row.html_body] {
            assert!(body.starts_with("sealed:v1:"), "{body}");
            assert!(!body.contains("/reset/"), "{body}");
            assert!(!body.contains("http"), "{body}");
        }
    }
    // What the worker will send is the real mail, link and all.
    let key = OutboxKey::derive(&latchkey::config::Secret::new(app.secret_key.clone()));
    let opened: Vec<String> = rows
        .iter()
        .map(|row| {
            key.open(&row.text_body)
                .expect("the app's own key opens it")
        })
        .collect();
    assert!(
        opened.iter().any(|text| text.contains("/reset/")),
        "{opened:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_up_mail_keeps_no_body() {
    let test = TestDb::new();
    let sink = mail_support::SmtpSink::start().await;
    let transport = latchkey::mail::worker::Transport::from_settings(&mail_support::smtp_settings(
        sink.port(),
        std::time::Duration::from_secs(5),
    ))
    .unwrap();
    // A permanent failure (no such address) and a body sealed under another SECRET_KEY.
    enqueue(&test.db, message("not an address", "broken")).await;
    let foreign = OutboxKey::derive(&latchkey::config::Secret::new("another secret key"));
    let sealed_elsewhere: Message = message("someone@example.com", "foreign");
    test.db
        .run(move |conn| latchkey::mail::enqueue(conn, &foreign, &sealed_elsewhere))
        .await
        .unwrap();

    let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
    assert_eq!(report.given_up, 2, "{report:?}");
    let rows: Vec<(String, String, i32, Option<String>)> = test
        .db
        .run(|conn| {
            Ok(mail_outbox::table
                .select((
                    mail_outbox::text_body,
                    mail_outbox::html_body,
                    mail_outbox::attempts,
                    mail_outbox::last_error,
                ))
                .load(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    for (text, html, attempts, error) in &rows {
        assert_eq!((text.as_str(), html.as_str()), ("", ""), "bodies cleared");
        assert_eq!(*attempts, MAX_ATTEMPTS);
        assert!(error.is_some());
    }
    assert!(
        rows.iter()
            .any(|(_, _, _, e)| e.as_deref().unwrap_or("").contains("SECRET_KEY")),
        "{rows:?}"
    );
    assert!(sink.messages().is_empty());
}
