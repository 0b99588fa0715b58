//! Queries on Flask-Security's `role` and `roles_users` tables, written once for both backends.

use diesel::prelude::*;

use super::models::User;
use super::schema::{role, roles_users, user};
use super::{DbConnection, DbError};

/// A row of `role`.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = role)]
pub struct Role {
    pub id: i32,
    pub name: Option<String>,
    pub description: Option<String>,
}

pub fn find_by_name(conn: &mut DbConnection, name: &str) -> Result<Option<Role>, DbError> {
    Ok(role::table
        .filter(role::name.eq(name))
        .select(Role::as_select())
        .get_result(conn)
        .optional()?)
}

/// Creates a role; `Ok(None)` when one of that name exists already.
pub fn create(
    conn: &mut DbConnection,
    name: &str,
    description: Option<&str>,
) -> Result<Option<Role>, DbError> {
    let inserted = diesel::insert_into(role::table)
        .values((
            role::name.eq(name),
            role::description.eq(description.map(str::to_owned)),
        ))
        .execute(conn)
        .map_err(DbError::from);
    match inserted {
        Ok(_) => find_by_name(conn, name),
        Err(e) if e.is_unique_violation() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Every role with the number of users holding it, by name.
pub fn list(conn: &mut DbConnection) -> Result<Vec<(Role, i64)>, DbError> {
    let roles: Vec<Role> = role::table
        .order(role::name.asc())
        .select(Role::as_select())
        .load(conn)?;
    let mut out = Vec::with_capacity(roles.len());
    for r in roles {
        let holders: i64 = roles_users::table
            .filter(roles_users::role_id.eq(Some(r.id)))
            .count()
            .get_result(conn)?;
        out.push((r, holders));
    }
    Ok(out)
}

/// The names of a user's roles, sorted.
pub fn names_for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<String>, DbError> {
    let mut names: Vec<String> = roles_users::table
        .inner_join(role::table)
        .filter(roles_users::user_id.eq(Some(user_id)))
        .select(role::name)
        .load::<Option<String>>(conn)?
        .into_iter()
        .flatten()
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

pub fn user_has(conn: &mut DbConnection, user_id: i32, role_id: i32) -> Result<bool, DbError> {
    let n: i64 = roles_users::table
        .filter(roles_users::user_id.eq(Some(user_id)))
        .filter(roles_users::role_id.eq(Some(role_id)))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Gives `user_id` the role; `false` when the user had it already.
pub fn add_to_user(conn: &mut DbConnection, user_id: i32, role_id: i32) -> Result<bool, DbError> {
    if user_has(conn, user_id, role_id)? {
        return Ok(false);
    }
    diesel::insert_into(roles_users::table)
        .values((
            roles_users::user_id.eq(Some(user_id)),
            roles_users::role_id.eq(Some(role_id)),
        ))
        .execute(conn)?;
    Ok(true)
}

/// Takes the role away; `false` when the user did not have it.
pub fn remove_from_user(
    conn: &mut DbConnection,
    user_id: i32,
    role_id: i32,
) -> Result<bool, DbError> {
    let n = diesel::delete(
        roles_users::table
            .filter(roles_users::user_id.eq(Some(user_id)))
            .filter(roles_users::role_id.eq(Some(role_id))),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Every user (optionally only those holding `role_name`) with their role names, by id.
pub fn users_with_roles(
    conn: &mut DbConnection,
    role_name: Option<&str>,
) -> Result<Vec<(User, Vec<String>)>, DbError> {
    let users: Vec<User> = match role_name {
        Some(name) => user::table
            .filter(
                user::id.nullable().eq_any(
                    roles_users::table
                        .inner_join(role::table)
                        .filter(role::name.eq(name))
                        .select(roles_users::user_id),
                ),
            )
            .order(user::id.asc())
            .select(User::as_select())
            .load(conn)?,
        None => user::table
            .order(user::id.asc())
            .select(User::as_select())
            .load(conn)?,
    };
    // One query for every pairing instead of one per user.
    let pairs: Vec<(Option<i32>, Option<String>)> = roles_users::table
        .inner_join(role::table)
        .select((roles_users::user_id, role::name))
        .load(conn)?;
    let mut by_user: std::collections::HashMap<i32, Vec<String>> = Default::default();
    for (uid, name) in pairs {
        if let (Some(uid), Some(name)) = (uid, name) {
            by_user.entry(uid).or_default().push(name);
        }
    }
    Ok(users
        .into_iter()
        .map(|u| {
            let mut names = by_user.remove(&u.id).unwrap_or_default();
            names.sort();
            names.dedup();
            (u, names)
        })
        .collect())
}
