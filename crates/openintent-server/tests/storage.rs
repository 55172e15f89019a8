//! Properties of the database itself, on the backend under test (SQLite, or PostgreSQL when
//! `OPENINTENT_TEST_DATABASE_URL` is set): checked through a separate connection, as another
//! program with access to the database would try.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use openintent_server::{DatabaseLocation, ServerConfig};
use serde_json::json;
use sqlx::Connection;

/// A raw connection to the database of `location`.
async fn connect(location: &DatabaseLocation) -> sqlx::AnyConnection {
    sqlx::any::install_default_drivers();
    let url = match location {
        DatabaseLocation::Postgres(url) => url.clone(),
        DatabaseLocation::SqliteFile(path) => format!("sqlite://{}", path.display()),
        other => panic!("no raw connection to {other:?}"),
    };
    sqlx::AnyConnection::connect(&url).await.unwrap()
}

/// An app over a fresh database, one intent in it whose state `/k` was set to 1 (version 2),
/// and a raw connection to the database.
struct Fixture {
    /// Holds the SQLite file: bind it for as long as the test runs.
    _dir: tempfile::TempDir,
    location: DatabaseLocation,
    app: TestApp,
    id: String,
    raw: sqlx::AnyConnection,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let location = common::shared_test_database(dir.path()).await;
    let app = TestApp::with_config(ServerConfig::builder().database(location.clone()).build().unwrap()).await;
    let id = app.intent("stored").await;
    let w = app.patch_state("a", &id, 1, json!({"patches": [{"op": "set", "path": "/k", "value": 1}]})).await;
    assert_eq!(w.status, StatusCode::OK);
    let raw = connect(&location).await;
    Fixture { _dir: dir, location, app, id, raw }
}

#[tokio::test]
async fn the_event_log_cannot_be_rewritten() {
    let Fixture { _dir, location, app, id, mut raw } = fixture().await;
    let attempts = [
        "UPDATE events SET actor = 'forged'".to_owned(),
        format!("DELETE FROM events WHERE intent_id = '{id}'"),
        "DELETE FROM events".to_owned(),
    ];
    for sql in attempts {
        let err = sqlx::query(&sql).execute(&mut raw).await.expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if matches!(location, DatabaseLocation::Postgres(_)) {
        let err = sqlx::query("TRUNCATE events CASCADE").execute(&mut raw).await.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let events = app.events(&id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["state_patched", "intent_created"]);
    assert!(events.iter().all(|e| e["actor"] != "forged"));
}

#[tokio::test]
async fn a_refused_write_leaves_no_trace() {
    let Fixture { _dir, app, id, mut raw, .. } = fixture().await;
    // A stale version, a lease conflict and a half-bad patch list: each one is refused whole.
    let stale = app.patch_state("b", &id, 1, json!({"patches": [{"op": "set", "path": "/k", "value": 2}]})).await;
    assert_eq!((stale.status, stale.body["current_version"].as_i64()), (StatusCode::CONFLICT, Some(2)));
    let lease = app
        .as_agent(Some("holder"), "POST", &format!("/api/v1/intents/{id}/leases"), Some(json!({"scope": "k"})))
        .await;
    assert_eq!(lease.status, StatusCode::OK);
    let guarded = app.patch_state("b", &id, 2, json!({"patches": [{"op": "set", "path": "/k", "value": 3}]})).await;
    assert_eq!(guarded.status, StatusCode::CONFLICT);
    let bad = app
        .patch_state(
            "holder",
            &id,
            2,
            json!({"patches": [{"op": "set", "path": "/k", "value": 9}, {"op": "bogus", "path": "/k"}]}),
        )
        .await;
    assert!(bad.status.is_client_error(), "{:?}", bad.body);
    let (version, state): (i64, String) =
        sqlx::query_as("SELECT version, state FROM intents WHERE id = $1").bind(&id).fetch_one(&mut raw).await.unwrap();
    assert_eq!((version, serde_json::from_str::<serde_json::Value>(&state).unwrap()), (2, json!({"k": 1})));
    let patched: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE intent_id = $1 AND event_type = 'state_patched'")
            .bind(&id)
            .fetch_one(&mut raw)
            .await
            .unwrap();
    assert_eq!(patched, 1);
}
