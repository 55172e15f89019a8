//! The intent list's cursors (our extension of `GET /api/v1/intents`): the sort key of a
//! page's last intent, `(created_at, seq)`, as an opaque string. The text is versioned,
//! `v1.<created_at in microseconds since the epoch>.<seq>`, in base64url without padding, so
//! that a later encoding can be told apart from it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};

/// The sort key of an intent in the list order (`created_at DESC, seq DESC`): what a cursor
/// holds. A page read "after" it holds the intents with `(created_at, seq) < (key)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListKey {
    /// When the intent was created.
    pub created_at: DateTime<Utc>,
    /// Its row number (unique; breaks ties between equal times).
    pub seq: i64,
}

/// The longest cursor read (a `v1` cursor is under 60 characters).
const MAX_CURSOR_LEN: usize = 200;

impl ListKey {
    /// The cursor of this key.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("v1.{}.{}", self.created_at.timestamp_micros(), self.seq))
    }

    /// The key of a cursor [`encode`](Self::encode) wrote; `None` for anything else (the
    /// caller answers 422). A time outside the years 1-9999 is refused: no intent has one,
    /// and both databases compare such times differently from the list order.
    pub(crate) fn decode(cursor: &str) -> Option<ListKey> {
        if cursor.len() > MAX_CURSOR_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        let mut parts = text.split('.');
        let (Some("v1"), Some(micros), Some(seq), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        if !(1..=9999).contains(&created_at.year()) {
            return None;
        }
        Some(ListKey { created_at, seq: seq.parse().ok()? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_its_key() {
        let key = ListKey { created_at: DateTime::from_timestamp_micros(1_780_000_000_123_456).unwrap(), seq: 42 };
        let cursor = key.encode();
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{cursor}");
        assert_eq!(ListKey::decode(&cursor), Some(key));
    }

    #[test]
    fn anything_else_is_refused() {
        let enc = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "not base64!".into(),
            enc("v2.1.1"),
            enc("v1.1"),
            enc("v1.1.2.3"),
            enc("v1.x.1"),
            enc("v1.1.y"),
            enc("v1.99999999999999999999.1"),
            enc(&format!("v1.{}.1", i64::MAX)),
            enc("v1.-62135596800000001.1"),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ] {
            assert_eq!(ListKey::decode(&bad), None, "{bad}");
        }
    }
}
