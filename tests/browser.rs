//! Latchkey in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! Built only with `--features browser-tests` (see Cargo.toml), and then never skipped: a
//! missing Chromium or chromedriver fails the test with the command that installs them.
//!
//! ```text
//! apt-get install -y chromium chromium-driver
//! cargo test --features browser-tests --test browser
//! ```
//!
//! `CHROMIUM` and `CHROMEDRIVER` override the binaries (default `/usr/bin/chromium`,
//! `/usr/bin/chromedriver`). Screenshots of every default page at desktop and phone width go
//! to `$CARGO_TARGET_DIR/screenshots/` (or `target/screenshots/`).

// The integration suite's helpers (tests/it/), of which this binary uses a few: the suite's
// own binary uses every one of them (and warns when one is left unused).
#[path = "it/common/mod.rs"]
#[allow(dead_code)]
mod common;
#[path = "it/mail_support/mod.rs"]
#[allow(dead_code)]
mod mail_support;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::{spawn_app_with, try_spawn_app_on, TestApp, PASSWORD};
use fantoccini::cookies::Cookie;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mail_support::wait_for_eml;
use reqwest::Method;
use serde_json::{json, Value};
use url::Url;

const NEW_PASSWORD: &str = "battery-staple-7";

/// Like [`spawn_app_with`], but `BASE_URL` (and the address tests use) is
/// `http://localhost:<port>` instead of `http://127.0.0.1:<port>`: browsers refuse passkeys
/// on an IP address, and the relying party is `BASE_URL`'s host.
async fn spawn_app_on_localhost(overrides: &[(&str, &str)]) -> TestApp {
    try_spawn_app_on(overrides, "localhost")
        .await
        .unwrap_or_else(|e| panic!("Latchkey did not start: {e:#}"))
}

/// Desktop and phone viewports of the screenshots.
const WIDTHS: [(u32, u32, bool); 2] = [(1280, 800, false), (390, 844, true)];

// ---------------------------------------------------------------------------------------
// chromedriver and Chromium
// ---------------------------------------------------------------------------------------

fn binary(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found (set {var} to another path). The browser tests need Debian's Chromium: \
         apt-get install -y chromium chromium-driver",
        path.display()
    );
    path
}

/// A chromedriver on a free loopback port, killed when dropped.
struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

/// How many fresh chromedriver + Chromium pairs a test tries before it gives up. A start-up
/// failure of the browser is not what these tests are about, and on a loaded 2-core machine
/// chromedriver has been seen to drop the new-session request (`SendRequest`) once in a while.
const BROWSER_ATTEMPTS: u32 = 3;

impl ChromeDriver {
    /// A chromedriver with a headless Chromium session in it. Each failed attempt is
    /// reported with chromedriver's own log; the last one fails the test.
    async fn launch() -> (Self, Client) {
        let mut failures = Vec::new();
        for attempt in 1..=BROWSER_ATTEMPTS {
            let driver = Self::start().await;
            match driver.browser().await {
                Ok(client) => return (driver, client),
                Err(e) => {
                    let failure = format!(
                        "attempt {attempt}: chromedriver could not start Chromium: {e}\n\
                         chromedriver log ({}), last lines:\n{}",
                        driver.log.display(),
                        driver.log_tail()
                    );
                    eprintln!("{failure}");
                    failures.push(failure);
                }
            }
        }
        panic!("{}", failures.join("\n\n"));
    }

    async fn start() -> Self {
        let exe = binary("CHROMEDRIVER", "/usr/bin/chromedriver");
        let client = reqwest::Client::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = {
                let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe port");
                probe.local_addr().expect("probe address").port()
            };
            let log = screenshot_dir()
                .parent()
                .map_or_else(std::env::temp_dir, Path::to_path_buf)
                .join(format!("chromedriver-{port}.log"));
            let mut child = Command::new(&exe)
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                // Its own process group, which the Chromium it starts joins: dropping the
                // driver kills them all, even when a failed test never closed its session.
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                // Ready means chromedriver itself says so: a bare TCP connect could reach
                // another test's server that took the probed port in the meantime.
                if status_is_ready(&client, port).await {
                    return Self { child, port, log };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    // Most likely the port was taken in between: try another one.
                    assert!(attempt < 5, "chromedriver exited at start-up: {status}");
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "chromedriver did not report ready on {port} within 20 s"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The end of chromedriver's log, where the reason for a failed session start is.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("({e})"));
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// A new headless Chromium session with a fresh profile.
    async fn browser(&self) -> Result<Client, String> {
        let chromium = binary("CHROMIUM", "/usr/bin/chromium");
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // chromedriver talks to Chromium over a pipe instead of a DevTools port:
                    // its log calls that the more reliable mode.
                    "--remote-debugging-pipe",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-crash-reporter",
                    "--disable-breakpad",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--window-size=1280,800",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .map_err(|e| e.to_string())?;
        // Thirty seconds for a page to load.
        client
            .update_timeouts(fantoccini::wd::TimeoutConfiguration::new(
                None,
                Some(Duration::from_secs(30)),
                None,
            ))
            .await
            .map_err(|e| format!("set the page-load timeout: {e}"))?;
        Ok(client)
    }
}

/// Whether `GET /status` on the port answers as a chromedriver that is ready for sessions.
async fn status_is_ready(client: &reqwest::Client, port: u16) -> bool {
    let status = client
        .get(format!("http://127.0.0.1:{port}/status"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    match status {
        Ok(r) => r
            .json::<Value>()
            .await
            .is_ok_and(|status| status["value"]["ready"] == json!(true)),
        Err(_) => false,
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The log is kept only when a test failed; it says why Chromium misbehaved.
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// A Chrome DevTools command through chromedriver (`POST /session/{id}/goog/cdp/execute`).
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let id = session_id.unwrap_or_default();
        base_url.join(&format!("session/{id}/goog/cdp/execute"))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        let body = json!({ "cmd": self.cmd, "params": self.params });
        (Method::POST, Some(body.to_string()))
    }
}

async fn cdp(browser: &Client, cmd: &'static str, params: Value) -> Value {
    browser
        .issue_cmd(Cdp { cmd, params })
        .await
        .unwrap_or_else(|e| panic!("DevTools command {cmd} failed: {e}"))
}

/// WebAuthn's WebDriver extension (W3C WebAuthn §11): a virtual authenticator in this
/// browser (`POST /session/{id}/webauthn/authenticator`), answering for its tab.
#[derive(Debug)]
struct AddVirtualAuthenticator {
    options: Value,
}

impl WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let id = session_id.unwrap_or_default();
        base_url.join(&format!("session/{id}/webauthn/authenticator"))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(self.options.to_string()))
    }
}

/// Removes a virtual authenticator, with its credentials
/// (`DELETE /session/{id}/webauthn/authenticator/{authenticatorId}`).
#[derive(Debug)]
struct RemoveVirtualAuthenticator {
    authenticator: String,
}

impl WebDriverCompatibleCommand for RemoveVirtualAuthenticator {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let id = session_id.unwrap_or_default();
        base_url.join(&format!(
            "session/{id}/webauthn/authenticator/{}",
            self.authenticator
        ))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::DELETE, None)
    }
}

/// The credentials a virtual authenticator holds
/// (`GET /session/{id}/webauthn/authenticator/{authenticatorId}/credentials`).
#[derive(Debug)]
struct VirtualCredentials {
    authenticator: String,
}

impl WebDriverCompatibleCommand for VirtualCredentials {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let id = session_id.unwrap_or_default();
        base_url.join(&format!(
            "session/{id}/webauthn/authenticator/{}/credentials",
            self.authenticator
        ))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::GET, None)
    }
}

/// A platform authenticator (a laptop's screen lock) that keeps discoverable credentials,
/// verifies its user and always says yes. Its id, for [`virtual_credentials`].
async fn add_virtual_authenticator(browser: &Client) -> String {
    let options = json!({
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": true,
        "hasUserVerification": true,
        "isUserConsenting": true,
        "isUserVerified": true,
    });
    let id = browser
        .issue_cmd(AddVirtualAuthenticator { options })
        .await
        .unwrap_or_else(|e| panic!("cannot add a virtual authenticator: {e}"));
    id.as_str()
        .unwrap_or_else(|| panic!("an authenticator id, not {id}"))
        .to_owned()
}

async fn virtual_credentials(browser: &Client, authenticator: &str) -> Vec<Value> {
    let credentials = browser
        .issue_cmd(VirtualCredentials {
            authenticator: authenticator.to_owned(),
        })
        .await
        .unwrap_or_else(|e| panic!("cannot read the authenticator's credentials: {e}"));
    match credentials {
        Value::Array(list) => list,
        other => panic!("a list of credentials, not {other}"),
    }
}

// ---------------------------------------------------------------------------------------
// Small browser helpers
// ---------------------------------------------------------------------------------------

struct Browser<'a> {
    client: Client,
    app: &'a TestApp,
}

impl Browser<'_> {
    async fn goto(&self, path: &str) {
        self.client
            .goto(&self.app.url(path))
            .await
            .unwrap_or_else(|e| panic!("cannot open {path}: {e}"));
    }

    /// The current page's path (and query).
    async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn assert_path(&self, expected: &str, what: &str) {
        let path = self.path().await;
        assert!(
            path == expected || path.starts_with(&format!("{expected}?")),
            "{what}: expected to be on {expected}, the browser is on {path}; page: {}",
            self.client.source().await.unwrap_or_default()
        );
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css:?} on this page: {e}"))
            .text()
            .await
            .expect("element text")
    }

    async fn body_text(&self) -> String {
        self.text("body").await
    }

    /// Types `value` into the field named `name` of the form named `form`.
    async fn fill(&self, form: &str, name: &str, value: &str) {
        let field = self
            .client
            .find(Locator::Css(&format!(
                "form[name=\"{form}\"] [name=\"{name}\"]"
            )))
            .await
            .unwrap_or_else(|e| panic!("no field {name} in form {form}: {e}"));
        field.clear().await.expect("clear field");
        field.send_keys(value).await.expect("type into field");
    }

    /// Clicks the submit button of the form named `form` and waits for the next page.
    async fn submit(&self, form: &str) {
        self.click_through(&format!("form[name=\"{form}\"] button[type=submit]"))
            .await;
    }

    /// Clicks the button `css` and waits for the page it leads to.
    async fn click_through(&self, css: &str) {
        let button = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css:?} on this page: {e}"));
        let old_page = self
            .client
            .find(Locator::Css("html"))
            .await
            .expect("the current page");
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("cannot click {css:?}: {e}"));
        self.wait_until_replaced(old_page).await;
    }

    /// On a passkey ceremony page (`form[data-wan-ceremony]`, whose script asks the
    /// authenticator and posts its answer): waits for the page that answer leads to. Fails
    /// with the page's own message when the authenticator refused.
    async fn finish_ceremony(&self) {
        const STATE: &str = r#"
            var form = document.querySelector("form[data-wan-ceremony]");
            if (!form) return document.readyState === "complete" ? "done" : "loading";
            var failed = form.querySelector(".wan-failed");
            if (failed && !failed.hidden) return "failed: " + failed.textContent;
            var unsupported = form.querySelector(".wan-unsupported");
            if (unsupported && !unsupported.hidden) return "failed: " + unsupported.textContent;
            return "waiting";
        "#;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // Between two documents the script may not run: that is "not yet".
            let state = self.client.execute(STATE, vec![]).await.ok();
            match state.as_ref().and_then(Value::as_str) {
                Some("done") => return,
                Some(failed) if failed.starts_with("failed") => {
                    panic!("the passkey ceremony on {} {failed}", self.path().await)
                }
                _ => {}
            }
            assert!(
                Instant::now() < deadline,
                "the passkey ceremony on {} did not finish within 30 s",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds a passkey named `name` on `/wan-register`, used as the radio button `usage`
    /// (`usage-first` or `usage-secondary`) says; the list of passkeys then shows it.
    async fn add_passkey(&self, name: &str, usage: &str) {
        self.goto("/wan-register").await;
        self.assert_path("/wan-register", "the passkeys page").await;
        self.fill("wan_register_form", "name", name).await;
        self.client
            .find(Locator::Css(&format!("label[for=\"{usage}\"]")))
            .await
            .unwrap_or_else(|e| panic!("no label for {usage}: {e}"))
            .click()
            .await
            .expect("choose the usage");
        let radio = self
            .client
            .find(Locator::Css(&format!("#{usage}")))
            .await
            .unwrap_or_else(|e| panic!("no radio button {usage}: {e}"));
        assert!(
            radio.is_selected().await.expect("radio state"),
            "clicking the label chooses {usage}"
        );
        self.submit("wan_register_form").await;
        self.finish_ceremony().await;
        self.assert_path("/wan-register", "after adding a passkey")
            .await;
        let listed = self.text("table#passkeys").await;
        assert!(
            listed.contains(name),
            "the new passkey {name:?} is listed: {listed}"
        );
    }

    /// Logs out with the button on the profile page.
    async fn log_out(&self, email: &str) {
        self.goto("/profile").await;
        self.submit("logout_form").await;
        assert!(!self.logged_in_as(email).await, "logged out");
    }

    /// Waits until `old_page`'s document has been replaced by a new one.
    async fn wait_until_replaced(&self, old_page: fantoccini::elements::Element) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match old_page.tag_name().await {
                Err(_) => break, // stale: a new document is there
                Ok(_) => {
                    assert!(Instant::now() < deadline, "the form did not navigate");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        // Then until it has loaded.
        loop {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .ok();
            if state.as_ref().and_then(Value::as_str) == Some("complete") {
                return;
            }
            assert!(Instant::now() < deadline, "the next page did not load");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn cookie(&self, name: &str) -> Option<Cookie<'static>> {
        self.client
            .get_all_cookies()
            .await
            .expect("read cookies")
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Puts `cookie` (as read earlier from this browser) back.
    async fn restore_cookie(&self, cookie: &Cookie<'static>) {
        self.client
            .add_cookie(cookie.clone())
            .await
            .unwrap_or_else(|e| panic!("cannot set cookie {cookie:?}: {e}"));
    }

    /// Whether the browser is logged in: `/profile` shows this user, or sends to `/login`.
    async fn logged_in_as(&self, email: &str) -> bool {
        self.goto("/profile").await;
        let path = self.path().await;
        if path.starts_with("/login") {
            return false;
        }
        assert_eq!(path, "/profile", "unexpected page for /profile");
        assert_eq!(self.text("#email").await, email, "profile of another user");
        true
    }

    async fn register(&self, email: &str, password: &str) {
        self.goto("/register").await;
        self.fill("register_user_form", "email", email).await;
        self.fill("register_user_form", "password", password).await;
        self.fill("register_user_form", "password_confirm", password)
            .await;
        self.submit("register_user_form").await;
    }

    async fn login(&self, email: &str, password: &str, remember: bool) {
        self.goto("/login").await;
        self.fill("login_user_form", "email", email).await;
        self.fill("login_user_form", "password", password).await;
        if remember {
            let checkbox = self
                .client
                .find(Locator::Css("form[name=\"login_user_form\"] #remember"))
                .await
                .expect("the remember-me checkbox");
            // Click the label, as a person would: it must be tied to the checkbox.
            self.client
                .find(Locator::Css("label[for=\"remember\"]"))
                .await
                .expect("the remember-me label")
                .click()
                .await
                .expect("click the remember-me label");
            assert!(
                checkbox.is_selected().await.expect("checkbox state"),
                "clicking the label ticks the remember-me box"
            );
        }
        self.submit("login_user_form").await;
    }

    async fn close(self) {
        self.client.close().await.expect("close the browser");
    }

    /// Sets the viewport to `width`×`height` CSS pixels (phone: mobile emulation on).
    async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        cdp(
            &self.client,
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile }),
        )
        .await;
        let client_width = self
            .client
            .execute("return document.documentElement.clientWidth", vec![])
            .await
            .expect("clientWidth");
        assert_eq!(
            client_width.as_u64(),
            Some(u64::from(width)),
            "viewport width"
        );
    }

    /// A screenshot of the current page, whole length, at the current viewport, to `file`.
    async fn screenshot(&self, file: &Path) {
        let shot = cdp(
            &self.client,
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        )
        .await;
        let data = shot["data"].as_str().expect("screenshot data");
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .expect("screenshot is base64");
        std::fs::write(file, png)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
    }

    /// How wide the page lays out at the current viewport (more than the viewport: it
    /// scrolls sideways).
    async fn document_width(&self) -> u64 {
        self.client
            .execute("return document.documentElement.scrollWidth", vec![])
            .await
            .expect("scrollWidth")
            .as_u64()
            .expect("scrollWidth is a number")
    }

    /// Screenshots of the current page, whole length, at each width of [`WIDTHS`]:
    /// `screenshots/<name>-<width>.png`.
    async fn screenshots(&self, name: &str) {
        let dir = screenshot_dir();
        for (width, height, mobile) in WIDTHS {
            self.viewport(width, height, mobile).await;
            self.screenshot(&dir.join(format!("{name}-{width}.png")))
                .await;
            // No page may scroll sideways, down to a phone's width.
            let laid_out = self.document_width().await;
            assert!(
                laid_out <= u64::from(width),
                "{name} ({}) at {width}px: the page is {laid_out}px wide and scrolls sideways",
                self.path().await
            );
        }
        cdp(
            &self.client,
            "Emulation.clearDeviceMetricsOverride",
            json!({}),
        )
        .await;
    }
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    let dir = target.join("screenshots");
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

async fn full_app(extra: &[(&str, &str)]) -> TestApp {
    let mut settings = vec![
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

// ---------------------------------------------------------------------------------------
// The flows
// ---------------------------------------------------------------------------------------

#[actix_web::test]
async fn register_confirm_remember_change_and_log_out() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("browser");

    // Register: the mail with the confirmation link is in the mailbox.
    b.register(&email, PASSWORD).await;
    assert!(
        !b.logged_in_as(&email).await,
        "not logged in before confirming"
    );
    let welcome = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    let link = welcome[0].link_path("/confirm/");

    // Open the link: confirmed, sent to the login page with a message.
    b.goto(&link).await;
    b.assert_path("/login", "after confirming").await;
    let page = b.body_text().await;
    assert!(
        page.to_lowercase().contains("confirmed"),
        "a confirmation message: {page}"
    );

    // Log in with "remember me".
    b.login(&email, PASSWORD, true).await;
    assert!(b.logged_in_as(&email).await, "logged in");
    let session = b.cookie("session").await.expect("a session cookie");
    let remember = b
        .cookie("remember_token")
        .await
        .expect("a remember_token cookie");
    assert_eq!(
        remember.http_only(),
        Some(true),
        "remember_token is HttpOnly"
    );

    // The browser restarts: session cookies are gone, the persistent remember_token stays.
    b.client
        .delete_cookie("session")
        .await
        .expect("delete session cookie");
    assert!(b.cookie("session").await.is_none());
    b.client.refresh().await.expect("reload /profile");
    assert!(
        b.logged_in_as(&email).await,
        "still logged in after a browser restart (remember me)"
    );

    // Change the password.
    b.goto("/change").await;
    b.fill("change_password_form", "password", PASSWORD).await;
    b.fill("change_password_form", "new_password", NEW_PASSWORD)
        .await;
    b.fill("change_password_form", "new_password_confirm", NEW_PASSWORD)
        .await;
    // The show-password button reveals what was typed, and the form still submits.
    let toggle = b
        .client
        .find(Locator::Css(
            "button.toggle-password[aria-controls=\"new_password\"]",
        ))
        .await
        .expect("a show-password button beside the new password");
    toggle.click().await.expect("click Show");
    let field = b
        .client
        .find(Locator::Css("#new_password"))
        .await
        .expect("the new password field");
    assert_eq!(
        field.attr("type").await.expect("type").as_deref(),
        Some("text")
    );
    assert_eq!(
        toggle
            .attr("aria-pressed")
            .await
            .expect("aria-pressed")
            .as_deref(),
        Some("true")
    );
    assert_eq!(
        field.prop("value").await.expect("value").as_deref(),
        Some(NEW_PASSWORD)
    );
    b.submit("change_password_form").await;
    assert!(
        !b.path().await.starts_with("/change"),
        "the change was accepted: {}",
        b.body_text().await
    );
    assert!(
        b.logged_in_as(&email).await,
        "the browser that changed the password stays logged in"
    );
    wait_for_eml(&app.mail_dir, &email, "Your password has been changed", 1).await;

    // Log out with the button on the profile page; keep the cookies it had.
    b.goto("/profile").await;
    let old_session = b.cookie("session").await.expect("session cookie");
    let old_remember = b.cookie("remember_token").await;
    assert_ne!(
        old_session.value(),
        session.value(),
        "the session was renewed"
    );
    b.submit("logout_form").await;
    assert!(!b.logged_in_as(&email).await, "logged out");
    assert!(
        b.cookie("remember_token").await.is_none(),
        "logout removes the remember_token"
    );

    // The old session is gone on the server: replaying its cookies does not log in.
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.goto("/login").await;
    b.restore_cookie(&old_session).await;
    if let Some(cookie) = &old_remember {
        b.restore_cookie(cookie).await;
    }
    b.goto("/profile").await;
    b.assert_path("/login", "replayed cookies after logout")
        .await;

    // The new password works, the old one does not.
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.login(&email, PASSWORD, false).await;
    b.assert_path("/login", "the old password is refused").await;
    b.login(&email, NEW_PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await, "the new password works");

    b.close().await;
    drop(driver);
}

/// The footer's language chooser: the page comes back in the chosen language, and stays in
/// it (the `lang` cookie) on the next page, whatever the browser's own language.
#[actix_web::test]
async fn switching_language_with_the_pages_chooser() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };

    b.goto("/login").await;
    assert_eq!(b.text("h1").await, "Sign in");
    let lang = |b: &Browser<'_>| {
        let client = b.client.clone();
        async move {
            client
                .find(Locator::Css("html"))
                .await
                .expect("html")
                .attr("lang")
                .await
                .expect("lang attribute")
                .unwrap_or_default()
        }
    };
    assert_eq!(lang(&b).await, "en");

    for (code, heading, remember, show, show_password) in [
        (
            "de",
            "Anmelden",
            "Angemeldet bleiben",
            "Anzeigen",
            "Passwort anzeigen",
        ),
        (
            "fr",
            "Se connecter",
            "Se souvenir de moi",
            "Afficher",
            "Afficher : Mot de passe",
        ),
    ] {
        b.client
            .find(Locator::Css(&format!(
                "#lang-select option[value=\"{code}\"]"
            )))
            .await
            .unwrap_or_else(|e| panic!("no {code} in the chooser: {e}"))
            .click()
            .await
            .expect("choose the language");
        b.submit("lang_form").await;
        b.assert_path("/login", "the chooser comes back to the page")
            .await;
        assert_eq!(b.text("h1").await, heading);
        assert_eq!(lang(&b).await, code);
        assert_eq!(b.text("label[for=\"remember\"]").await, remember);
        // The script's button beside the password, in the page's language too.
        let toggle = b
            .client
            .find(Locator::Css(
                "button.toggle-password[aria-controls=\"password\"]",
            ))
            .await
            .expect("the show button");
        assert_eq!(toggle.text().await.expect("its text"), show);
        assert_eq!(
            toggle
                .attr("aria-label")
                .await
                .expect("its name")
                .as_deref(),
            Some(show_password)
        );
    }
    // The choice is kept for the next pages.
    b.goto("/reset").await;
    assert_eq!(lang(&b).await, "fr");
    assert!(b.body_text().await.contains("Récupérer le mot de passe"));

    b.close().await;
    drop(driver);
}

#[actix_web::test]
async fn the_example_overrides_are_what_the_browser_and_the_mailbox_see() {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/custom-templates");
    let templates = templates.to_string_lossy();
    let subject = "Welcome aboard Acme Rockets";
    let app = spawn_app_with(&[
        ("SECURITY_TEMPLATES_DIR", &templates),
        ("SECURITY_EMAIL_SUBJECT_REGISTER", subject),
        ("APP_NAME", "Acme Rockets"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };

    // The login page is the brand's, inside the built-in layout.
    b.goto("/login").await;
    assert_eq!(
        b.client.title().await.expect("title"),
        "Launch pad · Acme Rockets"
    );
    assert!(
        b.text(".acme-tagline").await.contains("Mission control"),
        "the brand's marker on the login page"
    );
    assert_eq!(b.text(".site-header .brand").await, "Acme Rockets");
    assert_eq!(
        b.text("form[name=\"login_user_form\"] button[type=submit]")
            .await,
        "Ignition"
    );
    let stylesheet = b
        .client
        .find(Locator::Css("link[rel=stylesheet]"))
        .await
        .expect("the built-in layout's stylesheet");
    assert_eq!(
        stylesheet.attr("href").await.expect("href").as_deref(),
        Some("/static/latchkey.css")
    );
    b.screenshots("example-login").await;

    // Register (no confirmation in this app): the welcome mail is the brand's.
    let email = common::new_email("acme");
    b.register(&email, PASSWORD).await;
    let mail = wait_for_eml(&app.mail_dir, &email, subject, 1).await;
    let text = mail[0].part("text/plain").expect("a text part");
    let html = mail[0].part("text/html").expect("an HTML part");
    assert!(
        text.contains("Welcome aboard Acme Rockets") && text.contains(&email),
        "text part: {text}"
    );
    assert!(
        html.contains("Welcome aboard Acme Rockets!") && html.contains("Acme Rockets ground crew"),
        "HTML part: {html}"
    );

    // The overridden form still logs in (the contract is kept).
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.login(&email, PASSWORD, true).await;
    assert!(
        b.logged_in_as(&email).await,
        "logged in through the override"
    );
    assert!(b.cookie("remember_token").await.is_some());

    b.close().await;
    drop(driver);
}

#[actix_web::test]
async fn screenshots_of_every_default_page_at_desktop_and_phone_width() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };

    for (name, path) in [
        ("home", "/"),
        ("login", "/login"),
        ("register", "/register"),
        ("confirm", "/confirm"),
        ("reset", "/reset"),
    ] {
        b.goto(path).await;
        b.assert_path(path, "anonymous page").await;
        b.screenshots(name).await;
    }

    // A confirmed user, and a reset link for the /reset/<token> page.
    let email = common::new_email("shots");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    b.goto("/reset").await;
    b.fill("forgot_password_form", "email", &email).await;
    b.submit("forgot_password_form").await;
    b.screenshots("reset-sent").await;
    let mail = wait_for_eml(&app.mail_dir, &email, "Password reset instructions", 1).await;
    b.goto(&mail[0].link_path("/reset/")).await;
    assert!(
        b.client
            .find(Locator::Css("form[name=\"reset_password_form\"]"))
            .await
            .is_ok(),
        "the reset form"
    );
    b.screenshots("reset-token").await;

    // A login form showing field errors.
    b.login(&email, "not-the-password", false).await;
    b.assert_path("/login", "a refused login").await;
    assert!(
        b.client.find(Locator::Css(".fs-error-msg")).await.is_ok(),
        "field errors shown"
    );
    b.screenshots("login-errors").await;

    // Logged in: the change form and the profile.
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);
    b.screenshots("profile").await;
    b.goto("/change").await;
    b.screenshots("change").await;
    b.goto("/").await;
    b.screenshots("home-logged-in").await;

    b.close().await;
    drop(driver);
}

/// The admin page on a desktop and a phone: a list that stacks (no sideways scroll, however
/// long the addresses), and its search field finds a user by part of the address.
#[actix_web::test]
async fn the_admin_page_fits_a_phone_and_finds_a_user() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let admin = common::new_email("admin-with-a-rather-long-address-for-a-phone");
    let other = common::new_email("someone-else");
    for email in [&admin, &other] {
        app.create_user(email, PASSWORD).await;
        app.set_confirmed(email);
    }
    {
        use latchkey::db::roles;
        let mut conn = app.db();
        let role = roles::create(&mut conn, "admin", None).unwrap().unwrap();
        roles::add_to_user(&mut conn, app.user(&admin).id, role.id).unwrap();
    }
    b.login(&admin, PASSWORD, false).await;
    b.goto("/admin").await;
    b.assert_path("/admin", "the admin page").await;
    b.screenshots("admin").await;

    let local = other.split('@').next().unwrap().to_owned();
    // Typed, then Enter: the main action of the search form.
    let field = b
        .client
        .find(Locator::Css("#admin-q"))
        .await
        .expect("the search field");
    field
        .send_keys(&format!("{local}\u{E007}"))
        .await
        .expect("type and press Enter");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !b
        .client
        .current_url()
        .await
        .expect("url")
        .as_str()
        .contains("q=")
    {
        assert!(Instant::now() < deadline, "Enter did not search");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let list = b
        .client
        .find(Locator::Css(".admin-users"))
        .await
        .expect("the list")
        .text()
        .await
        .expect("its text");
    assert!(list.contains(&other), "{list}");
    assert!(!list.contains(&admin), "only the match: {list}");
    b.screenshots("admin-search").await;

    b.close().await;
    drop(driver);
}

/// "Check your email" after "Forgot password": the card names the address, and its "Send it
/// again" waits out a countdown before it can be pressed.
#[actix_web::test]
async fn the_check_email_card_counts_down_before_sending_again() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("card");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    b.goto("/reset").await;
    b.fill("forgot_password_form", "email", &email).await;
    b.submit("forgot_password_form").await;
    let card = b
        .client
        .find(Locator::Css(".check-email"))
        .await
        .expect("the card")
        .text()
        .await
        .expect("its text");
    assert!(card.contains(&email), "{card}");
    let button = b
        .client
        .find(Locator::Css("form[name=\"resend_form\"] button"))
        .await
        .expect("Send it again");
    assert_eq!(
        button.prop("disabled").await.expect("disabled").as_deref(),
        Some("true"),
        "not pressable during the countdown"
    );
    let wait = b
        .client
        .find(Locator::Css(".resend-wait"))
        .await
        .expect("the countdown")
        .text()
        .await
        .expect("its text");
    assert!(
        wait.starts_with("You can send it again in 1:00")
            || wait.starts_with("You can send it again in 0:5"),
        "{wait}"
    );
    b.close().await;
    drop(driver);
}

/// Two-factor in a real browser: the user sets up an authenticator app (the test reads the
/// key off the page, as a person would scan it, and computes the code), logs out, and logs
/// in again with the password and then the code.
#[actix_web::test]
async fn set_up_an_authenticator_log_out_and_log_in_with_its_code() {
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("authenticator");
    app.create_user(&email, PASSWORD).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);

    // The account page leads to the setup.
    b.goto("/tf-setup").await;
    assert!(b.text("#tf-status").await.contains("Off"));
    b.client
        .find(Locator::Css("label[for=\"setup-authenticator\"]"))
        .await
        .expect("the authenticator choice")
        .click()
        .await
        .expect("choose the authenticator");
    b.submit("two_factor_setup_form").await;
    let key = b.text("#authenticator-key").await;
    assert!(
        b.client.find(Locator::Css("figure.qr svg")).await.is_ok(),
        "a QR code, inline"
    );
    b.screenshots("two-factor-setup").await;
    let secret = latchkey::auth::totp::TotpSecret::from_base32(&key).expect("a base32 key");
    let now = chrono::Utc::now().timestamp() as u64;
    // The code of the previous step: the login below uses the current one (each works once).
    let setup_code = latchkey::auth::totp::code_at(&secret, now - 30);
    b.fill("two_factor_verify_code_form", "code", &setup_code)
        .await;
    b.submit("two_factor_verify_code_form").await;
    b.goto("/tf-setup").await;
    assert!(
        b.text("#tf-status").await.contains("authenticator"),
        "two-factor is on"
    );

    // Log out, then in: the password leads to the code page, not to a login.
    b.goto("/profile").await;
    b.submit("logout_form").await;
    assert!(!b.logged_in_as(&email).await);
    b.login(&email, PASSWORD, false).await;
    b.assert_path("/tf-validate", "after the password").await;
    b.screenshots("two-factor-code").await;
    // A wrong code first: the account's activity must call it a failed second step.
    b.fill("two_factor_verify_code_form", "code", "000000")
        .await;
    b.submit("two_factor_verify_code_form").await;
    b.assert_path("/tf-validate", "a wrong code").await;
    let code = latchkey::auth::totp::code_at(&secret, chrono::Utc::now().timestamp() as u64);
    b.fill("two_factor_verify_code_form", "code", &code).await;
    b.submit("two_factor_verify_code_form").await;
    assert!(b.logged_in_as(&email).await, "logged in with the code");
    b.goto("/profile").await;
    let page = b.body_text().await;
    assert!(
        page.contains("Failed second step of sign-in with an authenticator code"),
        "{page}"
    );
    assert!(!page.contains("Failed sign-in with a password"), "{page}");

    b.close().await;
    drop(driver);
}

/// A passkey instead of a password, with Chromium's virtual authenticator standing in for
/// the laptop's screen lock: added on the passkeys page after a password login, then, logged
/// out, used alone from the login page (a discoverable credential: nothing typed).
#[actix_web::test]
async fn add_a_passkey_and_sign_in_with_it_instead_of_the_password() {
    // Browsers refuse passkeys on an IP address: the app is http://localhost:<port>.
    let app = spawn_app_on_localhost(&[("SECURITY_WEBAUTHN", "true")]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let authenticator = add_virtual_authenticator(&b.client).await;
    let email = common::new_email("passkey");
    app.create_user(&email, PASSWORD).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);

    b.goto("/wan-register").await;
    assert!(
        b.client.find(Locator::Css("#no-passkeys")).await.is_ok(),
        "no passkeys yet: {}",
        b.body_text().await
    );
    b.add_passkey("Work laptop", "usage-first").await;
    let listed = b.text("table#passkeys").await;
    assert!(listed.contains("Signing in"), "a sign-in passkey: {listed}");
    let page = b.body_text().await;
    assert!(page.contains("Work laptop"), "{page}");
    b.screenshots("passkeys").await;
    let credentials = virtual_credentials(&b.client, &authenticator).await;
    assert_eq!(credentials.len(), 1, "one credential made: {credentials:?}");
    assert_eq!(credentials[0]["rpId"], json!("localhost"));
    assert_eq!(
        credentials[0]["isResidentCredential"],
        json!(true),
        "a discoverable credential"
    );

    // Logged out, the login page offers the passkey; nothing is typed.
    b.log_out(&email).await;
    b.goto("/login").await;
    assert_eq!(b.text("#passkey-signin").await, "Sign in with a passkey");
    b.click_through("#passkey-signin").await;
    b.finish_ceremony().await;
    assert!(
        b.logged_in_as(&email).await,
        "logged in with the passkey alone"
    );
    let credentials = virtual_credentials(&b.client, &authenticator).await;
    assert!(
        credentials[0]["signCount"].as_u64().is_some_and(|n| n > 0),
        "the authenticator signed: {credentials:?}"
    );

    b.close().await;
    drop(driver);
}

/// A passkey as the second factor: after the password the browser is sent to `/wan-signin`,
/// whose button asks the (virtual) authenticator, and then the user is in.
#[actix_web::test]
async fn a_second_factor_passkey_is_asked_for_after_the_password() {
    let app = spawn_app_on_localhost(&[("SECURITY_WEBAUTHN", "true")]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let authenticator = add_virtual_authenticator(&b.client).await;
    let email = common::new_email("passkey2fa");
    app.create_user(&email, PASSWORD).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);

    b.add_passkey("Security key", "usage-secondary").await;
    let listed = b.text("table#passkeys").await;
    assert!(
        listed.contains("Second factor"),
        "a second factor: {listed}"
    );
    assert_eq!(
        virtual_credentials(&b.client, &authenticator).await.len(),
        1,
        "one credential made"
    );

    // The password alone does not log in: the passkey is asked for.
    b.log_out(&email).await;
    b.login(&email, PASSWORD, false).await;
    b.assert_path("/wan-signin", "after the password").await;
    let heading = b.text("h1").await;
    assert!(heading.contains("Confirm it's you"), "heading: {heading}");
    b.screenshots("passkey-second-factor").await;
    assert_eq!(b.text("button.wan-start").await, "Use my passkey");
    b.click_through("button.wan-start").await;
    b.finish_ceremony().await;
    assert!(
        b.logged_in_as(&email).await,
        "logged in with the password and the passkey"
    );

    b.close().await;
    drop(driver);
}

/// The code in the `n`-th "Verification Code" mail to `email`.
async fn verification_code(app: &TestApp, email: &str, n: usize) -> String {
    let mails = wait_for_eml(&app.mail_dir, email, "Verification Code", n).await;
    let text = mails[n - 1].part("text/plain").expect("a text part");
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_owned()
}

/// Unified sign-in: codes by email set up on the sign-in options page, then, logged out,
/// "Send code" on the one sign-in form and the mailed code instead of the password.
#[actix_web::test]
async fn sign_in_with_a_mailed_code() {
    let app = spawn_app_with(&[
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("mailed-code");
    app.create_user(&email, PASSWORD).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);

    b.goto("/us-setup").await;
    assert_eq!(b.text("#us-active").await, "password");
    b.client
        .find(Locator::Css("label[for=\"chosen_method-email\"]"))
        .await
        .expect("the email choice")
        .click()
        .await
        .expect("choose email");
    b.submit("us_setup_form").await;
    let code = verification_code(&app, &email, 1).await;
    b.fill("us_setup_validate_form", "passcode", &code).await;
    b.submit("us_setup_validate_form").await;
    b.assert_path("/us-setup", "after the setup").await;
    assert!(
        b.text("#us-active").await.contains("codes by email"),
        "codes by email are on"
    );

    b.log_out(&email).await;
    b.goto("/us-signin").await;
    b.screenshots("unified-signin").await;
    b.fill("us_signin_form", "identity", &email).await;
    b.click_through("button[name=\"submit_send_code\"]").await;
    assert!(
        b.body_text().await.contains("Code has been sent"),
        "the page says a code was sent"
    );
    let code = verification_code(&app, &email, 2).await;
    b.fill("us_signin_form", "passcode", &code).await;
    b.click_through("form[name=\"us_signin_form\"] button[name=\"submit\"]")
        .await;
    assert!(
        b.logged_in_as(&email).await,
        "logged in with the mailed code"
    );

    b.close().await;
    drop(driver);
}

/// Chooses `code` in the footer's language chooser (on a page that has it).
async fn choose_language(b: &Browser<'_>, code: &str) {
    b.client
        .find(Locator::Css(&format!(
            "#lang-select option[value=\"{code}\"]"
        )))
        .await
        .unwrap_or_else(|e| panic!("no {code} in the chooser: {e}"))
        .click()
        .await
        .expect("choose the language");
    b.submit("lang_form").await;
}

async fn html_lang(b: &Browser<'_>) -> String {
    b.client
        .find(Locator::Css("html"))
        .await
        .expect("html")
        .attr("lang")
        .await
        .expect("lang attribute")
        .unwrap_or_default()
}

/// `GET /logout` (a typed or followed link) is a page with the button, not Chromium's own
/// error page for an empty 405; the button logs out.
#[actix_web::test]
async fn opening_the_logout_address_offers_the_button() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("get-logout");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    b.login(&email, PASSWORD, false).await;
    b.goto("/logout").await;
    assert_eq!(b.text("h1").await, "Sign out?");
    assert!(b.body_text().await.contains(&email));
    b.screenshots("logout-get").await;
    b.submit("logout_user_form").await;
    assert!(!b.logged_in_as(&email).await, "the button logged out");
    b.close().await;
    drop(driver);
}

/// The 429 page in German: the site's header, `lang="de"`, the wait in words ("1 Sekunde",
/// never "1 seconds"), a way forward, and no sideways scroll on a phone. A page that does not
/// exist gets the same layout.
#[actix_web::test]
async fn error_pages_are_in_the_layout_and_the_language() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("throttled");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    b.goto("/login").await;
    choose_language(&b, "de").await;
    let mut throttled = false;
    for _ in 0..8 {
        b.goto("/login").await;
        b.fill("login_user_form", "email", &email).await;
        b.fill("login_user_form", "password", "not-the-password")
            .await;
        b.submit("login_user_form").await;
        if b.text("h1").await == "Zu viele Versuche" {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the login throttle answered");
    assert_eq!(html_lang(&b).await, "de");
    let page = b.body_text().await;
    assert!(
        page.contains("1 Sekunde") || page.contains("2 Sekunden"),
        "{page}"
    );
    assert!(
        !page.contains("1 seconds") && !page.contains("Sekunden Sekunden"),
        "{page}"
    );
    assert!(
        page.contains("Passwort vergessen?"),
        "a way forward: {page}"
    );
    b.client
        .find(Locator::Css("header.site-header"))
        .await
        .expect("the site's header");
    b.screenshots("error-429-de").await;

    b.goto("/no-such-page").await;
    assert_eq!(b.text("h1").await, "Seite nicht gefunden");
    assert_eq!(html_lang(&b).await, "de");
    b.screenshots("error-404-de").await;
    b.close().await;
    drop(driver);
}

/// A form sent after its session expired (here: the session cookie is gone, as after a
/// browser restart or a server-side key change) is shown again under "Your session expired,
/// please try again", in the page's language, never as a bare 400; sending it again works.
/// The same for a form that only posts (a session's "Sign out" on the sessions page): the
/// page it was on is shown again.
#[actix_web::test]
async fn a_form_whose_session_expired_is_shown_again() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("expired-form");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);

    b.goto("/login").await;
    b.fill("login_user_form", "email", &email).await;
    b.fill("login_user_form", "password", PASSWORD).await;
    b.client
        .delete_cookie("session")
        .await
        .expect("forget the session");
    b.submit("login_user_form").await;
    b.assert_path("/login", "the login form, shown again").await;
    let page = b.body_text().await;
    assert!(
        page.contains("Your session expired, please try again."),
        "{page}"
    );
    b.fill("login_user_form", "email", &email).await;
    b.fill("login_user_form", "password", PASSWORD).await;
    b.submit("login_user_form").await;
    assert!(b.logged_in_as(&email).await, "the second try works");

    b.log_out(&email).await;
    choose_language(&b, "de").await;
    b.goto("/register").await;
    b.fill(
        "register_user_form",
        "email",
        &common::new_email("expired-2"),
    )
    .await;
    b.fill("register_user_form", "password", PASSWORD).await;
    b.fill("register_user_form", "password_confirm", PASSWORD)
        .await;
    let csrf = b
        .client
        .find(Locator::Css(
            "form[name=register_user_form] input[name=csrf_token]",
        ))
        .await
        .expect("the token field");
    b.client
        .execute(
            "arguments[0].value = 'not-the-token';",
            vec![serde_json::to_value(&csrf).expect("element")],
        )
        .await
        .expect("spoil the token");
    b.submit("register_user_form").await;
    b.assert_path("/register", "the registration form, shown again")
        .await;
    let page = b.body_text().await;
    assert!(
        page.contains("Ihre Sitzung ist abgelaufen"),
        "in the page's language: {page}"
    );
    b.client
        .find(Locator::Css("form[name=register_user_form]"))
        .await
        .expect("the form, to send again");
    b.close().await;
    drop(driver);
}

/// Every page names an icon the server has: no 404 for `/favicon.ico` on each page load.
#[actix_web::test]
async fn the_site_icon_is_served() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    b.goto("/login").await;
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const link = document.querySelector('link[rel=icon]');
             const href = link ? link.href : '/favicon.ico';
             Promise.all([fetch(href), fetch('/favicon.ico')])
               .then(rs => done(rs.map(r => r.status + ' ' + r.headers.get('content-type'))));",
            vec![],
        )
        .await
        .expect("fetch the icon");
    assert_eq!(
        found,
        json!(["200 image/x-icon", "200 image/x-icon"]),
        "the icon the page names, and the one browsers ask for"
    );
    b.close().await;
    drop(driver);
}

/// "Ask the site's support for help" at the code step says the support was asked, not that a
/// code was sent.
#[actix_web::test]
async fn asking_the_support_says_so() {
    let app = spawn_app_with(&[
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
        ("SECURITY_TWO_FACTOR_RESCUE_MAIL", "support@example.com"),
    ])
    .await;
    let email = common::new_email("help");
    app.create_user(&email, PASSWORD).await;
    let owner = app.logged_in_client(&email, PASSWORD, false).await;
    common::set_up_authenticator(&owner).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    b.login(&email, PASSWORD, false).await;
    b.assert_path("/tf-validate", "after the password").await;
    b.submit("two_factor_help_form").await;
    let page = b.body_text().await;
    assert!(
        page.contains("Your request went to the site's support."),
        "{page}"
    );
    assert!(!page.contains("Code has been sent."), "{page}");
    b.close().await;
    drop(driver);
}

/// Enter in the password field of `/us-signin` signs in; it does not send a code (the "Send
/// code" button used to come first in the form, so Enter pressed it). On `/us-verify`, Enter
/// checks the password instead of mailing a code.
#[actix_web::test]
async fn enter_signs_in_on_the_unified_sign_in_page() {
    let app = spawn_app_with(&[
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        ("SECURITY_US_ENABLED_METHODS", "password,email"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("enter");
    app.create_user(&email, PASSWORD).await;
    b.goto("/us-signin").await;
    b.fill("us_signin_form", "identity", &email).await;
    b.fill("us_signin_form", "passcode", &format!("{PASSWORD}\u{E007}"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.path().await == "/us-signin" {
        assert!(Instant::now() < deadline, "Enter did not leave the page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(b.logged_in_as(&email).await, "Enter signed in");

    // Re-authentication: Enter in the password field checks it (no code is mailed).
    b.goto("/us-verify").await;
    b.fill("us_verify_form", "passcode", &format!("{PASSWORD}\u{E007}"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.path().await == "/us-verify" {
        assert!(Instant::now() < deadline, "Enter did not leave the page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.mail_settled().await;
    assert!(
        mail_support::eml_messages_to(&app.mail_dir, &email, "Verification Code").is_empty(),
        "no code was mailed"
    );
    b.close().await;
    drop(driver);
}

/// A browser with a remembered login that was signed out from another device logs in again
/// at the first try (it used to get "The CSRF token is invalid." once).
#[actix_web::test]
async fn logging_in_again_after_being_signed_out_elsewhere_works_first_time() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("elsewhere");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    b.login(&email, PASSWORD, true).await;
    assert!(b.logged_in_as(&email).await);

    // Another device signs out every other session.
    let other = app.logged_in_client(&email, PASSWORD, false).await;
    let csrf = other.json_csrf_token().await;
    let r = other
        .post_json("/sessions/revoke-others", &json!({}), Some(&csrf))
        .await;
    assert!(r.status().is_success(), "{}", r.status());

    b.login(&email, PASSWORD, false).await;
    let page = b.body_text().await;
    assert!(!page.contains("CSRF"), "{page}");
    assert!(b.logged_in_as(&email).await, "logged in at the first try");
    b.close().await;
    drop(driver);
}

// ---------------------------------------------------------------------------------------
// The account area, the sessions page and the passkeys page (issue 24)
// ---------------------------------------------------------------------------------------

/// axe-core's script: `AXE_CORE_JS`, else `$CARGO_TARGET_DIR/axe-core/package/axe.min.js`
/// (`cd $CARGO_TARGET_DIR && mkdir -p axe-core && cd axe-core && npm pack axe-core &&
/// tar xzf axe-core-*.tgz`).
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(read_axe_source)
}

fn read_axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS").map_or_else(
        || {
            screenshot_dir()
                .parent()
                .expect("the target directory")
                .join("axe-core/package/axe.min.js")
        },
        PathBuf::from,
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core not found at {} ({e}): set AXE_CORE_JS or unpack `npm pack axe-core` there",
            path.display()
        )
    })
}

/// Runs axe-core on the current page: no serious or critical violation.
async fn assert_axe_clean(b: &Browser<'_>, what: &str) {
    let violations = axe_violations(b).await;
    assert!(
        violations.is_empty(),
        "{what}: axe-core found serious violations: {violations:?}"
    );
}

/// axe-core's serious and critical violations on the current page, one line each.
async fn axe_violations(b: &Browser<'_>) -> Vec<String> {
    // Once per document: the page keeps it across viewport changes.
    let loaded = b
        .client
        .execute("return typeof window.axe !== 'undefined'", vec![])
        .await
        .expect("look for axe-core");
    if loaded != json!(true) {
        b.client
            .execute(axe_source(), vec![])
            .await
            .expect("load axe-core");
    }
    let found = b
        .client
        .execute_async(
            "var done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
               done(r.violations.filter(function (v) {
                 return v.impact === 'serious' || v.impact === 'critical';
               }).map(function (v) {
                 return v.id + ' (' + v.impact + '): ' + v.nodes.map(function (n) {
                   return n.target.join(' ');
                 }).join(', ');
               }));
             }).catch(function (e) { done(['axe failed: ' + e]); });",
            vec![],
        )
        .await
        .expect("run axe-core");
    found
        .as_array()
        .expect("a list of violations")
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
        .collect()
}

/// Opens the confirmation (`<details class="confirm">`) of `scope` and clicks its button.
async fn confirm_in(b: &Browser<'_>, scope: &str) {
    let button_css = format!("{scope} details.confirm button[type=submit]");
    let button = b
        .client
        .find(Locator::Css(&button_css))
        .await
        .unwrap_or_else(|e| panic!("no {button_css:?}: {e}"));
    assert!(
        !button.is_displayed().await.expect("displayed"),
        "{scope}: the destructive button shows only after asking"
    );
    b.client
        .find(Locator::Css(&format!("{scope} details.confirm summary")))
        .await
        .expect("the confirmation's summary")
        .click()
        .await
        .expect("open the confirmation");
    assert!(button.is_displayed().await.expect("displayed"));
    b.click_through(&button_css).await;
}

/// The account area and the sessions page at desktop and phone width, in English and
/// German: no sideways scroll, axe-core clean, screenshots `account-*`, `sessions-*`.
#[actix_web::test]
async fn the_account_and_sessions_pages_fit_a_phone_and_pass_axe_in_english_and_german() {
    let app = spawn_app_on_localhost(&[
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
        ("SECURITY_CHANGE_EMAIL", "true"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("account-area");
    app.create_user(&email, PASSWORD).await;
    // Another session, and a failed sign-in from elsewhere for the prompt.
    let _other = app.logged_in_client(&email, PASSWORD, true).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);
    let _ = app
        .client()
        .login(&email, "not-the-Password-1", false)
        .await;

    for (lang, heading) in [("en", "Your account"), ("de", "Ihr Konto")] {
        b.goto("/profile").await;
        if lang != "en" {
            choose_language(&b, lang).await;
            b.goto("/profile").await;
        }
        let h1 = b.text("h1").await;
        assert!(h1.contains(heading), "{lang}: {h1}");
        assert!(
            b.client
                .find(Locator::Css("#security-summary"))
                .await
                .is_ok(),
            "the summary"
        );
        assert_axe_clean(&b, &format!("/profile ({lang})")).await;
        b.screenshots(&format!("account-{lang}")).await;
        b.goto("/sessions").await;
        assert_axe_clean(&b, &format!("/sessions ({lang})")).await;
        b.screenshots(&format!("sessions-{lang}")).await;
    }

    b.close().await;
    drop(driver);
}

/// "Sign out <device>" on the sessions page asks first, then ends that session only.
#[actix_web::test]
async fn signing_out_another_session_asks_first_then_ends_it() {
    let app = full_app(&[]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let email = common::new_email("sign-out-one");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let other = app.logged_in_client(&email, PASSWORD, false).await;
    b.login(&email, PASSWORD, false).await;
    assert!(b.logged_in_as(&email).await);

    b.goto("/sessions").await;
    let first = b.text("ul.sessions li:first-child").await;
    assert!(first.contains("This device"), "this device first: {first}");
    confirm_in(&b, "ul.sessions li.session:not(.current)").await;
    b.assert_path("/sessions", "back on the sessions page")
        .await;
    assert!(!other.is_authenticated().await, "the other session ended");
    assert!(b.logged_in_as(&email).await, "this one goes on");
    assert!(
        b.client
            .find(Locator::Css("ul.sessions li.session:not(.current)"))
            .await
            .is_err(),
        "only this device is left"
    );

    b.close().await;
    drop(driver);
}

/// Deleting a passkey asks first; an unused one says "Never"; screenshot `passkeys-list-*`.
#[actix_web::test]
async fn deleting_a_passkey_asks_first() {
    let app = spawn_app_on_localhost(&[("SECURITY_WEBAUTHN", "true")]).await;
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let _authenticator = add_virtual_authenticator(&b.client).await;
    let email = common::new_email("passkey-delete");
    app.create_user(&email, PASSWORD).await;
    b.login(&email, PASSWORD, false).await;
    b.add_passkey("Spare key", "usage-first").await;
    assert_eq!(b.text(".passkey-last-used").await, "Never");
    assert_axe_clean(&b, "/wan-register").await;
    b.screenshots("passkeys-list").await;

    confirm_in(&b, "table#passkeys tbody tr:first-child").await;
    b.assert_path("/wan-register", "back on the passkeys page")
        .await;
    assert!(
        b.client.find(Locator::Css("#no-passkeys")).await.is_ok(),
        "the passkey is gone: {}",
        b.body_text().await
    );

    b.close().await;
    drop(driver);
}

// ---------------------------------------------------------------------------------------
// Every page, in English and German, at desktop and phone width (issue 24)
// ---------------------------------------------------------------------------------------

/// The languages every page is checked in (each page's `<html lang>` must say it).
const LANGUAGES: [&str; 2] = ["en", "de"];

impl Browser<'_> {
    /// Chooses `lang` for the next pages: the `lang` cookie, as the footer's chooser sets it
    /// (by script: chromedriver refuses to add a cookie for `localhost`).
    async fn set_language(&self, lang: &str) {
        self.client
            .execute(
                "document.cookie = 'lang=' + arguments[0] + '; path=/; SameSite=Lax'",
                vec![json!(lang)],
            )
            .await
            .unwrap_or_else(|e| panic!("cannot set the lang cookie to {lang}: {e}"));
    }

    /// The current page, called `page`, in `lang`: its `<html lang>` must say `lang`, and at
    /// desktop and phone width axe-core must find no serious or critical violation and
    /// nothing may scroll sideways; screenshots `<page>-<lang>-<width>.png`. What is wrong
    /// goes to `problems` (one line each), so that one run reports every page.
    async fn check_page(&self, page: &str, lang: &str, problems: &mut Vec<String>) {
        let path = self.path().await;
        let found_lang = html_lang(self).await;
        if found_lang != lang {
            problems.push(format!(
                "{page} ({path}, {lang}): <html lang=\"{found_lang}\">"
            ));
        }
        let dir = screenshot_dir();
        for (width, height, mobile) in WIDTHS {
            self.viewport(width, height, mobile).await;
            let what = format!("{page} ({path}, {lang}, {width}px)");
            for violation in axe_violations(self).await {
                problems.push(format!("{what}: axe-core: {violation}"));
            }
            let laid_out = self.document_width().await;
            if laid_out > u64::from(width) {
                problems.push(format!(
                    "{what}: the page is {laid_out}px wide and scrolls sideways"
                ));
            }
            self.screenshot(&dir.join(format!("{page}-{lang}-{width}.png")))
                .await;
        }
        cdp(
            &self.client,
            "Emulation.clearDeviceMetricsOverride",
            json!({}),
        )
        .await;
    }

    /// Opens `path` in each language and checks it as [`Browser::check_page`] does; the
    /// browser must be on `lands_on` (a path, or `path` itself when `None`).
    async fn check_path(
        &self,
        page: &str,
        path: &str,
        lands_on: Option<&str>,
        problems: &mut Vec<String>,
    ) {
        for lang in LANGUAGES {
            self.set_language(lang).await;
            self.goto(path).await;
            let expected = lands_on.unwrap_or(path);
            let landed = self.path().await;
            if landed != expected && !landed.starts_with(&format!("{expected}?")) {
                problems.push(format!(
                    "{page} ({lang}): {path} led to {landed}, not {expected}"
                ));
            }
            self.check_page(page, lang, problems).await;
        }
    }
}

/// Every page a visitor can reach, anonymous and signed in with every feature on, in English
/// and German at 1280 and 390 px: axe-core finds no serious or critical violation, nothing
/// scrolls sideways, `<html lang>` is the page's language, and each is saved as
/// `screenshots/<page>-<lang>-<width>.png`.
#[actix_web::test]
async fn every_page_passes_axe_and_fits_a_phone_in_english_and_german() {
    let started = Instant::now();
    let app = spawn_app_on_localhost(&[
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_CHANGEABLE", "true"),
        ("SECURITY_RECOVERABLE", "true"),
        ("SECURITY_TRACKABLE", "true"),
        ("SECURITY_USERNAME_ENABLE", "true"),
        ("SECURITY_CHANGE_USERNAME", "true"),
        ("SECURITY_USERNAME_RECOVERY", "true"),
        ("SECURITY_CHANGE_EMAIL", "true"),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email,authenticator"),
        ("SECURITY_TWO_FACTOR_RESCUE_MAIL", "support@example.com"),
        ("SECURITY_MULTI_FACTOR_RECOVERY_CODES", "true"),
        ("SECURITY_TOTP_SECRETS", "browser-test-totp-secret"),
        ("SECURITY_UNIFIED_SIGNIN", "true"),
        (
            "SECURITY_US_ENABLED_METHODS",
            "password,email,authenticator",
        ),
        ("SECURITY_WEBAUTHN", "true"),
        ("SECURITY_WAN_REGISTER_WITHOUT_PASSWORD", "true"),
    ])
    .await;
    let owner = common::new_email("every-page-admin");
    let member = common::new_email("every-page-member");
    let throttled = common::new_email("every-page-throttled");
    for email in [&owner, &member, &throttled] {
        app.create_user(email, PASSWORD).await;
        app.set_confirmed(email);
    }
    {
        use latchkey::db::roles;
        let mut conn = app.db();
        let role = roles::create(&mut conn, "admin", None).unwrap().unwrap();
        roles::add_to_user(&mut conn, app.user(&owner).id, role.id).unwrap();
    }
    app.set_premium(&owner, true);
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let laptop = add_virtual_authenticator(&b.client).await;
    let mut problems = Vec::new();

    // Anonymous.
    b.goto("/login").await;
    for (page, path, lands_on) in [
        ("login", "/login", None),
        ("register", "/register", None),
        ("forgot-password", "/reset", None),
        ("forgot-username", "/recover-username", None),
        ("send-confirmation", "/confirm", None),
        ("code-signin", "/us-signin", None),
        ("passkey-signin", "/wan-signin", None),
        ("passkey-signup", "/wan-signup", None),
        ("reset-bad-link", "/reset/not-a-token", Some("/reset")),
        ("confirm-bad-link", "/confirm/not-a-token", Some("/confirm")),
        ("error-404", "/no-such-page", None),
        ("error-405", "/sessions/revoke", None),
        ("logout-signed-out", "/logout", None),
        (
            "code-link-bad",
            "/us-verify-link?id=nobody&code=123456",
            None,
        ),
    ] {
        b.check_path(page, path, lands_on, &mut problems).await;
    }
    for lang in LANGUAGES {
        b.set_language(lang).await;
        b.login(&member, "not-the-password", false).await;
        b.assert_path("/login", "a refused login").await;
        assert!(
            b.client.find(Locator::Css(".fs-error-msg")).await.is_ok(),
            "field errors shown"
        );
        b.check_page("login-errors", lang, &mut problems).await;

        b.goto("/register").await;
        b.fill("register_user_form", "email", &member).await;
        b.fill("register_user_form", "password", "short").await;
        b.fill("register_user_form", "password_confirm", "other")
            .await;
        b.submit("register_user_form").await;
        b.assert_path("/register", "a refused registration").await;
        assert!(
            b.client.find(Locator::Css(".fs-error-msg")).await.is_ok(),
            "field errors shown"
        );
        b.check_page("register-errors", lang, &mut problems).await;

        b.goto("/us-signin").await;
        b.fill("us_signin_form", "identity", &member).await;
        b.click_through("button[name=\"submit_send_code\"]").await;
        b.check_page("code-signin-send-code", lang, &mut problems)
            .await;

        b.goto("/reset").await;
        b.fill("forgot_password_form", "email", &owner).await;
        b.submit("forgot_password_form").await;
        b.client
            .find(Locator::Css(".check-email"))
            .await
            .expect("the check-email card");
        b.check_page("check-email", lang, &mut problems).await;

        // A form sent after its session ended (the cookies gone): the 400 sends the browser
        // back to the form, under "Your session expired".
        b.goto("/recover-username").await;
        b.client.delete_all_cookies().await.expect("clear cookies");
        b.set_language(lang).await;
        b.fill("username_recovery_form", "email", &member).await;
        b.submit("username_recovery_form").await;
        b.assert_path("/recover-username", "the form, shown again")
            .await;
        b.client
            .find(Locator::Css(".flash"))
            .await
            .expect("the expired-session message");
        b.check_page("expired-form", lang, &mut problems).await;
    }
    // A fresh link (asking in German replaced the first one, in a German mail).
    b.set_language("en").await;
    b.goto("/reset").await;
    b.fill("forgot_password_form", "email", &owner).await;
    b.submit("forgot_password_form").await;
    let mail = wait_for_eml(&app.mail_dir, &owner, "Password reset instructions", 2).await;
    b.check_path(
        "reset-password",
        &mail[1].link_path("/reset/"),
        None,
        &mut problems,
    )
    .await;

    // Signed in, with every feature on.
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.login(&owner, PASSWORD, false).await;
    assert!(b.logged_in_as(&owner).await, "signed in");
    b.add_passkey("Laptop", "usage-first").await;
    // A second device for the second passkey (an authenticator makes one per account).
    b.client
        .issue_cmd(RemoveVirtualAuthenticator {
            authenticator: laptop,
        })
        .await
        .expect("remove the first authenticator");
    let _security_key = add_virtual_authenticator(&b.client).await;
    b.add_passkey("Security key", "usage-secondary").await;
    for (page, path) in [
        ("home", "/"),
        ("account", "/profile"),
        ("change-password", "/change"),
        ("change-email", "/change-email"),
        ("change-username", "/change-username"),
        ("sessions", "/sessions"),
        ("passkeys", "/wan-register"),
        ("code-signin-setup", "/us-setup"),
        ("verify", "/verify"),
        ("code-verify", "/us-verify"),
        ("passkey-verify", "/wan-verify"),
        ("admin", "/admin"),
        ("premium", "/premium"),
        ("logout", "/logout"),
        ("two-factor-off", "/tf-setup"),
    ] {
        b.check_path(page, path, None, &mut problems).await;
    }
    // "Sign in with Latchkey": an app asks for consent, is listed, and asks to sign out.
    let grafana = {
        use latchkey::auth::login::ClientInfo;
        use latchkey::auth::oidc::clients::{self, NewClient};
        let new = NewClient {
            name: "Grafana".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/signed-out".into()],
            ..NewClient::default()
        };
        clients::create(&app.services(), new, &ClientInfo::default())
            .await
            .expect("a client")
            .client
            .client_id
    };
    let consent = format!(
        "/oidc/authorize?client_id={grafana}&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcallback\
         &response_type=code&scope=openid+email+profile&state=s1\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let sign_out = format!(
        "/oidc/logout?client_id={grafana}\
         &post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fsigned-out&state=s2"
    );
    for (page, path) in [
        ("app-consent", consent.as_str()),
        ("app-sign-out", sign_out.as_str()),
        ("apps", "/apps"),
    ] {
        b.check_path(page, path, None, &mut problems).await;
    }
    for (page, path, lands_on) in [
        (
            "change-email-bad-link",
            "/change-email/not-a-token",
            Some("/change-email"),
        ),
        (
            "change-email-revert-bad-link",
            "/change-email/revert/not-a-token",
            None,
        ),
    ] {
        b.check_path(page, path, lands_on, &mut problems).await;
    }
    for lang in LANGUAGES {
        b.set_language(lang).await;
        b.goto("/us-setup").await;
        b.client
            .find(Locator::Css("label[for=\"chosen_method-email\"]"))
            .await
            .expect("the email choice")
            .click()
            .await
            .expect("choose email");
        b.submit("us_setup_form").await;
        b.client
            .find(Locator::Css("form[name=\"us_setup_validate_form\"]"))
            .await
            .expect("the code form");
        b.check_page("code-signin-setup-code", lang, &mut problems)
            .await;
    }
    let mut key = String::new();
    for lang in LANGUAGES {
        b.set_language(lang).await;
        b.goto("/tf-setup").await;
        b.client
            .find(Locator::Css("label[for=\"setup-authenticator\"]"))
            .await
            .expect("the authenticator choice")
            .click()
            .await
            .expect("choose the authenticator");
        b.submit("two_factor_setup_form").await;
        key = b.text("#authenticator-key").await;
        b.check_page("two-factor-setup", lang, &mut problems).await;
    }
    // Two-factor on, with the key of the last setup page.
    let secret = latchkey::auth::totp::TotpSecret::from_base32(&key).expect("a base32 key");
    let now = chrono::Utc::now().timestamp() as u64;
    let setup_code = latchkey::auth::totp::code_at(&secret, now - 30);
    b.fill("two_factor_verify_code_form", "code", &setup_code)
        .await;
    b.submit("two_factor_verify_code_form").await;
    b.check_path("two-factor-on", "/tf-setup", None, &mut problems)
        .await;
    b.check_path("recovery-codes", "/mf-recovery-codes", None, &mut problems)
        .await;
    for lang in LANGUAGES {
        b.set_language(lang).await;
        b.goto("/mf-recovery-codes").await;
        // Asked only when there are codes to replace (from the first language's round).
        if let Ok(replace) = b
            .client
            .find(Locator::Css("label[for=\"replace_codes\"]"))
            .await
        {
            replace.click().await.expect("tick the confirmation box");
        }
        b.submit("mf_recovery_codes_form").await;
        b.client
            .find(Locator::Css("#recovery-codes"))
            .await
            .expect("the new codes");
        b.check_page("recovery-codes-new", lang, &mut problems)
            .await;
    }

    // The second step of a sign-in.
    b.log_out(&owner).await;
    b.login(&owner, PASSWORD, false).await;
    b.assert_path("/tf-validate", "after the password").await;
    b.check_path("two-factor-code", "/tf-validate", None, &mut problems)
        .await;
    b.check_path("two-factor-help", "/tf-rescue", None, &mut problems)
        .await;
    b.check_path("recovery-code-signin", "/mf-recovery", None, &mut problems)
        .await;
    for lang in LANGUAGES {
        b.set_language(lang).await;
        b.goto("/tf-validate").await;
        b.fill("two_factor_verify_code_form", "code", "000000")
            .await;
        b.submit("two_factor_verify_code_form").await;
        b.assert_path("/tf-validate", "a wrong code").await;
        b.check_page("two-factor-code-wrong", lang, &mut problems)
            .await;
    }
    // Two second factors (the authenticator, the second-factor passkey): the other ones.
    b.check_path("two-factor-choice", "/tf-select", None, &mut problems)
        .await;
    b.check_path("passkey-second-factor", "/wan-signin", None, &mut problems)
        .await;

    // A member who is not an admin.
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.login(&member, PASSWORD, false).await;
    assert!(b.logged_in_as(&member).await, "signed in");
    b.check_path("error-403", "/admin", None, &mut problems)
        .await;

    // Too many attempts.
    b.client.delete_all_cookies().await.expect("clear cookies");
    for lang in LANGUAGES {
        b.set_language(lang).await;
        let mut attempts = 0;
        loop {
            b.login(&throttled, "not-the-password", false).await;
            if b.client.find(Locator::Css(".error-page")).await.is_ok() {
                break;
            }
            attempts += 1;
            assert!(attempts < 10, "the login throttle did not answer");
        }
        assert!(
            b.text(".error-code").await.contains("429"),
            "{}",
            b.body_text().await
        );
        b.check_page("error-429", lang, &mut problems).await;
    }

    b.close().await;
    drop(driver);
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    eprintln!(
        "every page checked in {:.0?}: screenshots in {}",
        started.elapsed(),
        screenshot_dir().display()
    );
}

/// Social login through `oidc-provider-mock`'s own authorize page: the "Continue with acme"
/// button on /login, the provider's form filled in as a person would, and back signed in
/// (the identity linked by its verified address to the confirmed account). The app is on
/// `localhost` and the provider on `127.0.0.1`: both are Flask-style apps with a cookie
/// called `session`, which a browser keeps per host, not per port.
#[actix_web::test]
async fn sign_in_through_the_providers_own_page() {
    let provider = common::oidc::Provider::start().await;
    let metadata = provider.metadata_url();
    let app = spawn_app_on_localhost(&[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", "latchkey-browser"),
        ("ACME_CLIENT_SECRET", "latchkey-browser-secret"),
        ("ACME_SERVER_METADATA_URL", &metadata),
        ("SECURITY_CONFIRMABLE", "true"),
    ])
    .await;
    let email = common::new_email("browser-oauth");
    app.create_user(&email, PASSWORD).await;
    app.set_confirmed(&email);
    let sub = format!("browser-{}", common::random_hex(4));
    provider
        .set_user(&sub, json!({"email": email, "email_verified": true}))
        .await;

    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    b.goto("/login").await;
    b.click_through("form[action=\"/login/oauthstart/acme\"] button[type=submit]")
        .await;
    let at = b.client.current_url().await.expect("current url");
    assert!(
        at.as_str().starts_with(&provider.base),
        "on the provider's page: {at}"
    );
    let field = b
        .client
        .find(Locator::Css("input[name=\"sub\"]"))
        .await
        .expect("the provider's sub field");
    field.send_keys(&sub).await.expect("type the subject");
    // Its Authorize button (the other forms' buttons are named: deny, known subjects).
    b.click_through("form[method=\"post\"] button[type=submit]:not([name])")
        .await;
    b.assert_path("/", "back from the provider").await;
    assert!(
        b.logged_in_as(&email).await,
        "signed in through the provider"
    );
    let page = b.body_text().await;
    assert!(
        page.contains("acme"),
        "the account page lists the identity: {page}"
    );

    b.close().await;
    drop(driver);
}

/// An app's server on a port of its own (`http://127.0.0.1:<port>`): every path answers 200
/// with a short page, so the browser can be seen to arrive there.
fn serve_an_app() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the app");
    let port = listener.local_addr().expect("its address").port();
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().default_service(actix_web::web::to(|| async {
            actix_web::HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .body("<!doctype html><title>App</title><p>The app</p>")
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    port
}

/// "Sign in with Latchkey" in Chromium, which enforces the pages' `form-action` on the
/// redirects that follow a form: an app sends the person to Latchkey, they sign in with the
/// login form, click "Allow" on the consent page and arrive at the app with a code; the next
/// time (the consent remembered) the login form's answer goes straight on to the app.
#[actix_web::test]
async fn an_app_signs_a_person_in_through_latchkey_in_chromium() {
    use latchkey::auth::login::ClientInfo;
    use latchkey::auth::oidc::clients::{self, NewClient};
    let app = spawn_app_on_localhost(&[]).await;
    let port = serve_an_app();
    let callback = format!("http://127.0.0.1:{port}/callback");
    let new = NewClient {
        name: "Grafana".into(),
        redirect_uris: vec![callback.clone()],
        ..NewClient::default()
    };
    let client_id = clients::create(&app.services(), new, &ClientInfo::default())
        .await
        .expect("a client")
        .client
        .client_id;
    let email = common::new_email("oidc-browser");
    app.create_user(&email, PASSWORD).await;
    let authorize = format!(
        "/oidc/authorize?client_id={client_id}&redirect_uri={}&response_type=code\
         &scope=openid+email&state=s1\
         &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(callback.as_bytes()).collect::<String>()
    );
    let (driver, client) = ChromeDriver::launch().await;
    let b = Browser { client, app: &app };
    let at_the_app = |url: url::Url| url.as_str().starts_with(&format!("{callback}?code="));

    b.goto(&authorize).await;
    b.assert_path("/login", "nobody signed in: the login page")
        .await;
    b.fill("login_user_form", "email", &email).await;
    b.fill("login_user_form", "password", PASSWORD).await;
    b.submit("login_user_form").await;
    b.assert_path("/oidc/authorize", "the consent page").await;
    assert!(b.body_text().await.contains("Grafana"), "the app is named");
    b.click_through("form[name=\"oidc_consent_form\"] button[value=\"allow\"]")
        .await;
    let url = b.client.current_url().await.expect("current url");
    assert!(at_the_app(url.clone()), "at the app with a code: {url}");

    // Signed out (Latchkey's cookies cleared on its own origin), and back through the app:
    // the consent is remembered.
    b.goto("/").await;
    b.client.delete_all_cookies().await.expect("clear cookies");
    b.goto(&authorize).await;
    b.assert_path("/login", "signed out: the login page").await;
    b.fill("login_user_form", "email", &email).await;
    b.fill("login_user_form", "password", PASSWORD).await;
    b.submit("login_user_form").await;
    let url = b.client.current_url().await.expect("current url");
    assert!(at_the_app(url.clone()), "straight on to the app: {url}");

    b.close().await;
    drop(driver);
}

// ---------------------------------------------------------------------------------------
// A single-page app on another origin (examples/spa)
// ---------------------------------------------------------------------------------------

/// Serves `examples/spa/index.html` at every path of a port of its own: the app's origin,
/// `http://localhost:<port>`, another than Latchkey's.
fn serve_the_example_spa() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port for the SPA");
    let port = listener.local_addr().expect("its address").port();
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/spa/index.html"),
    )
    .expect("examples/spa/index.html");
    let server = actix_web::HttpServer::new(move || {
        let page = page.clone();
        actix_web::App::new().default_service(actix_web::web::to(move || {
            let page = page.clone();
            async move {
                actix_web::HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(page)
            }
        }))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    actix_web::rt::spawn(server);
    port
}

/// The six-digit code in the `n`-th "Two-Factor Login" mail to `email`.
async fn mailed_six_digits(app: &TestApp, email: &str, n: usize) -> String {
    let mails = wait_for_eml(&app.mail_dir, email, "Two-Factor Login", n).await;
    let text = mails[n - 1].part("text/plain").expect("a text part");
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned()
}

/// Waits (up to 20 s) until `css`'s text contains `expected`.
async fn wait_for_text(client: &Client, css: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            last = element.text().await.unwrap_or_default();
            if last.contains(expected) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{css:?} never said {expected:?} (last: {last:?}); page: {}",
        client.source().await.unwrap_or_default()
    );
}

/// Fills and sends one of the example's forms (`#register`, `#login`, `#tf`).
async fn spa_form(client: &Client, form: &str, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        client
            .find(Locator::Css(&format!("#{form} input[name=\"{name}\"]")))
            .await
            .unwrap_or_else(|e| panic!("#{form} {name}: {e}"))
            .send_keys(value)
            .await
            .expect("type");
    }
    client
        .find(Locator::Css(&format!("#{form} button[type=\"submit\"]")))
        .await
        .expect("the form's button")
        .click()
        .await
        .expect("send");
}

/// The example SPA (examples/spa), served from another origin than Latchkey's, registers,
/// is confirmed by the mailed link (SPA mode brings the browser back to it with the
/// outcome), logs in with a mailed second-factor code, calls a protected route and logs out, through the JSON API with CORS
/// answers, the XSRF-TOKEN cookie and the X-XSRF-Token header.
#[actix_web::test]
async fn a_single_page_app_on_another_origin_registers_confirms_and_logs_in() {
    let spa_port = serve_the_example_spa();
    let spa_host = format!("localhost:{spa_port}");
    let spa_origin = format!("http://{spa_host}");
    let app = spawn_app_on_localhost(&[
        ("SECURITY_REGISTERABLE", "true"),
        ("SECURITY_CONFIRMABLE", "true"),
        ("SECURITY_CSRF_COOKIE_NAME", "XSRF-TOKEN"),
        ("SECURITY_REDIRECT_BEHAVIOR", "spa"),
        ("SECURITY_REDIRECT_HOST", &spa_host),
        ("SECURITY_POST_CONFIRM_VIEW", "/"),
        ("SECURITY_CONFIRM_ERROR_VIEW", "/"),
        ("SECURITY_CORS_ALLOWED_ORIGINS", &spa_origin),
        ("SECURITY_TWO_FACTOR", "true"),
        ("SECURITY_TWO_FACTOR_ENABLED_METHODS", "email"),
        ("SECURITY_TOTP_SECRETS", "spa-example-totp-secret"),
    ])
    .await;
    let (driver, client) = ChromeDriver::launch().await;
    let ready = Locator::Css("body[data-ready=\"yes\"]");

    client
        .goto(&format!("{spa_origin}/?api={}", app.address))
        .await
        .expect("open the SPA");
    client
        .wait()
        .for_element(ready)
        .await
        .expect("the SPA starts");
    let email = common::new_email("spa-example");
    let account = [("email", email.as_str()), ("password", PASSWORD)];
    spa_form(&client, "register", &account).await;
    wait_for_text(&client, "#status", "check your email").await;

    let mails = wait_for_eml(&app.mail_dir, &email, "Welcome", 1).await;
    client
        .goto(&mails[0].link("/confirm/"))
        .await
        .expect("open the link");
    client
        .wait()
        .for_element(ready)
        .await
        .expect("back on the SPA");
    let url = client.current_url().await.expect("url");
    assert_eq!(
        url.port(),
        Some(spa_port),
        "the link leads back to the SPA: {url}"
    );
    wait_for_text(&client, "#message", "Your email has been confirmed").await;

    // The account turns on codes by mail (through the JSON API, from another client).
    let setup = app.logged_in_client(&email, PASSWORD, false).await;
    let r = setup
        .post_json_via("/tf-setup", "/tf-setup", &json!({"setup": "email"}))
        .await;
    let body: Value = r.json().await.expect("the setup's answer");
    let state = body["response"]["tf_state_token"]
        .as_str()
        .expect("a state");
    let code = mailed_six_digits(&app, &email, 1).await;
    let r = setup
        .post_json_via(
            "/tf-setup",
            &format!("/tf-setup/{state}"),
            &json!({"code": code}),
        )
        .await;
    assert!(r.status().is_success(), "the setup completes");

    spa_form(&client, "login", &account).await;
    wait_for_text(&client, "#status", "Enter the code (email)").await;
    let code = mailed_six_digits(&app, &email, 2).await;
    spa_form(&client, "tf", &[("code", &code)]).await;
    wait_for_text(&client, "#whoami", &email).await;
    let token = client
        .execute("return document.cookie", vec![])
        .await
        .expect("cookies");
    assert!(
        token.as_str().unwrap_or_default().contains("XSRF-TOKEN="),
        "the script reads the CSRF cookie: {token}"
    );

    client
        .find(Locator::Css("#logout"))
        .await
        .expect("the logout button")
        .click()
        .await
        .expect("log out");
    wait_for_text(&client, "#status", "Logged out.").await;
    wait_for_text(&client, "#whoami", "nobody").await;

    client.close().await.expect("close");
    drop(driver);
}
