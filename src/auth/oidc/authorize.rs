//! The authorization endpoint's rules: checking an authorization request (OpenID Connect
//! Core 3.1.2.1, OAuth 2.1), deciding what the signed-in person must do next (sign in,
//! prove themselves again, agree to share), and issuing the code.
//!
//! Only the authorization code flow: `response_type=code`. The redirect URI must be one of
//! the client's exactly (an error before it is known is shown, never redirected to). PKCE
//! with S256 is required of public clients and accepted from all; `plain` is refused. The
//! code is 32 random bytes, kept as its digest, single-use, bound to the client, redirect
//! URI, PKCE challenge and nonce, and lives [`CODE_TTL_SECS`].

use chrono::NaiveDateTime;

use super::clients::{self, Client};
use super::OidcError;
use crate::auth::login::CurrentUser;
use crate::auth::services::Services;
use crate::crypto::{digest, random_token};
use crate::db;
use crate::db::oidc_grants::{self, GrantRow};

/// How long a code lives.
pub const CODE_TTL_SECS: i64 = 60;
/// The longest `state` and `nonce` accepted.
const MAX_PARAM_LEN: usize = 255;

/// An authorization request's parameters, as sent (query or form).
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub response_mode: Option<String>,
}

/// A request that cannot be answered at the client's redirect URI: shown to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unredirectable {
    /// OAuth's error code (`invalid_request`, `invalid_client`).
    pub error: &'static str,
    pub description: String,
}

/// An error answered at the client's (registered) redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirected {
    pub redirect_uri: String,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    Shown(Unredirectable),
    Redirect(Redirected),
}

/// A request that passed the checks.
#[derive(Debug, Clone)]
pub struct Checked {
    pub client: Client,
    pub redirect_uri: String,
    /// The scopes asked for, `openid` first, each once.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `prompt=login`: a fresh proof is wanted, whatever the login's age.
    pub prompt_login: bool,
    /// `prompt=none`: nothing may be shown.
    pub prompt_none: bool,
    /// `prompt=consent`: ask again even if agreed before.
    pub prompt_consent: bool,
    /// `max_age`, in seconds.
    pub max_age: Option<i64>,
}

impl Checked {
    /// An error for this request, answered at its redirect URI.
    pub fn error(&self, error: &'static str, description: &str) -> Redirected {
        Redirected {
            redirect_uri: self.redirect_uri.clone(),
            error,
            description: description.to_owned(),
            state: self.state.clone(),
        }
    }
}

fn shown(error: &'static str, description: &str) -> AuthorizeError {
    AuthorizeError::Shown(Unredirectable {
        error,
        description: description.to_owned(),
    })
}

fn present(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// Checks an authorization request: the client and redirect URI first (errors before
/// they are known are shown), then the rest (errors go back to the redirect URI).
pub async fn check(
    services: &Services,
    params: &AuthorizeParams,
) -> Result<Checked, AuthorizeError> {
    let client_id = present(&params.client_id)
        .ok_or_else(|| shown("invalid_request", "client_id is missing"))?;
    let client = clients::find(services, client_id)
        .await
        .map_err(|_| shown("server_error", "the client could not be looked up"))?
        .ok_or_else(|| shown("invalid_client", "no client has this client_id"))?;
    let redirect_uri = present(&params.redirect_uri)
        .ok_or_else(|| shown("invalid_request", "redirect_uri is missing"))?;
    // Exact, byte for byte: no prefix, no extra path or query, no case folding.
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(shown(
            "invalid_request",
            "redirect_uri is not one of this client's registered redirect URIs",
        ));
    }
    let mut checked = Checked {
        client,
        redirect_uri: redirect_uri.to_owned(),
        scopes: Vec::new(),
        state: params.state.clone().filter(|s| !s.is_empty()),
        nonce: present(&params.nonce).map(str::to_owned),
        code_challenge: None,
        prompt_login: false,
        prompt_none: false,
        prompt_consent: false,
        max_age: None,
    };
    let refuse = |c: &Checked, error, description: &str| {
        Err(AuthorizeError::Redirect(c.error(error, description)))
    };
    if checked
        .state
        .as_ref()
        .is_some_and(|s| s.len() > MAX_PARAM_LEN)
        || checked
            .nonce
            .as_ref()
            .is_some_and(|s| s.len() > MAX_PARAM_LEN)
    {
        checked.state = None;
        return refuse(&checked, "invalid_request", "state or nonce is too long");
    }
    match present(&params.response_type) {
        Some("code") => {}
        None => return refuse(&checked, "invalid_request", "response_type is missing"),
        Some(_) => {
            return refuse(
                &checked,
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if present(&params.response_mode).is_some_and(|m| m != "query") {
        return refuse(
            &checked,
            "invalid_request",
            "only response_mode=query is supported",
        );
    }
    let asked: Vec<&str> = present(&params.scope)
        .unwrap_or_default()
        .split_ascii_whitespace()
        .collect();
    if !asked.contains(&"openid") {
        return refuse(&checked, "invalid_scope", "the openid scope is required");
    }
    if let Some(extra) = asked
        .iter()
        .find(|s| !checked.client.scopes.iter().any(|a| a == *s))
    {
        let description = format!("this client may not ask for the scope {extra}");
        return refuse(&checked, "invalid_scope", &description);
    }
    let mut scopes = vec!["openid".to_owned()];
    for scope in asked {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    checked.scopes = scopes;
    match (
        present(&params.code_challenge),
        present(&params.code_challenge_method),
    ) {
        (None, None) if checked.client.is_public => {
            return refuse(
                &checked,
                "invalid_request",
                "a public client must send a PKCE code_challenge (S256)",
            )
        }
        (None, None) => {}
        (None, Some(_)) => return refuse(&checked, "invalid_request", "code_challenge is missing"),
        (Some(challenge), Some("S256")) if is_s256_challenge(challenge) => {
            checked.code_challenge = Some(challenge.to_owned());
        }
        (Some(_), Some("S256")) => {
            return refuse(
                &checked,
                "invalid_request",
                "code_challenge is not an S256 value",
            )
        }
        (Some(_), _) => {
            return refuse(
                &checked,
                "invalid_request",
                "code_challenge_method must be S256",
            )
        }
    }
    for prompt in present(&params.prompt)
        .unwrap_or_default()
        .split_ascii_whitespace()
    {
        match prompt {
            "login" => checked.prompt_login = true,
            "none" => checked.prompt_none = true,
            "consent" => checked.prompt_consent = true,
            "select_account" => {}
            _ => return refuse(&checked, "invalid_request", "unknown prompt value"),
        }
    }
    if checked.prompt_none && (checked.prompt_login || checked.prompt_consent) {
        return refuse(&checked, "invalid_request", "prompt=none stands alone");
    }
    if let Some(raw) = present(&params.max_age) {
        match raw.parse::<i64>() {
            Ok(age) if age >= 0 => checked.max_age = Some(age),
            _ => {
                return refuse(
                    &checked,
                    "invalid_request",
                    "max_age is not a number of seconds",
                )
            }
        }
    }
    Ok(checked)
}

/// An S256 challenge: 43 characters of base64url (RFC 7636 4.2).
fn is_s256_challenge(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the person must do before the code is issued.
#[derive(Debug)]
pub enum Next {
    /// Sign in (nobody is), or prove themselves again (`prompt=login`, `max_age`).
    SignIn,
    /// Agree to share the scopes with the app.
    Consent,
    /// Nothing: here is where the browser goes, with the code.
    Redirect(String),
    /// An error for the app (`prompt=none` that cannot be met).
    Refused(Redirected),
}

/// How long a fresh proof counts for `prompt=login` (the person is sent to prove
/// themselves, then back: the request is then answered if the proof is this recent).
pub const PROMPT_LOGIN_WINDOW_SECS: i64 = 300;

/// Whether the login is recent enough for the request (`max_age`, `prompt=login`).
pub fn fresh_enough(
    checked: &Checked,
    authenticated_at: NaiveDateTime,
    now: NaiveDateTime,
) -> bool {
    let age = (now - authenticated_at).num_seconds();
    let limit = match (checked.prompt_login, checked.max_age) {
        (true, Some(max)) => max.min(PROMPT_LOGIN_WINDOW_SECS),
        (true, None) => PROMPT_LOGIN_WINDOW_SECS,
        (false, Some(max)) => max,
        (false, None) => return true,
    };
    age <= limit
}

/// What follows a checked request for `current` (`None`: nobody is signed in).
/// `agreed`: the person has just agreed on the consent page.
pub async fn decide(
    services: &Services,
    checked: &Checked,
    current: Option<&CurrentUser>,
    agreed: bool,
) -> Result<Next, OidcError> {
    let Some(current) = current.filter(|c| c.via_token.is_none()) else {
        return Ok(if checked.prompt_none {
            Next::Refused(checked.error("login_required", "nobody is signed in"))
        } else {
            Next::SignIn
        });
    };
    if !fresh_enough(checked, current.authenticated_at, db::now()) {
        return Ok(if checked.prompt_none {
            Next::Refused(checked.error("login_required", "the sign-in is too old"))
        } else {
            Next::SignIn
        });
    }
    let wanted = checked.scopes.join(" ");
    let (user_id, client_id) = (current.user.id, checked.client.client_id.clone());
    if agreed {
        let scope = wanted.clone();
        services
            .db
            .run_with(move |conn| {
                let key = format!("oidc:user:{user_id}");
                db::exclusive_transaction::<_, db::DbError, _>(conn, &[&key], |conn| {
                    oidc_grants::set_consent(conn, user_id, &client_id, &scope, db::now())
                })
            })
            .await?;
    } else {
        let given = services
            .db
            .run(move |conn| oidc_grants::consent(conn, user_id, &client_id))
            .await?;
        let covers = given.is_some_and(|g| {
            let given: Vec<&str> = g.scope.split_ascii_whitespace().collect();
            checked.scopes.iter().all(|s| given.contains(&s.as_str()))
        });
        if !covers || checked.prompt_consent {
            return Ok(if checked.prompt_none {
                Next::Refused(checked.error("consent_required", "the person has not agreed"))
            } else {
                Next::Consent
            });
        }
    }
    let code = issue_code(services, checked, current).await?;
    Ok(Next::Redirect(answer_url(
        &checked.redirect_uri,
        &[
            ("code", Some(code.as_str())),
            ("state", checked.state.as_deref()),
            ("iss", Some(issuer(services))),
        ],
    )))
}

/// The person declined: the app is told `access_denied`.
pub fn declined(checked: &Checked) -> Redirected {
    checked.error("access_denied", "the person declined")
}

/// The issuer: `BASE_URL`.
pub fn issuer(services: &Services) -> &str {
    services.settings.base_url.trim_end_matches('/')
}

/// `redirect_uri` with `params` added to its query (RFC 6749 4.1.2, RFC 9207's `iss`).
pub fn answer_url(redirect_uri: &str, params: &[(&str, Option<&str>)]) -> String {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        // Registered URIs were parsed when registered; this is not reached.
        return redirect_uri.to_owned();
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
    }
    url.to_string()
}

/// The error answer at the redirect URI.
pub fn error_url(redirected: &Redirected, services: &Services) -> String {
    answer_url(
        &redirected.redirect_uri,
        &[
            ("error", Some(redirected.error)),
            ("error_description", Some(redirected.description.as_str())),
            ("state", redirected.state.as_deref()),
            ("iss", Some(issuer(services))),
        ],
    )
}

/// Issues a code for the checked request and `current`'s login: its digest stored with what
/// it is bound to (the tokens bought with it are the security event).
async fn issue_code(
    services: &Services,
    checked: &Checked,
    current: &CurrentUser,
) -> Result<String, OidcError> {
    let code = random_token(32);
    let now = db::now();
    let mut grant = GrantRow {
        id: 0,
        family: random_token(18),
        code_digest: digest(&code),
        client_id: checked.client.client_id.clone(),
        user_id: current.user.id,
        redirect_uri: checked.redirect_uri.clone(),
        scope: checked.scopes.join(" "),
        nonce: checked.nonce.clone(),
        code_challenge: checked.code_challenge.clone(),
        auth_time: current.authenticated_at,
        amr: String::new(),
        created_at: now,
        code_expires_at: now + chrono::Duration::seconds(CODE_TTL_SECS),
        code_used_at: None,
        revoked_at: None,
    };
    let login = current.session_id.clone();
    services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:user:{}", grant.user_id)],
                |conn| {
                    // A login from before `amr` was recorded was proved by its password or more:
                    // `pwd` claims no more than that.
                    grant.amr =
                        oidc_grants::login_amr(conn, &login)?.unwrap_or_else(|| "pwd".into());
                    oidc_grants::insert_grant(conn, &grant)
                },
            )
        })
        .await?;
    tracing::info!(event = "oidc_code_issued", user_id = current.user.id,
        client_id = %checked.client.client_id, "authorization code issued");
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_url_keeps_the_registered_query_and_adds_the_answer() {
        let url = answer_url(
            "https://app.example/cb?tenant=a",
            &[
                ("code", Some("c 1")),
                ("state", None),
                ("iss", Some("https://id.example")),
            ],
        );
        assert_eq!(
            url,
            "https://app.example/cb?tenant=a&code=c+1&iss=https%3A%2F%2Fid.example"
        );
    }

    #[test]
    fn s256_challenges_are_43_base64url_characters() {
        assert!(is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"
        ));
        assert!(!is_s256_challenge(
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"
        ));
    }
}
