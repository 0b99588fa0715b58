//! "Apps with access": the apps a person let sign them in through Latchkey (their consents),
//! and taking that back. Removing an app's access forgets the consent and ends every code
//! and token it holds for the account: its next sign-in asks again.

use chrono::NaiveDateTime;
use serde::Serialize;

use super::discovery::scope_description;
use super::OidcError;
use crate::auth::events::SecurityEvent;
use crate::auth::login::ClientInfo;
use crate::auth::services::Services;
use crate::db;
use crate::db::models::User;
use crate::db::oidc;
use crate::db::oidc_grants;

/// An app with access to the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppAccess {
    pub client_id: String,
    pub name: String,
    /// What it may see, as the consent page worded it (English msgids).
    pub sees: Vec<String>,
    pub agreed_at: NaiveDateTime,
}

/// The apps `user` let in, oldest first (a deleted client's consent is not shown).
pub async fn list(services: &Services, user: &User) -> Result<Vec<AppAccess>, OidcError> {
    let user_id = user.id;
    let rows = services
        .db
        .run(move |conn| {
            let mut apps = Vec::new();
            for consent in oidc_grants::consents_of(conn, user_id)? {
                if let Some(client) = oidc::find_client(conn, &consent.client_id)? {
                    apps.push((consent, client.name));
                }
            }
            Ok(apps)
        })
        .await?;
    Ok(rows
        .into_iter()
        .map(|(consent, name)| AppAccess {
            sees: consent
                .scope
                .split_ascii_whitespace()
                .map(|s| scope_description(s).to_owned())
                .collect(),
            client_id: consent.client_id,
            name,
            agreed_at: consent.created_at,
        })
        .collect())
}

/// Takes back `client_id`'s access to `user`: the consent forgotten, its codes and tokens
/// ended, in one transaction; the `token_revoked` event. The app's name (its `client_id` if
/// it has since been deleted) when it had access, `None` when it had none.
pub async fn revoke(
    services: &Services,
    user: &User,
    client_id: &str,
    client: &ClientInfo,
) -> Result<Option<String>, OidcError> {
    let (user_id, id) = (user.id, client_id.to_owned());
    let had = services
        .db
        .run_with(move |conn| {
            db::exclusive_transaction::<_, db::DbError, _>(
                conn,
                &[&format!("oidc:user:{user_id}")],
                |conn| {
                    let had = oidc_grants::delete_consent(conn, user_id, &id)?;
                    let ended = oidc_grants::revoke_for_user(conn, user_id, Some(&id), db::now())?;
                    if !had && ended == 0 {
                        return Ok(None);
                    }
                    let name = oidc::find_client(conn, &id)?.map(|c| c.name);
                    Ok(Some(name.unwrap_or(id)))
                },
            )
        })
        .await?;
    if had.is_some() {
        tracing::info!(
            event = "oidc_app_revoked",
            user_id,
            client_id,
            "app access removed"
        );
        let event = SecurityEvent::TokenRevoked {
            kind: "app".to_owned(),
            label: Some(format!("{client_id}: access removed")),
        };
        services.emit(event, Some(user_id), client);
    }
    Ok(had)
}
