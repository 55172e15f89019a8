//! Webhook subscriptions (RFC-0006): which subscriptions take an event. The store writes one
//! delivery, in the event's transaction, for each subscription that does.

use chrono::{DateTime, Utc};
use openintent_types::IntentEvent;

/// Whether a subscription already matched by scope (intent, portfolio or global) takes `event`:
/// it has not expired, and its `event_types` is empty or lists the event's type.
pub(crate) fn subscription_matches(
    event_types: &[String],
    expires_at: Option<DateTime<Utc>>,
    event: &IntentEvent,
) -> bool {
    if expires_at.is_some_and(|e| e <= event.created_at) {
        return false;
    }
    event_types.is_empty() || event_types.iter().any(|t| t == event.event_type.as_str())
}

#[cfg(test)]
mod tests {
    use openintent_types::EventType;

    use super::*;

    #[test]
    fn a_subscription_takes_the_types_it_lists_until_it_expires() {
        let mut event = IntentEvent::new("e1", "i1", EventType::StatePatched, "me");
        event.created_at = Utc::now();
        let later = event.created_at + chrono::Duration::seconds(1);
        assert!(subscription_matches(&[], None, &event));
        assert!(subscription_matches(&["state_patched".into()], Some(later), &event));
        assert!(!subscription_matches(&["status_changed".into()], None, &event));
        // Expired at the moment of the event, or before: not taken.
        assert!(!subscription_matches(&[], Some(event.created_at), &event));
    }
}
