//! Each validation rule has a failing and a passing case, and the error names the field.

use openintent_types::validation::*;
use openintent_types::*;
use serde_json::json;

#[track_caller]
fn fails<T: std::fmt::Debug>(r: Result<T, InputValidationError>, field: &str, says: &str) {
    let err = r.expect_err("expected a validation error");
    assert_eq!(err.field, field, "{err}");
    assert!(err.message.contains(says), "message {:?} should contain {says:?}", err.message);
    assert!(err.message.starts_with(field), "message {:?} should start with the field", err.message);
}

#[test]
fn intent_create() {
    fails(validate_intent_create("", None, None), "title", "cannot be empty");
    fails(validate_intent_create("   ", None, None), "title", "cannot be empty");
    fails(validate_intent_create(&"x".repeat(501), None, None), "title", "at most 500");
    fails(validate_intent_create("ok", None, Some(&"d".repeat(10_001))), "description", "at most 10000");
    fails(validate_intent_create("ok", Some(" "), None), "created_by", "cannot be empty");
    validate_intent_create(&"x".repeat(500), Some("me"), Some("")).unwrap();
    assert_eq!(validate_intent_create("", None, None).unwrap_err().to_string(), "title cannot be empty");

    let mut req = CreateIntentRequest::new("t");
    req.validate().unwrap();
    req.parent_intent_id = Some("a/b".into());
    fails(req.validate(), "parent_intent_id", "must not contain");
}

#[test]
fn lease_acquire_and_renew() {
    fails(validate_lease_acquire("", "s", 10), "intent_id", "cannot be empty");
    fails(validate_lease_acquire("i", "", 10), "scope", "cannot be empty");
    // Scopes are free strings: any non-blank text without control characters, up to 255.
    fails(validate_lease_acquire("i", " \t", 10), "scope", "cannot be empty");
    for bad in ["a\nb", "tab\there", "nul\0", "del\u{7f}", "c1\u{85}"] {
        fails(validate_lease_acquire("i", bad, 10), "scope", "control characters");
    }
    fails(validate_lease_acquire("i", &"s".repeat(256), 10), "scope", "at most 255 characters");
    validate_lease_acquire("i", &"é".repeat(255), 10).unwrap();
    fails(validate_lease_acquire("i", "s", 0), "duration_seconds", "between 1 and 86400");
    fails(validate_lease_acquire("i", "s", -5), "duration_seconds", "between 1 and 86400");
    fails(validate_lease_acquire("i", "s", 86_401), "duration_seconds", "between 1 and 86400");
    for good in [
        "analysis",
        "content.draft",
        "_a1.b_2",
        "data-processing",
        "shared-scope",
        "ev-scope",
        "1abc",
        "a..b",
        "a.",
        "has space",
        "a/b",
        "~0~1",
        "日本語",
    ] {
        validate_lease_acquire("i", good, 86_400).unwrap();
    }
    fails(RenewLeaseRequest::new(0).validate(), "duration_seconds", "between");
    RenewLeaseRequest::new(1).validate().unwrap();
    fails(AcquireLeaseRequest::new("x\ny", 5).validate(), "scope", "control characters");
    AcquireLeaseRequest::new("x y", 5).validate().unwrap();
    AcquireLeaseRequest::new("x", 5).validate().unwrap();
}

#[test]
fn state_update() {
    fails(UpdateStateRequest::patches(vec![]).validate(), "patches", "cannot be empty");
    fails(
        UpdateStateRequest::patches(vec![
            StatePatch::set_path("/a", json!(1)),
            StatePatch::new("merge", "/b", json!(1)),
        ])
        .validate(),
        "patches.1.op",
        "set, append or remove",
    );
    fails(
        UpdateStateRequest::patches(vec![StatePatch::set_path("/a~9", json!(1))]).validate(),
        "patches.0.path",
        "JSON pointer",
    );
    fails(UpdateStateRequest::patches(vec![StatePatch::remove("")]).validate(), "patches.0.path", "cannot be empty");
    UpdateStateRequest::patches(vec![StatePatch::set_path("/a/b", json!(1)), StatePatch::remove("/c")])
        .validate()
        .unwrap();
    let merge: UpdateStateRequest = serde_json::from_value(json!({"state": {"k": 1}})).unwrap();
    merge.validate().unwrap();
}

#[test]
fn state_update_nesting() {
    use openintent_types::limits::MAX_JSON_DEPTH;
    let path = |n: usize| "/k".repeat(n);
    let deep = |n: usize| (0..n).fold(json!(1), |v, _| json!([v]));
    // A path alone at the limit is taken; one segment more is refused, naming the path.
    UpdateStateRequest::patches(vec![StatePatch::set_path(path(MAX_JSON_DEPTH), json!(1))]).validate().unwrap();
    fails(
        UpdateStateRequest::patches(vec![StatePatch::set_path(path(128), json!(1))]).validate(),
        "patches.0.path",
        "limit is 64",
    );
    // Path depth plus value depth: 20 segments and a 110-deep value.
    fails(
        UpdateStateRequest::patches(vec![StatePatch::set_path(path(20), deep(110))]).validate(),
        "patches.0.value",
        "130 levels",
    );
    UpdateStateRequest::patches(vec![StatePatch::set_path(path(20), deep(MAX_JSON_DEPTH - 20))]).validate().unwrap();
    // Appending adds the array's level.
    fails(
        UpdateStateRequest::patches(vec![StatePatch::append(path(20), deep(MAX_JSON_DEPTH - 20))]).validate(),
        "patches.0.value",
        "levels deep",
    );
}

#[test]
fn status_and_event() {
    fails(SetStatusRequest::new("").validate(), "status", "cannot be empty");
    SetStatusRequest::new("completed").validate().unwrap();
    fails(LogEventRequest::new("").validate(), "event_type", "cannot be empty");
    fails(LogEventRequest::new("x".repeat(101).as_str()).validate(), "event_type", "at most 100");
    LogEventRequest::new("comment").validate().unwrap();
}

#[test]
fn cost_record() {
    fails(validate_cost_record("api_call", -0.01, "USD"), "amount", "cannot be negative");
    fails(validate_cost_record("api_call", f64::NAN, "USD"), "amount", "finite");
    fails(validate_cost_record("api_call", f64::INFINITY, "USD"), "amount", "finite");
    fails(validate_cost_record("api_call", 1.7e308, "USD"), "amount", "at most 1e15");
    validate_cost_record("tokens", MAX_COST_AMOUNT, "tokens").unwrap();
    fails(validate_cost_record("", 1.0, "USD"), "cost_type", "cannot be empty");
    fails(validate_cost_record("api_call", 1.0, " "), "unit", "cannot be empty");
    validate_cost_record("api_call", 0.0, "USD").unwrap();
    RecordCostRequest::new("tokens", 1500.0, "tokens").validate().unwrap();
}

#[test]
fn subscription() {
    fails(validate_subscription(None, Some("ftp://x.example/hook"), &[]), "callback_url", "http or https");
    fails(validate_subscription(None, Some("javascript:alert(1)"), &[]), "callback_url", "http or https");
    fails(validate_subscription(None, Some("http://"), &[]), "callback_url", "not a valid URL");
    fails(validate_subscription(Some(""), None, &[]), "subscriber_id", "cannot be empty");
    fails(validate_subscription(None, None, &["".into()]), "event_types.0", "cannot be empty");
    validate_subscription(Some("service:dashboard"), Some("https://dash.example.com/hook"), &["state_patched".into()])
        .unwrap();
    validate_subscription(None, None, &[]).unwrap();
}

#[test]
fn retry_policy() {
    let ok = |s: &str, r, b, m, x| validate_retry_policy(&RetryStrategy::parse(s), r, b, m, x);
    fails(ok("sometimes", 3, 1, 2, None), "strategy", "none, fixed, linear or exponential");
    fails(ok("fixed", -1, 1, 2, None), "max_retries", "between 0 and 1000");
    fails(ok("fixed", 3, -1, 2, None), "base_delay_ms", "cannot be negative");
    fails(ok("fixed", 3, 5000, 1000, None), "max_delay_ms", "at least base_delay_ms");
    fails(ok("exponential", 3, 1, 2, Some(0.5)), "backoff_multiplier", "at least 1");
    fails(ok("exponential", 3, 1, 2, Some(f64::NAN)), "backoff_multiplier", "finite");
    ok("exponential", 3, 1000, 60000, Some(2.0)).unwrap();
    fails(SetRetryPolicyRequest::from_seed(5, 10.0, 1.0, 2.0, vec![]).validate(), "max_delay_ms", "at least");
    SetRetryPolicyRequest::from_seed(5, 1.0, 60.0, 2.0, vec!["timeout".into()]).validate().unwrap();
}

#[test]
fn failure_record() {
    fails(validate_failure("", "m", 1), "error_type", "cannot be empty");
    fails(validate_failure("timeout", "", 1), "error_message", "cannot be empty");
    fails(validate_failure("timeout", "m", 0), "attempt_number", "at least 1");
    validate_failure("timeout", "m", 1).unwrap();
}

#[test]
fn attachment() {
    fails(validate_attachment("a.pdf", "application/pdf", "not base64!"), "content_base64", "not valid base64");
    fails(validate_attachment("", "application/pdf", "aGVsbG8="), "filename", "cannot be empty");
    fails(validate_attachment("a", "pdf", "aGVsbG8="), "content_type", "type/subtype");
    assert_eq!(validate_attachment("a.txt", "text/plain", "aGVsbG8=").unwrap(), b"hello");
    fails(AttachmentUpload::new("a", "text/plain", "%%%").into_request(), "content_base64", "base64");
    let mut raw = CreateAttachmentRequest::new("a", "text/plain", -1, "s3://b/k");
    fails(raw.validate(), "size", "cannot be negative");
    raw.size = 3;
    raw.validate().unwrap();
}

#[test]
fn portfolio() {
    fails(validate_portfolio_create(" "), "name", "cannot be empty");
    validate_portfolio_create("Paris Trip 2024").unwrap();
    fails(UpdatePortfolioStatusRequest::new("done-ish").validate(), "status", "active, completed or abandoned");
    UpdatePortfolioStatusRequest::new("completed").validate().unwrap();
    let mut add = AddIntentToPortfolioRequest::new("");
    fails(add.validate(), "intent_id", "cannot be empty");
    add.intent_id = "i".into();
    add.role = Some(MembershipRole::parse("boss"));
    fails(add.validate(), "role", "primary, member or dependency");
    add.role = Some(MembershipRole::Primary);
    add.validate().unwrap();
}

#[test]
fn governance() {
    fails(CreateArbitrationRequest::new("").validate(), "reason", "cannot be empty");
    CreateArbitrationRequest::new("disagreement").validate().unwrap();
    fails(RecordDecisionRequest::new(" ").validate(), "decision", "cannot be empty");
    RecordDecisionRequest::new("proceed_with_option_a").validate().unwrap();
}

#[test]
fn ids() {
    fails(validate_id("intent_id", "a/b"), "intent_id", "must not contain");
    fails(validate_id("intent_id", "a\nb"), "intent_id", "must not contain");
    fails(validate_id("intent_id", &"x".repeat(256)), "intent_id", "at most 255");
    validate_id("intent_id", "8dd2bdb3-586f-45fc-86d6-833bcad6046a").unwrap();
}
