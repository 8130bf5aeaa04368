//! Cron schedules of pull feeds (croner: 5 fields, or 6 with seconds first), evaluated in
//! China Standard Time like the rest of the platform's calendar.

use chrono::{DateTime, FixedOffset, Offset as _, Utc};

/// UTC+08:00, China Standard Time (no daylight saving).
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or(Utc.fix())
}

#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    cron: croner::Cron,
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Self, String> {
        brain_config::check_cron(expression)?;
        let cron = croner::Cron::new(expression)
            .with_seconds_optional()
            .parse()
            .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))?;
        Ok(Self { cron })
    }

    /// The first tick strictly after `after`, or `None` if the expression never fires again.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&china());
        self.cron.find_next_occurrence(&local, false).ok().map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str) -> String {
        let tick = Schedule::parse(expression).unwrap().next_after(at(after)).unwrap();
        tick.with_timezone(&china()).to_rfc3339()
    }

    #[test]
    fn every_five_minutes() {
        assert_eq!(next("*/5 * * * *", "2026-03-01T10:02:30+08:00"), "2026-03-01T10:05:00+08:00");
        // Strictly after: a run that starts exactly on a tick waits for the next one.
        assert_eq!(next("*/5 * * * *", "2026-03-01T10:05:00+08:00"), "2026-03-01T10:10:00+08:00");
        assert_eq!(next("*/5 * * * *", "2026-03-01T23:58:00+08:00"), "2026-03-02T00:00:00+08:00");
    }

    #[test]
    fn daily_times_are_china_standard_time() {
        // 02:00 in Beijing is 18:00 UTC the day before.
        assert_eq!(next("0 2 * * *", "2026-03-01T17:59:00Z"), "2026-03-02T02:00:00+08:00");
        assert_eq!(next("0 2 * * *", "2026-03-01T18:00:00Z"), "2026-03-03T02:00:00+08:00");
        // Monthly on the 1st at 09:30; weekdays by name.
        assert_eq!(next("30 9 1 * *", "2026-03-01T09:30:00+08:00"), "2026-04-01T09:30:00+08:00");
        assert_eq!(next("0 8 * * MON", "2026-03-01T12:00:00+08:00"), "2026-03-02T08:00:00+08:00");
    }

    #[test]
    fn six_fields_start_with_seconds() {
        assert_eq!(next("*/10 * * * * *", "2026-03-01T10:00:01+08:00"), "2026-03-01T10:00:10+08:00");
    }

    #[test]
    fn invalid_expressions_are_refused() {
        assert!(Schedule::parse("every five minutes").is_err());
        assert!(Schedule::parse("61 * * * *").is_err());
        assert!(Schedule::parse("* * * *").is_err());
    }
}
