//! Timers of server-side suspensions (RFC-0025/0026): when an unanswered suspension is due for
//! its next re-notification or its expiry, and what its expiry does. Pure functions of the
//! stored [`SuspensionRecord`] and the number of notifications already made; the timeout
//! sweeper (`crate::suspensions`) runs them inside the intent's write transaction.

use chrono::{DateTime, Duration, Utc};
use openintent_types::{EscalationStep, FallbackPolicy, IntentStatus, SuspensionRecord};
use serde_json::Value;

/// What is due next for a suspension whose operator has been notified `attempt` times.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Due {
    /// Notify again (attempt `attempt`), escalating to the ladder's steps for that attempt.
    Renotify {
        /// The attempt this notification is (2, 3, ...).
        attempt: i64,
        /// The ladder steps whose `attempt` is this one.
        escalate_to: Vec<EscalationStep>,
    },
    /// The suspension expires.
    Expire,
}

/// When the next thing is due for a suspension notified `attempt` times, and what; `None` when
/// nothing ever is (no timeout, no retry policy).
///
/// With a retry policy of `max_attempts` > 1, attempt `k + 1` is due `k × interval_seconds`
/// after the suspension started (fixed spacing, whatever the policy's `strategy`), as long as
/// that is before the deadline ([`SuspensionRecord::deadline`]); the deadline is the expiry.
pub(crate) fn next_due(record: &SuspensionRecord, attempt: i64) -> Option<(DateTime<Utc>, Due)> {
    let deadline = record.deadline();
    if let (Some(policy), Some(start)) = (&record.retry_policy, record.suspended_at)
        && attempt < policy.max_attempts
    {
        let at = attempt_time(start, policy.interval_seconds, attempt);
        if let Some(at) = at
            && deadline.is_none_or(|d| at < d)
        {
            let next = attempt + 1;
            let escalate_to = policy.escalation_ladder.iter().filter(|s| s.attempt == next).cloned().collect();
            return Some((at, Due::Renotify { attempt: next, escalate_to }));
        }
    }
    deadline.map(|d| (d, Due::Expire))
}

/// When attempt `done + 1` of a retry policy is due: `done × interval` after `start` (`None`
/// beyond the representable times).
pub(crate) fn attempt_time(start: DateTime<Utc>, interval_seconds: i64, done: i64) -> Option<DateTime<Utc>> {
    Duration::try_seconds(interval_seconds.saturating_mul(done)).and_then(|d| start.checked_add_signed(d))
}

/// What an expired suspension turns into.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expiry {
    /// The policy applied: the retry policy's `final_fallback_policy` when there is one, else
    /// the record's `fallback_policy`.
    pub policy: FallbackPolicy,
    /// `fail` abandons the intent; the continuing policies resume it (`active`).
    pub status: IntentStatus,
    /// The value the agent continues with (the record's `fallback_value`; none for `fail`).
    pub value: Option<Value>,
}

/// The outcome of `record`'s expiry.
pub(crate) fn expiry(record: &SuspensionRecord) -> Expiry {
    let policy = match &record.retry_policy {
        Some(p) => p.final_fallback_policy.clone(),
        None => record.fallback_policy.clone(),
    };
    match policy {
        FallbackPolicy::CompleteWithFallback | FallbackPolicy::UseDefaultAndContinue => {
            Expiry { policy, status: IntentStatus::Active, value: record.fallback_value.clone() }
        }
        // `fail`, and a policy this server does not know (never accepted by the suspend route).
        _ => Expiry { policy, status: IntentStatus::Abandoned, value: None },
    }
}

#[cfg(test)]
mod tests {
    use openintent_types::{HumanRetryPolicy, SuspendRequest};
    use serde_json::json;

    use super::*;

    fn start() -> DateTime<Utc> {
        "2026-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_timeout_alone_expires_at_the_deadline() {
        let mut req = SuspendRequest::new("ok?");
        req.timeout_seconds = Some(30);
        let record = req.into_record("s", start());
        assert_eq!(next_due(&record, 1), Some((start() + Duration::seconds(30), Due::Expire)));
        assert_eq!(expiry(&record).status, IntentStatus::Abandoned);
        assert_eq!(next_due(&SuspendRequest::new("never").into_record("s", start()), 1), None);
    }

    #[test]
    fn a_retry_policy_renotifies_then_expires() {
        let mut policy = HumanRetryPolicy::default();
        policy.max_attempts = 3;
        policy.interval_seconds = 10;
        policy.final_fallback_policy = FallbackPolicy::UseDefaultAndContinue;
        let mut step = EscalationStep::default();
        step.attempt = 3;
        step.notify_to = "boss".into();
        policy.escalation_ladder = vec![step.clone()];
        let mut req = SuspendRequest::new("ok?");
        req.retry_policy = Some(policy);
        req.fallback_value = Some(json!("no"));
        let record = req.into_record("s", start());
        let at = |s| start() + Duration::seconds(s);
        assert_eq!(next_due(&record, 1), Some((at(10), Due::Renotify { attempt: 2, escalate_to: vec![] })));
        assert_eq!(next_due(&record, 2), Some((at(20), Due::Renotify { attempt: 3, escalate_to: vec![step] })));
        assert_eq!(next_due(&record, 3), Some((at(30), Due::Expire)));
        let e = expiry(&record);
        assert_eq!((e.status, e.value), (IntentStatus::Active, Some(json!("no"))));
    }

    #[test]
    fn a_shorter_timeout_cuts_the_attempts() {
        let mut policy = HumanRetryPolicy::default();
        policy.max_attempts = 5;
        policy.interval_seconds = 10;
        let mut req = SuspendRequest::new("ok?");
        req.retry_policy = Some(policy);
        req.timeout_seconds = Some(15);
        let record = req.into_record("s", start());
        assert!(matches!(next_due(&record, 1), Some((_, Due::Renotify { attempt: 2, .. }))));
        assert_eq!(next_due(&record, 2), Some((start() + Duration::seconds(15), Due::Expire)));
    }
}
