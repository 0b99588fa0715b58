//! Sign-up with a passkey and no password (`SECURITY_WAN_REGISTER_WITHOUT_PASSWORD`,
//! `/wan-signup`): Latchkey's own, no Flask library has it. The account does not exist until
//! its passkey is made; then both are stored in one transaction.

use super::super::error::ServiceError;
use super::super::registration;
use super::super::services::Services;
use super::{
    check_registration, clean_name, insert_passkey, new_row, registration_options, relying_party,
    store_ceremony, take_ceremony, Begun, CeremonyState, Refusal, Usage, SIGN_UP,
};
use crate::crypto::new_uniquifier;
use crate::db::models::{NewPasskey, User};
use crate::db::passkeys;
use crate::domain::FormErrors;
// ---------------------------------------------------------------------------------------

/// Step 1 of signing up with a passkey and no password: `email` (and `username` where
/// enabled) are checked as registration checks them; the ceremony carries them until the
/// passkey is made. The account does not exist before then.
pub async fn begin_signup(
    services: &Services,
    email: &str,
    username: Option<&str>,
    raw_name: Option<&str>,
    send_mail: bool,
    binding: &str,
) -> Result<Result<Begun, FormErrors>, ServiceError> {
    let settings = &services.settings;
    let wan = &settings.webauthn;
    let mut errors = FormErrors::default();
    let (email, username) =
        registration::validate_identity(settings, &services.messages, email, username, &mut errors);
    let name = match clean_name(raw_name.unwrap_or("Passkey"), wan) {
        Ok(name) => Some(name),
        Err(refusal) => {
            errors.add("name", services.messages.describe(&refusal));
            None
        }
    };
    let (Some(email), Some(name)) = (email, name) else {
        return Ok(Err(errors));
    };
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    if let Some(conflict) = registration::conflicts(services, &email, username.as_ref()).await? {
        // With generic responses a taken email goes on: its owner is told at the end, and
        // the visitor sees what a new account would.
        let generic = settings.features.return_generic_responses;
        if !generic || conflict.has("username") {
            return Ok(Err(conflict));
        }
    }
    let handle = new_uniquifier();
    let core = relying_party(wan, wan.register_timeout)?;
    let (options, state) =
        registration_options(&core, &handle, email.as_typed(), Usage::First, Vec::new())?;
    let ceremony = CeremonyState::SignUp {
        email: email.as_str().to_owned(),
        username: username.map(|u| u.as_str().to_owned()),
        handle,
        name,
        send_mail,
        state,
    };
    let state_token = store_ceremony(
        services,
        binding,
        SIGN_UP,
        None,
        &ceremony,
        wan.register_within,
    )
    .await?;
    Ok(Ok(Begun {
        options,
        state_token,
    }))
}

/// How a passkey sign-up ended.
#[derive(Debug)]
pub enum SignedUp {
    /// A new account, with its passkey (and the welcome mail queued).
    Created(Box<User>),
    /// The email had an account and responses are generic: its owner was mailed.
    ExistingNotified { email: String },
}

/// Step 2 of signing up: checks the passkey, then creates the account (active, no password,
/// unconfirmed) with the passkey and its welcome mail in one transaction.
pub async fn finish_signup(
    services: &Services,
    token: &str,
    binding: &str,
    raw_credential: &str,
    client: &crate::auth::login::ClientInfo,
) -> Result<Result<SignedUp, FormErrors>, ServiceError> {
    let settings = &services.settings;
    let messages = &services.messages;
    let as_errors = |refusal: Refusal| Ok(Err(refusal.to_form_errors(messages)));
    let state = match take_ceremony(
        services,
        token,
        binding,
        SIGN_UP,
        None,
        settings.webauthn.register_within,
    )
    .await?
    {
        Ok(state) => state,
        Err(refusal) => return as_errors(refusal),
    };
    let CeremonyState::SignUp {
        email,
        username,
        handle,
        name,
        send_mail,
        state,
    } = state
    else {
        return as_errors(Refusal::InvalidState);
    };
    let registered = match check_registration(services, raw_credential, &state)? {
        Ok(registered) => registered,
        Err(refusal) => return as_errors(refusal),
    };
    let row = new_row(&registered, &name, Usage::First, 0)?;
    let for_insert = messages.clone();
    let created = registration::create_passwordless_account(
        services,
        &email,
        username.as_deref(),
        send_mail,
        move |conn, user| {
            passkeys::ensure_user_handle(conn, user.id, &handle)?;
            let row = NewPasskey {
                user_id: user.id,
                ..row
            };
            Ok(insert_passkey(conn, &row)?.map_err(|r| r.to_form_errors(&for_insert)))
        },
    )
    .await?;
    Ok(created.map(|outcome| match outcome {
        Some(user) => {
            tracing::info!(
                event = "passkey_signup",
                user_id = user.id,
                "account made with a passkey"
            );
            let event = crate::auth::events::SecurityEvent::Registered;
            services.emit(event, Some(user.id), client);
            SignedUp::Created(Box::new(user))
        }
        None => SignedUp::ExistingNotified { email },
    }))
}
