//! Pure rules of metering: which day a usage event counts on, and how kinds are named.

use brain_proto::events::v1::UsageKind;

/// Usage is reported per day in China Standard Time (UTC+8, no daylight saving), the
/// calendar the provincial reports (月提报) use.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// `YYYY-MM-DD` of an instant in China Standard Time.
pub fn day_of(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis + CST_OFFSET_MS)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

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

/// A day bound given by a caller: empty, or a valid `YYYY-MM-DD`.
pub fn valid_day(day: &str) -> bool {
    day.is_empty() || chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_china_standard_time() {
        // 2026-11-21T16:30:00Z is 00:30 on the 22nd in Beijing.
        assert_eq!(day_of(1_795_278_600_000), "2026-11-22");
        assert_eq!(day_of(1_795_278_600_000 - 3_600_000), "2026-11-21");
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in [UsageKind::ApiCall, UsageKind::ModelTokens, UsageKind::ComputeSeconds, UsageKind::DataRead, UsageKind::RecordsIngested] {
            assert_eq!(kind_from_name(kind_name(kind)), kind);
        }
    }

    #[test]
    fn day_bounds_are_checked() {
        assert!(valid_day(""));
        assert!(valid_day("2026-11-22"));
        assert!(!valid_day("2026-13-01"));
        assert!(!valid_day("22/11/2026"));
    }
}
