//! Leases: wire shape, derived status, conflicts, and the lease helper (release on success,
//! error and panic; background renewal).

mod common;

use std::time::Duration;

use common::*;
use openintent_client::{ApiErrorKind, Error};
use openintent_transport::Method;
use openintent_types::LeaseStatus;
use serde_json::json;

const LEASE: &str = "8c30cf68-5adc-46d5-b33b-101bd86913ff";

fn lpath(suffix: &str) -> String {
    format!("/api/v1/intents/{INTENT}/leases{suffix}")
}

fn live_lease(seconds: i64) -> serde_json::Value {
    let now = chrono::Utc::now();
    json!({
        "id": LEASE, "intent_id": INTENT, "agent_id": "dev-user-key", "scope": "analysis",
        "acquired_at": now.to_rfc3339(), "expires_at": (now + chrono::Duration::seconds(seconds)).to_rfc3339(),
        "released_at": null
    })
}

#[tokio::test]
async fn acquire_renew_release() {
    let (client, mock) = client();
    mock.push(json(200, live_lease(300)));
    mock.push(example_response("renew_lease"));
    mock.push(example_response("release_lease"));
    let lease = client.acquire_lease(INTENT, "analysis").send().await.unwrap();
    assert_eq!(lease.status, Some(LeaseStatus::Active));
    let req = &mock.requests()[0];
    assert_request(req, Method::Post, &lpath(""), None);
    assert_eq!(body(req), example_request_body("acquire_lease"));
    let renewed = client.renew_lease(INTENT, LEASE).duration_seconds(600).send().await.unwrap();
    assert_eq!(renewed.id, LEASE);
    let req = &mock.requests()[1];
    assert_request(req, Method::Patch, &lpath(&format!("/{LEASE}")), None);
    assert_eq!(body(req), example_request_body("renew_lease"));
    client.release_lease(INTENT, LEASE).await.unwrap();
    let req = &mock.requests()[2];
    assert_request(req, Method::Delete, &lpath(&format!("/{LEASE}")), None);
    assert!(req.body.is_none());
}

#[tokio::test]
async fn lease_errors() {
    let (client, mock) = client();
    mock.push(example_response("error_acquire_lease_conflict"));
    mock.push(example_response("error_release_lease_not_owner"));
    mock.push(json(409, json!({"detail": "Lease already held for this scope", "existing_lease": live_lease(60)})));
    let err = client.acquire_lease(INTENT, "analysis").send().await.unwrap_err();
    assert!(err.is_lease_conflict() && err.is_conflict() && !err.is_version_conflict());
    assert!(client.release_lease(INTENT, LEASE).await.unwrap_err().is_not_found());
    let err = client.renew_lease(INTENT, LEASE).send().await.unwrap_err();
    match err.api_kind() {
        Some(ApiErrorKind::LeaseConflict { existing_lease: Some(l) }) => assert_eq!(l.scope, "analysis"),
        other => panic!("{other:?}"),
    }
    // Validation: bad scope, bad durations; nothing sent.
    for bad in [
        client.acquire_lease(INTENT, "no\ncontrol characters").send().await,
        client.acquire_lease(INTENT, "ok").duration_seconds(0).send().await,
        client.acquire_lease(INTENT, "ok").duration_seconds(86_401).send().await,
    ] {
        assert!(matches!(bad, Err(Error::Invalid(_))), "{bad:?}");
    }
    assert!(client.renew_lease(INTENT, LEASE).duration_seconds(-5).send().await.unwrap_err().is_validation());
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn get_leases_derives_status_and_filters() {
    let (client, mock) = client();
    let mut mixed = vec![live_lease(60)];
    mixed.extend(example("list_leases")["response"]["body"].as_array().unwrap().iter().cloned());
    mixed.extend(example("list_leases_after_expiry")["response"]["body"].as_array().unwrap().iter().cloned());
    mock.push(json(200, json!(mixed.clone())));
    mock.push(json(200, json!({"leases": mixed})));
    let active = client.get_leases(INTENT).await.unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].status, Some(LeaseStatus::Active));
    assert_request(&mock.requests()[0], Method::Get, &lpath(""), None);
    let all = client.get_leases(INTENT).all().send().await.unwrap();
    assert_eq!(all.len(), 4);
    let statuses: Vec<_> = all.iter().map(|l| l.status.clone().unwrap()).collect();
    assert_eq!(statuses, [LeaseStatus::Active, LeaseStatus::Released, LeaseStatus::Expired, LeaseStatus::Expired]);
}

fn script_lease(mock: &openintent_transport::test_util::MockTransport, seconds: i64) {
    mock.push_for(Method::Post, lpath(""), json(200, live_lease(seconds)));
}

fn script_release(mock: &openintent_transport::test_util::MockTransport) {
    mock.push_for(Method::Delete, lpath(&format!("/{LEASE}")), example_response("release_lease"));
}

#[tokio::test]
async fn with_lease_releases_on_success() {
    let (client, mock) = client();
    script_lease(&mock, 120);
    script_release(&mock);
    // No clone beforehand and no annotation on `Ok`: the work gets a client handle and
    // returns the client's Result.
    let out = client
        .with_lease(INTENT, "analysis", |lease, client| async move {
            assert_eq!(lease.scope, "analysis");
            Ok(client.agent_id().len())
        })
        .duration_seconds(120)
        .send()
        .await
        .unwrap();
    assert_eq!(out, AGENT.len());
    let reqs = mock.requests();
    assert_eq!(body(&reqs[0]), json!({"scope": "analysis", "duration_seconds": 120}));
    assert_eq!(reqs[1].method, Method::Delete);
    mock.assert_all_used();
}

#[tokio::test]
async fn with_lease_work_calls_the_client_with_question_marks() {
    let (client, mock) = client();
    script_lease(&mock, 300);
    mock.push_for(Method::Get, format!("/api/v1/intents/{INTENT}"), example_response("get_intent"));
    script_release(&mock);
    let title = client
        .with_lease(INTENT, "analysis", |lease, client| async move {
            let intent = client.get_intent(&lease.intent_id).await?;
            let missing = intent.state_at::<u32>("/no/such/member")?;
            assert_eq!(missing, None);
            Ok(intent.title)
        })
        .await
        .unwrap();
    assert!(!title.is_empty());
    let methods: Vec<_> = mock.requests().iter().map(|r| r.method).collect();
    assert_eq!(methods, [Method::Post, Method::Get, Method::Delete]);
    mock.assert_all_used();
}

#[tokio::test]
async fn with_lease_releases_when_a_client_call_inside_fails() {
    let (client, mock) = client();
    script_lease(&mock, 300);
    mock.push_for(Method::Get, format!("/api/v1/intents/{INTENT}"), example_response("error_get_intent_not_found"));
    script_release(&mock);
    let err = client
        .with_lease(INTENT, "analysis", |lease, client| async move {
            client.get_intent(&lease.intent_id).await?;
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(mock.requests().last().unwrap().method, Method::Delete);
    mock.assert_all_used();
}

#[tokio::test]
async fn with_lease_releases_on_error() {
    let (client, mock) = client();
    script_lease(&mock, 300);
    script_release(&mock);
    #[derive(Debug)]
    enum AppError {
        Client,
        Work(&'static str),
    }
    impl From<Error> for AppError {
        fn from(_: Error) -> Self {
            AppError::Client
        }
    }
    let err = client
        .with_lease_custom_error(INTENT, "analysis", |_, _| async { Err::<(), _>(AppError::Work("boom")) })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Work("boom")));
    assert_eq!(mock.request_count(), 2);
    // When the acquire fails, the work never runs and nothing is released.
    mock.push(example_response("error_acquire_lease_conflict"));
    let err = client
        .with_lease_custom_error(INTENT, "analysis", |_, _| async { panic!("must not run") as Result<(), AppError> })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Client));
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn with_lease_releases_on_panic_and_resumes_it() {
    let (client, mock) = client();
    script_lease(&mock, 300);
    script_release(&mock);
    let c = client.clone();
    let task = tokio::spawn(async move {
        c.with_lease(INTENT, "analysis", |_, _| async {
            if true {
                panic!("work panicked");
            }
            Ok(())
        })
        .await
    });
    let joined = task.await;
    let panic = joined.unwrap_err().into_panic();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"work panicked"));
    assert_eq!(mock.requests().last().unwrap().method, Method::Delete);
    mock.assert_all_used();
}

#[tokio::test(start_paused = true)]
async fn with_lease_auto_renews_while_the_work_runs() {
    let (client, mock) = client();
    script_lease(&mock, 10);
    for _ in 0..2 {
        mock.push_for(Method::Patch, lpath(&format!("/{LEASE}")), json(200, live_lease(10)));
    }
    script_release(&mock);
    client
        .with_lease(INTENT, "analysis", |_, _| async {
            // 12 s of work with a 10 s lease renewed every 5 s: two renewals.
            tokio::time::sleep(Duration::from_secs(12)).await;
            Ok(())
        })
        .duration_seconds(10)
        .auto_renew()
        .send()
        .await
        .unwrap();
    let methods: Vec<_> = mock.requests().iter().map(|r| r.method).collect();
    assert_eq!(methods, [Method::Post, Method::Patch, Method::Patch, Method::Delete]);
    for r in &mock.requests()[1..3] {
        assert_eq!(body(r), json!({"duration_seconds": 10}));
    }
    // Renewal stops with the work: no further requests later.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(mock.request_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn cancelled_with_lease_still_releases() {
    let (client, mock) = client();
    script_lease(&mock, 300);
    script_release(&mock);
    let fut = client
        .with_lease(INTENT, "analysis", |_, _| async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok(())
        })
        .send();
    assert!(tokio::time::timeout(Duration::from_secs(1), fut).await.is_err());
    // The release runs on a spawned task.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(mock.requests().last().unwrap().method, Method::Delete);
}

/// A transport whose first `DELETE` takes a minute to answer: the caller is gone by then.
#[derive(Debug, Clone)]
struct SlowFirstRelease {
    inner: openintent_transport::test_util::MockTransport,
    slowed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl openintent_transport::Transport for SlowFirstRelease {
    async fn send(
        &self,
        req: openintent_transport::Request,
    ) -> Result<openintent_transport::Response, openintent_transport::TransportError> {
        if req.method == Method::Delete && !self.slowed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        self.inner.send(req).await
    }

    async fn send_stream(
        &self,
        req: openintent_transport::Request,
    ) -> Result<openintent_transport::StreamResponse, openintent_transport::TransportError> {
        self.inner.send_stream(req).await
    }
}

#[tokio::test(start_paused = true)]
async fn with_lease_cancelled_while_releasing_still_releases() {
    let mock = openintent_transport::test_util::MockTransport::new();
    let transport = SlowFirstRelease { inner: mock.clone(), slowed: Default::default() };
    let client = openintent_client::Client::from_transport(transport, AGENT);
    script_lease(&mock, 300);
    script_release(&mock);
    let fut = client.with_lease(INTENT, "analysis", |_, _| async { Ok(()) }).send();
    // The work ends at once; the release is in flight when the caller gives up.
    assert!(tokio::time::timeout(Duration::from_secs(1), fut).await.is_err());
    tokio::time::sleep(Duration::from_millis(10)).await;
    let deletes = mock.requests().iter().filter(|r| r.method == Method::Delete).count();
    assert_eq!(deletes, 1, "the release was sent again after the caller went away");
}
