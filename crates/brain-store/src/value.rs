//! Engine-neutral bind values and result rows.
//!
//! Both engines store the same logical types. Timestamps are UTC with microsecond precision
//! (PostgreSQL's): `timestamptz` on PostgreSQL, fixed-width RFC 3339 text
//! (`2025-01-31T08:00:00.123456Z`) on SQLite, so that text comparison and `ORDER BY` follow time
//! order there too. JSON is `jsonb` on PostgreSQL and text on SQLite.

use crate::error::StoreError;
use chrono::{DateTime, SubsecRound, Utc};
use sqlx::postgres::{PgArgumentBuffer, PgArguments, PgRow, PgTypeInfo, Postgres};
use sqlx::sqlite::{Sqlite, SqliteArguments, SqliteRow};
use sqlx::{Row as _, ValueRef as _};

/// A value bound to a `$n` placeholder.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Json(serde_json::Value),
    /// Truncated to microseconds when bound.
    Timestamp(DateTime<Utc>),
    Bytes(Vec<u8>),
    /// SQL NULL. On PostgreSQL its type is left for the server to infer from the context.
    Null,
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Bool(v)
    }
}
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        Self::Json(v)
    }
}
impl From<DateTime<Utc>> for Value {
    fn from(v: DateTime<Utc>) -> Self {
        Self::Timestamp(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The SQLite text form of a timestamp: fixed width, so text order is time order.
pub(crate) fn sqlite_timestamp(ts: &DateTime<Utc>) -> String {
    ts.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A NULL whose PostgreSQL type is "unspecified" (OID 0): the server infers it, so one `Null`
/// fits a `bigint`, `jsonb` or `timestamptz` column alike.
struct UntypedNull;

impl sqlx::Type<Postgres> for UntypedNull {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(sqlx::postgres::types::Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for UntypedNull {
    fn encode_by_ref(
        &self,
        _buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        Ok(sqlx::encode::IsNull::Yes)
    }
}

pub(crate) type PgQuery = sqlx::query::Query<'static, Postgres, PgArguments>;
pub(crate) type SqliteQuery = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

pub(crate) fn bind_pg(query: PgQuery, value: &Value) -> PgQuery {
    match value {
        Value::Text(v) => query.bind(v.clone()),
        Value::Int(v) => query.bind(*v),
        Value::Float(v) => query.bind(*v),
        Value::Bool(v) => query.bind(*v),
        Value::Json(v) => query.bind(v.clone()),
        Value::Timestamp(v) => query.bind(v.trunc_subsecs(6)),
        Value::Bytes(v) => query.bind(v.clone()),
        Value::Null => query.bind(UntypedNull),
    }
}

pub(crate) fn bind_sqlite(query: SqliteQuery, value: &Value) -> SqliteQuery {
    match value {
        Value::Text(v) => query.bind(v.clone()),
        Value::Int(v) => query.bind(*v),
        Value::Float(v) => query.bind(*v),
        Value::Bool(v) => query.bind(*v),
        Value::Json(v) => query.bind(v.to_string()),
        Value::Timestamp(v) => query.bind(sqlite_timestamp(v)),
        Value::Bytes(v) => query.bind(v.clone()),
        Value::Null => query.bind(Option::<String>::None),
    }
}

/// One result row, read by column name with [`Row::get`].
#[derive(Debug)]
pub struct Row(pub(crate) RowInner);

#[derive(Debug)]
pub(crate) enum RowInner {
    Postgres(PgRow),
    Sqlite(SqliteRow),
}

impl Row {
    /// The value of `column` as `T`; `Option<T>` reads NULL as `None`.
    ///
    /// Integers of any width read as `i64`, floats as `f64`, PostgreSQL `timestamp` (without
    /// time zone) as UTC.
    pub fn get<T: FromColumn>(&self, column: &str) -> Result<T, StoreError> {
        match &self.0 {
            RowInner::Postgres(row) => {
                not_null::<T, _>(row, column).and_then(|()| T::from_pg(row, column))
            }
            RowInner::Sqlite(row) => {
                not_null::<T, _>(row, column).and_then(|()| T::from_sqlite(row, column))
            }
        }
        .map_err(|e| match StoreError::from(e) {
            StoreError::Decode { reason, .. } => StoreError::Decode {
                column: column.to_owned(),
                reason,
            },
            other => StoreError::Decode {
                column: column.to_owned(),
                reason: other.to_string(),
            },
        })
    }

    /// Column names in result order.
    pub fn columns(&self) -> Vec<&str> {
        use sqlx::Column as _;
        match &self.0 {
            RowInner::Postgres(row) => row.columns().iter().map(|c| c.name()).collect(),
            RowInner::Sqlite(row) => row.columns().iter().map(|c| c.name()).collect(),
        }
    }
}

/// Refuses NULL for a non-`Option` target (SQLite would otherwise read NULL as 0 or "").
fn not_null<T: FromColumn, R: sqlx::Row>(row: &R, column: &str) -> Result<(), sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    if !T::NULLABLE && row.try_get_raw(column)?.is_null() {
        return Err(sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: "unexpected NULL; read the column as an Option".into(),
        });
    }
    Ok(())
}

mod sealed {
    pub trait Sealed {}
}

/// Rust types a [`Row`] column can be read as: `String`, `i64`, `f64`, `bool`,
/// `serde_json::Value`, `DateTime<Utc>`, `Vec<u8>`, and `Option` of each.
pub trait FromColumn: Sized + sealed::Sealed {
    #[doc(hidden)]
    const NULLABLE: bool = false;
    #[doc(hidden)]
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error>;
    #[doc(hidden)]
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error>;
}

/// First success of `attempts`, else the first error (a missing column ends the search).
fn first_ok<T>(attempts: &[&dyn Fn() -> Result<T, sqlx::Error>]) -> Result<T, sqlx::Error> {
    let mut first_error = None;
    for attempt in attempts {
        match attempt() {
            Ok(value) => return Ok(value),
            Err(e @ sqlx::Error::ColumnNotFound(_)) => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| sqlx::Error::Decode("no decoder".into())))
}

macro_rules! plain_column {
    ($t:ty) => {
        impl sealed::Sealed for $t {}
        impl FromColumn for $t {
            fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get::<$t, _>(column)
            }
            fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
                row.try_get::<$t, _>(column)
            }
        }
    };
}

plain_column!(String);
plain_column!(bool);
plain_column!(Vec<u8>);

impl sealed::Sealed for i64 {}
impl FromColumn for i64 {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        first_ok(&[
            &|| row.try_get::<i64, _>(column),
            &|| row.try_get::<i32, _>(column).map(i64::from),
            &|| row.try_get::<i16, _>(column).map(i64::from),
        ])
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get::<i64, _>(column)
    }
}

impl sealed::Sealed for f64 {}
impl FromColumn for f64 {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        first_ok(&[
            &|| row.try_get::<f64, _>(column),
            &|| row.try_get::<f32, _>(column).map(f64::from),
            &|| row.try_get::<i32, _>(column).map(f64::from),
        ])
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        #[allow(clippy::cast_precision_loss)]
        first_ok(&[&|| row.try_get::<f64, _>(column), &|| {
            row.try_get::<i64, _>(column).map(|v| v as f64)
        }])
    }
}

impl sealed::Sealed for serde_json::Value {}
impl FromColumn for serde_json::Value {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get::<serde_json::Value, _>(column)
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        let text = row.try_get::<String, _>(column)?;
        serde_json::from_str(&text).map_err(|e| sqlx::Error::ColumnDecode {
            index: column.to_owned(),
            source: Box::new(e),
        })
    }
}

impl sealed::Sealed for DateTime<Utc> {}
impl FromColumn for DateTime<Utc> {
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        first_ok(&[&|| row.try_get::<DateTime<Utc>, _>(column), &|| {
            row.try_get::<chrono::NaiveDateTime, _>(column)
                .map(|naive| naive.and_utc())
        }])
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        row.try_get::<DateTime<Utc>, _>(column)
    }
}

impl<T: FromColumn> sealed::Sealed for Option<T> {}
impl<T: FromColumn> FromColumn for Option<T> {
    const NULLABLE: bool = true;
    fn from_pg(row: &PgRow, column: &str) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(column)?.is_null() {
            Ok(None)
        } else {
            T::from_pg(row, column).map(Some)
        }
    }
    fn from_sqlite(row: &SqliteRow, column: &str) -> Result<Self, sqlx::Error> {
        if row.try_get_raw(column)?.is_null() {
            Ok(None)
        } else {
            T::from_sqlite(row, column).map(Some)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_timestamps_are_fixed_width() {
        let whole = Utc.with_ymd_and_hms(2025, 1, 31, 8, 0, 0).single().unwrap();
        let half = whole + chrono::Duration::milliseconds(500);
        assert_eq!(sqlite_timestamp(&whole), "2025-01-31T08:00:00.000000Z");
        assert_eq!(sqlite_timestamp(&half), "2025-01-31T08:00:00.500000Z");
        assert!(sqlite_timestamp(&whole) < sqlite_timestamp(&half));
    }
}
