//! Without `MAIL_SERVER`, messages are written as `.eml` files and their links are logged.

use crate::mail_support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::config::MailSettings;
use latchkey::mail::worker::{self, deliver_due, Transport};
use mail_support::{enqueue, eventually, key, message, outbox, TestDb};

fn dev_settings(dir: &std::path::Path) -> MailSettings {
    MailSettings {
        server: None,
        port: 25,
        username: None,
        password: None,
        use_tls: false,
        use_ssl: false,
        default_sender: "no-reply@localhost".to_owned(),
        sender_name: None,
        timeout: Duration::from_secs(10),
        outbox_dir: dir.to_path_buf(),
        log_links: true,
        retention: std::time::Duration::from_secs(7 * 86_400),
        parts: Default::default(),
    }
}

fn eml_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files
}

/// Collects formatted log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

// Single-threaded, so that the subscriber set for this thread sees the transport's log line.
// Every test of the binary reaches that call site (their apps mail through this transport):
// the global subscriber keeps `tracing` from caching it as unheard (see `init_logging`).
#[tokio::test(flavor = "current_thread")]
async fn the_development_transport_writes_eml_files_and_logs_the_links() {
    crate::common::init_logging();
    let test = TestDb::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("instance").join("mail");
    assert!(!dir.exists());
    let transport = Transport::from_settings(&dev_settings(&dir)).unwrap();
    assert!(transport.describe().contains("development"));

    enqueue(&test.db, message("newcomer@example.com", "Welcome")).await;
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::INFO)
        .finish();
    let report = {
        let _guard = tracing::subscriber::set_default(subscriber);
        deliver_due(&test.db, &transport, &key()).await.unwrap()
    };
    assert_eq!(report.delivered, 1);
    assert!(
        outbox(&test.db).await.is_empty(),
        "delivered rows are removed"
    );

    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("From: no-reply@localhost\r\n"), "{raw}");
    assert!(raw.contains("To: newcomer@example.com\r\n"), "{raw}");
    assert!(raw.contains("Subject: Welcome\r\n"), "{raw}");
    assert!(raw.contains("multipart/alternative"), "{raw}");
    assert!(
        raw.contains("text/plain") && raw.contains("text/html"),
        "{raw}"
    );
    assert!(
        raw.contains("http://localhost:8080/confirm/tok-Welcome"),
        "{raw}"
    );

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let info: Vec<&str> = logs.lines().filter(|l| l.contains("INFO")).collect();
    assert_eq!(info.len(), 1, "one info line per message: {logs}");
    let line = info[0];
    println!("{line}");
    assert!(line.contains("Welcome"), "{line}");
    // Logs carry no addresses: the file (which has it) is named instead.
    assert!(!line.contains("newcomer@example.com"), "{line}");
    assert!(line.contains(".eml"), "{line}");
    assert!(
        line.contains("http://localhost:8080/confirm/tok-Welcome"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_uses_the_development_transport_without_mail_server() {
    let test = TestDb::new();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("outbox");
    let worker = worker::spawn(test.db.clone(), &dev_settings(&dir), key()).unwrap();
    for i in 0..3 {
        enqueue(
            &test.db,
            message(&format!("n{i}@example.com"), &format!("dev-{i}")),
        )
        .await;
    }
    eventually(Duration::from_secs(20), "three .eml files", || async {
        eml_files(&dir).len() == 3 && outbox(&test.db).await.is_empty()
    })
    .await;
    let mut recipients: Vec<String> = eml_files(&dir)
        .iter()
        .map(|f| {
            let raw = std::fs::read_to_string(f).unwrap();
            raw.lines()
                .find_map(|l| l.strip_prefix("To: ").map(str::to_owned))
                .unwrap_or_default()
        })
        .collect();
    recipients.sort();
    assert_eq!(
        recipients,
        ["n0@example.com", "n1@example.com", "n2@example.com"]
    );
    worker.shutdown().await;
}

/// A bare `MAIL_DEFAULT_SENDER` comes from the app's name ("Latchkey <no-reply@…>"), as
/// mail from GitHub or Google names its sender; a sender with a name of its own keeps it.
#[tokio::test]
async fn mail_comes_from_the_apps_name_unless_the_sender_names_itself() {
    for (sender, expected) in [
        (
            "no-reply@localhost",
            "From: Latchkey <no-reply@localhost>\r\n",
        ),
        (
            "Support <help@localhost>",
            "From: Support <help@localhost>\r\n",
        ),
    ] {
        let test = TestDb::new();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("mail");
        let settings = MailSettings {
            default_sender: sender.to_owned(),
            sender_name: Some("Latchkey".to_owned()),
            ..dev_settings(&dir)
        };
        let transport = Transport::from_settings(&settings).unwrap();
        enqueue(&test.db, message("someone@example.com", "Hello")).await;
        let report = deliver_due(&test.db, &transport, &key()).await.unwrap();
        assert_eq!(report.delivered, 1);
        let files = eml_files(&dir);
        let raw = std::fs::read_to_string(&files[0]).unwrap();
        assert!(raw.contains(expected), "{sender}: {raw}");
    }
}
