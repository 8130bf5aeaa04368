//! Generated code for every Industry Brain contract (`proto/brain/<pkg>/v1`).
//!
//! One module per protobuf package; `FILE_DESCRIPTOR_SET` feeds gRPC reflection.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Serialized `FileDescriptorSet` of every contract, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/brain_descriptor.bin"));

pub mod common {
    pub mod v1 {
        tonic::include_proto!("brain.common.v1");
    }
}
pub mod events {
    pub mod v1 {
        tonic::include_proto!("brain.events.v1");
    }
}
pub mod ingestion {
    pub mod v1 {
        tonic::include_proto!("brain.ingestion.v1");
    }
}
pub mod governance {
    pub mod v1 {
        tonic::include_proto!("brain.governance.v1");
    }
}
pub mod scheduler {
    pub mod v1 {
        tonic::include_proto!("brain.scheduler.v1");
    }
}
pub mod gateway {
    pub mod v1 {
        tonic::include_proto!("brain.gateway.v1");
    }
}
pub mod opening {
    pub mod v1 {
        tonic::include_proto!("brain.opening.v1");
    }
}
pub mod portal {
    pub mod v1 {
        tonic::include_proto!("brain.portal.v1");
    }
}
pub mod trust {
    pub mod v1 {
        tonic::include_proto!("brain.trust.v1");
    }
}

pub mod evaluation {
    pub mod v1 {
        tonic::include_proto!("brain.evaluation.v1");
    }
}

/// Timestamp conversions used across services.
pub mod time {
    /// Converts a protobuf timestamp to milliseconds since the Unix epoch.
    pub fn to_millis(ts: &prost_types::Timestamp) -> i64 {
        ts.seconds.saturating_mul(1000) + i64::from(ts.nanos / 1_000_000)
    }

    /// Converts milliseconds since the Unix epoch to a protobuf timestamp.
    pub fn from_millis(millis: i64) -> prost_types::Timestamp {
        prost_types::Timestamp {
            seconds: millis.div_euclid(1000),
            nanos: (millis.rem_euclid(1000) * 1_000_000) as i32,
        }
    }
}
