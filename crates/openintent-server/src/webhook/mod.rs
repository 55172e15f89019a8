//! Webhook delivery (RFC-0006): signing and the background delivery workers, configured by
//! [`WebhookConfig`] (part of the server's configuration).
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
//! The subscriber reads a subscription's deliveries (status, attempts, last error and HTTP status,
//! next attempt) with `GET /api/v1/subscriptions/{id}/deliveries`. With
//! [`WebhookConfig::deny_private`] on, deliveries to non-public addresses
//! ([`is_non_public_address`]) are refused, checked on every address the host name resolves to.
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

pub(crate) mod worker;

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub use crate::config::WebhookConfig;

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

/// Why this build cannot deliver to `url`, if it cannot: an `https` receiver needs the crate's
/// `tls` feature (on by default).
pub(crate) fn unsupported_scheme(url: &str) -> Option<String> {
    unsupported_scheme_by(url, cfg!(feature = "tls"))
}

fn unsupported_scheme_by(url: &str, tls_compiled: bool) -> Option<String> {
    let https = reqwest::Url::parse(url).is_ok_and(|u| u.scheme() == "https");
    (https && !tls_compiled).then(|| {
        "https webhook_url, but this openintent-server was built without TLS: enable its `tls` feature \
         (on by default)"
            .to_owned()
    })
}

/// Whether `url` carries credentials (`https://user:pass@host/...`): they would be stored
/// and shown in every listing of the subscription, so such a `webhook_url` is refused.
pub(crate) fn has_credentials(url: &str) -> bool {
    reqwest::Url::parse(url).is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
}

/// Whether [`WebhookConfig::deny_private`] refuses to deliver to `ip`: a loopback
/// (127.0.0.0/8, `::1`), private (10/8, 172.16/12, 192.168/16, `fc00::/7`), shared
/// carrier-grade NAT (100.64/10), link-local (169.254/16, which holds cloud metadata services
/// such as 169.254.169.254, and `fe80::/10`), "this network" (0/8), unspecified, multicast or
/// broadcast address, or a site-local (`fec0::/10`) or IPv4-compatible (`::/96`) IPv6 address.
/// IPv4-mapped (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::a.b.c.d`) IPv6 addresses are judged by
/// the IPv4 address they carry.
///
/// ```
/// use openintent_server::webhook::is_non_public_address;
/// assert!(is_non_public_address("127.0.0.1".parse().unwrap()));
/// assert!(is_non_public_address("169.254.169.254".parse().unwrap()));
/// assert!(is_non_public_address("::ffff:10.0.0.1".parse().unwrap()));
/// assert!(!is_non_public_address("93.184.215.14".parse().unwrap()));
/// assert!(!is_non_public_address("2606:2800:21f:cb07:6820:80da:af6b:8b2c".parse().unwrap()));
/// ```
pub fn is_non_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
}

fn non_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let s = ip.segments();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return non_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || s[..6] == [0; 6] // IPv4-compatible (deprecated), including :: and ::1
        || (s[0] & 0xfe00) == 0xfc00 // unique local, fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local, fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated), fec0::/10
}

/// The host of `url` when it is a literal IP address that [`is_non_public_address`] refuses.
pub(crate) fn literal_non_public_host(url: &str) -> Option<IpAddr> {
    let ip = host_ip(&reqwest::Url::parse(url).ok()?)?;
    is_non_public_address(ip).then_some(ip)
}

/// The host of `url` when it is a literal IP address (the URL parser has already normalized
/// forms such as `0x7f.1`; IPv6 literals come bracketed).
pub(crate) fn host_ip(url: &reqwest::Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    bare.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_urls_are_found() {
        assert!(has_credentials("https://user:pass@hooks.example/x"));
        assert!(has_credentials("https://user@hooks.example/x"));
        assert!(has_credentials("http://:secret@hooks.example/x"));
        assert!(!has_credentials("https://hooks.example/x?user=a"));
        assert!(!has_credentials("https://hooks.example/a@b"));
    }

    #[test]
    fn https_without_tls_names_the_feature() {
        let refused = unsupported_scheme_by("https://hooks.example/x", false).expect("refused");
        assert!(refused.contains("`tls` feature"), "{refused}");
        assert_eq!(unsupported_scheme_by("https://hooks.example/x", true), None);
        assert_eq!(unsupported_scheme_by("http://hooks.example/x", false), None);
        // This build's answer follows its features.
        assert_eq!(unsupported_scheme("HTTPS://hooks.example/x").is_some(), !cfg!(feature = "tls"));
    }

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

    fn refused(ip: &str) -> bool {
        is_non_public_address(ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}")))
    }

    #[test]
    fn non_public_ipv4_addresses_are_recognized() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in
            ["8.8.8.8", "93.184.215.14", "172.15.255.255", "172.32.0.1", "100.63.255.255", "100.128.0.1", "1.1.1.1"]
        {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn non_public_ipv6_addresses_are_recognized() {
        for ip in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::101",
            "::127.0.0.1",
            // IPv4-mapped and NAT64 forms of non-public IPv4 addresses.
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:192.168.0.1",
            "::ffff:0.0.0.0",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(refused(ip), "{ip} should be refused");
        }
        for ip in
            ["2001:4860:4860::8888", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "fbff::1", "fe7f::1"]
        {
            assert!(!refused(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn literal_hosts_of_urls() {
        let host = |u: &str| literal_non_public_host(u).map(|ip| ip.to_string());
        assert_eq!(host("http://127.0.0.1:8080/hook").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("https://[::1]/hook").as_deref(), Some("::1"));
        assert_eq!(host("http://[::ffff:169.254.169.254]/latest").as_deref(), Some("::ffff:169.254.169.254"));
        // Alternative IPv4 spellings are normalized by the URL parser before the check.
        assert_eq!(host("http://0x7f.1/").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("http://2130706433/").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("https://8.8.8.8/hook"), None);
        assert_eq!(host("https://example.com/hook"), None);
        assert_eq!(host("not a url"), None);
    }

    #[test]
    fn deliverable_urls() {
        assert!(deliverable_url("https://example.com/hook"));
        assert!(deliverable_url("http://127.0.0.1:9/x"));
        assert!(!deliverable_url("ftp://example.com/"));
        assert!(!deliverable_url("file:///etc/passwd"));
        assert!(!deliverable_url("not a url"));
    }
}
