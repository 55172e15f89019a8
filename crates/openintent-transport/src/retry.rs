//! A retry layer that wraps any [`Transport`].

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tracing::Instrument;

use crate::{Headers, Request, Response, StreamResponse, Transport, TransportError, TransportErrorKind};

/// How [`RetryingTransport`] repeats requests.
///
/// `max_attempts` counts every attempt, the first included: the default of 3
/// means one try and up to two retries. The delay before retry `n` (1-based)
/// is drawn uniformly from `[d/2, d]` where
/// `d = min(max_delay, base_delay * 2^(n-1))`; a `Retry-After` header on the
/// response replaces it, capped at `max_retry_after`.
///
/// ```
/// use std::time::Duration;
/// use openintent_transport::RetryConfig;
///
/// let config = RetryConfig::default()
///     .max_attempts(5)
///     .base_delay(Duration::from_millis(50));
/// assert!(config.enabled);
/// assert_eq!(config.max_attempts, 5);
/// assert!(!RetryConfig::disabled().enabled);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Whether to retry at all. When false every request is sent once.
    pub enabled: bool,
    /// Total attempts per request, the first included (at least 1).
    pub max_attempts: u32,
    /// The delay before the first retry (before jitter).
    pub base_delay: Duration,
    /// The longest computed backoff delay.
    pub max_delay: Duration,
    /// The longest wait honoured from a `Retry-After` header.
    pub max_retry_after: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// A configuration that never retries.
    pub fn disabled() -> Self {
        Self { enabled: false, ..Self::default() }
    }

    /// Sets [`enabled`](Self::enabled).
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Sets [`max_attempts`](Self::max_attempts) (values below 1 act as 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets [`base_delay`](Self::base_delay).
    pub fn base_delay(mut self, delay: Duration) -> Self {
        self.base_delay = delay;
        self
    }

    /// Sets [`max_delay`](Self::max_delay).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    pub fn max_retry_after(mut self, delay: Duration) -> Self {
        self.max_retry_after = delay;
        self
    }

    /// The jittered backoff before retry number `retry` (1 for the first
    /// retry): uniform in `[d/2, d]` with `d = min(max_delay, base_delay * 2^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self.backoff_ceiling(retry);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half);
        let nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=nanos))
    }

    /// The upper bound of [`backoff`](Self::backoff) for retry number `retry`.
    pub fn backoff_ceiling(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(31);
        self.base_delay.checked_mul(1u32 << exp).unwrap_or(self.max_delay).min(self.max_delay)
    }
}

/// Parses a `Retry-After` header: delta seconds (`"3"`) or an HTTP date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`, measured from `now`). A date in the
/// past gives zero. Returns `None` when absent or unparsable.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use openintent_transport::{Headers, parse_retry_after};
///
/// let mut h = Headers::new();
/// h.insert("Retry-After", "2");
/// assert_eq!(parse_retry_after(&h, SystemTime::now()), Some(Duration::from_secs(2)));
/// ```
pub fn parse_retry_after(headers: &Headers, now: SystemTime) -> Option<Duration> {
    let value = headers.get("retry-after")?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Statuses that signal a transient condition worth retrying.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// A [`Transport`] that retries transient failures of the transport it wraps.
///
/// # What is retried
///
/// - Responses with status 429, 502, 503 or 504, and errors of kind
///   [`Timeout`](TransportErrorKind::Timeout), [`Io`](TransportErrorKind::Io)
///   and [`Body`](TransportErrorKind::Body), but only for requests that are
///   safe to repeat ([`Request::is_safe_to_repeat`]): `GET`, `HEAD`,
///   `OPTIONS`, `PUT`, `DELETE`, any request carrying `If-Match` (a repeat
///   fails with a version conflict instead of applying twice), and requests
///   marked [`RetryMode::Always`](crate::RetryMode::Always). A plain `POST`
///   is never retried after the server may have seen it.
/// - [`Connect`](TransportErrorKind::Connect) errors, for **every** method
///   (unless the request says [`RetryMode::Never`](crate::RetryMode::Never)):
///   the connection was never established, so the request never left and
///   repeating it cannot apply it twice.
///
/// Only [`send`](Transport::send) is retried; [`send_stream`](Transport::send_stream)
/// makes one attempt (stream consumers such as [`EventSource`](crate::sse::EventSource)
/// reconnect on their own terms). When the attempts run out, the last
/// response (for example the final 503) or the last error is returned.
///
/// # Why a transport layer
///
/// A transport makes exactly one attempt, which keeps custom transports
/// simple. Retrying is a separate wrapper, so the same policy applies to
/// every transport, including one written by a user, and the OpenIntent
/// client installs it by default around whatever transport it is given.
/// The decision needs only what the [`Request`] carries: the method, the
/// `If-Match` header and the caller's [`RetryMode`](crate::RetryMode).
///
/// Each attempt runs in a `tracing` span `openintent.attempt` with the
/// attempt number; the wrapped transport's spans nest inside it.
#[derive(Debug, Clone)]
pub struct RetryingTransport<T> {
    inner: T,
    config: RetryConfig,
}

impl<T: Transport> RetryingTransport<T> {
    /// Wraps `inner` with the given policy.
    pub fn new(inner: T, config: RetryConfig) -> Self {
        Self { inner, config }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// The retry policy.
    pub fn config(&self) -> &RetryConfig {
        &self.config
    }

    /// Unwraps the inner transport.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

enum Verdict {
    Done,
    RetryAfter(Duration),
}

impl<T> RetryingTransport<T> {
    fn verdict(&self, req: &Request, result: &Result<Response, TransportError>, retry: u32) -> Verdict {
        if req.retry == crate::RetryMode::Never {
            return Verdict::Done;
        }
        let safe = req.is_safe_to_repeat();
        match result {
            Ok(resp) if safe && is_retryable_status(resp.status) => {
                let delay = match parse_retry_after(&resp.headers, SystemTime::now()) {
                    Some(d) => d.min(self.config.max_retry_after),
                    None => self.config.backoff(retry),
                };
                Verdict::RetryAfter(delay)
            }
            Ok(_) => Verdict::Done,
            Err(e) if e.kind() == TransportErrorKind::Connect => Verdict::RetryAfter(self.config.backoff(retry)),
            Err(e)
                if safe
                    && matches!(
                        e.kind(),
                        TransportErrorKind::Timeout | TransportErrorKind::Io | TransportErrorKind::Body
                    ) =>
            {
                Verdict::RetryAfter(self.config.backoff(retry))
            }
            Err(_) => Verdict::Done,
        }
    }
}

#[async_trait]
impl<T: Transport> Transport for RetryingTransport<T> {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        let max_attempts = if self.config.enabled { self.config.max_attempts.max(1) } else { 1 };
        let mut attempt = 1u32;
        loop {
            let span = tracing::debug_span!(
                "openintent.attempt",
                attempt,
                method = %req.method,
                path = %req.path
            );
            let result = self.inner.send(req.clone()).instrument(span).await;
            if attempt >= max_attempts {
                return result;
            }
            match self.verdict(&req, &result, attempt) {
                Verdict::Done => return result,
                Verdict::RetryAfter(delay) => {
                    match &result {
                        Ok(resp) => tracing::debug!(
                            attempt,
                            status = resp.status,
                            delay_ms = delay.as_millis() as u64,
                            "retrying after a transient status"
                        ),
                        Err(e) => tracing::debug!(
                            attempt,
                            error = %e,
                            delay_ms = delay.as_millis() as u64,
                            "retrying after a transport error"
                        ),
                    }
                    drop(result);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        self.inner.send_stream(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_bounds() {
        let c = RetryConfig::default().base_delay(Duration::from_millis(100)).max_delay(Duration::from_millis(1000));
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for (i, ceil) in ceilings.iter().enumerate() {
            let retry = i as u32 + 1;
            let ceil = Duration::from_millis(*ceil);
            assert_eq!(c.backoff_ceiling(retry), ceil);
            for _ in 0..200 {
                let d = c.backoff(retry);
                assert!(d >= ceil / 2 && d <= ceil, "retry {retry}: {d:?} not in [{:?}, {ceil:?}]", ceil / 2);
            }
        }
        // Enormous retry numbers saturate instead of overflowing.
        assert_eq!(c.backoff_ceiling(u32::MAX), Duration::from_millis(1000));
    }

    #[test]
    fn backoff_is_jittered() {
        let c = RetryConfig::default().base_delay(Duration::from_secs(1));
        let samples: std::collections::HashSet<_> = (0..50).map(|_| c.backoff(1)).collect();
        assert!(samples.len() > 1, "fifty identical delays: no jitter");
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        let mut h = Headers::new();
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("Retry-After", " 7 ");
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert("Retry-After", "Wed, 21 Oct 2015 07:28:05 GMT");
        assert_eq!(parse_retry_after(&h, now), Some(Duration::from_secs(5)));
        h.insert("Retry-After", "Wed, 21 Oct 2015 07:27:00 GMT");
        assert_eq!(parse_retry_after(&h, now), Some(Duration::ZERO));
        h.insert("Retry-After", "soon");
        assert_eq!(parse_retry_after(&h, now), None);
        h.insert("Retry-After", "-1");
        assert_eq!(parse_retry_after(&h, now), None);
    }
}
