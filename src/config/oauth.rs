//! Social login (`SECURITY_OAUTH_ENABLE`, `SECURITY_OAUTH_*`): Flask-Security's keys, and
//! each provider's client under authlib's names (`<NAME>_CLIENT_ID`, `<NAME>_CLIENT_SECRET`,
//! `<NAME>_SERVER_METADATA_URL`).

use std::time::Duration;

use super::secret::Secret;
use super::source::{ConfigError, Source};

/// Where Google publishes its OpenID Connect discovery document.
pub const GOOGLE_METADATA_URL: &str =
    "https://accounts.google.com/.well-known/openid-configuration";

/// The end of every discovery document's address (OpenID Connect Discovery 1.0, §4).
pub const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// GitHub's OAuth 2 endpoints (authlib's `authorize_url`, `access_token_url`,
/// `api_base_url`, as Flask-Security's `GitHubFsOauthProvider` registers them).
pub const GITHUB_AUTHORIZE_URL: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_ACCESS_TOKEN_URL: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_BASE_URL: &str = "https://api.github.com";

/// Social login's settings.
#[derive(Debug, Clone, Default)]
pub struct OAuthSettings {
    /// `SECURITY_OAUTH_ENABLE`.
    pub enabled: bool,
    /// The providers offered, built-ins first (`SECURITY_OAUTH_BUILTIN_PROVIDERS`), then
    /// `SECURITY_OAUTH_PROVIDERS`, in the order listed. Empty when social login is off.
    pub providers: Vec<OAuthProvider>,
    /// Where a social sign-in goes when no `next` was asked for
    /// (`SECURITY_POST_OAUTH_LOGIN_VIEW`; unset: the home page).
    pub post_login_view: Option<String>,
    /// Where a social re-authentication goes when no `next` was asked for
    /// (`SECURITY_POST_OAUTH_VERIFY_VIEW`; unset: the home page).
    pub post_verify_view: Option<String>,
    /// The longest wait for a provider's answer (discovery, keys, token):
    /// `SECURITY_OAUTH_HTTP_TIMEOUT`, seconds, 10 by default.
    pub http_timeout: Duration,
    /// Sign-up through a provider (`SECURITY_OAUTH_REGISTER`, off by default): an unknown
    /// identity whose provider asserts a verified address no account has makes an account
    /// (confirmed, no password). Also needs `SECURITY_REGISTERABLE`.
    pub register: bool,
}

impl OAuthSettings {
    /// The provider called `name`, if offered.
    pub fn provider(&self, name: &str) -> Option<&OAuthProvider> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The names of the providers offered, in order.
    pub fn provider_names(&self) -> Vec<String> {
        self.providers.iter().map(|p| p.name.clone()).collect()
    }

    /// The origins the login page's provider buttons lead to (through the start URL's
    /// redirect), which the pages' `form-action` must allow: a browser applies it to a form's
    /// redirects too. An OpenID Connect provider's is its issuer's (its discovered
    /// authorization endpoint is expected there), GitHub's its authorize URL's.
    pub fn form_action_origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = self
            .providers
            .iter()
            .filter_map(|p| {
                let url = match &p.kind {
                    ProviderKind::OpenIdConnect { issuer, .. } => issuer,
                    ProviderKind::GitHub { authorize_url, .. } => authorize_url,
                };
                let origin = url::Url::parse(url).ok()?.origin();
                origin.is_tuple().then(|| origin.ascii_serialization())
            })
            .collect();
        origins.sort_unstable();
        origins.dedup();
        origins
    }
}

/// One provider: its name (in the URLs), its client and how it is reached.
#[derive(Debug, Clone)]
pub struct OAuthProvider {
    pub name: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// How the provider is reached.
    pub kind: ProviderKind,
    /// The scopes asked for (OpenID Connect: always `openid` and `email`; GitHub:
    /// `read:user` and `user:email`).
    pub scopes: Vec<String>,
}

/// An OpenID Connect provider found by discovery, or GitHub (plain OAuth 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderKind {
    OpenIdConnect {
        /// The provider's discovery document (`<NAME>_SERVER_METADATA_URL`).
        metadata_url: String,
        /// The issuer the discovery document must name: the metadata URL without
        /// [`DISCOVERY_SUFFIX`].
        issuer: String,
    },
    /// GitHub: the person is `/user`'s `id`, the address `/user/emails`' primary verified
    /// one. The endpoints can be moved (`GITHUB_AUTHORIZE_URL`, `GITHUB_ACCESS_TOKEN_URL`,
    /// `GITHUB_API_BASE_URL`: authlib's names), e.g. for GitHub Enterprise Server or a fake.
    GitHub {
        authorize_url: String,
        access_token_url: String,
        api_base_url: String,
    },
}

pub(super) fn oauth(src: &Source) -> Result<OAuthSettings, ConfigError> {
    let post_login_view = local_view(src, "SECURITY_POST_OAUTH_LOGIN_VIEW")?;
    let post_verify_view = local_view(src, "SECURITY_POST_OAUTH_VERIFY_VIEW")?;
    let seconds: u64 = src.number("SECURITY_OAUTH_HTTP_TIMEOUT", 10)?;
    if !(1..=60).contains(&seconds) {
        return Err(ConfigError::new(
            "SECURITY_OAUTH_HTTP_TIMEOUT",
            "must be between 1 and 60 (seconds)",
        ));
    }
    let enabled = src.flag("SECURITY_OAUTH_ENABLE", false)?;
    let register = src.flag("SECURITY_OAUTH_REGISTER", false)?;
    let mut settings = OAuthSettings {
        enabled,
        providers: Vec::new(),
        post_login_view,
        post_verify_view,
        http_timeout: Duration::from_secs(seconds),
        register,
    };
    if !enabled {
        return Ok(settings);
    }
    let builtins = if src.is_set_empty("SECURITY_OAUTH_BUILTIN_PROVIDERS") {
        Vec::new()
    } else {
        src.list("SECURITY_OAUTH_BUILTIN_PROVIDERS", "github,google")
    };
    for name in builtins {
        let provider = match name.as_str() {
            "google" => provider(src, "google", Some(GOOGLE_METADATA_URL), "profile")?,
            "github" => github(src)?,
            other => {
                return Err(ConfigError::new(
                    "SECURITY_OAUTH_BUILTIN_PROVIDERS",
                    format!(
                        "expected github and/or google, got {other:?} (name other OpenID \
                         Connect providers in SECURITY_OAUTH_PROVIDERS)"
                    ),
                ))
            }
        };
        settings.providers.push(provider);
    }
    for name in src.list("SECURITY_OAUTH_PROVIDERS", "") {
        let name = name.to_ascii_lowercase();
        let provider = provider(src, &name, None, "")?;
        settings.providers.push(provider);
    }
    let mut names = settings.provider_names();
    names.sort_unstable();
    if let Some(twice) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ConfigError::new(
            "SECURITY_OAUTH_PROVIDERS",
            format!("names the provider {:?} twice", twice[0]),
        ));
    }
    Ok(settings)
}

/// GitHub's client (`GITHUB_CLIENT_ID`, `GITHUB_CLIENT_SECRET`) and endpoints.
fn github(src: &Source) -> Result<OAuthProvider, ConfigError> {
    let url = |key: &str, default: &str| -> Result<String, ConfigError> {
        let value = src.get(key).unwrap_or(default).trim_end_matches('/');
        if value.starts_with("https://") || value.starts_with("http://") {
            Ok(value.to_owned())
        } else {
            Err(ConfigError::new(
                key,
                format!("expected a URL, got {value:?}"),
            ))
        }
    };
    Ok(OAuthProvider {
        name: "github".to_owned(),
        client_id: src.required("GITHUB_CLIENT_ID")?.to_owned(),
        client_secret: Secret::new(src.required("GITHUB_CLIENT_SECRET")?),
        kind: ProviderKind::GitHub {
            authorize_url: url("GITHUB_AUTHORIZE_URL", GITHUB_AUTHORIZE_URL)?,
            access_token_url: url("GITHUB_ACCESS_TOKEN_URL", GITHUB_ACCESS_TOKEN_URL)?,
            api_base_url: url("GITHUB_API_BASE_URL", GITHUB_API_BASE_URL)?,
        },
        scopes: vec!["read:user".to_owned(), "user:email".to_owned()],
    })
}

/// A provider's client from its keys (`<NAME>_CLIENT_ID`, …). `default_metadata`: a
/// built-in's discovery document; `extra_scope`: a scope asked for besides `openid email`.
fn provider(
    src: &Source,
    name: &str,
    default_metadata: Option<&str>,
    extra_scope: &str,
) -> Result<OAuthProvider, ConfigError> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        return Err(ConfigError::new(
            "SECURITY_OAUTH_PROVIDERS",
            format!(
                "a provider's name is 1 to 32 of a-z, 0-9, _ and - (it is part of its URLs), \
                 got {name:?}"
            ),
        ));
    }
    let prefix = name.to_ascii_uppercase().replace('-', "_");
    let id_key = format!("{prefix}_CLIENT_ID");
    let secret_key = format!("{prefix}_CLIENT_SECRET");
    let metadata_key = format!("{prefix}_SERVER_METADATA_URL");
    let client_id = src.required(&id_key)?.to_owned();
    let client_secret = Secret::new(src.required(&secret_key)?);
    let metadata_url = match (src.get(&metadata_key), default_metadata) {
        (Some(url), _) => url.to_owned(),
        (None, Some(url)) => url.to_owned(),
        (None, None) => src.required(&metadata_key)?.to_owned(),
    };
    let issuer = metadata_url
        .strip_suffix(DISCOVERY_SUFFIX)
        .filter(|issuer| issuer.starts_with("https://") || issuer.starts_with("http://"))
        .ok_or_else(|| {
            ConfigError::new(
                &metadata_key,
                format!(
                    "expected the provider's discovery document, \
                     https://<issuer>{DISCOVERY_SUFFIX}, got {metadata_url:?}"
                ),
            )
        })?
        .to_owned();
    let mut scopes = vec!["openid".to_owned(), "email".to_owned()];
    if !extra_scope.is_empty() {
        scopes.push(extra_scope.to_owned());
    }
    Ok(OAuthProvider {
        name: name.to_owned(),
        client_id,
        client_secret,
        kind: ProviderKind::OpenIdConnect {
            metadata_url,
            issuer,
        },
        scopes,
    })
}

/// A `SECURITY_POST_OAUTH_*_VIEW`: a path of this site.
fn local_view(src: &Source, key: &str) -> Result<Option<String>, ConfigError> {
    match src.get(key) {
        None => Ok(None),
        Some(view) if view.starts_with('/') && !view.starts_with("//") && !view.contains('\\') => {
            Ok(Some(view.to_owned()))
        }
        Some(view) => Err(ConfigError::new(
            key,
            format!("expected a path of this site such as /profile, got {view:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&'static str, &'static str)]) -> Result<OAuthSettings, ConfigError> {
        oauth(&Source::from_pairs(pairs.iter().copied()))
    }

    const ACME: &[(&str, &str)] = &[
        ("SECURITY_OAUTH_ENABLE", "true"),
        ("SECURITY_OAUTH_BUILTIN_PROVIDERS", ""),
        ("SECURITY_OAUTH_PROVIDERS", "acme"),
        ("ACME_CLIENT_ID", "client"),
        ("ACME_CLIENT_SECRET", "secret"),
        (
            "ACME_SERVER_METADATA_URL",
            "http://localhost:9400/.well-known/openid-configuration",
        ),
    ];

    #[test]
    fn off_by_default_and_a_provider_by_discovery_when_on() {
        let off = read(&[]).unwrap();
        assert!(!off.enabled && off.providers.is_empty());
        assert!(
            !off.register,
            "sign-up through a provider is off by default"
        );
        let on = read(ACME).unwrap();
        assert_eq!(on.provider_names(), ["acme"]);
        let acme = on.provider("acme").unwrap();
        assert_eq!(
            acme.kind,
            ProviderKind::OpenIdConnect {
                metadata_url: "http://localhost:9400/.well-known/openid-configuration".to_owned(),
                issuer: "http://localhost:9400".to_owned(),
            }
        );
        assert_eq!(acme.client_id, "client");
        assert_eq!(acme.scopes, ["openid", "email"]);
        assert_eq!(on.form_action_origins(), ["http://localhost:9400"]);
        let mut signup = ACME.to_vec();
        signup.push(("SECURITY_OAUTH_REGISTER", "true"));
        assert!(read(&signup).unwrap().register);
        assert!(
            !format!("{acme:?}").contains("secret\""),
            "the secret is redacted"
        );
    }

    #[test]
    fn google_is_a_built_in_found_by_discovery() {
        let s = read(&[
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "google"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "s"),
        ])
        .unwrap();
        let google = s.provider("google").unwrap();
        assert_eq!(
            google.kind,
            ProviderKind::OpenIdConnect {
                metadata_url: GOOGLE_METADATA_URL.to_owned(),
                issuer: "https://accounts.google.com".to_owned(),
            }
        );
        assert_eq!(google.scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn github_is_a_built_in_with_its_endpoints_movable() {
        let s = read(&[
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET", "s"),
            ("GOOGLE_CLIENT_ID", "g"),
            ("GOOGLE_CLIENT_SECRET", "s"),
        ])
        .unwrap();
        assert_eq!(
            s.provider_names(),
            ["github", "google"],
            "the default built-ins"
        );
        let github = s.provider("github").unwrap();
        assert_eq!(
            github.kind,
            ProviderKind::GitHub {
                authorize_url: GITHUB_AUTHORIZE_URL.to_owned(),
                access_token_url: GITHUB_ACCESS_TOKEN_URL.to_owned(),
                api_base_url: GITHUB_API_BASE_URL.to_owned(),
            }
        );
        assert_eq!(github.scopes, ["read:user", "user:email"]);
        let moved = read(&[
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "github"),
            ("GITHUB_CLIENT_ID", "gh"),
            ("GITHUB_CLIENT_SECRET", "s"),
            ("GITHUB_API_BASE_URL", "http://127.0.0.1:9500/api/"),
        ])
        .unwrap();
        match &moved.provider("github").unwrap().kind {
            ProviderKind::GitHub { api_base_url, .. } => {
                assert_eq!(api_base_url, "http://127.0.0.1:9500/api")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn what_cannot_work_names_its_key() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = ACME.to_vec();
            pairs.extend_from_slice(extra);
            read(&pairs).unwrap_err().key
        };
        assert_eq!(
            with(&[("ACME_SERVER_METADATA_URL", "http://localhost:9400/")]),
            "ACME_SERVER_METADATA_URL"
        );
        assert_eq!(with(&[("ACME_CLIENT_ID", "")]), "ACME_CLIENT_ID");
        assert_eq!(
            with(&[("SECURITY_OAUTH_PROVIDERS", "acme,acme")]),
            "SECURITY_OAUTH_PROVIDERS"
        );
        assert_eq!(
            with(&[("SECURITY_OAUTH_PROVIDERS", "a/b")]),
            "SECURITY_OAUTH_PROVIDERS"
        );
        assert_eq!(
            with(&[("SECURITY_POST_OAUTH_LOGIN_VIEW", "https://evil.example")]),
            "SECURITY_POST_OAUTH_LOGIN_VIEW"
        );
        // The built-ins by default: google needs its client.
        assert_eq!(
            with(&[("SECURITY_OAUTH_BUILTIN_PROVIDERS", "google")]),
            "GOOGLE_CLIENT_ID"
        );
        assert_eq!(
            with(&[("SECURITY_OAUTH_BUILTIN_PROVIDERS", "github")]),
            "GITHUB_CLIENT_ID"
        );
        assert_eq!(
            with(&[("SECURITY_OAUTH_BUILTIN_PROVIDERS", "gitlab")]),
            "SECURITY_OAUTH_BUILTIN_PROVIDERS"
        );
        let s = read(&[("SECURITY_POST_OAUTH_LOGIN_VIEW", "/profile")]).unwrap();
        assert_eq!(s.post_login_view.as_deref(), Some("/profile"));
    }
}
