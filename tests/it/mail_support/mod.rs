//! Helpers for the mail tests: a fresh database per test (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_POSTGRES_URL` is set and the crate is built with `--features postgres`),
//! a real (tiny) SMTP server, small queries on `mail_outbox`, and the `.eml` files of the
//! development transport. It builds on `crate::common`: a crate that includes it has both.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::FreshDatabase;
use diesel::prelude::*;
use latchkey::config::MailSettings;
use latchkey::db::schema::mail_outbox;
use latchkey::db::{DatabaseUrl, Db};
use latchkey::mail::Message;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

// ---------------------------------------------------------------------------------------------
// Databases

/// A migrated database that disappears with the value.
pub struct TestDb {
    pub db: Db,
    pub backend: &'static str,
    // Dropped after `db` (fields drop in order).
    _database: FreshDatabase,
}

impl TestDb {
    pub fn new() -> TestDb {
        let database = FreshDatabase::new();
        let url = DatabaseUrl::parse(&database.url).expect("database url");
        TestDb {
            db: Db::connect(&url).expect("migrated test database"),
            backend: database.backend_name(),
            _database: database,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbox helpers

pub fn message(to: &str, subject: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: Some(format!(
            "Hello {to},\n\nConfirm: http://localhost:8080/confirm/tok-{subject}\n"
        )),
        html: Some(format!(
            "<p>Hello {to},</p><p><a href=\"http://localhost:8080/confirm/tok-{subject}\">Confirm</a></p>"
        )),
    }
}

/// The outbox key these tests seal and open bodies with.
pub fn key() -> latchkey::mail::OutboxKey {
    latchkey::mail::OutboxKey::derive(&latchkey::config::Secret::new("mail-support-secret"))
}

/// Enqueues through the crate's own `enqueue`, on the blocking pool like a request does.
pub async fn enqueue(db: &Db, message: Message) {
    db.run(move |conn| latchkey::mail::enqueue(conn, &key(), &message))
        .await
        .expect("enqueue");
}

#[derive(Debug, Clone, Queryable)]
pub struct OutboxRow {
    pub subject: String,
    pub attempts: i32,
    pub next_attempt_at: chrono::NaiveDateTime,
    pub locked_until: Option<chrono::NaiveDateTime>,
    pub last_error: Option<String>,
}

pub async fn outbox(db: &Db) -> Vec<OutboxRow> {
    db.run(|conn| {
        Ok(mail_outbox::table
            .order(mail_outbox::id.asc())
            .select((
                mail_outbox::subject,
                mail_outbox::attempts,
                mail_outbox::next_attempt_at,
                mail_outbox::locked_until,
                mail_outbox::last_error,
            ))
            .load(conn)?)
    })
    .await
    .expect("read mail_outbox")
}

/// Mail settings for the SMTP server on 127.0.0.1:`port` (plain, no auth).
pub fn smtp_settings(port: u16, timeout: Duration) -> MailSettings {
    MailSettings {
        server: Some("127.0.0.1".to_owned()),
        port,
        username: None,
        password: None,
        use_tls: false,
        use_ssl: false,
        default_sender: "Latchkey <no-reply@example.com>".to_owned(),
        sender_name: None,
        timeout,
        outbox_dir: PathBuf::from("unused-outbox"),
        log_links: true,
        retention: Duration::from_secs(7 * 86_400),
        parts: Default::default(),
    }
}

/// Waits until `check` holds, polling; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port on 127.0.0.1 with nothing listening (bound once, then released).
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

// ---------------------------------------------------------------------------------------------
// A small SMTP server

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA section, dot-unstuffed, CRLF line ends.
    pub data: String,
}

impl Received {
    /// The first header `name` (unfolded), e.g. `header("Subject")`.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut value: Option<String> = None;
        for line in head.split("\r\n") {
            if let Some(v) = value.as_mut() {
                if line.starts_with([' ', '\t']) {
                    v.push_str(line.trim_start());
                    continue;
                }
                break;
            }
            if let Some((key, rest)) = line.split_once(':') {
                if key.eq_ignore_ascii_case(name) {
                    value = Some(rest.trim().to_owned());
                }
            }
        }
        value
    }

    /// The decoded body of the MIME part whose type is `mime` (e.g. `"text/html"`): one
    /// part of a multipart message, or the whole body of a message of that type.
    pub fn part(&self, mime: &str) -> Option<String> {
        let content_type = self.header("Content-Type")?;
        let Some(boundary) = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
        else {
            if !content_type.starts_with(mime) {
                return None;
            }
            let (_, body) = self.data.split_once("\r\n\r\n")?;
            return decoded(self, body);
        };
        let boundary = boundary.trim_matches('"').to_owned();
        for part in self.data.split(&format!("--{boundary}")).skip(1) {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let (head, body) = part.split_once("\r\n\r\n")?;
            let headers = Received {
                mail_from: String::new(),
                rcpt_to: Vec::new(),
                data: format!("{head}\r\n\r\n"),
            };
            let part_type = headers.header("Content-Type").unwrap_or_default();
            if !part_type.starts_with(mime) {
                continue;
            }
            return decoded(&headers, body);
        }
        None
    }
}

/// `body` decoded as its `Content-Transfer-Encoding` (in `headers`) says.
fn decoded(headers: &Received, body: &str) -> Option<String> {
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    let encoding = headers
        .header("Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase();
    Some(match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => {
            use base64::Engine;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()?;
            String::from_utf8(bytes).ok()?
        }
        _ => body.to_owned(),
    })
}

fn decode_quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[derive(Default)]
struct SinkShared {
    messages: Mutex<Vec<Received>>,
    greeting_delay: Mutex<Duration>,
}

/// An SMTP server on 127.0.0.1 that accepts everything and keeps the raw messages. It can be
/// stopped (closing every connection) and started again on the same port, and told to delay
/// its greeting.
pub struct SmtpSink {
    port: u16,
    shared: Arc<SinkShared>,
    task: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::start_on(0).await
    }

    pub async fn start_on(port: u16) -> SmtpSink {
        let mut sink = SmtpSink {
            port,
            shared: Arc::new(SinkShared::default()),
            task: None,
        };
        sink.listen().await;
        sink
    }

    async fn listen(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("SMTP sink cannot listen on {}: {e}", self.port));
        self.port = listener.local_addr().expect("addr").port();
        let shared = self.shared.clone();
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every open connection.
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        if let Ok((stream, _)) = accepted {
                            connections.spawn(serve(stream, shared.clone()));
                        }
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        }));
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops listening and drops every connection: the server is down.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again on the same port, keeping what was received so far.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.listen().await;
    }

    /// Delays the `220` greeting of new connections.
    pub fn set_greeting_delay(&self, delay: Duration) {
        *self.shared.greeting_delay.lock().expect("lock") = delay;
    }

    pub fn messages(&self) -> Vec<Received> {
        self.shared.messages.lock().expect("lock").clone()
    }

    /// How many times each subject was received.
    pub fn subject_counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for m in self.messages() {
            *counts
                .entry(m.header("Subject").unwrap_or_default())
                .or_insert(0) += 1;
        }
        counts
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn serve(stream: TcpStream, shared: Arc<SinkShared>) {
    let _ = converse(stream, shared).await;
}

async fn converse(stream: TcpStream, shared: Arc<SinkShared>) -> std::io::Result<()> {
    let delay = *shared.greeting_delay.lock().expect("lock");
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut mail_from = String::new();
    let mut rcpt_to = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_owned();
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 sink.test\r\n",
            "MAIL" => {
                mail_from = command[4..].trim().to_owned();
                rcpt_to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                rcpt_to.push(command[4..].trim().to_owned());
                b"250 2.1.5 OK\r\n"
            }
            "DATA" => {
                write
                    .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    let content = line.trim_end_matches(['\r', '\n']);
                    if content == "." {
                        break;
                    }
                    data.push_str(content.strip_prefix('.').unwrap_or(content));
                    data.push_str("\r\n");
                }
                shared.messages.lock().expect("lock").push(Received {
                    mail_from: std::mem::take(&mut mail_from),
                    rcpt_to: std::mem::take(&mut rcpt_to),
                    data,
                });
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                mail_from.clear();
                rcpt_to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

// ---------------------------------------------------------------------------------------------
// Mail written by the development transport

/// The messages the development transport has written to `dir`, oldest first.
pub fn eml_messages(dir: &std::path::Path) -> Vec<Received> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    // Names start with the delivery time, so name order is delivery order.
    files.sort();
    files
        .iter()
        .map(|f| Received {
            mail_from: String::new(),
            rcpt_to: Vec::new(),
            data: std::fs::read_to_string(f).expect("read .eml"),
        })
        .collect()
}

/// The messages in `dir` addressed to `to` with subject `subject`.
pub fn eml_messages_to(dir: &std::path::Path, to: &str, subject: &str) -> Vec<Received> {
    eml_messages(dir)
        .into_iter()
        .filter(|m| m.is_to(to) && m.header("Subject").as_deref() == Some(subject))
        .collect()
}

/// Waits (up to 10 s) until `dir` holds `count` messages to `to` with `subject`; returns
/// them, oldest first.
pub async fn wait_for_eml(
    dir: &std::path::Path,
    to: &str,
    subject: &str,
    count: usize,
) -> Vec<Received> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = eml_messages_to(dir, to, subject);
        if found.len() >= count {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} mail(s) {subject:?} to {to}, found {}; all mail: {:?}",
            found.len(),
            eml_messages(dir)
                .iter()
                .map(|m| (m.header("To"), m.header("Subject")))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Received {
    /// Whether the `To` header names `address`.
    pub fn is_to(&self, address: &str) -> bool {
        self.header("To")
            .is_some_and(|to| to.to_lowercase().contains(&address.to_lowercase()))
    }

    /// The first absolute link in the text part whose path starts with `path_prefix`.
    pub fn link(&self, path_prefix: &str) -> String {
        let text = self.part("text/plain").expect("a text/plain part");
        text.split_whitespace()
            .map(|w| w.trim_end_matches(['.', ',', ')', '>']))
            .find(|w| {
                (w.starts_with("http://") || w.starts_with("https://"))
                    && w.split_once("://").is_some_and(|(_, rest)| {
                        rest.find('/')
                            .is_some_and(|at| rest[at..].starts_with(path_prefix))
                    })
            })
            .unwrap_or_else(|| panic!("no {path_prefix} link in: {text}"))
            .to_owned()
    }

    /// The path (from the first `/`) of [`Received::link`].
    pub fn link_path(&self, path_prefix: &str) -> String {
        let link = self.link(path_prefix);
        let after_scheme = link.split_once("://").map_or(link.as_str(), |(_, r)| r);
        let at = after_scheme.find('/').unwrap_or(after_scheme.len());
        after_scheme[at..].to_owned()
    }
}
