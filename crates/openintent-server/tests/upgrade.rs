//! Upgrades lose nothing: a database written by release 0.1.0 opens with today's server, which
//! migrates it and reads back every row through the API exactly as 0.1.0 did.
//!
//! `tests/fixtures/` holds a SQLite and a PostgreSQL database filled through 0.1.0's API with one
//! of everything (`fill_database.py`), dumped as SQL, and `upgrade-v0.1.0.json`, the answers
//! 0.1.0 gave to the GETs below on that data. Set `OPENINTENT_WRITE_UPGRADE_SNAPSHOT=1` to write
//! the answers of the server under test instead (only ever from a released version).
//!
//! The SQLite case always runs; the PostgreSQL one runs when the tests do (`common::PG_ENV`).

mod common;

use std::path::PathBuf;

use axum::http::StatusCode;
use common::TestApp;
use openintent_server::{DatabaseLocation, ServerConfig};
use serde_json::{Map, Value};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn ids(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap()
}

/// The GETs whose answers must survive the upgrade, with the fixture's ids put in.
fn paths(ids: &Value) -> Vec<String> {
    let s = |k: &str| ids[k].as_str().unwrap().to_owned();
    let (parent, child, dep, portfolio) = (s("parent"), s("child"), s("dependency"), s("portfolio"));
    let mut paths = Vec::new();
    for id in [&parent, &child, &dep] {
        paths.push(format!("/api/v1/intents/{id}"));
        paths.push(format!("/api/v1/intents/{id}/events"));
        paths.push(format!("/api/v1/intents/{id}/portfolios"));
    }
    for sub in [
        "leases?all=true",
        "agents",
        "arbitrations",
        "decisions",
        "attachments",
        "costs",
        "costs/summary",
        "retry-policy",
        "failures",
    ] {
        paths.push(format!("/api/v1/intents/{parent}/{sub}"));
    }
    paths.push("/api/v1/intents?limit=100".to_owned());
    paths.push(format!("/api/v1/intents?parent_id={parent}"));
    paths.push(format!("/api/v1/portfolios/{portfolio}"));
    paths.push(format!("/api/v1/portfolios/{portfolio}/intents"));
    paths.push("/api/v1/portfolios".to_owned());
    paths.push("/api/v1/subscriptions".to_owned());
    paths
}

/// A lease's `status` and `is_active` depend on the clock, not on the stored rows.
fn without_clock(mut v: Value) -> Value {
    match &mut v {
        Value::Array(items) => {
            for item in items.iter_mut() {
                *item = without_clock(item.take());
            }
        }
        Value::Object(map) => {
            if map.contains_key("scope") && map.contains_key("expires_at") {
                map.remove("status");
                map.remove("is_active");
            }
            for (_, item) in map.iter_mut() {
                *item = without_clock(item.take());
            }
        }
        _ => {}
    }
    v
}

async fn answers(app: &TestApp, ids: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for path in paths(ids) {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {:?}", r.body);
        out.insert(path, without_clock(r.body));
    }
    // Subscriptions' deliveries: their ids are only known from the list.
    let subs = app.get("/api/v1/subscriptions").await.body;
    for sub in subs["subscriptions"].as_array().unwrap() {
        let path = format!("/api/v1/subscriptions/{}/deliveries", sub["id"].as_str().unwrap());
        // Only a subscription's subscriber may read its deliveries.
        let r = app.as_agent(sub["subscriber_id"].as_str(), "GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "GET {path}: {:?}", r.body);
        out.insert(path, r.body);
    }
    out
}

/// Opens `location` (already holding the 0.1.0 data) with today's server and compares every
/// answer with 0.1.0's.
async fn check(location: DatabaseLocation, ids_file: &str, snapshot: &str) {
    let config = ServerConfig::builder().database(location).build().unwrap();
    let app = TestApp::with_config(config).await;
    let ids = ids(ids_file);
    let got = Value::Object(answers(&app, &ids).await);
    let file = fixture(snapshot);
    if std::env::var_os("OPENINTENT_WRITE_UPGRADE_SNAPSHOT").is_some() {
        std::fs::write(&file, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        return;
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let (got, want) = (got.as_object().unwrap(), want.as_object().unwrap());
    for (path, expected) in want {
        assert_eq!(got.get(path), Some(expected), "GET {path} changed across the upgrade");
    }
    assert_eq!(got.len(), want.len(), "the same GETs were answered");
    // And the upgraded database takes writes.
    let parent = ids["parent"].as_str().unwrap();
    let current = app.get(&format!("/api/v1/intents/{parent}")).await.body;
    let version = current["version"].as_i64().unwrap();
    let body = serde_json::json!({"patches": [{"op": "set", "path": "/upgraded", "value": true}]});
    let r = app.patch_state("upgrader", parent, version, body).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["version"].as_i64(), Some(version + 1));
}

#[tokio::test]
async fn a_sqlite_database_of_release_0_1_0_reads_back_whole() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v0.1.0.db");
    // The dump inserts rows table by table, in name order: foreign keys are checked once loaded.
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true).foreign_keys(false);
    let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
    let dump = std::fs::read_to_string(fixture("sqlite-v0.1.0.sql")).unwrap();
    sqlx::raw_sql(&dump).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    check(DatabaseLocation::SqliteFile(path), "sqlite-v0.1.0.ids.json", "upgrade-sqlite-v0.1.0.json").await;
}

#[tokio::test]
async fn a_postgres_database_of_release_0_1_0_reads_back_whole() {
    use sqlx::Connection;
    let Some(admin) = common::postgres_url() else {
        eprintln!("skipped: {} is not set", common::PG_ENV);
        return;
    };
    let url = common::fresh_postgres_database(&admin).await;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let dump = std::fs::read_to_string(fixture("postgres-v0.1.0.sql")).unwrap();
    sqlx::raw_sql(&dump).execute(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    check(DatabaseLocation::Postgres(url), "postgres-v0.1.0.ids.json", "upgrade-postgres-v0.1.0.json").await;
}
