//! The one text form of ledger timestamps: RFC 3339 UTC with exactly six fractional digits.
//!
//! Both engines keep microseconds (PostgreSQL `timestamptz`, SQLite fixed-width text), so a
//! timestamp truncated to microseconds reads back equal and hashes the same.

use chrono::{DateTime, SubsecRound, Utc};

/// `2025-01-31T08:00:00.123456Z`.
pub fn format_at(at: &DateTime<Utc>) -> String {
    at.trunc_subsecs(6)
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Now, truncated to what the databases store.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// Serde for timestamps in [`format_at`] form, so JSON shows exactly the hashed text.
pub(crate) mod serde_micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format_at(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(deserializer)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| at.with_timezone(&Utc))
            .map_err(|e| serde::de::Error::custom(format!("timestamp {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn fixed_precision() {
        let at = Utc.with_ymd_and_hms(2025, 1, 31, 8, 0, 0).single().unwrap()
            + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(format_at(&at), "2025-01-31T08:00:00.123456Z");
        let whole = Utc.with_ymd_and_hms(2025, 1, 31, 8, 0, 0).single().unwrap();
        assert_eq!(format_at(&whole), "2025-01-31T08:00:00.000000Z");
        assert_eq!(now().timestamp_subsec_nanos() % 1000, 0);
    }
}
