//! `latchkey clients …` and `latchkey keys …`: the apps registered with Latchkey's OpenID
//! Connect provider and the keys its ID tokens are signed with (see
//! [`crate::auth::oidc`]). A client's secret is printed once, when it is made or rotated.

use clap::Subcommand;
use serde_json::json;

use crate::auth::login::ClientInfo;
use crate::auth::oidc::clients::{self, NewClient};
use crate::auth::oidc::keys::{self, Alg};
use crate::auth::oidc::OidcError;
use crate::config::Settings;

use super::support::{print_table, run, services, CliError};

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register an app that signs its users in through Latchkey (prints its client_id and,
    /// unless --public, its secret: shown this once)
    Create {
        name: String,
        /// Where the app receives its sign-ins (repeat for several): https, or http on
        /// localhost / 127.0.0.1; matched exactly
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the app may send its users after signing out (repeatable)
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (single-page or native app): no secret, PKCE only
        #[arg(long)]
        public: bool,
        /// The scopes it may ask for (repeatable, or space-separated; default
        /// "openid email profile")
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// What its ID tokens are signed with: RS256 (the default) or EdDSA
        #[arg(long = "id-token-alg")]
        id_token_alg: Option<String>,
        /// Print {"client_id": ..., "client_secret": ...}
        #[arg(long)]
        json: bool,
    },
    /// List the registered clients (never their secrets)
    List {
        #[arg(long)]
        json: bool,
    },
    /// Give a client a new secret (the old one stops working at once)
    RotateSecret {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete a client
    Delete { client_id: String },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new current ID-token signing key; the previous one of that algorithm is
    /// retired (kept in the JWKS)
    Rotate {
        /// RS256 or EdDSA
        #[arg(long, default_value = "RS256")]
        alg: String,
    },
    /// List the signing keys, current and retired
    List {
        #[arg(long)]
        json: bool,
    },
}

impl From<OidcError> for CliError {
    fn from(e: OidcError) -> Self {
        match e {
            OidcError::Invalid(_) | OidcError::PublicClient(_) => CliError::invalid(e.to_string()),
            OidcError::UnknownClient(_) => CliError::NotFound(e.to_string()),
            OidcError::Key(_) | OidcError::Service(_) => CliError::Failed(e.into()),
        }
    }
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| CliError::Failed(e.into()))?;
    println!("{text}");
    Ok(())
}

fn time(t: Option<chrono::NaiveDateTime>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

pub(super) fn clients_command(settings: &Settings, cmd: ClientsCommand) -> Result<(), CliError> {
    let services = services(settings)?;
    let client = ClientInfo::default();
    match cmd {
        ClientsCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            scopes,
            id_token_alg,
            json,
        } => {
            let id_token_alg = id_token_alg.as_deref().map(Alg::parse).transpose()?;
            let new = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                scopes,
                public,
                id_token_alg,
            };
            let created = run(clients::create(&services, new, &client))??;
            if json {
                let mut out = json!({ "client_id": created.client.client_id });
                if let Some(secret) = &created.secret {
                    out["client_secret"] = json!(secret);
                }
                print_json(&out)?;
            } else {
                println!(
                    "Created client {} ({}).",
                    created.client.name, created.client.client_id
                );
                println!("client_id:     {}", created.client.client_id);
                match &created.secret {
                    Some(secret) => {
                        println!("client_secret: {secret}");
                        println!("The secret is shown this once; only its digest is stored.");
                    }
                    None => println!("Public client: no secret (it must use PKCE)."),
                }
            }
        }
        ClientsCommand::List { json } => {
            let all = run(clients::list(&services))??;
            if json {
                let value = serde_json::to_value(&all).map_err(|e| CliError::Failed(e.into()))?;
                print_json(&value)?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .into_iter()
                    .map(|c| {
                        vec![
                            c.client_id,
                            c.name,
                            if c.is_public {
                                "public"
                            } else {
                                "confidential"
                            }
                            .to_owned(),
                            c.scopes.join(" "),
                            c.redirect_uris.join(" "),
                        ]
                    })
                    .collect();
                print_table(
                    &["CLIENT_ID", "NAME", "TYPE", "SCOPES", "REDIRECT_URIS"],
                    &rows,
                );
            }
        }
        ClientsCommand::RotateSecret { client_id, json } => {
            let secret = run(clients::rotate_secret(&services, &client_id, &client))??;
            if json {
                print_json(&json!({ "client_id": client_id, "client_secret": secret }))?;
            } else {
                println!("New secret for client {client_id} (the old one no longer works):");
                println!("client_secret: {secret}");
            }
        }
        ClientsCommand::Delete { client_id } => {
            run(clients::delete(&services, &client_id, &client))??;
            println!("Deleted client {client_id}.");
        }
    }
    services.events.flush(std::time::Duration::from_secs(5));
    Ok(())
}

pub(super) fn keys_command(settings: &Settings, cmd: KeysCommand) -> Result<(), CliError> {
    // Checked before anything is opened.
    let alg = match &cmd {
        KeysCommand::Rotate { alg } => Some(Alg::parse(alg)?),
        KeysCommand::List { .. } => None,
    };
    let services = services(settings)?;
    match (cmd, alg) {
        (KeysCommand::Rotate { .. }, Some(alg)) => {
            let made = run(keys::rotate(&services, alg, &ClientInfo::default()))??;
            println!(
                "New current {} key {}; the previous one is retired.",
                made.alg, made.kid
            );
        }
        (KeysCommand::List { json }, _) => {
            let all = run(keys::list(&services))??;
            if json {
                let value = serde_json::to_value(&all).map_err(|e| CliError::Failed(e.into()))?;
                print_json(&value)?;
            } else {
                let rows: Vec<Vec<String>> = all
                    .into_iter()
                    .map(|k| {
                        vec![
                            k.kid,
                            k.alg,
                            if k.current { "current" } else { "retired" }.to_owned(),
                            time(Some(k.created_at)),
                            time(k.retired_at),
                        ]
                    })
                    .collect();
                print_table(&["KID", "ALG", "STATE", "CREATED", "RETIRED"], &rows);
            }
        }
        (KeysCommand::Rotate { .. }, None) => {}
    }
    services.events.flush(std::time::Duration::from_secs(5));
    Ok(())
}
