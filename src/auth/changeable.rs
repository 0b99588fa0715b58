//! Password change (`SECURITY_CHANGEABLE`): the rule behind `/change`. Callable without HTTP.

use actix_web::web::Data;
use diesel::Connection;

use super::recoverable::replace_password;
use super::ServiceError;
use crate::db::models::User;
use crate::db::users;
use crate::domain::password::PasswordError;
use crate::domain::{FormErrors, Password};
use crate::mail;
use crate::messages;
use crate::startup::AppState;

#[derive(Debug, Default, Clone)]
pub struct ChangeInput {
    pub current: String,
    pub new: String,
    pub new_confirm: Option<String>,
}

/// Checks the current password and the new one, then replaces it: every login of the user
/// ends (the caller starts a fresh one for the session that made the change) and a notice
/// is mailed. Returns the updated user.
pub async fn change_password(
    state: &Data<AppState>,
    user: &User,
    input: &ChangeInput,
) -> Result<Result<User, FormErrors>, ServiceError> {
    let settings = &state.settings;
    let messages = &settings.messages;
    let mut errors = FormErrors::default();
    if input.current.is_empty() {
        errors.add("password", messages.describe(&PasswordError::Missing));
    }
    let new = Password::parse_confirmed(
        &input.new,
        input.new_confirm.as_deref(),
        (
            &settings.password_policy,
            &[
                user.email_or_empty(),
                user.username.as_deref().unwrap_or(""),
            ],
        ),
        ["new_password", "new_password_confirm"],
        messages,
        &mut errors,
    );
    if !input.current.is_empty() {
        let current_ok = state
            .hasher
            .verify(
                Password::normalize(&input.current),
                Some(user.password.clone()),
            )
            .await?;
        if !current_ok {
            errors.add("password", messages.text(messages::INVALID_PASSWORD, &[]));
        }
    }
    let Some(new) = new.filter(|_| errors.is_empty()) else {
        return Ok(Err(errors));
    };
    if new == Password::normalize(&input.current) {
        return Ok(Err(FormErrors::single(
            "new_password",
            messages.text(messages::PASSWORD_IS_THE_SAME, &[]),
        )));
    }
    let hash = state.hasher.hash(new).await?;
    let state = state.clone();
    let user = user.clone();
    let updated = state
        .db
        .clone()
        .run_with(move |conn| {
            conn.transaction::<_, ServiceError, _>(|conn| {
                replace_password(conn, &user, &hash)?;
                let notice = state.mailer().change_notice(user.email_or_empty())?;
                mail::enqueue(conn, &notice)?;
                users::find_by_id(conn, user.id)?
                    .ok_or(ServiceError::Db(diesel::result::Error::NotFound.into()))
            })
        })
        .await?;
    Ok(Ok(updated))
}
