//! Stored times written out for pages and JSON, without chrono's `format`: it parses its
//! format string on every call, and the account pages write a dozen times per view (see
//! `bench/README.md`, "The account pages"). Each function writes exactly what the chrono
//! format in its comment writes; the tests compare them over a spread of times.

use std::fmt::Write;

use chrono::{Datelike, NaiveDateTime, Timelike};

/// The date and time, separated by `sep`, to the second (or the minute without `seconds`),
/// followed by `suffix`. `None` for years chrono writes with a sign (before 0, after 9999).
fn write_out(t: NaiveDateTime, sep: char, seconds: bool, suffix: &str) -> Option<String> {
    let year = t.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = String::with_capacity(24);
    let _ = write!(
        out,
        "{year:04}-{:02}-{:02}{sep}{:02}:{:02}",
        t.month(),
        t.day(),
        t.hour(),
        t.minute()
    );
    if seconds {
        // chrono writes a leap second (nanoseconds ≥ 1e9) as :60.
        let second = t.second() + u32::from(t.nanosecond() >= 1_000_000_000);
        let _ = write!(out, ":{second:02}");
    }
    out.push_str(suffix);
    Some(out)
}

/// `%Y-%m-%dT%H:%M:%SZ`: the machine-readable UTC time (`<time datetime>`, JSON).
pub fn iso_utc(t: NaiveDateTime) -> String {
    write_out(t, 'T', true, "Z").unwrap_or_else(|| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// `%Y-%m-%dT%H:%M:%S`: Flask-Security's JSON times (no zone).
pub fn iso_naive(t: NaiveDateTime) -> String {
    write_out(t, 'T', true, "").unwrap_or_else(|| t.format("%Y-%m-%dT%H:%M:%S").to_string())
}

/// `%Y-%m-%d %H:%M:%S UTC`: the time a person reads where the browser cannot localise it.
pub fn readable_utc(t: NaiveDateTime) -> String {
    write_out(t, ' ', true, " UTC").unwrap_or_else(|| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// `%Y-%m-%d %H:%M UTC`: the same, to the minute (notices, linked accounts).
pub fn readable_utc_minutes(t: NaiveDateTime) -> String {
    write_out(t, ' ', false, " UTC").unwrap_or_else(|| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, NaiveDate};

    #[test]
    fn each_writes_what_its_chrono_format_writes() {
        let mut times: Vec<NaiveDateTime> = vec![
            NaiveDate::from_ymd_opt(1, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(999, 12, 31)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31)
                .unwrap()
                .and_hms_opt(23, 59, 59)
                .unwrap(),
            NaiveDate::from_ymd_opt(10000, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
            NaiveDate::from_ymd_opt(-1, 6, 1)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            // A leap second, as chrono represents it.
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .unwrap()
                .and_hms_nano_opt(23, 59, 59, 1_500_000_000)
                .unwrap(),
            NaiveDateTime::MIN,
            NaiveDateTime::MAX,
        ];
        let mut t = NaiveDate::from_ymd_opt(1969, 1, 1)
            .unwrap()
            .and_hms_micro_opt(0, 0, 0, 123)
            .unwrap();
        for _ in 0..2_000 {
            times.push(t);
            t += Duration::seconds(1_234_567) + Duration::microseconds(987_654);
        }
        for t in times {
            assert_eq!(iso_utc(t), t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
            assert_eq!(iso_naive(t), t.format("%Y-%m-%dT%H:%M:%S").to_string());
            assert_eq!(
                readable_utc(t),
                t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
            );
            assert_eq!(
                readable_utc_minutes(t),
                t.format("%Y-%m-%d %H:%M UTC").to_string()
            );
        }
    }
}
