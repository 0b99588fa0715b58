//! Running it in production: `APP_ENV=production` refusals, `/healthz`, logs (request ids,
//! auth events, JSON, and never a secret) and graceful shutdown. The binary runs as a
//! process with its logs captured.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{csrf_from_html, latchkey_command, random_hex, set_cookies, FreshDatabase};
use diesel::connection::SimpleConnection;
use reqwest::header::{COOKIE, LOCATION};
use reqwest::StatusCode;

const DEV_SECRET_KEY: &str = "dev-only-secret-key-change-me-in-production-0123456789abcdef";
const DEV_SALT: &str = "dev-only-password-salt-change-me";

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string()
}

/// Production settings that pass every check.
fn production_env(db: &FreshDatabase) -> Vec<(&'static str, String)> {
    vec![
        ("APP_ENV", "production".into()),
        ("SECRET_KEY", random_hex(32)),
        ("SECURITY_PASSWORD_SALT", random_hex(24)),
        ("SESSION_COOKIE_SECURE", "true".into()),
        ("DATABASE_URL", db.url.clone()),
        ("SECURITY_BCRYPT_ROUNDS", "4".into()),
        ("SECURITY_REGISTERABLE", "true".into()),
        ("WORKERS", "1".into()),
    ]
}

fn with(
    mut env: Vec<(&'static str, String)>,
    key: &'static str,
    value: Option<&str>,
) -> Vec<(&'static str, String)> {
    env.retain(|(k, _)| *k != key);
    if let Some(v) = value {
        env.push((key, v.to_owned()));
    }
    env
}

fn as_pairs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn production_refuses_development_secrets_short_keys_and_insecure_cookies() {
    let db = FreshDatabase::new();
    let good = production_env(&db);
    for (key, value, named) in [
        ("SECRET_KEY", Some(DEV_SECRET_KEY), "SECRET_KEY"),
        (
            "SECURITY_PASSWORD_SALT",
            Some(DEV_SALT),
            "SECURITY_PASSWORD_SALT",
        ),
        (
            "SECRET_KEY",
            Some("only-31-bytes-long-0123456789ab"),
            "SECRET_KEY",
        ),
        (
            "SESSION_COOKIE_SECURE",
            Some("false"),
            "SESSION_COOKIE_SECURE",
        ),
        ("SESSION_COOKIE_SECURE", None, "SESSION_COOKIE_SECURE"),
        ("APP_ENV", Some("prodution"), "APP_ENV"),
    ] {
        let env = with(good.clone(), key, value);
        let out = latchkey_command(db.dir.path(), &as_pairs(&env))
            .env("PORT", "0")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}={value:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{key}={value:?}: {stderr}");
        assert!(
            lines[0].starts_with(&format!("latchkey: configuration error: {named}: ")),
            "{key}={value:?}: {stderr}"
        );
        // The refused secret itself is not repeated.
        if let Some(v) = value.filter(|_| key != "APP_ENV" && key != "SESSION_COOKIE_SECURE") {
            assert!(!stderr.contains(v), "{stderr}");
        }
    }
    // Development accepts the committed values.
    let out = latchkey_command(
        db.dir.path(),
        &[
            ("SECRET_KEY", DEV_SECRET_KEY),
            ("SECURITY_PASSWORD_SALT", DEV_SALT),
            ("DATABASE_URL", &db.url),
        ],
    )
    .args(["db", "migrate"])
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_log_format_is_a_configuration_error() {
    let db = FreshDatabase::new();
    let out = latchkey_command(
        db.dir.path(),
        &[
            ("SECRET_KEY", "k"),
            ("SECURITY_PASSWORD_SALT", "s"),
            ("DATABASE_URL", &db.url),
            ("LOG_FORMAT", "xml"),
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("LOG_FORMAT"), "{stderr}");
}

#[actix_web::test]
async fn healthz_is_200_while_the_database_answers_and_503_when_not() {
    let app = common::spawn_app().await;

    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::OK);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["status"], "ok");

    app.db()
        .batch_execute(r#"ALTER TABLE "user" RENAME TO user_away"#)
        .unwrap();
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let j: serde_json::Value = r.json().await.unwrap();
    assert_eq!(j["status"], "unavailable");

    app.db()
        .batch_execute(r#"ALTER TABLE user_away RENAME TO "user""#)
        .unwrap();
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// The binary as a server, with its logs in a file
// ---------------------------------------------------------------------------------------

struct Server {
    child: Child,
    log: PathBuf,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(db: &FreshDatabase, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("latchkey.log");
        let port = free_port();
        let child = latchkey_command(db.dir.path(), env)
            .env("PORT", &port)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start latchkey");
        let mut server = Server {
            child,
            log,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/healthz", server.base)).send().await {
                if r.status() == StatusCode::OK {
                    break;
                }
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("latchkey exited early ({status}): {}", server.logs());
            }
            assert!(Instant::now() < deadline, "latchkey never became healthy");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (within 30 s).
    async fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "latchkey ignored SIGTERM");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A browser behind one trusted proxy, keeping cookies itself: the production cookies are
/// `Secure` and this test talks plain HTTP to the app, as the proxy would.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    /// Every cookie value and CSRF token this browser ever held.
    seen_secrets: Vec<String>,
}

const CLIENT_IP: &str = "203.0.113.77";

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: BTreeMap::new(),
            seen_secrets: Vec::new(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Forwarded-For", CLIENT_IP)
            .header("X-Forwarded-Proto", "https");
        if !cookie.is_empty() {
            req = req.header(COOKIE, cookie);
        }
        req
    }

    fn keep_cookies(&mut self, r: &reqwest::Response) {
        for c in set_cookies(r.headers()) {
            let expired = c.max_age().is_some_and(|a| a.is_zero()) || c.value().is_empty();
            if expired {
                self.cookies.remove(c.name());
            } else {
                self.seen_secrets.push(c.value().to_owned());
                self.cookies
                    .insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    async fn get(&mut self, path: &str) -> reqwest::Response {
        let r = self
            .request(reqwest::Method::GET, path)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    async fn csrf(&mut self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        let token = csrf_from_html(&html).unwrap_or_else(|| panic!("no form on {path}: {html}"));
        self.seen_secrets.push(token.clone());
        token
    }

    /// Fills in the form on `form_path` and posts it to `path`.
    async fn submit(
        &mut self,
        form_path: &str,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf(form_path).await;
        let mut all = fields.to_vec();
        all.push(("csrf_token", &token));
        let r = self
            .request(reqwest::Method::POST, path)
            .form(&all)
            .send()
            .await
            .unwrap();
        self.keep_cookies(&r);
        r
    }

    async fn logout(&mut self) {
        let r = self.submit("/profile", "/logout", &[]).await;
        assert_eq!(r.status(), StatusCode::FOUND);
    }
}

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml"));
    files.sort();
    files
}

/// The `/reset/<token>` token of the newest reset mail (quoted-printable soft breaks undone).
async fn reset_token(outbox: &Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        for file in eml_files(outbox) {
            let raw = std::fs::read_to_string(&file).unwrap().replace("=\r\n", "");
            if let Some(at) = raw.find("/reset/") {
                let token: String = raw[at + "/reset/".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                if token.len() > 20 {
                    return token;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no reset mail in {}",
            outbox.display()
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn a_full_flow_logs_auth_events_with_request_ids_and_never_a_secret() {
    let db = FreshDatabase::new();
    let outbox = db.dir.path().join("outbox");
    let env = production_env(&db);
    let secret_key = env
        .iter()
        .find(|(k, _)| *k == "SECRET_KEY")
        .unwrap()
        .1
        .clone();
    let salt = env
        .iter()
        .find(|(k, _)| *k == "SECURITY_PASSWORD_SALT")
        .unwrap()
        .1
        .clone();
    let mut env = as_pairs(&env);
    let outbox_str = outbox.to_string_lossy().into_owned();
    env.extend([
        ("TRUSTED_PROXY_COUNT", "1"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_TRACKABLE", "true"),
        ("MAIL_OUTBOX_DIR", outbox_str.as_str()),
    ]);
    let mut server = Server::start(&db, &env).await;
    let mut b = Browser::new(&server.base);
    let email = common::new_email("audit");
    let (p1, p2, p3, wrong) = (
        format!("first-{}", random_hex(8)),
        format!("second-{}", random_hex(8)),
        format!("third-{}", random_hex(8)),
        format!("wrong-{}", random_hex(8)),
    );

    let r = b
        .submit(
            "/register",
            "/register",
            &[
                ("email", &email),
                ("password", &p1),
                ("password_confirm", &p1),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    b.logout().await;
    let r = b
        .submit(
            "/login",
            "/login",
            &[("email", &email), ("password", &wrong)],
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK, "wrong password: the form again");
    let r = b
        .submit(
            "/login",
            "/login",
            &[("email", &email), ("password", &p1), ("remember", "y")],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert!(
        // Production names its cookies with the __Host- prefix.
        b.cookies.contains_key("__Host-remember_token"),
        "{:?}",
        b.cookies.keys()
    );
    let r = b
        .submit(
            "/change",
            "/change",
            &[
                ("password", &p1),
                ("new_password", &p2),
                ("new_password_confirm", &p2),
            ],
        )
        .await;
    assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap());
    assert_eq!(b.get("/profile").await.status(), StatusCode::OK);
    b.logout().await;
    let r = b.submit("/reset", "/reset", &[("email", &email)]).await;
    assert_eq!(r.status(), StatusCode::OK, "the form again, with a notice");
    let token = reset_token(&outbox).await;
    let reset_path = format!("/reset/{token}");
    let r = b
        .submit(
            &reset_path,
            &reset_path,
            &[("password", &p3), ("password_confirm", &p3)],
        )
        .await;
    assert_eq!(
        r.status(),
        StatusCode::FOUND,
        "{:?}",
        r.headers().get(LOCATION)
    );
    let r = b
        .submit("/login", "/login", &[("email", &email), ("password", &p3)])
        .await;
    assert_eq!(r.status(), StatusCode::FOUND);
    b.get("/healthz").await;
    let status = server.terminate().await;
    assert!(status.success(), "exit status {status}");
    let logs = server.logs();

    // No secret, in any form it travelled in; and no address (logs name users by id and
    // mail recipients by a keyed tag).
    let mut secrets = vec![
        email.clone(),
        p1.clone(),
        p2.clone(),
        p3.clone(),
        wrong.clone(),
        secret_key,
        salt,
        token.clone(),
    ];
    secrets.extend(b.seen_secrets.iter().cloned());
    for secret in &secrets {
        assert!(secret.len() >= 8, "{secret:?}");
        assert!(
            !logs.contains(secret.as_str()),
            "a secret was logged: {secret:?}\n{logs}"
        );
    }
    assert!(!logs.contains("remember_token="), "{logs}");

    let user_id = {
        use diesel::prelude::*;
        use latchkey::db::schema::user;
        user::table
            .filter(user::email.eq(&email))
            .select(user::id)
            .first::<i32>(&mut db.db())
            .unwrap()
    };
    let line_with =
        |needle: &str| -> Vec<&str> { logs.lines().filter(|l| l.contains(needle)).collect() };
    // Auth events at INFO, with the user and the client address the trusted proxy saw.
    for (event, count) in [
        ("event=\"registration\"", 1),
        ("event=\"login\"", 4),
        ("event=\"login_failed\"", 1),
        ("event=\"logout\"", 2),
        ("event=\"password_change\"", 1),
        ("event=\"password_reset\"", 1),
    ] {
        let lines = line_with(event);
        assert!(lines.len() >= count, "{event}: {lines:#?}\n{logs}");
        for line in lines {
            assert!(line.contains(" INFO "), "{line}");
            assert!(line.contains(&format!("user_id={user_id}")), "{line}");
            assert!(line.contains(&format!("ip={CLIENT_IP}")), "{line}");
            assert!(line.contains("request_id="), "{line}");
        }
    }
    // One line per request, with the request id, the scheme the proxy saw, and the route
    // pattern instead of the token-bearing path.
    let requests = line_with(" request method=");
    assert!(requests.len() >= 15, "{logs}");
    for line in &requests {
        assert!(line.contains("request{request_id="), "{line}");
        assert!(line.contains(" status="), "{line}");
        // The browser's requests came through the proxy; the readiness probes did not.
        if line.contains(&format!("ip={CLIENT_IP}")) {
            assert!(line.contains("scheme=\"https\""), "{line}");
        } else {
            assert!(line.contains("ip=127.0.0.1 scheme=\"http\""), "{line}");
        }
    }
    let via_proxy = requests
        .iter()
        .filter(|l| l.contains(&format!("ip={CLIENT_IP}")));
    assert!(via_proxy.count() >= 15, "{logs}");
    assert!(
        requests.iter().any(|l| l.contains("route=/reset/{token}")),
        "{logs}"
    );
    // Every line written while serving a request names it.
    for line in logs.lines().filter(|l| l.contains("latchkey::routes")) {
        assert!(line.contains("request_id="), "{line}");
    }
    assert!(logs.contains("mail worker stopped"), "{logs}");
}

#[actix_web::test]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let db = FreshDatabase::new();
    let mut server = Server::start(
        &db,
        &[
            ("SECRET_KEY", "a-secret-key-for-the-json-log-test"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", &db.url),
            ("SECURITY_BCRYPT_ROUNDS", "4"),
            ("WORKERS", "1"),
            ("LOG_FORMAT", "json"),
        ],
    )
    .await;
    let r = reqwest::Client::new()
        .get(format!("{}/", server.base))
        .header("X-Request-Id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");
    assert!(server.terminate().await.success());

    let logs = server.logs();
    let mut found = false;
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let j: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(j["level"].is_string() && j["message"].is_string(), "{line}");
        if j["message"] == "request" && j["route"] == "/" {
            assert_eq!(j["span"]["request_id"], "trace-me-42", "{line}");
            assert_eq!(j["status"], 200, "{line}");
            found = true;
        }
    }
    assert!(found, "no request line: {logs}");
}

#[actix_web::test]
async fn sigterm_lets_the_request_in_flight_finish() {
    let db = FreshDatabase::new();
    // A slow bcrypt cost keeps the registration in flight while the signal arrives.
    let mut server = Server::start(
        &db,
        &[
            ("SECRET_KEY", "a-secret-key-for-the-shutdown-test"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", &db.url),
            ("SECURITY_BCRYPT_ROUNDS", "14"),
            ("SECURITY_REGISTERABLE", "true"),
            ("WORKERS", "1"),
        ],
    )
    .await;
    let mut b = Browser::new(&server.base);
    let token = b.csrf("/register").await;
    let email = common::new_email("inflight");
    let request = b
        .request(reqwest::Method::POST, "/register")
        .form(&[
            ("email", email.as_str()),
            ("password", common::PASSWORD),
            ("password_confirm", common::PASSWORD),
            ("csrf_token", token.as_str()),
        ])
        .send();
    let in_flight = actix_web::rt::spawn(request);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !in_flight.is_finished(),
        "the request finished too early to test anything"
    );

    let status = server.terminate().await;

    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight was answered");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(status.success(), "exit status {status}");
    let logs = server.logs();
    assert!(logs.contains("graceful shutdown"), "{logs}");
    assert!(logs.contains("mail worker stopped"), "{logs}");
    // The registration was committed.
    use diesel::prelude::*;
    use latchkey::db::schema::user;
    let n: i64 = user::table
        .filter(user::email.eq(&email))
        .count()
        .get_result(&mut db.db())
        .unwrap();
    assert_eq!(n, 1);
}
