//! The `latchkey` command: the server (`latchkey`, `latchkey serve`) and the operator's
//! commands on users, roles and the database, the equivalents of `flask users …` /
//! `flask roles …`. Each command calls the same rules as the web handlers ([`crate::auth`]:
//! registration, password change, account switches) with the same messages, through the
//! same [`Services`](crate::auth::Services).

//!
//! One file per group of commands: `users` (`latchkey users …`), `roles` (`latchkey roles …`
//! and the premium flag), `database` (`latchkey db …`); `support` holds what they share.
//! This file holds the command line's definition and its dispatch.

mod config;
mod database;
mod oidc;
mod roles;
mod support;
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::services::load_messages;
use crate::auth::PasswordHasher;
use crate::config::{Settings, Source};
use crate::domain::Password;
use crate::startup::Application;
use crate::telemetry::{self, LogFormat};

pub use config::ConfigCommand;
pub use database::DbCommand;
pub use oidc::{ClientsCommand, KeysCommand};
pub use roles::RolesCommand;
pub use support::CliError;
pub use users::{PasswordArg, UsersCommand};

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
  latchkey config check                 what each SECURITY_* key set is (typos named)
  latchkey config urls [--json]         where each route is served (URL_PREFIX, *_URL keys)
  latchkey clients create NAME --redirect-uri URI [--redirect-uri URI2]
           [--post-logout-redirect-uri URI] [--public] [--scope S ...] [--json]
  latchkey clients list [--json]        latchkey clients delete CLIENT_ID
  latchkey clients rotate-secret CLIENT_ID [--json]
  latchkey keys rotate [--alg RS256|EdDSA]   latchkey keys list [--json]
Without --password, the password is asked for twice without echo (or read as one line
from standard input when that is not a terminal).

Exit codes:
  0  done (also when there was nothing to change)
  1  failure (database unreachable, I/O error)
  2  usage or configuration error
  3  input refused (invalid email, username or password; name already taken; a client's
     redirect URI or scope; a key algorithm; rotating a public client's secret)
  4  no such user, role or client
  5  db check or config check found something to look at

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
    /// Check the configuration's SECURITY_* keys
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Apps that sign their users in through Latchkey (OpenID Connect clients)
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// The keys Latchkey's ID tokens are signed with
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Time password hashes at a bcrypt cost, as the server does them (for bench/run.sh)
    #[command(hide = true)]
    TimeHash {
        #[arg(long, default_value_t = 12)]
        rounds: u32,
        #[arg(long, default_value_t = 5)]
        count: u32,
    },
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
    // `.env` is already in the environment (above): the settings and the check of their keys
    // read the one source.
    let source = Source::from_env();
    let settings = match Settings::from_source(&source) {
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
    // Every SECURITY_* key is honoured, known but not supported, or unknown: the last two
    // are said at start-up, and production refuses an unknown one.
    // (`config check` itself reports them rather than refusing.)
    let checking = matches!(cli.command, Some(Command::Config(_)));
    if !checking {
        if let Err(e) = config::check_at_start_up(&settings, &source) {
            eprintln!("latchkey: configuration error: {e}");
            return ExitCode::from(2);
        }
    }
    let result = match cli.command {
        None | Some(Command::Serve) => serve(settings).map_err(CliError::Failed),
        Some(Command::Users(cmd)) => users::users_command(&settings, cmd),
        Some(Command::Roles(cmd)) => roles::roles_command(&settings, cmd),
        Some(Command::Db(DbCommand::Migrate)) => database::migrate(&settings),
        Some(Command::Db(DbCommand::Check)) => database::check(&settings),
        Some(Command::Db(DbCommand::Sweep)) => database::sweep(&settings),
        Some(Command::Config(cmd)) => config::config_command(&settings, &source, cmd),
        Some(Command::Clients(cmd)) => oidc::clients_command(&settings, cmd),
        Some(Command::Keys(cmd)) => oidc::keys_command(&settings, cmd),
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
    let password = Password::normalize("correct-horse-battery-9", None);
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
