//! The intent list by cursor (our extension of `GET /api/v1/intents`): `next_cursor` on every
//! page that more intents follow, `cursor` reading the page after it, equal to the offset walk
//! under filters and ACLs, ties broken by `seq`, stable while intents are created, and a 422
//! naming the field for a malformed cursor or a cursor with an offset.

#[macro_use]
mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};

fn titles(page: &Value) -> Vec<String> {
    page["intents"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_owned()).collect()
}

/// Every page as `agent` from `query` (e.g. `status=draft&`) by cursor: the titles, checking
/// each page's total and offset, and that `next_cursor` is given exactly when more follow.
async fn cursor_walk(app: &TestApp, agent: &str, query: &str, limit: usize, total: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..=total + 1 {
        let after = cursor.as_ref().map(|c| format!("&cursor={c}")).unwrap_or_default();
        let path = format!("/api/v1/intents?{query}limit={limit}{after}");
        let r = app.as_agent(Some(agent), "GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        assert_eq!((&r.body["total"], &r.body["offset"]), (&json!(total), &json!(0)), "{path}");
        let page = titles(&r.body);
        out.extend(page.iter().cloned());
        match r.body.get("next_cursor") {
            Some(Value::String(c)) => {
                assert_eq!(page.len(), limit, "{path}: a cursor only on a full page");
                assert!(out.len() < total, "{path}: a cursor although nothing follows");
                cursor = Some(c.clone());
            }
            None => {
                assert_eq!(out.len(), total, "{path}: no cursor although more follow");
                return out;
            }
            Some(other) => panic!("{path}: next_cursor {other}"),
        }
    }
    panic!("the walk did not end")
}

/// Every page as `agent` by offset.
async fn offset_walk(app: &TestApp, agent: &str, query: &str, limit: usize, total: usize) -> Vec<String> {
    let mut out = Vec::new();
    for offset in (0..total.max(1)).step_by(limit) {
        let path = format!("/api/v1/intents?{query}limit={limit}&offset={offset}");
        let r = app.as_agent(Some(agent), "GET", &path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        assert_eq!(r.body.get("next_cursor").is_some(), offset + limit < total, "{path}: {:?}", r.body);
        out.extend(titles(&r.body));
    }
    out
}

#[tokio::test]
async fn cursor_pages_equal_offset_pages_with_ties_filters_and_acls() {
    let dir = tempfile::tempdir().unwrap();
    let (app, location) = common::app_on_shared_database(dir.path()).await;
    let mut ids = Vec::new();
    for n in 0..9 {
        let status = if n % 3 == 0 { "active" } else { "draft" };
        let body = json!({"title": format!("i{n}"), "status": status});
        let r = app.as_agent(Some("owner"), "POST", "/api/v1/intents", Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_owned());
    }
    // Ties: i2, i3 and i4 get i1's time, i7 gets i0's (a page boundary falls inside them).
    let raw = common::RawDb::connect(&location).await;
    for (to, from) in [(2, 1), (3, 1), (4, 1), (7, 0)] {
        on_raw!(raw, |p| {
            sqlx::query("UPDATE intents SET created_at = (SELECT created_at FROM intents WHERE id = $1) WHERE id = $2")
                .bind(&ids[from])
                .bind(&ids[to])
                .execute(p)
                .await
                .unwrap();
        });
    }
    let expected = ["i8", "i6", "i5", "i4", "i3", "i2", "i1", "i7", "i0"];
    for limit in [1, 2, 3, 4, 9, 10] {
        assert_eq!(cursor_walk(&app, "anyone", "", limit, 9).await, expected, "limit {limit}");
        assert_eq!(offset_walk(&app, "anyone", "", limit, 9).await, expected, "limit {limit}");
    }
    // A filter: the drafts.
    let drafts = ["i8", "i5", "i4", "i2", "i1", "i7"];
    for limit in [1, 2, 5] {
        assert_eq!(cursor_walk(&app, "anyone", "status=draft&", limit, 6).await, drafts, "limit {limit}");
        assert_eq!(offset_walk(&app, "anyone", "status=draft&", limit, 6).await, drafts, "limit {limit}");
    }
    // i3 and i5 restricted: a stranger no longer sees them; their creator and a reader do.
    for i in [3, 5] {
        let acl = json!({"default_policy": "closed", "entries": [{"principal_id": "reader", "permission": "read"}]});
        let r = app.as_agent(Some("owner"), "PUT", &format!("/api/v1/intents/{}/acl", ids[i]), Some(acl)).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let narrowed = ["i8", "i6", "i4", "i2", "i1", "i7", "i0"];
    for limit in [1, 2, 3, 7] {
        assert_eq!(cursor_walk(&app, "stranger", "", limit, 7).await, narrowed, "limit {limit}");
        assert_eq!(offset_walk(&app, "stranger", "", limit, 7).await, narrowed, "limit {limit}");
        assert_eq!(cursor_walk(&app, "reader", "", limit, 9).await, expected, "limit {limit}");
        assert_eq!(cursor_walk(&app, "owner", "", limit, 9).await, expected, "limit {limit}");
    }
    let narrowed_drafts = ["i8", "i4", "i2", "i1", "i7"];
    assert_eq!(cursor_walk(&app, "stranger", "status=draft&", 2, 5).await, narrowed_drafts);
    // Switching from offset to cursor after a first page.
    let first = app.as_agent(Some("owner"), "GET", "/api/v1/intents?limit=4&offset=0", None).await;
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app.as_agent(Some("owner"), "GET", &format!("/api/v1/intents?limit=10&cursor={cursor}"), None).await;
    assert_eq!(titles(&rest.body), expected[4..], "{:?}", rest.body);
    assert_eq!(rest.body.get("next_cursor"), None);
}

#[tokio::test]
async fn an_intent_created_while_walking_neither_repeats_nor_hides_one() {
    let app = TestApp::memory().await;
    for n in 0..6 {
        app.intent(&format!("i{n}")).await;
    }
    let first = app.get("/api/v1/intents?limit=2").await;
    assert_eq!(titles(&first.body), ["i5", "i4"]);
    let mut cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    app.intent("new").await;
    let mut seen = titles(&first.body);
    for _ in 0..10 {
        let r = app.get(&format!("/api/v1/intents?limit=2&cursor={cursor}")).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["total"], 7, "the total counts the new intent");
        seen.extend(titles(&r.body));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, ["i5", "i4", "i3", "i2", "i1", "i0"], "the new intent sorts before the walk's start");
}

#[tokio::test]
async fn a_malformed_cursor_or_a_cursor_with_an_offset_is_refused_naming_the_field() {
    let app = TestApp::memory().await;
    for n in 0..3 {
        app.intent(&format!("i{n}")).await;
    }
    let cursor = app.get("/api/v1/intents?limit=1").await.body["next_cursor"].as_str().unwrap().to_owned();
    // base64url of "v1.x.1", "v2.1.1", a year past 9999, and not base64 at all.
    for bad in ["djEueC4x", "djIuMS4x", "djEuMzAwMDAwMDAwMDAwMDAwMDAwLjE", "%25%25", "not!a*cursor"] {
        let r = app.get(&format!("/api/v1/intents?cursor={bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {:?}", r.body);
        assert_eq!(r.body["detail"][0]["loc"], json!(["query", "cursor"]), "{bad}: {:?}", r.body);
    }
    let r = app.get(&format!("/api/v1/intents?cursor={cursor}&offset=1")).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(r.body["detail"][0]["loc"], json!(["query", "offset"]), "{:?}", r.body);
    // An offset of 0, or an empty cursor, is no conflict.
    let r = app.get(&format!("/api/v1/intents?cursor={cursor}&offset=0&limit=5")).await;
    assert_eq!((r.status, titles(&r.body)), (StatusCode::OK, vec!["i1".to_owned(), "i0".to_owned()]));
    let r = app.get("/api/v1/intents?cursor=&offset=1&limit=5").await;
    assert_eq!((r.status, titles(&r.body)), (StatusCode::OK, vec!["i1".to_owned(), "i0".to_owned()]));
    // A well-formed cursor past every intent: an empty page with the whole total.
    let end = app.get(&format!("/api/v1/intents?limit=2&cursor={cursor}")).await;
    assert_eq!(end.body.get("next_cursor"), None, "{:?}", end.body);
    let last = "djEuMC4w"; // v1.0.0: before every intent
    let r = app.get(&format!("/api/v1/intents?cursor={last}")).await;
    assert_eq!((r.status, titles(&r.body).len(), &r.body["total"]), (StatusCode::OK, 0, &json!(3)));
}

/// A row whose `created_at` cannot be read back (written by another program) never fails the
/// list: the page ends before it, the cursor is the last row whose key reads, and the next
/// page leaves the damaged row out (logged, as every list does). SQLite only: PostgreSQL's
/// `TIMESTAMPTZ` cannot hold such a value.
#[tokio::test]
async fn a_damaged_created_at_ends_the_page_early_and_never_fails_the_walk() {
    let dir = tempfile::tempdir().unwrap();
    let (app, location) = common::app_on_shared_database(dir.path()).await;
    for title in ["a", "b", "c"] {
        app.intent(title).await;
    }
    let common::RawDb::Sqlite(raw) = common::RawDb::connect(&location).await else {
        return;
    };
    // Still ordered just after its old value, but no longer a timestamp.
    sqlx::query("UPDATE intents SET created_at = created_at || 'x' WHERE title = 'b'").execute(&raw).await.unwrap();

    let first = app.get("/api/v1/intents?limit=2").await;
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    assert_eq!(titles(&first.body), ["c"], "the page ends before the damaged row");
    let cursor = first.body["next_cursor"].as_str().expect("more follow").to_owned();
    let second = app.get(&format!("/api/v1/intents?limit=2&cursor={cursor}")).await;
    assert_eq!(second.status, StatusCode::OK, "{:?}", second.body);
    assert_eq!(titles(&second.body), ["a"], "the damaged row is left out, the walk goes on");
    assert_eq!(second.body.get("next_cursor"), None);
}
