//! The reporting calendar: days in China Standard Time (UTC+8, no daylight saving), the
//! calendar provincial reports (月提报) and daily quality figures use.

const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;

/// `YYYY-MM-DD` of an instant (milliseconds since the Unix epoch) in China Standard Time.
pub fn cst_day(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis.saturating_add(CST_OFFSET_MS))
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".to_owned())
}

/// A day bound given by a caller: empty (no bound), or a valid `YYYY-MM-DD`.
pub fn valid_day(day: &str) -> bool {
    day.is_empty() || chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_follow_china_standard_time() {
        // 2026-11-21T16:30:00Z is 00:30 on the 22nd in Beijing.
        assert_eq!(cst_day(1_795_278_600_000), "2026-11-22");
        assert_eq!(cst_day(1_795_278_600_000 - 3_600_000), "2026-11-21");
    }

    #[test]
    fn day_bounds_are_checked() {
        assert!(valid_day(""));
        assert!(valid_day("2026-11-22"));
        assert!(!valid_day("2026-13-01"));
        assert!(!valid_day("22/11/2026"));
    }
}
