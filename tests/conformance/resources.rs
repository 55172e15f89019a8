//! Governance, attachments, subscriptions, costs, retry policies, failures and discovery.

use std::time::Duration;

use openintent::types::RetryStrategy;
use serde_json::json;

use crate::common::{Must, expect_served, new_intent, target, unique};

/// `request_arbitration`, `record_decision`, and `get_decisions` finding the recorded one.
#[tokio::test]
async fn arbitration_and_decisions() {
    let agent = unique("governor");
    let client = target().client(&agent);
    let intent = new_intent(&client, "governance").await;

    let arbitration = client
        .request_arbitration(&intent.id, "Agents disagree on the data source")
        .context(json!({"options": ["source_a", "source_b"]}))
        .send()
        .await
        .must("request_arbitration");
    assert_eq!(arbitration.status.to_string(), "pending");
    let events = client.get_events(&intent.id).event_type("arbitration_requested").send().await.must("events");
    assert_eq!(events.len(), 1, "one arbitration_requested event: {events:?}");

    let decision = client
        .record_decision(&intent.id, "use_source_a")
        .rationale("Source A has more recent data")
        .send()
        .await
        .must("record_decision");
    assert_eq!(decision.outcome, "use_source_a");
    assert!(!decision.id.is_empty());

    let decisions = client.get_decisions(&intent.id).await.must("get_decisions");
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let found = &decisions[0];
    assert_eq!(found.outcome, "use_source_a");
    assert_eq!(found.rationale.as_deref(), Some("Source A has more recent data"));
    assert_eq!(found.decided_by.as_deref(), Some(agent.as_str()));
}

/// The seed's base64 attachment form round-trips; `get_attachments` lists and
/// `delete_attachment` removes.
#[tokio::test]
async fn attachments_round_trip() {
    let client = target().client(&unique("attacher"));
    let intent = new_intent(&client, "attachments").await;
    let content = b"quarterly numbers: 1, 2, 3";
    let encoded = "cXVhcnRlcmx5IG51bWJlcnM6IDEsIDIsIDM=";

    let added = client
        .add_attachment(&intent.id, "analysis.txt", "text/plain", encoded)
        .description("Q4 analysis")
        .send()
        .await
        .must("add_attachment");
    assert_eq!(added.filename, "analysis.txt");
    assert_eq!(added.mime_type, "text/plain");
    assert_eq!(added.size, content.len() as i64);
    assert_eq!(added.inline_content().as_deref(), Some(&content[..]), "the content comes back");
    assert_eq!(added.description(), Some("Q4 analysis"));

    let second = client
        .add_attachment(&intent.id, "empty.bin", "application/octet-stream", "")
        .send()
        .await
        .must("add_attachment (empty)");
    assert_eq!(second.size, 0);

    let listed = client.get_attachments(&intent.id).await.must("get_attachments");
    assert_eq!(listed.len(), 2, "{listed:?}");
    let again = listed.iter().find(|a| a.id == added.id).expect("listed");
    assert_eq!(again.inline_content().as_deref(), Some(&content[..]));

    client.delete_attachment(&intent.id, &added.id).await.must("delete_attachment");
    let listed = client.get_attachments(&intent.id).await.must("get_attachments after delete");
    assert_eq!(listed.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), vec![second.id.as_str()]);

    let err = client.delete_attachment(&intent.id, &added.id).await.expect_err("deleted twice");
    assert!(err.is_not_found(), "{err}");

    // Client-side validation: bad base64 never reaches the server.
    let err = client.add_attachment(&intent.id, "x.txt", "text/plain", "not base64!").send().await;
    let err = err.expect_err("invalid base64");
    assert!(matches!(err, openintent::Error::Invalid(_)) && !err.may_have_been_sent(), "{err:?}");
}

/// Webhook subscriptions (the reference has none) — subscribe, list, a delivery to a receiver
/// on 127.0.0.1, unsubscribe.
#[tokio::test]
async fn webhook_subscriptions() {
    let client = target().client(&unique("subscriber"));
    let intent = new_intent(&client, "subscriptions").await;
    let (hook_url, mut deliveries) = webhook_receiver().await;

    let created = client
        .subscribe(&intent.id)
        .subscriber_id("service:dashboard")
        .callback_url(hook_url.clone())
        .event_types(["state_patched", "status_changed"])
        .send()
        .await;
    let listed = client.get_subscriptions(&intent.id).await;
    let Some(created) = expect_served("subscribe", created) else {
        expect_served("get_subscriptions", listed);
        expect_served("unsubscribe", client.unsubscribe(&intent.id, "sub-missing").await);
        return;
    };
    assert_eq!(created.intent_id.as_deref(), Some(intent.id.as_str()));
    assert_eq!(created.subscriber_id, "service:dashboard");
    assert_eq!(created.webhook_url.as_deref(), Some(hook_url.as_str()));
    assert_eq!(created.event_types, ["state_patched", "status_changed"]);
    assert!(created.active);

    let listed = listed.must("get_subscriptions");
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), vec![created.id.as_str()]);
    // A signing secret, when the server issues one, is handed out once and never listed.
    assert!(created.secret.as_ref().is_none_or(|s| !s.expose().is_empty()), "empty secret");
    assert!(listed.iter().all(|s| s.secret.is_none()), "a listing exposes a secret");

    // A comment does not match the filter; the state patch does and is delivered as
    // {"subscription_id", "event"}.
    client.log_event(&intent.id, "comment").send().await.must("log_event");
    client.update_state(&intent.id, intent.version).set("phase", json!("hooked")).send().await.must("update_state");
    let delivery = tokio::time::timeout(Duration::from_secs(20), deliveries.recv())
        .await
        .expect("no webhook delivery within 20 s")
        .expect("receiver closed");
    let body: openintent::types::WebhookDelivery = serde_json::from_str(&delivery).expect("delivery body");
    assert_eq!(body.subscription_id, created.id);
    assert_eq!(body.event.intent_id, intent.id);
    assert_eq!(body.event.event_type, openintent::types::EventType::StatePatched);

    client.unsubscribe(&intent.id, &created.id).await.must("unsubscribe");
    let listed = client.get_subscriptions(&intent.id).await.must("get_subscriptions after unsubscribe");
    assert!(listed.iter().all(|s| s.id != created.id || !s.active), "{listed:?}");
    let err = client.unsubscribe(&intent.id, &created.id).await.expect_err("unsubscribe twice");
    assert!(err.is_not_found(), "{err}");
}

/// A webhook receiver on 127.0.0.1: answers every request 200 and hands over the bodies of the
/// POSTs it receives.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the receiver");
    let url = format!("http://{}/webhooks/intent", listener.local_addr().expect("receiver address"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let Ok(n) = conn.read(&mut chunk).await else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
                    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        break String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).into_owned();
                    }
                };
                let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
                let _ = tx.send(body);
            });
        }
    });
    (url, rx)
}

/// `record_cost`, `get_costs` and the summary by type, agent and unit.
#[tokio::test]
async fn costs_and_summary() {
    let t = target();
    let agent = unique("spender");
    let other = unique("spender-two");
    let client = t.client(&agent);
    let intent = new_intent(&client, "costs").await;

    let first = client
        .record_cost(&intent.id, "api_call", 0.05, "USD")
        .provider("openai")
        .metadata(json!({"model": "gpt-4", "tokens": 1500}))
        .send()
        .await
        .must("record_cost");
    assert_eq!(first.cost_type, "api_call");
    assert_eq!(first.amount, 0.05);
    assert_eq!(first.unit, "USD");
    assert_eq!(first.provider.as_deref(), Some("openai"));
    assert_eq!(first.agent_id, agent);
    assert_eq!(first.metadata().get("model"), Some(&json!("gpt-4")));
    t.client(&other).record_cost(&intent.id, "api_call", 0.10, "USD").send().await.must("record_cost");
    client.record_cost(&intent.id, "tokens", 1500.0, "tokens").send().await.must("record_cost");

    let costs = client.get_costs(&intent.id).await.must("get_costs");
    assert_eq!(costs.len(), 3, "{costs:?}");
    assert!(costs.iter().any(|c| c.id == first.id));

    let summary = client.get_cost_summary(&intent.id).await.must("get_cost_summary");
    assert_eq!(summary.count, 3);
    assert!((summary.by_type["api_call"] - 0.15).abs() < 1e-9, "{summary:?}");
    assert!((summary.by_type["tokens"] - 1500.0).abs() < 1e-9);
    assert!((summary.by_agent[&agent] - 1500.05).abs() < 1e-9);
    assert!((summary.by_agent[&other] - 0.10).abs() < 1e-9);
    assert!((summary.by_unit["USD"] - 0.15).abs() < 1e-9);
    assert!((summary.total - 1500.15).abs() < 1e-9);
}

/// Retry policies: `None` before one is set, the seed's vocabulary mapped to the wire, full
/// replacement; failures recorded and listed.
#[tokio::test]
async fn retry_policy_and_failures() {
    let agent = unique("retrier");
    let client = target().client(&agent);
    let intent = new_intent(&client, "retry").await;

    assert!(client.get_retry_policy(&intent.id).await.must("get_retry_policy").is_none(), "no policy yet");

    let policy = client
        .set_retry_policy(&intent.id)
        .max_attempts(5)
        .base_delay_seconds(1.5)
        .max_delay_seconds(60.0)
        .backoff_multiplier(2.0)
        .retryable_errors(["timeout", "rate_limit"])
        .send()
        .await
        .must("set_retry_policy");
    assert_eq!(policy.strategy, RetryStrategy::Exponential);
    assert_eq!(policy.max_retries, 5, "max_attempts maps to max_retries");
    assert_eq!(policy.base_delay_ms, 1500, "seconds map to milliseconds");
    assert_eq!(policy.max_delay_ms, 60_000);

    let read = client.get_retry_policy(&intent.id).await.must("get_retry_policy").expect("a policy is set");
    assert_eq!((read.strategy.clone(), read.max_retries, read.base_delay_ms), (RetryStrategy::Exponential, 5, 1500));
    assert_eq!(read.intent_id, intent.id);

    // Multiplier 1 maps to the fixed strategy, and a PUT replaces the policy.
    let fixed = client
        .set_retry_policy(&intent.id)
        .max_attempts(2)
        .base_delay_seconds(0.25)
        .backoff_multiplier(1.0)
        .send()
        .await
        .must("replace policy");
    assert_eq!(fixed.strategy, RetryStrategy::Fixed);
    let read = client.get_retry_policy(&intent.id).await.must("get_retry_policy").expect("a policy is set");
    assert_eq!((read.strategy, read.max_retries, read.base_delay_ms), (RetryStrategy::Fixed, 2, 250));

    let failure = client
        .record_failure(&intent.id, "rate_limit", "API rate limit exceeded")
        .attempt(1)
        .will_retry(true)
        .send()
        .await
        .must("record_failure");
    assert_eq!(failure.error_type, "rate_limit");
    assert_eq!(failure.attempt_number, 1);
    client.record_failure(&intent.id, "timeout", "took too long").attempt(2).send().await.must("record_failure");

    let failures = client.get_failures(&intent.id).await.must("get_failures");
    assert_eq!(failures.len(), 2, "{failures:?}");
    let mut attempts: Vec<_> = failures.iter().map(|f| (f.attempt_number, f.error_type.as_str())).collect();
    attempts.sort_unstable();
    assert_eq!(attempts, [(1, "rate_limit"), (2, "timeout")]);
    assert!(failures.iter().all(|f| f.intent_id == intent.id && f.error_message.len() > 3));
}

/// `discover` reads the well-known document.
#[tokio::test]
async fn discovery() {
    let client = target().client(&unique("discoverer"));
    let doc = client.discover().await.must("discover");
    assert!(doc.protocol.contains("OpenIntent"), "the protocol is named: {doc:?}");
    assert!(!doc.version.is_empty(), "a protocol version: {doc:?}");
    for capability in ["intents", "events", "leasing", "portfolios"] {
        assert!(doc.capabilities.iter().any(|c| c == capability), "capability {capability}: {doc:?}");
    }
}
