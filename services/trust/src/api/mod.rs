//! The trust service's REST and gRPC APIs.

pub(crate) mod convert;
pub(crate) mod grpc;
pub(crate) mod grpc_evidence;
pub(crate) mod rest;
pub(crate) mod rest_evidence;
