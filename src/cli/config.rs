//! `latchkey config check`: what each `SECURITY_*` key of the environment and `.env` is
//! (honoured, known but not supported and why, or unknown with the nearest known key), and
//! the same check at start-up (see [`crate::config::keys`]).

use clap::Subcommand;

use super::support::CliError;
use crate::auth::services::message_names;
use crate::config::keys::{self, Checked, Verdict};
use crate::config::{Environment, Settings, Source};
use crate::urls::{Route, Urls};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print what each SECURITY_* key set in the environment and .env is: honoured, known
    /// but not supported (and why), or unknown (and the nearest known key). Exit code 5 when
    /// a key is unknown.
    Check,
    /// Print where each route is served under SECURITY_URL_PREFIX and the SECURITY_*_URL
    /// keys: the route, Flask-Security's default path and this configuration's path.
    Urls {
        /// One JSON object instead: {"Login": {"default": "/login", "path": "/auth/signin"}, ...}.
        #[arg(long)]
        json: bool,
    },
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

pub fn config_command(
    settings: &Settings,
    src: &Source,
    cmd: ConfigCommand,
) -> Result<(), CliError> {
    match cmd {
        ConfigCommand::Urls { json } => print_urls(settings, json),
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

/// `config urls`: the URL table of `settings`, refused when two routes would share a path.
fn print_urls(settings: &Settings, json: bool) -> Result<(), CliError> {
    let urls = Urls::new(&settings.paths.prefix, &settings.paths.keys);
    if let Some(clash) = urls.clash() {
        return Err(CliError::Found(clash.to_string()));
    }
    let defaults = Urls::default();
    if json {
        let table: serde_json::Map<String, serde_json::Value> = Route::ALL
            .iter()
            .map(|r| {
                let entry =
                    serde_json::json!({"default": defaults.path(*r), "path": urls.path(*r)});
                (format!("{r:?}"), entry)
            })
            .collect();
        println!("{}", serde_json::Value::Object(table));
        return Ok(());
    }
    for route in Route::ALL {
        println!(
            "{:<22} {:<34} {}",
            format!("{route:?}"),
            defaults.path(*route),
            urls.path(*route)
        );
    }
    Ok(())
}
