//! The outbox survives restarts and shutdowns, is shared by two instances without double
//! sends, wakes its workers at once, and prunes finished rows after the retention.

use super::*;

#[tokio::test]
async fn pending_deliveries_are_sent_after_a_restart_and_expired_claims_are_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;

    // An instance without workers records deliveries and stops before any is sent.
    let server = server_on(&path, WebhookConfig::disabled().deny_private(false)).await;
    let api = Api::new(&server);
    let (sub, secret) = api.subscribe(json!({"webhook_url": receiver.url("later", Behaviour::default())})).await;
    let a = api.intent("a").await;
    for n in 0..4 {
        api.log(&a, "comment", n).await;
    }
    let expected = api.event_ids(&a).await;
    server.shutdown().await.unwrap();
    assert!(receiver.hits("later").is_empty());

    // One delivery is held by an instance that died: its claim runs for another 600 ms.
    let pool = db(&path).await;
    let held: String = on_raw!(pool, |p| {
        sqlx::query_scalar("SELECT id FROM webhook_deliveries ORDER BY seq LIMIT 1").fetch_one(p).await.unwrap()
    });
    let until = chrono::Utc::now() + chrono::Duration::milliseconds(600);
    on_raw!(pool, |p| {
        sqlx::query("UPDATE webhook_deliveries SET claimed_by = 'dead-instance', claimed_until = $1 WHERE id = $2")
            .bind(until.timestamp_millis())
            .bind(&held)
            .execute(p)
            .await
            .unwrap();
    });

    let server = server_on(&path, fast()).await;
    eventually("every pending event arrives after the restart", || async {
        receiver.delivered("later").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    let hits = receiver.hits("later");
    assert_eq!(hits.len(), expected.len(), "each sent once");
    let taken_over = hits.iter().find(|h| h.delivery_id == held).unwrap();
    assert!(taken_over.at >= until, "the live claim was respected until it expired");
    for h in &hits {
        assert_eq!(h.delivery().subscription_id, sub);
        let now = chrono::Utc::now().timestamp();
        assert_eq!(verify_signature(&secret, &h.signature, &h.body, now, DEFAULT_TOLERANCE), Ok(()));
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn two_instances_share_the_outbox_without_double_sends() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let config = fast().batch_size(3).workers(2);
    let one = server_on(&path, config.clone()).await;
    let two = server_on(&path, config).await;
    let (api1, api2) = (Api::new(&one), Api::new(&two));
    api1.subscribe(json!({"webhook_url": receiver.url("shared", Behaviour::default())})).await;
    let a = api1.intent("a").await;
    for n in 0..15 {
        api1.log(&a, "comment", n).await;
        api2.log(&a, "checkpoint", n).await;
    }
    let expected = api1.event_ids(&a).await;
    eventually("every event arrives", || async {
        receiver.delivered("shared").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    drained(&db(&path).await).await;
    let hits = receiver.hits("shared");
    let ids: BTreeSet<&str> = hits.iter().map(|h| h.delivery_id.as_str()).collect();
    assert_eq!((hits.len(), ids.len()), (expected.len(), expected.len()), "one attempt per delivery");
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}

#[tokio::test]
async fn finished_deliveries_are_pruned_after_the_retention_and_pending_ones_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let config = fast().max_attempts(1000).retention(Some(Duration::from_millis(200)));
    let server = server_on(&path, config).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("fine", Behaviour::default())})).await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("down", down)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the event is delivered", || async { receiver.delivered("fine").contains_key(&event) }).await;
    eventually("the delivered row is pruned", || async {
        let s = statuses(&pool).await;
        !s.contains_key("delivered") && s.get("pending") == Some(&1)
    })
    .await;
    assert!(receiver.hits("down").len() >= 2, "the pending delivery is still being retried");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn new_deliveries_wake_the_workers_without_waiting_for_the_poll() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    // The poll alone would take a minute; the commit of the event wakes the worker instead.
    let server = server_on(&path, fast().poll_interval(Duration::from_secs(60))).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("prompt", Behaviour::default())})).await;
    // Let the worker go back to sleep after its first (empty) poll.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = Instant::now();
    for n in 0..3 {
        let event = api.log(&a, "comment", n).await;
        eventually("the event arrives", || async { receiver.delivered("prompt").contains_key(&event) }).await;
    }
    assert!(start.elapsed() < Duration::from_secs(10), "delivered in {:?}", start.elapsed());
    let stopping = Instant::now();
    server.shutdown().await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(10), "the sleeping worker stops at once");
}

#[tokio::test]
async fn an_attempt_in_flight_at_shutdown_is_released_and_sent_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    // Claims that would outlive the test: only their release on shutdown lets the restarted
    // server send the delivery at once.
    let patient = fast().request_timeout(Duration::from_secs(60)).claim_ttl(Duration::from_secs(600));
    let server = server_on(&path, patient.clone()).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let stall = Behaviour { stall_first: true, ..Behaviour::default() };
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("stall", stall)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the first attempt is in flight", || async { receiver.hits("stall").len() == 1 }).await;
    let stopping = Instant::now();
    server.shutdown().await.unwrap();
    assert!(stopping.elapsed() < Duration::from_secs(10), "shutdown does not wait for the receiver");

    let server = server_on(&path, patient).await;
    eventually("the delivery is sent again", || async { receiver.delivered("stall").contains_key(&event) }).await;
    let hits = receiver.hits("stall");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0].delivery_id, hits[1].delivery_id, "the retry keeps the delivery id");
    assert_eq!((hits[0].answered, hits[1].answered), (1, 200));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_slow_attempt_keeps_its_claim_while_its_worker_lives() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    // Each answer takes over three claim lengths: without renewal the other instance would take
    // the deliveries over and send them a second time.
    let config = fast().claim_ttl(Duration::from_millis(400)).request_timeout(Duration::from_secs(10));
    let one = server_on(&path, config.clone()).await;
    let two = server_on(&path, config).await;
    let api = Api::new(&one);
    let slow = Behaviour { slow_ms: 1_500, ..Behaviour::default() };
    api.subscribe(json!({"webhook_url": receiver.url("slow", slow)})).await;
    let a = api.intent("a").await;
    for n in 0..3 {
        api.log(&a, "comment", n).await;
    }
    let expected = api.event_ids(&a).await;
    eventually("every event arrives", || async {
        receiver.delivered("slow").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    drained(&db(&path).await).await;
    let hits = receiver.hits("slow");
    let ids: BTreeSet<&str> = hits.iter().map(|h| h.delivery_id.as_str()).collect();
    assert_eq!((hits.len(), ids.len()), (expected.len(), expected.len()), "one attempt per delivery");
    one.shutdown().await.unwrap();
    two.shutdown().await.unwrap();
}
