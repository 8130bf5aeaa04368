//! One error type for the store, mapped onto the platform's error codes.
//!
//! Messages never carry secrets: URLs are redacted before they are stored in an error, and
//! database messages from the connect phase are scrubbed of the password.

use brain_core::{ErrorCode, ServiceError};

/// Everything that can go wrong in `brain-store`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL cannot be used (unknown scheme, unparsable, unsupported option).
    #[error("invalid database URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The database could not be reached, refused the connection, or the pool gave up waiting.
    #[error("database unavailable: {0}")]
    Unavailable(String),

    /// A write collided with a unique or primary key constraint.
    #[error("already exists: {0}")]
    AlreadyExists(String),

    /// A write referenced a row that does not exist (foreign key violation).
    #[error("referenced row does not exist: {0}")]
    ForeignKey(String),

    /// A write broke a NOT NULL or CHECK constraint.
    #[error("constraint violated: {0}")]
    Constraint(String),

    /// A concurrent transaction won (serialization failure, deadlock, database busy); retry.
    #[error("transaction conflict, retry: {0}")]
    Conflict(String),

    /// A tenant id that is empty, too long, or has characters outside `[A-Za-z0-9_.-]`.
    #[error("invalid tenant id {tenant:?}: {reason}")]
    InvalidTenant { tenant: String, reason: String },

    /// SQL given to a tenant-scoped handle that does not constrain the tenant. A programming
    /// error in the caller, never run.
    #[error("unscoped SQL refused: {reason}; SQL: {sql}")]
    Unscoped { reason: String, sql: String },

    /// An argument to a store helper that the store refuses (empty consumer name, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// A migration set that cannot be applied (bad owner, versions out of order, SQL failed).
    #[error("migration {owner}/{version}: {reason}")]
    Migration {
        owner: String,
        version: i64,
        reason: String,
    },

    /// An applied migration whose SQL has changed since it ran.
    #[error(
        "migration {owner}/{version} was changed after it was applied (applied checksum {applied}, \
         current {current}); never edit an applied migration, add a new one"
    )]
    MigrationChecksum {
        owner: String,
        version: i64,
        applied: String,
        current: String,
    },

    /// A column is missing or holds a value of another type than the one asked for.
    #[error("column {column}: {reason}")]
    Decode { column: String, reason: String },

    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
}

impl ServiceError for StoreError {
    fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidUrl { .. }
            | Self::InvalidTenant { .. }
            | Self::InvalidArgument(_)
            | Self::Constraint(_) => ErrorCode::InvalidArgument,
            Self::Unavailable(_) | Self::Conflict(_) => ErrorCode::Unavailable,
            Self::AlreadyExists(_) => ErrorCode::AlreadyExists,
            Self::ForeignKey(_) | Self::MigrationChecksum { .. } => ErrorCode::FailedPrecondition,
            Self::Unscoped { .. }
            | Self::Migration { .. }
            | Self::Decode { .. }
            | Self::Database(_) => ErrorCode::Internal,
        }
    }
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Conflict(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        use sqlx::error::ErrorKind;
        match error {
            sqlx::Error::Database(db) => {
                let message = match db.constraint() {
                    Some(constraint) => format!("{} (constraint {constraint})", db.message()),
                    None => db.message().to_owned(),
                };
                match db.kind() {
                    ErrorKind::UniqueViolation => Self::AlreadyExists(message),
                    ErrorKind::ForeignKeyViolation => Self::ForeignKey(message),
                    ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation
                    | ErrorKind::ExclusionViolation => Self::Constraint(message),
                    _ => {
                        let sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some();
                        classify_code(sqlite, db.code().as_deref(), message)
                    }
                }
            }
            sqlx::Error::Io(e) => Self::Unavailable(format!("i/o: {e}")),
            sqlx::Error::Tls(e) => Self::Unavailable(format!("tls: {e}")),
            sqlx::Error::PoolTimedOut => {
                Self::Unavailable("timed out waiting for a database connection".to_owned())
            }
            sqlx::Error::PoolClosed => {
                Self::Unavailable("the connection pool is closed".to_owned())
            }
            sqlx::Error::WorkerCrashed => {
                Self::Unavailable("the database worker crashed".to_owned())
            }
            sqlx::Error::ColumnNotFound(column) => Self::Decode {
                column,
                reason: "no such column in the result".to_owned(),
            },
            sqlx::Error::ColumnDecode { index, source } => Self::Decode {
                column: index,
                reason: source.to_string(),
            },
            other => Self::Database(other.to_string()),
        }
    }
}

/// Maps SQLSTATE (PostgreSQL) and result codes (SQLite) that are not constraint violations.
fn classify_code(sqlite: bool, code: Option<&str>, message: String) -> StoreError {
    let Some(code) = code else {
        return StoreError::Database(message);
    };
    // SQLite: extended result codes are numbers; the low byte is the primary code.
    if sqlite {
        return match code.parse::<i64>().unwrap_or(0) & 0xff {
            5 | 6 => StoreError::Conflict(message), // SQLITE_BUSY, SQLITE_LOCKED
            10 | 13 | 14 => StoreError::Unavailable(message), // IOERR, FULL, CANTOPEN
            _ => StoreError::Database(message),
        };
    }
    match code {
        "40001" | "40P01" => StoreError::Conflict(message),
        "57P01" | "57P02" | "57P03" | "3D000" => StoreError::Unavailable(message),
        c if c.starts_with("08") || c.starts_with("53") || c.starts_with("28") => {
            StoreError::Unavailable(message)
        }
        _ => StoreError::Database(message),
    }
}

/// `url` with any password replaced by `***` (userinfo and `password=` query parameters).
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    if let Some(query_start) = out.find('?') {
        let (head, query) = out.split_at(query_start + 1);
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out = format!("{head}{}", redacted.join("&"));
    }
    out
}

/// The password in `url`, if any, so that it can be scrubbed from driver messages.
pub(crate) fn password_of(url: &str) -> Option<String> {
    let scheme_end = url.find("://")? + 3;
    let authority_end = url[scheme_end..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let userinfo = &authority[..authority.rfind('@')?];
    let password = userinfo.split_once(':')?.1;
    (!password.is_empty()).then(|| password.to_owned())
}

/// `message` with every occurrence of the password of `url` replaced by `***`.
pub(crate) fn scrub(message: String, url: &str) -> String {
    match password_of(url) {
        Some(password) => message.replace(&password, "***"),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:s3cret@db:5432/x"),
            "postgres://u:***@db:5432/x"
        );
        assert_eq!(redact_url("postgres://u@db/x"), "postgres://u@db/x");
        assert_eq!(
            redact_url("postgres://db/x?user=u&password=p&sslmode=require"),
            "postgres://db/x?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://u:p%40ss@h/x"),
            "postgresql://u:***@h/x"
        );
        assert_eq!(redact_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
        assert_eq!(
            scrub("auth failed for s3cret".into(), "postgres://u:s3cret@db/x"),
            "auth failed for ***"
        );
    }

    #[test]
    fn codes() {
        assert_eq!(
            StoreError::AlreadyExists("x".into()).code(),
            ErrorCode::AlreadyExists
        );
        assert_eq!(
            StoreError::Unavailable("x".into()).code(),
            ErrorCode::Unavailable
        );
        assert_eq!(
            StoreError::Unscoped {
                reason: "r".into(),
                sql: "s".into()
            }
            .code(),
            ErrorCode::Internal
        );
        assert!(matches!(
            classify_code(true, Some("517"), String::new()),
            StoreError::Conflict(_)
        ));
        assert!(matches!(
            classify_code(false, Some("08006"), String::new()),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            classify_code(false, Some("40P01"), String::new()),
            StoreError::Conflict(_)
        ));
    }
}
