//! The one error type of the cache, and URL redaction so errors never carry secrets.

/// Boxed source error of a backend, so the public API does not expose driver types.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong when configuring or using a cache.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The cache URL could not be understood; `url` has its password removed.
    #[error("invalid cache URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The URL names a backend this build does not provide.
    #[error(
        "unsupported cache URL scheme `{scheme}://`; supported: {}",
        crate::SUPPORTED_SCHEMES
    )]
    UnsupportedScheme { scheme: String },

    /// The backend could not be reached when connecting; `url` has its password removed.
    #[error("cannot connect to the {backend} cache at `{url}`: {source}")]
    Unreachable {
        backend: &'static str,
        url: String,
        #[source]
        source: BoxError,
    },

    /// A caller passed a value the cache cannot honour identically on every backend.
    #[error("invalid cache argument: {reason}")]
    InvalidArgument { reason: String },

    /// A counter operation met a key whose value is not an integer, or would overflow it.
    /// `key` is the caller's key, without the namespace.
    #[error("cache key `{key}` cannot be used as a counter: {reason}")]
    InvalidCounter { key: String, reason: String },

    /// The backend failed while serving a call (connection lost, timeout, server error).
    #[error("{backend} cache failed: {source}")]
    Backend {
        backend: &'static str,
        #[source]
        source: BoxError,
    },
}

impl CacheError {
    pub(crate) fn invalid_argument(reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            reason: reason.into(),
        }
    }
}

/// `url` with the password of its user-info replaced by `***`, for errors and logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let Some((user_info, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    match user_info.split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => url.to_owned(),
    }
}

impl brain_core::ServiceError for CacheError {
    fn code(&self) -> brain_core::ErrorCode {
        use brain_core::ErrorCode;
        match self {
            Self::InvalidUrl { .. } | Self::UnsupportedScheme { .. } | Self::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Self::InvalidCounter { .. } => ErrorCode::FailedPrecondition,
            Self::Unreachable { .. } | Self::Backend { .. } => ErrorCode::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_removed_and_everything_else_kept() {
        assert_eq!(
            redact_url("redis://:s3cret@h:6379/2"),
            "redis://:***@h:6379/2"
        );
        assert_eq!(
            redact_url("redis://app:p@ss@h/0?protocol=resp3"),
            "redis://app:***@h/0?protocol=resp3"
        );
        assert_eq!(redact_url("redis://app@h:6379"), "redis://app@h:6379");
        assert_eq!(redact_url("redis://h:6379"), "redis://h:6379");
        assert_eq!(redact_url("memory://"), "memory://");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
