//! Intents: create, read, list, and the two version-checked writes (state patches, status
//! changes), each committed with its event.

use openintent_types::{EventType, Intent, IntentStatus, SUSPENSION_STATE_KEY, StatePatch};
use serde_json::{Map, Value, json};

use super::db::{INTENT_NOT_FOUND, WriteTx, append_event, check_writer, load_intent, refuse};
use super::driver::{query, query_scalar};
use super::leases::active_leases;
use super::rows::{INTENT_COLS, as_obj, intent_from_row, readable, to_json, ts};
use super::{IntentFilter, ListKey, NewIntent, Store, StoreError, StoreResult, Written, new_id, now};
use crate::rules::acl::sql_nothing_restricted;
use crate::rules::governance::Policy;
use crate::rules::leases;
use crate::rules::lifecycle::check_transition;

impl Store {
    pub(crate) async fn create_intent(&self, new: NewIntent) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        if let Some(parent) = &new.parent_id
            && !intent_exists(&mut tx, parent).await?
        {
            return Err(StoreError::BadRequest(format!("Parent intent not found: {parent}")));
        }
        for dep in &new.depends_on {
            if !intent_exists(&mut tx, dep).await? {
                return Err(StoreError::BadRequest(format!("Dependency not found: {dep}")));
            }
        }
        self.check_state_size(&new.state)?;
        let t = now();
        let mut intent = Intent::new(new_id(), new.title);
        intent.description = new.description;
        intent.created_by = new.created_by;
        intent.parent_id = new.parent_id;
        intent.depends_on = new.depends_on;
        intent.constraints = new.constraints;
        intent.state = new.state;
        intent.status = new.status;
        intent.governance_policy = new.governance_policy;
        intent.created_at = t;
        intent.updated_at = t;
        query(
            "INSERT INTO intents (id, title, description, created_by, parent_id, depends_on, constraints_doc, state, \
             status, confidence, version, governance_policy, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, 1, $10, $11, $12)",
        )
        .bind(&intent.id)
        .bind(&intent.title)
        .bind(&intent.description)
        .bind(&intent.created_by)
        .bind(&intent.parent_id)
        .bind(to_json(&intent.depends_on))
        .bind(to_json(&intent.constraints))
        .bind(to_json(&intent.state))
        .bind(intent.status.as_str())
        .bind(intent.governance_policy.as_ref().map(to_json))
        .bind(ts(&t))
        .bind(ts(&t))
        .execute(&mut *tx)
        .await?;
        let mut payload = Map::new();
        payload.insert("title".into(), json!(intent.title));
        if let Some(parent) = &intent.parent_id {
            payload.insert("parent_id".into(), json!(parent));
        }
        if !intent.depends_on.is_empty() {
            payload.insert("depends_on".into(), json!(intent.depends_on));
        }
        if let Some(g) = &intent.governance_policy {
            payload.insert("governance_policy".into(), Value::Object(g.clone()));
        }
        let actor = intent.created_by.clone();
        let event = append_event(&mut tx, &intent.id, EventType::IntentCreated, &actor, payload).await?;
        tx.commit().await?;
        Ok((intent, event))
    }

    pub(crate) async fn get_intent(&self, id: &str) -> StoreResult<Option<Intent>> {
        let row = query(&format!("SELECT {INTENT_COLS} FROM intents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.db.pool)
            .await?;
        row.as_ref().map(intent_from_row).transpose()
    }

    /// A page of the intents matching `f`, newest first (`seq` breaking ties), how many match
    /// in all, and the key of the page's last intent when more follow (the next page's
    /// cursor). One statement when the page is not empty: the page's keys are read and skipped
    /// in the `intents_by_list_order` index (the inner `SELECT seq`), then only the page's
    /// rows are read; the total is a subquery of the same statement (evaluated once). One key
    /// more than the page is read, to tell whether more follow.
    ///
    /// A page after a key (`f.after`, a cursor) starts in the index at that key instead of
    /// skipping rows: `created_at <= t` bounds the index range on both databases, and
    /// `(created_at < t OR seq < s)` leaves out the ties at `t` up to the key. The total
    /// ignores the key.
    ///
    /// A caller's view is narrowed by the ACL read rule; when no ACL restricts anything
    /// ([`sql_nothing_restricted`], evaluated once per statement) the rule holds for every
    /// intent, and the keys and the total are read without it (the other branch is skipped
    /// whole), so that the page and the count cost what they cost without ACLs.
    pub(crate) async fn list_intents(&self, f: &IntentFilter) -> StoreResult<(Vec<Intent>, u64, Option<ListKey>)> {
        let mut clauses = Vec::new();
        let mut binds: Vec<&str> = Vec::new();
        for (col, value) in [("status", &f.status), ("created_by", &f.created_by), ("parent_id", &f.parent_id)] {
            if let Some(v) = value {
                binds.push(v);
                clauses.push(format!("{col} = ${}", binds.len()));
            }
        }
        let visible = f.visible_to.as_deref();
        let n = binds.len() + 2 * usize::from(visible.is_some());
        let (limit, offset) = (format!("${}", n + 1), format!("${}", n + 2));
        // The page's clauses: the filter's, and the key's (parameters after the offset).
        let mut paged = clauses.clone();
        if f.after.is_some() {
            let (t, s) = (n + 3, n + 4);
            paged.push(format!("created_at <= ${t} AND (created_at < ${t} OR seq < ${s})"));
        }
        let order = "ORDER BY created_at DESC, seq DESC";
        let (count_sql, keys_sql) = match visible {
            None => (
                format!("SELECT COUNT(*) FROM intents{}", where_all(&clauses)),
                format!("SELECT seq FROM intents{} {order} LIMIT {limit} OFFSET {offset}", where_all(&paged)),
            ),
            Some(principal) => {
                // Readable under the ACL (the one rule, as SQL). The time is the last parameter.
                binds.push(principal);
                let readable = super::acl::readable_by("intents", binds.len(), binds.len() + 1);
                let open = sql_nothing_restricted();
                let narrowed: Vec<String> = clauses.iter().cloned().chain([readable.clone()]).collect();
                let paged_narrowed: Vec<String> = paged.iter().cloned().chain([readable]).collect();
                let (all, narrowed) = (where_all(&clauses), where_all(&narrowed));
                let (paged_all, paged_narrowed) = (where_all(&paged), where_all(&paged_narrowed));
                // Of the two branches, the one `open` rules out has `LIMIT 0` and reads no row.
                (
                    format!(
                        "SELECT CASE WHEN {open} THEN (SELECT COUNT(*) FROM intents{all}) \
                         ELSE (SELECT COUNT(*) FROM intents{narrowed}) END"
                    ),
                    format!(
                        "SELECT seq FROM (SELECT seq FROM intents{paged_all} {order} \
                         LIMIT (CASE WHEN {open} THEN {limit} ELSE 0 END) OFFSET {offset}) AS open_page UNION ALL \
                         SELECT seq FROM (SELECT seq FROM intents{paged_narrowed} {order} \
                         LIMIT (CASE WHEN {open} THEN 0 ELSE {limit} END) OFFSET {offset}) AS narrowed_page"
                    ),
                )
            }
        };
        let at = now();
        let sql = format!(
            "SELECT {INTENT_COLS}, seq AS list_seq, ({count_sql}) AS list_total FROM intents \
             WHERE seq IN ({keys_sql}) ORDER BY created_at DESC, seq DESC"
        );
        let mut q = query(&sql);
        for b in &binds {
            q = q.bind(*b);
        }
        if visible.is_some() {
            q = q.bind(at);
        }
        q = q.bind(f.limit.saturating_add(1)).bind(f.offset);
        if let Some(key) = &f.after {
            q = q.bind(ts(&key.created_at)).bind(key.seq);
        }
        let mut rows = q.fetch_all(&self.db.pool).await?;
        let total = match rows.first() {
            Some(row) => row.try_get::<i64, _>("list_total")?,
            // An empty page (past the end, or nothing matches): the total on its own.
            None => {
                let mut count = query_scalar::<i64>(&count_sql);
                for b in &binds {
                    count = count.bind(*b);
                }
                if visible.is_some() {
                    count = count.bind(at);
                }
                count.fetch_one(&self.db.pool).await?
            }
        };
        // The key read past the page says that more follow; the page's last row is the cursor.
        let page_len = usize::try_from(f.limit).unwrap_or(0);
        let next = if rows.len() > page_len && page_len > 0 {
            rows.truncate(page_len);
            // The cursor is the last row whose key reads. Rows after it (a damaged
            // `created_at`) open the next page instead, where `readable` leaves them out and
            // logs them: one damaged row never fails the list.
            let key = |r: &super::driver::Row| -> Option<ListKey> {
                Some(ListKey { created_at: r.try_get("created_at").ok()?, seq: r.try_get("list_seq").ok()? })
            };
            let keyed = rows.iter().rposition(|r| key(r).is_some());
            rows.truncate(keyed.map_or(page_len, |k| k + 1));
            keyed.and_then(|k| key(&rows[k]))
        } else {
            rows.truncate(page_len);
            None
        };
        let intents = readable(&rows, intent_from_row)?;
        Ok((intents, u64::try_from(total).unwrap_or(0), next))
    }

    /// Applies patches as one compare-and-set write; refuses paths leased by another principal.
    pub(crate) async fn update_state(
        &self,
        id: &str,
        expected_version: i64,
        principal: &str,
        patches: &[StatePatch],
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        if let Err(v) = check_writer(&mut tx, &policy, id, principal).await? {
            return refuse(tx, id, principal, v).await;
        }
        check_version(&intent, expected_version)?;
        let t = now();
        let live = active_leases(&mut tx, id, &t).await?;
        leases::guard(&live, patches, principal, t).map_err(StoreError::lease)?;
        let new_state = openintent_types::patch::apply_patches(&intent.state, patches).map_err(patch_refused)?;
        self.check_state_size(&new_state)?;
        let new_version = expected_version + 1;
        let done = query(
            "UPDATE intents SET state = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(to_json(&new_state))
        .bind(ts(&t))
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(version_conflict(current_version(&mut tx, id).await?));
        }
        let payload = json!({"patches": patches, "version": new_version});
        let event = append_event(&mut tx, id, EventType::StatePatched, principal, as_obj(payload)).await?;
        let previous_record = intent.state.remove(SUSPENSION_STATE_KEY);
        intent.state = new_state;
        intent.version = new_version;
        intent.updated_at = t;
        super::hitl::arm_written_suspension(&mut tx, &intent.status, previous_record.as_ref(), &intent).await?;
        tx.commit().await?;
        Ok((intent, event))
    }

    /// Changes the status as one compare-and-set write, enforcing the lifecycle.
    pub(crate) async fn set_status(
        &self,
        id: &str,
        expected_version: i64,
        principal: &str,
        status: &IntentStatus,
        reason: Option<&str>,
    ) -> StoreResult<Written<Intent>> {
        let mut tx = self.db.begin().await?;
        let mut intent = load_intent(&mut tx, id).await?;
        let policy = Policy::from_stored(intent.governance_policy.as_ref());
        let mut verdict = check_writer(&mut tx, &policy, id, principal).await?;
        if verdict.is_ok() {
            verdict = policy.check_status_reason(reason);
        }
        if verdict.is_ok() && *status == IntentStatus::Completed {
            let facts = super::governance::completion_facts(&mut tx, id, &policy).await?;
            verdict = policy.check_completion(facts);
        }
        if let Err(v) = verdict {
            return refuse(tx, id, principal, v).await;
        }
        check_version(&intent, expected_version)?;
        check_transition(&intent.status, status).map_err(StoreError::InvalidTransition)?;
        let t = now();
        let new_version = expected_version + 1;
        let done = query(
            "UPDATE intents SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4",
        )
        .bind(status.as_str())
        .bind(ts(&t))
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(version_conflict(current_version(&mut tx, id).await?));
        }
        let mut payload = Map::new();
        payload.insert("status".into(), json!(status.as_str()));
        payload.insert("version".into(), json!(new_version));
        payload.insert("previous_status".into(), json!(intent.status.as_str()));
        if let Some(r) = reason.filter(|r| !r.is_empty()) {
            payload.insert("reason".into(), json!(r));
        }
        let event = append_event(&mut tx, id, EventType::StatusChanged, principal, payload).await?;
        if *status == IntentStatus::Completed {
            super::graph::announce_ready(&mut tx, id, principal).await?;
        }
        let previous_status = std::mem::replace(&mut intent.status, status.clone());
        intent.version = new_version;
        intent.updated_at = t;
        let record = intent.state.get(SUSPENSION_STATE_KEY);
        super::hitl::arm_written_suspension(&mut tx, &previous_status, record, &intent).await?;
        tx.commit().await?;
        Ok((intent, event))
    }
}

/// ` WHERE c1 AND c2 ...`, or nothing without clauses.
fn where_all(clauses: &[String]) -> String {
    if clauses.is_empty() { String::new() } else { format!(" WHERE {}", clauses.join(" AND ")) }
}

/// The refusal of a patch that cannot be applied (its path does not exist, ...); nothing was
/// written. The error names the patch and its member, as the body's fields.
fn patch_refused(e: openintent_types::PatchError) -> StoreError {
    let index = e.index();
    let field = match e {
        openintent_types::PatchError::UnknownOp { .. } => "op",
        _ => "path",
    };
    let mut fe = openintent_types::FieldError::default();
    fe.kind = "value_error".into();
    fe.loc = vec![json!("body"), json!("patches"), json!(index), json!(field)];
    fe.msg = e.to_string();
    StoreError::Invalid(vec![fe])
}

fn version_conflict(current: Option<i64>) -> StoreError {
    match current {
        Some(current) => StoreError::VersionConflict { current },
        None => StoreError::NotFound(INTENT_NOT_FOUND),
    }
}

fn check_version(intent: &Intent, expected: i64) -> StoreResult<()> {
    if intent.version == expected { Ok(()) } else { Err(version_conflict(Some(intent.version))) }
}

async fn current_version(tx: &mut WriteTx, id: &str) -> StoreResult<Option<i64>> {
    Ok(query_scalar("SELECT version FROM intents WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?)
}

async fn intent_exists(tx: &mut WriteTx, id: &str) -> StoreResult<bool> {
    let found: Option<i64> =
        query_scalar("SELECT 1 FROM intents WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseLocation;
    use crate::store::EventFilter;

    #[tokio::test]
    async fn a_version_mismatch_writes_nothing() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let new = NewIntent::draft("t");
        let (intent, _) = store.create_intent(new).await.unwrap();
        let patch = [StatePatch::set_path("/a", json!(1))];
        let err = store.update_state(&intent.id, 7, "me", &patch).await.unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict { current: 1 }), "{err:?}");
        let err = store.set_status(&intent.id, 0, "me", &IntentStatus::Active, None).await.unwrap_err();
        assert!(matches!(err, StoreError::VersionConflict { current: 1 }), "{err:?}");
        let again = store.get_intent(&intent.id).await.unwrap().unwrap();
        assert_eq!((again.version, again.state.len()), (1, 0));
        let events = store.list_events(&intent.id, &EventFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert_eq!(events.len(), 1);
    }
}
