//! The OpenID Connect client: every protocol step is the `openidconnect` crate's (discovery,
//! the authorization URL with PKCE S256, the code exchange, and the ID token's checks:
//! signature from the provider's JWKS, issuer, audience, expiry, nonce). This module only
//! keeps the discovered documents for a while and says what went wrong, never with a code or
//! a token in it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use crate::config::{OAuthProvider, ProviderKind};

/// How long a provider's discovery document (and its keys) is reused.
pub const METADATA_TTL: Duration = Duration::from_secs(600);

/// Why a round trip with the provider failed, in OAuth's words (`error`, `description`):
/// what Flask-Security's `OAUTH_HANDSHAKE_ERROR` message shows. Never a code or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct Handshake {
    pub error: String,
    pub description: String,
}

impl Handshake {
    pub fn new(error: &str, description: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            description: description.into(),
        }
    }
}

/// What a verified ID token says about the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// `sub`: the provider's stable name for them.
    pub subject: String,
    /// `email`, if given.
    pub email: Option<String>,
    /// `email_verified`: only `Some(true)` lets the address link an account.
    pub email_verified: Option<bool>,
}

/// An authorization request about to be sent: the URL, and the secrets the browser's
/// session keeps until the provider sends it back.
#[derive(Debug)]
pub struct Authorization {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The clients of the configured providers, their discovery documents fetched when first
/// needed (not at start-up: a provider that is down must not stop the site) and kept for
/// [`METADATA_TTL`]. Cheap to clone.
#[derive(Clone)]
pub struct Providers {
    http: Option<openidconnect::reqwest::Client>,
    discovered: Arc<Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>>,
}

impl Providers {
    /// The HTTP client waits at most `timeout` for a provider; it follows no redirects
    /// (the crate's advice against SSRF). `None` if no client can be built (no TLS roots):
    /// every round trip is then a handshake error, logged.
    pub fn new(timeout: Duration) -> Self {
        let http = openidconnect::reqwest::ClientBuilder::new()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .build();
        let http = match http {
            Ok(http) => Some(http),
            Err(e) => {
                tracing::error!(error = %e, "social login: cannot build the HTTP client");
                None
            }
        };
        Self {
            http,
            discovered: Arc::default(),
        }
    }

    fn http(&self) -> Result<&openidconnect::reqwest::Client, Handshake> {
        self.http
            .as_ref()
            .ok_or_else(|| Handshake::new("client_error", "no HTTP client"))
    }

    /// The provider's discovery document (and keys), fetched or reused.
    async fn metadata(
        &self,
        provider: &OAuthProvider,
        issuer: &str,
    ) -> Result<CoreProviderMetadata, Handshake> {
        if let Ok(cache) = self.discovered.lock() {
            if let Some((at, metadata)) = cache.get(&provider.name) {
                if at.elapsed() < METADATA_TTL {
                    return Ok(metadata.clone());
                }
            }
        }
        let issuer = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| Handshake::new("configuration", e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, self.http()?)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %provider.name, error = %e,
                    "social login: discovery failed");
                Handshake::new("discovery_failed", describe(&e))
            })?;
        if let Ok(mut cache) = self.discovered.lock() {
            cache.insert(provider.name.clone(), (Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    /// Forgets a provider's document (its keys may have rotated).
    fn forget(&self, provider: &OAuthProvider) {
        if let Ok(mut cache) = self.discovered.lock() {
            cache.remove(&provider.name);
        }
    }

    async fn client(
        &self,
        provider: &OAuthProvider,
        issuer: &str,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        Handshake,
    > {
        let metadata = self.metadata(provider, issuer).await?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| Handshake::new("configuration", e.to_string()))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.client_id.clone()),
            Some(ClientSecret::new(
                provider.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// The authorization request: code flow, the provider's scopes, a random `state` and
    /// `nonce`, and a PKCE S256 challenge.
    pub async fn authorize(
        &self,
        provider: &OAuthProvider,
        redirect_uri: &str,
    ) -> Result<Authorization, Handshake> {
        let issuer = match &provider.kind {
            ProviderKind::OpenIdConnect { issuer, .. } => issuer,
            ProviderKind::GitHub { authorize_url, .. } => {
                return github_authorization(provider, authorize_url, redirect_uri)
            }
        };
        let client = self.client(provider, issuer, redirect_uri).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in provider.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Ok(Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges `code` (with the PKCE verifier) for tokens and verifies the ID token
    /// against `nonce`; its claims.
    pub async fn exchange(
        &self,
        provider: &OAuthProvider,
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<Claims, Handshake> {
        let issuer = match &provider.kind {
            ProviderKind::OpenIdConnect { issuer, .. } => issuer,
            ProviderKind::GitHub {
                access_token_url,
                api_base_url,
                ..
            } => {
                let endpoints = (access_token_url.as_str(), api_base_url.as_str());
                return self
                    .github_identity(provider, endpoints, redirect_uri, code, pkce_verifier)
                    .await;
            }
        };
        let client = self.client(provider, issuer, redirect_uri).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Handshake::new("configuration", e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = request.request_async(self.http()?).await.map_err(|e| {
            tracing::warn!(provider = %provider.name, error = %describe(&e),
                "social login: the code exchange failed");
            token_error(&e)
        })?;
        let id_token = response
            .id_token()
            .ok_or_else(|| Handshake::new("invalid_response", "no ID token"))?;
        let verifier = client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .map_err(|e| {
                // A signing key the cached document lacks: fetch it again next time.
                self.forget(provider);
                tracing::warn!(provider = %provider.name, error = %e,
                    "social login: ID token refused");
                Handshake::new("invalid_id_token", e.to_string())
            })?;
        Ok(Claims {
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified(),
        })
    }
}

impl Providers {
    /// GitHub, plain OAuth 2: the code exchanged (with the PKCE verifier) at
    /// `endpoints.0`, then the person read from the API at `endpoints.1`: `/user`'s `id` is
    /// the subject, `/user/emails`' primary verified address the email (GitHub has no ID
    /// token; its `/user` `email` is whatever the profile shows, never used).
    async fn github_identity(
        &self,
        provider: &OAuthProvider,
        endpoints: (&str, &str),
        redirect_uri: &str,
        code: &str,
        pkce_verifier: &str,
    ) -> Result<Claims, Handshake> {
        use oauth2::TokenResponse as _;
        let (token_url, api) = endpoints;
        let configuration =
            |e: &dyn std::fmt::Display| Handshake::new("configuration", e.to_string());
        let client =
            oauth2::basic::BasicClient::new(oauth2::ClientId::new(provider.client_id.clone()))
                .set_client_secret(oauth2::ClientSecret::new(
                    provider.client_secret.expose().to_owned(),
                ))
                .set_token_uri(
                    oauth2::TokenUrl::new(token_url.to_owned()).map_err(|e| configuration(&e))?,
                )
                .set_redirect_uri(
                    oauth2::RedirectUrl::new(redirect_uri.to_owned())
                        .map_err(|e| configuration(&e))?,
                );
        let response = client
            .exchange_code(oauth2::AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(oauth2::PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(self.http()?)
            .await
            .map_err(|e| {
                tracing::warn!(provider = %provider.name, error = %describe(&e),
                    "social login: the code exchange failed");
                token_error(&e)
            })?;
        let token = response.access_token().secret();
        let user: GitHubUser = self
            .github_get(provider, &format!("{api}/user"), token)
            .await?;
        let emails: Vec<GitHubEmail> = self
            .github_get(provider, &format!("{api}/user/emails"), token)
            .await?;
        Ok(github_claims(user, &emails))
    }

    /// A GET of GitHub's API with the access token, its JSON answer.
    async fn github_get<T: serde::de::DeserializeOwned>(
        &self,
        provider: &OAuthProvider,
        url: &str,
        token: &str,
    ) -> Result<T, Handshake> {
        let failed = |e: &dyn std::fmt::Display| {
            tracing::warn!(provider = %provider.name, url, error = %e,
                "social login: GitHub's API failed");
            Handshake::new("api_request_failed", e.to_string())
        };
        let response = self
            .http()?
            .get(url)
            .bearer_auth(token)
            .header("Accept", "application/vnd.github+json")
            .header("User-Agent", "Latchkey")
            .send()
            .await
            .map_err(|e| failed(&describe(&e)))?;
        if !response.status().is_success() {
            return Err(failed(&response.status()));
        }
        let body = response.bytes().await.map_err(|e| failed(&describe(&e)))?;
        serde_json::from_slice(&body).map_err(|e| failed(&e))
    }
}

/// GitHub's `/user` (only what is used).
#[derive(Debug, serde::Deserialize)]
struct GitHubUser {
    id: u64,
}

/// One of GitHub's `/user/emails`.
#[derive(Debug, serde::Deserialize)]
struct GitHubEmail {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The claims of a GitHub user: the numeric id as the subject, and the primary address
/// when GitHub has verified it (no address otherwise).
fn github_claims(user: GitHubUser, emails: &[GitHubEmail]) -> Claims {
    let primary = emails.iter().find(|e| e.primary && e.verified);
    Claims {
        subject: user.id.to_string(),
        email: primary.map(|e| e.email.clone()),
        email_verified: primary.map(|_| true),
    }
}

/// GitHub's authorization request (no discovery, no network): code flow, `read:user` and
/// `user:email`, a random `state`, and PKCE S256. GitHub has no `nonce`; one is made all the
/// same, to name the round trip once it is used.
fn github_authorization(
    provider: &OAuthProvider,
    authorize_url: &str,
    redirect_uri: &str,
) -> Result<Authorization, Handshake> {
    let configuration = |e: &dyn std::fmt::Display| Handshake::new("configuration", e.to_string());
    let client = oauth2::basic::BasicClient::new(oauth2::ClientId::new(provider.client_id.clone()))
        .set_auth_uri(
            oauth2::AuthUrl::new(authorize_url.to_owned()).map_err(|e| configuration(&e))?,
        )
        .set_redirect_uri(
            oauth2::RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| configuration(&e))?,
        );
    let (challenge, verifier) = oauth2::PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(oauth2::CsrfToken::new_random);
    for scope in &provider.scopes {
        request = request.add_scope(oauth2::Scope::new(scope.clone()));
    }
    let (url, state) = request.set_pkce_challenge(challenge).url();
    Ok(Authorization {
        url: url.to_string(),
        state: state.secret().clone(),
        nonce: oauth2::CsrfToken::new_random().secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    })
}

/// An error and its causes, on one line.
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The provider's own error (`invalid_grant`: a code used twice, say) or the transport's.
fn token_error<T>(
    e: &oauth2::RequestTokenError<
        oauth2::HttpClientError<oauth2::reqwest::Error>,
        oauth2::StandardErrorResponse<T>,
    >,
) -> Handshake
where
    T: oauth2::ErrorResponseType + AsRef<str> + std::fmt::Display + Send + Sync + 'static,
{
    match e {
        oauth2::RequestTokenError::ServerResponse(response) => Handshake::new(
            response.error().as_ref(),
            response.error_description().cloned().unwrap_or_default(),
        ),
        other => Handshake::new("token_request_failed", describe(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Secret, GITHUB_AUTHORIZE_URL};

    fn github() -> OAuthProvider {
        OAuthProvider {
            name: "github".to_owned(),
            client_id: "gh-client".to_owned(),
            client_secret: Secret::new("gh-secret"),
            kind: ProviderKind::GitHub {
                authorize_url: GITHUB_AUTHORIZE_URL.to_owned(),
                access_token_url: crate::config::GITHUB_ACCESS_TOKEN_URL.to_owned(),
                api_base_url: crate::config::GITHUB_API_BASE_URL.to_owned(),
            },
            scopes: vec!["read:user".to_owned(), "user:email".to_owned()],
        }
    }

    #[test]
    fn githubs_authorization_url_has_pkce_state_scopes_and_the_exact_redirect_uri() {
        let redirect = "https://auth.example.com/login/oauthresponse/github";
        let a = github_authorization(&github(), GITHUB_AUTHORIZE_URL, redirect).unwrap();
        let url = url::Url::parse(&a.url).unwrap();
        assert_eq!(
            format!("{}://{}{}", url.scheme(), url.authority(), url.path()),
            GITHUB_AUTHORIZE_URL
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "gh-client");
        assert_eq!(q["redirect_uri"], redirect);
        assert_eq!(q["scope"], "read:user user:email");
        assert_eq!(q["state"], a.state);
        assert_eq!(q["code_challenge_method"], "S256");
        // The challenge is the verifier's SHA-256, base64url without padding.
        use base64::Engine as _;
        use sha2::Digest as _;
        let digest = sha2::Sha256::digest(a.pkce_verifier.as_bytes());
        let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest);
        assert_eq!(q["code_challenge"], expected);
        assert!(
            !q.contains_key("client_secret"),
            "the secret never travels in the URL"
        );
        assert!(a.state.len() >= 16 && a.nonce.len() >= 16 && a.state != a.nonce);
        let again = github_authorization(&github(), GITHUB_AUTHORIZE_URL, redirect).unwrap();
        assert_ne!(again.state, a.state);
        assert_ne!(again.pkce_verifier, a.pkce_verifier);
    }

    /// Google's discovery document, as far as the authorization request needs it.
    const GOOGLE_METADATA: &str = r#"{
        "issuer": "https://accounts.google.com",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "jwks_uri": "https://www.googleapis.com/oauth2/v3/certs",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"]
    }"#;

    #[tokio::test]
    async fn googles_authorization_url_has_pkce_state_nonce_and_its_scopes() {
        let settings = crate::config::Settings::from_source(&crate::config::Source::from_pairs([
            ("SECRET_KEY", "a-development-secret-key-of-enough-length"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "test.db"),
            ("SECURITY_OAUTH_ENABLE", "true"),
            ("SECURITY_OAUTH_BUILTIN_PROVIDERS", "google"),
            ("GOOGLE_CLIENT_ID", "1234-abc.apps.googleusercontent.com"),
            ("GOOGLE_CLIENT_SECRET", "g-secret"),
        ]))
        .unwrap();
        let google = settings.oauth.provider("google").unwrap().clone();
        let providers = Providers::new(Duration::from_secs(1));
        // The document as discovery would have kept it: no network here.
        let metadata: CoreProviderMetadata = serde_json::from_str(GOOGLE_METADATA).unwrap();
        providers
            .discovered
            .lock()
            .unwrap()
            .insert("google".to_owned(), (Instant::now(), metadata));
        let redirect = "https://auth.example.com/login/oauthresponse/google";
        let a = providers.authorize(&google, redirect).await.unwrap();
        let url = url::Url::parse(&a.url).unwrap();
        assert_eq!(
            format!("{}://{}{}", url.scheme(), url.authority(), url.path()),
            "https://accounts.google.com/o/oauth2/v2/auth"
        );
        let q: HashMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "1234-abc.apps.googleusercontent.com");
        assert_eq!(q["redirect_uri"], redirect);
        assert_eq!(q["scope"], "openid email profile");
        assert_eq!(
            (q["state"].as_str(), q["nonce"].as_str()),
            (a.state.as_str(), a.nonce.as_str())
        );
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"].len(), 43);
        assert!(!q.contains_key("client_secret"));
    }

    #[test]
    fn a_github_user_is_its_id_and_only_a_primary_verified_address() {
        let email = |email: &str, primary, verified| GitHubEmail {
            email: email.to_owned(),
            primary,
            verified,
        };
        let claims = github_claims(
            GitHubUser { id: 583231 },
            &[
                email("other@example.com", false, true),
                email("octocat@example.com", true, true),
            ],
        );
        assert_eq!(claims.subject, "583231");
        assert_eq!(claims.email.as_deref(), Some("octocat@example.com"));
        assert_eq!(claims.email_verified, Some(true));
        for emails in [
            vec![email("octocat@example.com", true, false)],
            vec![email("other@example.com", false, true)],
            vec![],
        ] {
            let claims = github_claims(GitHubUser { id: 1 }, &emails);
            assert_eq!((claims.email, claims.email_verified), (None, None));
        }
        let parsed: Vec<GitHubEmail> = serde_json::from_str(
            r#"[{"email":"a@example.com","primary":true,"verified":true,"visibility":"public"}]"#,
        )
        .unwrap();
        assert!(parsed[0].primary && parsed[0].verified);
    }
}
