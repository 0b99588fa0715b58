//! What pages and JSON answers show of a user (never the hash or uniquifier).

use serde_json::{json, Value};

/// What templates and JSON may show of a user (never the hash or uniquifier).
pub fn user_view(user: &crate::db::models::User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "premium": user.is_premium(),
        "active": user.is_active(),
        "confirmed_at": user.confirmed_at.map(crate::times::iso_naive),
        "last_login_at": user.last_login_at.map(crate::times::iso_naive),
        "login_count": user.login_count,
    })
}
