//! Properties of the database itself, on the backend under test (SQLite, or PostgreSQL when
//! `OPENINTENT_TEST_DATABASE_URL` is set): checked through a separate connection, as another
//! program with access to the database would try.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::{RawDb, TestApp};
use openintent_server::{DatabaseLocation, ServerConfig};
use serde_json::json;

/// An app over a fresh database, one intent in it whose state `/k` was set to 1 (version 2),
/// and a raw connection to the database.
struct Fixture {
    /// Holds the SQLite file: bind it for as long as the test runs.
    _dir: tempfile::TempDir,
    location: DatabaseLocation,
    app: TestApp,
    id: String,
    raw: RawDb,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let location = common::shared_test_database(dir.path()).await;
    let app = TestApp::with_config(ServerConfig::builder().database(location.clone()).build().unwrap()).await;
    let id = app.intent("stored").await;
    let w = app.patch_state("a", &id, 1, json!({"patches": [{"op": "set", "path": "/k", "value": 1}]})).await;
    assert_eq!(w.status, StatusCode::OK);
    let raw = RawDb::connect(&location).await;
    Fixture { _dir: dir, location, app, id, raw }
}

#[tokio::test]
async fn the_event_log_cannot_be_rewritten() {
    let Fixture { _dir, location, app, id, raw } = fixture().await;
    let attempts = [
        "UPDATE events SET actor = 'forged'".to_owned(),
        format!("DELETE FROM events WHERE intent_id = '{id}'"),
        "DELETE FROM events".to_owned(),
    ];
    for sql in attempts {
        let err = on_raw!(raw, |p| sqlx::query(&sql).execute(p).await.map(|_| ())).expect_err(&sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    if matches!(location, DatabaseLocation::Postgres(_)) {
        let truncate = on_raw!(raw, |p| sqlx::query("TRUNCATE events CASCADE").execute(p).await.map(|_| ()));
        let err = truncate.expect_err("truncate");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    let events = app.events(&id).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["event_type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["state_patched", "intent_created"]);
    assert!(events.iter().all(|e| e["actor"] != "forged"));
}

#[tokio::test]
async fn a_refused_write_leaves_no_trace() {
    let Fixture { _dir, app, id, raw, .. } = fixture().await;
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
    let (version, state): (i64, sqlx::types::Json<serde_json::Value>) = on_raw!(raw, |p| {
        sqlx::query_as("SELECT version, state FROM intents WHERE id = $1").bind(&id).fetch_one(p).await.unwrap()
    });
    assert_eq!((version, state.0), (2, json!({"k": 1})));
    let patched: i64 = on_raw!(raw, |p| {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE intent_id = $1 AND event_type = 'state_patched'")
            .bind(&id)
            .fetch_one(p)
            .await
            .unwrap()
    });
    assert_eq!(patched, 1);
}

/// PostgreSQL: timestamps are `TIMESTAMPTZ`, JSON documents `JSONB`, flags `BOOLEAN` (after the
/// migrations of a new database; an upgraded one is checked below).
#[tokio::test]
async fn postgres_columns_hold_native_types() {
    let Fixture { _dir, raw, .. } = fixture().await;
    let RawDb::Postgres(pool) = raw else { return };
    let columns = [
        ("intents", "created_at", "timestamp with time zone"),
        ("intents", "state", "jsonb"),
        ("events", "payload", "jsonb"),
        ("events", "created_at", "timestamp with time zone"),
        ("leases", "expires_at", "timestamp with time zone"),
        ("subscriptions", "active", "boolean"),
        ("retry_policies", "jitter", "boolean"),
        ("failures", "will_retry", "boolean"),
        ("webhook_deliveries", "payload", "jsonb"),
        ("webhook_deliveries", "next_attempt_at", "bigint"),
        ("stream_messages", "data", "jsonb"),
        ("agents", "capabilities", "jsonb"),
        ("agents", "capacity", "jsonb"),
        ("agents", "heartbeat_config", "jsonb"),
        ("agents", "metadata", "jsonb"),
        ("agents", "registered_at", "timestamp with time zone"),
        ("agents", "last_heartbeat_at", "timestamp with time zone"),
        ("agents", "status_changed_at", "timestamp with time zone"),
        ("suspension_timers", "due_at", "timestamp with time zone"),
        ("suspension_timers", "created_at", "timestamp with time zone"),
        ("approvals", "context", "jsonb"),
        ("approvals", "created_at", "timestamp with time zone"),
        ("approvals", "decided_at", "timestamp with time zone"),
        ("escalations", "context", "jsonb"),
        ("escalations", "created_at", "timestamp with time zone"),
        ("escalations", "resolved_at", "timestamp with time zone"),
        ("intent_acls", "updated_at", "timestamp with time zone"),
        ("acl_entries", "granted_at", "timestamp with time zone"),
        ("acl_entries", "expires_at", "timestamp with time zone"),
        ("access_requests", "capabilities", "jsonb"),
        ("access_requests", "decided_at", "timestamp with time zone"),
        ("decision_records", "alternatives_considered", "jsonb"),
        ("decision_records", "confidence", "double precision"),
        ("decision_records", "timestamp", "timestamp with time zone"),
        ("access_requests", "created_at", "timestamp with time zone"),
        ("channels", "members", "jsonb"),
        ("channels", "options", "jsonb"),
        ("channels", "created_at", "timestamp with time zone"),
        ("channels", "closed_at", "timestamp with time zone"),
        ("channel_messages", "payload", "jsonb"),
        ("channel_messages", "metadata", "jsonb"),
        ("channel_messages", "created_at", "timestamp with time zone"),
        ("channel_messages", "expires_at", "timestamp with time zone"),
        ("channel_messages", "read_at", "timestamp with time zone"),
    ];
    for (table, column, want) in columns {
        let got: String = sqlx::query_scalar(
            "SELECT data_type::text FROM information_schema.columns WHERE table_name = $1 AND column_name = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(got, want, "{table}.{column}");
    }
}

/// PostgreSQL: `0007_native_types.sql` keeps every value of a database written by 0.1.0 (text
/// timestamps, JSON text, 0/1 flags), reading the stored times as UTC even when the session's
/// zone is another.
#[tokio::test]
async fn the_native_types_migration_keeps_every_value_in_any_session_zone() {
    use sqlx::Connection;
    let Some(admin) = common::postgres_url() else {
        eprintln!("skipped: {} is not set", common::PG_ENV);
        return;
    };
    let url = common::fresh_postgres_database(&admin).await;
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let dump = std::fs::read_to_string(fixtures.join("postgres-v0.1.0.sql")).unwrap();
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(&dump).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    // Every timestamp, document and flag of the tables with one of each, as 0.1.0 stored them.
    const BEFORE: &str = "SELECT e.id, e.created_at, e.payload, s.active, s.expires_at, s.event_types \
                          FROM events e CROSS JOIN subscriptions s ORDER BY e.seq, s.seq";
    const AFTER: &str = "SELECT e.id, to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), \
                         e.payload::text, s.active::int::bigint, \
                         to_char(s.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), s.event_types::text \
                         FROM events e CROSS JOIN subscriptions s ORDER BY e.seq, s.seq";
    type Values = (String, String, String, i64, Option<String>, String);
    let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    let normal = |rows: Vec<Values>| -> Vec<_> {
        rows.into_iter()
            .map(|(id, at, payload, active, expires, types)| (id, at, json(&payload), active, expires, json(&types)))
            .collect()
    };
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let before: Vec<Values> = sqlx::query_as(BEFORE).fetch_all(&mut conn).await.unwrap();
    assert!(before.len() >= 16, "{}", before.len());
    // Twelve hours and 45 minutes ahead of UTC: reading the text in the session's zone would
    // shift every time.
    sqlx::raw_sql("SET TIME ZONE 'Pacific/Chatham'").execute(&mut conn).await.unwrap();
    let migration = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres/0007_native_types.sql"),
    )
    .unwrap();
    sqlx::raw_sql(&migration).execute(&mut conn).await.unwrap();
    let after: Vec<Values> = sqlx::query_as(AFTER).fetch_all(&mut conn).await.unwrap();
    assert_eq!(normal(after), normal(before));
}

/// A NUL character in a JSON string: SQLite keeps it; PostgreSQL's JSONB cannot hold one, and the
/// write is refused with a 400 (as PostgreSQL refuses NUL in any text), never a 500.
#[tokio::test]
async fn a_nul_character_in_a_document_is_kept_or_refused_with_a_400() {
    let app = TestApp::with_config(common::test_config().await).await;
    let id = app.intent("nul").await;
    let body = json!({"patches": [{"op": "set", "path": "/k", "value": "a\u{0}b"}]});
    let r = app.patch_state("a", &id, 1, body).await;
    if common::postgres_url().is_some() {
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
        assert_eq!(r.body["detail"], "Text values may not contain NUL characters");
        assert_eq!(app.get(&format!("/api/v1/intents/{id}")).await.body["version"], 1);
    } else {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(app.get(&format!("/api/v1/intents/{id}")).await.body["state"]["k"], "a\u{0}b");
    }
}
