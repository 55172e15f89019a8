//! Unit tests of the drivers: how SQLite stores and reads back timestamps, JSON and booleans,
//! where a placeholder's column is read from, the JSON nesting check at bind time, and the
//! rollback of a dropped transaction.

use chrono::TimeZone;
use serde_json::json;

use super::*;

async fn memory() -> Pool {
    Pool::Sqlite(
        LitePool::open_memory(&format!("file:driver-test-{}?mode=memory&cache=shared", fastrand::u64(..))).unwrap(),
    )
}

#[tokio::test]
async fn sqlite_stores_timestamps_json_and_booleans_as_before_and_reads_them_back() {
    let pool = memory().await;
    query("CREATE TABLE t (at TEXT, doc TEXT, flag INTEGER, n INTEGER, x REAL, s TEXT)").execute(&pool).await.unwrap();
    let at = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::microseconds(60);
    let done = query("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6), ($7, $8, $9, $10, $11, $12)")
        .bind(at)
        .bind(JsonDoc::of(&json!({"b": [1, 2.5], "a": null})))
        .bind(true)
        .bind(7_i64)
        .bind(0.5)
        .bind("text")
        .bind(None::<DateTime<Utc>>)
        .bind(None::<JsonDoc>)
        .bind(None::<bool>)
        .bind(None::<i64>)
        .bind(None::<f64>)
        .bind(None::<&str>)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 2);
    // The encodings of the files written before: wire-format text, JSON text, 0/1.
    let raw = query("SELECT typeof(at) AS a, at, doc, typeof(flag) AS f, flag FROM t WHERE at IS NOT NULL")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(raw.try_get::<String, _>("a").unwrap(), "text");
    assert_eq!(raw.try_get::<String, _>("at").unwrap(), "2026-01-02T03:04:05.000060");
    assert_eq!(raw.try_get::<String, _>("doc").unwrap(), r#"{"a":null,"b":[1,2.5]}"#);
    assert_eq!((raw.try_get::<String, _>("f").unwrap(), raw.try_get::<i64, _>("flag").unwrap()), ("integer".into(), 1));
    let rows = query("SELECT at, doc, flag, n, x, s FROM t ORDER BY at IS NULL").fetch_all(&pool).await.unwrap();
    let r = &rows[0];
    assert_eq!(r.try_get::<DateTime<Utc>, _>("at").unwrap(), at);
    assert_eq!(r.try_get::<Value, _>("doc").unwrap(), json!({"a": null, "b": [1, 2.5]}));
    assert_eq!(r.json::<Value, _>(1).unwrap(), json!({"a": null, "b": [1, 2.5]}));
    assert!(r.try_get::<bool, _>("flag").unwrap());
    assert_eq!((r.try_get::<i64, _>("n").unwrap(), r.try_get::<f64, _>("x").unwrap()), (7, 0.5));
    let r = &rows[1];
    assert_eq!(r.try_get::<Option<DateTime<Utc>>, _>("at").unwrap(), None);
    assert_eq!(r.json::<Option<Value>, _>("doc").unwrap(), None);
    assert_eq!(r.try_get::<Option<bool>, _>("flag").unwrap(), None);
    assert_eq!(r.try_get::<Option<String>, _>("s").unwrap(), None);
    // SQL NULL is an error where a value is required, naming the column.
    let err = r.try_get::<String, _>("s").unwrap_err();
    assert!(matches!(&err, sqlx::Error::ColumnDecode { index, .. } if index.contains("\"s\"")), "{err}");
    // Text still compares as time, against a bound timestamp.
    let later: i64 = query_scalar("SELECT COUNT(*) FROM t WHERE at > $1")
        .bind(at - chrono::Duration::microseconds(1))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(later, 1);
    let none: Option<i64> =
        query_scalar("SELECT 1 FROM t WHERE s = $1").bind("other").fetch_optional(&pool).await.unwrap();
    assert_eq!(none, None);
}

#[test]
fn the_column_of_a_placeholder_is_read_from_the_sql() {
    let insert = "INSERT INTO events (id, intent_id, payload, created_at) VALUES ($1, $2, COALESCE($3, '{}'), $4)";
    assert_eq!(column_of(insert, 3).as_deref(), Some("payload"));
    assert_eq!(column_of(insert, 1).as_deref(), Some("id"));
    let update = "UPDATE intents SET state = $1, version = version + 1 WHERE id = $12 AND version = $13";
    assert_eq!(column_of(update, 1).as_deref(), Some("state"));
    assert_eq!(column_of(update, 12).as_deref(), Some("id"));
    assert_eq!(column_of("SELECT $1", 1), None);
}

#[tokio::test]
async fn a_json_argument_nested_too_deep_is_refused_before_the_database() {
    use openintent_types::limits::MAX_JSON_DEPTH;
    let pool = memory().await;
    query("CREATE TABLE t (id TEXT, metadata TEXT)").execute(&pool).await.unwrap();
    let deep = |n: usize| (0..n).fold(json!(1), |v, _| json!({ "k": v }));
    query("INSERT INTO t (id, metadata) VALUES ($1, $2)")
        .bind("ok")
        .bind(deep(MAX_JSON_DEPTH))
        .execute(&pool)
        .await
        .unwrap();
    let err = query("INSERT INTO t (id, metadata) VALUES ($1, $2)")
        .bind("deep")
        .bind(JsonDoc::of(&deep(MAX_JSON_DEPTH + 1)))
        .execute(&pool)
        .await
        .unwrap_err();
    let sqlx::Error::Encode(source) = &err else { panic!("{err}") };
    assert_eq!(
        source.downcast_ref::<TooDeep>(),
        Some(&TooDeep { field: "metadata".into(), depth: MAX_JSON_DEPTH + 1 })
    );
    let err = query("UPDATE t SET metadata = $1").bind(deep(120)).execute(&pool).await.unwrap_err();
    match StoreError::from(err) {
        StoreError::Invalid(items) => assert_eq!(items[0].field(), "metadata", "{items:?}"),
        other => panic!("{other}"),
    }
    let n: i64 = query_scalar("SELECT COUNT(*) FROM t").fetch_one(&pool).await.unwrap();
    let kept: String = query_scalar("SELECT metadata FROM t").fetch_one(&pool).await.unwrap();
    assert_eq!((n, openintent_types::limits::json_text_depth(&kept)), (1, MAX_JSON_DEPTH));
}

#[tokio::test]
async fn a_transaction_is_an_executor_and_rolls_back_when_dropped() {
    let pool = memory().await;
    query("CREATE TABLE t (n INTEGER)").execute(&pool).await.unwrap();
    let mut tx = pool.begin_write().await.unwrap();
    query("INSERT INTO t VALUES ($1)").bind(1_i64).execute(&mut tx).await.unwrap();
    let seen: i64 = query_scalar("SELECT COUNT(*) FROM t").fetch_one(&mut tx).await.unwrap();
    assert_eq!(seen, 1);
    drop(tx);
    let kept: i64 = query_scalar("SELECT COUNT(*) FROM t").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 0);
    let mut tx = pool.begin_write().await.unwrap();
    query("INSERT INTO t VALUES ($1)").bind(2_i64).execute(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    let kept: Vec<Row> = query("SELECT n FROM t").fetch_all(&pool).await.unwrap();
    assert_eq!(kept.iter().map(|r| r.try_get::<i64, _>(0).unwrap()).collect::<Vec<_>>(), [2]);
}

/// A read outside a transaction that outruns its inline budget is interrupted by SQLite's
/// progress handler and run again in `block_in_place`: it still answers, in full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_read_is_run_again_off_the_runtime_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.db");
    drop(rusqlite::Connection::open(&path).unwrap().pragma_update(None, "journal_mode", "WAL"));
    let pool = Pool::Sqlite(LitePool::open_file(&path).unwrap());
    let sum: i64 = query_scalar(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) SELECT SUM(i) FROM n",
    )
    .bind(300_000_i64)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(sum, 300_000 * 300_001 / 2);
}

/// A statement on the pool that writes runs on the writer, after the write transaction that
/// holds it (on a read connection it would fail as busy while the transaction holds SQLite's
/// write lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_outside_a_transaction_waits_for_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.db");
    drop(rusqlite::Connection::open(&path).unwrap().pragma_update(None, "journal_mode", "WAL"));
    let pool = Pool::Sqlite(LitePool::open_file(&path).unwrap());
    query("CREATE TABLE t (n INTEGER)").execute(&pool).await.unwrap();
    let mut tx = pool.begin_write().await.unwrap();
    query("INSERT INTO t VALUES ($1)").bind(1_i64).execute(&mut tx).await.unwrap();
    let other = pool.clone();
    let write = tokio::spawn(async move {
        let done = query("INSERT INTO t VALUES ($1), ($1)").bind(5_i64).execute(&other).await?;
        Ok::<_, sqlx::Error>(done.rows_affected())
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tx.commit().await.unwrap();
    assert_eq!(write.await.unwrap().unwrap(), 2);
    let n: i64 = query_scalar("SELECT SUM(n) FROM t").fetch_one(&pool).await.unwrap();
    assert_eq!(n, 11);
}
