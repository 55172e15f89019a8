//! Retry policies and failure records (RFC-0010).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::schema::{Field, Kind, RequestSchema, opt, req, validate_fields};
use crate::validation::{self, Validate};
use crate::wire::null_as_default;

wire_enum! {
    /// How the delay between attempts grows.
    #[derive(Default)]
    pub enum RetryStrategy {
        /// No retries.
        None = "none",
        /// The same delay every time.
        Fixed = "fixed",
        /// `base × attempt`.
        Linear = "linear",
        /// `base × multiplier^(attempt-1)`.
        #[default]
        Exponential = "exponential",
    }
}

/// Default `max_retries`.
pub const DEFAULT_MAX_RETRIES: i64 = 3;
/// Default `base_delay_ms`.
pub const DEFAULT_BASE_DELAY_MS: i64 = 1_000;
/// Default `max_delay_ms`.
pub const DEFAULT_MAX_DELAY_MS: i64 = 60_000;
/// Default multiplier of the exponential strategy.
pub const DEFAULT_BACKOFF_MULTIPLIER: f64 = 2.0;

fn d_max_retries() -> i64 {
    DEFAULT_MAX_RETRIES
}
fn d_base() -> i64 {
    DEFAULT_BASE_DELAY_MS
}
fn d_max() -> i64 {
    DEFAULT_MAX_DELAY_MS
}
fn d_true() -> bool {
    true
}

/// Computes the delay before retry number `attempt` (1 = the first retry) for a policy;
/// `None` when no retry should happen (strategy `none`, `attempt` 0, or past `max_retries`).
fn delay(
    strategy: &RetryStrategy,
    attempt: u32,
    max_retries: i64,
    base_ms: i64,
    max_ms: i64,
    multiplier: f64,
) -> Option<Duration> {
    if attempt == 0 || i64::from(attempt) > max_retries.max(0) {
        return None;
    }
    let base = base_ms.max(0) as f64;
    let raw = match strategy {
        RetryStrategy::None | RetryStrategy::Unknown(_) => return None,
        RetryStrategy::Fixed => base,
        RetryStrategy::Linear => base * f64::from(attempt),
        RetryStrategy::Exponential => {
            let m = if multiplier.is_finite() && multiplier >= 1.0 { multiplier } else { DEFAULT_BACKOFF_MULTIPLIER };
            base * m.powi(attempt.saturating_sub(1).min(1_000) as i32)
        }
    };
    let cap = max_ms.max(0) as f64;
    let ms = if raw.is_finite() { raw.min(cap) } else { cap };
    Some(Duration::from_millis(ms.round() as u64))
}

wire_model! {
    /// A retry policy (PROTOCOL.md §5.7).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RetryPolicy {
        /// Policy id.
        #[serde(default, deserialize_with = "null_as_default")]
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// Strategy.
        #[serde(default)]
        pub strategy: RetryStrategy,
        /// Retries after the first attempt.
        #[serde(default = "d_max_retries")]
        pub max_retries: i64,
        /// First delay, ms.
        #[serde(default = "d_base")]
        pub base_delay_ms: i64,
        /// Delay cap, ms.
        #[serde(default = "d_max")]
        pub max_delay_ms: i64,
        /// Whether delays are randomized.
        #[serde(default = "d_true")]
        pub jitter: bool,
        /// Growth factor of the exponential strategy (the seed's `backoff_multiplier`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub backoff_multiplier: Option<f64>,
        /// Error types worth retrying (the seed's `retryable_errors`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub retryable_errors: Option<Vec<String>>,
        /// Agent to hand over to when retries run out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_agent_id: Option<String>,
        /// Failures before the fallback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub failure_threshold: Option<i64>,
        /// When it was first set.
        #[serde(with = "crate::time::wire", default)]
        pub created_at: DateTime<Utc>,
        /// When it was last replaced.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub updated_at: Option<DateTime<Utc>>,
    }
    aliases {
        "max_retries" <= ["maxRetries", "max_attempts"],
        "base_delay_ms" <= ["baseDelayMs"],
        "max_delay_ms" <= ["maxDelayMs"],
        "intent_id" <= ["intentId"],
        "created_at" <= ["createdAt"],
    }
    also_emit {}
}

impl RetryPolicy {
    /// The delay before retry number `attempt` (1 = first retry), capped at `max_delay_ms`;
    /// `None` when the policy allows no such retry. Jitter is left to the caller.
    ///
    /// ```
    /// use std::time::Duration;
    /// use openintent_types::{RetryPolicy, RetryStrategy};
    /// let mut p = RetryPolicy::default();
    /// p.strategy = RetryStrategy::Exponential;
    /// p.max_retries = 5; p.base_delay_ms = 1000; p.max_delay_ms = 5000;
    /// assert_eq!(p.delay_for_attempt(1), Some(Duration::from_millis(1000)));
    /// assert_eq!(p.delay_for_attempt(3), Some(Duration::from_millis(4000)));
    /// assert_eq!(p.delay_for_attempt(4), Some(Duration::from_millis(5000)));
    /// assert_eq!(p.delay_for_attempt(6), None);
    /// ```
    pub fn delay_for_attempt(&self, attempt: u32) -> Option<Duration> {
        delay(
            &self.strategy,
            attempt,
            self.max_retries,
            self.base_delay_ms,
            self.max_delay_ms,
            self.backoff_multiplier.unwrap_or(DEFAULT_BACKOFF_MULTIPLIER),
        )
    }

    /// Whether an error type is retryable under this policy (every type when no list is set).
    pub fn is_retryable(&self, error_type: &str) -> bool {
        match &self.retryable_errors {
            None => true,
            Some(list) => list.iter().any(|e| e.eq_ignore_ascii_case(error_type)),
        }
    }
}

wire_model! {
    /// Body of `PUT /api/v1/intents/{id}/retry-policy` (`set_retry_policy`): a full replacement.
    ///
    /// Built from the seed's vocabulary with [`SetRetryPolicyRequest::from_seed`].
    #[derive(Debug, Clone, PartialEq, Serialize)]
    #[non_exhaustive]
    pub struct SetRetryPolicyRequest {
        /// Strategy (required by the reference server).
        pub strategy: RetryStrategy,
        /// Retries after the first attempt.
        #[serde(default = "d_max_retries")]
        pub max_retries: i64,
        /// First delay, ms.
        #[serde(default = "d_base")]
        pub base_delay_ms: i64,
        /// Delay cap, ms.
        #[serde(default = "d_max")]
        pub max_delay_ms: i64,
        /// Whether delays are randomized.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub jitter: Option<bool>,
        /// Growth factor.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub backoff_multiplier: Option<f64>,
        /// Error types worth retrying.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub retryable_errors: Option<Vec<String>>,
        /// Fallback agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fallback_agent_id: Option<String>,
        /// Failures before the fallback.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub failure_threshold: Option<i64>,
    }
    aliases {
        "max_retries" <= ["maxRetries", "max_attempts"],
        "base_delay_ms" <= ["baseDelayMs"],
        "max_delay_ms" <= ["maxDelayMs"],
    }
    also_emit {}
}

impl Default for SetRetryPolicyRequest {
    fn default() -> Self {
        SetRetryPolicyRequest {
            strategy: RetryStrategy::Exponential,
            max_retries: DEFAULT_MAX_RETRIES,
            base_delay_ms: DEFAULT_BASE_DELAY_MS,
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            jitter: None,
            backoff_multiplier: None,
            retryable_errors: None,
            fallback_agent_id: None,
            failure_threshold: None,
        }
    }
}

impl SetRetryPolicyRequest {
    /// A policy with a strategy and defaults for everything else.
    pub fn new(strategy: impl Into<RetryStrategy>) -> Self {
        SetRetryPolicyRequest { strategy: strategy.into(), ..Default::default() }
    }

    /// Maps the seed's parameters to the wire (DIVERGENCES.md D63): `max_retries =
    /// max_attempts`, delays in ms (rounded), strategy `fixed` when the multiplier is 1, else
    /// `exponential`; the multiplier and the error list are sent too.
    ///
    /// ```
    /// use openintent_types::{RetryStrategy, SetRetryPolicyRequest};
    /// let r = SetRetryPolicyRequest::from_seed(5, 1.0, 60.0, 2.0, vec!["timeout".into()]);
    /// assert_eq!((r.max_retries, r.base_delay_ms, r.max_delay_ms), (5, 1000, 60000));
    /// assert_eq!(r.strategy, RetryStrategy::Exponential);
    /// ```
    pub fn from_seed(
        max_attempts: i64,
        base_delay_seconds: f64,
        max_delay_seconds: f64,
        backoff_multiplier: f64,
        retryable_errors: Vec<String>,
    ) -> Self {
        let strategy = if backoff_multiplier == 1.0 { RetryStrategy::Fixed } else { RetryStrategy::Exponential };
        SetRetryPolicyRequest {
            strategy,
            max_retries: max_attempts,
            base_delay_ms: seconds_to_ms(base_delay_seconds),
            max_delay_ms: seconds_to_ms(max_delay_seconds),
            jitter: None,
            backoff_multiplier: Some(backoff_multiplier),
            retryable_errors: Some(retryable_errors),
            fallback_agent_id: None,
            failure_threshold: None,
        }
    }

    /// The delay before retry number `attempt` under this policy (see
    /// [`RetryPolicy::delay_for_attempt`]).
    pub fn delay_for_attempt(&self, attempt: u32) -> Option<Duration> {
        delay(
            &self.strategy,
            attempt,
            self.max_retries,
            self.base_delay_ms,
            self.max_delay_ms,
            self.backoff_multiplier.unwrap_or(DEFAULT_BACKOFF_MULTIPLIER),
        )
    }
}

fn seconds_to_ms(s: f64) -> i64 {
    if s.is_finite() { (s * 1000.0).round() as i64 } else { -1 }
}

wire_model! {
    /// A failure record (PROTOCOL.md §5.8).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct FailureRecord {
        /// Record id.
        pub id: String,
        /// The intent.
        #[serde(default, deserialize_with = "null_as_default")]
        pub intent_id: String,
        /// The failing agent.
        #[serde(default)]
        pub agent_id: Option<String>,
        /// Error type (read from `error_type` or `error_code`).
        #[serde(default, deserialize_with = "null_as_default")]
        pub error_type: String,
        /// Error message.
        #[serde(default, deserialize_with = "null_as_default")]
        pub error_message: String,
        /// Attempt number (1-based).
        #[serde(default, deserialize_with = "null_as_default")]
        pub attempt_number: i64,
        /// Whether another attempt is planned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub will_retry: Option<bool>,
        /// When the next attempt is planned.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::wire_opt")]
        pub retry_scheduled_at: Option<DateTime<Utc>>,
        /// Extra data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
        /// When it happened (read from `occurred_at` or `created_at`).
        #[serde(with = "crate::time::wire", default)]
        pub occurred_at: DateTime<Utc>,
    }
    aliases {
        "error_type" <= ["error_code", "errorType", "errorCode"],
        "error_message" <= ["errorMessage"],
        "attempt_number" <= ["attempt", "attemptNumber"],
        "occurred_at" <= ["created_at", "occurredAt", "createdAt"],
        "intent_id" <= ["intentId"],
        "agent_id" <= ["agentId"],
    }
    also_emit { "error_type" => "error_code", "occurred_at" => "created_at" }
}

wire_model! {
    /// Body of `POST /api/v1/intents/{id}/failures` (`record_failure`).
    #[derive(Debug, Clone, PartialEq, Default, Serialize)]
    #[non_exhaustive]
    pub struct RecordFailureRequest {
        /// Error type (also sent as `error_code` for RFC servers).
        pub error_type: String,
        /// Error message.
        pub error_message: String,
        /// Attempt number (the seed's `attempt`), 1-based.
        pub attempt_number: i64,
        /// The failing agent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_id: Option<String>,
        /// Whether another attempt is planned.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub will_retry: Option<bool>,
        /// When the next attempt is planned.
        #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_opt")]
        pub retry_scheduled_at: Option<DateTime<Utc>>,
        /// Extra data.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub metadata: Option<Map<String, Value>>,
    }
    aliases {
        "error_type" <= ["error_code", "errorType", "errorCode"],
        "attempt_number" <= ["attempt", "attemptNumber"],
        "error_message" <= ["errorMessage"],
        "agent_id" <= ["agentId"],
    }
    also_emit { "error_type" => "error_code" }
}

impl RecordFailureRequest {
    /// A failure of `attempt_number` with a type and message.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>, attempt_number: i64) -> Self {
        RecordFailureRequest {
            error_type: error_type.into(),
            error_message: error_message.into(),
            attempt_number,
            ..Default::default()
        }
    }
}

// ----- request field rules (validation and the OpenAPI document read these) -----------------

impl RequestSchema for SetRetryPolicyRequest {
    const FIELDS: &'static [Field] = &[
        req("strategy", Kind::Str).one_of(RetryStrategy::known_names),
        opt("max_retries", Kind::Int).range(0.0, 1000.0),
        opt("base_delay_ms", Kind::Int).min(0.0),
        opt("max_delay_ms", Kind::Int).min(0.0),
        opt("jitter", Kind::Bool),
        opt("backoff_multiplier", Kind::Num).min(1.0),
        opt("retryable_errors", Kind::StrList),
        opt("fallback_agent_id", Kind::Str),
        opt("failure_threshold", Kind::Int).min(1.0),
    ];
}

impl RequestSchema for RecordFailureRequest {
    const FIELDS: &'static [Field] = &[
        req("error_type", Kind::Str).text(100),
        req("error_message", Kind::Str).text(0),
        req("attempt_number", Kind::Int).min(1.0),
        opt("agent_id", Kind::Str),
        opt("will_retry", Kind::Bool),
        opt("retry_scheduled_at", Kind::Time),
        opt("metadata", Kind::Obj),
    ];
}

/// A retry policy: known strategy, non-negative counts and delays, `base <= max`, multiplier
/// finite and at least 1.
pub fn validate_retry_policy(
    strategy: &RetryStrategy,
    max_retries: i64,
    base_delay_ms: i64,
    max_delay_ms: i64,
    backoff_multiplier: Option<f64>,
) -> validation::Result {
    if let RetryStrategy::Unknown(s) = strategy {
        return validation::fail("strategy", format_args!("must be none, fixed, linear or exponential, got {s:?}"));
    }
    if !(0..=1000).contains(&max_retries) {
        return validation::fail("max_retries", format_args!("must be between 0 and 1000, got {max_retries}"));
    }
    if base_delay_ms < 0 {
        return validation::fail("base_delay_ms", format_args!("cannot be negative, got {base_delay_ms}"));
    }
    if max_delay_ms < 0 {
        return validation::fail("max_delay_ms", format_args!("cannot be negative, got {max_delay_ms}"));
    }
    if max_delay_ms < base_delay_ms {
        return validation::fail(
            "max_delay_ms",
            format_args!("must be at least base_delay_ms ({base_delay_ms}), got {max_delay_ms}"),
        );
    }
    if let Some(m) = backoff_multiplier
        && (!m.is_finite() || m < 1.0)
    {
        return validation::fail("backoff_multiplier", format_args!("must be a finite number of at least 1, got {m}"));
    }
    Ok(())
}

// ----- Validation ---------------------------------------------------------------------------
//
// The field rules of each request are its `RequestSchema::FIELDS` above; `validate_fields`
// enforces them. What follows them here is what the declaration does not say: rules across
// fields, on list items, on numbers JSON cannot carry.

impl Validate for SetRetryPolicyRequest {
    fn validate(&self) -> validation::Result {
        if let Some(m) = self.backoff_multiplier
            && !m.is_finite()
        {
            return validation::fail(
                "backoff_multiplier",
                format_args!("must be a finite number of at least 1, got {m}"),
            );
        }
        validate_fields(self)?;
        if self.max_delay_ms < self.base_delay_ms {
            return validation::fail(
                "max_delay_ms",
                format_args!("must be at least base_delay_ms ({}), got {}", self.base_delay_ms, self.max_delay_ms),
            );
        }
        Ok(())
    }
}

impl Validate for RecordFailureRequest {
    fn validate(&self) -> validation::Result {
        validate_fields(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(strategy: RetryStrategy) -> RetryPolicy {
        RetryPolicy { strategy, max_retries: 4, base_delay_ms: 100, max_delay_ms: 350, ..Default::default() }
    }

    #[test]
    fn strategies() {
        let ms =
            |p: &RetryPolicy| (0..=5).map(|n| p.delay_for_attempt(n).map(|d| d.as_millis() as u64)).collect::<Vec<_>>();
        assert_eq!(ms(&policy(RetryStrategy::None)), vec![None; 6]);
        assert_eq!(ms(&policy(RetryStrategy::Fixed)), vec![None, Some(100), Some(100), Some(100), Some(100), None]);
        assert_eq!(ms(&policy(RetryStrategy::Linear)), vec![None, Some(100), Some(200), Some(300), Some(350), None]);
        assert_eq!(
            ms(&policy(RetryStrategy::Exponential)),
            vec![None, Some(100), Some(200), Some(350), Some(350), None]
        );
        let mut p = policy(RetryStrategy::Exponential);
        p.backoff_multiplier = Some(3.0);
        assert_eq!(ms(&p)[2], Some(300));
        p.max_retries = 100;
        p.max_delay_ms = 1_000_000_000;
        // Huge exponents are capped, never overflow.
        assert_eq!(p.delay_for_attempt(90), Some(Duration::from_millis(1_000_000_000)));
    }

    #[test]
    fn seed_mapping_fixed() {
        let r = SetRetryPolicyRequest::from_seed(2, 0.25, 1.5, 1.0, vec![]);
        assert_eq!(r.strategy, RetryStrategy::Fixed);
        assert_eq!((r.base_delay_ms, r.max_delay_ms), (250, 1500));
    }
}
