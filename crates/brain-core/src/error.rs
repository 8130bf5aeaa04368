//! One mapping from domain errors to gRPC status codes and HTTP problem+json.
//!
//! Each crate has its own `thiserror` enum implementing [`ServiceError`]; the code it
//! returns decides the gRPC code and the HTTP status here, in one place.

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable, transport-neutral error codes. Their names appear in API responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    Unauthenticated,
    PermissionDenied,
    ResourceExhausted,
    PayloadTooLarge,
    Unimplemented,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

impl ErrorCode {
    /// The snake_case name used in problem bodies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidArgument => "invalid_argument",
            Self::NotFound => "not_found",
            Self::AlreadyExists => "already_exists",
            Self::FailedPrecondition => "failed_precondition",
            Self::Unauthenticated => "unauthenticated",
            Self::PermissionDenied => "permission_denied",
            Self::ResourceExhausted => "resource_exhausted",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Unimplemented => "unimplemented",
            Self::Unavailable => "unavailable",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Internal => "internal",
        }
    }

    pub fn grpc_code(self) -> tonic::Code {
        match self {
            Self::InvalidArgument => tonic::Code::InvalidArgument,
            Self::NotFound => tonic::Code::NotFound,
            Self::AlreadyExists => tonic::Code::AlreadyExists,
            Self::FailedPrecondition => tonic::Code::FailedPrecondition,
            Self::Unauthenticated => tonic::Code::Unauthenticated,
            Self::PermissionDenied => tonic::Code::PermissionDenied,
            Self::ResourceExhausted | Self::PayloadTooLarge => tonic::Code::ResourceExhausted,
            Self::Unimplemented => tonic::Code::Unimplemented,
            Self::Unavailable => tonic::Code::Unavailable,
            Self::DeadlineExceeded => tonic::Code::DeadlineExceeded,
            Self::Internal => tonic::Code::Internal,
        }
    }

    pub fn http_status(self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::InvalidArgument => S::BAD_REQUEST,
            Self::NotFound => S::NOT_FOUND,
            Self::AlreadyExists => S::CONFLICT,
            Self::FailedPrecondition => S::CONFLICT,
            Self::Unauthenticated => S::UNAUTHORIZED,
            Self::PermissionDenied => S::FORBIDDEN,
            Self::ResourceExhausted => S::TOO_MANY_REQUESTS,
            Self::PayloadTooLarge => S::PAYLOAD_TOO_LARGE,
            Self::Unimplemented => S::NOT_IMPLEMENTED,
            Self::Unavailable => S::SERVICE_UNAVAILABLE,
            Self::DeadlineExceeded => S::GATEWAY_TIMEOUT,
            Self::Internal => S::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the caller did something wrong (logged at debug) or we did (logged at error).
    pub fn is_server_fault(self) -> bool {
        matches!(self, Self::Internal | Self::Unavailable | Self::DeadlineExceeded)
    }
}

/// One precise reason why input was refused: which record, which field, which rule, why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Violation {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_index: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub rule: String,
    pub reason: String,
}

/// Implemented by every crate's error type.
pub trait ServiceError: std::error::Error {
    fn code(&self) -> ErrorCode;

    /// Per-record or per-field details, when the error is about input.
    fn violations(&self) -> Vec<Violation> {
        Vec::new()
    }
}

/// RFC 9457 problem details; the body of every REST error and the detail of every gRPC error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable error code, e.g. `not_found`.
    pub code: ErrorCode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Violation>,
}

impl Problem {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        let status = code.http_status();
        Self {
            kind: format!("https://industry-brain.dev/problems/{}", code.as_str()),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            code,
            violations: Vec::new(),
        }
    }

    /// The answer of every REST route whose business logic is not built yet.
    pub fn unimplemented(operation: &str) -> Self {
        Self::new(ErrorCode::Unimplemented, format!("{operation} is not implemented yet"))
    }

    pub fn with_violations(mut self, violations: Vec<Violation>) -> Self {
        self.violations = violations;
        self
    }

    /// Logs the problem at a level that fits who is at fault.
    fn log(&self) {
        if self.code.is_server_fault() {
            tracing::error!(code = self.code.as_str(), detail = %self.detail, "request failed");
        } else {
            tracing::debug!(code = self.code.as_str(), detail = %self.detail, "request refused");
        }
    }

    fn to_proto(&self) -> brain_proto::common::v1::Problem {
        brain_proto::common::v1::Problem {
            r#type: self.kind.clone(),
            title: self.title.clone(),
            status: u32::from(self.status),
            detail: self.detail.clone(),
            code: self.code.as_str().to_owned(),
            violations: self
                .violations
                .iter()
                .map(|v| brain_proto::common::v1::Violation {
                    record_id: v.record_id.clone().unwrap_or_default(),
                    record_index: v.record_index.unwrap_or_default(),
                    field: v.field.clone().unwrap_or_default(),
                    rule: v.rule.clone(),
                    reason: v.reason.clone(),
                })
                .collect(),
        }
    }
}

impl<E: ServiceError> From<&E> for Problem {
    fn from(error: &E) -> Self {
        Problem::new(error.code(), error.to_string()).with_violations(error.violations())
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        self.log();
        let status = http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (status, [(http::header::CONTENT_TYPE, "application/problem+json")], body).into_response()
    }
}

impl From<Problem> for tonic::Status {
    fn from(problem: Problem) -> Self {
        problem.log();
        let details = prost::Message::encode_to_vec(&problem.to_proto());
        tonic::Status::with_details(problem.code.grpc_code(), problem.detail.clone(), details.into())
    }
}

/// Maps any crate's error to a gRPC status (`.map_err(grpc_status)`).
pub fn grpc_status<E: ServiceError>(error: E) -> tonic::Status {
    Problem::from(&error).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("dataset {0} not found")]
    struct Missing(String);

    impl ServiceError for Missing {
        fn code(&self) -> ErrorCode {
            ErrorCode::NotFound
        }
    }

    #[test]
    fn one_code_maps_to_both_transports() {
        let status = grpc_status(Missing("textile.orders".into()));
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(status.message(), "dataset textile.orders not found");
        let problem: brain_proto::common::v1::Problem = prost::Message::decode(status.details()).unwrap();
        assert_eq!(problem.status, 404);
        assert_eq!(problem.code, "not_found");
    }

    #[test]
    fn problem_json_has_rfc9457_members() {
        let problem = Problem::new(ErrorCode::InvalidArgument, "bad record").with_violations(vec![Violation {
            record_index: Some(3),
            field: Some("output_kg".into()),
            rule: "type".into(),
            reason: "expected a number, got \"abc\"".into(),
            ..Violation::default()
        }]);
        let json = serde_json::to_value(&problem).unwrap();
        assert_eq!(json["type"], "https://industry-brain.dev/problems/invalid_argument");
        assert_eq!(json["status"], 400);
        assert_eq!(json["code"], "invalid_argument");
        assert_eq!(json["violations"][0]["field"], "output_kg");
        assert!(json["violations"][0].get("record_id").is_none());
    }

    #[test]
    fn unimplemented_is_501() {
        let response = Problem::unimplemented("GET /api/v1/jobs").into_response();
        assert_eq!(response.status(), http::StatusCode::NOT_IMPLEMENTED);
        assert_eq!(response.headers()[http::header::CONTENT_TYPE], "application/problem+json");
    }
}
