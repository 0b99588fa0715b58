//! Starting up: a missing or unusable setting stops start-up with one line naming it,
//! never a panic; a good configuration serves and stops cleanly.

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use latchkey::config::Source;
use latchkey::Settings;

use common::latchkey_command;

fn settings_from(pairs: &[(&str, &str)]) -> Result<Settings, latchkey::config::ConfigError> {
    Settings::from_source(&Source::from_pairs(pairs.iter().copied()))
}

/// Runs the binary to completion (it must exit by itself within 60 s).
fn run_latchkey(env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut child = latchkey_command(dir.path(), env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the latchkey binary");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("latchkey did not exit with env {env:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The binary failed with exactly one stderr line containing `needle`, and no panic.
fn assert_fails_naming(env: &[(&str, &str)], needle: &str) -> String {
    let out = run_latchkey(env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "exited successfully: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr, got: {stderr}");
    assert!(lines[0].contains(needle), "{needle} not named: {stderr}");
    stderr
}

#[test]
fn settings_without_secret_key_are_an_error_naming_it() {
    let err = settings_from(&[("SECURITY_PASSWORD_SALT", "salt")]).unwrap_err();

    assert_eq!(err.key, "SECRET_KEY");
    assert!(err.to_string().contains("SECRET_KEY"), "{err}");
}

#[test]
fn settings_without_a_password_salt_are_an_error_naming_it() {
    let err = settings_from(&[("SECRET_KEY", "k")]).unwrap_err();

    assert_eq!(err.key, "SECURITY_PASSWORD_SALT");
}

#[test]
fn unusable_values_are_errors_naming_the_setting() {
    let base = [("SECRET_KEY", "k"), ("SECURITY_PASSWORD_SALT", "s")];
    for (key, value) in [
        ("DATABASE_URL", "mysql://x"),
        ("PORT", "eighty"),
        ("SECURITY_BCRYPT_ROUNDS", "3"),
        ("SECURITY_TRACKABLE", "maybe"),
        ("BASE_URL", "ftp://example.com"),
        ("REMEMBER_COOKIE_DURATION", "forever"),
    ] {
        let mut pairs = base.to_vec();
        pairs.push((key, value));

        let err = settings_from(&pairs).unwrap_err();

        assert_eq!(err.key, key, "{err}");
    }
}

#[test]
fn the_binary_with_an_empty_environment_names_secret_key() {
    assert_fails_naming(&[], "SECRET_KEY");
}

/// A misspelt `SECURITY_*` key: development warns, naming the key it was meant to be, and
/// goes on; production refuses to start unless `SECURITY_ALLOW_UNKNOWN_KEYS=true`.
#[test]
fn a_misspelt_key_is_named_and_production_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let db = db.to_str().unwrap();
    let base = [
        ("SECRET_KEY", "a-production-secret-key-of-at-least-32-bytes"),
        (
            "SECURITY_PASSWORD_SALT",
            "a-production-password-salt-of-32-bytes",
        ),
        ("DATABASE_URL", db),
        ("SESSION_COOKIE_SECURE", "true"),
        ("SECURITY_LOGIN_URLL", "/signin"),
    ];
    // `users list` starts from the same configuration as the server, then exits.
    let run = |extra: &[(&str, &str)]| {
        let mut env = base.to_vec();
        env.extend_from_slice(extra);
        let out = latchkey_command(dir.path(), &env)
            .args(["users", "list"])
            .output()
            .expect("run latchkey");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = run(&[("APP_ENV", "production")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "SECURITY_LOGIN_URLL: unknown key, ignored; did you mean SECURITY_LOGIN_URL?"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("SECURITY_ALLOW_UNKNOWN_KEYS=true"),
        "{stderr}"
    );

    let (code, stderr) = run(&[
        ("APP_ENV", "production"),
        ("SECURITY_ALLOW_UNKNOWN_KEYS", "true"),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("did you mean SECURITY_LOGIN_URL?"),
        "still warned: {stderr}"
    );

    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(0), "development only warns: {stderr}");
    assert!(
        stderr.contains("did you mean SECURITY_LOGIN_URL?"),
        "{stderr}"
    );
}

#[test]
fn the_binary_with_an_unsupported_database_names_database_url() {
    assert_fails_naming(
        &[
            ("SECRET_KEY", "a-secret-key-for-the-test"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "mysql://x"),
        ],
        "DATABASE_URL",
    );
}

#[cfg(not(feature = "postgres"))]
#[test]
fn the_binary_without_postgres_support_says_how_to_get_it() {
    let stderr = assert_fails_naming(
        &[
            ("SECRET_KEY", "a-secret-key-for-the-test"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "postgres://127.0.0.1/test"),
        ],
        "DATABASE_URL",
    );
    assert!(stderr.contains("--features postgres"), "{stderr}");
}

#[test]
fn the_binary_reports_a_database_it_cannot_create() {
    let out = run_latchkey(&[
        ("SECRET_KEY", "a-secret-key-for-the-test"),
        ("SECURITY_PASSWORD_SALT", "salt"),
        ("PORT", "0"),
        ("DATABASE_URL", "/proc/latchkey-cannot-be-here/data.db"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("/proc/latchkey-cannot-be-here"),
        "the path is named: {stderr}"
    );
}

#[actix_web::test]
async fn a_port_in_use_is_an_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("x.db");
    let settings = settings_from(&[
        ("SECRET_KEY", "k"),
        ("SECURITY_PASSWORD_SALT", "s"),
        ("PORT", &port),
        ("DATABASE_URL", &db.to_string_lossy()),
    ])
    .unwrap();

    let err = latchkey::Application::build(settings)
        .await
        .err()
        .expect("the port is taken");

    assert!(err.to_string().contains(&port), "{err}");
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[actix_web::test]
async fn the_binary_serves_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let mut server = Server(
        latchkey_command(
            dir.path(),
            &[
                ("SECRET_KEY", "a-secret-key-for-the-test"),
                ("SECURITY_PASSWORD_SALT", "salt"),
                ("PORT", &port),
                ("WORKERS", "1"),
                ("SECURITY_BCRYPT_ROUNDS", "4"),
                ("RUST_LOG", "warn"),
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the latchkey binary"),
    );
    let client = common::TestClient::new(&format!("http://127.0.0.1:{port}"));

    // Ready when it answers (polled).
    let deadline = Instant::now() + Duration::from_secs(60);
    let home = loop {
        if let Ok(r) = client.http.get(client.url("/")).send().await {
            break r;
        }
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "latchkey exited early"
        );
        assert!(Instant::now() < deadline, "latchkey never answered");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(home.status(), reqwest::StatusCode::OK);
    assert!(home.text().await.unwrap().contains("Hello, world!"));
    // The default database is created relative to the working folder.
    assert!(dir.path().join("instance/latchkey.db").is_file());

    let pid = server.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "latchkey ignored SIGTERM");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[actix_web::test]
async fn the_suite_runs_on_the_backend_it_was_asked_for() {
    let app = common::spawn_app().await;

    match std::env::var(common::POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => {
            assert!(
                app.database_url.starts_with("postgres")
                    && app.database_url.contains("latchkey_t_"),
                "{}",
                app.database_url
            );
            #[cfg(feature = "postgres")]
            assert!(matches!(app.db(), latchkey::db::DbConnection::Postgres(_)));
        }
        _ => {
            assert!(app.is_sqlite(), "{}", app.database_url);
            assert!(Path::new(&app.database_url).is_file());
        }
    }
    app.register(&common::new_email("backend"), common::PASSWORD)
        .await;
    assert_eq!(app.count_users(), 1);
}

#[cfg(feature = "postgres")]
#[test]
fn the_binary_reports_an_unreachable_postgres_server() {
    let out = run_latchkey(&[
        ("SECRET_KEY", "a-secret-key-for-the-test"),
        ("SECURITY_PASSWORD_SALT", "salt"),
        ("PORT", "0"),
        (
            "DATABASE_URL",
            "postgres://127.0.0.1:1/nothing-listens-here",
        ),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains("postgres"), "{stderr}");
}
