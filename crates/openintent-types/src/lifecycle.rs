//! The intent lifecycle (RFC-0001 state machine) as one table shared by the server, which enforces
//! it, and clients, which may consult it.
//!
//! | from \ to | draft | active | blocked | suspended_awaiting_input | completed | abandoned |
//! |---|---|---|---|---|---|---|
//! | draft | | ✔ | | ✔ (RFC-0025, see below) | ✔ (the seed's quick start) | ✔ |
//! | active | | | ✔ | ✔ (an agent asks a human) | ✔ | ✔ |
//! | blocked | | ✔ | | | | ✔ |
//! | suspended_awaiting_input | | ✔ (the operator answered) | | | | ✔ (timeout, `fallback_policy: fail`) |
//! | completed | terminal |||||
//! | abandoned | terminal |||||
//!
//! Human-in-the-loop suspension (RFC-0025/0026): `active → suspended_awaiting_input` when an agent
//! asks for input, `suspended_awaiting_input → active` when the operator answers
//! (`POST …/suspend/respond`), `suspended_awaiting_input → abandoned` when a suspension with
//! `fallback_policy: fail` times out. `draft → suspended_awaiting_input` is allowed too: the upstream
//! server's own tests suspend freshly created (draft) intents, and an agent may ask before it starts.
//!
//! `draft → blocked` needs unmet dependencies (RFC-0002), which this protocol surface does not
//! model, so it is refused. Unknown statuses have no transitions.
//!
//! ```
//! use openintent_types::{lifecycle, IntentStatus};
//! assert!(lifecycle::can_transition(&IntentStatus::Draft, &IntentStatus::Completed));
//! let err = lifecycle::check_transition(&IntentStatus::Completed, &IntentStatus::Active).unwrap_err();
//! assert_eq!(err.to_string(), "Invalid status transition: completed -> active (completed is terminal)");
//! ```

use crate::intents::IntentStatus;

use IntentStatus::{Abandoned, Active, Blocked, Completed, Draft, SuspendedAwaitingInput};

const FROM_DRAFT: &[IntentStatus] = &[Active, SuspendedAwaitingInput, Completed, Abandoned];
const FROM_ACTIVE: &[IntentStatus] = &[Blocked, SuspendedAwaitingInput, Completed, Abandoned];
const FROM_BLOCKED: &[IntentStatus] = &[Active, Abandoned];
const FROM_SUSPENDED: &[IntentStatus] = &[Active, Abandoned];
const NONE: &[IntentStatus] = &[];

/// The statuses an intent in `from` may move to.
pub fn allowed_transitions(from: &IntentStatus) -> &'static [IntentStatus] {
    match from {
        Draft => FROM_DRAFT,
        Active => FROM_ACTIVE,
        Blocked => FROM_BLOCKED,
        SuspendedAwaitingInput => FROM_SUSPENDED,
        _ => NONE,
    }
}

/// Whether `from → to` is allowed. Staying in the same status is not a transition.
pub fn can_transition(from: &IntentStatus, to: &IntentStatus) -> bool {
    allowed_transitions(from).contains(to)
}

/// Whether no transition leaves `status`.
pub fn is_terminal(status: &IntentStatus) -> bool {
    matches!(status, Completed | Abandoned)
}

/// A refused status transition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error("Invalid status transition: {from} -> {to} ({})", explain(.from, .allowed))]
pub struct TransitionError {
    /// The current status.
    pub from: IntentStatus,
    /// The requested status.
    pub to: IntentStatus,
    /// The statuses `from` may move to.
    pub allowed: Vec<IntentStatus>,
}

fn explain(from: &IntentStatus, allowed: &[IntentStatus]) -> String {
    if is_terminal(from) {
        format!("{from} is terminal")
    } else if allowed.is_empty() {
        format!("{from} has no known transitions")
    } else {
        let names: Vec<&str> = allowed.iter().map(IntentStatus::as_str).collect();
        format!("allowed: {}", names.join(", "))
    }
}

/// Checks `from → to` against the table.
pub fn check_transition(from: &IntentStatus, to: &IntentStatus) -> Result<(), TransitionError> {
    if can_transition(from, to) {
        Ok(())
    } else {
        Err(TransitionError { from: from.clone(), to: to.clone(), allowed: allowed_transitions(from).to_vec() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair of known statuses against the table, written out independently.
    #[test]
    fn every_pair() {
        let allowed: &[(&str, &str)] = &[
            ("draft", "active"),
            ("draft", "suspended_awaiting_input"),
            ("draft", "completed"),
            ("draft", "abandoned"),
            ("active", "blocked"),
            ("active", "suspended_awaiting_input"),
            ("active", "completed"),
            ("active", "abandoned"),
            ("blocked", "active"),
            ("blocked", "abandoned"),
            ("suspended_awaiting_input", "active"),
            ("suspended_awaiting_input", "abandoned"),
        ];
        let mut checked = 0;
        for from in IntentStatus::KNOWN {
            for to in IntentStatus::KNOWN {
                let expect = allowed.contains(&(from.as_str(), to.as_str()));
                assert_eq!(can_transition(from, to), expect, "{from} -> {to}");
                assert_eq!(check_transition(from, to).is_ok(), expect, "{from} -> {to}");
                checked += 1;
            }
        }
        assert_eq!(checked, 36);
        assert!(is_terminal(&Completed) && is_terminal(&Abandoned) && !is_terminal(&Draft));
    }

    /// The suspension round trip of RFC-0025 and the upstream tests: suspend from draft or active,
    /// resume to active, abandon on a failing timeout; nothing else leaves the suspended status.
    #[test]
    fn suspension_transitions() {
        for from in [&Draft, &Active] {
            assert!(check_transition(from, &SuspendedAwaitingInput).is_ok(), "{from}");
        }
        assert_eq!(allowed_transitions(&SuspendedAwaitingInput), &[Active, Abandoned]);
        let err = check_transition(&SuspendedAwaitingInput, &Completed).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid status transition: suspended_awaiting_input -> completed (allowed: active, abandoned)"
        );
        assert!(!can_transition(&Blocked, &SuspendedAwaitingInput));
    }

    #[test]
    fn unknown_statuses_go_nowhere() {
        let odd = IntentStatus::parse("bogus-status");
        assert!(!can_transition(&odd, &Active));
        assert!(!can_transition(&Draft, &odd));
        let err = check_transition(&Blocked, &Completed).unwrap_err();
        assert_eq!(err.allowed, vec![Active, Abandoned]);
        assert_eq!(err.to_string(), "Invalid status transition: blocked -> completed (allowed: active, abandoned)");
    }
}
