//! Tolerant reading, strict writing, and the derived values of the models.

use chrono::{Duration, Utc};
use openintent_types::wire::{ListBody, to_superset_value};
use openintent_types::*;
use serde_json::{Value, json};

#[test]
fn unknown_enum_values_are_preserved() {
    let i: Intent = serde_json::from_value(json!({"id": "i", "status": "bogus-status"})).unwrap();
    assert_eq!(i.status, IntentStatus::Unknown("bogus-status".into()));
    assert!(!i.status.is_known());
    assert_eq!(serde_json::to_value(&i).unwrap()["status"], "bogus-status");
    assert_eq!(EventType::parse("created"), EventType::IntentCreated);
    assert_eq!(EventType::parse("state_updated"), EventType::StatePatched);
    assert_eq!(EventType::parse("my.custom").as_str(), "my.custom");
    assert_eq!(PatchOp::parse("replace"), PatchOp::Set);
    for s in IntentStatus::KNOWN {
        assert_eq!(&IntentStatus::parse(s.as_str()), s);
    }
}

#[test]
fn aliases_and_duplicates_read() {
    // Canonical and synonym side by side never fail as a duplicate field.
    let a: Attachment = serde_json::from_value(json!({
        "id": "a", "filename": "f", "created_by": "x", "uploaded_by": "y",
        "mimeType": "text/plain", "created_at": "2026-11-24T13:50:27"
    }))
    .unwrap();
    assert_eq!((a.created_by.as_str(), a.mime_type.as_str()), ("x", "text/plain"));
    let a: Attachment = serde_json::from_value(json!({"id": "a", "filename": "f", "uploaded_by": "y"})).unwrap();
    assert_eq!(a.created_by, "y");

    let f: FailureRecord = serde_json::from_value(
        json!({"id": "f", "error_code": "TIMEOUT", "attempt": 2, "createdAt": "2026-11-24T13:50:27Z"}),
    )
    .unwrap();
    assert_eq!((f.error_type.as_str(), f.attempt_number), ("TIMEOUT", 2));

    let d: Decision = serde_json::from_value(json!({"decision_id": "e1", "decision": "a", "reasoning": "r"})).unwrap();
    assert_eq!((d.id.as_str(), d.outcome.as_str(), d.rationale.as_deref()), ("e1", "a", Some("r")));

    let p: CreatePortfolioRequest =
        serde_json::from_value(json!({"name": "n", "createdBy": "c", "governancePolicy": {"x": 1}})).unwrap();
    assert_eq!(p.created_by.as_deref(), Some("c"));
    assert_eq!(p.governance_policy.unwrap()["x"], 1);

    let s: CreateSubscriptionRequest = serde_json::from_value(json!({"callback_url": "https://h/x"})).unwrap();
    assert_eq!(s.webhook_url.as_deref(), Some("https://h/x"));
}

#[test]
fn nulls_and_legacy_shapes() {
    let i: Intent = serde_json::from_value(json!({
        "id": "i", "title": null, "description": null, "constraints": ["no weekends"], "state": null,
        "depends_on": null, "governance_policy": null
    }))
    .unwrap();
    assert_eq!(i.description, "");
    assert_eq!(i.constraints["rules"], json!(["no weekends"]));
    let c: CreateIntentRequest = serde_json::from_value(json!({"title": "t", "description": null})).unwrap();
    assert_eq!(c.description, None);
    // A required value given as null is an error naming the field.
    let err = serde_json::from_value::<CreateIntentRequest>(json!({"title": null})).unwrap_err();
    assert!(err.to_string().contains("invalid type: null"), "{err}");
    let err = serde_json::from_value::<CreateIntentRequest>(json!({})).unwrap_err();
    assert!(err.to_string().contains("title"), "{err}");
    let sub: Subscription = serde_json::from_value(json!({"id": "s", "active": 0})).unwrap();
    assert!(!sub.active);
}

#[test]
fn optional_fields_are_omitted_not_null() {
    let v = serde_json::to_value(CreateIntentRequest::new("t")).unwrap();
    assert_eq!(v, json!({"title": "t"}));
    let v = serde_json::to_value(CreatePortfolioRequest::new("p")).unwrap();
    assert_eq!(v, json!({"name": "p"}));
    let v = serde_json::to_value(RecordFailureRequest::new("timeout", "m", 1)).unwrap();
    assert_eq!(v, json!({"error_type": "timeout", "error_message": "m", "attempt_number": 1}));
}

#[test]
fn superset_form() {
    let mut r = RecordCostRequest::new("api_call", 0.05, "USD");
    r.cost_metadata = Some(json!({"model": "gpt-4"}).as_object().cloned().unwrap());
    let v = to_superset_value(&r);
    assert_eq!(v["cost_metadata"], v["metadata"]);
    let v = to_superset_value(&RecordFailureRequest::new("timeout", "m", 1));
    assert_eq!(v["error_code"], "timeout");
    let mut lease = Lease::new("l", "i", "a", "s", 60);
    lease.status = Some(LeaseStatus::Active);
    let v = to_superset_value(&lease);
    assert_eq!(v["created_at"], v["acquired_at"]);
    // The superset reads back as the same model.
    let back: Lease = serde_json::from_value(v).unwrap();
    assert_eq!(back, lease);
}

#[test]
fn timestamps_naive_and_zoned() {
    let l: Lease = serde_json::from_value(json!({
        "id": "l", "scope": "s", "acquired_at": "2026-11-24T13:50:27", "expires_at": "2026-11-24T13:55:27.5Z"
    }))
    .unwrap();
    assert_eq!((l.expires_at - l.acquired_at).num_milliseconds(), 300_500);
    let v = serde_json::to_value(&l).unwrap();
    assert_eq!(v["acquired_at"], "2026-11-24T13:50:27.000000");
    assert!(serde_json::from_value::<Lease>(json!({"id": "l", "scope": "s", "expires_at": "soon"})).is_err());
}

#[test]
fn lease_status_is_derived() {
    let now = Utc::now();
    let mut l = Lease::new("l", "i", "a", "s", 60);
    assert_eq!(l.status_at(now), LeaseStatus::Active);
    assert_eq!(l.status_at(now + Duration::seconds(61)), LeaseStatus::Expired);
    assert!(!l.is_active_at(now + Duration::seconds(61)));
    l.released_at = Some(now);
    assert_eq!(l.status_at(now), LeaseStatus::Released);
    // A server's explicit status other than a stale `active` wins.
    l.released_at = None;
    l.status = Some(LeaseStatus::Revoked);
    assert_eq!(l.status_at(now), LeaseStatus::Revoked);
    l.status = Some(LeaseStatus::Active);
    assert_eq!(l.status_at(now + Duration::seconds(61)), LeaseStatus::Expired);
    assert!(scope_covers_path("content.draft", "/content/draft/title"));
    assert!(!scope_covers_path("content.draft", "/content/other"));
    assert!(!scope_covers_path("content.draft", "/content"));
    // Every scope names a state path: dots separate keys, every other character is literal.
    assert!(scope_covers_path("data-processing", "/data-processing/rows"));
    assert!(!scope_covers_path("data-processing", "/data"));
    assert!(scope_covers_path("a b", "/a b"));
    assert!(scope_covers_path("a/b", "/a~1b/c"));
    assert!(!scope_covers_path("a/b", "/a/b"));
    assert!(scope_covers_path("t~x", "/t~0x"));
    assert!(!scope_covers_path("t~x", "/t~x"), "an invalid pointer is covered by nothing");
    assert!(scope_covers_path("v1.2", "/v1/2"));
    assert_eq!(scope_pointer("a/b.c~d"), "/a~1b/c~0d");
    assert_eq!(scope_path("a..b"), ["a", "", "b"]);
    assert!(scope_overlaps_path("a/b", ""));
    assert!(scope_overlaps_path("x.y", "/x"));
    assert!(!scope_overlaps_path("a/b", "/a"));
}

#[test]
fn lists_and_summaries() {
    let env: ListBody<Intent> =
        serde_json::from_value(json!({"intents": [{"id": "a", "status": "completed"}, {"id": "b"}], "total": 7}))
            .unwrap();
    assert_eq!((env.items.len(), env.total), (2, Some(7)));
    let agg = AggregateStatus::from_intents(&env.items);
    assert_eq!((agg.total, agg.completion_percentage, agg.by_status["completed"]), (2, 50, 1));
    assert!(!agg.all_completed());
    assert_eq!(AggregateStatus::from_intents(&[]).completion_percentage, 0);
    let costs: ListBody<CostRecord> = serde_json::from_value(json!({"costs": [
        {"id": "1", "cost_type": "tokens", "amount": 1500, "unit": "tokens", "agent_id": "a"},
        {"id": "2", "cost_type": "api_call", "amount": 0.05, "unit": "USD", "agent_id": "b"}
    ], "summary": {"total": 1500.05}}))
    .unwrap();
    assert!(costs.extra.contains_key("summary"));
    let s = CostSummary::from_records(&costs.items);
    assert_eq!((s.count, s.by_unit["USD"], s.by_agent["a"]), (2, 0.05, 1500.0));
}

#[test]
fn update_state_forms() {
    let merge: UpdateStateRequest = serde_json::from_value(json!({"state": {"a/b": 1, "c": 2}})).unwrap();
    let p = merge.effective_patches();
    assert_eq!(p.len(), 2);
    // Merge keys are literal top-level members, even with '/' in them.
    let out = patch::apply_patches(&Default::default(), &p).unwrap();
    assert_eq!(Value::Object(out), json!({"a/b": 1, "c": 2}));
    let both: UpdateStateRequest =
        serde_json::from_value(json!({"patches": [{"op": "set", "path": "/x", "value": 1}], "state": {"y": 2}}))
            .unwrap();
    assert_eq!(both.effective_patches(), vec![StatePatch::set_path("/x", json!(1))]);
    let built = UpdateStateRequest::merge(json!({"progress": 0.5}).as_object().cloned().unwrap());
    assert_eq!(
        serde_json::to_value(&built).unwrap(),
        json!({"patches": [{"op": "set", "path": "/progress", "value": 0.5}]})
    );
}

#[test]
fn decision_from_event() {
    let mut e = IntentEvent::new("e1", "i", EventType::DecisionRecorded, "boss");
    e.payload = json!({"decision_type": "decision", "outcome": "a", "rationale": "r"}).as_object().cloned().unwrap();
    let d = Decision::from_event(&e).unwrap();
    assert_eq!((d.id.as_str(), d.outcome.as_str(), d.decided_by.as_deref()), ("e1", "a", Some("boss")));
    assert!(Decision::from_event(&IntentEvent::new("e2", "i", "comment", "x")).is_none());
}
