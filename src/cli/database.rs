//! `latchkey db …`: migrations, the check of adopted accounts, one housekeeping pass.

use clap::Subcommand;

use crate::auth::accounts::{self, IdentityFinding};
use crate::config::Settings;
use crate::db::{self, users};

use super::support::{print_table, run, services, CliError};

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

pub(super) fn migrate(settings: &Settings) -> Result<(), CliError> {
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
pub(super) fn sweep(settings: &Settings) -> Result<(), CliError> {
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
pub(super) fn check(settings: &Settings) -> Result<(), CliError> {
    let services = services(settings)?;
    let rows = run(services.db.run(users::identities))??;
    let findings = accounts::check_identities(
        &rows,
        &services.settings.username_policy,
        &services.messages,
    );
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
