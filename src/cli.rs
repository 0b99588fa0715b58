//! The `latchkey` command: the server (`latchkey`, `latchkey serve`) and the operator's
//! commands on users, roles and the database, the equivalents of `flask users …` /
//! `flask roles …`. Each command calls the same rules as the web handlers ([`crate::auth`]:
//! registration, password change, account switches) with the same messages, through the
//! same [`Services`].

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::auth::accounts::{self, IdentityFinding, Switched};
use crate::auth::changeable;
use crate::auth::hashing::HashError;
use crate::auth::services::load_messages;
use crate::auth::registration::{self, NewAccount, Valid};
use crate::auth::{PasswordHasher, ServiceError, Services};
use crate::config::{parse_flag, Settings};
use crate::db::models::User;
use crate::db::{self, roles, users, DbError, PoolOptions};
use crate::domain::role::parse_role_description;
use crate::domain::{FormErrors, Password, RoleName};
use crate::startup::Application;
use crate::telemetry::{self, LogFormat};

const EXIT_CODES: &str = "\
All commands (each has --help):
  latchkey [serve]                      run the HTTP server
  latchkey users create EMAIL [--username U] [--password P] [--inactive] [--confirmed]
  latchkey users activate EMAIL         latchkey users deactivate EMAIL
  latchkey users reset-access EMAIL     rotate fs_uniquifier: logs the user out everywhere
  latchkey users tf-reset EMAIL         remove the user's second factors and recovery codes
  latchkey users change-password EMAIL [--password P]
  latchkey users premium EMAIL on|off   latchkey users list [--role ROLE]
  latchkey roles create NAME [--description D]
  latchkey roles add EMAIL ROLE         latchkey roles remove EMAIL ROLE
  latchkey roles list                   latchkey db migrate
  latchkey db check                     adopted emails and usernames that look alike
  latchkey db sweep                     one housekeeping pass: what it removed
Without --password, the password is asked for twice without echo (or read as one line
from standard input when that is not a terminal).

Exit codes:
  0  done (also when there was nothing to change)
  1  failure (database unreachable, I/O error)
  2  usage or configuration error
  3  input refused (invalid email, username or password; name already taken)
  4  no such user or role
  5  db check found something to look at

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
    /// Report stored emails and usernames that today's rules refuse or that look alike
    Check,
    /// Delete what is of no use any more (expired logins, spent tokens, old throttle rows,
    /// mail given up long ago, ...) in one pass, and print what was removed
    Sweep,
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
    /// A check that ran and found problems (already printed).
    #[error("{0}")]
    Found(String),
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
            CliError::Found(_) => 5,
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
    // The catalogue of texts is loaded when the services start; checked here too, so that a
    // translation file or `SECURITY_MSG_*` text it cannot use is a configuration error for
    // every command, as any other setting is.
    if let Err(e) = load_messages(&settings.messages) {
        eprintln!("latchkey: configuration error: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).map_err(CliError::Failed),
        Some(Command::Users(cmd)) => users_command(&settings, cmd),
        Some(Command::Roles(cmd)) => roles_command(&settings, cmd),
        Some(Command::Db(DbCommand::Migrate)) => migrate(&settings),
        Some(Command::Db(DbCommand::Check)) => check(&settings),
        Some(Command::Db(DbCommand::Sweep)) => sweep(&settings),
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

/// `db sweep`: one housekeeping pass, as the server runs every `HOUSEKEEPING_INTERVAL`.
fn sweep(settings: &Settings) -> Result<(), CliError> {
    let services = services(settings)?;
    let started = std::time::Instant::now();
    let report = run(crate::auth::housekeeping::sweep_once(
        &services,
        crate::auth::housekeeping::BATCH,
        crate::auth::housekeeping::PAUSE,
    ))??;
    println!("{report}");
    println!("Swept in {:.1} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// `db check`: what an adopted database holds that Latchkey's rules would refuse for a new
/// account, and accounts that differ only in case.
fn check(settings: &Settings) -> Result<(), CliError> {
    let services = services(settings)?;
    let rows = run(services.db.run(users::identities))??;
    let findings = accounts::check_identities(&rows, &services.messages);
    if findings.is_empty() {
        println!("Checked {} account(s): no problems found.", rows.len());
        return Ok(());
    }
    let table: Vec<Vec<String>> = findings
        .iter()
        .map(|finding| match finding {
            IdentityFinding::Refused {
                field,
                user_id,
                stored,
                reason,
            } => vec![
                "refused".to_owned(),
                (*field).to_owned(),
                user_id.to_string(),
                format!("{stored:?}: {reason}"),
            ],
            IdentityFinding::NotFolded {
                field,
                user_id,
                stored,
            } => vec![
                "not-folded".to_owned(),
                (*field).to_owned(),
                user_id.to_string(),
                format!(
                    "{stored:?}: on SQLite, the same in another case would not be seen as \
                     taken; store it in lower case"
                ),
            ],
            IdentityFinding::LookAlike {
                field,
                user_ids,
                folded,
            } => vec![
                "look-alike".to_owned(),
                (*field).to_owned(),
                user_ids
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(","),
                format!("all fold to {folded:?}"),
            ],
        })
        .collect();
    print_table(&["FINDING", "FIELD", "USER IDS", "DETAIL"], &table);
    println!(
        "These accounts still log in (typing the address or name exactly as stored); new \
         accounts cannot be made like them. Rename or merge them with care."
    );
    Err(CliError::Found(format!(
        "{} finding(s) in {} account(s)",
        findings.len(),
        rows.len()
    )))
}

/// The rules' services for one command: the configured database (pending migrations
/// applied, as the server does) with a pool that keeps nothing open in the background.
fn services(settings: &Settings) -> Result<Services, CliError> {
    Services::start(settings.clone(), PoolOptions::command_line())
        .map_err(|e| CliError::Failed(e.into()))
}

/// Runs a rule (they are async, like the web handlers that share them) to completion.
fn run<T>(future: impl std::future::Future<Output = T>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

/// The user with this email (matched as the login form matches it), or exit code 4.
fn find_user(services: &Services, email: &str) -> Result<User, CliError> {
    run(accounts::find_by_email(services, email))??
        .ok_or_else(|| CliError::NotFound(format!("No user with email {email}")))
}

fn find_role(services: &Services, name: &RoleName) -> Result<roles::Role, CliError> {
    let lookup = name.clone();
    run(services
        .db
        .run(move |c| roles::find_by_name(c, lookup.as_str())))??
    .ok_or_else(|| CliError::NotFound(format!("No role named {name}")))
}

fn role_name(raw: &str) -> Result<RoleName, CliError> {
    RoleName::parse(raw).map_err(|e| CliError::invalid(e.to_string()))
}

/// The new password as typed: `--password`, else asked for twice without echo on a
/// terminal, else one line of standard input. The rules check it.
fn typed_password(given: Option<String>) -> Result<String, CliError> {
    Ok(match given {
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
    })
}

fn refused(errors: FormErrors) -> CliError {
    CliError::Invalid(errors.all_messages())
}

fn users_command(settings: &Settings, cmd: UsersCommand) -> Result<(), CliError> {
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
        UsersCommand::Premium { email, state } => {
            let user = find_user(&services, &email)?;
            let id = user.id;
            run(services.db.run(move |c| users::set_premium(c, id, state)))??;
            println!(
                "Premium {} for {}.",
                if state { "on" } else { "off" },
                user.email_or_empty()
            );
            Ok(())
        }
        UsersCommand::List { role } => {
            let role = role.as_deref().map(role_name).transpose()?;
            if let Some(name) = &role {
                find_role(&services, name)?;
            }
            let rows = run(services
                .db
                .run(move |c| roles::users_with_roles(c, role.as_ref().map(RoleName::as_str))))??;
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

fn roles_command(settings: &Settings, cmd: RolesCommand) -> Result<(), CliError> {
    let services = services(settings)?;
    match cmd {
        RolesCommand::Create { name, description } => {
            let name = role_name(&name)?;
            let description = parse_role_description(description.as_deref())
                .map_err(|e| CliError::invalid(e.to_string()))?;
            let created = {
                let name = name.clone();
                run(services
                    .db
                    .run(move |c| roles::create(c, name.as_str(), description.as_deref())))??
            };
            match created {
                Some(role) => println!("Created role {}.", role.name.unwrap_or_default()),
                None => return Err(CliError::invalid(format!("Role {name} already exists"))),
            }
        }
        RolesCommand::Add { email, role } => {
            let user = find_user(&services, &email)?;
            let role = find_role(&services, &role_name(&role)?)?;
            let name = role.name.clone().unwrap_or_default();
            let (user_id, role_id) = (user.id, role.id);
            if run(services
                .db
                .run(move |c| roles::add_to_user(c, user_id, role_id)))??
            {
                println!("Gave role {name} to {}.", user.email_or_empty());
            } else {
                println!("{} already has role {name}.", user.email_or_empty());
            }
        }
        RolesCommand::Remove { email, role } => {
            let user = find_user(&services, &email)?;
            let role = find_role(&services, &role_name(&role)?)?;
            let name = role.name.clone().unwrap_or_default();
            let (user_id, role_id) = (user.id, role.id);
            if run(services
                .db
                .run(move |c| roles::remove_from_user(c, user_id, role_id)))??
            {
                println!("Removed role {name} from {}.", user.email_or_empty());
            } else {
                println!("{} does not have role {name}.", user.email_or_empty());
            }
        }
        RolesCommand::List => {
            let table: Vec<Vec<String>> = run(services.db.run(roles::list))??
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
