//! The registration rule: validation, uniqueness, hashing and the insert. Callable without
//! HTTP; racing registrations of one email create exactly one account.

use crate::config::Settings;
use crate::db::models::{NewUser, User};
use crate::db::users::{self, InsertUserError};
use crate::db::Db;
use crate::domain::{Email, FormErrors, Password, Username};

use super::tokens::new_uniquifier;
use super::{PasswordHasher, ServiceError};

/// What a registration form carries, as typed.
#[derive(Debug, Default, Clone)]
pub struct RegistrationInput {
    pub email: String,
    pub username: Option<String>,
    pub password: String,
    pub password_confirm: Option<String>,
}

/// The valid parts of a registration.
struct Valid {
    email: Email,
    username: Option<Username>,
    password: Password,
}

pub fn already_associated(value: &str) -> String {
    format!("{value} is already associated with an account.")
}

fn validate(settings: &Settings, input: &RegistrationInput) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::default();
    let email = Email::parse(&input.email)
        .map_err(|e| errors.add("email", e.to_string()))
        .ok();
    let username = match input
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        _ if !settings.features.username_enable => None,
        Some(raw) => Username::parse(raw)
            .map_err(|e| errors.add("username", e.to_string()))
            .ok(),
        None if settings.features.username_required => {
            errors.add("username", "Username not provided");
            None
        }
        None => None,
    };
    let password = Password::parse(
        &input.password,
        settings.password_length_min,
        settings.password_length_max,
    )
    .map_err(|e| errors.add("password", e.to_string()))
    .ok();
    match input.password_confirm.as_deref() {
        None | Some("") => errors.add("password_confirm", "Password not provided"),
        Some(confirm) if confirm != input.password => {
            errors.add("password_confirm", "Passwords do not match")
        }
        Some(_) => {}
    }
    match (email, password) {
        (Some(email), Some(password)) if errors.is_empty() => Ok(Valid {
            email,
            username,
            password,
        }),
        _ => Err(errors),
    }
}

/// Validates and creates the account (active, unconfirmed). Field errors come back as
/// `Ok(Err(..))`; only infrastructure failures are `Err`.
pub async fn register(
    db: &Db,
    hasher: &PasswordHasher,
    settings: &Settings,
    input: &RegistrationInput,
) -> Result<Result<User, FormErrors>, ServiceError> {
    let valid = match validate(settings, input) {
        Ok(v) => v,
        Err(errors) => return Ok(Err(errors)),
    };
    // Cheap check first, so a duplicate does not cost a bcrypt hash. The unique indexes
    // still decide when two registrations race.
    if let Some(errors) = conflicts(db, &valid).await? {
        return Ok(Err(errors));
    }
    let hash = hasher.hash(valid.password.clone()).await?;
    let new = NewUser {
        email: valid.email.as_str().to_owned(),
        username: valid.username.as_ref().map(|u| u.as_str().to_owned()),
        password: hash,
        active: Some(true),
        fs_uniquifier: new_uniquifier(),
        confirmed_at: None,
    };
    match db.run(move |c| Ok(users::insert(c, &new))).await? {
        Ok(user) => Ok(Ok(user)),
        Err(InsertUserError::Conflict) => {
            Ok(Err(conflicts(db, &valid).await?.unwrap_or_else(|| {
                FormErrors::single("email", already_associated(valid.email.as_str()))
            })))
        }
        Err(InsertUserError::Db(e)) => Err(e.into()),
    }
}

async fn conflicts(db: &Db, valid: &Valid) -> Result<Option<FormErrors>, ServiceError> {
    let email = valid.email.as_str().to_owned();
    let username = valid.username.as_ref().map(|u| u.as_str().to_owned());
    let (email_taken, username_taken) = db
        .run(move |c| {
            let email_taken = users::find_by_email(c, &email)?.is_some();
            let username_taken = match &username {
                Some(u) => users::find_by_username(c, u)?.is_some(),
                None => false,
            };
            Ok((email_taken, username_taken))
        })
        .await?;
    let mut errors = FormErrors::default();
    if email_taken {
        errors.add("email", already_associated(valid.email.as_str()));
    }
    if let (true, Some(u)) = (username_taken, &valid.username) {
        errors.add("username", already_associated(u.as_str()));
    }
    Ok((!errors.is_empty()).then_some(errors))
}
