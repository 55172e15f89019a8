//! Timestamps on the wire.
//!
//! Servers emit ISO-8601 in many spellings: the reference server sends naive UTC with six
//! fractional digits (`2026-11-24T13:46:05.778066`, fraction dropped when zero), RFC examples use a
//! trailing `Z`. Readers here accept an optional fraction of 1 to 9 digits and an optional `Z` or
//! `±HH:MM` offset; a naive value means UTC. Writers:
//! - [`wire`] (used by response models) emits the reference form, naive UTC with 6 digits, which
//!   every Python client parses;
//! - [`rfc3339`] (used by request bodies and query values) emits RFC 3339 with `Z`.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
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
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    // A space instead of `T` is also common.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(n.and_utc());
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Ok(dt.with_timezone(&Utc));
        }
    }
    Err(TimestampError { input: s.to_owned() })
}

/// The current time truncated to microseconds, the precision of the wire format, so a value
/// written and read back compares equal.
pub fn now() -> DateTime<Utc> {
    use chrono::DurationRound;
    let t = Utc::now();
    t.duration_trunc(chrono::Duration::microseconds(1)).unwrap_or(t)
}

/// Formats a timestamp the way the reference server does: naive UTC, six fractional digits.
pub fn format_wire(dt: &DateTime<Utc>) -> String {
    dt.naive_utc().format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
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

    #[test]
    fn rejects_garbage() {
        for s in ["", "2026-13-01T00:00:00", "now", "2026-11-24T25:00:00Z"] {
            assert!(parse_timestamp(s).is_err(), "{s}");
        }
    }
}
