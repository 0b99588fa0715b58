//! `latchkey roles …`, and the premium flag (`latchkey users premium`): what users may do
//! beyond logging in.

use clap::Subcommand;

use crate::auth::roles as auth_roles;
use crate::auth::Services;
use crate::config::Settings;
use crate::db::roles;
use crate::domain::role::parse_role_description;
use crate::domain::RoleName;

use super::support::{find_user, print_table, run, services, CliError};

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

pub(super) fn find_role(services: &Services, name: &RoleName) -> Result<roles::Role, CliError> {
    run(auth_roles::find(services, name))??
        .ok_or_else(|| CliError::NotFound(format!("No role named {name}")))
}

pub(super) fn role_name(raw: &str) -> Result<RoleName, CliError> {
    RoleName::parse(raw).map_err(|e| CliError::invalid(e.to_string()))
}
/// `users premium EMAIL on|off`.
pub(super) fn set_premium(services: &Services, email: &str, state: bool) -> Result<(), CliError> {
    let user = find_user(services, email)?;
    let id = user.id;
    run(auth_roles::set_premium(services, id, state))??;
    println!(
        "Premium {} for {}.",
        if state { "on" } else { "off" },
        user.email_or_empty()
    );
    Ok(())
}

pub(super) fn roles_command(settings: &Settings, cmd: RolesCommand) -> Result<(), CliError> {
    let services = services(settings)?;
    match cmd {
        RolesCommand::Create { name, description } => {
            let name = role_name(&name)?;
            let description = parse_role_description(description.as_deref())
                .map_err(|e| CliError::invalid(e.to_string()))?;
            let created = run(auth_roles::create(&services, &name, description))??;
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
            if run(auth_roles::add_to_user(&services, user_id, role_id))?? {
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
            if run(auth_roles::remove_from_user(&services, user_id, role_id))?? {
                println!("Removed role {name} from {}.", user.email_or_empty());
            } else {
                println!("{} does not have role {name}.", user.email_or_empty());
            }
        }
        RolesCommand::List => {
            let table: Vec<Vec<String>> = run(auth_roles::list(&services))??
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
