//! The intent lifecycle as the status route enforces it: the transition table of
//! [`openintent_types::lifecycle`], whose refusal names the current status, the requested one
//! and the moves the current status allows.

use openintent_types::IntentStatus;
pub(crate) use openintent_types::lifecycle::TransitionError;

/// Checks that an intent in `current` may move to `requested`. Staying in the same status is
/// not a move, and terminal statuses allow none.
pub(crate) fn check_transition(current: &IntentStatus, requested: &IntentStatus) -> Result<(), TransitionError> {
    openintent_types::lifecycle::check_transition(current, requested)
}

#[cfg(test)]
mod tests {
    use IntentStatus::{Abandoned, Active, Blocked, Completed, Draft, SuspendedAwaitingInput};

    use super::*;

    #[test]
    fn moves_of_the_table_pass() {
        assert!(check_transition(&Draft, &Active).is_ok());
        assert!(check_transition(&Active, &SuspendedAwaitingInput).is_ok());
        assert!(check_transition(&Blocked, &Abandoned).is_ok());
    }

    #[test]
    fn a_refusal_names_both_statuses_and_the_allowed_moves() {
        let e = check_transition(&Blocked, &Blocked).unwrap_err();
        assert_eq!((e.from.clone(), e.to.clone()), (Blocked, Blocked));
        assert_eq!(e.allowed, vec![Active, Abandoned]);
        assert_eq!(e.to_string(), "Invalid status transition: blocked -> blocked (allowed: active, abandoned)");

        let e = check_transition(&Completed, &Active).unwrap_err();
        assert!(e.allowed.is_empty());
        assert_eq!(e.to_string(), "Invalid status transition: completed -> active (completed is terminal)");

        // draft -> blocked needs dependencies this protocol surface does not model.
        assert!(check_transition(&Draft, &Blocked).is_err());
    }
}
