//! Mounting Latchkey and posting its security events to a webhook, as JSON.
//!
//! ```bash
//! WEBHOOK_URL=http://127.0.0.1:9000/hooks/security cargo run --example webhook
//! ```
//!
//! Every event (a sign-in, a failed sign-in, a password change, a passkey added, …) is
//! POSTed to `WEBHOOK_URL` as one JSON object, e.g.
//!
//! ```json
//! {"type": "login_succeeded", "method": "password", "second_factor": null,
//!  "user_id": 7, "at": "2026-11-30T07:18:34.123456Z", "ip": "203.0.113.77",
//!  "user_agent": "Mozilla/5.0 …", "client": "Firefox on Linux"}
//! ```
//!
//! How it stays off the request path: Latchkey's dispatcher thread calls the subscriber,
//! which only hands the record to a bounded channel (`try_send`, never waiting); one task
//! posts them in order. A webhook that is down or slow loses events past the channel's
//! bound (counted and logged here) and never holds up a request or Latchkey's other
//! subscribers. Plain `http://` only: the examples' HTTP client is built without TLS.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpServer};
use latchkey::auth::events::{EventRecord, EventSubscriber};
use latchkey::{AppState, Settings};
use tokio::sync::mpsc;

/// How many events may wait for the webhook before new ones are dropped.
const BACKLOG: usize = 1000;

/// Forwards each record to the posting task; never blocks Latchkey's dispatcher.
struct Webhook {
    queue: mpsc::Sender<EventRecord>,
    dropped: AtomicU64,
}

impl EventSubscriber for Webhook {
    fn handle(&self, record: &EventRecord) {
        if self.queue.try_send(record.clone()).is_err() {
            let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped, kind = record.event.kind(), "webhook backlog full");
        }
    }

    fn name(&self) -> &str {
        "webhook"
    }
}

/// Posts the records in order; a failed post is logged and the next one tried.
async fn post_events(url: String, mut queue: mpsc::Receiver<EventRecord>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(client) => client,
        Err(e) => return tracing::error!(error = %e, "cannot build the webhook client"),
    };
    while let Some(record) = queue.recv().await {
        let mut body = serde_json::to_value(&record).unwrap_or_default();
        // The approximate client, as the notices and activity lists show it.
        body["client"] = record.client().into();
        match client.post(&url).json(&body).send().await {
            Ok(answer) if answer.status().is_success() => {}
            Ok(answer) => tracing::warn!(status = %answer.status(), "webhook refused an event"),
            Err(e) => tracing::warn!(error = %e, "webhook unreachable"),
        }
    }
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    latchkey::telemetry::init();
    let url = std::env::var("WEBHOOK_URL")
        .map_err(|_| anyhow::anyhow!("set WEBHOOK_URL (e.g. http://127.0.0.1:9000/hook)"))?;
    let settings = Settings::from_env()?;
    let address = (settings.host.clone(), settings.port);
    let state = web::Data::new(web::block(move || AppState::new(settings)).await??);

    // Subscribe before the server takes its first request.
    let (sender, receiver) = mpsc::channel(BACKLOG);
    actix_web::rt::spawn(post_events(url, receiver));
    state.events.subscribe(Arc::new(Webhook {
        queue: sender,
        dropped: AtomicU64::new(0),
    }));

    let mail_worker = state.spawn_mail_worker()?;
    let events = state.events.clone();
    HttpServer::new(move || latchkey::app(state.clone()))
        .bind(address)?
        .run()
        .await?;
    // The last requests' events reach the subscribers (and so the channel) before the end.
    web::block(move || events.flush(Duration::from_secs(5))).await?;
    mail_worker.shutdown().await;
    Ok(())
}
