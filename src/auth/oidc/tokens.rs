//! The token endpoint's rules (authorization code and refresh token grants), the ID token,
//! and what userinfo answers.
//!
//! - **Codes** are reserved before they are checked: one `UPDATE … WHERE code_used_at IS
//!   NULL` decides which of two requests at once may go on. A code presented again (used,
//!   whoever presents it) revokes every token it bought (RFC 6749 4.1.2, OAuth 2.1).
//! - **Access tokens** are opaque, 32 random bytes, kept as digests, and live
//!   [`ACCESS_TTL_SECS`]. **Refresh tokens** likewise, living [`REFRESH_TTL_SECS`]; each is
//!   used once and replaced (rotation), and a used one presented again revokes its family
//!   (reuse detection), as Latchkey's own refresh tokens do.
//! - **ID tokens** are signed by `openidconnect` with the current key of the client's
//!   algorithm (RS256, or EdDSA for a client registered for it; made on first use when the
//!   operator has not run `latchkey keys rotate`), and carry `auth_time`,
//!   `amr` (how the login was proved) and `acr` (`1`: one factor, `2`: several).
//! - A token never proves freshness: `auth_time` is the login's, copied, never renewed.

use chrono::{DateTime, NaiveDateTime, Utc};
use openidconnect::core::{
    CoreEdDsaPrivateSigningKey, CoreGenderClaim, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    AccessToken, AdditionalClaims, Audience, AuthenticationContextClass,
    AuthenticationMethodReference, AuthorizationCode, EndUserEmail, EndUserName, EndUserUsername,
    IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce, StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::authorize::issuer;
use super::clients::{self, Client};
use super::keys::{self, Alg};
use super::OidcError;
use crate::auth::events::SecurityEvent;
use crate::auth::login::ClientInfo;
use crate::auth::services::Services;
use crate::crypto::{constant_time_eq, derive_key, digest, keyed_digest, random_token};
use crate::db;
use crate::db::models::User;
use crate::db::oidc_grants::{self, GrantRow};

pub const ACCESS_TTL_SECS: i64 = 3600;
pub const REFRESH_TTL_SECS: i64 = 30 * 24 * 3600;
pub const ID_TOKEN_TTL_SECS: i64 = 3600;

/// An error of the token endpoint (RFC 6749 5.2), answered as
/// `{"error": ..., "error_description": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenError {
    /// `invalid_request`, `invalid_client`, `invalid_grant`, `unauthorized_client`,
    /// `unsupported_grant_type`.
    pub error: &'static str,
    pub description: String,
}

impl TokenError {
    fn new(error: &'static str, description: &str) -> Self {
        Self {
            error,
            description: description.to_owned(),
        }
    }

    fn grant(description: &str) -> Self {
        Self::new("invalid_grant", description)
    }
}

/// How the client presented itself: `client_secret_basic`, `client_secret_post`, or a
/// public client's `client_id` alone.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The form of the token endpoint (and of revocation and introspection: `token`,
/// `token_type_hint`, and the client's credentials).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TokenForm {
    pub token: Option<String>,
    pub token_type_hint: Option<String>,
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scope: Option<String>,
}

/// A successful token answer (RFC 6749 5.1, OpenID Connect Core 3.1.3.3).
#[derive(Debug, Clone, Serialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub refresh_token: String,
    pub id_token: String,
    pub scope: String,
}

/// The client authenticated: a confidential one by its secret, a public one by its id.
async fn authenticate_client(
    services: &Services,
    presented: &Presented,
) -> Result<Client, TokenError> {
    let unknown = || TokenError::new("invalid_client", "client authentication failed");
    let client_id = presented.client_id.as_deref().ok_or_else(unknown)?;
    let client = clients::find(services, client_id)
        .await
        .map_err(|_| TokenError::new("server_error", "the client could not be looked up"))?
        .ok_or_else(unknown)?;
    match (&presented.client_secret, client.is_public) {
        (None, true) => Ok(client),
        (Some(secret), false) if client.verify_secret(secret) => Ok(client),
        _ => Err(unknown()),
    }
}

/// Answers a token request: the client authenticated, then the grant.
pub async fn token(
    services: &Services,
    presented: Presented,
    form: TokenForm,
    client_info: &ClientInfo,
) -> Result<Result<Tokens, TokenError>, OidcError> {
    let client = match authenticate_client(services, &presented).await {
        Ok(client) => client,
        Err(e) => return Ok(Err(e)),
    };
    match form.grant_type.as_deref() {
        Some("authorization_code") => exchange_code(services, &client, form, client_info).await,
        Some("refresh_token") => refresh(services, &client, form, client_info).await,
        None => Ok(Err(TokenError::new(
            "invalid_request",
            "grant_type is missing",
        ))),
        Some(_) => Ok(Err(TokenError::new(
            "unsupported_grant_type",
            "only authorization_code and refresh_token are supported",
        ))),
    }
}

/// S256 (RFC 7636 4.6): the challenge is the base64url SHA-256 of the verifier.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    use base64::Engine;
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    valid && constant_time_eq(&computed, challenge)
}

/// What a code is checked against, besides being unused and live.
fn code_refusal(
    grant: &GrantRow,
    client: &Client,
    form: &TokenForm,
    now: NaiveDateTime,
) -> Option<&'static str> {
    if grant.client_id != client.client_id {
        return Some("the code was issued to another client");
    }
    if form.redirect_uri.as_deref() != Some(grant.redirect_uri.as_str()) {
        return Some("redirect_uri does not match the authorization request's");
    }
    if grant.code_expires_at < now || grant.revoked_at.is_some() {
        return Some("the code has expired");
    }
    match (&grant.code_challenge, form.code_verifier.as_deref()) {
        (Some(challenge), Some(verifier)) if verifier_matches(verifier, challenge) => None,
        (Some(_), Some(_)) => Some("code_verifier does not match the code_challenge"),
        (Some(_), None) => Some("code_verifier is missing"),
        (None, Some(_)) => Some("no code_challenge was sent with the authorization request"),
        (None, None) => None,
    }
}

/// What redeeming a code or a refresh token found.
enum Redeemed {
    /// The grant, checked: tokens may be issued.
    Live(GrantRow),
    /// Refused, with why; `replayed`: the family was revoked because the code or refresh
    /// token had been used.
    Refused {
        why: &'static str,
        replayed: Option<GrantRow>,
    },
}

async fn exchange_code(
    services: &Services,
    client: &Client,
    form: TokenForm,
    client_info: &ClientInfo,
) -> Result<Result<Tokens, TokenError>, OidcError> {
    let Some(code) = form.code.clone().filter(|c| !c.is_empty()) else {
        return Ok(Err(TokenError::new("invalid_request", "code is missing")));
    };
    let code_digest = digest(&code);
    let checked_client = client.clone();
    let redeemed = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:code:{code_digest}")],
                |conn| {
                    let now = db::now();
                    // Reserve, then verify: of two requests at once, one goes on.
                    let reserved = oidc_grants::reserve_code(conn, &code_digest, now)?;
                    let Some(grant) = oidc_grants::grant_by_code(conn, &code_digest)? else {
                        return Ok(Redeemed::Refused {
                            why: "unknown code",
                            replayed: None,
                        });
                    };
                    if !reserved {
                        let revoked = oidc_grants::revoke_family(conn, &grant.family, now)?;
                        return Ok(Redeemed::Refused {
                            why: "the code has been used",
                            replayed: revoked.then_some(grant),
                        });
                    }
                    Ok(match code_refusal(&grant, &checked_client, &form, now) {
                        Some(why) => Redeemed::Refused {
                            why,
                            replayed: None,
                        },
                        None => Redeemed::Live(grant),
                    })
                },
            )
        })
        .await?;
    let replay = ("oidc_code_replayed", "code replayed");
    answer_redeemed(services, client, redeemed, true, replay, client_info).await
}

/// Tokens for a live grant (`first`: bought with a code, the `token_issued` event), or
/// `invalid_grant`; a replay's family end is logged (`replay`: the log event and the
/// `token_revoked` label) and announced.
async fn answer_redeemed(
    services: &Services,
    client: &Client,
    redeemed: Redeemed,
    first: bool,
    replay: (&str, &str),
    client_info: &ClientInfo,
) -> Result<Result<Tokens, TokenError>, OidcError> {
    match redeemed {
        Redeemed::Live(grant) => issue(services, client, &grant, first, client_info).await,
        Redeemed::Refused { why, replayed } => {
            if let Some(grant) = replayed {
                let (event, label) = replay;
                tracing::warn!(event, user_id = grant.user_id, client_id = %grant.client_id,
                    "a used code or refresh token presented again: its family revoked");
                revoked_event(services, &grant, label, client_info);
            }
            Ok(Err(TokenError::grant(why)))
        }
    }
}

async fn refresh(
    services: &Services,
    client: &Client,
    form: TokenForm,
    client_info: &ClientInfo,
) -> Result<Result<Tokens, TokenError>, OidcError> {
    let Some(presented) = form.refresh_token.filter(|t| !t.is_empty()) else {
        return Ok(Err(TokenError::new(
            "invalid_request",
            "refresh_token is missing",
        )));
    };
    let token_digest = digest(&presented);
    let client_id = client.client_id.clone();
    let found = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:token:{token_digest}")],
                |conn| {
                    let now = db::now();
                    // Whose token it is comes first: another client's attempt neither spends
                    // it nor counts as its holder's reuse (RFC 6749 section 6). Then reserve,
                    // then verify: of two requests at once, one goes on.
                    let Some((token, grant)) = oidc_grants::token(conn, &token_digest)? else {
                        return Ok(Redeemed::Refused {
                            why: "unknown refresh token",
                            replayed: None,
                        });
                    };
                    if token.kind != "refresh" || grant.client_id != client_id {
                        return Ok(Redeemed::Refused {
                            why: "unknown refresh token",
                            replayed: None,
                        });
                    }
                    let reserved = oidc_grants::reserve_refresh(conn, &token_digest, now)?;
                    if !reserved {
                        // A rotated token presented again: whoever holds the family, it ends.
                        oidc_grants::revoke_family(conn, &grant.family, now)?;
                        return Ok(Redeemed::Refused {
                            why: "the refresh token has been used",
                            replayed: Some(grant),
                        });
                    }
                    if token.expires_at < now || grant.revoked_at.is_some() {
                        return Ok(Redeemed::Refused {
                            why: "the refresh token has expired",
                            replayed: None,
                        });
                    }
                    Ok(Redeemed::Live(grant))
                },
            )
        })
        .await?;
    let replay = ("oidc_refresh_reused", "refresh token reused");
    answer_redeemed(services, client, found, false, replay, client_info).await
}

fn revoked_event(services: &Services, grant: &GrantRow, why: &str, client: &ClientInfo) {
    let event = SecurityEvent::TokenRevoked {
        kind: "app".to_owned(),
        label: Some(format!("{}: {why}", grant.client_id)),
    };
    services.emit(event, Some(grant.user_id), client);
}

/// New access and refresh tokens in the grant's family, and an ID token, for a user who
/// may still sign in.
async fn issue(
    services: &Services,
    client: &Client,
    grant: &GrantRow,
    first: bool,
    client_info: &ClientInfo,
) -> Result<Result<Tokens, TokenError>, OidcError> {
    let (access, refresh) = (random_token(32), random_token(32));
    let (access_digest, refresh_digest) = (digest(&access), digest(&refresh));
    let (family, user_id) = (grant.family.clone(), grant.user_id);
    let user = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:family:{family}")],
                |conn| {
                    let user = db::users::find_by_id(conn, user_id)?.filter(User::is_active);
                    if user.is_some() {
                        let now = db::now();
                        let access_until = now + chrono::Duration::seconds(ACCESS_TTL_SECS);
                        let refresh_until = now + chrono::Duration::seconds(REFRESH_TTL_SECS);
                        oidc_grants::insert_token(
                            conn,
                            &access_digest,
                            &family,
                            "access",
                            now,
                            access_until,
                        )?;
                        oidc_grants::insert_token(
                            conn,
                            &refresh_digest,
                            &family,
                            "refresh",
                            now,
                            refresh_until,
                        )?;
                    }
                    Ok(user)
                },
            )
        })
        .await?;
    let Some(user) = user else {
        return Ok(Err(TokenError::grant("the account cannot sign in")));
    };
    let roles = if grant.scope.split_ascii_whitespace().any(|s| s == "roles") {
        Some(crate::auth::roles::names_for_user(services, user.id).await?)
    } else {
        None
    };
    let id_token = id_token(services, client, grant, &user, roles, &access).await?;
    if first {
        tracing::info!(event = "oidc_tokens_issued", user_id = user.id,
            client_id = %client.client_id, "tokens issued to an app");
        let event = SecurityEvent::TokenIssued {
            kind: "app".to_owned(),
            label: Some(client.name.clone()),
        };
        services.emit(event, Some(user.id), client_info);
    }
    Ok(Ok(Tokens {
        access_token: access,
        token_type: "Bearer",
        expires_in: ACCESS_TTL_SECS,
        refresh_token: refresh,
        id_token,
        scope: grant.scope.clone(),
    }))
}

/// The `sub` of a user: stable, never the email, the same for every app (a keyed digest of
/// the account's id under a key derived from `SECRET_KEY`).
pub fn subject(services: &Services, user: &User) -> String {
    let key = derive_key(&services.settings.secret_key, "oidc-subject");
    keyed_digest(&key, &user.id.to_string())[..32].to_owned()
}

/// The claims beyond the standard ones: the account's roles (scope `roles`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LatchkeyClaims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl AdditionalClaims for LatchkeyClaims {}

type LatchkeyIdToken = IdToken<
    LatchkeyClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    DateTime::from_naive_utc_and_offset(at, Utc)
}

/// The standard claims the grant's scopes allow.
fn standard_claims(
    services: &Services,
    user: &User,
    scopes: &[&str],
) -> StandardClaims<CoreGenderClaim> {
    let mut claims = StandardClaims::new(SubjectIdentifier::new(subject(services, user)));
    if scopes.contains(&"email") {
        if let Some(email) = &user.email {
            claims = claims
                .set_email(Some(EndUserEmail::new(email.clone())))
                .set_email_verified(Some(user.confirmed_at.is_some()));
        }
    }
    if scopes.contains(&"profile") {
        let name = user.username.clone().or_else(|| user.email.clone());
        if let Some(name) = name {
            claims = claims.set_name(Some(EndUserName::new(name).into()));
        }
        if let Some(username) = &user.username {
            claims = claims.set_preferred_username(Some(EndUserUsername::new(username.clone())));
        }
    }
    claims
}

/// The current key of `alg`, made now if the operator has made none (on the first ID token,
/// or the first read of the JWKS: an app that reads the key set before any token was issued
/// must find the key that will sign its tokens).
pub async fn signing_key(services: &Services, alg: Alg) -> Result<keys::SigningKey, OidcError> {
    if let Some(key) = keys::current(services, alg).await? {
        return Ok(key);
    }
    // Two requests at once may both try: the index lets one key be current, and the
    // other reads it.
    let made = keys::rotate(services, alg, &ClientInfo::default()).await;
    keys::current(services, alg)
        .await?
        .ok_or_else(|| match made {
            Err(e) => e,
            Ok(_) => OidcError::Key(format!("no current {alg} key after making one")),
        })
}

async fn id_token(
    services: &Services,
    client: &Client,
    grant: &GrantRow,
    user: &User,
    roles: Option<Vec<String>>,
    access: &str,
) -> Result<String, OidcError> {
    let key = signing_key(services, client.id_token_alg).await?;
    let issuer = IssuerUrl::new(issuer(services).to_owned())
        .map_err(|e| OidcError::Invalid(format!("BASE_URL is not a URL: {e}")))?;
    let now = Utc::now();
    let scopes: Vec<&str> = grant.scope.split_ascii_whitespace().collect();
    let amr: Vec<AuthenticationMethodReference> = grant
        .amr
        .split_ascii_whitespace()
        .map(|v| AuthenticationMethodReference::new(v.to_owned()))
        .collect();
    let acr = if grant.amr.split_ascii_whitespace().any(|v| v == "mfa") {
        "2"
    } else {
        "1"
    };
    let claims = IdTokenClaims::new(
        issuer,
        vec![Audience::new(client.client_id.clone())],
        now + chrono::Duration::seconds(ID_TOKEN_TTL_SECS),
        now,
        standard_claims(services, user, &scopes),
        LatchkeyClaims { roles },
    )
    .set_auth_time(Some(utc(grant.auth_time)))
    .set_nonce(grant.nonce.clone().map(Nonce::new))
    .set_auth_method_refs(Some(amr))
    .set_auth_context_ref(Some(AuthenticationContextClass::new(acr.to_owned())));
    let (kid, access) = (
        Some(JsonWebKeyId::new(key.kid)),
        Some(AccessToken::new(access.to_owned())),
    );
    let signed = match key.alg {
        Alg::Rs256 => LatchkeyIdToken::new(
            claims,
            &CoreRsaPrivateSigningKey::from_pem(&key.private_pem, kid).map_err(OidcError::Key)?,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            access.as_ref(),
            None::<&AuthorizationCode>,
        ),
        Alg::EdDsa => LatchkeyIdToken::new(
            claims,
            &CoreEdDsaPrivateSigningKey::from_ed25519_pem(&key.private_pem, kid)
                .map_err(OidcError::Key)?,
            CoreJwsSigningAlgorithm::EdDsa,
            access.as_ref(),
            None::<&AuthorizationCode>,
        ),
    };
    let token = signed.map_err(|e| OidcError::Key(format!("signing the ID token: {e}")))?;
    Ok(token.to_string())
}

/// The live access token's grant and user, if `presented` is one.
async fn bearer(
    services: &Services,
    presented: &str,
) -> Result<Option<(GrantRow, User)>, OidcError> {
    let token_digest = digest(presented);
    Ok(services
        .db
        .run(move |conn| {
            let Some((token, grant)) = oidc_grants::token(conn, &token_digest)? else {
                return Ok(None);
            };
            if token.kind != "access" || token.expires_at < db::now() || grant.revoked_at.is_some()
            {
                return Ok(None);
            }
            Ok(db::users::find_by_id(conn, grant.user_id)?
                .filter(User::is_active)
                .map(|user| (grant, user)))
        })
        .await?)
}

/// The userinfo answer for a bearer access token (OpenID Connect Core 5.3), or `None` for
/// a token that is not a live one.
pub async fn userinfo(services: &Services, presented: &str) -> Result<Option<Value>, OidcError> {
    let Some((grant, user)) = bearer(services, presented).await? else {
        return Ok(None);
    };
    let scopes: Vec<&str> = grant.scope.split_ascii_whitespace().collect();
    let mut answer = serde_json::to_value(standard_claims(services, &user, &scopes))
        .map_err(|e| OidcError::Invalid(e.to_string()))?;
    if scopes.contains(&"roles") {
        let roles = crate::auth::roles::names_for_user(services, user.id).await?;
        answer["roles"] = json!(roles);
    }
    Ok(Some(answer))
}

/// Revocation (RFC 7009): the client authenticated, then its own token ended. A refresh
/// token ends its whole family; an access token ends alone. An unknown token, or another
/// client's, changes nothing and is answered the same (no oracle).
pub async fn revoke(
    services: &Services,
    presented: Presented,
    token: Option<String>,
    client_info: &ClientInfo,
) -> Result<Result<(), TokenError>, OidcError> {
    let client = match authenticate_client(services, &presented).await {
        Ok(client) => client,
        Err(e) => return Ok(Err(e)),
    };
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(Err(TokenError::new("invalid_request", "token is missing")));
    };
    let token_digest = digest(&token);
    let ended = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:token:{token_digest}")],
                |conn| {
                    let Some((row, grant)) = oidc_grants::token(conn, &token_digest)? else {
                        return Ok(None);
                    };
                    if grant.client_id != client.client_id {
                        return Ok(None);
                    }
                    if row.kind == "refresh" {
                        oidc_grants::revoke_family(conn, &grant.family, db::now())?;
                    } else {
                        oidc_grants::delete_token(conn, &token_digest)?;
                    }
                    Ok(Some(grant))
                },
            )
        })
        .await?;
    if let Some(grant) = ended {
        tracing::info!(event = "oidc_token_revoked", user_id = grant.user_id,
            client_id = %grant.client_id, "an app revoked its token");
        revoked_event(services, &grant, "revoked by the app", client_info);
    }
    Ok(Ok(()))
}

/// Introspection (RFC 7662) for a resource server registered as a client: whether the
/// token is a live access or refresh token, and if so its scope, client, subject and times.
/// Anything else (unknown, expired, revoked, a JWT of any `alg`) is `{"active": false}`.
pub async fn introspect(
    services: &Services,
    presented: Presented,
    token: Option<String>,
) -> Result<Result<Value, TokenError>, OidcError> {
    if let Err(e) = authenticate_client(services, &presented).await {
        return Ok(Err(e));
    }
    let inactive = json!({"active": false});
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(Ok(inactive));
    };
    let token_digest = digest(&token);
    let found = services
        .db
        .run(move |conn| {
            let Some((row, grant)) = oidc_grants::token(conn, &token_digest)? else {
                return Ok(None);
            };
            let now = db::now();
            let live = row.expires_at >= now && row.used_at.is_none() && grant.revoked_at.is_none();
            let user = db::users::find_by_id(conn, grant.user_id)?.filter(User::is_active);
            Ok(user.filter(|_| live).map(|user| (row, grant, user)))
        })
        .await?;
    let Some((row, grant, user)) = found else {
        return Ok(Ok(inactive));
    };
    let token_type = if row.kind == "refresh" {
        "refresh_token"
    } else {
        "access_token"
    };
    Ok(Ok(json!({
        "active": true,
        "scope": grant.scope,
        "client_id": grant.client_id,
        "sub": subject(services, &user),
        "token_type": token_type,
        "exp": utc(row.expires_at).timestamp(),
        "iat": utc(row.created_at).timestamp(),
        "auth_time": utc(grant.auth_time).timestamp(),
        "iss": issuer(services),
        "aud": grant.client_id,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_of_rfc_7636_appendix_b_matches_its_challenge() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!verifier_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        // Too short to be a verifier, whatever it hashes to.
        assert!(!verifier_matches(
            "abc",
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        ));
    }
}
