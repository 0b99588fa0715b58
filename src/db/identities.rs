//! Queries on `oauth_identity`: the identities at social login providers that sign in to an
//! account, by (provider, subject).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::schema::oauth_identity;
use super::{DbConnection, DbError};

/// An identity at a provider, linked to an account.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = oauth_identity)]
pub struct LinkedIdentity {
    pub id: i32,
    /// The provider's name (`SECURITY_OAUTH_PROVIDERS`, or a built-in).
    pub provider: String,
    /// The ID token's `sub`: the provider's stable name for the person.
    pub subject: String,
    pub user_id: i32,
    /// The address the provider gave when the identity was linked (shown, never looked up).
    pub email: Option<String>,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

/// The identity `subject` at `provider`, if linked.
pub fn find(
    conn: &mut DbConnection,
    provider: &str,
    subject: &str,
) -> Result<Option<LinkedIdentity>, DbError> {
    Ok(oauth_identity::table
        .filter(oauth_identity::provider.eq(provider))
        .filter(oauth_identity::subject.eq(subject))
        .select(LinkedIdentity::as_select())
        .get_result(conn)
        .optional()?)
}

/// The identities linked to `user_id`, oldest first.
pub fn for_user(conn: &mut DbConnection, user_id: i32) -> Result<Vec<LinkedIdentity>, DbError> {
    Ok(oauth_identity::table
        .filter(oauth_identity::user_id.eq(user_id))
        .order(oauth_identity::id)
        .select(LinkedIdentity::as_select())
        .load(conn)?)
}

/// Links `subject` at `provider` to `user_id` (a unique violation: linked meanwhile).
pub fn insert(
    conn: &mut DbConnection,
    provider: &str,
    subject: &str,
    user_id: i32,
    email: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(oauth_identity::table)
        .values((
            oauth_identity::provider.eq(provider),
            oauth_identity::subject.eq(subject),
            oauth_identity::user_id.eq(user_id),
            oauth_identity::email.eq(email),
            oauth_identity::created_at.eq(now),
            oauth_identity::last_used_at.eq(Some(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a sign-in through the identity `id`.
pub fn touch(conn: &mut DbConnection, id: i32, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(oauth_identity::table.find(id))
        .set(oauth_identity::last_used_at.eq(Some(now)))
        .execute(conn)?;
    Ok(())
}

/// Unlinks the identity `id` of `user_id` (nothing for another's): whether it was there.
pub fn delete(conn: &mut DbConnection, id: i32, user_id: i32) -> Result<bool, DbError> {
    let n = diesel::delete(
        oauth_identity::table
            .filter(oauth_identity::id.eq(id))
            .filter(oauth_identity::user_id.eq(user_id)),
    )
    .execute(conn)?;
    Ok(n > 0)
}

/// Unlinks every identity of `user_id`: how many there were.
pub fn delete_for_user(conn: &mut DbConnection, user_id: i32) -> Result<usize, DbError> {
    Ok(
        diesel::delete(oauth_identity::table.filter(oauth_identity::user_id.eq(user_id)))
            .execute(conn)?,
    )
}
