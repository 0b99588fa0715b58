//! Helpers for the mail tests: a fresh database per test (SQLite, or PostgreSQL when
//! `LATCHKEY_TEST_POSTGRES_URL` is set and the crate is built with `--features postgres`),
//! a real (tiny) SMTP server, and small queries on `mail_outbox`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    _cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    #[cfg(feature = "postgres")]
    Postgres {
        admin_url: String,
        name: String,
    },
}

impl TestDb {
    pub fn new() -> TestDb {
        #[cfg(feature = "postgres")]
        if let Ok(url) = std::env::var("LATCHKEY_TEST_POSTGRES_URL") {
            if !url.trim().is_empty() {
                return Self::postgres(url.trim());
            }
        }
        Self::sqlite()
    }

    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary folder");
        let path = dir.path().join("latchkey.db");
        let url = DatabaseUrl::parse(path.to_str().expect("UTF-8 temp path")).expect("sqlite url");
        let db = Db::connect(&url).expect("SQLite database");
        TestDb {
            db,
            backend: "sqlite",
            _cleanup: Cleanup::Sqlite(dir),
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(admin_url: &str) -> TestDb {
        let name = format!("latchkey_m_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut admin = diesel::PgConnection::establish(admin_url)
            .unwrap_or_else(|e| panic!("cannot connect to {admin_url}: {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("CREATE DATABASE");
        let url = with_database(admin_url, &name);
        let db = Db::connect(&DatabaseUrl::parse(&url).expect("postgres url"))
            .expect("PostgreSQL database");
        TestDb {
            db,
            backend: "postgres",
            _cleanup: Cleanup::Postgres {
                admin_url: admin_url.to_owned(),
                name,
            },
        }
    }
}

/// `postgres://host/db?x` with its database replaced by `name`.
#[cfg(feature = "postgres")]
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..host_end])
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::Sqlite(_) => {}
            #[cfg(feature = "postgres")]
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut admin) = diesel::PgConnection::establish(admin_url) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut admin);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbox helpers

pub fn message(to: &str, subject: &str) -> Message {
    Message {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("Hello {to},\n\nConfirm: http://localhost:8080/confirm/tok-{subject}\n"),
        html: format!(
            "<p>Hello {to},</p><p><a href=\"http://localhost:8080/confirm/tok-{subject}\">Confirm</a></p>"
        ),
    }
}

/// Enqueues through the crate's own `enqueue`, on the blocking pool like a request does.
pub async fn enqueue(db: &Db, message: Message) {
    db.run(move |conn| latchkey::mail::enqueue(conn, &message))
        .await
        .expect("enqueue");
}

#[derive(Debug, Clone, Queryable)]
pub struct OutboxRow {
    pub id: i64,
    pub recipient: String,
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
                mail_outbox::id,
                mail_outbox::recipient,
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
        timeout,
        outbox_dir: PathBuf::from("unused-outbox"),
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

    /// The decoded body of the MIME part whose type is `mime` (e.g. `"text/html"`).
    pub fn part(&self, mime: &str) -> Option<String> {
        let content_type = self.header("Content-Type")?;
        let boundary = content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))?
            .trim_matches('"')
            .to_owned();
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
            let body = body.strip_suffix("\r\n").unwrap_or(body);
            let encoding = headers
                .header("Content-Transfer-Encoding")
                .unwrap_or_default()
                .to_ascii_lowercase();
            return Some(match encoding.as_str() {
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
            });
        }
        None
    }
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
