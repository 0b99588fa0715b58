//! The registration rule: validation, uniqueness, hashing and the insert. Callable without
//! HTTP; racing registrations of one email create exactly one account.

use actix_web::web::Data;
use diesel::Connection;

use crate::config::Settings;
use crate::db::models::{NewUser, User};
use crate::db::users::{self, InsertUserError};
use crate::db::{DbConnection, DbError};
use crate::domain::{Email, FormErrors, Password, Username, UsernameError};
use crate::mail;
use crate::messages::{self, Messages};
use crate::startup::AppState;

use super::link_mail::issue_link_token;
use super::tokens::new_uniquifier;
use super::user_tokens::Purpose;
use super::ServiceError;

/// What a registration form carries, as typed.
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub email: String,
    pub username: Option<String>,
    pub password: String,
    pub password_confirm: Option<String>,
}

/// The valid parts of a registration.
pub struct Valid {
    pub email: Email,
    username: Option<Username>,
    password: Password,
}

/// Checks a registration form field by field (cheap: no database, no hashing).
pub fn validate(settings: &Settings, input: &RegistrationInput) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::default();
    let messages = &settings.messages;
    let email = Email::parse(&input.email)
        .map_err(|e| errors.add("email", messages.describe(&e)))
        .ok();
    let username = match input
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        _ if !settings.features.username_enable => None,
        Some(raw) => Username::parse(raw)
            .map_err(|e| errors.add("username", messages.describe(&e)))
            .ok(),
        None if settings.features.username_required => {
            errors.add("username", messages.describe(&UsernameError::Missing));
            None
        }
        None => None,
    };
    // zxcvbn counts the account's own words as guessable.
    let user_inputs = [
        input.email.as_str(),
        input.username.as_deref().unwrap_or(""),
    ];
    let password = Password::parse_confirmed(
        &input.password,
        input.password_confirm.as_deref(),
        (&settings.password_policy, &user_inputs),
        ["password", "password_confirm"],
        messages,
        &mut errors,
    );
    match (email, password) {
        (Some(email), Some(password)) if errors.is_empty() => Ok(Valid {
            email,
            username,
            password,
        }),
        _ => Err(errors),
    }
}

/// How a valid registration ended.
#[derive(Debug)]
pub enum Registered {
    /// A new account.
    Created(User),
    /// The email already had an account and responses are generic: the owner was mailed,
    /// and the visitor must get the same answer as for a new account.
    ExistingNotified,
}

/// Creates the account (active, unconfirmed) from a [`validate`]d form, queueing the
/// welcome mail in the same transaction. A taken email or username comes back as
/// `Ok(Err(..))`; only infrastructure failures are `Err`.
pub async fn register(
    state: &Data<AppState>,
    valid: Valid,
) -> Result<Result<Registered, FormErrors>, ServiceError> {
    let settings = &state.settings;
    let generic = settings.features.return_generic_responses;
    // Cheap check first, so a duplicate does not cost a bcrypt hash (unless responses are
    // generic, where both paths must cost the same). The unique indexes still decide when
    // two registrations race.
    if let Some(errors) = conflicts(state, &valid).await? {
        return existing_account(state, &valid, errors, generic).await;
    }
    let hash = state.hasher.hash(valid.password.clone()).await?;
    let new = NewUser {
        email: valid.email.as_str().to_owned(),
        username: valid.username.as_ref().map(|u| u.as_str().to_owned()),
        password: hash,
        active: Some(true),
        fs_uniquifier: new_uniquifier(),
        confirmed_at: None,
    };
    let for_insert = state.clone();
    let inserted = state
        .db
        .run_with(move |conn| {
            conn.transaction::<_, InsertError, _>(|conn| {
                let user = users::insert(conn, &new)?;
                queue_welcome(conn, &for_insert, &user)?;
                Ok(user)
            })
        })
        .await;
    match inserted {
        Ok(user) => Ok(Ok(Registered::Created(user))),
        Err(InsertError::Conflict) => {
            let errors = conflicts(state, &valid).await?.unwrap_or_else(|| {
                FormErrors::single("email", email_taken(&state.settings.messages, &valid.email))
            });
            existing_account(state, &valid, errors, generic).await
        }
        Err(InsertError::Service(e)) => Err(e),
    }
}

/// The welcome mail, with a confirmation link when confirmable.
fn queue_welcome(
    conn: &mut DbConnection,
    state: &AppState,
    user: &User,
) -> Result<(), ServiceError> {
    let features = &state.settings.features;
    let token = if features.confirmable {
        Some(issue_link_token(conn, state, user, Purpose::Confirm)?)
    } else {
        None
    };
    if features.send_register_email || features.confirmable {
        let message = state
            .mailer()
            .welcome(user.email_or_empty(), token.as_deref())?;
        mail::enqueue(conn, &message)?;
    }
    Ok(())
}

async fn existing_account(
    state: &Data<AppState>,
    valid: &Valid,
    errors: FormErrors,
    generic: bool,
) -> Result<Result<Registered, FormErrors>, ServiceError> {
    if !generic || errors.has("username") {
        return Ok(Err(errors));
    }
    // Same cost as a new registration, and the owner hears about it.
    state.hasher.hash(valid.password.clone()).await?;
    let for_mail = state.clone();
    let email = valid.email.as_str().to_owned();
    state
        .db
        .run_with(move |conn| {
            if let Some(owner) = users::find_by_email(conn, &email)? {
                let message = for_mail.mailer().welcome_existing(owner.email_or_empty())?;
                conn.transaction::<_, ServiceError, _>(|conn| Ok(mail::enqueue(conn, &message)?))?;
            }
            Ok::<_, ServiceError>(())
        })
        .await?;
    Ok(Ok(Registered::ExistingNotified))
}

enum InsertError {
    Conflict,
    Service(ServiceError),
}

impl From<InsertUserError> for InsertError {
    fn from(e: InsertUserError) -> Self {
        match e {
            InsertUserError::Conflict => InsertError::Conflict,
            InsertUserError::Db(e) => InsertError::Service(e.into()),
        }
    }
}

impl From<ServiceError> for InsertError {
    fn from(e: ServiceError) -> Self {
        InsertError::Service(e)
    }
}

impl From<DbError> for InsertError {
    fn from(e: DbError) -> Self {
        InsertError::Service(e.into())
    }
}

impl From<diesel::result::Error> for InsertError {
    fn from(e: diesel::result::Error) -> Self {
        InsertUserError::from(e).into()
    }
}

fn email_taken(messages: &Messages, email: &Email) -> String {
    messages.text(
        messages::EMAIL_ALREADY_ASSOCIATED,
        &[("email", email.as_str())],
    )
}

async fn conflicts(state: &AppState, valid: &Valid) -> Result<Option<FormErrors>, ServiceError> {
    let messages = &state.settings.messages;
    let email = valid.email.as_str().to_owned();
    let username = valid.username.as_ref().map(|u| u.as_str().to_owned());
    let (email_is_taken, username_is_taken) = state
        .db
        .run(move |c| {
            let email_found = users::find_by_email(c, &email)?.is_some();
            let username_found = match &username {
                Some(u) => users::find_by_username(c, u)?.is_some(),
                None => false,
            };
            Ok((email_found, username_found))
        })
        .await?;
    let mut errors = FormErrors::default();
    if email_is_taken {
        errors.add("email", email_taken(messages, &valid.email));
    }
    if let (true, Some(u)) = (username_is_taken, &valid.username) {
        errors.add(
            "username",
            messages.text(
                messages::USERNAME_ALREADY_ASSOCIATED,
                &[("username", u.as_str())],
            ),
        );
    }
    Ok((!errors.is_empty()).then_some(errors))
}
