//! The stored security events as the account page ("Recent security activity") and `/admin`
//! show them, worded in the services' language.

use super::events::{self, ActivityView};
use super::services::Services;
use crate::db::DbError;

/// The newest `limit` stored events of one user.
pub async fn recent_for_user(
    services: &Services,
    user_id: i32,
    limit: i64,
) -> Result<Vec<ActivityView>, DbError> {
    events::recent_for_user(&services.db, user_id, limit, &services.messages).await
}

/// The newest `limit` stored events across users, with their accounts' emails.
pub async fn recent(services: &Services, limit: i64) -> Result<Vec<ActivityView>, DbError> {
    events::recent(&services.db, limit, &services.messages).await
}
