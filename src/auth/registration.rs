//! The registration rule: validation, uniqueness, hashing and the insert. The web form and
//! `latchkey users create` both go through it; racing registrations of one email create
//! exactly one account.

use super::events::SecurityEvent;
use super::login::ClientInfo;
use diesel::Connection;

use crate::config::Settings;
use crate::crypto::new_uniquifier;
use crate::db::models::{NewUser, User};
use crate::db::users::{self, InsertUserError};
use crate::db::{self, DbConnection, DbError};
use crate::domain::{Email, FormErrors, Password, Username, UsernameError};
use crate::mail;
use crate::messages::{self, Messages};

use super::error::ServiceError;
use super::link_mail::{issue_link_token, MailedLink};
use super::services::Services;
use super::throttle::Action;

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
    pub username: Option<Username>,
    /// `None`: registered without one (`SECURITY_PASSWORD_REQUIRED=false`).
    password: Option<Password>,
}

impl Valid {
    /// A registration whose parts were each checked: by [`validate_identity`] and by the
    /// password policy.
    pub fn new(email: Email, username: Option<Username>, password: Password) -> Self {
        Self {
            email,
            username,
            password: Some(password),
        }
    }
}

/// The identity fields as the form checks them: the email, and the username when usernames
/// are enabled (required when `SECURITY_USERNAME_REQUIRED`; ignored when disabled).
pub fn validate_identity(
    settings: &Settings,
    messages: &Messages,
    email: &str,
    username: Option<&str>,
    errors: &mut FormErrors,
) -> (Option<Email>, Option<Username>) {
    let email = Email::parse(email)
        .map_err(|e| errors.add("email", messages.describe(&e)))
        .ok();
    let username = match username.map(str::trim).filter(|u| !u.is_empty()) {
        _ if !settings.features.username_enable => None,
        Some(raw) => Username::parse(raw, &settings.username_policy)
            .map_err(|e| errors.add("username", messages.describe(&e)))
            .ok(),
        None if settings.features.username_required => {
            errors.add("username", messages.describe(&UsernameError::Missing));
            None
        }
        None => None,
    };
    (email, username)
}

/// Checks a registration form field by field (cheap: no database, no hashing), its
/// messages in the language of `messages`.
pub fn validate(
    settings: &Settings,
    messages: &Messages,
    input: &RegistrationInput,
) -> Result<Valid, FormErrors> {
    let mut errors = FormErrors::default();
    let (email, username) = validate_identity(
        settings,
        messages,
        &input.email,
        input.username.as_deref(),
        &mut errors,
    );
    // zxcvbn counts the account's own words as guessable.
    let user_inputs = [
        input.email.as_str(),
        input.username.as_deref().unwrap_or(""),
    ];
    let policy = (&settings.password_policy, &user_inputs[..]);
    let confirm = input.password_confirm.as_deref().unwrap_or("");
    let password = if !settings.features.password_required && input.password.trim().is_empty() {
        // `SECURITY_PASSWORD_REQUIRED=false`: no password, as long as none was retyped.
        if settings.features.password_confirm_required && !confirm.is_empty() {
            errors.add(
                "password_confirm",
                messages.text(messages::RETYPE_PASSWORD_MISMATCH, &[]),
            );
        }
        Some(None)
    } else if settings.features.password_confirm_required {
        Password::parse_confirmed(
            &input.password,
            input.password_confirm.as_deref(),
            policy,
            ["password", "password_confirm"],
            messages,
            &mut errors,
        )
        .map(Some)
    } else {
        // `SECURITY_PASSWORD_CONFIRM_REQUIRED=false`: no confirmation field; one sent is
        // ignored, as Flask-Security's form has none.
        Password::parse(&input.password, policy.0, policy.1)
            .map_err(|e| errors.add("password", messages.describe(&e)))
            .ok()
            .map(Some)
    };
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
    Created(Box<User>),
    /// The email already had an account and responses are generic: the owner was mailed,
    /// and the visitor must get the same answer as for a new account.
    ExistingNotified,
}

/// The registration form, whole: checks the input, refuses a taken identity (before the
/// costly hashing), applies the mail forms' limits for the request's `client` (its throttle
/// key; [`ServiceError::RateLimited`] past them) and registers. `origin` is the request's
/// client, as the events record it.
pub async fn register_from_form(
    services: &Services,
    input: &RegistrationInput,
    client: String,
    origin: &ClientInfo,
) -> Result<Result<Registered, FormErrors>, ServiceError> {
    let valid = match validate(&services.settings, &services.messages, input) {
        Ok(valid) => valid,
        Err(errors) => return Ok(Err(errors)),
    };
    // Counted before the (costly) hashing, and only for forms that could create an account
    // or mail its owner: someone fixing a weak password or choosing another username is not
    // held back.
    if let Some(errors) = conflict_refusal(services, &valid).await? {
        return Ok(Err(errors));
    }
    let send = super::mail_limits::may_send(services, Action::Register, &valid.email, client);
    let send = send.await?;
    let registered = register(services, valid, send, origin).await?;
    match &registered {
        Ok(Registered::Created(user)) => tracing::info!(
            event = "registration",
            user_id = user.id,
            ip = %origin.ip.as_deref().unwrap_or("-"),
            "user registered"
        ),
        Ok(Registered::ExistingNotified) => {
            tracing::info!("registration for an existing email (owner notified)")
        }
        Err(_) => {}
    }
    Ok(registered)
}

/// Whether a new account is logged in at once (no confirmation needed first).
pub fn logs_in(settings: &Settings) -> bool {
    let features = &settings.features;
    !features.confirmable || features.login_without_confirmation
}

/// What a new account starts as.
#[derive(Debug, Clone, Copy)]
pub struct NewAccount {
    pub active: bool,
    pub confirmed: bool,
    /// Queue the welcome mail (with the confirmation link when confirmable).
    pub welcome_mail: bool,
}

impl NewAccount {
    /// What the registration form creates: active, unconfirmed, welcomed.
    pub const REGISTERED: NewAccount = NewAccount {
        active: true,
        confirmed: false,
        welcome_mail: true,
    };
}

/// The registration form: creates the account (active, unconfirmed) from a [`validate`]d
/// form, queueing the welcome mail in the same transaction. A taken email or username
/// comes back as `Ok(Err(..))`, unless responses are generic (then the owner is mailed and
/// the answer is the same as for a new account); only infrastructure failures are `Err`.
///
/// With `send` false (the address had its share of mail) the outcome is the same, and no
/// mail is queued.
pub async fn register(
    services: &Services,
    valid: Valid,
    send: bool,
    client: &ClientInfo,
) -> Result<Result<Registered, FormErrors>, ServiceError> {
    let generic = services.settings.features.return_generic_responses;
    // Cheap check first, so a duplicate does not cost a hash (unless responses are generic,
    // where both paths must cost the same).
    if let Some(errors) = conflicts(services, &valid.email, valid.username.as_ref()).await? {
        return existing_account(services, &valid, errors, generic, send).await;
    }
    let account = NewAccount {
        welcome_mail: send,
        ..NewAccount::REGISTERED
    };
    match create_account(services, &valid, account, client).await? {
        Ok(user) => Ok(Ok(Registered::Created(Box::new(user)))),
        Err(errors) => existing_account(services, &valid, errors, generic, send).await,
    }
}

/// Hashes the password and inserts the account, with its welcome mail if asked for, in one
/// transaction. The unique indexes decide when two registrations race: the loser gets the
/// same "already associated" errors as a form that found the account taken.
/// The `registered` event is emitted here, so the form and `latchkey users create` both
/// write it (`client`: who asked; `ClientInfo::default()` for the CLI).
pub async fn create_account(
    services: &Services,
    valid: &Valid,
    account: NewAccount,
    client: &ClientInfo,
) -> Result<Result<User, FormErrors>, ServiceError> {
    let hash = match &valid.password {
        Some(password) => services.hasher.hash(password.clone()).await?,
        // No password: Flask-Security, too, treats an empty one as "not set".
        None => String::new(),
    };
    let without_password = valid.password.is_none();
    let new = NewUser {
        email: valid.email.as_str().to_owned(),
        username: valid.username.as_ref().map(|u| u.as_str().to_owned()),
        password: hash,
        active: Some(account.active),
        fs_uniquifier: new_uniquifier(),
        confirmed_at: account.confirmed.then(db::now),
    };
    let for_insert = services.clone();
    let inserted = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, InsertError, _>(|conn| {
                let user = users::insert(conn, &new)?;
                if without_password {
                    // Flask-Security's `us_setup_email`: codes and links by mail.
                    super::unified::set_up_email(conn, &for_insert, &user)?;
                }
                if account.welcome_mail {
                    queue_welcome(conn, &for_insert, &user)?;
                }
                Ok(user)
            })
        })
        .await;
    match inserted {
        Ok(user) => {
            services.emit(SecurityEvent::Registered, Some(user.id), client);
            Ok(Ok(user))
        }
        Err(InsertError::Refused(errors)) => Ok(Err(errors)),
        Err(InsertError::Conflict) => Ok(Err(refused_as_taken(
            services,
            &valid.email,
            valid.username.as_ref(),
        )
        .await?)),
        Err(InsertError::Service(e)) => Err(e),
    }
}

/// Inserts an account without a password (signed up with a passkey): active, unconfirmed,
/// with its welcome mail (confirmation link when confirmable) when `send_mail`. `with` adds
/// what the account signs in with, in the same transaction: its refusal undoes everything.
/// A taken email or username comes back as form errors, unless responses are generic and
/// only the email is taken: then its owner is told (as [`register`] does) and the answer is
/// `Ok(None)`, the same to the visitor as a new account.
pub async fn create_passwordless_account<F>(
    services: &Services,
    email: &str,
    username: Option<&str>,
    send_mail: bool,
    with: F,
) -> Result<Result<Option<User>, FormErrors>, ServiceError>
where
    F: FnOnce(&mut DbConnection, &User) -> Result<Result<(), FormErrors>, ServiceError>
        + Send
        + 'static,
{
    let new = NewUser {
        email: email.to_owned(),
        username: username.map(str::to_owned),
        // No password: Flask-Security, too, treats an empty one as "not set".
        password: String::new(),
        active: Some(true),
        fs_uniquifier: new_uniquifier(),
        confirmed_at: None,
    };
    let for_insert = services.clone();
    let inserted = services
        .db
        .run_with(move |conn| {
            conn.transaction::<_, InsertError, _>(|conn| {
                let user = users::insert(conn, &new)?;
                if let Err(refused) = with(conn, &user)? {
                    return Err(InsertError::Refused(refused));
                }
                if send_mail {
                    queue_welcome(conn, &for_insert, &user)?;
                }
                Ok(user)
            })
        })
        .await;
    match inserted {
        Ok(user) => Ok(Ok(Some(user))),
        Err(InsertError::Refused(errors)) => Ok(Err(errors)),
        Err(InsertError::Conflict) => {
            let (Ok(email), username) = (
                Email::parse(email),
                username
                    .and_then(|u| Username::existing(u, &services.settings.username_policy).ok()),
            ) else {
                return Ok(Err(FormErrors::single(
                    "email",
                    services
                        .messages
                        .text(messages::EMAIL_ALREADY_ASSOCIATED, &[("email", email)]),
                )));
            };
            let errors = refused_as_taken(services, &email, username.as_ref()).await?;
            if !services.settings.features.return_generic_responses || errors.has("username") {
                return Ok(Err(errors));
            }
            if send_mail {
                notify_existing_owner(services, &email).await?;
            }
            Ok(Ok(None))
        }
        Err(InsertError::Service(e)) => Err(e),
    }
}

/// The errors of an insert the unique indexes refused: what [`conflicts`] finds, or (the
/// other account went again meanwhile) "already associated" on the email.
async fn refused_as_taken(
    services: &Services,
    email: &Email,
    username: Option<&Username>,
) -> Result<FormErrors, ServiceError> {
    Ok(conflicts(services, email, username)
        .await?
        .unwrap_or_else(|| FormErrors::single("email", email_taken(&services.messages, email))))
}

/// Tells the owner of `email` that someone tried to register it.
async fn notify_existing_owner(services: &Services, email: &Email) -> Result<(), ServiceError> {
    let for_mail = services.clone();
    let email = email.clone();
    services
        .db
        .run_with(move |conn| {
            if let Some(owner) = users::find_by_email(conn, &email)? {
                let message = for_mail.mailer().welcome_existing(owner.email_or_empty())?;
                conn.transaction::<_, ServiceError, _>(|conn| {
                    Ok(mail::enqueue(conn, &for_mail.outbox_key, &message)?)
                })?;
            }
            Ok::<_, ServiceError>(())
        })
        .await
}

/// The welcome mail, with a confirmation link when confirmable.
fn queue_welcome(
    conn: &mut DbConnection,
    services: &Services,
    user: &User,
) -> Result<(), ServiceError> {
    let features = &services.settings.features;
    let token = if features.confirmable {
        Some(issue_link_token(conn, services, user, MailedLink::Confirm)?)
    } else {
        None
    };
    if features.send_register_email || features.confirmable {
        let message = services
            .mailer()
            .welcome(user.email_or_empty(), token.as_deref())?;
        mail::enqueue(conn, &services.outbox_key, &message)?;
    }
    Ok(())
}

/// A registration that found its email or username taken. Without generic responses the
/// form says which. With them, the answer must not tell whether the email has an account:
/// a taken username is still said (the visitor has to choose another), but alone, whatever
/// the email, and then nobody is mailed; a taken email alone gets the same answer, the same
/// cost and the same mail count as a new account, and its owner is told.
async fn existing_account(
    services: &Services,
    valid: &Valid,
    errors: FormErrors,
    generic: bool,
    send: bool,
) -> Result<Result<Registered, FormErrors>, ServiceError> {
    if !generic {
        return Ok(Err(errors));
    }
    if let Some(only_username) = username_errors(&errors) {
        return Ok(Err(only_username));
    }
    // Same cost as a new registration, and the owner hears about it.
    if let Some(password) = &valid.password {
        services.hasher.hash(password.clone()).await?;
    }
    if !send {
        return Ok(Ok(Registered::ExistingNotified));
    }
    notify_existing_owner(services, &valid.email).await?;
    Ok(Ok(Registered::ExistingNotified))
}

/// The username's errors alone, if there are any.
fn username_errors(errors: &FormErrors) -> Option<FormErrors> {
    let messages = errors.fields.get("username")?;
    let mut only_username = FormErrors::default();
    for message in messages {
        only_username.add("username", message.clone());
    }
    Some(only_username)
}

/// The refusal a valid form gets because its email or username is taken, decided before
/// anything is counted or mailed (so that such forms do not use up the address's share of
/// mail). Without generic responses, every conflict; with them, only a taken username, said
/// alone: a taken email must get the answer a new account gets, from [`register`].
pub async fn conflict_refusal(
    services: &Services,
    valid: &Valid,
) -> Result<Option<FormErrors>, ServiceError> {
    let Some(errors) = conflicts(services, &valid.email, valid.username.as_ref()).await? else {
        return Ok(None);
    };
    if !services.settings.features.return_generic_responses {
        return Ok(Some(errors));
    }
    Ok(username_errors(&errors))
}

enum InsertError {
    Conflict,
    /// The caller's own check inside the transaction refused (see
    /// [`create_passwordless_account`]).
    Refused(FormErrors),
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
        &[("email", email.as_typed())],
    )
}

/// The "already associated" errors for an email and username that belong to accounts.
pub async fn conflicts(
    services: &Services,
    email: &Email,
    username: Option<&Username>,
) -> Result<Option<FormErrors>, ServiceError> {
    let messages = &services.messages;
    let (email_value, username_value) = (email.clone(), username.cloned());
    let (email_is_taken, username_is_taken) = services
        .db
        .run(move |c| {
            let email_found = users::find_by_email(c, &email_value)?.is_some();
            let username_found = match &username_value {
                Some(u) => users::find_by_username(c, u)?.is_some(),
                None => false,
            };
            Ok((email_found, username_found))
        })
        .await?;
    let mut errors = FormErrors::default();
    if email_is_taken {
        errors.add("email", email_taken(messages, email));
    }
    if let (true, Some(u)) = (username_is_taken, username) {
        errors.add(
            "username",
            messages.text(
                messages::USERNAME_ALREADY_ASSOCIATED,
                &[("username", u.as_typed())],
            ),
        );
    }
    Ok((!errors.is_empty()).then_some(errors))
}
