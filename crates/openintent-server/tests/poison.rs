//! Stored data that could not be read back: what is refused before it is stored (JSON nested
//! too deep, a state over its size limit), how a row that cannot be read back anyway (written
//! by another program, or by an older server) is served, and how an operator repairs it.
//! Runs on SQLite and, with `OPENINTENT_TEST_DATABASE_URL`, on PostgreSQL.

mod common;

use axum::http::StatusCode;
use clap::Parser;
use common::{RawDb, TestApp};
use openintent_server::ServerConfig;
use openintent_server::cli::{RepairArgs, repair};
use openintent_types::limits::MAX_JSON_DEPTH;
use serde_json::{Value, json};

/// `{"k": {"k": ... 1}}`, `n` objects deep.
fn deep(n: usize) -> Value {
    (0..n).fold(json!(1), |v, _| json!({ "k": v }))
}

/// The `loc` of the first field error of a 422/413 body.
fn loc(body: &Value) -> Value {
    body["detail"][0]["loc"].clone()
}

/// Every list that returns the intent answers 200.
async fn lists_answer(app: &TestApp, id: &str) {
    for path in
        ["/api/v1/intents".to_owned(), "/api/v1/intents?status=draft".to_owned(), format!("/api/v1/intents/{id}")]
    {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
}

#[tokio::test]
async fn json_nested_too_deep_to_read_back_is_refused_naming_the_field() {
    let app = TestApp::memory().await;
    let id = app.intent("deep").await;
    let path128 = "/k".repeat(128);
    let cases = [
        (json!({"patches": [{"op": "set", "path": path128, "value": 1}]}), json!(["body", "patches", 0, "path"])),
        (
            json!({"patches": [{"op": "set", "path": "/k".repeat(20), "value": deep(110)}]}),
            json!(["body", "patches", 0, "value"]),
        ),
        // The whole-state form: the stored state is refused, naming it.
        (json!({"state": {"k": deep(100)}}), json!(["body", "state"])),
    ];
    for (body, field) in cases {
        let r = app.patch_state("a", &id, 1, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
        assert_eq!(loc(&r.body), field, "{:?}", r.body);
    }
    // At the limit it is taken, and reads back.
    let ok = json!({"patches": [{"op": "set", "path": "/k".repeat(10), "value": deep(MAX_JSON_DEPTH - 10)}]});
    assert_eq!(app.patch_state("a", &id, 1, ok).await.status, StatusCode::OK);
    lists_answer(&app, &id).await;

    // Other stored documents: an intent's state at creation, an event's payload, a portfolio's
    // metadata, each refused by the one check every stored JSON document passes.
    let r = app.post("/api/v1/intents", json!({"title": "t", "state": deep(100)})).await;
    assert_eq!((r.status, loc(&r.body)), (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "state"])), "{:?}", r.body);
    let r =
        app.post(&format!("/api/v1/intents/{id}/events"), json!({"event_type": "note", "payload": deep(100)})).await;
    assert_eq!(
        (r.status, loc(&r.body)),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "payload"])),
        "{:?}",
        r.body
    );
    let r = app.post("/api/v1/portfolios", json!({"name": "p", "metadata": deep(100)})).await;
    assert_eq!(
        (r.status, loc(&r.body)),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "metadata"])),
        "{:?}",
        r.body
    );
    lists_answer(&app, &id).await;
    assert_eq!(app.get(&format!("/api/v1/intents/{id}/events")).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/portfolios").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_intent_state_over_the_size_limit_is_refused_with_413_naming_state() {
    let config = common::test_config().await;
    let config = ServerConfig::builder().database(config.database().clone()).max_state_bytes(1000).build().unwrap();
    let app = TestApp::with_config(config).await;
    let id = app.intent("big").await;
    let mut version = 1;
    let mut refused = None;
    for i in 0..5 {
        let body = json!({"patches": [{"op": "set", "path": format!("/k{i}"), "value": "x".repeat(300)}]});
        let r = app.patch_state("a", &id, version, body).await;
        if r.status == StatusCode::OK {
            version += 1;
        } else {
            refused = Some((i, r));
            break;
        }
    }
    let (i, r) = refused.expect("a state over 1000 bytes was accepted");
    assert_eq!(i, 3, "three 300-byte values fit in 1000 bytes, a fourth does not");
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(loc(&r.body), json!(["body", "state"]), "{:?}", r.body);
    assert!(r.body["detail"][0]["msg"].as_str().unwrap().contains("limit is 1000"), "{:?}", r.body);
    let now = app.get(&format!("/api/v1/intents/{id}")).await;
    assert_eq!((now.body["version"].clone(), now.body["state"].as_object().unwrap().len()), (json!(4), 3));
    // At creation too.
    let r = app.post("/api/v1/intents", json!({"title": "t", "state": {"k": "x".repeat(2000)}})).await;
    assert_eq!((r.status, loc(&r.body)), (StatusCode::PAYLOAD_TOO_LARGE, json!(["body", "state"])));
    // Removing keys is always possible.
    let r = app.patch_state("a", &id, version, json!({"patches": [{"op": "remove", "path": "/k0"}]})).await;
    assert_eq!(r.status, StatusCode::OK);
}

/// An app over a database another connection can write to, with two intents in one portfolio
/// and the state of the first replaced, behind the server's back, by a document nested too
/// deep to read back; an event too deep is appended to the second's log.
struct Poisoned {
    _dir: tempfile::TempDir,
    url: String,
    app: TestApp,
    bad: String,
    good: String,
    portfolio: String,
}

async fn poisoned() -> Poisoned {
    let dir = tempfile::tempdir().unwrap();
    let location = common::shared_test_database(dir.path()).await;
    let url = match &location {
        openintent_server::DatabaseLocation::SqliteFile(p) => format!("sqlite:///{}", p.display()),
        openintent_server::DatabaseLocation::Postgres(u) => u.clone(),
        other => panic!("{other:?}"),
    };
    let app = TestApp::with_config(ServerConfig::builder().database(location.clone()).build().unwrap()).await;
    let bad = app.intent("bad").await;
    let good = app.intent("good").await;
    let p = app.post("/api/v1/portfolios", json!({"name": "p"})).await;
    let portfolio = p.body["id"].as_str().unwrap().to_owned();
    for id in [&bad, &good] {
        let r = app.post(&format!("/api/v1/portfolios/{portfolio}/intents"), json!({"intent_id": id})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let poison = deep(200).to_string();
    let raw = RawDb::connect(&location).await;
    match &raw {
        RawDb::Sqlite(p) => {
            sqlx::query("UPDATE intents SET state = $1 WHERE id = $2")
                .bind(&poison)
                .bind(&bad)
                .execute(p)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO events (id, intent_id, event_type, actor, payload, created_at) \
                 VALUES ('poison-event', $1, 'note', 'x', $2, '2000-01-01T00:00:00.000000')",
            )
            .bind(&good)
            .bind(&poison)
            .execute(p)
            .await
            .unwrap();
        }
        RawDb::Postgres(p) => {
            sqlx::query("UPDATE intents SET state = CAST($1 AS JSONB) WHERE id = $2")
                .bind(&poison)
                .bind(&bad)
                .execute(p)
                .await
                .unwrap();
            sqlx::query(
                "INSERT INTO events (id, intent_id, event_type, actor, payload, created_at) \
                 VALUES ('poison-event', $1, 'note', 'x', CAST($2 AS JSONB), '2000-01-01T00:00:00Z')",
            )
            .bind(&good)
            .bind(&poison)
            .execute(p)
            .await
            .unwrap();
        }
    }
    Poisoned { _dir: dir, url, app, bad, good, portfolio }
}

#[tokio::test]
async fn one_unreadable_row_never_breaks_a_list_for_everyone() {
    let Poisoned { _dir, app, bad, good, portfolio, .. } = poisoned().await;
    for path in ["/api/v1/intents", "/api/v1/intents?status=draft", &format!("/api/v1/portfolios/{portfolio}/intents")]
    {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        let items = r.body.get("intents").or(r.body.get("items")).unwrap_or(&r.body).clone();
        let ids: Vec<&str> = items.as_array().unwrap().iter().filter_map(|i| i["id"].as_str()).collect();
        assert!(ids.contains(&good.as_str()) && !ids.contains(&bad.as_str()), "{path}: {ids:?}");
    }
    let events = app.get(&format!("/api/v1/intents/{good}/events")).await;
    assert_eq!(events.status, StatusCode::OK, "{:?}", events.body);
    assert!(events.body.as_array().unwrap().iter().all(|e| e["id"] != "poison-event"));
    // The row itself answers 409, naming it, not 500.
    for path in [format!("/api/v1/intents/{bad}"), format!("/api/v1/intents/{bad}/costs/summary")] {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{path}: {:?}", r.body);
        assert_eq!((r.body["error"].clone(), r.body["id"].clone()), (json!("unreadable"), json!(bad)), "{path}");
        assert!(r.detail().contains("openintent-server repair"), "{path}: {:?}", r.body);
    }
    let r = app.patch_state("a", &bad, 1, json!({"patches": [{"op": "set", "path": "/k", "value": 1}]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
}

#[derive(Parser)]
struct Cmd {
    #[command(flatten)]
    args: RepairArgs,
}

fn run_repair(flags: &[&str]) -> String {
    let argv = std::iter::once("repair").chain(flags.iter().copied());
    let mut out = Vec::new();
    repair(&Cmd::try_parse_from(argv).unwrap().args, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_unreadable_rows_and_resets_an_intent_state() {
    let Poisoned { _dir, url, app, bad, .. } = poisoned().await;
    let listed = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || run_repair(&["--database-url", &url])).await.unwrap()
    };
    assert!(listed.contains(&format!("intent {bad}: ")), "{listed}");
    assert!(listed.contains("event poison-event: "), "{listed}");

    let repaired = {
        let (url, bad) = (url.clone(), bad.clone());
        tokio::task::spawn_blocking(move || {
            run_repair(&["--database-url", &url, "--reset-state", &bad, "--actor", "ops"])
        })
        .await
        .unwrap()
    };
    assert!(repaired.contains(&format!("reset the state of intent {bad}")), "{repaired}");
    assert!(!repaired.contains(&format!("intent {bad}: ")), "{repaired}");

    let r = app.get(&format!("/api/v1/intents/{bad}")).await;
    assert_eq!((r.status, r.body["state"].clone(), r.body["version"].clone()), (StatusCode::OK, json!({}), json!(2)));
    let newest = app.events(&bad).await.into_iter().find(|e| e["event_type"] == "state_patched").expect("an event");
    assert_eq!((newest["actor"].clone(), newest["payload"]["repair"].clone()), (json!("ops"), json!(true)));
    let r = app.patch_state("a", &bad, 2, json!({"patches": [{"op": "set", "path": "/k", "value": 1}]})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let missing = tokio::task::spawn_blocking(move || {
        let argv = ["repair", "--database-url", &url, "--reset-state", "nope"];
        repair(&Cmd::try_parse_from(argv).unwrap().args, &mut Vec::new())
    })
    .await
    .unwrap();
    assert!(missing.unwrap_err().to_string().contains("not found"));
}

#[tokio::test]
async fn the_refusal_of_a_deep_body_is_itself_readable() {
    // A field of the wrong type is echoed in its 422 (`input`); echoing a value 125 levels deep
    // inside `detail` would pass serde_json's limit of 128, and no client could read the error.
    let app = TestApp::memory().await;
    let r = app.post("/api/v1/intents", json!({"title": deep(125)})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(loc(&r.body), json!(["body", "title"]), "the error body could not be read: {:?}", r.body);
    assert!(r.body["detail"][0].get("input").is_none(), "{:?}", r.body);
    // A shallow wrong value is still echoed.
    let r = app.post("/api/v1/intents", json!({"title": {"k": 1}})).await;
    assert_eq!(r.body["detail"][0]["input"], json!({"k": 1}), "{:?}", r.body);
}
