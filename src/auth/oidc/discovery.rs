//! The provider's discovery document (OpenID Connect Discovery 1.0, RFC 8414) and the
//! words the consent page uses for scopes.

use serde_json::{json, Value};

use super::authorize::issuer;
use crate::auth::services::Services;
use crate::urls::Route;

/// The scopes the provider knows, and what each lets an app see (English msgids; the
/// consent page translates them).
pub const SCOPES: [(&str, &str); 4] = [
    ("openid", "Who you are on this site"),
    ("email", "Your email address"),
    ("profile", "Your name and username"),
    ("roles", "Your roles"),
];

/// What a scope lets an app see; an unknown scope is shown by its name.
pub fn scope_description(scope: &str) -> &str {
    SCOPES
        .iter()
        .find(|(name, _)| *name == scope)
        .map_or(scope, |(_, description)| description)
}

/// `scheme://host[:port]` of a registered redirect URI.
pub fn redirect_origin(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    Some(url.origin().ascii_serialization()).filter(|o| o != "null")
}

/// `/.well-known/openid-configuration`: the issuer is `BASE_URL`.
pub fn document(services: &Services) -> Value {
    let issuer = issuer(services);
    let at = |route: Route| format!("{issuer}{}", services.urls.path(route));
    json!({
        "issuer": issuer,
        "authorization_endpoint": at(Route::OidcAuthorize),
        "token_endpoint": at(Route::OidcToken),
        "userinfo_endpoint": at(Route::OidcUserinfo),
        "jwks_uri": at(Route::OidcJwks),
        "revocation_endpoint": at(Route::OidcRevoke),
        "introspection_endpoint": at(Route::OidcIntrospect),
        "end_session_endpoint": at(Route::OidcLogout),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
        "scopes_supported": SCOPES.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
            "email", "email_verified", "name", "preferred_username", "roles",
        ],
        "acr_values_supported": ["1", "2"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}
