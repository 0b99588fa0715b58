//! Queries on the `user` table, written once for both backends.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{NewUser, User};
use super::schema::user;
use super::{DbConnection, DbError};
use crate::domain::{Email, Username};

diesel::define_sql_function! {
    /// SQL `lower()`: both sides of a case-insensitive match fold the same way.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

/// The account of `email`. Latchkey stores addresses case-folded, so one indexed equality
/// finds them. An account adopted from a database that stored its address as typed
/// (`Ann@…`) is found through the unique `lower(email)` index with the address as typed,
/// and kept only if its address folds (in Rust, the same on every backend) to the one asked
/// for: SQLite's `lower()` folds only ASCII.
pub fn find_by_email(conn: &mut DbConnection, email: &Email) -> Result<Option<User>, DbError> {
    if let Some(user) = find_by_stored_email(conn, email.as_str())? {
        return Ok(Some(user));
    }
    let candidates: Vec<User> = user::table
        .filter(lower(user::email).eq(lower(Some(email.as_typed().to_owned()))))
        .select(User::as_select())
        .load(conn)?;
    Ok(candidates.into_iter().find(|u| {
        u.email
            .as_deref()
            .and_then(|stored| Email::parse(stored).ok())
            .is_some_and(|stored| stored == *email)
    }))
}

/// The account whose stored address is exactly `stored`: for adopted rows that today's
/// rules would refuse (their owners can still log in by typing it as stored).
pub fn find_by_stored_email(
    conn: &mut DbConnection,
    stored: &str,
) -> Result<Option<User>, DbError> {
    Ok(user::table
        .filter(user::email.eq(stored))
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

/// The account of `username`, found as [`find_by_email`] finds an address.
pub fn find_by_username(
    conn: &mut DbConnection,
    username: &Username,
) -> Result<Option<User>, DbError> {
    if let Some(user) = find_by_stored_username(conn, username.as_str())? {
        return Ok(Some(user));
    }
    let candidates: Vec<User> = user::table
        .filter(lower(user::username).eq(lower(Some(username.as_typed().to_owned()))))
        .select(User::as_select())
        .load(conn)?;
    Ok(candidates.into_iter().find(|u| {
        u.username
            .as_deref()
            .and_then(|stored| username.like(stored))
            .is_some_and(|stored| stored == *username)
    }))
}

/// The account whose stored username is exactly `stored` (see [`find_by_stored_email`]).
pub fn find_by_stored_username(
    conn: &mut DbConnection,
    stored: &str,
) -> Result<Option<User>, DbError> {
    Ok(user::table
        .filter(user::username.eq(stored))
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

/// An account's id, email and username as stored.
pub type Identity = (i32, Option<String>, Option<String>);

/// Every account's id, email and username, by id: for `latchkey db check`.
pub fn identities(conn: &mut DbConnection) -> Result<Vec<Identity>, DbError> {
    Ok(user::table
        .order(user::id)
        .select((user::id, user::email, user::username))
        .load(conn)?)
}

/// The account whose unified sign-in phone number is `number` (canonical, `+` and digits).
pub fn find_by_phone(conn: &mut DbConnection, number: &str) -> Result<Option<User>, DbError> {
    Ok(user::table
        .filter(user::us_phone_number.eq(number))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: i32) -> Result<Option<User>, DbError> {
    Ok(user::table
        .find(id)
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

pub fn find_by_uniquifier(
    conn: &mut DbConnection,
    uniquifier: &str,
) -> Result<Option<User>, DbError> {
    Ok(user::table
        .filter(user::fs_uniquifier.eq(uniquifier))
        .select(User::as_select())
        .get_result(conn)
        .optional()?)
}

/// Why an insert was refused.
#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    /// The email or username is taken (possibly by a registration racing this one).
    #[error("email or username already registered")]
    Conflict,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<diesel::result::Error> for InsertUserError {
    fn from(e: diesel::result::Error) -> Self {
        InsertUserError::Db(e.into())
    }
}

/// Inserts a user; a uniqueness conflict (including one lost to a concurrent insert) is
/// [`InsertUserError::Conflict`], never an internal error.
pub fn insert(conn: &mut DbConnection, new: &NewUser) -> Result<User, InsertUserError> {
    let inserted = diesel::insert_into(user::table)
        .values(new)
        .execute(conn)
        .map_err(DbError::from);
    match inserted {
        Ok(_) => {}
        Err(e) if e.is_unique_violation() => return Err(InsertUserError::Conflict),
        Err(e) => return Err(e.into()),
    }
    // No RETURNING across backends: read the row back by its unique uniquifier.
    find_by_uniquifier(conn, &new.fs_uniquifier)?.ok_or(InsertUserError::Db(DbError::Query(
        diesel::result::Error::NotFound,
    )))
}

/// Flask-Security's trackable update (BEHAVIOUR.md §10), done in one statement from the
/// values read at login.
pub fn record_login(
    conn: &mut DbConnection,
    before: &User,
    ip: Option<&str>,
    at: NaiveDateTime,
) -> Result<(), DbError> {
    let last_at = before.current_login_at.unwrap_or(at);
    let last_ip = before
        .current_login_ip
        .clone()
        .or_else(|| ip.map(str::to_owned));
    diesel::update(user::table.find(before.id))
        .set((
            user::last_login_at.eq(Some(last_at)),
            user::current_login_at.eq(Some(at)),
            user::last_login_ip.eq(last_ip),
            user::current_login_ip.eq(ip.map(str::to_owned)),
            user::login_count.eq(Some(before.login_count.unwrap_or(0) + 1)),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn set_premium(conn: &mut DbConnection, id: i32, premium: bool) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set(user::premium.eq(Some(premium)))
        .execute(conn)?;
    Ok(())
}

pub fn set_active(conn: &mut DbConnection, id: i32, active: bool) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set(user::active.eq(Some(active)))
        .execute(conn)?;
    Ok(())
}

/// Replaces the uniquifier: every login made with the old one stops working.
pub fn rotate_uniquifier(conn: &mut DbConnection, id: i32, new: &str) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set(user::fs_uniquifier.eq(new))
        .execute(conn)?;
    Ok(())
}

pub fn set_confirmed(conn: &mut DbConnection, id: i32, at: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set(user::confirmed_at.eq(Some(at)))
        .execute(conn)?;
    Ok(())
}

/// Stores a new password hash and a new uniquifier (which ends every existing login).
pub fn set_password(
    conn: &mut DbConnection,
    id: i32,
    hash: &str,
    uniquifier: &str,
) -> Result<(), DbError> {
    diesel::update(user::table.find(id))
        .set((user::password.eq(hash), user::fs_uniquifier.eq(uniquifier)))
        .execute(conn)?;
    Ok(())
}

/// Replaces a hash by a re-hash of the same password (scheme or cost upgrade), keeping the
/// uniquifier so no login ends. Only if the hash is still `old`: a password changed in
/// the meantime wins. Returns whether it was replaced.
pub fn upgrade_password_hash(
    conn: &mut DbConnection,
    id: i32,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let n = diesel::update(user::table.find(id).filter(user::password.eq(old)))
        .set(user::password.eq(new))
        .execute(conn)?;
    Ok(n == 1)
}

/// Why an identity (email or username) was not changed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityChangeError {
    /// Another account holds it (possibly since a moment ago).
    #[error("already taken")]
    Taken,
    #[error(transparent)]
    Db(#[from] DbError),
}

fn identity_update(
    result: Result<usize, diesel::result::Error>,
) -> Result<(), IdentityChangeError> {
    match result.map_err(DbError::from) {
        Ok(_) => Ok(()),
        Err(e) if e.is_unique_violation() => Err(IdentityChangeError::Taken),
        Err(e) => Err(e.into()),
    }
}

/// Whether an account other than `id` holds `email`, matched as [`find_by_email`] matches:
/// after an update, for adopted rows stored in another case that not every backend's unique
/// index sees.
pub fn email_held_by_another(
    conn: &mut DbConnection,
    email: &Email,
    id: i32,
) -> Result<bool, DbError> {
    let candidates: Vec<User> = user::table
        .filter(user::id.ne(id))
        .filter(
            user::email
                .eq(email.as_str())
                .or(lower(user::email).eq(lower(Some(email.as_typed().to_owned())))),
        )
        .select(User::as_select())
        .load(conn)?;
    Ok(candidates.iter().any(|u| {
        u.email.as_deref() == Some(email.as_str())
            || u.email
                .as_deref()
                .and_then(|stored| Email::parse(stored).ok())
                .is_some_and(|stored| stored == *email)
    }))
}

/// [`email_held_by_another`] for a username.
pub fn username_held_by_another(
    conn: &mut DbConnection,
    username: &Username,
    id: i32,
) -> Result<bool, DbError> {
    let candidates: Vec<User> = user::table
        .filter(user::id.ne(id))
        .filter(
            user::username
                .eq(username.as_str())
                .or(lower(user::username).eq(lower(Some(username.as_typed().to_owned())))),
        )
        .select(User::as_select())
        .load(conn)?;
    Ok(candidates.iter().any(|u| {
        u.username.as_deref() == Some(username.as_str())
            || u.username
                .as_deref()
                .and_then(|stored| username.like(stored))
                .is_some_and(|stored| stored == *username)
    }))
}

/// Moves the account to a proven address (stored case-folded): confirmed now, with a new
/// uniquifier, so every login and remember-me cookie made before ends. The unique index
/// decides a race for the address.
pub fn set_email(
    conn: &mut DbConnection,
    id: i32,
    email: &Email,
    uniquifier: &str,
    confirmed_at: NaiveDateTime,
) -> Result<(), IdentityChangeError> {
    identity_update(
        diesel::update(user::table.find(id))
            .set((
                user::email.eq(email.as_str()),
                user::confirmed_at.eq(Some(confirmed_at)),
                user::fs_uniquifier.eq(uniquifier),
            ))
            .execute(conn),
    )
}

/// Stores a new username (case-folded); the unique index decides a race for it.
pub fn set_username(
    conn: &mut DbConnection,
    id: i32,
    username: &Username,
) -> Result<(), IdentityChangeError> {
    identity_update(
        diesel::update(user::table.find(id))
            .set(user::username.eq(username.as_str()))
            .execute(conn),
    )
}

/// The query `/healthz` asks: it touches a real table, so a database that lost its schema
/// is not "healthy".
pub fn probe(conn: &mut DbConnection) -> Result<(), DbError> {
    user::table.select(user::id).limit(1).load::<i32>(conn)?;
    Ok(())
}
