//! The keys Latchkey's ID tokens are signed with: RS256 (always offered) and EdDSA
//! (Ed25519). `rotate` makes a new current key of an algorithm and retires the previous
//! one, which stays in the JWKS so that tokens it signed still verify (a later rule removes
//! retired keys once their tokens have expired).
//!
//! Keys are made by OpenSSL. The private key is kept as PEM (PKCS#1 for RSA, PKCS#8 for
//! Ed25519: what `openidconnect`'s signing keys read), sealed at rest with AES-256-GCM
//! under a key derived from `SECRET_KEY` (the outbox's sealing, another purpose); the
//! public half is a JWK whose `kid` is its RFC 7638 thumbprint.

use base64::Engine;
use chrono::NaiveDateTime;
use diesel::Connection;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::OidcError;
use crate::auth::events::SecurityEvent;
use crate::auth::login::ClientInfo;
use crate::auth::services::Services;
use crate::db;
use crate::db::oidc::{self, SigningKeyRow};
use crate::mail::OutboxKey;

/// The purpose the sealing key is derived for (see [`crate::crypto::derive_key`]).
const SEAL_PURPOSE: &str = "oidc-signing-key-seal";
/// What a sealed private key starts with ([`OutboxKey::seal`]'s format).
const SEALED_PREFIX: &str = "sealed:v1:";
const RSA_BITS: u32 = 2048;

/// A signing algorithm the provider offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys: what every client supports.
    #[serde(rename = "RS256")]
    Rs256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Alg {
    pub const ALL: [Alg; 2] = [Alg::Rs256, Alg::EdDsa];

    /// The JOSE name (`RS256`, `EdDSA`).
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Rs256 => "RS256",
            Alg::EdDsa => "EdDSA",
        }
    }

    /// `RS256` or `EdDSA` (any case).
    pub fn parse(raw: &str) -> Result<Self, OidcError> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| {
                OidcError::Invalid(format!(
                    "unknown signing algorithm {raw:?}: expected RS256 or EdDSA"
                ))
            })
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key just made: its private PEM (never logged) and public JWK.
pub struct GeneratedKey {
    pub kid: String,
    pub alg: Alg,
    pub private_pem: String,
    pub public_jwk: Value,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pem", &"[redacted]")
            .finish()
    }
}

/// The current key of an algorithm, opened: what signs ID tokens.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    /// PKCS#1 PEM for RS256 (`CoreRsaPrivateSigningKey::from_pem`), PKCS#8 PEM for EdDSA
    /// (`CoreEdDsaPrivateSigningKey::from_ed25519_pem`).
    pub private_pem: String,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_pem", &"[redacted]")
            .finish()
    }
}

/// A stored key as the commands list it (no private half).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    pub kid: String,
    pub alg: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
    /// The key new tokens of its algorithm are signed with.
    pub current: bool,
}

impl From<&SigningKeyRow> for KeyInfo {
    fn from(row: &SigningKeyRow) -> Self {
        Self {
            kid: row.kid.clone(),
            alg: row.alg.clone(),
            created_at: row.created_at,
            retired_at: row.retired_at,
            current: row.retired_at.is_none(),
        }
    }
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The RFC 7638 thumbprint of a JWK's required members (given here in the order of their
/// names, as the RFC asks, with no whitespace): its `kid`.
fn thumbprint(required_members: &[(&str, &str)]) -> String {
    let members: Vec<String> = required_members
        .iter()
        .map(|(k, v)| format!("{}:{}", json!(k), json!(v)))
        .collect();
    b64url(&Sha256::digest(
        format!("{{{}}}", members.join(",")).as_bytes(),
    ))
}

fn openssl_error(e: openssl::error::ErrorStack) -> OidcError {
    OidcError::Key(format!("OpenSSL: {e}"))
}

/// Makes a key pair of `alg` with OpenSSL.
pub fn generate(alg: Alg) -> Result<GeneratedKey, OidcError> {
    match alg {
        Alg::Rs256 => {
            let rsa = Rsa::generate(RSA_BITS).map_err(openssl_error)?;
            // PKCS#1 ("BEGIN RSA PRIVATE KEY"): what `CoreRsaPrivateSigningKey::from_pem` reads.
            let pem = rsa.private_key_to_pem().map_err(openssl_error)?;
            let (n, e) = (b64url(&rsa.n().to_vec()), b64url(&rsa.e().to_vec()));
            let kid = thumbprint(&[("e", &e), ("kty", "RSA"), ("n", &n)]);
            let public_jwk = json!({
                "kty": "RSA", "use": "sig", "alg": alg.as_str(), "kid": kid, "n": n, "e": e,
            });
            Ok(GeneratedKey {
                kid,
                alg,
                private_pem: pem_string(pem)?,
                public_jwk,
            })
        }
        Alg::EdDsa => {
            let key = PKey::generate_ed25519().map_err(openssl_error)?;
            // PKCS#8: what `CoreEdDsaPrivateSigningKey::from_ed25519_pem` reads.
            let pem = key.private_key_to_pem_pkcs8().map_err(openssl_error)?;
            let x = b64url(&key.raw_public_key().map_err(openssl_error)?);
            let kid = thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &x)]);
            let public_jwk = json!({
                "kty": "OKP", "use": "sig", "alg": alg.as_str(), "kid": kid,
                "crv": "Ed25519", "x": x,
            });
            Ok(GeneratedKey {
                kid,
                alg,
                private_pem: pem_string(pem)?,
                public_jwk,
            })
        }
    }
}

fn pem_string(pem: Vec<u8>) -> Result<String, OidcError> {
    String::from_utf8(pem)
        .map_err(|_| OidcError::Key("OpenSSL wrote a PEM that is not text".into()))
}

fn sealer(services: &Services) -> OutboxKey {
    OutboxKey::derive_for(&services.settings.secret_key, SEAL_PURPOSE)
}

/// A stored private key, opened. A value that is not sealed is refused (the outbox's
/// `open` would hand back unsealed text as it is).
fn open_sealed(sealer: &OutboxKey, stored: &str) -> Result<String, OidcError> {
    if !stored.starts_with(SEALED_PREFIX) {
        return Err(OidcError::Key("a stored private key is not sealed".into()));
    }
    sealer.open(stored).map_err(|_| {
        OidcError::Key(
            "a stored private key cannot be opened (was SECRET_KEY changed since it was made?)"
                .into(),
        )
    })
}

/// Makes a new current key of `alg` and retires the previous current one (which stays in
/// the JWKS). Emits `signing_key_rotated`.
pub async fn rotate(
    services: &Services,
    alg: Alg,
    client: &ClientInfo,
) -> Result<KeyInfo, OidcError> {
    let sealer = sealer(services);
    let made = services
        .db
        .run_with(move |conn| {
            // RSA key generation takes a while: on the blocking thread, outside the
            // transaction.
            let key = generate(alg)?;
            let sealed = sealer.seal(&key.private_pem);
            let jwk = key.public_jwk.to_string();
            let now = db::now();
            conn.transaction::<_, OidcError, _>(|conn| {
                oidc::retire_current(conn, alg.as_str(), now)?;
                oidc::insert_key(conn, &key.kid, alg.as_str(), &sealed, &jwk, now)?;
                Ok(())
            })?;
            Ok::<_, OidcError>(KeyInfo {
                kid: key.kid,
                alg: alg.as_str().to_owned(),
                created_at: now,
                retired_at: None,
                current: true,
            })
        })
        .await?;
    tracing::info!(event = "oidc_signing_key_rotated", kid = %made.kid, alg = %alg,
        "OpenID Connect signing key rotated");
    services.emit(
        SecurityEvent::SigningKeyRotated {
            kid: made.kid.clone(),
            alg: alg.as_str().to_owned(),
        },
        None,
        client,
    );
    Ok(made)
}

/// Every stored key (current and retired), newest first.
pub async fn list(services: &Services) -> Result<Vec<KeyInfo>, OidcError> {
    Ok(services
        .db
        .run(oidc::list_keys)
        .await?
        .iter()
        .map(KeyInfo::from)
        .collect())
}

/// The public JWK set: every current and retired key, newest first (`{"keys": [...]}`).
pub async fn jwks(services: &Services) -> Result<Value, OidcError> {
    let rows = services.db.run(oidc::list_keys).await?;
    let keys = rows
        .iter()
        .map(|row| {
            serde_json::from_str::<Value>(&row.public_jwk).map_err(|e| {
                OidcError::Key(format!(
                    "the stored JWK of key {} is not JSON: {e}",
                    row.kid
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "keys": keys }))
}

/// The current key of `alg`, opened, if one has been made.
pub async fn current(services: &Services, alg: Alg) -> Result<Option<SigningKey>, OidcError> {
    let sealer = sealer(services);
    let row = services
        .db
        .run(move |conn| oidc::current_key(conn, alg.as_str()))
        .await?;
    row.map(|row| {
        Ok(SigningKey {
            private_pem: open_sealed(&sealer, &row.private_key_sealed)?,
            kid: row.kid,
            alg,
        })
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openidconnect::core::{
        CoreEdDsaPrivateSigningKey, CoreIdToken, CoreIdTokenClaims, CoreIdTokenVerifier,
        CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
    };
    use openidconnect::{
        Audience, ClientId, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, StandardClaims,
        SubjectIdentifier,
    };

    use crate::config::Secret;

    /// Signs an ID token with `openidconnect`'s own signing key read from the PEM, and
    /// verifies it with its own verifier against the published JWK set.
    fn sign_and_verify(key: &GeneratedKey, jwks: Value) -> Result<(), String> {
        let issuer = IssuerUrl::new("https://id.example.com".into()).unwrap();
        let now = chrono::Utc::now();
        let claims = CoreIdTokenClaims::new(
            issuer.clone(),
            vec![Audience::new("app".into())],
            now + chrono::Duration::minutes(5),
            now,
            StandardClaims::new(SubjectIdentifier::new("user-1".into())),
            EmptyAdditionalClaims {},
        )
        .set_nonce(Some(Nonce::new("n-1".into())));
        let kid = Some(JsonWebKeyId::new(key.kid.clone()));
        let token = match key.alg {
            Alg::Rs256 => CoreIdToken::new(
                claims,
                &CoreRsaPrivateSigningKey::from_pem(&key.private_pem, kid).unwrap(),
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                None,
                None,
            ),
            Alg::EdDsa => CoreIdToken::new(
                claims,
                &CoreEdDsaPrivateSigningKey::from_ed25519_pem(&key.private_pem, kid).unwrap(),
                CoreJwsSigningAlgorithm::EdDsa,
                None,
                None,
            ),
        }
        .unwrap();
        let set: CoreJsonWebKeySet = serde_json::from_value(jwks).unwrap();
        let verifier =
            CoreIdTokenVerifier::new_public_client(ClientId::new("app".into()), issuer, set)
                .set_allowed_algs([
                    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                    CoreJwsSigningAlgorithm::EdDsa,
                ]);
        // Through the token's text, as a relying party receives it.
        let text = serde_json::to_string(&token).unwrap();
        let received: CoreIdToken = serde_json::from_str(&text).unwrap();
        received
            .claims(&verifier, &Nonce::new("n-1".into()))
            .map(|c| assert_eq!(c.subject().as_str(), "user-1"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn generated_keys_sign_tokens_that_verify_against_their_published_jwk() {
        for alg in Alg::ALL {
            let key = generate(alg).unwrap();
            assert_eq!(key.public_jwk["kid"], key.kid.as_str());
            assert_eq!(key.public_jwk["use"], "sig");
            assert_eq!(key.public_jwk["alg"], alg.as_str());
            assert!(key.public_jwk.get("d").is_none(), "no private member");
            let other = generate(alg).unwrap();
            assert_ne!(key.kid, other.kid);
            sign_and_verify(&key, json!({ "keys": [key.public_jwk, other.public_jwk] })).unwrap();
            // Against another key's set only: refused.
            assert!(sign_and_verify(&key, json!({ "keys": [other.public_jwk] })).is_err());
        }
    }

    #[test]
    fn jwks_members_are_what_each_key_type_needs() {
        let rsa = generate(Alg::Rs256).unwrap().public_jwk;
        assert_eq!(rsa["kty"], "RSA");
        assert_eq!(rsa["e"], "AQAB");
        // 2048 bits: 256 bytes, 342 base64url characters.
        assert_eq!(rsa["n"].as_str().unwrap().len(), 342);
        let ed = generate(Alg::EdDsa).unwrap().public_jwk;
        assert_eq!(ed["kty"], "OKP");
        assert_eq!(ed["crv"], "Ed25519");
        assert_eq!(ed["x"].as_str().unwrap().len(), 43);
        assert!(ed.get("n").is_none());
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(&[("e", "AQAB"), ("kty", "RSA"), ("n", n)]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn algorithms_parse_by_their_jose_names_only() {
        assert_eq!(Alg::parse("RS256").unwrap(), Alg::Rs256);
        assert_eq!(Alg::parse("eddsa").unwrap(), Alg::EdDsa);
        for bad in ["", "HS256", "none", "ES256", "RS512"] {
            assert!(
                matches!(Alg::parse(bad), Err(OidcError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn private_keys_are_sealed_under_secret_key_and_refused_unsealed() {
        let key = generate(Alg::EdDsa).unwrap();
        let one = OutboxKey::derive_for(&Secret::new("one"), SEAL_PURPOSE);
        let sealed = one.seal(&key.private_pem);
        assert!(!sealed.contains("PRIVATE KEY"));
        assert_eq!(open_sealed(&one, &sealed).unwrap(), key.private_pem);
        let other = OutboxKey::derive_for(&Secret::new("other"), SEAL_PURPOSE);
        assert!(matches!(
            open_sealed(&other, &sealed),
            Err(OidcError::Key(_))
        ));
        // Not the mail outbox's key, though derived from the same secret.
        let outbox = OutboxKey::derive(&Secret::new("one"));
        assert!(open_sealed(&outbox, &sealed).is_err());
        assert!(open_sealed(&one, &key.private_pem).is_err());
    }
}
