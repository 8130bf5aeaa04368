//! Pure rules of metering: which day a usage event counts on, and how kinds are named.

use brain_proto::events::v1::UsageKind;

pub use brain_core::calendar::{cst_day as day_of, valid_day};

/// Stable snake_case name of a usage kind, as stored and returned by REST.
pub fn kind_name(kind: UsageKind) -> &'static str {
    match kind {
        UsageKind::Unspecified => "unspecified",
        UsageKind::ApiCall => "api_call",
        UsageKind::ModelTokens => "model_tokens",
        UsageKind::ComputeSeconds => "compute_seconds",
        UsageKind::DataRead => "data_read",
        UsageKind::RecordsIngested => "records_ingested",
    }
}

pub fn kind_from_name(name: &str) -> UsageKind {
    match name {
        "api_call" => UsageKind::ApiCall,
        "model_tokens" => UsageKind::ModelTokens,
        "compute_seconds" => UsageKind::ComputeSeconds,
        "data_read" => UsageKind::DataRead,
        "records_ingested" => UsageKind::RecordsIngested,
        _ => UsageKind::Unspecified,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names_round_trip() {
        for kind in [UsageKind::ApiCall, UsageKind::ModelTokens, UsageKind::ComputeSeconds, UsageKind::DataRead, UsageKind::RecordsIngested] {
            assert_eq!(kind_from_name(kind_name(kind)), kind);
        }
    }
}
