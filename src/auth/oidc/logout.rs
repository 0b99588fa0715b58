//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the person to
//! the `end_session_endpoint` to sign out of Latchkey too, and back to one of its registered
//! post-logout redirect URIs.
//!
//! The app is named by `client_id` or by the `aud` of an `id_token_hint` (one Latchkey
//! signed: its signature is checked against the JWKS; an expired hint is accepted, as the
//! specification allows). A `post_logout_redirect_uri` must be one of that app's, exactly;
//! otherwise nothing is redirected to. Signing out is a POST from a "Sign out?" page (a GET
//! alone never signs anyone out: a link in a mail or an image must not).

use base64::Engine;
use openidconnect::core::{
    CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
};
use openidconnect::{ClientId, IdToken, IssuerUrl, Nonce};
use serde::{Deserialize, Serialize};

use super::authorize::{answer_url, issuer};
use super::clients::{self, Client};
use super::keys;
use super::tokens::LatchkeyClaims;
use super::OidcError;
use crate::auth::services::Services;

/// The end-session request's parameters.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub logout_hint: Option<String>,
    pub ui_locales: Option<String>,
}

/// A checked request: the app, if named, and where to go afterwards, if anywhere.
#[derive(Debug, Clone, Default)]
pub struct CheckedLogout {
    pub client: Option<Client>,
    /// The registered post-logout URI with `state`, when one was asked for.
    pub then: Option<String>,
}

type HintToken = IdToken<
    LatchkeyClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The `aud` and `iat` of a JWT's payload, read before its signature is checked (to know
/// which client's verifier to use, and to accept an expired hint).
fn unverified_aud_iat(jwt: &str) -> Option<(String, i64)> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let aud = match &value["aud"] {
        serde_json::Value::String(one) => one.clone(),
        serde_json::Value::Array(many) => many.first()?.as_str()?.to_owned(),
        _ => return None,
    };
    Some((aud, value["iat"].as_i64()?))
}

/// The client an ID token Latchkey signed was issued to, if `hint` is one.
async fn client_of_hint(services: &Services, hint: &str) -> Result<Option<Client>, OidcError> {
    let Some((aud, iat)) = unverified_aud_iat(hint) else {
        return Ok(None);
    };
    let Some(client) = clients::find(services, &aud).await? else {
        return Ok(None);
    };
    let set: CoreJsonWebKeySet = serde_json::from_value(keys::jwks(services).await?)
        .map_err(|e| OidcError::Key(format!("the JWKS does not parse: {e}")))?;
    let issuer = IssuerUrl::new(issuer(services).to_owned())
        .map_err(|e| OidcError::Invalid(format!("BASE_URL is not a URL: {e}")))?;
    let at = chrono::DateTime::from_timestamp(iat, 0).unwrap_or_default();
    let verifier = CoreIdTokenVerifier::new_public_client(ClientId::new(aud), issuer, set)
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EdDsa,
        ])
        .set_time_fn(move || at);
    let Ok(token) = hint.parse::<HintToken>() else {
        return Ok(None);
    };
    let no_nonce = |_: Option<&Nonce>| Ok(());
    Ok(token.claims(&verifier, no_nonce).is_ok().then_some(client))
}

/// Checks an end-session request. `Err`: a reason to show (never a redirect).
pub async fn check(
    services: &Services,
    params: &LogoutParams,
) -> Result<Result<CheckedLogout, String>, OidcError> {
    let named = match params.client_id.as_deref().filter(|c| !c.is_empty()) {
        Some(id) => match clients::find(services, id).await? {
            Some(client) => Some(client),
            None => return Ok(Err("no client has this client_id".into())),
        },
        None => None,
    };
    let hinted = match params.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        Some(hint) => match client_of_hint(services, hint).await? {
            Some(client) => Some(client),
            None => {
                return Ok(Err(
                    "id_token_hint is not an ID token Latchkey issued".into()
                ))
            }
        },
        None => None,
    };
    if let (Some(a), Some(b)) = (&named, &hinted) {
        if a.client_id != b.client_id {
            return Ok(Err(
                "client_id and id_token_hint name different clients".into()
            ));
        }
    }
    let client = named.or(hinted);
    let Some(uri) = params
        .post_logout_redirect_uri
        .as_deref()
        .filter(|u| !u.is_empty())
    else {
        return Ok(Ok(CheckedLogout { client, then: None }));
    };
    let registered = client
        .as_ref()
        .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri));
    if !registered {
        return Ok(Err(
            "post_logout_redirect_uri is not one of the client's registered post-logout URIs"
                .into(),
        ));
    }
    let then = answer_url(uri, &[("state", params.state.as_deref())]);
    Ok(Ok(CheckedLogout {
        client,
        then: Some(then),
    }))
}
