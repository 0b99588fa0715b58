//! Roles and the premium flag: who holds what, giving and taking roles, and switching premium
//! on or off. The `/admin` page, the role guards and the `latchkey roles …` / `users …`
//! commands all go through these. Callable without HTTP.

use super::error::ServiceError;
use super::services::Services;
use crate::db::models::User;
use crate::db::roles::{self, Role};
use crate::db::users;
use crate::domain::RoleName;

/// Every user (only those holding `role` when one is named) with their role names, by id.
pub async fn users_with_roles(
    services: &Services,
    role: Option<&RoleName>,
) -> Result<Vec<(User, Vec<String>)>, ServiceError> {
    let role = role.cloned();
    Ok(services
        .db
        .run(move |conn| roles::users_with_roles(conn, role.as_ref().map(RoleName::as_str)))
        .await?)
}

/// The users whose email or username contains `query` (ignoring case; every user for an empty
/// or missing query), with their role names, by id; and how many users there are in all.
pub async fn search_users(
    services: &Services,
    query: Option<&str>,
) -> Result<(Vec<(User, Vec<String>)>, usize), ServiceError> {
    let all = users_with_roles(services, None).await?;
    let total = all.len();
    let needle = query.map(str::trim).unwrap_or_default().to_lowercase();
    if needle.is_empty() {
        return Ok((all, total));
    }
    let contains = |value: Option<&str>| value.is_some_and(|v| v.to_lowercase().contains(&needle));
    let found = all
        .into_iter()
        .filter(|(user, _)| contains(user.email.as_deref()) || contains(user.username.as_deref()))
        .collect();
    Ok((found, total))
}

/// The names of a user's roles, sorted.
pub async fn names_for_user(
    services: &Services,
    user_id: i32,
) -> Result<Vec<String>, ServiceError> {
    Ok(services
        .db
        .run(move |conn| roles::names_for_user(conn, user_id))
        .await?)
}

/// The role of that name, if there is one.
pub async fn find(services: &Services, name: &RoleName) -> Result<Option<Role>, ServiceError> {
    let name = name.clone();
    Ok(services
        .db
        .run(move |conn| roles::find_by_name(conn, name.as_str()))
        .await?)
}

/// Creates a role; `Ok(None)` when one of that name exists already.
pub async fn create(
    services: &Services,
    name: &RoleName,
    description: Option<String>,
) -> Result<Option<Role>, ServiceError> {
    let name = name.clone();
    Ok(services
        .db
        .run(move |conn| roles::create(conn, name.as_str(), description.as_deref()))
        .await?)
}

/// Every role with the number of users holding it, by name.
pub async fn list(services: &Services) -> Result<Vec<(Role, i64)>, ServiceError> {
    Ok(services.db.run(roles::list).await?)
}

/// Gives the user the role; `false` when the user had it already.
pub async fn add_to_user(
    services: &Services,
    user_id: i32,
    role_id: i32,
) -> Result<bool, ServiceError> {
    Ok(services
        .db
        .run(move |conn| roles::add_to_user(conn, user_id, role_id))
        .await?)
}

/// Takes the role away from the user; `false` when the user did not have it.
pub async fn remove_from_user(
    services: &Services,
    user_id: i32,
    role_id: i32,
) -> Result<bool, ServiceError> {
    Ok(services
        .db
        .run(move |conn| roles::remove_from_user(conn, user_id, role_id))
        .await?)
}

/// Switches the user's premium flag on or off.
pub async fn set_premium(services: &Services, user_id: i32, on: bool) -> Result<(), ServiceError> {
    services
        .db
        .run(move |conn| users::set_premium(conn, user_id, on))
        .await?;
    Ok(())
}
