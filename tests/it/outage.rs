//! When the database goes away: requests that need it answer 503 with `Retry-After` at once
//! (not after the pool's timeout), pages that need no database keep answering, `/healthz`
//! names the dependency that is down, and everything works again once it is back, without
//! a restart. On SQLite the file is taken away under the running server; on PostgreSQL the
//! test runs a cluster of its own and stops it (never the shared one).

use crate::common;

use std::time::{Duration, Instant};

use common::{new_email, spawn_app_with, TestApp, TestClient, PASSWORD};
use reqwest::StatusCode;
use serde_json::Value;

/// Far longer than failing fast takes, far shorter than the pool timeout the tests set:
/// an answer slower than this waited for the pool.
const FAST: Duration = Duration::from_secs(5);
const POOL_TIMEOUT: &str = "30";

/// Asserts that while the database is down, a logged-in page is a prompt 503 with
/// `Retry-After`, the login page still answers, and `/healthz` names the database.
async fn assert_failing_fast(app: &TestApp, browser: &TestClient) {
    for attempt in 1..=5 {
        let started = Instant::now();
        let r = browser.get_json("/profile").await;
        let took = started.elapsed();
        let (status, headers) = (r.status(), r.headers().clone());
        let body = r.text().await.unwrap_or_default();
        // Everything in each message: a failure under CI's load must explain itself.
        let seen = format!("request {attempt} after {took:?}: {status} {headers:?} {body}");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{seen}");
        assert!(headers.get("retry-after").is_some(), "{seen}");
        assert!(took < FAST, "it waited for the pool: {seen}");
    }
    let r = app.client().get("/login").await;
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "the login page needs no database: {}",
        r.text().await.unwrap_or_default()
    );
    let r = app.client().get("/healthz").await;
    let status = r.status();
    let health: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{health}");
    assert_eq!(health["down"], serde_json::json!(["database"]), "{health}");
    assert_eq!(health["dependencies"]["database"]["up"], false, "{health}");
    assert!(
        health["dependencies"]["database"]["error"].is_string(),
        "{health}"
    );
}

/// Waits (up to 10 s) for the logged-in page to answer 200 again.
async fn assert_recovers(app: &TestApp, browser: &TestClient) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let started = Instant::now();
        let r = browser.get_json("/profile").await;
        let status = r.status();
        if status == StatusCode::OK {
            break;
        }
        let seen = format!(
            "after {:?}: {status} {}",
            started.elapsed(),
            r.text().await.unwrap_or_default()
        );
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{seen}");
        assert!(
            Instant::now() < deadline,
            "not back 10 s after the database: {seen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let health: Value = app.client().get("/healthz").await.json().await.unwrap();
    assert_eq!(health["status"], "ok", "{health}");
}

async fn logged_in(app: &TestApp) -> TestClient {
    let email = new_email("outage");
    app.create_user(&email, PASSWORD).await;
    let browser = app.logged_in_client(&email, PASSWORD, false).await;
    assert_eq!(browser.get_json("/profile").await.status(), StatusCode::OK);
    browser
}

#[actix_web::test]
async fn sqlite_a_file_taken_away_fails_fast_and_its_return_is_noticed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outage.db");
    let url = path.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &url),
        ("DATABASE_POOL_TIMEOUT", POOL_TIMEOUT),
        ("HOUSEKEEPING_INTERVAL", "0"),
    ])
    .await;
    let browser = logged_in(&app).await;

    // The file goes (a bad mount, a careless operator): a directory takes its name, so
    // nothing can open it, and the server must not go on writing to the old file.
    let aside = dir.path().join("outage.db.aside");
    std::fs::rename(&path, &aside).unwrap();
    std::fs::create_dir(&path).unwrap();
    assert_failing_fast(&app, &browser).await;
    assert!(path.is_dir(), "never recreated as an empty database");

    std::fs::remove_dir(&path).unwrap();
    std::fs::rename(&aside, &path).unwrap();
    assert_recovers(&app, &browser).await;
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// A PostgreSQL cluster of the test's own, on a free port, run as the `postgres` user
    /// (initdb refuses root); stopped and removed when dropped.
    struct Cluster {
        bin: PathBuf,
        data: tempfile::TempDir,
        port: u16,
    }

    fn bin_dir() -> PathBuf {
        let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server binaries (/usr/lib/postgresql/<version>/bin)")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|bin| bin.join("pg_ctl").exists())
            .collect();
        found.sort();
        found.pop().expect("pg_ctl under /usr/lib/postgresql")
    }

    fn as_postgres(bin: &Path, tool: &str, args: &[&str]) {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(bin.join(tool))
            .args(args)
            .output()
            .expect("runuser");
        assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    }

    impl Cluster {
        fn start() -> Self {
            let bin = bin_dir();
            let data = tempfile::Builder::new()
                .prefix("latchkey-outage-pg-")
                .tempdir()
                .unwrap();
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(data.path())
                .status()
                .unwrap();
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let dir = data.path().to_string_lossy().into_owned();
            as_postgres(
                &bin,
                "initdb",
                &["-D", &dir, "-A", "trust", "-U", "postgres"],
            );
            let cluster = Self { bin, data, port };
            cluster.run();
            cluster
        }

        fn dir(&self) -> String {
            self.data.path().to_string_lossy().into_owned()
        }

        fn run(&self) {
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
                self.port,
                self.dir()
            );
            let log = format!("{}/server.log", self.dir());
            as_postgres(
                &self.bin,
                "pg_ctl",
                &["-D", &self.dir(), "-o", &options, "-l", &log, "-w", "start"],
            );
        }

        fn stop(&self) {
            as_postgres(
                &self.bin,
                "pg_ctl",
                &["-D", &self.dir(), "-m", "immediate", "-w", "stop"],
            );
        }

        fn url(&self) -> String {
            format!(
                "postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable",
                self.port
            )
        }
    }

    impl Drop for Cluster {
        fn drop(&mut self) {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.dir(), "-m", "immediate", "stop"])
                .output();
        }
    }

    #[actix_web::test]
    async fn postgres_stopped_fails_fast_and_its_return_is_noticed() {
        let cluster = Cluster::start();
        let url = cluster.url();
        let app = spawn_app_with(&[
            ("DATABASE_URL", &url),
            ("DATABASE_POOL_TIMEOUT", POOL_TIMEOUT),
            ("HOUSEKEEPING_INTERVAL", "0"),
        ])
        .await;
        let browser = logged_in(&app).await;

        cluster.stop();
        // The first request may find its connection dead; it must still be a 503 (never a
        // 500), and every one after it prompt.
        let first = browser.get_json("/profile").await.status();
        assert_eq!(first, StatusCode::SERVICE_UNAVAILABLE);
        assert_failing_fast(&app, &browser).await;

        cluster.run();
        assert_recovers(&app, &browser).await;
    }
}
