//! What every command shares: [`CliError`] and its exit codes, the rules' services for one
//! command, running a rule to completion, finding a user, reading a password and printing
//! a table.

use std::io::IsTerminal;

use crate::auth::hashing::HashError;
use crate::auth::{accounts, ServiceError, Services};
use crate::config::{PoolOptions, Settings};
use crate::db::models::User;
use crate::db::DbError;
use crate::domain::FormErrors;

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
    pub(super) fn invalid(message: impl Into<String>) -> Self {
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

/// The rules' services for one command: the configured database (pending migrations
/// applied, as the server does) with a pool that keeps nothing open in the background.
pub(super) fn services(settings: &Settings) -> Result<Services, CliError> {
    Services::start(settings.clone(), PoolOptions::command_line())
        .map_err(|e| CliError::Failed(e.into()))
}

/// Runs a rule (they are async, like the web handlers that share them) to completion.
pub(super) fn run<T>(future: impl std::future::Future<Output = T>) -> Result<T, CliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
    Ok(runtime.block_on(future))
}

/// The user with this email (matched as the login form matches it), or exit code 4.
pub(super) fn find_user(services: &Services, email: &str) -> Result<User, CliError> {
    run(accounts::find_by_email(services, email))??
        .ok_or_else(|| CliError::NotFound(format!("No user with email {email}")))
}

/// The new password as typed: `--password`, else asked for twice without echo on a
/// terminal, else one line of standard input. The rules check it.
pub(super) fn typed_password(given: Option<String>) -> Result<String, CliError> {
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

pub(super) fn refused(errors: FormErrors) -> CliError {
    CliError::Invalid(errors.all_messages())
}

/// Columns separated by two spaces, each as wide as its widest cell.
pub(super) fn print_table(header: &[&str], rows: &[Vec<String>]) {
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
