//! Scope leases: acquire, conflict, renew, release, listing, expiry and the lease helper.

use std::time::Duration;

use openintent::Error;
use openintent::types::LeaseStatus;

use crate::common::{Must, new_intent, target, unique};

/// Acquire, a conflict for a second agent with its own key, renew, release, active vs all.
#[tokio::test]
async fn lease_acquire_conflict_renew_release() {
    let t = target();
    let owner = t.client_with_key(0, &unique("lease-owner"));
    let rival = t.client_with_key(1, &unique("lease-rival"));
    let intent = new_intent(&owner, "leases").await;

    let lease = owner.acquire_lease(&intent.id, "analysis").duration_seconds(30).send().await.must("acquire_lease");
    assert_eq!(lease.intent_id, intent.id);
    assert_eq!(lease.scope, "analysis");
    assert_eq!(lease.status, Some(LeaseStatus::Active));
    assert!(lease.released_at.is_none());
    let held_for = lease.expires_at - lease.acquired_at;
    assert!((25..=35).contains(&held_for.num_seconds()), "expiry = acquisition + 30 s, got {held_for}");

    let err = rival.acquire_lease(&intent.id, "analysis").duration_seconds(30).send().await.expect_err("conflict");
    assert!(err.is_lease_conflict(), "a held scope is a lease conflict, got {err} ({err:?})");
    assert!(!err.is_version_conflict());
    assert_eq!(err.status(), Some(409));

    // Another scope of the same intent is free.
    let other = rival.acquire_lease(&intent.id, "synthesis").duration_seconds(30).send().await.must("other scope");
    assert_eq!(other.scope, "synthesis");

    let renewed = owner.renew_lease(&intent.id, &lease.id).duration_seconds(120).send().await.must("renew_lease");
    assert_eq!(renewed.id, lease.id);
    assert!(renewed.expires_at > lease.expires_at, "renewal moves the expiry: {renewed:?}");
    assert_eq!(renewed.status, Some(LeaseStatus::Active));

    let active = owner.get_leases(&intent.id).send().await.must("get_leases");
    let mut scopes: Vec<_> = active.iter().map(|l| l.scope.as_str()).collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["analysis", "synthesis"]);
    assert!(active.iter().all(|l| l.status == Some(LeaseStatus::Active)));

    owner.release_lease(&intent.id, &lease.id).await.must("release_lease");
    let active = owner.get_leases(&intent.id).send().await.must("get_leases after release");
    assert!(active.iter().all(|l| l.id != lease.id), "released leases are not active: {active:?}");
    let all = owner.get_leases(&intent.id).all().send().await.must("get_leases all");
    let released = all.iter().find(|l| l.id == lease.id).expect("the released lease is in the history");
    assert_eq!(released.status, Some(LeaseStatus::Released));
    assert!(released.released_at.is_some());

    // Released: the rival may take the scope now.
    let taken = rival.acquire_lease(&intent.id, "analysis").duration_seconds(30).send().await.must("re-acquire");
    assert_ne!(taken.id, lease.id);
    rival.release_lease(&intent.id, &taken.id).await.must("release");
    rival.release_lease(&intent.id, &other.id).await.must("release");
}

/// Scopes are free strings on the wire: the forms upstream examples use (`data-processing`,
/// `shared-scope`, `ev-scope`), and ones with dots, spaces and slashes, are leased like any
/// other, and each is exclusive on its own.
#[tokio::test]
async fn free_form_scopes() {
    let t = target();
    let owner = t.client_with_key(0, &unique("scope-owner"));
    let rival = t.client_with_key(1, &unique("scope-rival"));
    let intent = new_intent(&owner, "free-form scopes").await;
    for scope in ["data-processing", "shared-scope", "ev-scope", "v1.2", "with space", "a/b"] {
        let lease = owner.acquire_lease(&intent.id, scope).duration_seconds(30).send().await.must(scope);
        assert_eq!(lease.scope, scope);
        let err = rival.acquire_lease(&intent.id, scope).duration_seconds(30).send().await.expect_err(scope);
        assert!(err.is_lease_conflict(), "{scope} is held: {err}");
        owner.release_lease(&intent.id, &lease.id).await.must("release");
    }
}

/// A short lease expires: it leaves the active list, shows as expired in the history, and the
/// scope is free again.
#[tokio::test]
async fn lease_expiry() {
    let t = target();
    let owner = t.client_with_key(0, &unique("expiry-owner"));
    let rival = t.client_with_key(1, &unique("expiry-rival"));
    let intent = new_intent(&owner, "lease expiry").await;

    let lease = owner.acquire_lease(&intent.id, "draft").duration_seconds(1).send().await.must("acquire_lease");
    tokio::time::sleep(Duration::from_millis(1600)).await;

    let active = owner.get_leases(&intent.id).send().await.must("get_leases");
    assert!(active.iter().all(|l| l.id != lease.id), "an expired lease is not active: {active:?}");
    let all = owner.get_leases(&intent.id).all().send().await.must("get_leases all");
    let expired = all.iter().find(|l| l.id == lease.id).expect("the expired lease is in the history");
    assert_eq!(expired.status, Some(LeaseStatus::Expired));

    let next = rival.acquire_lease(&intent.id, "draft").duration_seconds(30).send().await.must("acquire after expiry");
    rival.release_lease(&intent.id, &next.id).await.must("release");
}

#[derive(Debug)]
enum WorkError {
    Client(Error),
    Failed(&'static str),
}

impl From<Error> for WorkError {
    fn from(e: Error) -> Self {
        WorkError::Client(e)
    }
}

/// `with_lease` holds the lease while the work runs and releases it after success and after an
/// error; a lease conflict reaches the caller without running the work.
#[tokio::test]
async fn with_lease_releases_on_success_and_error() {
    let t = target();
    let owner = t.client_with_key(0, &unique("helper-owner"));
    let rival = t.client_with_key(1, &unique("helper-rival"));
    let intent = new_intent(&owner, "with_lease").await;

    let rival_probe = rival.clone();
    let seen = owner
        .with_lease(&intent.id, "report", |lease, client| async move {
            let active = client.get_leases(&lease.intent_id).send().await?;
            assert!(active.iter().any(|l| l.id == lease.id), "held while the work runs");
            let err = rival_probe.acquire_lease(&lease.intent_id, "report").send().await.expect_err("held");
            assert!(err.is_lease_conflict(), "{err}");
            Ok(lease.id)
        })
        .duration_seconds(30)
        .send()
        .await
        .must("with_lease");
    let active = owner.get_leases(&intent.id).send().await.must("get_leases");
    assert!(active.iter().all(|l| l.id != seen), "released after success: {active:?}");

    let failed = owner
        .with_lease_custom_error(&intent.id, "report", |_lease, _client| async move {
            Err::<(), _>(WorkError::Failed("work failed"))
        })
        .duration_seconds(30)
        .send()
        .await;
    assert!(matches!(failed, Err(WorkError::Failed("work failed"))), "the work's error comes back: {failed:?}");
    let active = owner.get_leases(&intent.id).send().await.must("get_leases");
    assert!(active.iter().all(|l| l.scope != "report"), "released after an error: {active:?}");

    // The scope is free again; while the rival holds it the helper reports the conflict and
    // never runs the work.
    let held = rival.acquire_lease(&intent.id, "report").duration_seconds(30).send().await.must("rival acquires");
    let refused = owner
        .with_lease_custom_error(&intent.id, "report", |_lease, _client| async move {
            panic!("the work must not run without the lease");
            #[allow(unreachable_code)]
            Ok::<(), WorkError>(())
        })
        .send()
        .await;
    match refused {
        Err(WorkError::Client(e)) => assert!(e.is_lease_conflict(), "{e}"),
        other => panic!("expected a lease conflict, got {other:?}"),
    }
    rival.release_lease(&intent.id, &held.id).await.must("release");
}
