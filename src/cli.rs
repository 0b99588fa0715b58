//! The `latchkey` command: the server (`latchkey`, `latchkey serve`) and the operator's
//! commands on users, roles and the database, the equivalents of `flask users …` /
//! `flask roles …`. Input goes through the same rules as the web forms ([`crate::domain`])
//! and passwords through the same hasher ([`crate::auth::PasswordHasher`]).

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::auth::hashing::HashError;
use crate::auth::recoverable::replace_password;
use crate::auth::tokens::new_uniquifier;
use crate::auth::{PasswordHasher, ServiceError};
use crate::config::{parse_flag, Settings};
use crate::db::models::{NewUser, User};
use crate::db::users::{self, InsertUserError};
use crate::db::{self, roles, sessions, DbConnection, DbError};
use crate::domain::UsernameError;
use crate::domain::{Email, Password, Username};
use crate::messages;
use crate::telemetry::{self, LogFormat};
use crate::Application;

const EXIT_CODES: &str = "\
All commands (each has --help):
  latchkey [serve]                      run the HTTP server
  latchkey users create EMAIL [--username U] [--password P] [--inactive] [--confirmed]
  latchkey users activate EMAIL         latchkey users deactivate EMAIL
  latchkey users reset-access EMAIL     rotate fs_uniquifier: logs the user out everywhere
  latchkey users change-password EMAIL [--password P]
  latchkey users premium EMAIL on|off   latchkey users list [--role ROLE]
  latchkey roles create NAME [--description D]
  latchkey roles add EMAIL ROLE         latchkey roles remove EMAIL ROLE
  latchkey roles list                   latchkey db migrate
Without --password, the password is asked for twice without echo (or read as one line
from standard input when that is not a terminal).

Exit codes:
  0  done (also when there was nothing to change)
  1  failure (database unreachable, I/O error)
  2  usage or configuration error
  3  input refused (invalid email, username or password; name already taken)
  4  no such user or role

Settings come from the environment and .env, as for the server (DATABASE_URL, SECRET_KEY,
SECURITY_PASSWORD_SALT, ...).";

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "User authentication for actix-web, the way Flask-Security-Too does it",
    long_about = None,
    after_help = EXIT_CODES,
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default when no command is given)
    Serve,
    /// Create and manage users
    #[command(subcommand)]
    Users(UsersCommand),
    /// Create roles and give them to users
    #[command(subcommand)]
    Roles(RolesCommand),
    /// Database maintenance
    #[command(subcommand)]
    Db(DbCommand),
    /// Time password hashes at a bcrypt cost, as the server does them (for bench/run.sh)
    #[command(hide = true)]
    TimeHash {
        #[arg(long, default_value_t = 12)]
        rounds: u32,
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
}

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

#[derive(Debug, Subcommand)]
pub enum RolesCommand {
    /// Create a role
    Create {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Give a user a role
    Add { email: String, role: String },
    /// Take a role away from a user
    Remove { email: String, role: String },
    /// List roles with how many users hold each
    List,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations and exit
    Migrate,
}

fn on_off(v: &str) -> Result<bool, String> {
    parse_flag(v).ok_or_else(|| format!("expected on or off, got {v:?}"))
}

/// Why a command did not do what was asked; each maps to one exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Input refused, with the web forms' messages.
    #[error("{}", .0.join("\n"))]
    Invalid(Vec<String>),
    #[error("{0}")]
    NotFound(String),
    #[error("{0:#}")]
    Failed(#[from] anyhow::Error),
}

impl CliError {
    fn invalid(message: impl Into<String>) -> Self {
        CliError::Invalid(vec![message.into()])
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Failed(_) => 1,
            CliError::Invalid(_) => 3,
            CliError::NotFound(_) => 4,
        }
    }
}

impl From<DbError> for CliError {
    fn from(e: DbError) -> Self {
        CliError::Failed(e.into())
    }
}

impl From<HashError> for CliError {
    fn from(e: HashError) -> Self {
        CliError::Failed(e.into())
    }
}

impl From<ServiceError> for CliError {
    fn from(e: ServiceError) -> Self {
        CliError::Failed(e.into())
    }
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; usage errors to stderr with 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    // Needs no settings: the benchmark runs it before any server is configured.
    if let Some(Command::TimeHash { rounds, count }) = cli.command {
        return match time_hash(rounds, count) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("latchkey: {e}");
                ExitCode::from(e.exit_code())
            }
        };
    }
    let serving = matches!(cli.command, None | Some(Command::Serve));
    // .env first, so that LOG_FORMAT and RUST_LOG may come from it too.
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            eprintln!("latchkey: configuration error: .env: {e}");
            return ExitCode::from(2);
        }
    }
    let format = match LogFormat::from_env() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("latchkey: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Commands print their results; only warnings and errors are logged by default. Held
    // until `main` returns, so that the last lines are written.
    let default_filter = if serving { "info" } else { "warn" };
    let _log_writer = match telemetry::init_server(format, default_filter) {
        Ok(guard) => Some(guard),
        Err(e) => {
            // No thread for the writer: log from the calling threads instead.
            telemetry::init_with(format, default_filter);
            tracing::warn!(error = %e, "log writer thread not started; writing logs directly");
            None
        }
    };
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("latchkey: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).map_err(CliError::Failed),
        Some(Command::Users(cmd)) => users_command(&settings, cmd),
        Some(Command::Roles(cmd)) => roles_command(&settings, cmd),
        Some(Command::Db(DbCommand::Migrate)) => migrate(&settings),
        Some(Command::TimeHash { .. }) => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("latchkey: {line}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings).await?;
        app.run_until_stopped().await?;
        anyhow::Ok(())
    })
}

/// Prints `key=value` lines: one hash's time on one thread, the cores, the limit that
/// implies (cores / time), and what all cores hashing at once actually reach.
fn time_hash(rounds: u32, count: u32) -> Result<(), CliError> {
    if !(4..=31).contains(&rounds) || count == 0 {
        return Err(CliError::invalid(
            "--rounds must be 4..=31 and --count at least 1",
        ));
    }
    let hasher = PasswordHasher::bcrypt(crate::config::Secret::new("time-hash-salt"), rounds)?;
    let password = Password::normalize("correct-horse-battery-9");
    let started = std::time::Instant::now();
    for _ in 0..count {
        hasher.hash_blocking(&password)?;
    }
    let one = started.elapsed().as_secs_f64() / f64::from(count);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..cores)
        .map(|_| {
            let (hasher, password) = (hasher.clone(), password.clone());
            std::thread::spawn(move || {
                (0..count).try_for_each(|_| hasher.hash_blocking(&password).map(|_| ()))
            })
        })
        .collect();
    for t in threads {
        t.join()
            .map_err(|_| CliError::Failed(anyhow::anyhow!("a hashing thread panicked")))??;
    }
    let parallel = f64::from(count) * cores as f64 / started.elapsed().as_secs_f64();
    println!("rounds={rounds}");
    println!("hash_ms={:.1}", one * 1000.0);
    println!("cores={cores}");
    println!("limit_per_s={:.2}", cores as f64 / one);
    println!("parallel_per_s={parallel:.2}");
    Ok(())
}

fn migrate(settings: &Settings) -> Result<(), CliError> {
    let applied = db::migrate(&settings.database_url)?;
    if applied.is_empty() {
        println!("The database is up to date.");
    } else {
        for version in &applied {
            println!("Applied {version}");
        }
        println!("Applied {} migration(s).", applied.len());
    }
    Ok(())
}

/// A connection to the configured database (pending migrations applied, as the server does).
fn connect(settings: &Settings) -> Result<DbConnection, CliError> {
    Ok(db::open_single(&settings.database_url)?.0)
}

fn hasher(settings: &Settings) -> Result<PasswordHasher, CliError> {
    Ok(PasswordHasher::new(
        settings.password_salt.clone(),
        settings.password_hash,
        settings.bcrypt_rounds,
    )?)
}

/// The user with this email (matched as the login form matches it), or exit code 4.
fn find_user(conn: &mut DbConnection, email: &str) -> Result<User, CliError> {
    let normalized = Email::parse(email).map(Email::into_inner);
    let lookup = normalized.as_deref().unwrap_or(email);
    users::find_by_email(conn, lookup)?
        .ok_or_else(|| CliError::NotFound(format!("No user with email {email}")))
}

fn find_role(conn: &mut DbConnection, name: &str) -> Result<roles::Role, CliError> {
    roles::find_by_name(conn, name.trim())?
        .ok_or_else(|| CliError::NotFound(format!("No role named {}", name.trim())))
}

/// The new password: `--password`, else asked for twice without echo on a terminal, else
/// one line of standard input. Checked by the same policy as the forms; `user_inputs` are
/// the account's email and username, which zxcvbn counts as guessable.
fn new_password(
    settings: &Settings,
    given: Option<String>,
    user_inputs: &[&str],
) -> Result<Password, CliError> {
    let raw = match given {
        Some(p) => p,
        None if std::io::stdin().is_terminal() => {
            let read = |prompt: &str| {
                rpassword::prompt_password(prompt)
                    .map_err(|e| anyhow::anyhow!("cannot read the password: {e}"))
            };
            let first = read("Password: ")?;
            if read("Retype password: ")? != first {
                return Err(CliError::invalid("Passwords do not match"));
            }
            first
        }
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map_err(|e| {
                anyhow::anyhow!("cannot read the password from standard input: {e}")
            })?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    Password::parse(&raw, &settings.password_policy, user_inputs)
        .map_err(|e| CliError::invalid(settings.messages.describe(&e)))
}

fn users_command(settings: &Settings, cmd: UsersCommand) -> Result<(), CliError> {
    match cmd {
        UsersCommand::Create {
            email,
            username,
            password,
            inactive,
            confirmed,
        } => create_user(
            settings,
            &email,
            username,
            password.password,
            inactive,
            confirmed,
        ),
        UsersCommand::Activate { email } => set_active(settings, &email, true),
        UsersCommand::Deactivate { email } => set_active(settings, &email, false),
        UsersCommand::ResetAccess { email } => {
            let mut conn = connect(settings)?;
            let user = find_user(&mut conn, &email)?;
            users::rotate_uniquifier(&mut conn, user.id, &new_uniquifier())?;
            let ended = sessions::delete_for_user(&mut conn, user.id, None)?;
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
        UsersCommand::ChangePassword { email, password } => {
            let mut conn = connect(settings)?;
            let user = find_user(&mut conn, &email)?;
            let password = new_password(
                settings,
                password.password,
                &[
                    user.email_or_empty(),
                    user.username.as_deref().unwrap_or(""),
                ],
            )?;
            let hasher = hasher(settings)?;
            if hasher.verify_blocking(&password, &user.password) {
                return Err(CliError::invalid(
                    settings.messages.text(messages::PASSWORD_IS_THE_SAME, &[]),
                ));
            }
            let hash = hasher.hash_blocking(&password)?;
            replace_password(&mut conn, &user, &hash)?;
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
        UsersCommand::Premium { email, state } => {
            let mut conn = connect(settings)?;
            let user = find_user(&mut conn, &email)?;
            users::set_premium(&mut conn, user.id, state)?;
            println!(
                "Premium {} for {}.",
                if state { "on" } else { "off" },
                user.email_or_empty()
            );
            Ok(())
        }
        UsersCommand::List { role } => {
            let mut conn = connect(settings)?;
            if let Some(name) = &role {
                find_role(&mut conn, name)?;
            }
            let rows = roles::users_with_roles(&mut conn, role.as_deref().map(str::trim))?;
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
                    "ROLES",
                    "LAST LOGIN",
                ],
                &table,
            );
            Ok(())
        }
    }
}

fn create_user(
    settings: &Settings,
    email: &str,
    username: Option<String>,
    password: Option<String>,
    inactive: bool,
    confirmed: bool,
) -> Result<(), CliError> {
    // Every field error at once, as the registration form shows them.
    let messages = &settings.messages;
    let mut errors = Vec::new();
    let email = Email::parse(email)
        .map_err(|e| errors.push(messages.describe(&e)))
        .ok();
    let username = match username.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        Some(raw) => Username::parse(raw)
            .map_err(|e| errors.push(messages.describe(&e)))
            .ok(),
        None if settings.features.username_required => {
            errors.push(messages.describe(&UsernameError::Missing));
            None
        }
        None => None,
    };
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(CliError::Invalid(errors));
    };
    let mut conn = connect(settings)?;
    let mut taken = Vec::new();
    if users::find_by_email(&mut conn, email.as_str())?.is_some() {
        taken.push(messages.text(
            messages::EMAIL_ALREADY_ASSOCIATED,
            &[("email", email.as_str())],
        ));
    }
    if let Some(u) = &username {
        if users::find_by_username(&mut conn, u.as_str())?.is_some() {
            taken.push(messages.text(
                messages::USERNAME_ALREADY_ASSOCIATED,
                &[("username", u.as_str())],
            ));
        }
    }
    if !taken.is_empty() {
        return Err(CliError::Invalid(taken));
    }
    // Asked for only once the rest is known to be acceptable.
    let password = new_password(
        settings,
        password,
        &[email.as_str(), username.as_ref().map_or("", |u| u.as_str())],
    )?;
    let hash = hasher(settings)?.hash_blocking(&password)?;
    let new = NewUser {
        email: email.as_str().to_owned(),
        username: username.as_ref().map(|u| u.as_str().to_owned()),
        password: hash,
        active: Some(!inactive),
        fs_uniquifier: new_uniquifier(),
        confirmed_at: confirmed.then(db::now),
    };
    let user = match users::insert(&mut conn, &new) {
        Ok(user) => user,
        Err(InsertUserError::Conflict) => {
            return Err(CliError::invalid(messages.text(
                messages::EMAIL_ALREADY_ASSOCIATED,
                &[("email", email.as_str())],
            )))
        }
        Err(InsertUserError::Db(e)) => return Err(e.into()),
    };
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

fn set_active(settings: &Settings, email: &str, active: bool) -> Result<(), CliError> {
    let mut conn = connect(settings)?;
    let user = find_user(&mut conn, email)?;
    let email = user.email_or_empty();
    if user.is_active() == active {
        println!(
            "{email} is already {}.",
            if active { "active" } else { "inactive" }
        );
        return Ok(());
    }
    users::set_active(&mut conn, user.id, active)?;
    if active {
        println!("Activated {email}.");
    } else {
        // Logins stop counting at once anyway (inactive users are refused); clear them too.
        let ended = sessions::delete_for_user(&mut conn, user.id, None)?;
        println!("Deactivated {email} ({ended} login(s) ended).");
    }
    Ok(())
}

fn roles_command(settings: &Settings, cmd: RolesCommand) -> Result<(), CliError> {
    let mut conn = connect(settings)?;
    match cmd {
        RolesCommand::Create { name, description } => {
            let name = name.trim();
            // The column sizes of Flask-Security's `role` table.
            if name.is_empty() {
                return Err(CliError::invalid("Role name not provided"));
            }
            if name.chars().count() > 80 {
                return Err(CliError::invalid("Role name must be at most 80 characters"));
            }
            let description = description
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty());
            if description.is_some_and(|d| d.chars().count() > 255) {
                return Err(CliError::invalid(
                    "Role description must be at most 255 characters",
                ));
            }
            match roles::create(&mut conn, name, description)? {
                Some(role) => println!("Created role {}.", role.name.unwrap_or_default()),
                None => return Err(CliError::invalid(format!("Role {name} already exists"))),
            }
        }
        RolesCommand::Add { email, role } => {
            let user = find_user(&mut conn, &email)?;
            let role = find_role(&mut conn, &role)?;
            let name = role.name.clone().unwrap_or_default();
            if roles::add_to_user(&mut conn, user.id, role.id)? {
                println!("Gave role {name} to {}.", user.email_or_empty());
            } else {
                println!("{} already has role {name}.", user.email_or_empty());
            }
        }
        RolesCommand::Remove { email, role } => {
            let user = find_user(&mut conn, &email)?;
            let role = find_role(&mut conn, &role)?;
            let name = role.name.clone().unwrap_or_default();
            if roles::remove_from_user(&mut conn, user.id, role.id)? {
                println!("Removed role {name} from {}.", user.email_or_empty());
            } else {
                println!("{} does not have role {name}.", user.email_or_empty());
            }
        }
        RolesCommand::List => {
            let table: Vec<Vec<String>> = roles::list(&mut conn)?
                .into_iter()
                .map(|(r, holders)| {
                    vec![
                        r.name.unwrap_or_default(),
                        r.description.unwrap_or_else(|| "-".to_owned()),
                        holders.to_string(),
                    ]
                })
                .collect();
            print_table(&["NAME", "DESCRIPTION", "USERS"], &table);
        }
    }
    Ok(())
}

/// Columns separated by two spaces, each as wide as its widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn premium_takes_on_or_off() {
        let cli =
            Cli::try_parse_from(["latchkey", "users", "premium", "a@example.com", "on"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Users(UsersCommand::Premium { state: true, .. }))
        ));
        assert!(
            Cli::try_parse_from(["latchkey", "users", "premium", "a@example.com", "maybe"])
                .is_err()
        );
    }
}
