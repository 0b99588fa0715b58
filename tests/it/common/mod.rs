//! The test harness: every test gets its own Latchkey, on its own port, with its own
//! database, and talks to it over real HTTP like a browser or an API client would.
//!
//! * SQLite (default): a temporary file, removed with the test.
//! * PostgreSQL: set `LATCHKEY_TEST_POSTGRES_URL` (e.g. `postgres://127.0.0.1/test?sslmode=disable`) and
//!   build with `--features postgres`; each test then creates a database
//!   `latchkey_t_<random hex>` next to the one that URL names, and drops it afterwards.
//!
//! Log output is silenced unless `TEST_LOG` is set.

use std::collections::BTreeMap;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::Cookie;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use latchkey::config::Source;
use latchkey::db::models::User;
use latchkey::db::schema::{login_session, user};
use latchkey::db::DbConnection;
use latchkey::{Application, Settings};
use rand::Rng;
use reqwest::cookie::{CookieStore, Jar};
use reqwest::header::{HeaderMap, ACCEPT, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{Response, StatusCode, Url};
use serde_json::Value;
use tempfile::TempDir;

pub mod oidc;
pub mod passkey;
pub mod reference;
pub mod twilio;
mod venv;

pub use venv::{venv, venv_dir, Requirements};

/// A password every test may use: 15 characters, within the 8..=128 rule.
pub const PASSWORD: &str = "correct-horse-9";

/// The environment variable that switches the suite to PostgreSQL.
pub const POSTGRES_URL_VAR: &str = "LATCHKEY_TEST_POSTGRES_URL";

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| format!("{:02x}", rng.gen::<u8>())).collect()
}

/// A fresh, valid, never-used email address.
pub fn new_email(tag: &str) -> String {
    format!("{tag}-{}@example.com", random_hex(6))
}

/// The crate's own folders (templates, static files).
pub fn crate_dir(sub: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(sub)
        .to_string_lossy()
        .into_owned()
}

// ---------------------------------------------------------------------------------------
// Logs
// ---------------------------------------------------------------------------------------

/// Installs the process's global `tracing` subscriber, once: with `TEST_LOG`, Latchkey's own
/// (logs on stderr); without, [`Unheard`].
///
/// Every test of the binary shares it, and shares `tracing`'s cache of which call sites
/// anyone listens to. A call site is first asked on the thread that reaches it first, so a
/// test capturing logs with a subscriber of its own thread (`tracing::subscriber::
/// set_default`, tests/it/mail_dev_transport.rs) would miss a line whose call site another
/// test's thread, without a subscriber, reached first: it stays cached as unheard.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            latchkey::telemetry::init();
        } else {
            tracing::subscriber::set_global_default(Unheard)
                .expect("no other global tracing subscriber");
        }
    });
}

/// Shows nothing, but answers "sometimes" for every call site: none is cached as unheard,
/// and each event asks the subscriber of its own thread. Up to `INFO`, what the tests capture.
struct Unheard;

impl tracing::Subscriber for Unheard {
    fn register_callsite(
        &self,
        _: &'static tracing::Metadata<'static>,
    ) -> tracing::subscriber::Interest {
        tracing::subscriber::Interest::sometimes()
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::INFO)
    }
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        false
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

// ---------------------------------------------------------------------------------------
// The database each test gets
// ---------------------------------------------------------------------------------------

enum Backend {
    Sqlite(PathBuf),
    #[cfg(feature = "postgres")]
    Postgres(postgres::TestDatabase),
}

impl Backend {
    fn fresh(dir: &Path) -> Self {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Self::postgres(url.trim()),
            _ => Backend::Sqlite(dir.join("latchkey.db")),
        }
    }

    #[cfg(feature = "postgres")]
    fn postgres(admin_url: &str) -> Self {
        Backend::Postgres(postgres::TestDatabase::create(admin_url))
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(_admin_url: &str) -> Self {
        panic!(
            "{POSTGRES_URL_VAR} is set, but this test build has no PostgreSQL support: \
             run `cargo test --features postgres` (or unset {POSTGRES_URL_VAR})"
        );
    }

    fn url(&self) -> String {
        match self {
            Backend::Sqlite(path) => path.to_string_lossy().into_owned(),
            #[cfg(feature = "postgres")]
            Backend::Postgres(db) => db.url.clone(),
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, PgConnection};

    /// A database created for one test and dropped (connections and all) afterwards.
    pub struct TestDatabase {
        admin_url: String,
        pub name: String,
        pub url: String,
    }

    impl TestDatabase {
        pub fn create(admin_url: &str) -> Self {
            let name = format!("latchkey_t_{}", super::random_hex(8));
            let url = with_database(admin_url, &name);
            let mut admin = PgConnection::establish(admin_url).unwrap_or_else(|e| {
                panic!("cannot connect to {admin_url} to make a test database: {e}")
            });
            admin
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
            Self {
                admin_url: admin_url.to_owned(),
                name,
                url,
            }
        }
    }

    impl Drop for TestDatabase {
        fn drop(&mut self) {
            match PgConnection::establish(&self.admin_url) {
                Ok(mut admin) => {
                    if let Err(e) = admin.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                        self.name
                    )) {
                        eprintln!("warning: could not drop test database {}: {e}", self.name);
                    }
                }
                Err(e) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            }
        }
    }

    /// `admin_url` with its database name replaced by `name` (query string kept).
    fn with_database(admin_url: &str, name: &str) -> String {
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (admin_url, None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let authority_and_path = &base[scheme_end..];
        let authority = authority_and_path
            .split_once('/')
            .map_or(authority_and_path, |(a, _)| a);
        let mut url = format!("{}{authority}/{name}", &base[..scheme_end]);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        url
    }
}

// ---------------------------------------------------------------------------------------
// The app under test
// ---------------------------------------------------------------------------------------

/// One running Latchkey. It derefs to a default [`TestClient`] (one browser), so
/// `app.login(..)`, `app.get(..)` act as that browser; `app.client()` opens another.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub secret_key: String,
    pub salt: String,
    pub database_url: String,
    /// Where the development mail transport writes this app's `.eml` files.
    pub mail_dir: PathBuf,
    /// The app's security event bus (subscribe to it; flush it before reading
    /// `security_event`).
    pub events: latchkey::auth::events::Events,
    browser: TestClient,
    server: Option<actix_web::rt::task::JoinHandle<std::io::Result<()>>>,
    // Dropped after the server handle: the database goes last.
    _backend: Option<Backend>,
    _dir: TempDir,
}

/// Starts Latchkey with the test defaults (basic profile: registration on, the rest off).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts Latchkey with `overrides` on top of the test defaults. Giving `DATABASE_URL`
/// uses that database instead of a fresh one.
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    try_spawn_app_with(overrides)
        .await
        .unwrap_or_else(|e| panic!("Latchkey did not start: {e:#}"))
}

/// Like [`spawn_app_with`], but returns the start-up error instead of panicking.
pub async fn try_spawn_app_with(overrides: &[(&str, &str)]) -> anyhow::Result<TestApp> {
    try_spawn_app_on(overrides, "127.0.0.1").await
}

/// Starts Latchkey (listening on 127.0.0.1) with `BASE_URL` `http://<host_name>:<port>`.
pub async fn try_spawn_app_on(
    overrides: &[(&str, &str)],
    host_name: &str,
) -> anyhow::Result<TestApp> {
    init_logging();
    let dir = tempfile::Builder::new()
        .prefix("latchkey-test-")
        .tempdir()?;
    let given_db = overrides
        .iter()
        .find(|(k, _)| *k == "DATABASE_URL")
        .map(|(_, v)| v.to_string());
    let backend = match given_db {
        Some(_) => None,
        None => Some(Backend::fresh(dir.path())),
    };
    let database_url = given_db.unwrap_or_else(|| backend.as_ref().expect("backend").url());

    let mut config: BTreeMap<String, String> = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        config.insert(k.to_owned(), v.to_owned());
    };
    set("SECRET_KEY", &random_hex(32));
    set("SECURITY_PASSWORD_SALT", &random_hex(16));
    set("HOST", "127.0.0.1");
    set("DATABASE_URL", &database_url);
    set("SECURITY_BCRYPT_ROUNDS", "4");
    // Tests fire bursts (e.g. twenty registrations at once) for other reasons; the queue
    // bound itself is tested in tests/it/hash_queue.rs.
    set("SECURITY_HASH_QUEUE", "64");
    set("SECURITY_TEMPLATES_DIR", &crate_dir("templates"));
    set("STATIC_DIR", &crate_dir("static"));
    set(
        "MAIL_OUTBOX_DIR",
        &dir.path().join("mail").to_string_lossy(),
    );
    set("WORKERS", "1");
    set("SECURITY_REGISTERABLE", "true");
    for off in [
        "SECURITY_CONFIRMABLE",
        "SECURITY_RECOVERABLE",
        "SECURITY_CHANGEABLE",
        "SECURITY_TRACKABLE",
        "SECURITY_USERNAME_ENABLE",
        "SECURITY_RETURN_GENERIC_RESPONSES",
    ] {
        set(off, "false");
    }
    for (k, v) in overrides {
        set(k, v);
    }
    let secret_key = config["SECRET_KEY"].clone();
    let salt = config["SECURITY_PASSWORD_SALT"].clone();
    let mail_dir = PathBuf::from(&config["MAIL_OUTBOX_DIR"]);

    // A free port, known before start-up so that BASE_URL can name it. Another process
    // may take it in between: then the bind fails and we try another one.
    let mut attempt = 0;
    let (app, port, address) = loop {
        attempt += 1;
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
            probe.local_addr()?.port()
        };
        let address = format!("http://{host_name}:{port}");
        config.insert("PORT".to_owned(), port.to_string());
        if !overrides.iter().any(|(k, _)| *k == "BASE_URL") {
            config.insert("BASE_URL".to_owned(), address.clone());
        }
        let settings = Settings::from_source(&Source::from_pairs(config.clone()))?;
        match Application::build(settings).await {
            Ok(app) => break (app, port, address),
            Err(e) if attempt < 5 && e.to_string().contains("cannot listen") => continue,
            Err(e) => return Err(e),
        }
    };
    assert_eq!(app.port(), port);
    let events = app.events().clone();
    let server = actix_web::rt::spawn(app.run_until_stopped());
    let browser = TestClient::new(&address);
    Ok(TestApp {
        address,
        port,
        secret_key,
        salt,
        database_url,
        mail_dir,
        events,
        browser,
        server: Some(server),
        _backend: backend,
        _dir: dir,
    })
}

impl Deref for TestApp {
    type Target = TestClient;
    fn deref(&self) -> &TestClient {
        &self.browser
    }
}

impl TestApp {
    /// A new browser (own cookie jar, redirects not followed).
    pub fn client(&self) -> TestClient {
        TestClient::new(&self.address)
    }

    /// A browser of its own (own cookies) that sends `agent` as its `User-Agent`.
    pub fn client_as(&self, agent: &str) -> TestClient {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(agent)
            .build()
            .expect("an HTTP client");
        let mut c = self.client();
        c.http = http;
        c.jar = jar;
        c
    }

    pub fn is_sqlite(&self) -> bool {
        !self.database_url.starts_with("postgres")
    }

    /// The app's rules, on its database and under its keys (for what only the CLI or the
    /// rules do, such as registering an OpenID Connect client).
    pub fn services(&self) -> latchkey::auth::Services {
        let settings =
            latchkey::config::Settings::from_source(&latchkey::config::Source::from_pairs([
                ("SECRET_KEY", self.secret_key.as_str()),
                ("SECURITY_PASSWORD_SALT", self.salt.as_str()),
                ("DATABASE_URL", self.database_url.as_str()),
                ("BASE_URL", self.address.as_str()),
            ]))
            .expect("settings");
        let pool = latchkey::db::PoolOptions::server(&settings.database_url);
        latchkey::auth::Services::start(settings, pool).expect("services")
    }

    /// Creates an account through the registration form, in a browser of its own (so the
    /// default browser stays anonymous).
    pub async fn create_user(&self, email: &str, password: &str) {
        let r = self.client().register(email, password).await;
        assert_eq!(
            r.status(),
            StatusCode::FOUND,
            "registering {email} failed: {}",
            r.text().await.unwrap_or_default()
        );
    }

    /// A browser that has logged in as `email`.
    pub async fn logged_in_client(
        &self,
        email: &str,
        password: &str,
        remember: bool,
    ) -> TestClient {
        let c = self.client();
        let r = c.login(email, password, remember).await;
        assert_eq!(r.status(), StatusCode::FOUND, "login of {email} failed");
        assert!(c.is_authenticated().await);
        c
    }

    /// Stops the server: it stops accepting connections (polled, not slept on).
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..200 {
            if std::net::TcpStream::connect(&addr).is_err() {
                return;
            }
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("Latchkey still accepts connections on {addr} after being stopped");
    }

    // -- Direct database access, for what HTTP cannot show or do -------------------------

    /// A new connection to this test's database.
    pub fn db(&self) -> DbConnection {
        connect(&self.database_url)
    }

    pub fn user(&self, email: &str) -> User {
        self.find_user(email)
            .unwrap_or_else(|| panic!("no user {email:?} in the database"))
    }

    pub fn find_user(&self, email: &str) -> Option<User> {
        user::table
            .filter(user::email.eq(email))
            .select(User::as_select())
            .first(&mut self.db())
            .optional()
            .expect("query user")
    }

    /// Every row of `user`, by id.
    pub fn users(&self) -> Vec<User> {
        user::table
            .order(user::id)
            .select(User::as_select())
            .load(&mut self.db())
            .expect("load users")
    }

    pub fn count_users(&self) -> i64 {
        user::table
            .count()
            .get_result(&mut self.db())
            .expect("count users")
    }

    /// Waits (up to 10 s) until every queued mail has been delivered.
    pub async fn mail_settled(&self) {
        use latchkey::db::schema::mail_outbox;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let queued: i64 = mail_outbox::table
                .count()
                .get_result(&mut self.db())
                .expect("count the outbox");
            if queued == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{queued} mail(s) still queued"
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn count_login_sessions(&self) -> i64 {
        login_session::table
            .count()
            .get_result(&mut self.db())
            .expect("count login_session")
    }

    pub fn set_premium(&self, email: &str, premium: bool) {
        let n = diesel::update(user::table.filter(user::email.eq(email)))
            .set(user::premium.eq(Some(premium)))
            .execute(&mut self.db())
            .expect("set premium");
        assert_eq!(n, 1);
    }

    pub fn set_active(&self, email: &str, active: bool) {
        let n = diesel::update(user::table.filter(user::email.eq(email)))
            .set(user::active.eq(Some(active)))
            .execute(&mut self.db())
            .expect("set active");
        assert_eq!(n, 1);
    }

    /// Marks `email` confirmed, as following the welcome mail's link would.
    pub fn set_confirmed(&self, email: &str) {
        let n = diesel::update(user::table.filter(user::email.eq(email)))
            .set(user::confirmed_at.eq(Some(chrono::Utc::now().naive_utc())))
            .execute(&mut self.db())
            .expect("set confirmed_at");
        assert_eq!(n, 1);
    }

    pub fn rotate_uniquifier(&self, email: &str) {
        let n = diesel::update(user::table.filter(user::email.eq(email)))
            .set(user::fs_uniquifier.eq(random_hex(16)))
            .execute(&mut self.db())
            .expect("rotate fs_uniquifier");
        assert_eq!(n, 1);
    }
}

/// The built `latchkey` binary, to run in `dir` (which should hold no `.env`) with nothing
/// of the environment but `env` and `PATH`.
pub fn latchkey_command(dir: &Path, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null());
    cmd
}

/// Opens `url` (a SQLite path or a postgres:// URL) as Latchkey's connection type.
pub fn connect(url: &str) -> DbConnection {
    if url.starts_with("postgres") {
        return connect_postgres(url);
    }
    let path = url.strip_prefix("sqlite://").unwrap_or(url);
    let mut conn = SqliteConnection::establish(path).expect("open the SQLite test database");
    conn.batch_execute("PRAGMA busy_timeout = 10000;")
        .expect("set busy_timeout");
    DbConnection::Sqlite(conn)
}

#[cfg(feature = "postgres")]
fn connect_postgres(url: &str) -> DbConnection {
    DbConnection::Postgres(PgConnection::establish(url).expect("open the PostgreSQL test database"))
}

#[cfg(not(feature = "postgres"))]
fn connect_postgres(url: &str) -> DbConnection {
    panic!("{url} needs a build with --features postgres");
}

// ---------------------------------------------------------------------------------------
// A browser / API client
// ---------------------------------------------------------------------------------------

/// One client with its own cookie jar; redirects are returned, not followed.
pub struct TestClient {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
    pub base: String,
    base_url: Url,
}

impl TestClient {
    pub fn new(base: &str) -> Self {
        Self::with_headers(base, &[])
    }

    /// A browser that sends `headers` with every request (a `User-Agent`, an
    /// `X-Forwarded-For` from a trusted proxy).
    pub fn with_headers(base: &str, headers: &[(&str, &str)]) -> Self {
        let mut defaults = HeaderMap::new();
        for (name, value) in headers {
            defaults.insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("header name"),
                reqwest::header::HeaderValue::from_str(value).expect("header value"),
            );
        }
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .default_headers(defaults)
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("build reqwest client");
        Self {
            http,
            jar,
            base: base.to_owned(),
            base_url: Url::parse(base).expect("base url"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET failed")
    }

    /// GET as an API client (`Accept: application/json`).
    pub async fn get_json(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .expect("GET failed")
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.http
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .expect("POST failed")
    }

    /// POSTs `body` as JSON; `csrf` goes into the `X-CSRF-Token` header when given.
    pub async fn post_json(&self, path: &str, body: &Value, csrf: Option<&str>) -> Response {
        let mut req = self
            .http
            .post(self.url(path))
            .header(ACCEPT, "application/json")
            .json(body);
        if let Some(token) = csrf {
            req = req.header("X-CSRF-Token", token);
        }
        req.send().await.expect("POST failed")
    }

    /// The CSRF token of the form on `path` (this browser's session).
    pub async fn csrf_token(&self, path: &str) -> String {
        let r = self.get(path).await;
        let status = r.status();
        let html = r.text().await.expect("body");
        csrf_from_html(&html)
            .unwrap_or_else(|| panic!("no csrf_token field on {path} ({status}): {html}"))
    }

    /// The CSRF token from the JSON API (`GET /login` with `Accept: application/json`).
    /// A JSON POST with this session's CSRF token, taken from the JSON GET of `token_from`
    /// (the page the form belongs to: a GET of `/login` would abandon a half-finished
    /// login, as in Flask-Security), or from `/login` when that page gives none.
    pub async fn post_json_via(&self, token_from: &str, path: &str, body: &Value) -> Response {
        let r = self.get_json(token_from).await;
        let token = r.json::<Value>().await.unwrap_or(Value::Null)["response"]["csrf_token"]
            .as_str()
            .map(str::to_owned);
        let token = match token {
            Some(token) => token,
            None => self.json_csrf_token().await,
        };
        self.post_json(path, body, Some(&token)).await
    }

    pub async fn json_csrf_token(&self) -> String {
        let r = self.get_json("/login").await;
        assert_eq!(r.status(), StatusCode::OK);
        let j: Value = r.json().await.expect("json");
        j["response"]["csrf_token"]
            .as_str()
            .filter(|t| !t.is_empty())
            .expect("csrf_token in the JSON answer")
            .to_owned()
    }

    /// Fills in `path`'s form: `fields` plus this session's CSRF token.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let form_page = path.split('?').next().unwrap_or(path);
        let token = self.csrf_token(form_page).await;
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &token));
        self.post_form(path, &all).await
    }

    pub async fn register(&self, email: &str, password: &str) -> Response {
        self.submit(
            "/register",
            &[
                ("email", email),
                ("password", password),
                ("password_confirm", password),
            ],
        )
        .await
    }

    /// Changes the password through the `/change` form (new password typed twice).
    pub async fn change_password(&self, current: &str, new: &str) -> Response {
        self.submit(
            "/change",
            &[
                ("password", current),
                ("new_password", new),
                ("new_password_confirm", new),
            ],
        )
        .await
    }

    /// Logs in through the JSON API (with this session's CSRF token); returns the answer.
    pub async fn login_json(&self, email: &str, password: &str) -> Response {
        let token = self.json_csrf_token().await;
        self.post_json(
            "/login",
            &serde_json::json!({"email": email, "password": password}),
            Some(&token),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str, remember: bool) -> Response {
        let mut fields = vec![("email", email), ("password", password)];
        if remember {
            fields.push(("remember", "y"));
        }
        self.submit("/login", &fields).await
    }

    /// Logs out through the form on the profile page (or with the login page's token
    /// when nobody is logged in).
    pub async fn logout(&self) -> Response {
        let profile = self.get("/profile").await;
        let token = if profile.status() == StatusCode::OK {
            csrf_from_html(&profile.text().await.expect("body")).expect("logout form token")
        } else {
            self.csrf_token("/login").await
        };
        self.post_form("/logout", &[("csrf_token", &token)]).await
    }

    /// Whether this browser is logged in: `/profile` answers 200, or redirects to login.
    pub async fn is_authenticated(&self) -> bool {
        let r = self.get("/profile").await;
        match r.status() {
            StatusCode::OK => true,
            StatusCode::FOUND => {
                let loc = location(&r).unwrap_or_default();
                assert!(
                    loc.starts_with("/login"),
                    "anonymous /profile redirected to {loc:?}"
                );
                false
            }
            other => panic!("/profile answered {other}"),
        }
    }

    /// Follows a redirect answer: asserts it is one and goes to `expected_path`; returns
    /// the page it leads to.
    pub async fn follow(&self, r: Response, expected_path: &str) -> String {
        let status = r.status();
        let loc = location(&r);
        assert!(
            status.is_redirection(),
            "expected a redirect to {expected_path}, got {status}: {}",
            r.text().await.unwrap_or_default()
        );
        let loc = loc.expect("Location");
        assert_eq!(
            loc.split('?').next(),
            Some(expected_path),
            "redirected to {loc}"
        );
        self.get(&loc).await.text().await.expect("body")
    }

    /// The value of cookie `name` as this browser would send it.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let header = self.jar.cookies(&self.base_url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .filter_map(|pair| pair.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    }

    /// Puts a cookie into this browser's jar, as if the server had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.jar
            .add_cookie_str(&format!("{name}={value}; Path=/"), &self.base_url);
    }
}

// ---------------------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------------------

/// The value of `<input name="csrf_token" value="...">`.
pub fn csrf_from_html(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf_token\"")?;
    let rest = &html[at..];
    let tag_end = rest.find('>')?;
    let tag = &rest[..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = tag[v..].find('"')?;
    Some(tag[v..v + end].to_owned()).filter(|t| !t.is_empty())
}

pub fn location(r: &Response) -> Option<String> {
    r.headers()
        .get(LOCATION)
        .map(|v| v.to_str().expect("Location is ASCII").to_owned())
}

/// Every `Set-Cookie` of an answer, parsed.
pub fn set_cookies(headers: &HeaderMap) -> Vec<Cookie<'static>> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| {
            Cookie::parse(v.to_str().expect("Set-Cookie is ASCII").to_owned())
                .expect("Set-Cookie parses")
        })
        .collect()
}

pub fn set_cookie(headers: &HeaderMap, name: &str) -> Option<Cookie<'static>> {
    set_cookies(headers).into_iter().find(|c| c.name() == name)
}

pub fn content_type(r: &Response) -> String {
    r.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Undoes HTML escaping of text (the entities Tera and browsers use).
pub fn unescape_html(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&amp;", "&")
}

/// The error messages a re-rendered form shows (`<li class="fs-error-msg">`), unescaped.
pub fn form_errors(html: &str) -> Vec<String> {
    let marker = "class=\"fs-error-msg\">";
    html.match_indices(marker)
        .map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            let end = rest.find("</li>").expect("closed <li>");
            unescape_html(&rest[..end])
        })
        .collect()
}

/// The flashed messages a page shows (`<p class="flash flash-<category>">`), unescaped.
pub fn flashes(html: &str) -> Vec<String> {
    html.match_indices("<p class=\"flash flash-")
        .filter_map(|(i, _)| {
            let rest = &html[i..];
            let start = rest.find('>')? + 1;
            let end = rest.find("</p>")?;
            Some(unescape_html(&rest[start..end]))
        })
        .collect()
}

/// A rejected HTML form: 200, the form shown again, no redirect. Returns the page.
pub async fn assert_form_rejected(r: Response) -> String {
    let status = r.status();
    let loc = location(&r);
    let body = r.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "expected the form again: {body}");
    assert_eq!(loc, None, "a rejected form must not redirect");
    assert!(body.contains("<form"), "no form in the answer: {body}");
    body
}

/// A JSON error envelope with `code`; returns it.
pub async fn assert_json_error(r: Response, code: u16) -> Value {
    assert_eq!(r.status().as_u16(), code);
    assert!(
        content_type(&r).starts_with("application/json"),
        "expected JSON, got {}",
        content_type(&r)
    );
    let j: Value = r.json().await.expect("JSON body");
    assert_eq!(j["meta"]["code"], code, "{j}");
    let errors = j["response"]["errors"].as_array().expect("errors list");
    assert!(!errors.is_empty(), "{j}");
    j
}

// ---------------------------------------------------------------------------------------
// A database without an app, for tests that run the `latchkey` binary
// ---------------------------------------------------------------------------------------

/// A fresh, empty (not migrated) database on the suite's backend (a SQLite file in
/// [`FreshDatabase::dir`], or a PostgreSQL database made like [`spawn_app`]'s), removed when
/// dropped. For tests that run the binary or the mail worker themselves.
pub struct FreshDatabase {
    /// For `DATABASE_URL`.
    pub url: String,
    // Dropped before the folder.
    _backend: Backend,
    /// An empty folder (without `.env`) to run the binary in.
    pub dir: TempDir,
}

impl FreshDatabase {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("latchkey-test-")
            .tempdir()
            .expect("temporary folder");
        let backend = Backend::fresh(dir.path());
        FreshDatabase {
            url: backend.url(),
            _backend: backend,
            dir,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        if self.is_sqlite() {
            "sqlite"
        } else {
            "postgres"
        }
    }

    pub fn is_sqlite(&self) -> bool {
        !self.url.starts_with("postgres")
    }

    /// A new connection to this database.
    pub fn db(&self) -> DbConnection {
        connect(&self.url)
    }
}

impl Default for FreshDatabase {
    fn default() -> Self {
        Self::new()
    }
}

/// Sets up the authenticator app as the second factor of the logged-in `c` (Latchkey or the
/// Flask reference: same URLs and fields); returns its key. The setup uses the current time
/// step's code: a login right after needs another step's code (codes work once).
pub async fn set_up_authenticator(c: &TestClient) -> latchkey::auth::totp::TotpSecret {
    use latchkey::auth::totp::{code_at, TotpSecret};
    let r = c
        .post_json_via(
            "/tf-setup",
            "/tf-setup",
            &serde_json::json!({"setup": "authenticator"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.expect("JSON");
    let key = TotpSecret::from_base32(body["response"]["tf_authr_key"].as_str().unwrap()).unwrap();
    let state = body["response"]["tf_state_token"].as_str().unwrap();
    let now = chrono::Utc::now().timestamp() as u64;
    let r = c
        .post_json_via(
            "/tf-setup",
            &format!("/tf-setup/{state}"),
            &serde_json::json!({"code": code_at(&key, now)}),
        )
        .await;
    let status = r.status();
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        r.text().await.unwrap_or_default()
    );
    key
}

/// What the page at `path` says after its "Other ways to confirm" heading (the re-authentication
/// pages' other ways); panics when the page has none.
pub async fn other_ways_on(c: &TestClient, path: &str) -> String {
    let page = c.get(path).await.text().await.expect("the page");
    page.split("Other ways to confirm")
        .nth(1)
        .unwrap_or_else(|| panic!("no other ways on {path}: {page}"))
        .to_owned()
}
