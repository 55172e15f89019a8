//! Every event arrives signed despite failures; filters and scopes; deleted subscriptions stop
//! receiving and failures end dead after the retry cap.

use super::*;

#[tokio::test]
async fn every_event_arrives_signed_despite_failures_and_a_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let flaky = Behaviour { fail_first: 2, hang_once: true, ..Behaviour::default() };
    let (sub, secret) = api.subscribe(json!({"webhook_url": receiver.url("flaky", flaky)})).await;
    assert!(secret.starts_with("whsec_"));

    // The secret is never listed again.
    let (_, listed) = api.call("GET", "/api/v1/subscriptions", None, None).await;
    let listed = listed["subscriptions"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("secret").is_none(), "{}", listed[0]);
    assert!(!listed[0].to_string().contains(&secret));

    let a = api.intent("a").await;
    let b = api.intent("b").await;
    for n in 0..5 {
        api.log(&a, "comment", n).await;
        api.log(&b, "checkpoint", n).await;
    }
    let (status, _) =
        api.call("POST", &format!("/api/v1/intents/{a}/status"), Some(json!({"status": "active"})), Some(1)).await;
    assert_eq!(status, 200);
    let mut expected = api.event_ids(&a).await;
    expected.extend(api.event_ids(&b).await);
    assert_eq!(expected.len(), 2 + 10 + 1);

    eventually("every event is acknowledged", || async {
        receiver.delivered("flaky").keys().cloned().collect::<BTreeSet<_>>() == expected
    })
    .await;
    let pool = db(&path).await;
    drained(&pool).await;
    assert_eq!(statuses(&pool).await, BTreeMap::from([("delivered".to_owned(), expected.len() as i64)]));

    let hits = receiver.hits("flaky");
    // Acknowledged exactly once each (nothing is sent after a 2xx).
    assert!(receiver.delivered("flaky").values().all(|&n| n == 1));
    // Every retry of a delivery carries its id, and one delivery id is one event.
    let mut by_delivery: BTreeMap<&str, Vec<&Hit>> = BTreeMap::new();
    for h in &hits {
        by_delivery.entry(h.delivery_id.as_str()).or_default().push(h);
    }
    assert_eq!(by_delivery.len(), expected.len());
    for (id, attempts) in &by_delivery {
        assert!(!id.is_empty());
        let events: BTreeSet<String> = attempts.iter().map(|h| h.delivery().event.id).collect();
        assert_eq!(events.len(), 1, "delivery {id} carried several events");
        let numbers: Vec<u32> = attempts.iter().map(|h| h.attempt).collect();
        assert_eq!(numbers, (1..=attempts.len() as u32).collect::<Vec<_>>(), "attempts of {id}");
        assert!(attempts.len() >= 3, "two failures then a success: {numbers:?}");
    }
    assert_eq!(hits.iter().filter(|h| h.answered == 0).count(), 1, "exactly one attempt hung");
    let hung = hits.iter().find(|h| h.answered == 0).unwrap();
    assert!(by_delivery[hung.delivery_id.as_str()].len() == 4, "the hung attempt was retried");

    // Every attempt is signed with the subscription's secret over "{t}.{body}".
    let now = chrono::Utc::now().timestamp();
    for h in &hits {
        let d = h.delivery();
        assert_eq!(d.subscription_id, sub);
        assert_eq!(h.subscription, sub);
        assert_eq!(h.event_type, d.event.event_type.as_str());
        assert!(expected.contains(&d.event.id));
        let expected_sig = format!("t={},v1={}", h.timestamp, independent_signature(&secret, &h.timestamp, &h.body));
        assert_eq!(h.signature, expected_sig);
        assert_eq!(verify_signature(&secret, &h.signature, &h.body, now, DEFAULT_TOLERANCE), Ok(()));
        assert!(verify_signature("whsec_wrong", &h.signature, &h.body, now, DEFAULT_TOLERANCE).is_err());
        let ts: i64 = h.timestamp.parse().unwrap();
        assert!((ts - h.at.timestamp()).abs() <= 2);
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn filters_and_scopes_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let ok = Behaviour::default();

    let a = api.intent("a").await;
    let b = api.intent("b").await;
    let c = api.intent("c").await;
    let portfolio = api.ok("POST", "/api/v1/portfolios", json!({"name": "p"})).await["id"].as_str().unwrap().to_owned();
    api.ok("POST", &format!("/api/v1/portfolios/{portfolio}/intents"), json!({"intent_id": b})).await;

    api.subscribe(json!({"webhook_url": receiver.url("global", ok)})).await;
    api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("intent", ok)})).await;
    api.subscribe(json!({"intent_id": a, "event_types": ["checkpoint"], "callback_url": receiver.url("typed", ok)}))
        .await;
    api.subscribe(json!({"portfolio_id": portfolio, "webhook_url": receiver.url("portfolio", ok)})).await;
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    api.subscribe(json!({"webhook_url": receiver.url("expired", ok), "expires_at": past})).await;
    // No URL: stored, never delivered.
    let (status, _) = api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a})), None).await;
    assert_eq!(status, 200);

    let mut checkpoints_a = BTreeSet::new();
    let mut later = BTreeMap::<&str, BTreeSet<String>>::new();
    for n in 0..3 {
        for (name, intent) in [("a", &a), ("b", &b), ("c", &c)] {
            let id = api.log(intent, "comment", n).await;
            later.entry(name).or_default().insert(id);
            let id = api.log(intent, "checkpoint", n).await;
            if name == "a" {
                checkpoints_a.insert(id.clone());
            }
            later.entry(name).or_default().insert(id);
        }
    }
    let pool = db(&path).await;
    drained(&pool).await;

    let keys = |name: &str| receiver.delivered(name).keys().cloned().collect::<BTreeSet<_>>();
    // Global: everything logged after it was created (the intent_created events came before).
    let all: BTreeSet<String> = later.values().flatten().cloned().collect();
    assert_eq!(keys("global"), all);
    // Intent: every later event of a, and only of a.
    assert_eq!(keys("intent"), later["a"]);
    // Event-type filter.
    assert_eq!(keys("typed"), checkpoints_a);
    assert!(receiver.hits("typed").iter().all(|h| h.event_type == "checkpoint"));
    // Portfolio: the member's events only.
    assert_eq!(keys("portfolio"), later["b"]);
    // Expired: nothing.
    assert!(receiver.hits("expired").is_empty());
    // One row per matching (subscription, event); none for the URL-less subscription.
    let rows: i64 =
        on_raw!(pool, |p| sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries").fetch_one(p).await.unwrap());
    assert_eq!(rows as usize, all.len() + later["a"].len() + checkpoints_a.len() + later["b"].len());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleted_subscriptions_stop_receiving_and_failures_end_dead() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast().max_attempts(3)).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;

    // Delivered while subscribed, nothing after deletion.
    let (kept, _) =
        api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("kept", Behaviour::default())})).await;
    let first = api.log(&a, "comment", 1).await;
    eventually("the first event arrives", || async { receiver.delivered("kept").contains_key(&first) }).await;
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{kept}"), None, None).await;
    assert_eq!(status, 204);
    api.log(&a, "comment", 2).await;
    drained(&pool).await;
    assert_eq!(receiver.delivered("kept").len(), 1);

    // A receiver that always fails: tried max_attempts times with one delivery id, then dead.
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (down_id, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("down", down)})).await;
    let dead = api.log(&a, "comment", 3).await;
    drained(&pool).await;
    let hits = receiver.hits("down");
    assert_eq!(hits.len(), 3, "{hits:?}");
    assert!(hits.iter().all(|h| h.delivery_id == hits[0].delivery_id && h.delivery().event.id == dead));
    let (status, attempts, error): (String, i64, Option<String>) = on_raw!(pool, |p| {
        sqlx::query_as("SELECT status, attempts, last_error FROM webhook_deliveries WHERE id = $1")
            .bind(&hits[0].delivery_id)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!((status.as_str(), attempts), ("failed", 3));
    assert!(error.unwrap().contains("500"));
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{down_id}"), None, None).await;
    assert_eq!(status, 204);

    // A delivery still retrying when its subscription is deleted is cancelled, not sent again.
    let slow = fast().base_backoff(Duration::from_secs(2)).max_backoff(Duration::from_secs(2));
    server.shutdown().await.unwrap();
    let server = server_on(&path, slow).await;
    let api = Api::new(&server);
    let (doomed, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("doomed", down)})).await;
    api.log(&a, "comment", 4).await;
    eventually("the first attempt fails", || async { receiver.hits("doomed").len() == 1 }).await;
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{doomed}"), None, None).await;
    assert_eq!(status, 204);
    drained(&pool).await;
    assert_eq!(receiver.hits("doomed").len(), 1);
    let (cancelled, why): (String, Option<String>) = on_raw!(pool, |p| {
        sqlx::query_as("SELECT status, last_error FROM webhook_deliveries WHERE subscription_id = $1")
            .bind(&doomed)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!((cancelled.as_str(), why.as_deref()), ("cancelled", Some("subscription deleted")));
    server.shutdown().await.unwrap();
}

/// An event's insert reads whether a webhook subscription's scope takes it, and the
/// subscriptions are read only then: a subscription committed before an event still takes it,
/// whichever server created it (on PostgreSQL a second server, whose subscriptions the first
/// learns of from the database alone), and a deleted one takes nothing more.
#[tokio::test]
async fn a_subscription_takes_the_events_after_it_whichever_server_created_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let logger = server_on(&path, fast()).await;
    let other = match path {
        DatabaseLocation::Postgres(_) => Some(server_on(&path, fast()).await),
        _ => None,
    };
    let api = Api::new(&logger);
    let subscriber = Api::new(other.as_ref().unwrap_or(&logger));
    let ok = Behaviour::default();
    let pool = db(&path).await;

    let a = api.intent("a").await;
    api.log(&a, "comment", 0).await;
    assert!(statuses(&pool).await.is_empty(), "no subscription, no delivery");
    let (sub, _) = subscriber.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("intent", ok)})).await;
    let first = api.log(&a, "comment", 1).await;
    subscriber.subscribe(json!({"webhook_url": receiver.url("global", ok)})).await;
    let b = api.intent("b").await;
    let second = api.log(&b, "comment", 2).await;
    let third = api.log(&a, "comment", 3).await;
    drained(&pool).await;
    let keys = |name: &str| receiver.delivered(name).keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys("intent"), BTreeSet::from([first.clone(), third.clone()]));
    let global = keys("global");
    assert!(global.contains(&second) && global.contains(&third) && !global.contains(&first), "{global:?}");

    let (status, _) = subscriber.call("DELETE", &format!("/api/v1/subscriptions/{sub}"), None, None).await;
    assert!((200..300).contains(&status), "{status}");
    let fourth = api.log(&a, "comment", 4).await;
    drained(&pool).await;
    assert_eq!(keys("intent"), BTreeSet::from([first, third]), "deleted: nothing more");
    assert!(keys("global").contains(&fourth));
    if let Some(other) = other {
        other.shutdown().await.unwrap();
    }
    logger.shutdown().await.unwrap();
}
