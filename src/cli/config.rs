//! `latchkey config check`: what each `SECURITY_*` key of the environment and `.env` is
//! (honoured, known but not supported and why, or unknown with the nearest known key), and
//! the same check at start-up (see [`crate::config::keys`]).

use clap::Subcommand;

use super::support::CliError;
use crate::auth::services::message_names;
use crate::config::keys::{self, Checked, Verdict};
use crate::config::{Environment, Settings, Source};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print what each SECURITY_* key set in the environment and .env is: honoured, known
    /// but not supported (and why), or unknown (and the nearest known key). Exit code 5 when
    /// a key is unknown.
    Check,
}

/// The keys of `src` (the environment, `.env` loaded into it) and their verdicts.
fn check_keys(src: &Source) -> Vec<Checked> {
    keys::check(src, &message_names())
}

/// At start-up, for every command: a line for each key that is not honoured (unknown: a
/// warning; not supported: information), and production's refusal of an unknown key. `src`
/// is what `settings` were read from.
pub fn check_at_start_up(
    settings: &Settings,
    src: &Source,
) -> Result<(), crate::config::ConfigError> {
    let checked = check_keys(src);
    for c in &checked {
        match c.verdict {
            Verdict::Honoured => {}
            Verdict::NotSupported { .. } => tracing::info!(key = %c.key, "{c}"),
            Verdict::Unknown { .. } => tracing::warn!(key = %c.key, "{c}"),
        }
    }
    if settings.environment == Environment::Production {
        keys::refuse_unknown(src, &checked)?;
    }
    Ok(())
}

pub fn config_command(src: &Source, cmd: ConfigCommand) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Check => {
            let checked = check_keys(src);
            if checked.is_empty() {
                println!("No SECURITY_* key is set: every setting has its default.");
            }
            for c in &checked {
                println!("{c}");
            }
            let unknown = checked
                .iter()
                .filter(|c| matches!(c.verdict, Verdict::Unknown { .. }))
                .count();
            match unknown {
                0 => Ok(()),
                n => Err(CliError::Found(format!(
                    "{n} unknown SECURITY_* key(s): see above"
                ))),
            }
        }
    }
}
