//! Lease rules (PROTOCOL.md §4.3): which lease guards a state path, and what a refusal for a
//! lease says.
//!
//! At most one live lease holds a scope (the store's `lease_slots` table keeps that); a state
//! patch is refused while another principal's live lease covers one of its paths. The refusal
//! names the lease, with its status at the time of the refusal.

use chrono::{DateTime, Utc};
use openintent_types::time::format_wire;
use openintent_types::{Lease, StatePatch};

/// The text of the refusal of a scope that a live lease already holds.
pub(crate) const HELD: &str = "Lease already held for this scope";

/// A write refused because of a lease another principal holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LeaseConflict {
    /// Human text naming the scope (and, for a patch, the path) and the lease.
    pub detail: String,
    /// The lease in the way, with its status when the refusal was made; `None` when it could
    /// not be read.
    pub existing: Option<Box<Lease>>,
}

/// Whether a state path and a lease scope overlap: the path lies under the state the scope
/// guards (see [`openintent_types::scope_path`]), or it is an ancestor of it (writing it would
/// overwrite the leased subtree; the empty path is the whole document).
pub(crate) fn path_overlaps_scope(scope: &str, path: &str) -> bool {
    openintent_types::scope_overlaps_path(scope, path)
}

/// Adds the derived `status` at `now` to a lease read from storage.
pub(crate) fn with_status(mut lease: Lease, now: DateTime<Utc>) -> Lease {
    lease.status = None;
    lease.status = Some(lease.status_at(now));
    lease
}

/// The refusal of a scope that `existing` holds (acquiring it, or renewing a lease whose scope
/// another lease took over).
pub(crate) fn held(existing: Option<Lease>, now: DateTime<Utc>) -> LeaseConflict {
    LeaseConflict { detail: HELD.to_owned(), existing: existing.map(|l| Box::new(with_status(l, now))) }
}

/// The lease guard of a state write by `principal`: refuses the first of `patches` whose path
/// one of `leases` (the live leases of the intent) of another principal covers. The principal's
/// own leases never refuse its writes.
pub(crate) fn guard(
    leases: &[Lease],
    patches: &[StatePatch],
    principal: &str,
    now: DateTime<Utc>,
) -> Result<(), LeaseConflict> {
    for p in patches {
        for l in leases {
            if l.agent_id != principal && path_overlaps_scope(&l.scope, &p.path) {
                let detail = format!(
                    "Path {:?} is under scope {:?}, leased by {} (lease {}) until {}",
                    p.path,
                    l.scope,
                    l.agent_id,
                    l.id,
                    format_wire(&l.expires_at)
                );
                return Err(LeaseConflict { detail, existing: Some(Box::new(with_status(l.clone(), now))) });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use openintent_types::LeaseStatus;
    use serde_json::json;

    use super::*;

    #[test]
    fn overlap_both_ways() {
        assert!(path_overlaps_scope("hotel_search", "/hotel_search/results"));
        assert!(path_overlaps_scope("hotel_search", "/hotel_search"));
        assert!(path_overlaps_scope("trip.hotel", "/trip"));
        assert!(path_overlaps_scope("trip.hotel", ""));
        assert!(!path_overlaps_scope("trip.hotel", "/trip/flight"));
        assert!(!path_overlaps_scope("hotel_search", "/hotel_searches"));
        // Free-form scopes name the key spelled like them (dots still separate keys).
        assert!(path_overlaps_scope("data-processing", "/data-processing/x"));
        assert!(path_overlaps_scope("a b", "/a b"));
        assert!(path_overlaps_scope("a/b", "/a~1b"));
        assert!(!path_overlaps_scope("a/b", "/a/b"));
        assert!(!path_overlaps_scope("a/b", "/a"));
        assert!(path_overlaps_scope("~x", "/~0x"));
    }

    fn lease(id: &str, holder: &str, scope: &str, now: DateTime<Utc>) -> Lease {
        let mut l = Lease::new(id, "i1", holder, scope, 60);
        l.acquired_at = now;
        l.expires_at = now + chrono::Duration::seconds(60);
        l
    }

    #[test]
    fn the_guard_refuses_paths_leased_by_others() {
        let now = Utc::now();
        let leases = [lease("l1", "alice", "trip.hotel", now), lease("l2", "bob", "budget", now)];
        let patch = |path: &str| StatePatch::set_path(path, json!(1));

        // Alice's own lease does not refuse her; a path nobody leased passes.
        assert!(guard(&leases, &[patch("/trip/hotel/name"), patch("/notes")], "alice", now).is_ok());
        // Bob writing under Alice's scope, or over it (an ancestor), is refused.
        let refused = guard(&leases, &[patch("/notes"), patch("/trip")], "bob", now).unwrap_err();
        let expires = format_wire(&leases[0].expires_at);
        assert_eq!(
            refused.detail,
            format!("Path \"/trip\" is under scope \"trip.hotel\", leased by alice (lease l1) until {expires}")
        );
        let existing = refused.existing.unwrap();
        assert_eq!((existing.id.as_str(), existing.status), ("l1", Some(LeaseStatus::Active)));
        // The first refused patch is named.
        let refused = guard(&leases, &[patch("/budget/total"), patch("/trip")], "carol", now).unwrap_err();
        assert!(refused.detail.starts_with("Path \"/budget/total\" is under scope \"budget\", leased by bob"));
    }

    #[test]
    fn a_held_scope_names_its_lease_and_status() {
        let now = Utc::now();
        let l = lease("l1", "alice", "trip", now - chrono::Duration::seconds(120));
        let conflict = held(Some(l), now);
        assert_eq!(conflict.detail, HELD);
        assert_eq!(conflict.existing.unwrap().status, Some(LeaseStatus::Expired));
        assert_eq!(held(None, now), LeaseConflict { detail: HELD.to_owned(), existing: None });
    }
}
