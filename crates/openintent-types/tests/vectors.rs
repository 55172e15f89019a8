//! Every captured exchange of the protocol (real traffic of the reference server), kept in
//! `tests/vectors/` (a copy of the protocol's captured examples; its README says how to refresh
//! it), is checked:
//!
//! - every file has the documented vector shape, and the folder's README indexes exactly the files
//!   present, each with the method, path and status it captured;
//! - the core protocol's vectors (the README's first table) are read with the models of this
//!   crate: response bodies deserialize into their model, request bodies parse into their request
//!   type and serialize back to the captured JSON;
//! - the agent-platform vectors (the README's PROTOCOL-AGENTS.md table: agents, graphs, HITL,
//!   governance, tracing, messaging, ACL, SSE) are read with the models where their route is one
//!   this crate models (intents, events, statuses, error bodies, intent streams); the others,
//!   whose routes and models this crate does not have yet, are checked for shape and counted.
//!
//! The folder is walked, so a new vector is covered automatically; a core vector whose route is
//! not classified fails the test. A new capture is checked by copying it in (see the folder's
//! README).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use openintent_types::wire::ListBody;
use openintent_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

/// Deserializes `body` as `T` and returns it re-serialized, failing with the file name.
fn read<T: DeserializeOwned + Serialize>(file: &str, body: &Value) -> Value {
    let model: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: response does not read as {}: {e}", std::any::type_name::<T>()));
    serde_json::to_value(&model).unwrap()
}

fn read_list<T: DeserializeOwned + Serialize>(file: &str, body: &Value) -> usize {
    let list: ListBody<T> = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: response does not read as a list of {}: {e}", std::any::type_name::<T>()));
    for item in &list.items {
        serde_json::to_value(item).unwrap();
    }
    list.items.len()
}

/// The request body parses into `T`, validates, and serializes (in the superset form clients
/// send) to the captured JSON: every captured key with the same value, and nothing else but the
/// synonyms the model declares.
fn request_roundtrip<T: DeserializeOwned + Serialize + Validate + WireModel>(file: &str, body: &Value) {
    let req: T = serde_json::from_value(body.clone())
        .unwrap_or_else(|e| panic!("{file}: request does not read as {}: {e}", std::any::type_name::<T>()));
    req.validate().unwrap_or_else(|e| panic!("{file}: captured request fails validation: {e}"));
    let back = wire::to_superset_value(&req);
    let (Value::Object(captured), Value::Object(ours)) = (body, &back) else { panic!("{file}: not objects") };
    for (k, v) in captured {
        let mine = ours.get(k).unwrap_or_else(|| panic!("{file}: key {k} is not written back ({back})"));
        assert!(json_eq(v, mine), "{file}: key {k}: captured {v}, written {mine}");
    }
    for k in ours.keys().filter(|k| !captured.contains_key(*k)) {
        let declared = T::ALSO_EMIT.iter().any(|(c, e)| e == k || (c == k && captured.contains_key(*e)));
        assert!(declared, "{file}: writes an extra key {k} ({back})");
    }
}

/// JSON equality with numbers compared by value (`1500` equals `1500.0`).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

/// Compares the fields the model keeps with the captured body (numbers as f64, timestamps by
/// instant), so a field read under the wrong name shows up.
fn assert_fields_kept(file: &str, captured: &Value, written: &Value) {
    let (Value::Object(c), Value::Object(w)) = (captured, written) else { return };
    for (k, v) in c {
        let Some(ours) = w.get(k) else { continue };
        let same = match (v, ours) {
            (Value::String(a), Value::String(b)) if k.ends_with("_at") => {
                time::parse_timestamp(a).ok() == time::parse_timestamp(b).ok()
            }
            (a, b) => json_eq(a, b),
        };
        assert!(same, "{file}: field {k}: captured {v}, model wrote {ours}");
    }
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_matches('/').split('/').collect()
}

/// The two tables of the vectors' README: the core protocol (PROTOCOL.md) and the agent platform
/// (PROTOCOL-AGENTS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Section {
    Core,
    AgentPlatform,
}

/// The file-name prefixes of the agent-platform vectors, one per area.
const AGENT_PLATFORM_AREAS: [&str; 8] =
    ["agents_", "graph_", "hitl_", "governance_", "tracing_", "messaging_", "acl_", "sse_"];

/// Agent-platform vectors on a route this crate models, carrying what a model it does not have
/// yet would read. Each is checked for shape, and must still fail to read with the models (take
/// it off this list once it reads).
const NOT_YET_MODELLED: [(&str, &str); 0] = [];

/// How many vectors each table held when they were copied in: a refresh may add, not lose.
const AT_LEAST: [(Section, usize); 2] = [(Section::Core, 69), (Section::AgentPlatform, 157)];

/// One row of the README's index: the file's table, method, path template and status.
#[derive(Debug)]
struct IndexRow {
    section: Section,
    method: String,
    path: String,
    status: u64,
}

/// What the walk checked, per table.
#[derive(Debug, Default)]
struct Tally {
    /// Responses read with a model (or checked as an error body, a 204, an event stream).
    responses: usize,
    /// Request bodies parsed, validated and written back.
    requests: usize,
    /// Vectors of routes this crate has no model for, checked for shape: (file, why).
    shape_only: Vec<(String, String)>,
}

#[test]
fn every_captured_vector_reads() {
    let tallies = walk(&examples_dir());
    let (core, agents) = (&tallies[&Section::Core], &tallies[&Section::AgentPlatform]);
    println!(
        "core: {} responses ({} request bodies) read with the models; agent platform: {} read with the \
         models ({} request bodies), {} checked for shape only (no model here yet):",
        core.responses,
        core.requests,
        agents.responses,
        agents.requests,
        agents.shape_only.len()
    );
    for (file, why) in &agents.shape_only {
        println!("  {file}: {why}");
    }
}

/// A copy of the vectors in a temporary folder, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("openintent-vectors-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(examples_dir()).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
        Scratch(dir)
    }

    /// Rewrites the vector `file` with `change`.
    fn edit(&self, file: &str, change: impl FnOnce(&mut Value)) {
        let path = self.0.join(file);
        let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        change(&mut doc);
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }

    /// The message the walk of this copy panics with.
    fn walk_fails(&self) -> String {
        let payload = std::panic::catch_unwind(|| walk(&self.0)).expect_err("the walk accepts the damaged copy");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_missing_or_broken_vector_fails_the_walk() {
    // The agent-platform vectors below have no model here yet: only their index and shape hold them.
    let copy = Scratch::new("missing");
    std::fs::remove_file(copy.0.join("graph_ready.json")).unwrap();
    let msg = copy.walk_fails();
    assert!(msg.contains("missing") && msg.contains("graph_ready.json"), "{msg}");

    let copy = Scratch::new("unindexed");
    std::fs::copy(copy.0.join("acl_set.json"), copy.0.join("acl_set_again.json")).unwrap();
    let msg = copy.walk_fails();
    assert!(msg.contains("not in the README's index") && msg.contains("acl_set_again.json"), "{msg}");

    let copy = Scratch::new("truncated");
    let path = copy.0.join("agents_register.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    assert!(copy.walk_fails().starts_with("agents_register.json: not JSON"));

    let copy = Scratch::new("no-status");
    copy.edit("messaging_send_message.json", |v| {
        v["response"].as_object_mut().unwrap().remove("status");
    });
    assert!(copy.walk_fails().starts_with("messaging_send_message.json: response status"));

    let copy = Scratch::new("stray-key");
    copy.edit("hitl_respond.json", |v| v["request"]["params"] = Value::from("x"));
    assert!(copy.walk_fails().starts_with("hitl_respond.json: request has an undocumented key \"params\""));

    let copy = Scratch::new("two-bodies");
    copy.edit("governance_set.json", |v| v["response"]["body_text"] = Value::from("{}"));
    assert!(copy.walk_fails().starts_with("governance_set.json: the response needs exactly one of body"));

    let copy = Scratch::new("bad-frame");
    copy.edit("sse_subscribe_channel.json", |v| {
        let text = v["response"]["body_text"].as_str().unwrap().replacen("data: {", "data: {{", 1);
        v["response"]["body_text"] = Value::from(text);
    });
    assert!(copy.walk_fails().starts_with("sse_subscribe_channel.json: frame data"));

    let copy = Scratch::new("other-status");
    copy.edit("agents_heartbeat.json", |v| v["response"]["status"] = Value::from(201));
    assert!(copy.walk_fails().contains("agents_heartbeat.json: status differs from the index"));

    // A core vector on a route without a model fails as it always did.
    let copy = Scratch::new("core-unclassified");
    let readme = std::fs::read_to_string(copy.0.join("README.md")).unwrap();
    let readme = readme.replace(
        "| `get_intent.json` | GET | `/api/v1/intents/{id}` |",
        "| `get_intent.json` | GET | `/api/v1/widgets/{id}` |",
    );
    std::fs::write(copy.0.join("README.md"), readme).unwrap();
    copy.edit("get_intent.json", |v| v["request"]["path"] = Value::from("/api/v1/widgets/w1"));
    let msg = copy.walk_fails();
    assert!(msg.starts_with("get_intent.json: no model for GET /api/v1/widgets/w1 (200); classify it"), "{msg}");
}

/// Checks every vector of `dir` against its index and shape, and reads it with the models;
/// panics on the first failure.
fn walk(dir: &Path) -> BTreeMap<Section, Tally> {
    let index = read_index(dir);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the vectors folder {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let names: BTreeSet<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    let indexed: BTreeSet<String> = index.keys().cloned().collect();
    let missing: Vec<_> = indexed.difference(&names).collect();
    assert!(missing.is_empty(), "indexed in {}/README.md but missing: {missing:?}", dir.display());
    let unindexed: Vec<_> = names.difference(&indexed).collect();
    assert!(unindexed.is_empty(), "vector files not in the README's index: {unindexed:?}");
    for (section, least) in AT_LEAST {
        let n = index.values().filter(|r| r.section == section).count();
        assert!(n >= least, "{section:?}: {n} vectors, expected at least {least} in {}", dir.display());
    }
    for area in AGENT_PLATFORM_AREAS {
        assert!(
            index.iter().any(|(f, r)| r.section == Section::AgentPlatform && f.starts_with(area)),
            "no agent-platform vector of the area {area}"
        );
    }

    let mut tallies: BTreeMap<Section, Tally> = BTreeMap::new();
    for path in &files {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: not JSON: {e}"));
        check_shape(&file, &doc);
        let row = &index[&file];
        check_index_row(&file, &doc, row);
        if row.section == Section::AgentPlatform {
            assert!(AGENT_PLATFORM_AREAS.iter().any(|a| file.starts_with(a)), "{file}: not named after an area");
        }
        let tally = tallies.entry(row.section).or_default();
        if let Some((_, why)) = NOT_YET_MODELLED.iter().find(|(f, _)| *f == file) {
            assert_eq!(row.section, Section::AgentPlatform, "{file}: a core vector must read");
            let attempt = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_with_models(&file, &doc, row.section, &mut Tally::default())
            }));
            assert!(!matches!(attempt, Ok(Ok(()))), "{file} reads with the models now: take it off NOT_YET_MODELLED");
            tally.shape_only.push((file, (*why).to_owned()));
            continue;
        }
        if let Err(why) = read_with_models(&file, &doc, row.section, tally) {
            match row.section {
                Section::Core => panic!("{file}: {why}; classify it in this test"),
                Section::AgentPlatform => tally.shape_only.push((file, why)),
            }
        }
    }

    let core = tallies.get(&Section::Core).expect("core vectors");
    assert!(core.shape_only.is_empty());
    assert!(core.responses >= 60, "only {} core responses checked", core.responses);
    assert!(core.requests >= 20, "only {} core request bodies checked", core.requests);
    let agents = tallies.get(&Section::AgentPlatform).expect("agent-platform vectors");
    let n_agents = index.values().filter(|r| r.section == Section::AgentPlatform).count();
    assert_eq!(agents.responses + agents.shape_only.len(), n_agents, "every agent-platform vector is accounted for");
    // The areas whose routes this crate does model are read with them.
    assert!(agents.responses >= 30, "only {} agent-platform responses read with the models", agents.responses);
    tallies
}

/// Reads the index tables of the folder's README: `| `file.json` | METHOD | `path` | status | note |`.
/// Rows before any `## ` heading are the core protocol's; the agent platform's come under the
/// heading naming PROTOCOL-AGENTS.md.
fn read_index(dir: &Path) -> BTreeMap<String, IndexRow> {
    let readme = dir.join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap_or_else(|e| panic!("{}: {e}", readme.display()));
    let mut section = Section::Core;
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            assert!(
                heading.contains("PROTOCOL-AGENTS.md"),
                "README section {heading:?} is not classified in this test"
            );
            section = Section::AgentPlatform;
            continue;
        }
        if !line.starts_with("| `") {
            continue;
        }
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let [_, file, method, path, status, ..] = cells.as_slice() else { panic!("README row: {line}") };
        let unquote = |s: &str| s.strip_prefix('`').and_then(|s| s.strip_suffix('`')).map(str::to_owned);
        let file = unquote(file).unwrap_or_else(|| panic!("README row without a file: {line}"));
        let row = IndexRow {
            section,
            method: (*method).to_owned(),
            path: unquote(path).unwrap_or_else(|| panic!("README row without a path: {line}")),
            status: status.parse().unwrap_or_else(|e| panic!("README row status {status:?}: {e}")),
        };
        assert!(rows.insert(file.clone(), row).is_none(), "{file} is indexed twice");
    }
    assert!(!rows.is_empty(), "no index rows in {}", readme.display());
    rows
}

/// The vector captured what its index row says: the method, the path (`{id}` standing for one
/// segment) and the status.
fn check_index_row(file: &str, doc: &Value, row: &IndexRow) {
    assert_eq!(doc["request"]["method"], row.method.as_str(), "{file}: method differs from the index");
    assert_eq!(doc["response"]["status"], row.status, "{file}: status differs from the index");
    let path = doc["request"]["path"].as_str().unwrap();
    let (template, captured) = (segments(&row.path), segments(path));
    let matches =
        template.len() == captured.len() && template.iter().zip(&captured).all(|(t, c)| *t == "{id}" || t == c);
    assert!(matches, "{file}: path {path} does not match the indexed {}", row.path);
}

fn object<'a>(file: &str, what: &str, v: &'a Value) -> &'a Map<String, Value> {
    v.as_object().unwrap_or_else(|| panic!("{file}: {what} is not an object: {v}"))
}

fn only_keys(file: &str, what: &str, o: &Map<String, Value>, allowed: &[&str]) {
    for k in o.keys() {
        assert!(allowed.contains(&k.as_str()), "{file}: {what} has an undocumented key {k:?}");
    }
}

/// The layout the README documents:
///
/// ```text
/// {"request":  {"method", "path", "query"?, "headers", "body"? | "body_text"?},
///  "response": {"status", "headers", "body" | "body_text"},
///  "note"?: "<observation>", "triggered_by"?: ["<calls made while an SSE stream was open>"]}
/// ```
///
/// and what its names and notes promise: JSON bodies come as `application/json`, event streams as
/// `text/event-stream` (frames of `event:`/`data:` lines whose data is JSON), empty 204s with no
/// content type, `Allow` only on a 405; `error_` and `<area>_error_` files capture failures,
/// `*_unsupported` files routes the reference does not have (404 or 405).
fn check_shape(file: &str, doc: &Value) {
    let top = object(file, "the vector", doc);
    only_keys(file, "the vector", top, &["request", "response", "note", "triggered_by"]);

    let req = object(file, "request", top.get("request").unwrap_or(&Value::Null));
    only_keys(file, "request", req, &["method", "path", "query", "headers", "body", "body_text"]);
    let method = req.get("method").and_then(Value::as_str).unwrap_or_default();
    assert!(["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method), "{file}: request method {method:?}");
    let path = req.get("path").and_then(Value::as_str).unwrap_or_default();
    assert!(path.starts_with('/') && !path.contains('?'), "{file}: request path {path:?}");
    if let Some(query) = req.get("query") {
        let query = object(file, "request query", query);
        assert!(query.values().all(|v| v.is_string() || v.is_number() || v.is_boolean()), "{file}: query {query:?}");
    }
    let req_headers = object(file, "request headers", req.get("headers").unwrap_or(&Value::Null));
    assert!(req_headers.values().all(Value::is_string), "{file}: request header values are strings");
    assert!(!(req.contains_key("body") && req.contains_key("body_text")), "{file}: request body and body_text");
    if req.contains_key("body") {
        let ct = req_headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v);
        assert!(ct.is_some_and(|v| v == "application/json"), "{file}: a JSON request body sent as {ct:?}");
    }
    if let Some(t) = req.get("body_text") {
        assert!(t.is_string(), "{file}: request body_text is not text");
    }

    let resp = object(file, "response", top.get("response").unwrap_or(&Value::Null));
    only_keys(file, "response", resp, &["status", "headers", "body", "body_text"]);
    let status = resp.get("status").and_then(Value::as_u64).unwrap_or_default();
    assert!((100..=599).contains(&status), "{file}: response status {:?}", resp.get("status"));
    let headers = object(file, "response headers", resp.get("headers").unwrap_or(&Value::Null));
    for (k, v) in headers {
        assert!(v.is_string() && *k == k.to_ascii_lowercase(), "{file}: response header {k}: {v}");
    }
    let content_type = headers.get("content-type").and_then(Value::as_str);
    let stream = content_type.is_some_and(|c| c.starts_with("text/event-stream"));
    let allowed: &[&str] =
        if stream { &["content-type", "cache-control", "x-accel-buffering"] } else { &["content-type", "allow"] };
    only_keys(file, "response headers", headers, allowed);
    assert_eq!(headers.contains_key("allow"), status == 405, "{file}: Allow goes with a 405");
    match (resp.get("body"), resp.get("body_text")) {
        (Some(_), None) => assert_eq!(content_type, Some("application/json"), "{file}: a JSON body's content type"),
        (None, Some(Value::String(text))) => match content_type {
            _ if stream => check_sse_framing(file, text),
            Some(c) if c.starts_with("text/plain") => assert!(!text.is_empty(), "{file}: empty text body"),
            None => assert!(status == 204 && text.is_empty(), "{file}: a body without a content type"),
            Some(other) => panic!("{file}: a text body as {other}"),
        },
        _ => panic!("{file}: the response needs exactly one of body (JSON) and body_text (text)"),
    }
    if stream {
        assert!(status == 200 && method == "GET", "{file}: an event stream answers a GET with 200");
    }

    if let Some(note) = top.get("note") {
        assert!(note.as_str().is_some_and(|n| !n.is_empty()), "{file}: note {note}");
    }
    if let Some(calls) = top.get("triggered_by") {
        let calls = calls.as_array().unwrap_or_else(|| panic!("{file}: triggered_by is not a list"));
        assert!(stream && !calls.is_empty(), "{file}: triggered_by belongs to a captured event stream");
        assert!(calls.iter().all(|c| c.as_str().is_some_and(|c| !c.is_empty())), "{file}: triggered_by {calls:?}");
    }

    let stem = file.trim_end_matches(".json");
    if stem.ends_with("_unsupported") {
        assert!(status == 404 || status == 405, "{file}: an unsupported route answered {status}");
    }
    if stem.starts_with("error_") || stem.contains("_error_") {
        // An event stream fails after its 200 headers: an empty stream is its failure.
        let empty_stream = stream && resp["body_text"] == "";
        assert!(status >= 400 || empty_stream, "{file}: a failure capture answered {status}");
    }
}

/// The raw text of a captured event stream: blank-line separated frames of `event:`, `data:`,
/// `id:`, `retry:` and `:` comment lines, every frame's data JSON.
fn check_sse_framing(file: &str, text: &str) {
    for block in text.split("\n\n") {
        let mut data = Vec::new();
        for line in block.lines() {
            let field = line.split(':').next().unwrap_or_default();
            assert!(["event", "data", "id", "retry", ""].contains(&field), "{file}: stream line {line:?}");
            if let Some(v) = line.strip_prefix("data:") {
                data.push(v.trim_start());
            }
        }
        if !data.is_empty() {
            let data = data.join("\n");
            serde_json::from_str::<Value>(&data).unwrap_or_else(|e| panic!("{file}: frame data {data:?}: {e}"));
        }
    }
}

/// Reads the exchange with the models of this crate, failing on any mismatch; `Err` says why a
/// vector has no model to read it with (its route, or a body that is not JSON).
fn read_with_models(file: &str, doc: &Value, section: Section, tally: &mut Tally) -> Result<(), String> {
    let method = doc["request"]["method"].as_str().unwrap().to_owned();
    let req_path = doc["request"]["path"].as_str().unwrap().to_owned();
    let status = doc["response"]["status"].as_u64().unwrap();
    let body = doc["response"].get("body").cloned();
    let req_body = doc["request"].get("body").cloned();
    let seg = segments(&req_path);

    if let Some(text) = doc["response"].get("body_text").and_then(Value::as_str)
        && status == 200
        && req_path.starts_with("/api/v1/subscribe/")
    {
        if !matches!(seg.as_slice(), ["api", "v1", "subscribe", "intents" | "agents" | "portfolios", _]) {
            return Err(format!("no model for the stream {req_path}"));
        }
        check_sse(file, text)?;
        tally.responses += 1;
        return Ok(());
    }

    if status >= 400 {
        let Some(body) = body else {
            return Err(format!("a {status} with a text body (the reference server failed), no error body to read"));
        };
        let body_detail_is_list = body["detail"].is_array();
        let err: ErrorBody = serde_json::from_value(body).unwrap_or_else(|e| panic!("{file}: error body: {e}"));
        assert!(!err.message().is_empty(), "{file}: error body without a message");
        // Request validation (FastAPI) lists field errors; the agent platform's handlers also
        // refuse with a text or an object detail.
        if status == 422 && (section == Section::Core || body_detail_is_list) {
            assert!(!err.field_errors().is_empty(), "{file}: 422 without field errors");
            // A field, or the whole body (`loc: ["body"]`, a missing body).
            let first = &err.field_errors()[0];
            let whole_body = first.loc == [Value::from("body")];
            assert!(!first.field().is_empty() || whole_body, "{file}: field error without a field");
        }
        tally.responses += 1;
        return Ok(());
    }
    if status == 204 {
        tally.responses += 1;
        return Ok(());
    }
    let body = body.unwrap_or_else(|| panic!("{file}: success without a JSON body"));
    let m = method.as_str();
    // Each arm checks the exchange; single models come back re-serialized for a field check,
    // lists and acknowledgements are checked in place (`Null`).
    let written = match (m, seg.as_slice()) {
        (_, [".well-known", "openintent.json"]) => read::<Discovery>(file, &body),
        (_, [".well-known", _]) | ("GET", ["api", "v1", "server", "config"]) => {
            assert!(body.is_object(), "{file}");
            body.clone()
        }
        ("POST", ["api", "v1", "intents"]) => {
            request_roundtrip::<CreateIntentRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Intent>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _]) => read::<Intent>(file, &body),
        ("POST", ["api", "v1", "intents", _, "state"]) => {
            request_roundtrip::<UpdateStateRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Intent>(file, &body)
        }
        ("POST", ["api", "v1", "intents", _, "status"]) => {
            request_roundtrip::<SetStatusRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Intent>(file, &body)
        }
        ("POST", ["api", "v1", "intents", _, "events"]) => {
            request_roundtrip::<LogEventRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<IntentEvent>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "events"]) => {
            assert!(read_list::<IntentEvent>(file, &body) > 0, "{file}");
            Value::Null
        }
        ("POST", ["api", "v1", "intents", _, "agents"]) => {
            request_roundtrip::<AssignAgentRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<AgentAssignment>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "agents"]) => {
            read_list::<AgentAssignment>(file, &body);
            Value::Null
        }
        ("POST", ["api", "v1", "intents", _, "leases"]) => {
            request_roundtrip::<AcquireLeaseRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            let lease: Lease = serde_json::from_value(body.clone()).unwrap();
            assert!(lease.status.is_none() && lease.released_at.is_none(), "{file}");
            read::<Lease>(file, &body)
        }
        ("PATCH", ["api", "v1", "intents", _, "leases", _]) => {
            request_roundtrip::<RenewLeaseRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Lease>(file, &body)
        }
        ("DELETE", ["api", "v1", "intents", _, "leases", _])
        | ("DELETE", ["api", "v1", "portfolios", _, "intents", _]) => {
            let ack: Ack = serde_json::from_value(body.clone()).unwrap();
            assert!(!ack.message.is_empty(), "{file}");
            Value::Null
        }
        ("GET", ["api", "v1", "intents", _, "leases"]) => {
            let list: ListBody<Lease> = serde_json::from_value(body.clone()).unwrap();
            assert!(!list.items.is_empty(), "{file}");
            Value::Null
        }
        ("POST", ["api", "v1", "intents", _, "arbitrate"]) => {
            request_roundtrip::<CreateArbitrationRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            let a: Arbitration = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(a.status, ArbitrationStatus::Pending, "{file}");
            read::<Arbitration>(file, &body)
        }
        ("POST", ["api", "v1", "intents", _, "decisions"]) => {
            request_roundtrip::<RecordDecisionRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            let d: Decision = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(d.id, body["decision_id"].as_str().unwrap(), "{file}: decision_id is the id");
            Value::Null
        }
        ("GET", ["api", "v1", "intents", _, "decisions"]) => {
            // The reference lists coordinator records here (not recorded decisions).
            assert!(body.is_array(), "{file}");
            Value::Null
        }
        ("POST", ["api", "v1", "intents", _, "attachments"]) => {
            request_roundtrip::<CreateAttachmentRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Attachment>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "attachments"]) => {
            read_list::<Attachment>(file, &body);
            Value::Null
        }
        ("POST", ["api", "v1", "intents", _, "costs"]) => {
            request_roundtrip::<RecordCostRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<CostRecord>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "costs"]) => {
            let list: ListBody<CostRecord> = serde_json::from_value(body.clone()).unwrap();
            let summary = CostSummary::from_records(&list.items);
            let expect: f64 = body.as_array().unwrap().iter().map(|c| c["amount"].as_f64().unwrap()).sum();
            assert!((summary.total - expect).abs() < 1e-9, "{file}");
            Value::Null
        }
        ("PUT", ["api", "v1", "intents", _, "retry-policy"]) => {
            request_roundtrip::<SetRetryPolicyRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<RetryPolicy>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "retry-policy"]) => read::<RetryPolicy>(file, &body),
        ("POST", ["api", "v1", "intents", _, "failures"]) => {
            request_roundtrip::<RecordFailureRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<FailureRecord>(file, &body)
        }
        ("GET", ["api", "v1", "intents", _, "failures"]) => {
            read_list::<FailureRecord>(file, &body);
            Value::Null
        }
        ("GET", ["api", "v1", "intents", _, "portfolios"]) | ("GET", ["api", "v1", "portfolios"]) => {
            read_list::<Portfolio>(file, &body);
            Value::Null
        }
        ("POST", ["api", "v1", "portfolios"]) => {
            request_roundtrip::<CreatePortfolioRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Portfolio>(file, &body)
        }
        ("GET", ["api", "v1", "portfolios", _]) => read::<Portfolio>(file, &body),
        ("PATCH", ["api", "v1", "portfolios", _, "status"]) => {
            request_roundtrip::<UpdatePortfolioStatusRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            read::<Portfolio>(file, &body)
        }
        ("POST", ["api", "v1", "portfolios", _, "intents"]) => {
            request_roundtrip::<AddIntentToPortfolioRequest>(file, req_body.as_ref().unwrap());
            tally.requests += 1;
            let m: PortfolioMembership = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(m.id, body["membership_id"].as_str().unwrap(), "{file}");
            Value::Null
        }
        ("GET", ["api", "v1", "portfolios", _, "intents"]) => {
            read_list::<Intent>(file, &body);
            Value::Null
        }
        _ => return Err(format!("no model for {method} {req_path} ({status})")),
    };
    if written.is_object() {
        assert_fields_kept(file, &body, &written);
    }
    tally.responses += 1;
    Ok(())
}

/// Splits a captured SSE stream into (event, data) frames and reads each with `StreamEvent`;
/// `Err` names the frames that have no model (read as `StreamEvent::Other`).
fn check_sse(file: &str, text: &str) -> Result<(), String> {
    let mut frames = 0;
    let mut unmodelled = BTreeSet::new();
    for block in text.split("\n\n") {
        let mut name = "message".to_owned();
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.trim_start().to_owned());
            }
        }
        if data.is_empty() {
            continue;
        }
        frames += 1;
        let ev = StreamEvent::parse(&name, &data.join("\n"));
        assert_eq!(ev.event_type(), name, "{file}");
        match (&ev, name.as_str()) {
            (StreamEvent::IntentChanged { intent, .. }, "state_patched" | "status_changed") => {
                assert!(intent.version >= 1, "{file}");
            }
            (StreamEvent::AgentAssigned(a), "agent_assigned") => assert!(!a.agent_id.is_empty(), "{file}"),
            (StreamEvent::PortfolioChanged { .. }, "intent_added" | "intent_removed") => {}
            (StreamEvent::Event(e), _) => assert_eq!(e.event_type.as_str(), name, "{file}"),
            (StreamEvent::Other { .. }, _) => {
                unmodelled.insert(name);
            }
            (other, _) => panic!("{file}: frame {name} read as {other:?}"),
        }
    }
    assert!(frames > 0, "{file}: no frames");
    if unmodelled.is_empty() { Ok(()) } else { Err(format!("no model for the stream frames {unmodelled:?}")) }
}

#[test]
fn sse_intent_data_uses_parent_intent_id() {
    // Intent data inside SSE carries `parent_intent_id`; it reads as `parent_id`.
    let ev = StreamEvent::parse(
        "state_patched",
        r#"{"id": "i", "title": "t", "parent_intent_id": "p", "version": 2, "status": "draft", "created_at": "2026-11-24T13:50:35.519942", "updated_at": "2026-11-24T13:50:35"}"#,
    );
    match ev {
        StreamEvent::IntentChanged { intent, event_type } => {
            assert_eq!(intent.parent_id.as_deref(), Some("p"));
            assert_eq!(event_type, EventType::StatePatched);
        }
        other => panic!("{other:?}"),
    }
}
