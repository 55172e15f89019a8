//! Intent graphs (RFC-0002): dependencies added and removed as version-checked writes with
//! their events, cycles refused, the graph queries, and the readiness hook of status changes
//! (an intent whose last open dependency completes gets an `task.ready` event).
//!
//! The graph lives in `intents.parent_id` and `intents.depends_on` (a JSON array).

use std::collections::HashSet;

use openintent_types::graph::{cycle_if_added, unmet_dependencies};
use openintent_types::lifecycle::is_terminal;
use openintent_types::{EventType, Intent, IntentGraph, IntentStatus};
use serde_json::json;

use super::db::{Dialect, INTENT_NOT_FOUND, WriteTx, append_event, load_intent, lock_intent};
use super::driver::{query, query_scalar};
use super::rows::{INTENT_COLS, as_obj, intent_from_row, readable, to_json, ts};
use super::{Store, StoreError, StoreResult, Written, now};

/// The event written on an intent when the last of its dependencies completes. The name is the
/// upstream's RFC-0012 readiness event (`task.ready`: all dependencies satisfied), one the 0.17
/// Python SDK's closed `EventType` enum knows, so that SDK can still read the dependent's log.
pub(crate) const READY_EVENT: &str = "task.ready";

/// Why a dependency write is refused before anything is written.
const DEPENDENCY_NOT_FOUND: &str = "Dependency intent not found";

impl Store {
    /// Adds `dependency_id` to the intent's `depends_on` (version-checked), refusing unknown
    /// intents (404), duplicates and cycles (400, naming the cycle).
    pub(crate) async fn add_dependency(
        &self,
        id: &str,
        dependency_id: &str,
        expected_version: i64,
        actor: &str,
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        if !exists(&mut tx, dependency_id).await? {
            return Err(StoreError::NotFound(DEPENDENCY_NOT_FOUND));
        }
        check_version(&intent, expected_version)?;
        if intent.depends_on.iter().any(|d| d == dependency_id) {
            return Err(StoreError::BadRequest(format!("Dependency already exists: {id} depends on {dependency_id}")));
        }
        if tx.dialect == Dialect::Postgres {
            // One dependency write at a time across processes: two writes that each close half
            // of a cycle would otherwise both pass the check. Taken after the intent's lock.
            query("SELECT 1 FROM pg_advisory_xact_lock(hashtext($1))")
                .bind("openintent:intent-graph")
                .execute(&mut *tx)
                .await?;
        }
        let edges = reachable_edges(&mut tx, dependency_id).await?;
        if let Some(cycle) = cycle_if_added(&edges, id, dependency_id) {
            return Err(StoreError::BadRequest(format!("Dependency would create cycle: {}", cycle.join(" -> "))));
        }
        intent.depends_on.push(dependency_id.to_owned());
        let event = write_depends_on(&mut tx, &mut intent, EventType::DependencyAdded, dependency_id, actor).await?;
        tx.commit().await?;
        Ok((intent, event))
    }

    /// Removes `dependency_id` from the intent's `depends_on` (version-checked); 404 when it
    /// is not one of its dependencies.
    pub(crate) async fn remove_dependency(
        &self,
        id: &str,
        dependency_id: &str,
        expected_version: i64,
        actor: &str,
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        check_version(&intent, expected_version)?;
        let before = intent.depends_on.len();
        intent.depends_on.retain(|d| d != dependency_id);
        if intent.depends_on.len() == before {
            return Err(StoreError::NotFound("Dependency not found"));
        }
        let event = write_depends_on(&mut tx, &mut intent, EventType::DependencyRemoved, dependency_id, actor).await?;
        tx.commit().await?;
        Ok((intent, event))
    }

    /// The direct children of an intent, in creation order.
    pub(crate) async fn children(&self, id: &str) -> StoreResult<Vec<Intent>> {
        let rows = query(&format!("SELECT {INTENT_COLS} FROM intents WHERE parent_id = $1 ORDER BY seq"))
            .bind(id)
            .fetch_all(&self.db.pool)
            .await?;
        readable(&rows, intent_from_row)
    }

    /// Every descendant, depth-first pre-order (each intent once).
    pub(crate) async fn descendants(&self, id: &str) -> StoreResult<Vec<Intent>> {
        let mut out = Vec::new();
        let mut seen = HashSet::from([id.to_owned()]);
        let mut stack: Vec<Intent> = self.children(id).await?.into_iter().rev().collect();
        while let Some(next) = stack.pop() {
            if !seen.insert(next.id.clone()) {
                continue;
            }
            stack.extend(self.children(&next.id).await?.into_iter().rev());
            out.push(next);
        }
        Ok(out)
    }

    /// The parent first, up to the root (stops at an unknown parent or a loop).
    pub(crate) async fn ancestors(&self, intent: &Intent) -> StoreResult<Vec<Intent>> {
        let mut out: Vec<Intent> = Vec::new();
        let mut seen = HashSet::from([intent.id.clone()]);
        let mut parent = intent.parent_id.clone();
        while let Some(p) = parent {
            if !seen.insert(p.clone()) {
                break;
            }
            let Some(found) = self.get_intent(&p).await? else { break };
            parent = found.parent_id.clone();
            out.push(found);
        }
        Ok(out)
    }

    /// The intents of `depends_on` that exist, in its order.
    pub(crate) async fn dependencies(&self, intent: &Intent) -> StoreResult<Vec<Intent>> {
        let mut out = Vec::new();
        for d in &intent.depends_on {
            if let Some(found) = self.get_intent(d).await? {
                out.push(found);
            }
        }
        Ok(out)
    }

    /// Every intent whose `depends_on` holds `id`, in creation order.
    pub(crate) async fn dependents(&self, id: &str) -> StoreResult<Vec<Intent>> {
        let (holds, value) = depends_on_holds(self.db.dialect, id);
        let rows = query(&format!("SELECT {INTENT_COLS} FROM intents WHERE {holds} ORDER BY seq"))
            .bind(value)
            .fetch_all(&self.db.pool)
            .await?;
        let all = readable(&rows, intent_from_row)?;
        Ok(all.into_iter().filter(|i| i.depends_on.iter().any(|d| d == id)).collect())
    }

    /// The open (not completed, not abandoned) children of an intent, split into those whose
    /// dependencies are all completed and the others.
    pub(crate) async fn ready_and_blocked(&self, id: &str) -> StoreResult<(Vec<Intent>, Vec<Intent>)> {
        let mut ready = Vec::new();
        let mut blocked = Vec::new();
        for child in self.children(id).await? {
            if is_terminal(&child.status) {
                continue;
            }
            let mut statuses = Vec::new();
            for d in &child.depends_on {
                statuses.push((d.clone(), self.get_intent(d).await?.map(|i| i.status)));
            }
            let status_of = |id: &str| statuses.iter().find(|(d, _)| d == id).and_then(|(_, s)| s.clone());
            if unmet_dependencies(&child.depends_on, status_of).is_empty() {
                ready.push(child);
            } else {
                blocked.push(child);
            }
        }
        Ok((ready, blocked))
    }

    /// The graph around an intent: the root, its dependencies and its children, recursively,
    /// among the intents `reader` may read (the walk does not pass through the others, and no
    /// edge names them).
    pub(crate) async fn intent_graph(&self, id: &str, reader: &str) -> StoreResult<Option<IntentGraph>> {
        let mut loaded: Vec<Intent> = Vec::new();
        let mut seen = HashSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(next) = todo.pop() {
            if !seen.insert(next.clone()) {
                continue;
            }
            let Some(intent) = self.get_intent(&next).await? else { continue };
            // Depth-first in the walk's own order, so that siblings keep their creation order
            // in the slice `IntentGraph::from_intents` groups children from.
            let kids = self.children(&next).await?.into_iter().map(|c| c.id);
            let next_ids: Vec<String> = intent.depends_on.iter().cloned().chain(kids).collect();
            todo.extend(next_ids.into_iter().rev());
            loaded.push(intent);
        }
        let all: HashSet<String> = loaded.iter().map(|i| i.id.clone()).collect();
        let loaded = self.readable(reader, loaded).await?;
        let hidden: HashSet<String> = all.into_iter().filter(|i| !loaded.iter().any(|l| &l.id == i)).collect();
        let mut graph = IntentGraph::from_intents(id, &loaded);
        if let Some(g) = &mut graph {
            g.edges.retain(|e| !hidden.contains(&e.from) && !hidden.contains(&e.to));
        }
        Ok(graph)
    }
}

/// The readiness hook of a status change: when `completed_id` has just been completed (in
/// `tx`), each open intent that depends on it and now has every dependency completed gets an
/// `task.ready` event, in the same transaction.
pub(super) async fn announce_ready(tx: &mut WriteTx, completed_id: &str, actor: &str) -> StoreResult<()> {
    let (holds, value) = depends_on_holds(tx.dialect, completed_id);
    let rows =
        query(&format!("SELECT id FROM intents WHERE {holds} ORDER BY id")).bind(value).fetch_all(&mut **tx).await?;
    let ids = rows.iter().map(|r| r.try_get::<String, _>("id")).collect::<Result<Vec<_>, _>>()?;
    for id in ids {
        // Sorted ids: every writer takes these locks in the same order.
        if !lock_intent(tx, &id).await? {
            continue;
        }
        let dependent = load_intent(tx, &id).await?;
        if is_terminal(&dependent.status) || !dependent.depends_on.iter().any(|d| d == completed_id) {
            continue;
        }
        let mut statuses = Vec::new();
        for d in &dependent.depends_on {
            let s: Option<String> =
                query_scalar("SELECT status FROM intents WHERE id = $1").bind(d).fetch_optional(&mut **tx).await?;
            statuses.push((d.clone(), s.map(|s| IntentStatus::parse(&s))));
        }
        let status_of = |id: &str| statuses.iter().find(|(d, _)| d == id).and_then(|(_, s)| s.clone());
        if unmet_dependencies(&dependent.depends_on, status_of).is_empty() {
            let payload = as_obj(json!({"dependency_id": completed_id, "depends_on": dependent.depends_on}));
            append_event(tx, &id, EventType::parse(READY_EVENT), actor, payload).await?;
        }
    }
    Ok(())
}

/// The condition (on `$1`) selecting the intents whose `depends_on` array may hold `id`, and the
/// value to bind: on SQLite a `LIKE` over the array's text ([`like_pattern`]), on PostgreSQL
/// the containment of `id` in the `JSONB` array. Callers confirm the match on the parsed array.
fn depends_on_holds(dialect: Dialect, id: &str) -> (&'static str, String) {
    match dialect {
        Dialect::Sqlite => ("depends_on LIKE $1 ESCAPE '!'", like_pattern(id)),
        Dialect::Postgres => ("depends_on @> jsonb_build_array($1::text)", id.to_owned()),
    }
}

/// The `LIKE ... ESCAPE '!'` pattern of a `depends_on` array holding `id`: its JSON string
/// anywhere in the array's text (`%`, `_` and `!` escaped).
fn like_pattern(id: &str) -> String {
    let quoted = serde_json::to_string(id).unwrap_or_default();
    let mut escaped = String::with_capacity(quoted.len() + 2);
    for c in quoted.chars() {
        if matches!(c, '%' | '_' | '!') {
            escaped.push('!');
        }
        escaped.push(c);
    }
    format!("%{escaped}%")
}

async fn exists(tx: &mut WriteTx, id: &str) -> StoreResult<bool> {
    let found: Option<String> =
        query_scalar("SELECT id FROM intents WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

fn check_version(intent: &Intent, expected: i64) -> StoreResult<()> {
    if intent.version == expected { Ok(()) } else { Err(StoreError::VersionConflict { current: intent.version }) }
}

/// The dependency edges `(intent, dependency)` reachable from `start` along `depends_on`.
async fn reachable_edges(tx: &mut WriteTx, start: &str) -> StoreResult<Vec<(String, String)>> {
    let mut edges = Vec::new();
    let mut seen = HashSet::from([start.to_owned()]);
    let mut todo = vec![start.to_owned()];
    while let Some(node) = todo.pop() {
        let row = query("SELECT depends_on FROM intents WHERE id = $1").bind(&node).fetch_optional(&mut **tx).await?;
        let deps: Vec<String> = match row {
            Some(r) => r.json("depends_on")?,
            None => continue,
        };
        for d in deps {
            edges.push((node.clone(), d.clone()));
            if seen.insert(d.clone()) {
                todo.push(d);
            }
        }
    }
    Ok(edges)
}

/// Writes the intent's new `depends_on` (one version up) with its event.
async fn write_depends_on(
    tx: &mut WriteTx,
    intent: &mut Intent,
    event_type: EventType,
    dependency_id: &str,
    actor: &str,
) -> StoreResult<openintent_types::IntentEvent> {
    let t = now();
    let done = query(
        "UPDATE intents SET depends_on = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
    )
    .bind(to_json(&intent.depends_on))
    .bind(ts(&t))
    .bind(&intent.id)
    .bind(intent.version)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Err(StoreError::NotFound(INTENT_NOT_FOUND));
    }
    intent.version += 1;
    intent.updated_at = t;
    let payload = as_obj(json!({"dependency_id": dependency_id, "version": intent.version}));
    append_event(tx, &intent.id, event_type, actor, payload).await
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_match_the_json_string_with_wildcards_escaped() {
        assert_eq!(like_pattern("a1"), "%\"a1\"%");
        assert_eq!(like_pattern("50%_off!"), "%\"50!%!_off!!\"%");
        assert_eq!(like_pattern("back\\slash"), "%\"back\\\\slash\"%");
    }
}
