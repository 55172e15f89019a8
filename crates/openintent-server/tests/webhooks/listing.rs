//! Private destinations refused under `deny_private`; deliveries listed newest first to their
//! subscriber only; a pending delivery shows when it is tried next.

use super::*;

#[tokio::test]
async fn deny_private_refuses_non_public_destinations_at_send_time_and_on_subscribe() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;

    // Off (the development switch): a receiver on 127.0.0.1 gets its deliveries.
    let server = server_on(&path, fast()).await;
    let pool = db(&path).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let literal = receiver.url("literal", Behaviour::default());
    let (sub, _) = api.subscribe(json!({"intent_id": a, "webhook_url": literal})).await;
    let first = api.log(&a, "comment", 1).await;
    eventually("the delivery to 127.0.0.1 arrives", || async { receiver.delivered("literal").contains_key(&first) })
        .await;
    server.shutdown().await.unwrap();

    // On: the same subscription's next delivery is refused without being sent or retried.
    let server = server_on(&path, fast().deny_private(true)).await;
    let api = Api::new(&server);
    let second = api.log(&a, "comment", 2).await;
    drained(&pool).await;
    assert_eq!(receiver.hits("literal").len(), 1, "nothing more was sent to 127.0.0.1");
    let page = api.deliveries(&sub, "").await;
    let refused = &page["deliveries"][0];
    assert_eq!(refused["event_id"], json!(second));
    assert_eq!(refused["status"], json!("failed"));
    assert_eq!(refused["attempts"], json!(0), "{refused}");
    assert_eq!(refused["last_status"], Value::Null);
    let error = refused["last_error"].as_str().unwrap();
    assert!(error.contains("destination refused") && error.contains("127.0.0.1"), "{error}");

    // A new subscription to a literal non-public address is refused with 422 naming the field.
    for url in [
        format!("http://127.0.0.1:{}/hook/x", receiver.addr.port()),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://[::ffff:10.0.0.1]/hook".to_owned(),
    ] {
        let (status, body) =
            api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a, "webhook_url": url})), None).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]), "{body}");
    }

    // A host name is accepted, then checked on every address it resolves to when sending.
    let by_name = format!("http://localhost:{}/hook/by-name", receiver.addr.port());
    receiver.url("by-name", Behaviour::default());
    let (named, _) = api.subscribe(json!({"intent_id": a, "webhook_url": by_name})).await;
    let third = api.log(&a, "comment", 3).await;
    drained(&pool).await;
    assert!(receiver.hits("by-name").is_empty());
    let page = api.deliveries(&named, "").await;
    assert_eq!(page["total"], json!(1));
    let d = &page["deliveries"][0];
    assert_eq!((d["event_id"].clone(), d["status"].clone()), (json!(third), json!("failed")));
    let error = d["last_error"].as_str().unwrap();
    assert!(error.contains("destination refused: localhost resolves to"), "{error}");
    server.shutdown().await.unwrap();

    // Off again: the host name's deliveries go through.
    let server = server_on(&path, fast()).await;
    let api = Api::new(&server);
    let fourth = api.log(&a, "comment", 4).await;
    eventually("the delivery by host name arrives", || async { receiver.delivered("by-name").contains_key(&fourth) })
        .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn by_default_non_public_destinations_and_urls_with_credentials_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let server = server_on(&path, WebhookConfig::default()).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://127.1.2.3/hook",
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
    ] {
        let (status, body) =
            api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a, "webhook_url": url})), None).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]), "{body}");
    }
    for url in ["https://user:pass@hooks.example.com/x", "https://token@hooks.example.com/x"] {
        let (status, body) =
            api.call("POST", "/api/v1/subscriptions", Some(json!({"intent_id": a, "webhook_url": url})), None).await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["detail"][0]["loc"], json!(["body", "webhook_url"]), "{body}");
        assert!(body["detail"][0]["msg"].as_str().unwrap().contains("credentials"), "{body}");
        assert!(!body.to_string().contains("user:pass@") && !body.to_string().contains("token@"), "not echoed: {body}");
    }
    // A public destination is accepted.
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/subscriptions",
            Some(json!({"intent_id": a, "webhook_url": "https://hooks.example.com/x"})),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deliveries_are_listed_newest_first_to_the_subscriber_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let server = server_on(&path, fast().max_attempts(2)).await;
    let api = Api::new(&server);
    let pool = db(&path).await;
    let a = api.intent("a").await;
    let (ok, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("ok", Behaviour::default())})).await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (bad, _) = api
        .subscribe(json!({"intent_id": a, "event_types": ["comment"], "webhook_url": receiver.url("bad", down)}))
        .await;
    let mut events = Vec::new();
    for n in 0..3 {
        events.push(api.log(&a, "comment", n).await);
    }
    drained(&pool).await;

    // Newest first, with the delivery ids receivers saw.
    let page = api.deliveries(&ok, "").await;
    assert_eq!(page["total"], json!(3));
    let listed: Vec<&Value> = page["deliveries"].as_array().unwrap().iter().collect();
    let newest_first: Vec<String> = events.iter().rev().cloned().collect();
    assert_eq!(listed.iter().map(|d| d["event_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>(), newest_first);
    let hits = receiver.hits("ok");
    for d in &listed {
        assert_eq!(d["status"], json!("delivered"));
        assert_eq!(d["event_type"], json!("comment"));
        assert_eq!((d["attempts"].clone(), d["last_status"].clone()), (json!(1), json!(200)));
        assert_eq!((d["last_error"].clone(), d["next_attempt_at"].clone()), (Value::Null, Value::Null));
        assert!(d["delivered_at"].is_string() && d["created_at"].is_string(), "{d}");
        let hit = hits.iter().find(|h| h.delivery_id == d["id"].as_str().unwrap()).expect("the receiver saw this id");
        assert_eq!(hit.delivery().event.id, d["event_id"].as_str().unwrap());
    }

    // Paging.
    let page = api.deliveries(&ok, "?limit=1&offset=1").await;
    assert_eq!(page["total"], json!(3));
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 1);
    assert_eq!(page["deliveries"][0]["event_id"], json!(events[1]));

    // Failed deliveries keep the receiver's last answer; the status filter.
    let page = api.deliveries(&bad, "?status=failed").await;
    assert_eq!(page["total"], json!(3));
    let d = &page["deliveries"][0];
    assert_eq!((d["attempts"].clone(), d["last_status"].clone()), (json!(2), json!(500)));
    assert!(d["last_error"].as_str().unwrap().contains("500"), "{d}");
    assert_eq!(d["delivered_at"], Value::Null);
    let page = api.deliveries(&bad, "?status=delivered").await;
    assert_eq!((page["total"].clone(), page["deliveries"].clone()), (json!(0), json!([])));
    let (status, body) =
        api.call("GET", &format!("/api/v1/subscriptions/{bad}/deliveries?status=lost"), None, None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["detail"][0]["loc"], json!(["query", "status"]));
    let (status, _) = api.call("GET", &format!("/api/v1/subscriptions/{ok}/deliveries?limit=0"), None, None).await;
    assert_eq!(status, 422);

    // Only the subscriber (or an admin key) may look; to anyone else the subscription does not
    // exist. Unknown and deleted subscriptions are 404.
    let path = format!("/api/v1/subscriptions/{ok}/deliveries");
    let (status, _) = api.call_as("someone-else", "GET", &path, None, None).await;
    assert_eq!(status, 200, "dev-user-key has the admin role");
    let stranger = api
        .http
        .get(format!("{}{path}", api.base))
        .header("X-API-Key", "agent-research-key")
        .header("X-Agent-ID", "someone-else")
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status().as_u16(), 404);
    let body: Value = serde_json::from_str(&stranger.text().await.unwrap()).unwrap();
    assert_eq!(body["detail"], json!("Subscription not found"));
    let (status, body) = api.call("GET", "/api/v1/subscriptions/no-such-id/deliveries", None, None).await;
    assert_eq!((status, body["detail"].clone()), (404, json!("Subscription not found")));
    let (status, _) = api.call("DELETE", &format!("/api/v1/subscriptions/{ok}"), None, None).await;
    assert_eq!(status, 204);
    let (status, _) = api.call("GET", &path, None, None).await;
    assert_eq!(status, 404);
    let (status, _) =
        api.http.get(format!("{}{path}", api.base)).send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(status, 401, "an API key is required");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_pending_delivery_shows_when_it_is_tried_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = database(&dir).await;
    let receiver = Receiver::start().await;
    let slow = fast().base_backoff(Duration::from_secs(30)).max_backoff(Duration::from_secs(30));
    let server = server_on(&path, slow).await;
    let api = Api::new(&server);
    let a = api.intent("a").await;
    let down = Behaviour { always_fail: true, ..Behaviour::default() };
    let (sub, _) = api.subscribe(json!({"intent_id": a, "webhook_url": receiver.url("later", down)})).await;
    let event = api.log(&a, "comment", 1).await;
    eventually("the first attempt fails", || async { receiver.hits("later").len() == 1 }).await;
    eventually("the failure is recorded", || async {
        api.deliveries(&sub, "").await["deliveries"][0]["attempts"] == json!(1)
    })
    .await;
    let page = api.deliveries(&sub, "?status=pending").await;
    assert_eq!(page["total"], json!(1));
    let d = &page["deliveries"][0];
    assert_eq!((d["event_id"].clone(), d["status"].clone()), (json!(event), json!("pending")));
    assert_eq!(d["last_status"], json!(500));
    let next: chrono::DateTime<chrono::Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
    assert!(next > chrono::Utc::now() + chrono::Duration::seconds(5), "{d}");
    assert_eq!(d["delivered_at"], Value::Null);
    server.shutdown().await.unwrap();
}
