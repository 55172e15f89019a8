//! Per-intent access control (RFC-0011): the ACL, grants, access requests and decisions, and
//! (openintent-rs only) the ACL's enforcement.

use openintent::types::{AccessPolicy, AccessRequestStatus, GrantAccessRequest, Permission};

use crate::common::{Must, new_intent, target, unique};

/// Every ACL route through the client: get (open, no entries), set, grant, revoke, request,
/// list, approve (adds an entry), deny.
#[tokio::test]
async fn acl_grants_and_access_requests() {
    let owner = unique("acl-owner");
    let client = target().client(&owner);
    let intent = new_intent(&client, "acl").await;

    let acl = client.get_acl(&intent.id).await.must("get_acl");
    assert_eq!((&acl.default_policy, acl.entries.len()), (&AccessPolicy::Open, 0));

    let analyst = unique("analyst");
    let set = client
        .set_acl(&intent.id)
        .default_policy(AccessPolicy::Closed)
        .entry(GrantAccessRequest::new(owner.clone(), Permission::Admin))
        .entry(GrantAccessRequest::new(analyst.clone(), Permission::Write))
        .send()
        .await
        .must("set_acl");
    assert_eq!((&set.default_policy, set.entries.len()), (&AccessPolicy::Closed, 2));
    assert_eq!(set.permission_of(&analyst, chrono::Utc::now()), Some(Permission::Write));

    let reader = unique("reader");
    let entry = client.grant_access(&intent.id, &reader).send().await.must("grant_access");
    assert_eq!((entry.principal_id.as_str(), &entry.permission), (reader.as_str(), &Permission::Read));
    // openintent-rs records the caller's principal (the agent id), the reference the API key.
    assert!(!entry.granted_by.is_empty());
    assert_eq!(client.get_acl(&intent.id).await.must("get_acl").entries.len(), 3);
    client.revoke_access(&intent.id, &entry.id).await.must("revoke_access");
    assert_eq!(client.get_acl(&intent.id).await.must("get_acl").entries.len(), 2);
    let again = client.revoke_access(&intent.id, &entry.id).await.unwrap_err();
    assert!(again.is_not_found(), "{again}");

    let newcomer = unique("newcomer");
    let asker = target().client(&newcomer);
    let request = asker
        .request_access(&intent.id, &newcomer)
        .permission(Permission::Write)
        .reason("to add findings")
        .capabilities(["summarize"])
        .send()
        .await
        .must("request_access");
    assert_eq!(request.status, AccessRequestStatus::Pending);
    let second = asker.request_access(&intent.id, &newcomer).send().await.must("request_access");
    let listed = client.list_access_requests(&intent.id).await.must("list_access_requests");
    assert_eq!(listed.len(), 2);

    let approved = client
        .approve_access_request(&intent.id, &request.id)
        .permission(Permission::Read)
        .reason("read is enough")
        .send()
        .await
        .must("approve_access_request");
    assert_eq!(approved.status, AccessRequestStatus::Approved);
    assert_eq!(approved.decided_by.as_deref(), Some(owner.as_str()));
    let acl = client.get_acl(&intent.id).await.must("get_acl");
    assert_eq!(acl.permission_of(&newcomer, chrono::Utc::now()), Some(Permission::Read));
    let twice = client.deny_access_request(&intent.id, &request.id).send().await.unwrap_err();
    assert!(twice.is_not_found(), "a decided request: {twice}");

    let denied = client.deny_access_request(&intent.id, &second.id).reason("no").send().await.must("deny");
    assert_eq!((denied.status, denied.decision_reason.as_deref()), (AccessRequestStatus::Denied, Some("no")));
}

/// A closed ACL keeps principals without an entry out (openintent-rs); the reference enforces
/// nothing (PROTOCOL-AGENTS.md §9.4), so there the same calls succeed.
#[tokio::test]
async fn a_closed_acl_is_enforced() {
    let owner = unique("acl-owner");
    let client = target().client(&owner);
    let intent = new_intent(&client, "acl enforcement").await;
    client.set_acl(&intent.id).default_policy(AccessPolicy::Closed).send().await.must("set_acl");
    let stranger = target().client(&unique("stranger"));
    let read = stranger.get_intent(&intent.id).await;
    let write = stranger.log_event(&intent.id, "comment").send().await;
    if target().full() {
        for (what, err) in [("get_intent", read.map(drop).unwrap_err()), ("log_event", write.map(drop).unwrap_err())] {
            assert_eq!(err.status(), Some(403), "{what}: {err}");
        }
        // The creator keeps access, and anyone may still ask for it.
        client.get_intent(&intent.id).await.must("creator reads");
        stranger.request_access(&intent.id, "stranger").send().await.must("request_access");
    } else {
        read.must("the reference does not enforce the ACL");
        write.must("the reference does not enforce the ACL");
    }
}
