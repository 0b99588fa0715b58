//! Adopting a Flask-Security-Too database, and handing one back: the reference Flask app
//! (`shared/ref`, run with gunicorn through its `run.sh`) and Latchkey take turns on one
//! SQLite file with the same `SECRET_KEY` and `SECURITY_PASSWORD_SALT`, and every user
//! logs in with the password they chose in the other app.
//!
//! Needs `bash` and `python3` (its virtualenv is made on first use, from PyPI). The
//! reference app's folder is `../shared/ref` next to the crate, or `LATCHKEY_REF_DIR`.
//! These tests fail, never skip, when something they need is missing.

use crate::common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::passkey::SoftPasskey;
use common::reference;
use common::{location, random_hex, set_up_authenticator, spawn_app_with, TestClient};
use reqwest::StatusCode;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(90);

/// Passwords as people type them, one with characters that NFKD changes.
const ALICE_PASSWORD: &str = "alice-password-1";
const BOB_PASSWORD: &str = "p\u{e4}ssw\u{f6}rd-\u{3a9} \u{fb01}";

fn require_program(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "flask_interop needs `{name}` on PATH to run the Flask reference app \
         (install it, e.g. `apt-get install {name}`); these tests do not skip"
    );
}

/// The reference app, running in its own process group until dropped.
struct FlaskApp {
    child: Child,
    url: String,
    log: PathBuf,
}

impl FlaskApp {
    /// Starts the reference app on `db` and waits until `GET /` answers. Its virtualenv is
    /// made first, once per process (on a fresh machine, from PyPI): two `run.sh` creating
    /// it at once would break each other's.
    async fn start(db: &Path, secret_key: &str, salt: &str, log_dir: &Path) -> Self {
        Self::start_with(db, secret_key, salt, log_dir, &[]).await
    }

    /// [`FlaskApp::start`] with more settings (they override the defaults below).
    async fn start_with(
        db: &Path,
        secret_key: &str,
        salt: &str,
        log_dir: &Path,
        extra: &[(&str, &str)],
    ) -> Self {
        tokio::task::spawn_blocking(reference::python)
            .await
            .expect("the reference virtualenv");
        Self::start_now(db, secret_key, salt, log_dir, extra).await
    }

    async fn start_now(
        db: &Path,
        secret_key: &str,
        salt: &str,
        log_dir: &Path,
        extra: &[(&str, &str)],
    ) -> Self {
        require_program("bash");
        require_program("python3");
        let run_sh = reference::dir().join("run.sh");
        // A test that must know the port first (to register a redirect URI) gives it.
        let port = extra
            .iter()
            .find(|(k, _)| *k == "PORT")
            .map(|(_, v)| v.parse::<u16>().expect("PORT is a port"))
            .unwrap_or_else(|| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port()
            });
        let url = format!("http://127.0.0.1:{port}");
        let log = log_dir.join(format!("flask-{port}.log"));
        let log_file = File::create(&log).unwrap();
        let child = Command::new("bash")
            .arg(&run_sh)
            .env("DATABASE_URL", db)
            .env("SECRET_KEY", secret_key)
            .env("SECURITY_PASSWORD_SALT", salt)
            .env("PORT", port.to_string())
            .env("BASE_URL", &url)
            // No mail is sent: the welcome mail is off (below).
            .env("MAIL_SERVER", "127.0.0.1")
            .env("MAIL_PORT", "9")
            .env("MAIL_DEFAULT_SENDER", "noreply@example.com")
            .env("SECURITY_SEND_REGISTER_EMAIL", "false")
            .env("SECURITY_REGISTERABLE", "true")
            .env("SECURITY_CONFIRMABLE", "false")
            .env("SECURITY_RECOVERABLE", "false")
            .env("SECURITY_CHANGEABLE", "false")
            .env("SECURITY_TRACKABLE", "false")
            .env("SECURITY_USERNAME_ENABLE", "false")
            .env("SECURITY_RETURN_GENERIC_RESPONSES", "false")
            .env("REF_WORKERS", "1")
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().unwrap())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start bash {}: {e}", run_sh.display()));
        let mut app = FlaskApp { child, url, log };
        app.wait_until_ready().await;
        app
    }

    async fn wait_until_ready(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the Flask app exited early ({status}); log:\n{}",
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(format!("{}/", self.url)).send().await {
                if !r.status().is_server_error() {
                    return;
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "the Flask app did not answer on {} within {STARTUP_TIMEOUT:?}; log:\n{}",
                    self.url,
                    self.log_tail()
                );
            }
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn client(&self) -> TestClient {
        TestClient::new(&self.url)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut start = text.len().saturating_sub(4000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// Stops the whole process group (gunicorn and its workers), politely first.
    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        self.signal_group("-TERM");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for FlaskApp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Registers through a Flask-Security form and checks the app logged the user in.
async fn register_in_flask(flask: &FlaskApp, email: &str, password: &str) {
    let browser = flask.client();
    let r = browser.register(email, password).await;
    let status = r.status();
    let body = r.text().await.unwrap_or_default();
    assert_eq!(
        status,
        StatusCode::FOUND,
        "Flask refused to register {email}: {body}\nlog:\n{}",
        flask.log_tail()
    );
}

#[actix_web::test]
async fn users_registered_in_the_flask_app_log_in_to_latchkey_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let alice = format!("alice-{}@example.com", random_hex(4));
    let bob = format!("Bob.{}@Example.com", random_hex(4));

    let mut flask = FlaskApp::start(&db, &secret_key, &salt, dir.path()).await;
    register_in_flask(&flask, &alice, ALICE_PASSWORD).await;
    register_in_flask(&flask, &bob, BOB_PASSWORD).await;
    flask.stop();

    let db_path = db.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
    ])
    .await;

    // Nobody was lost or added by the migrations.
    let emails: Vec<String> = app.users().into_iter().filter_map(|u| u.email).collect();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails.contains(&alice), "{emails:?}");
    assert!(
        emails.iter().any(|e| e.eq_ignore_ascii_case(&bob)),
        "{emails:?}"
    );
    for (email, password) in [
        (alice.as_str(), ALICE_PASSWORD),
        (bob.as_str(), BOB_PASSWORD),
    ] {
        let browser = app.client();
        let r = browser.login(email, password, false).await;
        assert_eq!(r.status(), StatusCode::FOUND, "{email} cannot log in");
        assert_eq!(location(&r).as_deref(), Some("/"));
        assert!(browser.is_authenticated().await, "{email}");
        let wrong = app.client().login(email, "not-their-password", false).await;
        assert_eq!(wrong.status(), StatusCode::OK, "{email}: a wrong password");
    }
    // The Flask app's accounts are still taken, whatever the case.
    let r = app
        .client()
        .register(&alice.to_uppercase(), ALICE_PASSWORD)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("already associated"));
    assert_eq!(app.count_users(), 2);
}

#[actix_web::test]
async fn a_user_registered_in_latchkey_logs_in_to_the_flask_app() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let db_path = db.to_string_lossy().into_owned();
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let alice = format!("alice-{}@example.com", random_hex(4));
    let bob = format!("bob-{}@example.com", random_hex(4));

    // Flask-Security's own cost, so that Flask has no reason to re-hash.
    let mut app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
        ("SECURITY_BCRYPT_ROUNDS", "12"),
    ])
    .await;
    app.create_user(&alice, ALICE_PASSWORD).await;
    app.create_user(&bob, BOB_PASSWORD).await;
    assert!(app
        .user(&alice)
        .password_hash()
        .unwrap()
        .starts_with("$2b$12$"));
    app.stop().await;

    let flask = FlaskApp::start(&db, &secret_key, &salt, dir.path()).await;
    for (email, password) in [
        (alice.as_str(), ALICE_PASSWORD),
        (bob.as_str(), BOB_PASSWORD),
    ] {
        let browser = flask.client();
        let r = browser.login(email, password, false).await;
        let status = r.status();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(
            status,
            StatusCode::FOUND,
            "Flask refused {email}: {body}\nlog:\n{}",
            flask.log_tail()
        );
        let home = browser.get("/").await.text().await.unwrap();
        assert!(
            home.contains(&format!("You are logged in as {email}")),
            "{home}"
        );
        let wrong = flask
            .client()
            .login(email, "not-their-password", false)
            .await;
        assert_eq!(wrong.status(), StatusCode::OK, "{email}: a wrong password");
    }
}

/// Addresses that `email_validator` (and so the Flask app) stores in Unicode form: an
/// internationalised domain, typed as Unicode and as IDNA ASCII, and a local part with a
/// compatibility character (U+FB01, "fi" ligature) that NFC keeps.
fn international_addresses() -> Vec<String> {
    let tag = random_hex(4);
    vec![
        format!("idn-{tag}@b\u{fc}cher.example"),
        format!("\u{fb01}nn-{tag}@example.com"),
    ]
}

#[actix_web::test]
async fn flask_users_with_international_addresses_log_in_to_latchkey() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let addresses = international_addresses();

    let mut flask = FlaskApp::start(&db, &secret_key, &salt, dir.path()).await;
    for email in &addresses {
        register_in_flask(&flask, email, ALICE_PASSWORD).await;
    }
    flask.stop();

    let db_path = db.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
    ])
    .await;
    let stored: Vec<String> = app.users().into_iter().filter_map(|u| u.email).collect();
    let mut failures = Vec::new();
    for email in &addresses {
        let r = app.client().login(email, ALICE_PASSWORD, false).await;
        if r.status() != StatusCode::FOUND {
            let errors = common::form_errors(&r.text().await.unwrap_or_default());
            failures.push(format!("login as {email:?} refused: {errors:?}"));
        }
        // The address is taken: registering it again must not make a second account.
        let r = app.client().register(email, ALICE_PASSWORD).await;
        if r.status() != StatusCode::OK {
            failures.push(format!("{email:?} was registered a second time"));
        }
    }
    assert!(
        failures.is_empty(),
        "{failures:#?}\nstored by Flask: {stored:?}\nusers now: {:?}",
        app.users().into_iter().map(|u| u.email).collect::<Vec<_>>()
    );
}

#[actix_web::test]
async fn latchkey_users_with_international_addresses_log_in_to_the_flask_app() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let db_path = db.to_string_lossy().into_owned();
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let addresses = international_addresses();

    let mut app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
        ("SECURITY_BCRYPT_ROUNDS", "12"),
    ])
    .await;
    for email in &addresses {
        app.create_user(email, ALICE_PASSWORD).await;
    }
    let stored: Vec<String> = app.users().into_iter().filter_map(|u| u.email).collect();
    app.stop().await;

    let flask = FlaskApp::start(&db, &secret_key, &salt, dir.path()).await;
    let mut failures = Vec::new();
    for email in &addresses {
        let r = flask.client().login(email, ALICE_PASSWORD, false).await;
        if r.status() != StatusCode::FOUND {
            failures.push(format!("Flask refused {email:?} ({})", r.status()));
        }
    }
    assert!(
        failures.is_empty(),
        "{failures:#?}\nstored by Latchkey: {stored:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Two-factor: a Flask-Security database with second factors set up, adopted and handed back
// ---------------------------------------------------------------------------------------

const TOTP_SECRETS: &str = "interop-totp-secret-0123456789";

/// The reference app's two-factor settings (its "mfa" profile, without the features
/// Latchkey does not have yet).
const FLASK_TWO_FACTOR: &[(&str, &str)] = &[
    ("SECURITY_TWO_FACTOR", "true"),
    ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator"),
    ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
    ("SECURITY_TOTP_SECRETS", TOTP_SECRETS),
    ("SECURITY_UNIFIED_SIGNIN", "false"),
    ("SECURITY_WEBAUTHN", "false"),
    ("SECURITY_CHANGE_EMAIL", "false"),
    ("SECURITY_API_ENABLED_METHODS", "session"),
];

fn unix_now() -> u64 {
    chrono::Utc::now().timestamp() as u64
}

/// A JSON POST with the CSRF token of the session, from the JSON GET of `token_from`.
async fn post_json_to(
    c: &TestClient,
    path: &str,
    token_from: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let r = c.get_json(token_from).await;
    let page: serde_json::Value = r.json().await.unwrap_or(serde_json::Value::Null);
    let token = page["response"]["csrf_token"]
        .as_str()
        .expect("a csrf_token in the JSON answer")
        .to_owned();
    let r = c.post_json(path, &body, Some(&token)).await;
    let status = r.status();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

/// Logs in with the password as JSON: the answer's `response`.
async fn password_step(c: &TestClient, email: &str, password: &str) -> serde_json::Value {
    let (status, body) = post_json_to(
        c,
        "/login",
        "/login",
        serde_json::json!({"email": email, "password": password}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["response"].clone()
}

#[actix_web::test]
async fn second_factors_set_up_in_flask_work_in_latchkey_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let alice = format!("alice-{}@example.com", random_hex(4));
    let bob = format!("bob-{}@example.com", random_hex(4));

    // Flask: alice sets up an authenticator and recovery codes.
    let mut flask =
        FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_TWO_FACTOR).await;
    register_in_flask(&flask, &alice, ALICE_PASSWORD).await;
    let c = flask.client();
    let step = password_step(&c, &alice, ALICE_PASSWORD).await;
    assert_eq!(step["tf_required"], false);
    let alice_key = set_up_authenticator(&c).await;
    let (status, body) = post_json_to(
        &c,
        "/mf-recovery-codes",
        "/mf-recovery-codes",
        serde_json::json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let codes: Vec<String> =
        serde_json::from_value(body["response"]["recovery_codes"].clone()).unwrap();
    assert_eq!(codes.len(), 5);
    flask.stop();

    // Latchkey on the same database and keys.
    let db_path = db.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_TOTP_SECRETS", TOTP_SECRETS),
    ])
    .await;
    let stored = app.user(&alice);
    assert_eq!(stored.tf_primary_method.as_deref(), Some("authenticator"));
    assert!(
        stored
            .mf_recovery_codes
            .as_deref()
            .unwrap()
            .contains(&codes[0]),
        "Flask stores recovery codes in clear"
    );
    // The password alone is not enough; Flask's secret gives the code.
    let c = app.client();
    let step = password_step(&c, &alice, ALICE_PASSWORD).await;
    assert_eq!(step["tf_required"], true);
    assert_eq!(step["tf_method"], "authenticator");
    assert!(!c.is_authenticated().await);
    let code = latchkey::auth::totp::code_at(&alice_key, unix_now());
    let (status, body) = post_json_to(
        &c,
        "/tf-validate",
        "/tf-validate",
        serde_json::json!({"code": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(c.is_authenticated().await);
    // Flask's clear recovery codes work once, and are hashed at the first use.
    let c = app.client();
    password_step(&c, &alice, ALICE_PASSWORD).await;
    let (status, _) = post_json_to(
        &c,
        "/mf-recovery",
        "/mf-recovery",
        serde_json::json!({"code": codes[0]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let stored = app.user(&alice).mf_recovery_codes.unwrap();
    for code in &codes {
        assert!(!stored.contains(code.as_str()), "hashed: {stored}");
    }
    let c = app.client();
    password_step(&c, &alice, ALICE_PASSWORD).await;
    let (status, _) = post_json_to(
        &c,
        "/mf-recovery",
        "/mf-recovery",
        serde_json::json!({"code": codes[0]}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "used once");
    let (status, _) = post_json_to(
        &c,
        "/mf-recovery",
        "/mf-recovery",
        serde_json::json!({"code": codes[1]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Latchkey: bob sets up an authenticator, stored as Flask stores it...
    let b = app.client();
    assert_eq!(
        b.register(&bob, BOB_PASSWORD).await.status(),
        StatusCode::FOUND
    );
    let b = app.client();
    password_step(&b, &bob, BOB_PASSWORD).await;
    let bob_key = set_up_authenticator(&b).await;
    drop(app);

    // ...so Flask asks bob for the code and accepts it, and alice's secret still works there.
    let flask = FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_TWO_FACTOR).await;
    for (email, password, key) in [
        (bob.as_str(), BOB_PASSWORD, &bob_key),
        (alice.as_str(), ALICE_PASSWORD, &alice_key),
    ] {
        let c = flask.client();
        let step = password_step(&c, email, password).await;
        assert_eq!(step["tf_required"], true, "{email}: {step}");
        // The next step's code: the one just used to set up may not be accepted twice.
        let code = latchkey::auth::totp::code_at(key, unix_now() + 30);
        let (status, body) = post_json_to(
            &c,
            "/tf-validate",
            "/tf-validate",
            serde_json::json!({"code": code}),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{email} in Flask: {body}\nlog:\n{}",
            flask.log_tail()
        );
    }
}

/// The reference app with passkeys on (its "mfa" profile's WebAuthn; the relying party is
/// the Host's name, 127.0.0.1, as Latchkey's is BASE_URL's).
const FLASK_PASSKEYS: &[(&str, &str)] = &[
    ("SECURITY_TWO_FACTOR", "false"),
    ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "false"),
    ("SECURITY_UNIFIED_SIGNIN", "false"),
    ("SECURITY_WEBAUTHN", "true"),
    ("SECURITY_CHANGE_EMAIL", "false"),
    ("SECURITY_API_ENABLED_METHODS", "session"),
];

/// Adds a first-factor passkey for the logged-in `c` (either app: same URLs and fields).
async fn register_passkey(c: &TestClient, base_url: &str, name: &str) -> SoftPasskey {
    let (status, body) = post_json_to(
        c,
        "/wan-register",
        "/wan-register",
        serde_json::json!({"name": name, "usage": "first"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut key = SoftPasskey::new(base_url);
    let answer = key.create(&body["response"]["credential_options"]);
    let state = body["response"]["wan_state"].as_str().unwrap();
    let (status, body) = post_json_to(
        c,
        &format!("/wan-register/{state}"),
        "/wan-register",
        serde_json::json!({"credential": answer.to_string()}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    key
}

/// Signs in with `key` alone (no identity typed: a discoverable passkey).
async fn passkey_sign_in(c: &TestClient, key: &mut SoftPasskey) -> (StatusCode, serde_json::Value) {
    let (status, body) = post_json_to(c, "/wan-signin", "/wan-signin", serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let answer = key.get(&body["response"]["credential_options"]);
    let state = body["response"]["wan_state"].as_str().unwrap();
    post_json_to(
        c,
        &format!("/wan-signin/{state}"),
        "/wan-signin",
        serde_json::json!({"credential": answer.to_string()}),
    )
    .await
}

#[actix_web::test]
async fn passkeys_registered_in_flask_sign_in_to_latchkey_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let alice = format!("alice-{}@example.com", random_hex(4));
    let bob = format!("bob-{}@example.com", random_hex(4));

    // Flask: alice adds a passkey and signs in with it.
    let mut flask = FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_PASSKEYS).await;
    register_in_flask(&flask, &alice, ALICE_PASSWORD).await;
    let c = flask.client();
    password_step(&c, &alice, ALICE_PASSWORD).await;
    let mut alice_key = register_passkey(&c, &flask.url, "laptop").await;
    let (status, body) = passkey_sign_in(&flask.client(), &mut alice_key).await;
    assert_eq!(status, StatusCode::OK, "in Flask: {body}");
    flask.stop();

    // Latchkey on the same database: alice's passkey signs in, its counter goes on.
    let db_path = db.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
        ("SECURITY_WEBAUTHN", "true"),
    ])
    .await;
    let mut alice_here = alice_key.at(&app.address);
    let c = app.client();
    let (status, body) = passkey_sign_in(&c, &mut alice_here).await;
    assert_eq!(status, StatusCode::OK, "in Latchkey: {body}");
    assert!(c.is_authenticated().await);
    // Bob adds a passkey in Latchkey.
    assert_eq!(
        app.client().register(&bob, BOB_PASSWORD).await.status(),
        StatusCode::FOUND
    );
    let b = app.client();
    password_step(&b, &bob, BOB_PASSWORD).await;
    let bob_key = register_passkey(&b, &app.address, "phone").await;
    drop(app);

    // Flask again: bob's passkey, stored by Latchkey, signs in there; so does alice's.
    let flask = FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_PASSKEYS).await;
    for (who, key) in [("bob", bob_key), ("alice", alice_here)] {
        let mut key = key.at(&flask.url);
        let c = flask.client();
        let (status, body) = passkey_sign_in(&c, &mut key).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{who} in Flask: {body}\nlog:\n{}",
            flask.log_tail()
        );
        assert!(c.is_authenticated().await, "{who}");
    }
}

/// The reference app with unified sign-in on (its "mfa" profile's methods).
const FLASK_UNIFIED: &[(&str, &str)] = &[
    ("SECURITY_TWO_FACTOR", "false"),
    ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "false"),
    ("SECURITY_UNIFIED_SIGNIN", "true"),
    (
        "SECURITY_US_ENABLED_METHODS",
        "password,email,authenticator",
    ),
    ("SECURITY_TOTP_SECRETS", TOTP_SECRETS),
    ("SECURITY_WEBAUTHN", "false"),
    ("SECURITY_CHANGE_EMAIL", "false"),
    ("SECURITY_API_ENABLED_METHODS", "session"),
];

/// Sets up the authenticator as a sign-in option for the logged-in `c` (either app).
async fn us_set_up_authenticator(c: &TestClient) -> latchkey::auth::totp::TotpSecret {
    let (status, body) = post_json_to(
        c,
        "/us-setup",
        "/us-setup",
        serde_json::json!({"chosen_method": "authenticator"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let key = latchkey::auth::totp::TotpSecret::from_base32(
        body["response"]["authr_b32key"].as_str().unwrap(),
    )
    .unwrap();
    let state = body["response"]["state"].as_str().unwrap();
    let code = latchkey::auth::totp::code_at(&key, unix_now());
    let (status, body) = post_json_to(
        c,
        &format!("/us-setup/{state}"),
        "/us-setup",
        serde_json::json!({"passcode": code}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    key
}

async fn us_sign_in(
    c: &TestClient,
    identity: &str,
    passcode: &str,
) -> (StatusCode, serde_json::Value) {
    post_json_to(
        c,
        "/us-signin",
        "/us-signin",
        serde_json::json!({"identity": identity, "passcode": passcode}),
    )
    .await
}

#[actix_web::test]
async fn unified_sign_in_set_up_in_flask_works_in_latchkey_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.db");
    let secret_key = random_hex(32);
    let salt = random_hex(16);
    let alice = format!("alice-{}@example.com", random_hex(4));
    let bob = format!("bob-{}@example.com", random_hex(4));

    // Flask: alice adds an authenticator app as a sign-in option.
    let mut flask = FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_UNIFIED).await;
    register_in_flask(&flask, &alice, ALICE_PASSWORD).await;
    let c = flask.client();
    password_step(&c, &alice, ALICE_PASSWORD).await;
    let alice_key = us_set_up_authenticator(&c).await;
    flask.stop();

    // Latchkey on the same database: alice signs in with a code of Flask's secret.
    let db_path = db.to_string_lossy().into_owned();
    let app = spawn_app_with(&[
        ("DATABASE_URL", &db_path),
        ("SECRET_KEY", &secret_key),
        ("SECURITY_PASSWORD_SALT", &salt),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        (
            "SECURITY_US_ENABLED_METHODS",
            "password,email,authenticator",
        ),
        ("SECURITY_TOTP_SECRETS", TOTP_SECRETS),
    ])
    .await;
    let c = app.client();
    let code = latchkey::auth::totp::code_at(&alice_key, unix_now() + 30);
    let (status, body) = us_sign_in(&c, &alice, &code).await;
    assert_eq!(status, StatusCode::OK, "in Latchkey: {body}");
    assert!(c.is_authenticated().await);
    // Bob sets one up in Latchkey.
    assert_eq!(
        app.client().register(&bob, BOB_PASSWORD).await.status(),
        StatusCode::FOUND
    );
    let b = app.client();
    password_step(&b, &bob, BOB_PASSWORD).await;
    let bob_key = us_set_up_authenticator(&b).await;
    drop(app);

    // Flask again: bob's secret, stored by Latchkey, gives codes Flask accepts.
    let flask = FlaskApp::start_with(&db, &secret_key, &salt, dir.path(), FLASK_UNIFIED).await;
    let c = flask.client();
    let code = latchkey::auth::totp::code_at(&bob_key, unix_now());
    let (status, body) = us_sign_in(&c, &bob, &code).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "bob in Flask: {body}\nlog:\n{}",
        flask.log_tail()
    );
    assert!(c.is_authenticated().await);
}

/// "Sign in with Latchkey" from a Flask-Security app: the reference's own OAuth client
/// (Flask-Security's OAuthGlue over authlib, an OpenID Connect provider registered by
/// discovery) signs its user in with a Latchkey account. Latchkey serves on `localhost` and
/// Flask on `127.0.0.1`, so that one browser keeps both apps' session cookies apart.
#[actix_web::test]
async fn the_flask_reference_signs_its_user_in_through_latchkey() {
    use latchkey::auth::login::ClientInfo;
    use latchkey::auth::oidc::clients::{self, NewClient};

    let dir = tempfile::tempdir().unwrap();
    let email = format!("ada-{}@example.com", random_hex(4));
    let latchkey = common::try_spawn_app_on(&[], "localhost")
        .await
        .expect("Latchkey");
    latchkey.create_user(&email, ALICE_PASSWORD).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let callback = format!("http://127.0.0.1:{port}/login/oauthresponse/latchkey");
    let created = clients::create(
        &latchkey.services(),
        NewClient {
            name: "Flask reference".into(),
            redirect_uris: vec![callback.clone()],
            scopes: vec!["openid email".into()],
            ..NewClient::default()
        },
        &ClientInfo::default(),
    )
    .await
    .expect("client");
    let metadata = format!("{}/.well-known/openid-configuration", latchkey.address);
    let secret = created.secret.clone().unwrap();
    let port_text = port.to_string();
    let flask = FlaskApp::start_with(
        &dir.path().join("flask.db"),
        &random_hex(32),
        &random_hex(16),
        dir.path(),
        &[
            ("PORT", &port_text),
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("SECURITY_OAUTH_PROVIDERS", "latchkey"),
            ("LATCHKEY_CLIENT_ID", &created.client.client_id),
            ("LATCHKEY_CLIENT_SECRET", &secret),
            ("LATCHKEY_SERVER_METADATA_URL", &metadata),
        ],
    )
    .await;
    // Flask-Security signs in by social login only an account it has.
    register_in_flask(&flask, &email, BOB_PASSWORD).await;

    // One browser: signed in to Latchkey, a stranger to Flask.
    let browser = latchkey
        .logged_in_client(&email, ALICE_PASSWORD, false)
        .await;
    let get = |url: String| {
        let http = browser.http.clone();
        async move { http.get(url).send().await.unwrap() }
    };
    let login = get(format!("{}/login", flask.url))
        .await
        .text()
        .await
        .unwrap();
    let csrf = common::csrf_from_html(&login).expect("Flask's login page offers Latchkey");
    let r = browser
        .http
        .post(format!("{}/login/oauthstart/latchkey", flask.url))
        .form(&[("csrf_token", csrf.as_str())])
        .send()
        .await
        .unwrap();
    let authorize =
        location(&r).unwrap_or_else(|| panic!("no redirect; log:\n{}", flask.log_tail()));
    assert!(authorize.starts_with(&latchkey.address), "{authorize}");

    // Latchkey asks whether the app may see who Ada is.
    let page = get(authorize.clone()).await.text().await.unwrap();
    assert!(page.contains("Flask reference"), "{page}");
    let mut fields: Vec<(String, String)> = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    fields.push(("csrf_token".into(), common::csrf_from_html(&page).unwrap()));
    fields.push(("decision".into(), "allow".into()));
    let r = browser
        .http
        .post(format!("{}/oidc/authorize", latchkey.address))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let back = location(&r).unwrap();
    assert!(back.starts_with(&callback), "{back}");

    // Flask's OAuthGlue redeems the code, checks the ID token and signs Ada in.
    let r = get(back).await;
    assert_eq!(r.status(), StatusCode::FOUND, "log:\n{}", flask.log_tail());
    let home = get(format!("{}/", flask.url)).await.text().await.unwrap();
    assert!(
        home.contains(&format!("You are logged in as {email}")),
        "{home}\nlog:\n{}",
        flask.log_tail()
    );
}
