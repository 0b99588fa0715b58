//! Stored times written out for pages and JSON, without chrono's `format`: it parses its
//! format string on every call, and the account pages write a dozen times per view (see
//! `bench/README.md`, "The account pages"). Each function writes exactly what the chrono
//! format in its comment writes; the tests compare them over a spread of times. Read back
//! the same way: [`parse_sql`] reads the shape a stored time has in SQLite, which diesel
//! read with chrono's parser (about 1 100 instructions per column, and a login lookup reads
//! seven).

use std::fmt::Write;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

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

/// A time as SQLite keeps it, `YYYY-MM-DD HH:MM:SS` with an optional fraction of 1 to 9
/// digits: what diesel (`%F %T%.f`) and SQLAlchemy write. `None` for any other shape (a `T`
/// separator, a zone, a leap second, a Julian day number, ...), which the caller leaves to
/// chrono's parser; where this answers, it answers what that parser does.
pub fn parse_sql(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b' ' || b[13] != b':' {
        return None;
    }
    if b[16] != b':' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        b[range].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(number(0..4)?).ok()?;
    let (month, day) = (number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if second > 59 {
        return None;
    }
    let nano = match &b[19..] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let value = number(20..b.len())?;
            value * 10u32.pow(9 - u32::try_from(digits.len()).ok()?)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, month, day)?.and_hms_nano_opt(hour, minute, second, nano)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    /// What diesel's SQLite reader makes of `text` (its first format, then the others).
    fn chrono_reads(text: &str) -> Option<NaiveDateTime> {
        NaiveDateTime::parse_from_str(text, "%F %T%.f").ok()
    }

    #[test]
    fn reads_what_chronos_parser_reads_and_leaves_it_the_rest() {
        let mut t = NaiveDate::from_ymd_opt(1969, 1, 1)
            .unwrap()
            .and_hms_micro_opt(0, 0, 0, 123)
            .unwrap();
        let mut texts = Vec::new();
        for i in 0..2_000u32 {
            texts.push(t.format("%Y-%m-%d %H:%M:%S").to_string());
            // Fractions of every length chrono and SQLAlchemy write.
            let digits = 1 + (i % 9) as usize;
            let fraction = format!("{:09}", t.nanosecond());
            texts.push(format!(
                "{}.{}",
                t.format("%Y-%m-%d %H:%M:%S"),
                &fraction[..digits]
            ));
            t += Duration::seconds(1_234_567) + Duration::microseconds(987_654);
        }
        for text in &texts {
            assert_eq!(parse_sql(text), chrono_reads(text), "{text}");
            assert!(parse_sql(text).is_some(), "{text}");
        }
        // Shapes left to chrono, and dates no calendar has: never a different answer.
        for text in [
            "2024-02-29 12:00:00",
            "2023-02-29 12:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 23:60:00",
            "2016-12-31 23:59:60",
            "2024-01-01T12:00:00",
            "2024-01-01 12:00:00Z",
            "2024-01-01 12:00:00+02:00",
            "2024-01-01 12:00:00.",
            "2024-01-01 12:00:00.1234567891",
            "2024-01-01 12:00",
            "2460000.5",
            "+2024-01-01 12:00:00",
            "2024-1-01 12:00:00",
            "2024-01-01 12:00:0x",
            "",
        ] {
            let fast = parse_sql(text);
            assert!(fast.is_none() || fast == chrono_reads(text), "{text}");
        }
        assert_eq!(
            parse_sql("2024-02-29 23:59:59.5"),
            NaiveDate::from_ymd_opt(2024, 2, 29)
                .unwrap()
                .and_hms_milli_opt(23, 59, 59, 500)
        );
    }

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
