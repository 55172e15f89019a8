//! The seed workflow against a live server, when `OPENINTENT_REFERENCE_URL` names one
//! (e.g. `scripts/reference-server.sh run -- cargo test -p openintent-client --test reference`).
//! Without the variable the tests return at once.
#![cfg(feature = "reqwest")]

use std::time::Duration;

use futures_util::StreamExt;
use openintent_client::{Client, Error};
use openintent_types::{IntentStatus, LeaseStatus, StreamEvent};
use serde_json::json;

fn url() -> Option<String> {
    let url = std::env::var("OPENINTENT_REFERENCE_URL").ok().filter(|u| !u.is_empty());
    if url.is_none() {
        eprintln!("OPENINTENT_REFERENCE_URL is not set; skipping the live-server checks");
    }
    url
}

#[tokio::test]
async fn seed_workflow_against_a_live_server() -> Result<(), Error> {
    let Some(url) = url() else { return Ok(()) };
    let client = Client::new(&url, "dev-user-key", "my-agent")?;
    let other = Client::new(&url, "agent-research-key", "agent-research")?;

    assert!(!client.discover().await?.version.is_empty());

    let intent = client
        .create_intent("Research market trends")
        .description("Analyze Q4 market data")
        .constraints(json!({"deadline": "2024-02-01"}))
        .send()
        .await?;
    assert_eq!(intent.version, 1);
    let v2 = client.update_state(&intent.id, intent.version).set("progress", json!(0.5)).send().await?;
    assert_eq!((v2.version, v2.state["progress"].as_f64()), (2, Some(0.5)));
    let stale = client.update_state(&intent.id, 1).set("progress", json!(0.9)).send().await.unwrap_err();
    assert!(stale.is_version_conflict(), "{stale}");
    let counted = client
        .update_state_with(&intent.id, |i| {
            let n = i.state.get("n").and_then(|v| v.as_i64()).unwrap_or(0);
            vec![openintent_types::StatePatch::set_key("n", json!(n + 1))]
        })
        .send()
        .await?;
    assert_eq!(counted.state["n"], 1);

    client.log_event(&intent.id, "comment").payload(json!({"message": "hello"})).send().await?;
    let comments = client.get_events(&intent.id).event_type("comment").send().await?;
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].agent_id(), "my-agent");

    let lease = client.acquire_lease(&intent.id, "analysis").duration_seconds(60).send().await?;
    assert_eq!(lease.status, Some(LeaseStatus::Active));
    let conflict = other.acquire_lease(&intent.id, "analysis").send().await.unwrap_err();
    assert!(conflict.is_lease_conflict(), "{conflict}");
    assert_eq!(client.get_leases(&intent.id).await?.len(), 1);
    client.renew_lease(&intent.id, &lease.id).duration_seconds(120).send().await?;
    client.release_lease(&intent.id, &lease.id).await?;
    assert!(client.get_leases(&intent.id).await?.is_empty());
    assert_eq!(client.get_leases(&intent.id).all().send().await?.len(), 1);
    client
        .with_lease(&intent.id, "content.draft", |lease, client| async move {
            client.get_intent(&lease.intent_id).await?;
            Ok(())
        })
        .send()
        .await?;
    assert!(client.get_leases(&intent.id).await?.is_empty(), "released after the work");

    client.request_arbitration(&intent.id, "Conflicting interpretations").send().await?;
    let d = client.record_decision(&intent.id, "proceed_with_option_a").rationale("fits").send().await?;
    let listed = client.get_decisions(&intent.id).await?;
    assert_eq!(listed.first().map(|x| x.id.as_str()), Some(d.id.as_str()));

    let a = client.add_attachment(&intent.id, "a.txt", "text/plain", "aGVsbG8=").description("greeting").send().await?;
    assert_eq!(a.size, 5);
    assert_eq!(client.get_attachments(&intent.id).await?[0].inline_content().as_deref(), Some(&b"hello"[..]));
    client.delete_attachment(&intent.id, &a.id).await?;

    client.record_cost(&intent.id, "api_call", 0.05, "USD").provider("openai").metadata(json!({"m": 1})).send().await?;
    client.record_cost(&intent.id, "tokens", 1500.0, "tokens").send().await?;
    let summary = client.get_cost_summary(&intent.id).await?;
    assert!((summary.total - 1500.05).abs() < 1e-9);
    assert_eq!(client.get_costs(&intent.id).await?.len(), 2);

    assert!(client.get_retry_policy(&intent.id).await?.is_none());
    client.set_retry_policy(&intent.id).max_attempts(5).retryable_errors(["timeout"]).send().await?;
    assert_eq!(client.get_retry_policy(&intent.id).await?.map(|p| p.max_retries), Some(5));
    client
        .record_failure(&intent.id, "rate_limit", "API rate limit exceeded")
        .attempt(1)
        .will_retry(true)
        .send()
        .await?;
    assert_eq!(client.get_failures(&intent.id).await?[0].error_type, "rate_limit");

    let p =
        client.create_portfolio("Paris Trip").governance_policy(json!({"require_all_completed": true})).send().await?;
    client.add_intent_to_portfolio(&p.id, intent.id.clone()).role("primary").priority(100).send().await?;
    let p = client.get_portfolio(&p.id).await?;
    assert_eq!(p.aggregate_status.map(|a| a.total), Some(1));
    assert_eq!(client.get_intent_portfolios(&intent.id).await?.len(), 1);
    client.update_portfolio_status(&p.id, "completed").await?;
    client.remove_intent_from_portfolio(&p.id, &intent.id).await?;
    assert!(client.list_portfolios().created_by("my-agent").send().await?.iter().any(|x| x.id == p.id));

    client.assign_agent(&intent.id).send().await?;
    assert!(client.unassign_agent(&intent.id, "my-agent").await.unwrap_err().is_unsupported());
    assert!(client.list_intents().send().await.unwrap_err().is_unsupported());
    assert!(
        client.subscribe(&intent.id).callback_url("https://example.com/h").send().await.unwrap_err().is_unsupported()
    );
    assert!(client.get_intent("00000000-0000-0000-0000-000000000000").await.unwrap_err().is_not_found());

    let latest = client.get_intent(&intent.id).await?;
    let done = client.set_status(&intent.id, latest.version, "completed").send().await?;
    assert_eq!(done.status, IntentStatus::Completed);

    let bad = Client::new(&url, "wrong-key", "x")?;
    assert!(bad.get_intent(&intent.id).await.unwrap_err().is_unauthorized());
    Ok(())
}

#[tokio::test]
async fn intent_stream_against_a_live_server() -> Result<(), Error> {
    let Some(url) = url() else { return Ok(()) };
    let client = Client::new(&url, "dev-user-key", "my-agent")?;
    let intent = client.create_intent("SSE demo").send().await?;
    let mut events = client.stream_intent_events(&intent.id).into_stream();
    let writer = client.clone();
    let id = intent.id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = writer.update_state(&id, 1).set("progress", json!(0.5)).send().await;
        let _ = writer.log_event(&id, "comment").payload(json!({"message": "hi"})).send().await;
    });
    let first = tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event").expect("open")?;
    assert!(matches!(&first, StreamEvent::IntentChanged { intent, .. } if intent.version == 2), "{first:?}");
    let second =
        tokio::time::timeout(Duration::from_secs(10), events.next()).await.expect("an event").expect("open")?;
    assert!(matches!(&second, StreamEvent::Event(e) if e.actor == "my-agent"), "{second:?}");
    Ok(())
}

#[cfg(feature = "blocking")]
#[test]
fn blocking_client_against_a_live_server() -> Result<(), Error> {
    let Some(url) = url() else { return Ok(()) };
    let client = openintent_client::blocking::Client::new(&url, "dev-user-key", "my-agent")?;
    let intent = client.create_intent("blocking").send_blocking()?;
    {
        let _lease = client.lease(&intent.id, "analysis")?;
        assert_eq!(client.get_leases(&intent.id).send_blocking()?.len(), 1);
    }
    assert!(client.get_leases(&intent.id).send_blocking()?.is_empty());
    let done = client.set_status(&intent.id, intent.version, "completed").send_blocking()?;
    assert_eq!(done.version, 2);
    Ok(())
}
