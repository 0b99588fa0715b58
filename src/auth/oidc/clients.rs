//! The apps (relying parties) registered with Latchkey's OpenID Connect provider: create,
//! list, rotate a secret, delete, and check a presented secret.
//!
//! A confidential client's secret is 32 random bytes (URL-safe base64), shown once when it
//! is made and stored only as its SHA-256 digest ([`crate::crypto::digest`]); a public
//! client (a single-page or native app, which will use PKCE) has none. Redirect URIs are
//! kept exactly as given, to be matched exactly.

use chrono::NaiveDateTime;
use diesel::Connection;
use serde::Serialize;

use super::keys::Alg;
use super::OidcError;
use crate::auth::events::SecurityEvent;
use crate::auth::login::ClientInfo;
use crate::auth::services::Services;
use crate::crypto::{constant_time_eq, digest, random_token};
use crate::db;
use crate::db::oidc::{self, NewOidcClient, OidcClientRow};

/// The scopes a client may ask for when none are named.
pub const DEFAULT_SCOPES: &str = "openid email profile";
/// Longest redirect URI accepted.
const MAX_URI_LEN: usize = 2000;
/// Longest client name accepted (the column's width).
const MAX_NAME_LEN: usize = 255;

/// What registering a client takes.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    /// At least one; each absolute, `https` (or `http` on `localhost` / `127.0.0.1`), no
    /// fragment.
    pub redirect_uris: Vec<String>,
    /// Where the app may be sent after signing out (same rules), possibly none.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for (each may hold several, space-separated); empty for
    /// [`DEFAULT_SCOPES`]. `openid` must be among them.
    pub scopes: Vec<String>,
    /// A public client: no secret.
    pub public: bool,
    /// What its ID tokens are signed with: `RS256` (`None`), or `EdDSA` for a client that
    /// verifies Ed25519.
    pub id_token_alg: Option<Alg>,
}

/// A registered client, as the rules and commands show it (never a secret or its digest).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub is_public: bool,
    pub created_at: NaiveDateTime,
    pub secret_rotated_at: Option<NaiveDateTime>,
    /// What its ID tokens are signed with.
    pub id_token_alg: Alg,
    /// The stored digest, for [`verify_secret`]; never serialised.
    #[serde(skip)]
    secret_digest: Option<String>,
}

impl Client {
    fn from_row(row: OidcClientRow) -> Result<Self, OidcError> {
        let list = |raw: &str| {
            serde_json::from_str::<Vec<String>>(raw).map_err(|e| {
                OidcError::Invalid(format!(
                    "client {}: a stored URI list is not a JSON list of strings: {e}",
                    row.client_id
                ))
            })
        };
        Ok(Self {
            redirect_uris: list(&row.redirect_uris)?,
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris)?,
            scopes: row.scopes.split_whitespace().map(str::to_owned).collect(),
            client_id: row.client_id,
            name: row.name,
            is_public: row.is_public,
            created_at: row.created_at,
            secret_rotated_at: row.secret_rotated_at,
            id_token_alg: Alg::parse(&row.id_token_alg)?,
            secret_digest: row.secret_digest,
        })
    }

    /// Whether `presented` is this client's secret (constant time; never for a public
    /// client).
    pub fn verify_secret(&self, presented: &str) -> bool {
        verify_secret(self.secret_digest.as_deref(), presented)
    }
}

/// A client just registered, with its secret: the only time the secret is seen.
#[derive(Debug, Clone)]
pub struct Created {
    pub client: Client,
    /// `None` for a public client.
    pub secret: Option<String>,
}

/// Whether `presented` is the secret whose digest is `stored`: the digests are compared in
/// constant time. A client without a stored digest (public) has no secret to match.
pub fn verify_secret(stored: Option<&str>, presented: &str) -> bool {
    match stored {
        Some(stored) => constant_time_eq(&digest(presented), stored),
        None => false,
    }
}

/// A new client secret: 32 random bytes, URL-safe base64 without padding.
fn new_secret() -> String {
    random_token(32)
}

/// Checks one redirect (or post-logout redirect) URI: absolute, `https`, or `http` on
/// `localhost` / `127.0.0.1` only (a developer's machine), no fragment, no whitespace.
/// The string itself is what is stored and later matched, exactly.
pub fn validate_redirect_uri(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        return Err("a redirect URI may not be empty".to_owned());
    }
    if raw.len() > MAX_URI_LEN {
        return Err(format!(
            "redirect URI is longer than {MAX_URI_LEN} characters"
        ));
    }
    // The URL parser would drop surrounding whitespace and tabs silently; the stored string
    // would then not be the URI that is checked.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("redirect URI {raw:?} contains whitespace"));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| format!("redirect URI {raw:?} is not an absolute URI: {e}"))?;
    if raw.contains('#') || url.fragment().is_some() {
        return Err(format!("redirect URI {raw:?} may not have a fragment"));
    }
    let host = url.host_str().unwrap_or_default();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if host == "localhost" || host == "127.0.0.1" => Ok(()),
        "http" => Err(format!(
            "redirect URI {raw:?} must use https (http only on localhost or 127.0.0.1)"
        )),
        _ => Err(format!(
            "redirect URI {raw:?} must be an https URL (or http on localhost or 127.0.0.1)"
        )),
    }
}

/// The scopes, split on spaces, each a valid scope token (RFC 6749 §3.3), without
/// repeats, in the order given; [`DEFAULT_SCOPES`] when none. `openid` must be one.
pub fn parse_scopes(given: &[String]) -> Result<Vec<String>, String> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in given
        .iter()
        .flat_map(|s| s.split(' '))
        .filter(|s| !s.is_empty())
    {
        let valid = scope
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(format!("scope {scope:?} is not a valid scope token"));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if scopes.is_empty() {
        return Ok(DEFAULT_SCOPES.split(' ').map(str::to_owned).collect());
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err("the scopes must include openid".to_owned());
    }
    Ok(scopes)
}

fn validate_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("a client needs a name".to_owned());
    }
    if name.chars().count() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(format!(
            "a client name is at most {MAX_NAME_LEN} characters, without control characters"
        ));
    }
    Ok(name.to_owned())
}

/// Checks what registering a client takes: its name, URIs and scopes as they will be
/// stored.
fn validated(new: &NewClient) -> Result<(String, Vec<String>), OidcError> {
    let name = validate_name(&new.name).map_err(OidcError::Invalid)?;
    if new.redirect_uris.is_empty() {
        return Err(OidcError::Invalid(
            "a client needs at least one redirect URI".to_owned(),
        ));
    }
    for uri in new
        .redirect_uris
        .iter()
        .chain(&new.post_logout_redirect_uris)
    {
        validate_redirect_uri(uri).map_err(OidcError::Invalid)?;
    }
    let scopes = parse_scopes(&new.scopes).map_err(OidcError::Invalid)?;
    Ok((name, scopes))
}

fn dedup(uris: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for uri in uris {
        if !out.contains(uri) {
            out.push(uri.clone());
        }
    }
    out
}

/// Registers a client: a new random `client_id` and (unless public) a new secret, shown
/// once in the answer. Emits `oidc_client_created`.
pub async fn create(
    services: &Services,
    new: NewClient,
    client: &ClientInfo,
) -> Result<Created, OidcError> {
    let (name, scopes) = validated(&new)?;
    let redirect_uris = dedup(&new.redirect_uris);
    let post_logout = dedup(&new.post_logout_redirect_uris);
    let json = |list: &Vec<String>| {
        serde_json::to_string(list).map_err(|e| OidcError::Invalid(e.to_string()))
    };
    let (redirect_json, post_logout_json) = (json(&redirect_uris)?, json(&post_logout)?);
    let secret = (!new.public).then(new_secret);
    let created = Client {
        client_id: random_token(18),
        name,
        redirect_uris,
        post_logout_redirect_uris: post_logout,
        scopes,
        is_public: new.public,
        created_at: db::now(),
        secret_rotated_at: None,
        id_token_alg: new.id_token_alg.unwrap_or(Alg::Rs256),
        secret_digest: secret.as_deref().map(digest),
    };
    let row = created.clone();
    services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, OidcError, _>(|conn| {
                oidc::insert_client(
                    conn,
                    &NewOidcClient {
                        client_id: &row.client_id,
                        name: &row.name,
                        secret_digest: row.secret_digest.as_deref(),
                        redirect_uris: &redirect_json,
                        post_logout_redirect_uris: &post_logout_json,
                        scopes: &row.scopes.join(" "),
                        is_public: row.is_public,
                        created_at: row.created_at,
                        id_token_alg: row.id_token_alg.as_str(),
                    },
                )?;
                Ok(())
            })
        })
        .await?;
    tracing::info!(event = "oidc_client_created", client_id = %created.client_id,
        public = created.is_public, "OpenID Connect client registered");
    services.emit(
        SecurityEvent::OidcClientCreated {
            client_id: created.client_id.clone(),
        },
        None,
        client,
    );
    Ok(Created {
        client: created,
        secret,
    })
}

/// Every registered client, oldest first.
pub async fn list(services: &Services) -> Result<Vec<Client>, OidcError> {
    services
        .db
        .run(oidc::list_clients)
        .await?
        .into_iter()
        .map(Client::from_row)
        .collect()
}

/// The client with this `client_id`, if registered.
pub async fn find(services: &Services, client_id: &str) -> Result<Option<Client>, OidcError> {
    let id = client_id.to_owned();
    services
        .db
        .run(move |conn| oidc::find_client(conn, &id))
        .await?
        .map(Client::from_row)
        .transpose()
}

/// Gives a confidential client a new secret (the old one stops working at once): the new
/// secret, shown once. Emits `oidc_client_secret_rotated`.
pub async fn rotate_secret(
    services: &Services,
    client_id: &str,
    client: &ClientInfo,
) -> Result<String, OidcError> {
    let secret = new_secret();
    let secret_digest = digest(&secret);
    let id = client_id.to_owned();
    services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, OidcError, _>(|conn| {
                let found = oidc::find_client(conn, &id)?
                    .ok_or_else(|| OidcError::UnknownClient(id.clone()))?;
                if found.is_public {
                    return Err(OidcError::PublicClient(id.clone()));
                }
                if !oidc::set_secret(conn, &id, &secret_digest, db::now())? {
                    return Err(OidcError::UnknownClient(id.clone()));
                }
                Ok(())
            })
        })
        .await?;
    tracing::info!(event = "oidc_client_secret_rotated", client_id = %client_id,
        "OpenID Connect client secret rotated");
    services.emit(
        SecurityEvent::OidcClientSecretRotated {
            client_id: client_id.to_owned(),
        },
        None,
        client,
    );
    Ok(secret)
}

/// Deletes a client. Emits `oidc_client_deleted`.
pub async fn delete(
    services: &Services,
    client_id: &str,
    client: &ClientInfo,
) -> Result<(), OidcError> {
    let id = client_id.to_owned();
    services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, OidcError, _>(|conn| {
                if oidc::delete_client(conn, &id)? {
                    Ok(())
                } else {
                    Err(OidcError::UnknownClient(id.clone()))
                }
            })
        })
        .await?;
    tracing::info!(event = "oidc_client_deleted", client_id = %client_id,
        "OpenID Connect client deleted");
    services.emit(
        SecurityEvent::OidcClientDeleted {
            client_id: client_id.to_owned(),
        },
        None,
        client,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_absolute_and_without_fragment() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?x=1",
            "http://localhost:3000/callback",
            "http://127.0.0.1/cb",
        ] {
            assert_eq!(validate_redirect_uri(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/callback",
            "app.example.com/callback",
            "http://app.example.com/callback",
            "http://localhost.evil.com/cb",
            "http://127.0.0.2/cb",
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb#",
            "ftp://app.example.com/cb",
            "javascript:alert(1)",
            "custom.scheme:/cb",
            " https://app.example.com/cb",
            "https://app.example.com/c b",
            "https://app.example.com/cb\t",
        ] {
            assert!(validate_redirect_uri(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("https://a.example/{}", "x".repeat(MAX_URI_LEN));
        assert!(validate_redirect_uri(&long).is_err());
    }

    #[test]
    fn scopes_default_split_dedupe_and_need_openid() {
        assert_eq!(parse_scopes(&[]).unwrap(), ["openid", "email", "profile"]);
        assert_eq!(
            parse_scopes(&["openid email".into(), "roles".into(), "email".into()]).unwrap(),
            ["openid", "email", "roles"]
        );
        assert!(parse_scopes(&["email".into()]).is_err());
        assert!(parse_scopes(&["openid".into(), "a\"b".into()]).is_err());
        assert!(parse_scopes(&["openid".into(), "caf\u{e9}".into()]).is_err());
    }

    #[test]
    fn a_client_needs_a_name_and_a_redirect_uri() {
        let base = NewClient {
            name: "Grafana".into(),
            redirect_uris: vec!["https://grafana.example/login/generic_oauth".into()],
            ..NewClient::default()
        };
        assert!(validated(&base).is_ok());
        let mut no_name = base.clone();
        no_name.name = "  ".into();
        assert!(matches!(validated(&no_name), Err(OidcError::Invalid(_))));
        let mut no_uri = base.clone();
        no_uri.redirect_uris.clear();
        assert!(matches!(validated(&no_uri), Err(OidcError::Invalid(_))));
        let mut bad_logout = base;
        bad_logout.post_logout_redirect_uris = vec!["http://grafana.example/".into()];
        assert!(matches!(validated(&bad_logout), Err(OidcError::Invalid(_))));
    }

    #[test]
    fn secrets_are_32_random_bytes_and_verify_against_their_digest_only() {
        let secret = new_secret();
        assert_eq!(secret.len(), 43);
        assert!(secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(secret, new_secret());
        let stored = digest(&secret);
        assert!(verify_secret(Some(&stored), &secret));
        assert!(!verify_secret(Some(&stored), &new_secret()));
        assert!(!verify_secret(Some(&stored), ""));
        assert!(
            !verify_secret(Some(&stored), &stored),
            "the digest is not the secret"
        );
        assert!(
            !verify_secret(None, &secret),
            "a public client has no secret"
        );
        assert!(!verify_secret(None, ""));
    }
}
