mod convert;
pub(crate) mod grpc;
pub(crate) mod rest;
