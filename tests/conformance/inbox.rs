//! The human inbox (`GET /api/v1/inbox`): everything waiting for a person among the intents
//! the caller may read, oldest first, through the async and the blocking client.
//!
//! The reference server lacks the route: under the `reference` profile the call must be the
//! typed unsupported error.

use openintent::hitl::suspension_of;
use openintent::types::{ApprovalStatus, InboxItem, InboxKind, IntentStatus, SuspensionChoice};

use crate::common::{Must, expect_served, new_intent, target, unique};

/// A question (a suspended intent) and then an approval request appear in that order, typed;
/// the blocking client reads the same list; each leaves the list once answered.
#[tokio::test]
async fn the_inbox_lists_what_waits_oldest_first_until_answered() {
    let t = target();
    let owner = t.client(&unique("inbox-agent"));
    let reviewer = t.client_with_key(1, &unique("inbox-reviewer"));
    let Some(_) = expect_served("inbox", owner.inbox().await) else { return };

    let asking = new_intent(&owner, "inbox question").await;
    let suspended = owner
        .suspend(&asking.id, asking.version, "Ship it?")
        .choice(SuspensionChoice::new("ship", "Ship"))
        .choice(SuspensionChoice::new("hold", "Hold"))
        .send()
        .await
        .must("suspend");
    let record = suspension_of(&suspended).expect("the suspension record");
    let gated = new_intent(&owner, "inbox approval").await;
    let approval = owner.request_approval(&gated.id, "complete").reason("done").send().await.must("request_approval");

    let ours = |items: &[InboxItem]| -> Vec<InboxItem> {
        items.iter().filter(|i| i.intent_id == asking.id || i.intent_id == gated.id).cloned().collect()
    };
    let all = owner.inbox().await.must("inbox");
    assert!(all.windows(2).all(|w| w[0].created_at <= w[1].created_at), "not oldest first: {all:?}");
    let items = ours(&all);
    let kinds: Vec<_> = items.iter().map(|i| (i.kind.clone(), i.intent_id.as_str())).collect();
    assert_eq!(kinds, [(InboxKind::Input, asking.id.as_str()), (InboxKind::Approval, gated.id.as_str())]);
    let question = &items[0];
    assert_eq!(
        (&question.intent_title, &question.intent_status),
        (&asking.title, &IntentStatus::SuspendedAwaitingInput)
    );
    let asked = question.suspension().expect("the item is the suspension record");
    assert_eq!((asked.id.as_str(), asked.question.as_str(), asked.choices.len()), (record.id.as_str(), "Ship it?", 2));
    let request = items[1].approval().expect("the item is the approval");
    assert_eq!((&request.id, &request.status), (&approval.id, &ApprovalStatus::Pending));
    assert!(items[1].suspension().is_none() && items[1].escalation().is_none());

    // The blocking client reads the same list (from a thread that may block).
    let (url, key, agent) = (t.url.clone(), t.keys[0].clone(), unique("inbox-blocking"));
    let blocking = tokio::task::spawn_blocking(move || {
        openintent::blocking::Client::new(url, key, agent).expect("blocking client").inbox()
    })
    .await
    .expect("blocking thread")
    .must("blocking inbox");
    assert_eq!(ours(&blocking), items);

    // Answered, both leave the list.
    reviewer.approve_approval(&gated.id, &approval.id).await.must("approve_approval");
    owner.respond_to_suspension(&asking.id, &record.id, "ship").send().await.must("respond_to_suspension");
    let after = owner.inbox().await.must("inbox");
    assert_eq!(ours(&after), [], "answered items are still listed");
}
