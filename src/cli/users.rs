//! `latchkey users …`: create, activate and deactivate users, reset their access or second
//! factors, change their password, list them. Each on the same rules as the web forms.

use clap::{Args, Subcommand};

use crate::auth::accounts::{self, Switched};
use crate::auth::changeable;
use crate::auth::registration::{self, NewAccount, Valid};
use crate::auth::roles as auth_roles;
use crate::auth::Services;
use crate::config::{parse_flag, Settings};
use crate::domain::{FormErrors, Password};

use super::roles::{find_role, role_name, set_premium};
use super::support::{find_user, print_table, refused, run, services, typed_password, CliError};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user (active and unconfirmed unless told otherwise)
    Create {
        email: String,
        #[arg(long)]
        username: Option<String>,
        #[command(flatten)]
        password: PasswordArg,
        /// Create the account deactivated
        #[arg(long)]
        inactive: bool,
        /// Mark the email as confirmed
        #[arg(long)]
        confirmed: bool,
    },
    /// Let a user log in again
    Activate { email: String },
    /// Stop a user from logging in (ends every login)
    Deactivate { email: String },
    /// Log a user out everywhere: rotate fs_uniquifier and end every login
    ResetAccess { email: String },
    /// Remove a user's second factors and recovery codes (they lost their phone)
    TfReset { email: String },
    /// Set a new password (ends every login)
    ChangePassword {
        email: String,
        #[command(flatten)]
        password: PasswordArg,
    },
    /// Turn the premium flag on or off
    Premium {
        email: String,
        #[arg(value_parser = on_off, value_name = "on|off", action = clap::ArgAction::Set)]
        state: bool,
    },
    /// List users with their roles and flags
    List {
        /// Only users holding this role
        #[arg(long)]
        role: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PasswordArg {
    /// The password (visible to other local users in the process list; without it, it is
    /// asked for without echo, or read as one line from standard input when that is not a
    /// terminal)
    #[arg(long)]
    password: Option<String>,
}

fn on_off(v: &str) -> Result<bool, String> {
    parse_flag(v).ok_or_else(|| format!("expected on or off, got {v:?}"))
}

pub(super) fn users_command(settings: &Settings, cmd: UsersCommand) -> Result<(), CliError> {
    let services = services(settings)?;
    match cmd {
        UsersCommand::Create {
            email,
            username,
            password,
            inactive,
            confirmed,
        } => create_user(
            &services,
            &email,
            username,
            password.password,
            NewAccount {
                active: !inactive,
                confirmed,
                welcome_mail: false,
            },
        ),
        UsersCommand::Activate { email } => set_active(&services, &email, true),
        UsersCommand::Deactivate { email } => set_active(&services, &email, false),
        UsersCommand::ResetAccess { email } => {
            let user = find_user(&services, &email)?;
            let operator = crate::auth::login::ClientInfo::default();
            let ended = run(accounts::reset_access(&services, &user, &operator))??;
            services.events.flush(std::time::Duration::from_secs(5));
            tracing::info!(
                event = "reset_access",
                user_id = user.id,
                "access reset (CLI)"
            );
            println!(
                "Reset access for {}: logged out everywhere ({ended} login(s) ended).",
                user.email_or_empty()
            );
            Ok(())
        }
        UsersCommand::TfReset { email } => {
            let user = find_user(&services, &email)?;
            let had = user.tf_primary_method.clone();
            let operator = crate::auth::login::ClientInfo::default();
            run(crate::auth::two_factor::reset(&services, &user, &operator))??;
            services.events.flush(std::time::Duration::from_secs(5));
            tracing::info!(
                event = "two_factor_reset",
                user_id = user.id,
                "second factors removed (CLI)"
            );
            match had {
                Some(method) => println!(
                    "Removed the second factor ({method}) and recovery codes of {}.",
                    user.email_or_empty()
                ),
                None => println!(
                    "{} had no second factor; recovery codes removed.",
                    user.email_or_empty()
                ),
            }
            Ok(())
        }
        UsersCommand::ChangePassword { email, password } => {
            let user = find_user(&services, &email)?;
            let raw = typed_password(password.password)?;
            run(changeable::set_new_password(&services, &user, &raw))??.map_err(refused)?;
            // The `password_changed` event is stored by the dispatcher thread: let it finish
            // before the process ends.
            services.events.flush(std::time::Duration::from_secs(5));
            tracing::info!(
                event = "password_change",
                user_id = user.id,
                "password changed (CLI)"
            );
            println!(
                "Changed the password of {}; every login ended.",
                user.email_or_empty()
            );
            Ok(())
        }
        UsersCommand::Premium { email, state } => set_premium(&services, &email, state),
        UsersCommand::List { role } => {
            let role = role.as_deref().map(role_name).transpose()?;
            if let Some(name) = &role {
                find_role(&services, name)?;
            }
            let rows = run(auth_roles::users_with_roles(&services, role.as_ref()))??;
            let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|(u, r)| {
                    vec![
                        u.id.to_string(),
                        u.email_or_empty().to_owned(),
                        u.username.clone().unwrap_or_else(|| "-".to_owned()),
                        yes_no(u.is_active()),
                        yes_no(u.confirmed_at.is_some()),
                        yes_no(u.is_premium()),
                        u.tf_primary_method
                            .clone()
                            .filter(|m| !m.is_empty())
                            .unwrap_or_else(|| "-".to_owned()),
                        if r.is_empty() {
                            "-".to_owned()
                        } else {
                            r.join(",")
                        },
                        u.current_login_at
                            .or(u.last_login_at)
                            .map_or_else(|| "never".to_owned(), |t| t.format("%F %T").to_string()),
                    ]
                })
                .collect();
            print_table(
                &[
                    "ID",
                    "EMAIL",
                    "USERNAME",
                    "ACTIVE",
                    "CONFIRMED",
                    "PREMIUM",
                    "2FA",
                    "ROLES",
                    "LAST LOGIN",
                ],
                &table,
            );
            Ok(())
        }
    }
}

/// `users create`: the registration form's rules (the same checks and messages, usernames
/// as `SECURITY_USERNAME_ENABLE` / `_REQUIRED` say), then the account as asked.
fn create_user(
    services: &Services,
    email: &str,
    username: Option<String>,
    password: Option<String>,
    account: NewAccount,
) -> Result<(), CliError> {
    let settings = &services.settings;
    let given_username = username.as_deref().map(str::trim).filter(|u| !u.is_empty());
    if given_username.is_some() && !settings.features.username_enable {
        // The form ignores a username field it does not show; a flag given on purpose
        // deserves an answer.
        return Err(CliError::invalid(
            "Usernames are not enabled (SECURITY_USERNAME_ENABLE=false): leave out --username",
        ));
    }
    // Every identity error at once, as the registration form shows them.
    let mut errors = FormErrors::default();
    let (email, username) = registration::validate_identity(
        settings,
        &services.messages,
        email,
        given_username,
        &mut errors,
    );
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(refused(errors));
    };
    if let Some(taken) = run(registration::conflicts(services, &email, username.as_ref()))?? {
        return Err(refused(taken));
    }
    // Asked for only once the rest is known to be acceptable.
    let raw = typed_password(password)?;
    let user_inputs = [email.as_str(), username.as_ref().map_or("", |u| u.as_str())];
    let password = Password::parse(&raw, &settings.password_policy, &user_inputs)
        .map_err(|e| CliError::invalid(services.messages.describe(&e)))?;
    let valid = Valid::new(email, username, password);
    let operator = crate::auth::login::ClientInfo::default();
    let created = registration::create_account(services, &valid, account, &operator);
    let user = run(created)??.map_err(refused)?;
    // The `registered` event is stored by the dispatcher thread: let it finish first.
    services.events.flush(std::time::Duration::from_secs(5));
    tracing::info!(
        event = "registration",
        user_id = user.id,
        "user created (CLI)"
    );
    println!(
        "Created user {} <{}> ({}, {}).",
        user.id,
        user.email_or_empty(),
        if user.is_active() {
            "active"
        } else {
            "inactive"
        },
        if user.confirmed_at.is_some() {
            "confirmed"
        } else {
            "unconfirmed"
        }
    );
    Ok(())
}

fn set_active(services: &Services, email: &str, active: bool) -> Result<(), CliError> {
    let user = find_user(services, email)?;
    let email = user.email_or_empty();
    let operator = crate::auth::login::ClientInfo::default();
    let switched = run(accounts::set_active(services, &user, active, &operator))??;
    services.events.flush(std::time::Duration::from_secs(5));
    match switched {
        Switched::Unchanged => println!(
            "{email} is already {}.",
            if active { "active" } else { "inactive" }
        ),
        Switched::Done { .. } if active => println!("Activated {email}."),
        Switched::Done { logins_ended } => {
            println!("Deactivated {email} ({logins_ended} login(s) ended).")
        }
    }
    Ok(())
}
