//! Timestamps on the wire.
//!
//! Servers emit ISO-8601 in many spellings: the reference server sends naive UTC with six
//! fractional digits (`2026-11-24T13:46:05.778066`, fraction dropped when zero), RFC examples use a
//! trailing `Z`. Readers here accept an optional fraction of 1 to 9 digits and an optional `Z` or
//! `±HH:MM` offset; a naive value means UTC. Writers:
//! - [`wire`] (used by response models) emits the reference form, naive UTC with 6 digits, which
//!   every Python client parses;
//! - [`rfc3339`] (used by request bodies and query values) emits RFC 3339 with `Z`.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The error of [`parse_timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp {input:?}: expected ISO-8601 such as 2026-11-24T13:46:05.778066 or 2026-11-24T13:46:05Z")]
pub struct TimestampError {
    /// The text that could not be read.
    pub input: String,
}

/// Parses an ISO-8601 timestamp, zoned or naive (naive = UTC).
///
/// ```
/// use openintent_types::time::parse_timestamp;
/// let a = parse_timestamp("2026-11-24T13:46:05.778066").unwrap();
/// let b = parse_timestamp("2026-11-24T14:46:05.778066+01:00").unwrap();
/// assert_eq!(a, b);
/// assert!(parse_timestamp("yesterday").is_err());
/// ```
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, TimestampError> {
    let t = s.trim();
    parse_plain(t).or_else(|| parse_general(t)).ok_or_else(|| TimestampError { input: s.to_owned() })
}

/// `YYYY-MM-DDTHH:MM:SS` with an optional fraction of 1 to 9 digits and an optional `Z`, read
/// by hand: the form the wire and the SQLite store use, so nearly every timestamp read takes
/// this path. `None` for anything else (a space, an offset, lower case, a leap second), which
/// [`parse_general`] reads; where both read a text, they agree (a test checks).
fn parse_plain(t: &str) -> Option<DateTime<Utc>> {
    let b = t.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits =
        |d: &[u8]| d.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')));
    let mut rest = &b[19..];
    let mut nano = 0;
    if let [b'.', tail @ ..] = rest {
        let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        nano = digits(&tail[..n])? * 10u32.pow(9 - n as u32);
        rest = &tail[n..];
    }
    if !matches!(rest, [] | [b'Z']) {
        return None;
    }
    let year = i32::try_from(digits(&b[0..4])?).ok()?;
    let date = NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)?;
    let time = NaiveTime::from_hms_nano_opt(digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?, nano)?;
    Some(date.and_time(time).and_utc())
}

/// Every accepted spelling, through chrono's parsers.
fn parse_general(t: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    // A space instead of `T` is also common.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(n.and_utc());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    None
}

/// The current time truncated to microseconds, the precision of the wire format, so a value
/// written and read back compares equal.
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = Utc::now();
    t.duration_trunc(chrono::Duration::microseconds(1)).unwrap_or(t)
}

/// Formats a timestamp the way the reference server does: naive UTC, six fractional digits
/// (`2026-11-24T13:46:05.778066`).
///
/// Every response and every time stored in SQLite is written here, so the digits are put in
/// place by hand rather than through chrono's format interpreter; years outside 0–9999 and leap
/// seconds take chrono's path (the output is the same, a test checks).
pub fn format_wire(dt: &DateTime<Utc>) -> String {
    let n = dt.naive_utc();
    if !(0..=9999).contains(&n.year()) || n.nanosecond() >= 1_000_000_000 {
        return n.format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    }
    let mut text = *b"0000-00-00T00:00:00.000000";
    for (at, width, value) in [
        (0, 4, n.year().unsigned_abs()),
        (5, 2, n.month()),
        (8, 2, n.day()),
        (11, 2, n.hour()),
        (14, 2, n.minute()),
        (17, 2, n.second()),
        (20, 6, n.nanosecond() / 1_000),
    ] {
        let mut v = value;
        for digit in text[at..at + width].iter_mut().rev() {
            *digit = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    text.iter().map(|&c| char::from(c)).collect()
}

/// Formats a timestamp as RFC 3339 with microseconds and `Z`.
pub fn format_rfc3339(dt: &DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn de<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse_timestamp(&s).map_err(serde::de::Error::custom)
}

fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    match Option::<std::borrow::Cow<'de, str>>::deserialize(d)? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_timestamp(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Serde for response models: tolerant read, reference-format write.
pub mod wire {
    use super::*;
    /// Serializes in the reference format.
    pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_wire(dt))
    }
    /// Reads any accepted ISO-8601 form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        de(d)
    }
}

/// Serde for optional timestamps of response models.
pub mod wire_opt {
    use super::*;
    /// Serializes in the reference format, `null` when absent.
    pub fn serialize<S: Serializer>(dt: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match dt {
            Some(dt) => s.serialize_str(&format_wire(dt)),
            None => s.serialize_none(),
        }
    }
    /// Reads any accepted ISO-8601 form, `null` or an empty string as absent.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        de_opt(d)
    }
}

/// Serde for request timestamps: tolerant read, RFC 3339 (`Z`) write.
pub mod rfc3339 {
    use super::*;
    /// Serializes as RFC 3339 with `Z`.
    pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_rfc3339(dt))
    }
    /// Reads any accepted ISO-8601 form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        de(d)
    }
}

/// Serde for optional request timestamps.
pub mod rfc3339_opt {
    use super::*;
    /// Serializes as RFC 3339 with `Z`, `null` when absent (pair with `skip_serializing_if`).
    pub fn serialize<S: Serializer>(dt: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
        match dt {
            Some(dt) => s.serialize_str(&format_rfc3339(dt)),
            None => s.serialize_none(),
        }
    }
    /// Reads any accepted ISO-8601 form, `null` or an empty string as absent.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        de_opt(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_reference_and_rfc_forms() {
        let base = parse_timestamp("2026-11-24T13:46:05").unwrap();
        for s in [
            "2026-11-24T13:46:05Z",
            "2026-11-24T13:46:05.000000",
            "2026-11-24T13:46:05.000000000Z",
            "2026-11-24T14:46:05+01:00",
            "2026-11-24 13:46:05",
            "2026-11-24T13:46:05.0+00:00",
        ] {
            assert_eq!(parse_timestamp(s).unwrap(), base, "{s}");
        }
        let micro = parse_timestamp("2026-11-24T13:46:05.778066").unwrap();
        assert_eq!(format_wire(&micro), "2026-11-24T13:46:05.778066");
        assert_eq!(format_wire(&base), "2026-11-24T13:46:05.000000");
        assert_eq!(format_rfc3339(&micro), "2026-11-24T13:46:05.778066Z");
    }

    /// A few thousand times spread over years 0–9999 (a fixed linear congruential sequence).
    fn sample_times() -> impl Iterator<Item = DateTime<Utc>> {
        let mut x: u64 = 0x2026_1204;
        std::iter::repeat_with(move || {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let secs = (x >> 11) as i64 % 315_537_897_600 - 62_167_219_200; // 0000-01-01 .. 9999-12-31
            DateTime::from_timestamp(secs, (x % 1_000_000_000) as u32).unwrap()
        })
        .take(5000)
    }

    #[test]
    fn hand_written_paths_agree_with_chrono() {
        for t in sample_times() {
            let text = format_wire(&t);
            assert_eq!(text, t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
            let micros = parse_plain(&text).unwrap();
            assert_eq!(Some(micros), parse_general(&text), "{text}");
            assert_eq!(micros.timestamp_micros(), t.timestamp_micros(), "{text}");
            let nanos = t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string();
            assert_eq!(parse_plain(&nanos), Some(t), "{nanos}");
            assert_eq!(parse_general(&nanos), Some(t), "{nanos}");
        }
        for text in [
            "2026-11-24T13:46:05",
            "2026-11-24T13:46:05Z",
            "2026-11-24T13:46:05.7",
            "2026-11-24T13:46:05.123456789",
            "2024-02-29T00:00:00.5Z",
            "0000-01-01T00:00:00",
            "9999-12-31T23:59:59.999999",
        ] {
            assert_eq!(parse_plain(text), parse_general(text), "{text}");
            assert!(parse_plain(text).is_some(), "{text}");
        }
        // Left to the general path (a space, an offset, lower case, a leap second), or refused.
        for text in [
            "2026-11-24 13:46:05",
            "2026-11-24T13:46:05+01:00",
            "2026-11-24t13:46:05z",
            "2016-12-31T23:59:60Z",
            "2026-11-24T13:46:05.",
            "2026-11-24T13:46:05.1234567891",
            "2023-02-29T00:00:00",
            "2026-11-24T13:46:05ZZ",
            "+2026-11-24T13:46:05",
            "2026-1-24T13:46:05",
        ] {
            assert_eq!(parse_plain(text), None, "{text}");
        }
        let leap = parse_timestamp("2016-12-31T23:59:60Z").unwrap();
        assert_eq!(format_wire(&leap), leap.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
        let far = DateTime::from_timestamp(300_000_000_000, 0).unwrap();
        assert_eq!(format_wire(&far), far.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string());
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "2026-13-01T00:00:00", "now", "2026-11-24T25:00:00Z"] {
            assert!(parse_timestamp(s).is_err(), "{s}");
        }
    }
}
