//! Webhook delivery (RFC-0006): signing, configuration and the background delivery workers.
//!
//! Every event appended to the log is matched, in the same transaction, against the active
//! webhook subscriptions; each match becomes a row of a durable outbox. Background workers
//! claim due rows with a time-limited lease (so that with several server instances on one
//! database each delivery is attempted by one worker at a time, and a claim left by a dead
//! instance is taken over once it expires), POST the body to the subscription's URL, and
//! record the outcome: any 2xx delivers; anything else is retried with exponential backoff and
//! jitter until [`WebhookConfig::max_attempts`], then the delivery is marked failed.
//!
//! # What a receiver gets
//!
//! `POST <webhook_url>` with `Content-Type: application/json`, the body
//! `{"subscription_id": "...", "event": {...}}` ([`openintent_types::WebhookDelivery`]) and the
//! headers [`DELIVERY_HEADER`] (the same id on every retry of one delivery: deduplicate on it),
//! [`EVENT_HEADER`], [`SUBSCRIPTION_HEADER`], [`ATTEMPT_HEADER`], [`TIMESTAMP_HEADER`] and
//! [`SIGNATURE_HEADER`] = `t=<unix seconds>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, keyed with
//! the subscription's secret (returned once, as `secret`, when the subscription is created).
//!
//! ```
//! use std::time::Duration;
//! use openintent_server::webhook::{signature_header, verify_signature, DEFAULT_TOLERANCE};
//!
//! let body = br#"{"subscription_id":"s1","event":{}}"#;
//! let header = signature_header("whsec_example", 1_700_000_000, body);
//! assert!(header.starts_with("t=1700000000,v1="));
//! // The receiver recomputes the signature over the raw body it received.
//! assert!(verify_signature("whsec_example", &header, body, 1_700_000_010, DEFAULT_TOLERANCE).is_ok());
//! assert!(verify_signature("another-secret", &header, body, 1_700_000_010, DEFAULT_TOLERANCE).is_err());
//! assert!(verify_signature("whsec_example", &header, body, 1_700_009_999, Duration::from_secs(300)).is_err());
//! ```

mod worker;

use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::ConfigError;

pub(crate) use worker::WorkerPool;

/// The delivery id; the same on every retry of one delivery, so receivers can deduplicate.
pub const DELIVERY_HEADER: &str = "x-openintent-delivery";
/// The event type (`state_patched`, ...).
pub const EVENT_HEADER: &str = "x-openintent-event";
/// The subscription the delivery is for.
pub const SUBSCRIPTION_HEADER: &str = "x-openintent-subscription";
/// The attempt number, from 1.
pub const ATTEMPT_HEADER: &str = "x-openintent-attempt";
/// The signing time, in Unix seconds (the `t` of the signature).
pub const TIMESTAMP_HEADER: &str = "x-openintent-timestamp";
/// `t=<unix seconds>,v1=<hex HMAC-SHA256>` over `"{t}.{body}"`.
pub const SIGNATURE_HEADER: &str = "x-openintent-signature";

/// How far a signature's timestamp may be from the receiver's clock by default (5 minutes).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The hex HMAC-SHA256 of `"{timestamp}.{body}"` keyed with `secret`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex(&mac(secret, timestamp, body).finalize().into_bytes())
}

/// The value of [`SIGNATURE_HEADER`]: `t=<timestamp>,v1=<signature>`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=<unix>,v1=<hex>`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// The timestamp is further from now than the tolerance (a replay, or a skewed clock).
    #[error("signature timestamp {timestamp} is outside the tolerance window")]
    OutsideTolerance {
        /// The signed timestamp.
        timestamp: i64,
    },
    /// No `v1` signature matches the body and the secret.
    #[error("signature does not match")]
    Mismatch,
}

/// Checks a [`SIGNATURE_HEADER`] value against the raw body, the subscription's secret and the
/// receiver's clock (`now` in Unix seconds): the timestamp must be within `tolerance` of `now`
/// and one of the `v1` signatures must match (compared in constant time).
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(SignatureError::Malformed("expected key=value pairs"));
        };
        match key.trim() {
            "t" => timestamp = Some(value.trim().parse::<i64>().map_err(|_| SignatureError::Malformed("bad t"))?),
            "v1" => candidates.push(value.trim()),
            _ => {} // other schemes are ignored
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no t"))?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed("no v1"));
    }
    let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
    if now.abs_diff(timestamp) > tolerance.unsigned_abs() {
        return Err(SignatureError::OutsideTolerance { timestamp });
    }
    for candidate in candidates {
        if let Some(bytes) = unhex(candidate)
            && mac(secret, timestamp, body).verify_slice(&bytes).is_ok()
        {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

/// A new random subscription secret: `whsec_` and 64 hex digits (244 random bits from the
/// operating system's generator).
pub(crate) fn new_secret() -> String {
    let mut out = String::from("whsec_");
    for _ in 0..2 {
        out.push_str(&hex(uuid::Uuid::new_v4().as_bytes()));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// Whether `url` may be delivered to: an absolute `http` or `https` URL.
pub(crate) fn deliverable_url(url: &str) -> bool {
    match reqwest::Url::parse(url) {
        Ok(u) => matches!(u.scheme(), "http" | "https") && u.host().is_some(),
        Err(_) => false,
    }
}

/// Whether a subscription already matched by scope (intent, portfolio or global) takes `event`:
/// it has not expired, and its `event_types` is empty or lists the event's type.
pub(crate) fn subscription_matches(
    event_types: &[String],
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    event: &openintent_types::IntentEvent,
) -> bool {
    if expires_at.is_some_and(|e| e <= event.created_at) {
        return false;
    }
    event_types.is_empty() || event_types.iter().any(|t| t == event.event_type.as_str())
}

/// A delivery claimed by a worker, with its subscription as it is now.
#[derive(Debug, Clone)]
pub(crate) struct ClaimedDelivery {
    pub id: String,
    pub subscription_id: String,
    pub event_type: String,
    /// The JSON body, exactly as it is sent.
    pub payload: String,
    /// Attempts made before this claim.
    pub attempts: u32,
    /// The subscription; `None` when it was deleted.
    pub target: Option<DeliveryTarget>,
}

/// Where and how a claimed delivery is sent.
#[derive(Clone)]
pub(crate) struct DeliveryTarget {
    pub url: Option<String>,
    /// `None` for subscriptions stored before secrets existed (sent unsigned).
    pub secret: Option<String>,
    pub active: bool,
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl std::fmt::Debug for DeliveryTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryTarget")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("active", &self.active)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The outcome of one attempt, recorded on the delivery row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DeliveryUpdate {
    /// A 2xx answer: done.
    Delivered { attempts: u32, status_code: u16 },
    /// Failed; try again at `next_attempt_ms` (Unix milliseconds).
    Retry { attempts: u32, next_attempt_ms: i64, error: String },
    /// Failed for the last time, or cannot be sent at all: dead.
    Failed { attempts: u32, error: String },
    /// The subscription was deleted, deactivated or expired, or has no URL: not sent.
    Cancelled { reason: String },
}

impl DeliveryUpdate {
    /// The stored `status` of the row after the update.
    pub(crate) fn status(&self) -> &'static str {
        match self {
            DeliveryUpdate::Delivered { .. } => "delivered",
            DeliveryUpdate::Retry { .. } => "pending",
            DeliveryUpdate::Failed { .. } => "failed",
            DeliveryUpdate::Cancelled { .. } => "cancelled",
        }
    }
}

/// How webhooks are delivered. Part of [`ServerConfig`](crate::ServerConfig).
///
/// ```
/// use std::time::Duration;
/// use openintent_server::{ServerConfig, WebhookConfig};
/// let config = ServerConfig::builder()
///     .webhooks(WebhookConfig::default().max_attempts(5).base_backoff(Duration::from_millis(500)))
///     .build()
///     .unwrap();
/// assert_eq!(config.webhooks().max_attempts, 5);
/// assert!(ServerConfig::builder().webhooks(WebhookConfig::disabled()).build().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Whether this instance runs delivery workers (deliveries are recorded either way, so
    /// another instance, or this one after a restart, can send them).
    pub enabled: bool,
    /// How many workers run (each claims and sends its own batches).
    pub workers: usize,
    /// How often an idle worker looks for due deliveries.
    pub poll_interval: Duration,
    /// How many deliveries a worker claims at once (and sends concurrently).
    pub batch_size: usize,
    /// Attempts before a delivery is marked failed (at least 1).
    pub max_attempts: u32,
    /// The delay before the first retry; doubled on every further retry.
    pub base_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// How long a receiver may take to answer.
    pub request_timeout: Duration,
    /// How long a claim lasts; must exceed `request_timeout`. A claim left by an instance that
    /// died is taken over by another worker after this long.
    pub claim_ttl: Duration,
    /// How long finished deliveries (delivered, failed, cancelled) are kept before they are
    /// deleted; `None` keeps them forever. Pending deliveries are never deleted.
    pub retention: Option<Duration>,
}

impl Default for WebhookConfig {
    /// Enabled: 1 worker polling every second, batches of 16, 10 attempts, backoff from 2 s to
    /// 10 min, 10 s receiver timeout, 60 s claims, finished deliveries kept 7 days.
    fn default() -> Self {
        WebhookConfig {
            enabled: true,
            workers: 1,
            poll_interval: Duration::from_secs(1),
            batch_size: 16,
            max_attempts: 10,
            base_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(600),
            request_timeout: Duration::from_secs(10),
            claim_ttl: Duration::from_secs(60),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
        }
    }
}

impl WebhookConfig {
    /// The defaults with the workers off (deliveries are still recorded).
    pub fn disabled() -> Self {
        WebhookConfig { enabled: false, ..WebhookConfig::default() }
    }

    /// Turns the workers on or off.
    #[must_use]
    pub fn enabled(mut self, on: bool) -> Self {
        self.enabled = on;
        self
    }

    /// Sets [`WebhookConfig::workers`].
    #[must_use]
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// Sets [`WebhookConfig::poll_interval`].
    #[must_use]
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.poll_interval = d;
        self
    }

    /// Sets [`WebhookConfig::batch_size`].
    #[must_use]
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }

    /// Sets [`WebhookConfig::max_attempts`].
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets [`WebhookConfig::base_backoff`].
    #[must_use]
    pub fn base_backoff(mut self, d: Duration) -> Self {
        self.base_backoff = d;
        self
    }

    /// Sets [`WebhookConfig::max_backoff`].
    #[must_use]
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// Sets [`WebhookConfig::request_timeout`].
    #[must_use]
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Sets [`WebhookConfig::claim_ttl`].
    #[must_use]
    pub fn claim_ttl(mut self, d: Duration) -> Self {
        self.claim_ttl = d;
        self
    }

    /// Sets [`WebhookConfig::retention`].
    #[must_use]
    pub fn retention(mut self, keep: Option<Duration>) -> Self {
        self.retention = keep;
        self
    }

    /// Checks the values, naming the first bad one.
    pub fn check(&self) -> Result<(), ConfigError> {
        let bad = |field: &str, msg: &str| Err(ConfigError::new(format!("webhooks.{field}"), msg));
        if self.workers == 0 {
            return bad("workers", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts", "must be at least 1");
        }
        if self.poll_interval.is_zero() {
            return bad("poll_interval", "must be positive");
        }
        if self.request_timeout.is_zero() {
            return bad("request_timeout", "must be positive");
        }
        if self.max_backoff < self.base_backoff {
            return bad("max_backoff", "cannot be shorter than base_backoff");
        }
        if self.claim_ttl <= self.request_timeout {
            return bad("claim_ttl", "must be longer than request_timeout");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_refuse_tampering() {
        let body = br#"{"a":1}"#;
        let h = signature_header("s3cret", 1000, body);
        assert_eq!(verify_signature("s3cret", &h, body, 1000, DEFAULT_TOLERANCE), Ok(()));
        assert_eq!(
            verify_signature("s3cret", &h, br#"{"a":2}"#, 1000, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(verify_signature("other", &h, body, 1000, DEFAULT_TOLERANCE), Err(SignatureError::Mismatch));
        assert!(matches!(
            verify_signature("s3cret", &h, body, 1000 + 301, DEFAULT_TOLERANCE),
            Err(SignatureError::OutsideTolerance { timestamp: 1000 })
        ));
        // A rotated header with two candidates verifies when either matches.
        let two = format!("{h},v1={}", "00".repeat(32));
        assert_eq!(verify_signature("s3cret", &two, body, 1000, DEFAULT_TOLERANCE), Ok(()));
        for bad in ["", "t=1", "v1=ab", "t=x,v1=ab", "nonsense"] {
            assert!(matches!(
                verify_signature("s", bad, body, 1, DEFAULT_TOLERANCE),
                Err(SignatureError::Malformed(_))
            ));
        }
        assert_eq!(
            verify_signature("s3cret", "t=1000,v1=zz", body, 1000, DEFAULT_TOLERANCE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn known_vector() {
        // RFC 4231 test case 2: the MAC and the hex encoding.
        let mut m = HmacSha256::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(hex(&m.finalize().into_bytes()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // The signed message is "{t}.{body}".
        let mut m = HmacSha256::new_from_slice(b"key").unwrap();
        m.update(b"42.hello");
        assert_eq!(signature("key", 42, b"hello"), hex(&m.finalize().into_bytes()));
        assert_eq!(unhex(&signature("key", 42, b"hello")).map(|b| b.len()), Some(32));
    }

    #[test]
    fn secrets_are_random_and_well_formed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 6 + 64);
        assert!(a[6..].bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn urls_and_config_checks() {
        assert!(deliverable_url("https://example.com/hook"));
        assert!(deliverable_url("http://127.0.0.1:9/x"));
        assert!(!deliverable_url("ftp://example.com/"));
        assert!(!deliverable_url("file:///etc/passwd"));
        assert!(!deliverable_url("not a url"));
        assert!(WebhookConfig::default().check().is_ok());
        let e = WebhookConfig::default().claim_ttl(Duration::from_secs(1)).check().unwrap_err();
        assert_eq!(e.setting, "webhooks.claim_ttl");
        assert!(WebhookConfig::default().max_attempts(0).check().is_err());
        assert!(WebhookConfig::default().max_backoff(Duration::from_millis(1)).check().is_err());
    }
}
