//! How the models read `Timestamp` columns: on SQLite, through [`crate::times::parse_sql`]
//! rather than chrono's format parser, which diesel runs for every column (a logged-in
//! request reads seven, the account pages dozens). A stored time of another shape still goes
//! to diesel's own reader, so every value it accepted is still accepted. PostgreSQL sends
//! times as numbers and keeps diesel's reader. A model field says
//! `#[diesel(deserialize_as = Stamp)]` (or [`OptStamp`] where the column is nullable); its
//! type stays `NaiveDateTime`.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::Sqlite;

use super::multi_connection_impl::MultiBackend;

/// A `Timestamp` column's value.
#[derive(Debug, diesel::deserialize::FromSqlRow)]
pub struct Stamp(NaiveDateTime);

/// A nullable `Timestamp` column's value.
#[derive(Debug, diesel::deserialize::FromSqlRow)]
pub struct OptStamp(Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> Self {
        stamp.0
    }
}

impl From<OptStamp> for Option<NaiveDateTime> {
    fn from(stamp: OptStamp) -> Self {
        stamp.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        if let Some(time) = crate::times::parse_sql(value.read_text()) {
            return Ok(Stamp(time));
        }
        <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp)
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use diesel::pg::Pg;

    impl FromSql<Timestamp, Pg> for Stamp {
        fn from_sql(value: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
            <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
        }
    }
}

impl FromSql<Timestamp, MultiBackend> for Stamp {
    fn from_sql(value: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        value.from_sql::<Self, Timestamp>()
    }
}

/// A nullable column on any backend: NULL, or what [`Stamp`] reads there.
impl<DB: Backend> FromSql<Nullable<Timestamp>, DB> for OptStamp
where
    Stamp: FromSql<Timestamp, DB>,
{
    fn from_sql(value: DB::RawValue<'_>) -> deserialize::Result<Self> {
        <Stamp as FromSql<Timestamp, DB>>::from_sql(value).map(|s| OptStamp(Some(s.0)))
    }

    fn from_nullable_sql(value: Option<DB::RawValue<'_>>) -> deserialize::Result<Self> {
        value.map_or(Ok(OptStamp(None)), Self::from_sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::dsl::sql;
    use diesel::{Connection, RunQueryDsl, SqliteConnection};

    fn read(conn: &mut SqliteConnection, expr: &str) -> deserialize::Result<NaiveDateTime> {
        diesel::select(sql::<Timestamp>(expr))
            .get_result::<Stamp>(conn)
            .map(NaiveDateTime::from)
            .map_err(Into::into)
    }

    #[test]
    fn every_shape_diesel_read_is_read_the_same() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        let noon = chrono::NaiveDate::from_ymd_opt(2024, 1, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        for expr in [
            "'2024-01-01 12:00:00'",
            "'2024-01-01 12:00:00.000000'",
            // Left to diesel's reader: another separator, a zone, a Julian day number.
            "'2024-01-01T12:00:00'",
            "'2024-01-01 12:00:00+00:00'",
            "2460311.0",
        ] {
            assert_eq!(read(&mut conn, expr).unwrap(), noon, "{expr}");
        }
        assert!(read(&mut conn, "'not a time'").is_err());
        let none: Option<NaiveDateTime> = diesel::select(sql::<Nullable<Timestamp>>("NULL"))
            .get_result::<OptStamp>(&mut conn)
            .unwrap()
            .into();
        assert_eq!(none, None);
        let some: Option<NaiveDateTime> =
            diesel::select(sql::<Nullable<Timestamp>>("'2024-01-01 12:00:00'"))
                .get_result::<OptStamp>(&mut conn)
                .unwrap()
                .into();
        assert_eq!(some, Some(noon));
    }
}
