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

use crate::config::OAuthProvider;

/// How long a provider's discovery document (and its keys) is reused.
const METADATA_TTL: Duration = Duration::from_secs(600);

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
    async fn metadata(&self, provider: &OAuthProvider) -> Result<CoreProviderMetadata, Handshake> {
        if let Ok(cache) = self.discovered.lock() {
            if let Some((at, metadata)) = cache.get(&provider.name) {
                if at.elapsed() < METADATA_TTL {
                    return Ok(metadata.clone());
                }
            }
        }
        let issuer = IssuerUrl::new(provider.issuer.clone())
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
        let metadata = self.metadata(provider).await?;
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
        let client = self.client(provider, redirect_uri).await?;
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
        let client = self.client(provider, redirect_uri).await?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| Handshake::new("configuration", e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()));
        let response = request.request_async(self.http()?).await.map_err(|e| {
            tracing::warn!(provider = %provider.name, error = %describe_token_error(&e),
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

type TokenError = openidconnect::RequestTokenError<
    openidconnect::HttpClientError<openidconnect::reqwest::Error>,
    openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
>;

/// The provider's own error (`invalid_grant`: a code used twice, say) or the transport's.
fn token_error(e: &TokenError) -> Handshake {
    match e {
        openidconnect::RequestTokenError::ServerResponse(response) => Handshake::new(
            response.error().as_ref(),
            response.error_description().cloned().unwrap_or_default(),
        ),
        other => Handshake::new("token_request_failed", describe_token_error(other)),
    }
}

fn describe_token_error(e: &TokenError) -> String {
    describe(e)
}
