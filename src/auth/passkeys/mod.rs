//! Passkeys (WebAuthn), Flask-Security's `SECURITY_WEBAUTHN`: registering one, signing in
//! with one (on its own, or as the second factor after the password), re-authenticating
//! with one, and Latchkey's own sign-up with a passkey and no password.
//!
//! The WebAuthn checks themselves (challenge, origin, relying party, signature, counter,
//! user verification) are webauthn-rs's ([`webauthn_rs_core`]); this module decides which
//! passkey may be used for what, and keeps the rows in Flask-Security's `webauthn` table.
//!
//! Where it is stricter than Flask-Security:
//! - a ceremony is a row of its own ([`crate::db::passkeys::take_ceremony`]): it finishes
//!   once, in the session that began it, before it expires. A replayed answer finds nothing,
//!   even from an authenticator whose counter stays at 0;
//! - a counter that does not move forward is refused and logged as a possible copy;
//! - every answer is checked through the login throttle ([`super::authenticate`]);
//! - the relying party is `BASE_URL`'s, never the request's `Host`.

pub mod cose;
pub mod signup;

use super::events::SecurityEvent;
use super::login::ClientInfo;
use super::notices::{self, Notice};
use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs_core::error::WebauthnError;
use webauthn_rs_core::proto::{
    AttestationConveyancePreference, AttestationFormat, AuthenticationState,
    AuthenticatorTransport, COSEAlgorithm, Credential, PublicKeyCredential,
    RegisterPublicKeyCredential, RegistrationState, RequestRegistrationExtensions,
    UserVerificationPolicy,
};
use webauthn_rs_core::WebauthnCore;

use super::authenticate::{check_counted, may_sign_in, Attempt, Checked, LoginFailure};
use super::error::ServiceError;
use super::services::Services;
use super::throttle;
use crate::config::WebAuthnSettings;
use crate::crypto::{derive_key, keyed_digest, new_uniquifier, random_token};
use crate::db::models::{Ceremony, NewPasskey, Passkey, User};
use crate::db::{self, passkeys, users};
use crate::domain::FormErrors;
use crate::messages::{self, Described, Messages, Msg};

/// What a passkey was registered for (Flask-Security's `usage` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Usage {
    /// Signs in on its own.
    First,
    /// A second factor, after the password.
    Secondary,
}

impl Usage {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "first" => Some(Usage::First),
            "secondary" => Some(Usage::Secondary),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Usage::First => "first",
            Usage::Secondary => "secondary",
        }
    }
}

/// What a sign-in ceremony proves. A ceremony finishes only as what it began as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Signing in with a `first` passkey.
    SignIn,
    /// The second factor of a login whose password is proved (a `secondary` passkey).
    SecondFactor,
    /// Re-authenticating a logged-in user (`SECURITY_WAN_ALLOW_AS_VERIFY`).
    Verify,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "signin",
            Purpose::SecondFactor => "second_factor",
            Purpose::Verify => "verify",
        }
    }

    /// The usages a passkey may have to be accepted for this purpose.
    fn usages(self, settings: &WebAuthnSettings) -> Vec<String> {
        match self {
            Purpose::SignIn => vec!["first".to_owned()],
            Purpose::SecondFactor => vec!["secondary".to_owned()],
            Purpose::Verify => settings.allow_as_verify.clone(),
        }
    }
}

const REGISTER: &str = "register";
const SIGN_UP: &str = "signup";

/// What a ceremony keeps between its two requests (JSON in `webauthn_ceremony.state`).
#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum CeremonyState {
    Register {
        name: String,
        usage: Usage,
        state: RegistrationState,
    },
    SignUp {
        email: String,
        username: Option<String>,
        handle: String,
        name: String,
        /// Whether the welcome mail may go (the address's share, decided at the start).
        send_mail: bool,
        state: RegistrationState,
    },
    Authenticate {
        state: AuthenticationState,
    },
}

/// A begun ceremony: the options for `navigator.credentials` and the token that finishes it
/// (Flask-Security's `wan_state`).
#[derive(Debug, Clone)]
pub struct Begun {
    pub options: Value,
    pub state_token: String,
}

/// Why a passkey operation was refused, in Flask-Security's words where it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NameRequired,
    /// Markup, or what Flask-Security's HTML sanitiser would change (`INVALID_INPUT`).
    NameInvalid,
    NameDisallowed,
    NameTooLong(usize),
    NameInUse(String),
    NameNotFound(String),
    UsageInvalid,
    /// The answer is missing or not a WebAuthn credential.
    ApiError,
    /// The state token is unknown, used, or of another session.
    InvalidState,
    Expired(Duration),
    CredentialInUse,
    UnknownCredential,
    WrongUsage,
    UserHandleMismatch,
    /// The WebAuthn checks failed; the cause as Flask-Security words it.
    NotVerified(&'static str),
    /// The signature counter did not move forward: the passkey may have been copied.
    PossibleClone,
    /// The account may not sign in (disabled, or unconfirmed where confirmation is needed).
    Login(LoginFailure),
    /// Deleting it would leave an account without a password no way to sign in.
    LastSignInMethod,
}

impl Refusal {
    /// The form field the message belongs to (`""`: the whole form).
    pub fn field(&self) -> &'static str {
        match self {
            Refusal::NameRequired
            | Refusal::NameInvalid
            | Refusal::NameDisallowed
            | Refusal::NameTooLong(_)
            | Refusal::NameInUse(_)
            | Refusal::NameNotFound(_)
            | Refusal::LastSignInMethod => "name",
            Refusal::UsageInvalid => "usage",
            Refusal::InvalidState | Refusal::Expired(_) => "",
            _ => "credential",
        }
    }

    pub fn to_form_errors(&self, messages: &Messages) -> FormErrors {
        let text = messages.describe(self);
        let mut errors = FormErrors::default();
        match self.field() {
            "" => errors.add_general(text),
            field => errors.add(field, text),
        }
        errors
    }
}

impl Described for Refusal {
    fn described(&self) -> (Msg, Vec<(&'static str, String)>) {
        let none = Vec::new;
        match self {
            Refusal::NameRequired => (messages::WEBAUTHN_NAME_REQUIRED, none()),
            Refusal::NameInvalid => (messages::INVALID_INPUT, none()),
            Refusal::NameDisallowed => (messages::WEBAUTHN_NAME_DISALLOWED_CHARACTERS, none()),
            Refusal::NameTooLong(n) => (
                messages::INVALID_INPUT_LENGTH,
                vec![("length", n.to_string())],
            ),
            Refusal::NameInUse(name) => {
                (messages::WEBAUTHN_NAME_INUSE, vec![("name", name.clone())])
            }
            Refusal::NameNotFound(name) => (
                messages::WEBAUTHN_NAME_NOT_FOUND,
                vec![("name", name.clone())],
            ),
            Refusal::UsageInvalid | Refusal::ApiError | Refusal::InvalidState => {
                (messages::API_ERROR, none())
            }
            Refusal::Expired(within) => (
                messages::WEBAUTHN_EXPIRED,
                vec![("within", messages::describe_period(*within))],
            ),
            Refusal::CredentialInUse => (messages::WEBAUTHN_CREDENTIAL_ID_INUSE, none()),
            Refusal::UnknownCredential => (messages::WEBAUTHN_UNKNOWN_CREDENTIAL_ID, none()),
            Refusal::WrongUsage => (messages::WEBAUTHN_CREDENTIAL_WRONG_USAGE, none()),
            Refusal::UserHandleMismatch => (messages::WEBAUTHN_MISMATCH_USER_HANDLE, none()),
            Refusal::NotVerified(cause) => (
                messages::WEBAUTHN_NO_VERIFY,
                vec![("cause", (*cause).to_owned())],
            ),
            Refusal::PossibleClone => (messages::WEBAUTHN_POSSIBLE_CLONE, none()),
            Refusal::Login(failure) => (failure.msg(), none()),
            Refusal::LastSignInMethod => (messages::WEBAUTHN_LAST_SIGN_IN_METHOD, none()),
        }
    }
}

/// The cause of a failed WebAuthn check, as py_webauthn (Flask-Security) words it.
fn cause(e: &WebauthnError) -> &'static str {
    match e {
        WebauthnError::InvalidRPOrigin => "Unexpected client data origin",
        WebauthnError::InvalidRPIDHash => "Unexpected RP ID hash",
        WebauthnError::MismatchedChallenge => "Client data challenge was not expected challenge",
        WebauthnError::InvalidClientDataType => "Unexpected client data type",
        WebauthnError::UserNotPresent => "User was not present during authentication",
        WebauthnError::UserNotVerified => "User verification is required but user was not verified",
        WebauthnError::AuthenticationFailure => "Could not verify authentication signature",
        WebauthnError::CredentialPossibleCompromise => {
            "Response sign count was not greater than current count"
        }
        _ => "invalid response",
    }
}

// ---------------------------------------------------------------------------------------
// The relying party and the ceremony rows
// ---------------------------------------------------------------------------------------

fn relying_party(
    settings: &WebAuthnSettings,
    timeout: Duration,
) -> Result<WebauthnCore, ServiceError> {
    let origin = url::Url::parse(&settings.origin)
        .map_err(|e| ServiceError::Config(format!("BASE_URL: {e}")))?;
    // No subdomains, no other ports: exactly BASE_URL's origin.
    Ok(WebauthnCore::new_unsafe_experts_only(
        &settings.rp_name,
        &settings.rp_id,
        vec![origin],
        timeout,
        Some(false),
        Some(false),
    ))
}

/// What the `webauthn_ceremony` row stores for a session's binding: a keyed digest, so the
/// table does not hold what the session cookie holds.
fn binding_digest(services: &Services, binding: &str) -> String {
    keyed_digest(
        &derive_key(&services.settings.secret_key, "passkey-ceremony"),
        binding,
    )
}

fn token_digest(services: &Services, token: &str) -> String {
    keyed_digest(
        &derive_key(&services.settings.secret_key, "passkey-state"),
        token,
    )
}

/// A new value binding ceremonies to a browser session (kept in that session).
pub fn new_session_binding() -> String {
    random_token(32)
}

async fn store_ceremony(
    services: &Services,
    binding: &str,
    purpose: &str,
    user_id: Option<i32>,
    state: &CeremonyState,
    within: Duration,
) -> Result<String, ServiceError> {
    let token = random_token(32);
    let now = db::now();
    let row = Ceremony {
        token_hash: token_digest(services, &token),
        binding: binding_digest(services, binding),
        purpose: purpose.to_owned(),
        user_id,
        state: serde_json::to_string(state)
            .map_err(|e| ServiceError::Config(format!("passkey state: {e}")))?,
        created_at: now,
        expires_at: now + chrono::Duration::from_std(within).unwrap_or(chrono::Duration::MAX),
    };
    services
        .db
        .run(move |conn| {
            // Ceremonies nobody finished go as new ones begin.
            passkeys::purge_expired_ceremonies(conn, row.created_at)?;
            passkeys::begin_ceremony(conn, &row)
        })
        .await?;
    Ok(token)
}

/// Takes the ceremony `token` of this session, began for `purpose` (and `user_id`, when it
/// was a logged-in user's): used up whatever happens next.
async fn take_ceremony(
    services: &Services,
    token: &str,
    binding: &str,
    purpose: &str,
    user_id: Option<i32>,
    within: Duration,
) -> Result<Result<CeremonyState, Refusal>, ServiceError> {
    let token_hash = token_digest(services, token);
    let binding = binding_digest(services, binding);
    let found = services
        .db
        .run(move |conn| passkeys::take_ceremony(conn, &token_hash, &binding))
        .await?;
    let Some(ceremony) = found else {
        return Ok(Err(Refusal::InvalidState));
    };
    if ceremony.purpose != purpose || ceremony.user_id != user_id {
        return Ok(Err(Refusal::InvalidState));
    }
    if ceremony.expires_at <= db::now() {
        return Ok(Err(Refusal::Expired(within)));
    }
    Ok(serde_json::from_str(&ceremony.state).map_err(|_| Refusal::InvalidState))
}

// ---------------------------------------------------------------------------------------
// Rows ⇄ webauthn-rs credentials
// ---------------------------------------------------------------------------------------

/// A stored passkey as webauthn-rs checks it. Flask-Security keeps no "user verified at
/// registration" flag, so none is enforced beyond what each ceremony asks for.
fn credential_of(row: &Passkey) -> Result<Credential, cose::CoseError> {
    Ok(Credential {
        cred_id: row.credential_id.clone().into(),
        cred: cose::decode(&row.public_key)?,
        counter: u32::try_from(row.sign_count.unwrap_or(0)).unwrap_or(0),
        transports: row.transports.as_deref().map(parse_transports),
        user_verified: false,
        backup_eligible: row.device_type == "multi_device",
        backup_state: row.backup_state,
        registration_policy: UserVerificationPolicy::Preferred,
        extensions: Default::default(),
        attestation: Default::default(),
        attestation_format: AttestationFormat::None,
    })
}

fn parse_transports(stored: &str) -> Vec<AuthenticatorTransport> {
    stored
        .split(',')
        .filter_map(|t| t.trim().parse().ok())
        .collect()
}

fn transport_names(transports: &[AuthenticatorTransport]) -> String {
    transports
        .iter()
        .filter_map(|t| serde_json::to_value(t).ok())
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect::<Vec<_>>()
        .join(",")
}

/// Passkeys usable for `usages`, as webauthn-rs credentials (a row whose key cannot be read
/// is left out, and logged).
fn credentials_for(rows: &[Passkey], usages: &[String]) -> Vec<Credential> {
    rows.iter()
        .filter(|row| usages.contains(&row.usage))
        .filter_map(|row| match credential_of(row) {
            Ok(credential) => Some(credential),
            Err(e) => {
                tracing::warn!(passkey_id = row.id, error = %e, "unreadable passkey skipped");
                None
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------

/// A passkey's name, as Flask-Security cleans it (`name_svn`): trimmed, its characters
/// checked as typed against `SECURITY_WAN_NAME_ALLOWED_CHARS` (letters, numbers, connector
/// and dash punctuation, spaces by default), then normalised (`SECURITY_INPUT_NORMALIZE_FORM`,
/// NFKD by default) and its length counted.
pub fn clean_name(raw: &str, wan: &WebAuthnSettings) -> Result<String, Refusal> {
    if raw.trim().is_empty() {
        return Err(Refusal::NameRequired);
    }
    let name =
        crate::config::checked_input(raw, wan.name_allowed, wan.name_form).map_err(
            |e| match e {
                crate::config::InputRefusal::Illegal => Refusal::NameInvalid,
                crate::config::InputRefusal::Unallowed => Refusal::NameDisallowed,
            },
        )?;
    if name.chars().count() > wan.name_max_length {
        return Err(Refusal::NameTooLong(wan.name_max_length));
    }
    Ok(name)
}

// ---------------------------------------------------------------------------------------
// Listing, deleting, second factors
// ---------------------------------------------------------------------------------------

/// The passkeys of `user`, oldest first.
pub async fn list(services: &Services, user: &User) -> Result<Vec<Passkey>, ServiceError> {
    let id = user.id;
    Ok(services
        .db
        .run(move |conn| passkeys::for_user(conn, id))
        .await?)
}

/// Whether `user` has a passkey as a second factor that this configuration asks for.
pub async fn has_second_factor(services: &Services, user: &User) -> Result<bool, ServiceError> {
    if !services.settings.webauthn.enabled {
        return Ok(false);
    }
    let id = user.id;
    Ok(services
        .db
        .run(move |conn| passkeys::has_usage(conn, id, Usage::Secondary.as_str()))
        .await?)
}

/// Deletes `user`'s passkey `name`. Refused when it is the only way an account without a
/// password signs in (the owner would have to reset a password by mail to get back in).
///
/// The `passkey_removed` event and the notice go out for `client`.
pub async fn delete(
    services: &Services,
    user: &User,
    raw_name: &str,
    client: &ClientInfo,
) -> Result<Result<String, Refusal>, ServiceError> {
    let name = match clean_name(raw_name, &services.settings.webauthn) {
        Ok(name) => name,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let (id, has_password) = (user.id, user.password_hash().is_some());
    let lock = format!("passkeys:{id}");
    let wanted = name.clone();
    let outcome = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction(conn, &[&lock], |conn| {
                let rows = passkeys::for_user(conn, id)?;
                let Some(row) = rows.iter().find(|r| r.name == wanted) else {
                    return Ok::<_, ServiceError>(Err(Refusal::NameNotFound(wanted.clone())));
                };
                let other_first = rows
                    .iter()
                    .any(|r| r.id != row.id && r.usage == Usage::First.as_str());
                if !has_password && row.usage == Usage::First.as_str() && !other_first {
                    return Ok(Err(Refusal::LastSignInMethod));
                }
                passkeys::delete(conn, id, &wanted)?;
                Ok(Ok(()))
            })
        })
        .await?;
    if outcome.is_ok() {
        tracing::info!(
            event = "passkey_deleted",
            user_id = user.id,
            "passkey deleted"
        );
        let event = SecurityEvent::PasskeyRemoved { name: name.clone() };
        services.emit(event, Some(user.id), client);
        let notice = Notice::Passkey {
            added: false,
            name: name.clone(),
        };
        notices::send(services, user, notice, client).await;
    }
    Ok(outcome.map(|()| name))
}

// ---------------------------------------------------------------------------------------
// Registration (a logged-in user adds a passkey)
// ---------------------------------------------------------------------------------------

fn registration_options(
    core: &WebauthnCore,
    handle: &str,
    user_name: &str,
    usage: Usage,
    exclude: Vec<Vec<u8>>,
) -> Result<(Value, RegistrationState), ServiceError> {
    let builder = core
        .new_challenge_register_builder(handle.as_bytes(), user_name, user_name)
        .map_err(|e| ServiceError::Config(format!("passkey options: {e:?}")))?
        .attestation(AttestationConveyancePreference::None)
        .credential_algorithms(vec![
            COSEAlgorithm::EDDSA,
            COSEAlgorithm::ES256,
            COSEAlgorithm::RS256,
        ])
        .exclude_credentials(Some(exclude.into_iter().map(Into::into).collect()))
        .user_verification_policy(match usage {
            Usage::First => UserVerificationPolicy::Preferred,
            // As Flask-Security: a second factor should not ask for a PIN on top.
            Usage::Secondary => UserVerificationPolicy::Discouraged_DO_NOT_USE,
        })
        .extensions(Some(RequestRegistrationExtensions {
            cred_props: Some(true),
            ..Default::default()
        }));
    let (challenge, state) = core
        .generate_challenge_register(builder)
        .map_err(|e| ServiceError::Config(format!("passkey options: {e:?}")))?;
    let mut options = serde_json::to_value(&challenge.public_key)
        .map_err(|e| ServiceError::Config(format!("passkey options: {e}")))?;
    // A discoverable credential where the authenticator can make one (sign-in without typing
    // an identity), as Flask-Security asks; not required, so any security key still works.
    if let Some(selection) = options
        .get_mut("authenticatorSelection")
        .and_then(Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "preferred".into());
        selection.insert("requireResidentKey".into(), false.into());
    }
    Ok((options, state))
}

/// The user handle of `user` (Flask-Security's `fs_webauthn_user_handle`, 32 hex
/// characters), made at the first registration.
async fn user_handle(services: &Services, user: &User) -> Result<String, ServiceError> {
    if let Some(handle) = &user.fs_webauthn_user_handle {
        return Ok(handle.clone());
    }
    let (id, handle) = (user.id, new_uniquifier());
    Ok(services
        .db
        .run(move |conn| passkeys::ensure_user_handle(conn, id, &handle))
        .await?)
}

/// The name `user` shows the authenticator: the email, or the username without one.
fn display_name(user: &User) -> String {
    user.email
        .clone()
        .or_else(|| user.username.clone())
        .unwrap_or_else(|| format!("user {}", user.id))
}

/// Step 1 of adding a passkey (`POST /wan-register`): checks the name and usage, and begins
/// the ceremony. `usage` defaults to `secondary`, and is `secondary` whatever was asked when
/// passkeys may not be a first factor (as Flask-Security).
pub async fn begin_registration(
    services: &Services,
    user: &User,
    raw_name: &str,
    usage: Option<&str>,
    binding: &str,
) -> Result<Result<Begun, Refusal>, ServiceError> {
    let settings = &services.settings.webauthn;
    let name = match clean_name(raw_name, settings) {
        Ok(name) => name,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let usage = match usage.map(str::trim).filter(|u| !u.is_empty()) {
        None => Usage::Secondary,
        Some(raw) => match Usage::parse(raw) {
            Some(usage) => usage,
            None => return Ok(Err(Refusal::UsageInvalid)),
        },
    };
    let usage = if settings.allow_as_first_factor {
        usage
    } else {
        Usage::Secondary
    };
    let existing = list(services, user).await?;
    if existing.iter().any(|p| p.name == name) {
        return Ok(Err(Refusal::NameInUse(name)));
    }
    let handle = user_handle(services, user).await?;
    let core = relying_party(settings, settings.register_timeout)?;
    let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
    let (options, state) =
        registration_options(&core, &handle, &display_name(user), usage, exclude)?;
    let ceremony = CeremonyState::Register { name, usage, state };
    let state_token = store_ceremony(
        services,
        binding,
        REGISTER,
        Some(user.id),
        &ceremony,
        settings.register_within,
    )
    .await?;
    Ok(Ok(Begun {
        options,
        state_token,
    }))
}

/// A registration answer checked by webauthn-rs, ready to store.
struct Registered {
    credential: Credential,
    transports: Option<String>,
    extensions: Option<String>,
}

fn check_registration(
    services: &Services,
    raw_credential: &str,
    state: &RegistrationState,
) -> Result<Result<Registered, Refusal>, ServiceError> {
    let settings = &services.settings.webauthn;
    let Ok(answer) = serde_json::from_str::<RegisterPublicKeyCredential>(raw_credential) else {
        return Ok(Err(Refusal::ApiError));
    };
    let core = relying_party(settings, settings.register_timeout)?;
    let credential = match core.register_credential(&answer, state, None) {
        Ok(credential) => credential,
        Err(e) => {
            tracing::info!(event = "passkey_register_refused", error = ?e, "passkey not registered");
            return Ok(Err(Refusal::NotVerified(cause(&e))));
        }
    };
    if i32::try_from(credential.counter).is_err() {
        return Ok(Err(Refusal::ApiError));
    }
    let transports = answer
        .response
        .transports
        .as_deref()
        .map(transport_names)
        .filter(|t| !t.is_empty());
    // Flask-Security keeps the client's extension results (credProps: discoverable or not).
    let extensions = answer
        .extensions
        .cred_props
        .as_ref()
        .map(|props| serde_json::json!({"credProps": {"rk": props.rk}}).to_string());
    Ok(Ok(Registered {
        credential,
        transports,
        extensions,
    }))
}

fn new_row(
    registered: &Registered,
    name: &str,
    usage: Usage,
    user_id: i32,
) -> Result<NewPasskey, ServiceError> {
    let credential = &registered.credential;
    let now = db::now();
    Ok(NewPasskey {
        credential_id: credential.cred_id.to_vec(),
        public_key: cose::encode(&credential.cred)
            .map_err(|e| ServiceError::Config(format!("passkey key: {e}")))?,
        sign_count: Some(i32::try_from(credential.counter).unwrap_or(0)),
        transports: registered.transports.clone(),
        backup_state: credential.backup_state,
        device_type: if credential.backup_eligible {
            "multi_device"
        } else {
            "single_device"
        }
        .to_owned(),
        extensions: registered.extensions.clone(),
        create_datetime: now,
        lastuse_datetime: now,
        name: name.to_owned(),
        usage: usage.as_str().to_owned(),
        user_id,
    })
}

/// Stores a new passkey unless its name or credential id was taken meanwhile (checked and
/// inserted in one transaction that runs alone for this user).
fn insert_passkey(
    conn: &mut db::DbConnection,
    row: &NewPasskey,
) -> Result<Result<(), Refusal>, ServiceError> {
    let lock = format!("passkeys:{}", row.user_id);
    db::exclusive_transaction(conn, &[&lock], |conn| {
        if passkeys::by_credential_id(conn, &row.credential_id)?.is_some() {
            return Ok(Err(Refusal::CredentialInUse));
        }
        if passkeys::for_user(conn, row.user_id)?
            .iter()
            .any(|p| p.name == row.name)
        {
            return Ok(Err(Refusal::NameInUse(row.name.clone())));
        }
        match passkeys::insert(conn, row) {
            Ok(()) => Ok(Ok(())),
            // Another account registered the same credential at the same moment.
            Err(e) if e.is_unique_violation() => Ok(Err(Refusal::CredentialInUse)),
            Err(e) => Err(e.into()),
        }
    })
}

/// Step 2 of adding a passkey (`POST /wan-register/<state>`): checks the authenticator's
/// answer and stores the passkey; the `passkey_added` event and the notice go out for
/// `client`. Returns its name.
pub async fn finish_registration(
    services: &Services,
    user: &User,
    token: &str,
    binding: &str,
    raw_credential: &str,
    client: &ClientInfo,
) -> Result<Result<String, Refusal>, ServiceError> {
    let within = services.settings.webauthn.register_within;
    let state =
        match take_ceremony(services, token, binding, REGISTER, Some(user.id), within).await? {
            Ok(state) => state,
            Err(refusal) => return Ok(Err(refusal)),
        };
    let CeremonyState::Register { name, usage, state } = state else {
        return Ok(Err(Refusal::InvalidState));
    };
    if raw_credential.trim().is_empty() {
        return Ok(Err(Refusal::ApiError));
    }
    let registered = match check_registration(services, raw_credential, &state)? {
        Ok(registered) => registered,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let row = new_row(&registered, &name, usage, user.id)?;
    let stored = services
        .db
        .run_with(move |conn| insert_passkey(conn, &row))
        .await?;
    if stored.is_ok() {
        tracing::info!(
            event = "passkey_registered",
            user_id = user.id,
            usage = usage.as_str(),
            "passkey added"
        );
        let event = SecurityEvent::PasskeyAdded {
            name: name.clone(),
            usage: usage.as_str().to_owned(),
        };
        services.emit(event, Some(user.id), client);
        let notice = Notice::Passkey {
            added: true,
            name: name.clone(),
        };
        notices::send(services, user, notice, client).await;
    }
    Ok(stored.map(|()| name))
}

// ---------------------------------------------------------------------------------------
// Sign-in, second factor, re-authentication
// ---------------------------------------------------------------------------------------

/// Step 1 of proving a passkey (`POST /wan-signin`, `/wan-verify`). With a `user` (typed
/// identity where hints are allowed, the pending login's user, the logged-in user), the
/// options list that user's passkeys for `purpose`; without, any discoverable passkey may
/// answer.
pub async fn begin_authentication(
    services: &Services,
    purpose: Purpose,
    user: Option<&User>,
    binding: &str,
) -> Result<Begun, ServiceError> {
    let settings = &services.settings.webauthn;
    let usages = purpose.usages(settings);
    let allowed = match user {
        Some(user) => credentials_for(&list(services, user).await?, &usages),
        None => Vec::new(),
    };
    let policy = if usages.iter().all(|u| u == "secondary") {
        UserVerificationPolicy::Discouraged_DO_NOT_USE
    } else {
        UserVerificationPolicy::Preferred
    };
    let core = relying_party(settings, settings.signin_timeout)?;
    let builder = core
        .new_challenge_authenticate_builder(allowed, Some(policy))
        .map_err(|e| ServiceError::Config(format!("passkey options: {e:?}")))?
        .allow_backup_eligible_upgrade(true);
    let (challenge, state) = core
        .generate_challenge_authenticate(builder)
        .map_err(|e| ServiceError::Config(format!("passkey options: {e:?}")))?;
    let options = serde_json::to_value(&challenge.public_key)
        .map_err(|e| ServiceError::Config(format!("passkey options: {e}")))?;
    // The ceremony is bound to the logged-in user for a re-authentication; the others begin
    // anonymous (a pending login is checked again when it finishes).
    let owner = (purpose == Purpose::Verify)
        .then(|| user.map(|u| u.id))
        .flatten();
    let state_token = store_ceremony(
        services,
        binding,
        purpose.as_str(),
        owner,
        &CeremonyState::Authenticate { state },
        settings.signin_within,
    )
    .await?;
    Ok(Begun {
        options,
        state_token,
    })
}

/// A proved passkey.
#[derive(Debug)]
pub struct PasskeyProof {
    pub user: Box<User>,
    /// The passkey's name.
    pub passkey: String,
    /// The authenticator verified the user (PIN, biometrics): with
    /// `SECURITY_WAN_ALLOW_AS_MULTI_FACTOR`, a first-factor passkey is then both factors.
    pub user_verified: bool,
}

/// A refused passkey, with the account it was for when known (for the audit log).
#[derive(Debug)]
pub struct Rejected {
    pub refusal: Refusal,
    pub user_id: Option<i32>,
}

/// How proving a passkey ended.
pub type Proof = Attempt<PasskeyProof, Rejected>;

/// What the counted check found (filled in while the throttle holds the attempt).
enum AnswerCheck {
    Proved {
        user: Box<User>,
        passkey: String,
        user_verified: bool,
    },
    Refused(Refusal),
}

/// The account whose passkeys a sign-in may list for a typed identity (an active
/// account's only; `SECURITY_WAN_ALLOW_USER_HINTS`). That tells whether the account exists,
/// so generic responses turn it off.
pub async fn hinted_account(
    services: &Services,
    identity: &str,
) -> Result<Option<User>, ServiceError> {
    let settings = &services.settings;
    let identity = identity.trim();
    let hints = settings.webauthn.allow_user_hints && !settings.features.return_generic_responses;
    if !hints || identity.is_empty() {
        return Ok(None);
    }
    let found =
        super::authenticate::lookup_identity(&services.db, &settings.features, identity).await?;
    Ok(found.filter(User::is_active))
}

/// Step 2 (`POST /wan-signin/<state>`, `/wan-verify/<state>`): checks the answer through the
/// login throttle. `expected_user` is the account it must belong to (the pending login's
/// for a second factor, the logged-in user's for a re-authentication).
pub async fn finish_authentication(
    services: &Services,
    purpose: Purpose,
    expected_user: Option<i32>,
    token: &str,
    binding: &str,
    raw_credential: &str,
    client: &str,
) -> Result<Proof, ServiceError> {
    let settings = &services.settings.webauthn;
    let refused = |refusal, user_id| Ok(Attempt::Refused(Rejected { refusal, user_id }));
    let owner = (purpose == Purpose::Verify)
        .then_some(expected_user)
        .flatten();
    let ceremony = take_ceremony(
        services,
        token,
        binding,
        purpose.as_str(),
        owner,
        settings.signin_within,
    )
    .await?;
    let mut state = match ceremony {
        Ok(CeremonyState::Authenticate { state }) => state,
        Ok(_) => return refused(Refusal::InvalidState, None),
        Err(refusal) => return refused(refusal, None),
    };
    let Ok(answer) = serde_json::from_str::<PublicKeyCredential>(raw_credential) else {
        return refused(Refusal::ApiError, None);
    };
    let credential_id = answer.raw_id.to_vec();
    let lookup = credential_id.clone();
    let row = services
        .db
        .run(move |conn| passkeys::by_credential_id(conn, &lookup))
        .await?;
    // Attempts are counted under the account the passkey belongs to, or (unknown passkey)
    // under the credential id, like a typed identity.
    let subject = match &row {
        Some(row) => throttle::account_subject(row.user_id),
        None => throttle::typed_subject(
            &services.settings.secret_key,
            &format!("passkey:{}", hex::encode(&credential_id)),
        ),
    };
    let mut found: Option<AnswerCheck> = None;
    let check = async {
        let outcome =
            check_answer(services, purpose, expected_user, row, &answer, &mut state).await?;
        let right = matches!(outcome, AnswerCheck::Proved { .. });
        found = Some(outcome);
        Ok(right)
    };
    let checked = check_counted(services, subject, client, check).await?;
    let outcome = found.take();
    match (checked, outcome) {
        (Checked::Throttled { retry_after }, _) => Ok(Attempt::Throttled { retry_after }),
        (Checked::Wrong, Some(AnswerCheck::Refused(refusal))) => refused(refusal, expected_user),
        (Checked::Wrong, _) => refused(Refusal::ApiError, expected_user),
        (
            Checked::Right(reservation),
            Some(AnswerCheck::Proved {
                user,
                passkey,
                user_verified,
            }),
        ) => {
            if purpose == Purpose::SignIn {
                if let Err(failure) = may_sign_in(&services.settings.features, &user) {
                    // The passkey was right: not a failure, but no login either.
                    throttle::release(&services.db, reservation).await?;
                    return refused(Refusal::Login(failure), Some(user.id));
                }
            }
            throttle::succeeded(&services.db, reservation).await?;
            Ok(Attempt::Proved(PasskeyProof {
                user,
                passkey,
                user_verified,
            }))
        }
        (Checked::Right(reservation), _) => {
            throttle::release(&services.db, reservation).await?;
            refused(Refusal::ApiError, expected_user)
        }
    }
}

/// The checks of one answer: whose passkey, for what, then webauthn-rs's verification,
/// then the new counter, stored only if no other sign-in with this passkey got there first.
async fn check_answer(
    services: &Services,
    purpose: Purpose,
    expected_user: Option<i32>,
    row: Option<Passkey>,
    answer: &PublicKeyCredential,
    state: &mut AuthenticationState,
) -> Result<AnswerCheck, ServiceError> {
    let settings = &services.settings.webauthn;
    let refuse = |r| Ok(AnswerCheck::Refused(r));
    let Some(row) = row else {
        return refuse(Refusal::UnknownCredential);
    };
    let owner_id = row.user_id;
    let Some(owner) = services
        .db
        .run(move |conn| users::find_by_id(conn, owner_id))
        .await?
    else {
        return refuse(Refusal::UnknownCredential);
    };
    if let Some(handle) = answer.get_user_unique_id() {
        let expected = owner.fs_webauthn_user_handle.as_deref().unwrap_or("");
        if handle != expected.as_bytes() {
            return refuse(Refusal::UserHandleMismatch);
        }
    }
    if expected_user.is_some_and(|id| id != owner.id) {
        return refuse(Refusal::UserHandleMismatch);
    }
    if !purpose.usages(settings).contains(&row.usage) {
        return refuse(Refusal::WrongUsage);
    }
    let credential = match credential_of(&row) {
        Ok(credential) => credential,
        Err(e) => {
            tracing::warn!(passkey_id = row.id, error = %e, "unreadable passkey");
            return refuse(Refusal::NotVerified("stored public key is unusable"));
        }
    };
    // The stored row, with its current counter, is what the answer is checked against.
    state.set_allowed_credentials(vec![credential]);
    let core = relying_party(settings, settings.signin_timeout)?;
    let result = match core.authenticate_credential(answer, state) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            tracing::warn!(
                event = "passkey_possible_clone",
                user_id = owner.id,
                passkey_id = row.id,
                stored_count = row.sign_count.unwrap_or(0),
                "passkey refused: its signature counter did not move forward (a copy?)"
            );
            return refuse(Refusal::PossibleClone);
        }
        Err(e) => {
            tracing::info!(event = "passkey_refused", user_id = owner.id, error = ?e, "passkey answer refused");
            return refuse(Refusal::NotVerified(cause(&e)));
        }
    };
    let new_count = i32::try_from(result.counter()).unwrap_or(i32::MAX);
    let (id, seen, backup) = (row.id, row.sign_count, result.backup_state());
    let now: NaiveDateTime = db::now();
    let recorded = services
        .db
        .run(move |conn| passkeys::record_use(conn, id, seen, new_count, backup, now))
        .await?;
    if !recorded {
        // Another answer with this passkey was accepted between our read and our write.
        return refuse(Refusal::PossibleClone);
    }
    Ok(AnswerCheck::Proved {
        user: Box::new(owner),
        passkey: row.name,
        user_verified: result.user_verified(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wan(pairs: &[(&str, &str)]) -> WebAuthnSettings {
        let mut all = vec![
            ("SECRET_KEY", "a-development-secret-key-of-enough-length"),
            ("SECURITY_PASSWORD_SALT", "salt"),
            ("DATABASE_URL", "test.db"),
        ];
        all.extend_from_slice(pairs);
        crate::config::Settings::from_source(&crate::config::Source::from_pairs(all))
            .expect("settings")
            .webauthn
    }

    #[test]
    fn names_are_cleaned_like_flask_security() {
        let w = wan(&[]);
        assert_eq!(clean_name("  laptop ", &w).unwrap(), "laptop");
        assert_eq!(clean_name("Ann's key", &w), Err(Refusal::NameDisallowed));
        assert_eq!(clean_name("yubi-key_2 nfc", &w).unwrap(), "yubi-key_2 nfc");
        assert_eq!(clean_name("", &w), Err(Refusal::NameRequired));
        assert_eq!(clean_name("   ", &w), Err(Refusal::NameRequired));
        assert_eq!(clean_name("<script>", &w), Err(Refusal::NameInvalid));
        assert_eq!(clean_name("my\u{A0}key", &w), Err(Refusal::NameInvalid));
        let short = wan(&[("SECURITY_WAN_NAME_MAX_LENGTH", "5")]);
        assert_eq!(clean_name("abcdef", &short), Err(Refusal::NameTooLong(5)));
        // Precomposed accented letters are letters, checked before NFKD splits them.
        assert_eq!(clean_name("clé", &w).unwrap(), "cle\u{301}");
        assert!(clean_name("ключ", &w).is_ok());
    }

    #[test]
    fn names_follow_the_allowed_categories_and_the_input_form() {
        // Flask-Security checks the categories before normalising: a decomposed accent (Mn)
        // is not in the default categories.
        assert_eq!(
            clean_name("cle\u{301}", &wan(&[])),
            Err(Refusal::NameDisallowed)
        );
        let nfc = wan(&[("SECURITY_INPUT_NORMALIZE_FORM", "NFC")]);
        assert_eq!(clean_name("clé", &nfc).unwrap(), "clé");
        let none = wan(&[("SECURITY_INPUT_NORMALIZE_FORM", "")]);
        assert_eq!(clean_name("ﬁ key", &none).unwrap(), "ﬁ key");
        let apostrophe = wan(&[("SECURITY_WAN_NAME_ALLOWED_CHARS", r#"["L", "Po", "Zs"]"#)]);
        assert_eq!(clean_name("Ann's key", &apostrophe).unwrap(), "Ann's key");
        assert_eq!(
            clean_name("key-2", &apostrophe),
            Err(Refusal::NameDisallowed)
        );
        let any = wan(&[("SECURITY_WAN_NAME_ALLOWED_CHARS", "")]);
        assert!(clean_name("key #2 (blue)", &any).is_ok());
    }

    #[test]
    fn transports_round_trip_through_the_comma_list() {
        let parsed = parse_transports("usb,nfc, internal,bogus");
        assert_eq!(transport_names(&parsed[..3]), "usb,nfc,internal");
    }

    #[test]
    fn every_refusal_has_a_message_and_a_field() {
        let messages = Messages::default();
        for refusal in [
            Refusal::NameInUse("laptop".into()),
            Refusal::Expired(Duration::from_secs(60)),
            Refusal::PossibleClone,
            Refusal::NotVerified("Unexpected RP ID hash"),
        ] {
            let errors = refusal.to_form_errors(&messages);
            assert!(!errors.is_empty());
        }
        assert_eq!(
            messages.describe(&Refusal::Expired(Duration::from_secs(60))),
            "Passkey operations must be completed within 1 minute. Please start over."
        );
        assert_eq!(
            messages.describe(&Refusal::NotVerified("Unexpected RP ID hash")),
            "Could not verify passkey: Unexpected RP ID hash."
        );
    }
}
