//! The credential of a request: `authorization: Bearer <token>` (a value starting with
//! `bk_` is an API key) or `x-api-key: <key>`. gRPC metadata are HTTP/2 headers, so both
//! transports read it the same way.

use crate::apikey::API_KEY_PREFIX;
use crate::error::AuthError;
use http::HeaderMap;
use std::fmt;

pub const API_KEY_HEADER: &str = "x-api-key";

#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// An access token (ours or an identity provider's).
    Bearer(String),
    ApiKey(String),
}

/// Never prints the secret: credentials must not reach logs.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer(_) => f.write_str("Bearer(<redacted>)"),
            Self::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}

impl Credential {
    /// `Ok(None)` when the request carries no credential; an error when it carries a
    /// malformed or ambiguous one.
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, AuthError> {
        let authorization = single(headers, http::header::AUTHORIZATION.as_str())?;
        let api_key = single(headers, API_KEY_HEADER)?;
        match (authorization, api_key) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(AuthError::invalid(
                "send either `authorization` or `x-api-key`, not both",
            )),
            (Some(value), None) => {
                let (scheme, token) = value.split_once(' ').ok_or_else(|| {
                    AuthError::invalid("authorization header must be `Bearer <token>`")
                })?;
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthError::invalid("authorization scheme must be Bearer"));
                }
                let token = token.trim();
                if token.is_empty() {
                    return Err(AuthError::invalid(
                        "authorization header has an empty token",
                    ));
                }
                Ok(Some(if token.starts_with(API_KEY_PREFIX) {
                    Self::ApiKey(token.to_owned())
                } else {
                    Self::Bearer(token.to_owned())
                }))
            }
            (None, Some(value)) => {
                let key = value.trim();
                if key.is_empty() {
                    return Err(AuthError::invalid("x-api-key header is empty"));
                }
                Ok(Some(Self::ApiKey(key.to_owned())))
            }
        }
    }

    /// The secret itself, for the authenticator only.
    pub fn secret(&self) -> &str {
        match self {
            Self::Bearer(s) | Self::ApiKey(s) => s,
        }
    }
}

fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::invalid(format!("more than one `{name}` header")));
    }
    value
        .to_str()
        .map(Some)
        .map_err(|_| AuthError::invalid(format!("`{name}` header is not visible ASCII")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn bearer_tokens_api_keys_and_nothing() {
        assert_eq!(Credential::from_headers(&headers(&[])).unwrap(), None);
        assert_eq!(
            Credential::from_headers(&headers(&[("authorization", "Bearer eyJ.x.y")])).unwrap(),
            Some(Credential::Bearer("eyJ.x.y".into()))
        );
        assert_eq!(
            Credential::from_headers(&headers(&[("authorization", "bearer   eyJ.x.y ")])).unwrap(),
            Some(Credential::Bearer("eyJ.x.y".into()))
        );
        assert_eq!(
            Credential::from_headers(&headers(&[("authorization", "Bearer bk_abc_def")])).unwrap(),
            Some(Credential::ApiKey("bk_abc_def".into()))
        );
        assert_eq!(
            Credential::from_headers(&headers(&[("x-api-key", "bk_abc_def")])).unwrap(),
            Some(Credential::ApiKey("bk_abc_def".into()))
        );
    }

    #[test]
    fn malformed_and_ambiguous_headers_are_refused() {
        for (pairs, reason) in [
            (
                vec![("authorization", "Basic dXNlcjpwdw==")],
                "scheme must be Bearer",
            ),
            (vec![("authorization", "Bearer")], "`Bearer <token>`"),
            (vec![("authorization", "Bearer  ")], "empty token"),
            (vec![("x-api-key", " ")], "empty"),
            (
                vec![("authorization", "Bearer a"), ("authorization", "Bearer b")],
                "more than one",
            ),
            (
                vec![("authorization", "Bearer a"), ("x-api-key", "bk_x")],
                "not both",
            ),
        ] {
            let error = Credential::from_headers(&headers(&pairs))
                .unwrap_err()
                .to_string();
            assert!(error.contains(reason), "{pairs:?}: {error}");
        }
        let mut map = HeaderMap::new();
        map.insert(
            "authorization",
            HeaderValue::from_bytes(b"Bearer \xff").unwrap(),
        );
        assert!(
            Credential::from_headers(&map)
                .unwrap_err()
                .to_string()
                .contains("visible ASCII")
        );
    }

    #[test]
    fn debug_output_redacts_the_secret() {
        let rendered = format!(
            "{:?} {:?}",
            Credential::Bearer("eyJ.secret".into()),
            Credential::ApiKey("bk_k_secret".into())
        );
        assert!(!rendered.contains("secret"), "{rendered}");
    }
}
