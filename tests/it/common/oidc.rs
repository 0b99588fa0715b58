//! `oidc-provider-mock` (PyPI, pinned), a real OpenID Connect provider started per test on
//! loopback as a subprocess: it serves discovery and JWKS, signs real ID tokens, takes a
//! user's claims by `PUT /users/<sub>` and the approving subject by its authorize form's `sub`
//! field. Its Python lives in a virtualenv of its own, made once ([`python`]); a missing
//! Python or provider fails the tests, it never skips them. Used by tests/it/social_login.rs
//! and the browser test of social login.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use url::Url;

use super::location;

/// `oidc-provider-mock`'s package, pinned: the virtualenv is remade when this changes.
pub const REQUIREMENT: &str = "oidc-provider-mock==0.3.4";

/// The provider's Python: `~/.cache/latchkey-oidc-venv` (or `$OIDC_VENV`), made or brought
/// up to date once per process (a stamp of [`REQUIREMENT`]'s SHA-256 beside it; see
/// [`super::venv`]).
pub fn python() -> PathBuf {
    super::venv(
        &super::venv_dir("OIDC_VENV", "latchkey-oidc-venv"),
        super::Requirements::Pinned(REQUIREMENT),
    )
}

/// A running `oidc-provider-mock`, stopped when dropped.
pub struct Provider {
    child: Child,
    /// `http://127.0.0.1:<port>`: its issuer.
    pub base: String,
    http: reqwest::Client,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    /// Starts the provider on a free loopback port and waits for its discovery document.
    pub async fn start() -> Self {
        let python = tokio::task::spawn_blocking(python)
            .await
            .expect("the virtualenv");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|probe| probe.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(python)
            .args(["-m", "oidc_provider_mock", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start oidc-provider-mock");
        let provider = Provider {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
        };
        let started = Instant::now();
        loop {
            let answer = provider.http.get(provider.metadata_url()).send().await;
            if answer.is_ok_and(|r| r.status() == StatusCode::OK) {
                return provider;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "oidc-provider-mock did not answer on {}",
                provider.base
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.base)
    }

    /// Sets the claims the provider gives `sub`.
    pub async fn set_user(&self, sub: &str, claims: Value) {
        let r = self
            .http
            .put(format!("{}/users/{sub}", self.base))
            .json(&claims)
            .send()
            .await
            .expect("PUT /users");
        assert!(r.status().is_success(), "PUT /users/{sub}: {}", r.status());
    }

    /// Approves (or denies) the authorization request at `authorize_url` as `sub`: the
    /// provider's redirect back to the app.
    pub async fn approve(&self, authorize_url: &str, sub: &str, deny: bool) -> Url {
        let mut form = vec![("sub", sub)];
        if deny {
            form.push(("action", "deny"));
        }
        let r = self
            .http
            .post(authorize_url)
            .form(&form)
            .send()
            .await
            .expect("POST the authorize form");
        let back = location(&r).unwrap_or_else(|| panic!("the provider answered {}", r.status()));
        Url::parse(&back).expect("an absolute redirect back")
    }
}
