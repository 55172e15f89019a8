//! Per-intent access control (RFC-0011): the ACL (its policy and entries) and access requests.
//! Every change appends its `access_*` event in the same transaction; what the ACL lets a
//! principal do is decided by `crate::rules::acl`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use openintent_types::{
    AccessPolicy, AccessRequest, AccessRequestStatus, Acl, AclEntry, CreateAccessRequest, DecideAccessRequest,
    EventType, GrantAccessRequest, Intent, Permission, PrincipalType, SetAclRequest,
};
use serde_json::json;

use super::db::{WriteTx, append_event, require_intent};
use super::driver::{Row, query, query_scalar};
use super::error::StoreError;
use super::rows::{INTENT_COLS, as_obj, intent_from_row, to_json, ts};
use super::{Store, StoreResult, new_id, now};
use crate::rules::acl::{SqlInputs, sql_nothing_restricted, sql_predicate};

/// How many ids one [`Store::readable_ids`] query checks at most.
const READABLE_BATCH: usize = 500;

/// The SQL condition on the `intents` row of a query that keeps the intents the principal bound
/// at `$principal` may read at the time bound at `$now` (the rule of `crate::rules::acl`). Every
/// query that returns intents, or rows of intents, to a caller filters with it (or with
/// [`Store::readable`]).
pub(crate) fn readable_by(table: &str, principal: usize, now: usize) -> String {
    let (intent_id, created_by) = (format!("{table}.id"), format!("{table}.created_by"));
    let principal = format!("${principal}");
    sql_predicate(
        &Permission::Read,
        SqlInputs { intent_id: &intent_id, created_by: &created_by, principal: &principal, now },
    )
}

const ENTRY_COLS: &str =
    "id, intent_id, principal_id, principal_type, permission, granted_by, granted_at, expires_at, reason";
const REQUEST_COLS: &str = "id, intent_id, principal_id, principal_type, requested_permission, reason, status, \
                            capabilities, decided_by, decided_at, decision_reason, created_at";

/// An intent read with what its access check needs ([`Store::intent_with_access`]).
#[derive(Debug)]
pub(crate) struct IntentAccess {
    /// The intent (`None` when its row cannot be read back).
    pub(crate) intent: Option<Intent>,
    /// Its `created_by`.
    pub(crate) creator: String,
    /// Its ACL (`None` when it never got one).
    pub(crate) acl: Option<Acl>,
    /// Whether no ACL of the database restricts anything ([`sql_nothing_restricted`]).
    pub(crate) nothing_restricted: bool,
}

/// The detail of a refused decision (the reference's text, kept by clients).
pub(crate) const REQUEST_NOT_FOUND: &str = "Access request not found or already decided";

/// How an access request is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Grant it: an entry is added.
    Approve,
    /// Refuse it.
    Deny,
}

impl Store {
    /// The creator and ACL of an intent (`None` for the ACL when it never got one); `None`
    /// when the intent does not exist. Read by the access check of every intent route.
    pub(crate) async fn access_of(&self, intent_id: &str) -> StoreResult<Option<(String, Option<Acl>)>> {
        Ok(self.access_check(intent_id).await?.map(|(creator, acl, _)| (creator, acl)))
    }

    /// [`Store::access_of`], with whether no ACL of the database restricts anything
    /// ([`sql_nothing_restricted`], read in the same statement).
    pub(crate) async fn access_check(&self, intent_id: &str) -> StoreResult<Option<(String, Option<Acl>, bool)>> {
        // One statement for the creator and the policy: this runs before every intent route.
        let row = query(&format!(
            "SELECT intents.created_by, intent_acls.default_policy, {} AS nothing_restricted FROM intents \
             LEFT JOIN intent_acls ON intent_acls.intent_id = intents.id WHERE intents.id = $1",
            sql_nothing_restricted()
        ))
        .bind(intent_id)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let creator: String = row.try_get(0)?;
        let open: bool = row.try_get(2)?;
        Ok(Some((creator, self.acl_of_policy(intent_id, row.try_get(1)?).await?, open)))
    }

    /// The intent itself with its creator and ACL, for the access check of a route that answers
    /// the intent (`GET /api/v1/intents/{id}`): the row and the policy in one statement, so that
    /// the route needs no other on the common path (an intent without an ACL). The intent is
    /// `None` when its row cannot be read back (the route then reads it and answers the error).
    pub(crate) async fn intent_with_access(&self, intent_id: &str) -> StoreResult<Option<IntentAccess>> {
        let row = query(&format!(
            "SELECT {INTENT_COLS}, (SELECT default_policy FROM intent_acls WHERE intent_acls.intent_id = intents.id) \
             AS acl_policy, {} AS nothing_restricted FROM intents WHERE id = $1",
            sql_nothing_restricted()
        ))
        .bind(intent_id)
        .fetch_optional(&self.db.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let creator: String = row.try_get("created_by")?;
        let acl = self.acl_of_policy(intent_id, row.try_get("acl_policy")?).await?;
        let nothing_restricted = row.try_get("nothing_restricted")?;
        Ok(Some(IntentAccess { intent: intent_from_row(&row).ok(), creator, acl, nothing_restricted }))
    }

    /// The ACL of an intent whose stored policy is `policy` (`None`: it never got one).
    async fn acl_of_policy(&self, intent_id: &str, policy: Option<String>) -> StoreResult<Option<Acl>> {
        let Some(policy) = policy else { return Ok(None) };
        let entries = self.acl_entries(intent_id).await?;
        Ok(Some(acl(intent_id, AccessPolicy::parse(&policy), entries)))
    }

    /// Of `ids`, those of the intents `principal` may read ([`readable_by`]); unknown ids are
    /// left out.
    pub(crate) async fn readable_ids(&self, principal: &str, ids: &[&str]) -> StoreResult<HashSet<String>> {
        self.ids_by_readability(principal, ids, true).await
    }

    /// Of `ids`, those of existing intents that `principal` may not read ([`readable_by`]);
    /// unknown ids are left out (they name nothing to hide).
    pub(crate) async fn unreadable_ids(&self, principal: &str, ids: &[&str]) -> StoreResult<HashSet<String>> {
        self.ids_by_readability(principal, ids, false).await
    }

    /// Of `ids`, those of existing intents whose readability by `principal` is `readable` (a
    /// rule that evaluates to SQL `NULL` grants nothing), `READABLE_BATCH` ids a statement.
    async fn ids_by_readability(&self, principal: &str, ids: &[&str], readable: bool) -> StoreResult<HashSet<String>> {
        let mut out = HashSet::new();
        let at = now();
        let visible = readable_by("intents", 1, 2);
        for batch in ids.chunks(READABLE_BATCH) {
            let holes: Vec<String> = (0..batch.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!("SELECT id, {visible} AS readable FROM intents WHERE id IN ({})", holes.join(", "));
            let mut q = query(&sql).bind(principal).bind(at);
            for id in batch {
                q = q.bind(*id);
            }
            for row in q.fetch_all(&self.db.pool).await? {
                if row.try_get::<Option<bool>, _>(1)?.unwrap_or(false) == readable {
                    out.insert(row.try_get::<String, _>(0)?);
                }
            }
        }
        Ok(out)
    }

    /// The intents of `intents` that `principal` may read, in their order.
    pub(crate) async fn readable(&self, principal: &str, intents: Vec<Intent>) -> StoreResult<Vec<Intent>> {
        let ids: Vec<&str> = intents.iter().map(|i| i.id.as_str()).collect();
        let ok = self.readable_ids(principal, &ids).await?;
        Ok(intents.into_iter().filter(|i| ok.contains(&i.id)).collect())
    }

    /// An intent's ACL; an intent that never got one is open with no entries (nothing is
    /// stored by reading it).
    pub(crate) async fn get_acl(&self, intent_id: &str) -> StoreResult<Acl> {
        let (_, stored) = self.access_of(intent_id).await?.ok_or(StoreError::NotFound(super::db::INTENT_NOT_FOUND))?;
        match stored {
            Some(a) => Ok(a),
            // Grants may exist without a PUT: they are listed under the open policy.
            None => Ok(acl(intent_id, AccessPolicy::Open, self.acl_entries(intent_id).await?)),
        }
    }

    async fn acl_entries(&self, intent_id: &str) -> StoreResult<Vec<AclEntry>> {
        let rows = query(&format!("SELECT {ENTRY_COLS} FROM acl_entries WHERE intent_id = $1 ORDER BY seq"))
            .bind(intent_id)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Replaces the whole ACL (policy and entries; new entry ids); `granted_by` of an entry is
    /// the body's, else the caller.
    pub(crate) async fn set_acl(&self, intent_id: &str, req: &SetAclRequest, principal: &str) -> StoreResult<Acl> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let policy = req.default_policy.clone().unwrap_or_default();
        let t = now();
        query("DELETE FROM acl_entries WHERE intent_id = $1").bind(intent_id).execute(&mut *tx).await?;
        query("DELETE FROM intent_acls WHERE intent_id = $1").bind(intent_id).execute(&mut *tx).await?;
        query("INSERT INTO intent_acls (intent_id, default_policy, updated_at) VALUES ($1, $2, $3)")
            .bind(intent_id)
            .bind(policy.as_str())
            .bind(ts(&t))
            .execute(&mut *tx)
            .await?;
        let mut entries = Vec::with_capacity(req.entries.len());
        for e in &req.entries {
            let granted_by = e.granted_by.clone().filter(|g| !g.trim().is_empty()).unwrap_or_else(|| principal.into());
            entries.push(
                insert_entry(&mut tx, intent_id, e, e.permission.clone().unwrap_or_default(), &granted_by, t).await?,
            );
        }
        let payload = as_obj(json!({"action": "acl_set", "default_policy": policy.as_str()}));
        append_event(&mut tx, intent_id, EventType::AccessGranted, principal, payload).await?;
        tx.commit().await?;
        Ok(acl(intent_id, policy, entries))
    }

    /// Appends one entry (never merges with another of the same principal).
    pub(crate) async fn grant_access(
        &self,
        intent_id: &str,
        req: &GrantAccessRequest,
        principal: &str,
    ) -> StoreResult<AclEntry> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let permission = req.permission.clone().unwrap_or_default();
        let entry = insert_entry(&mut tx, intent_id, req, permission, principal, now()).await?;
        let payload = as_obj(json!({"principal_id": entry.principal_id, "permission": entry.permission.as_str()}));
        append_event(&mut tx, intent_id, EventType::AccessGranted, principal, payload).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Removes one entry of the intent; 404 `ACL entry not found` when the intent has no such
    /// entry (or does not exist).
    pub(crate) async fn revoke_access(&self, intent_id: &str, entry_id: &str, principal: &str) -> StoreResult<()> {
        const ENTRY_NOT_FOUND: &str = "ACL entry not found";
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await.map_err(|_| StoreError::NotFound(ENTRY_NOT_FOUND))?;
        let found: Option<String> =
            query_scalar("SELECT principal_id FROM acl_entries WHERE id = $1 AND intent_id = $2")
                .bind(entry_id)
                .bind(intent_id)
                .fetch_optional(&mut *tx)
                .await?;
        let principal_id = found.ok_or(StoreError::NotFound(ENTRY_NOT_FOUND))?;
        query("DELETE FROM acl_entries WHERE id = $1").bind(entry_id).execute(&mut *tx).await?;
        let payload = as_obj(json!({"entry_id": entry_id, "principal_id": principal_id}));
        append_event(&mut tx, intent_id, EventType::AccessRevoked, principal, payload).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Files a pending request (duplicates are allowed).
    pub(crate) async fn request_access(
        &self,
        intent_id: &str,
        req: &CreateAccessRequest,
        principal: &str,
    ) -> StoreResult<AccessRequest> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let mut r = AccessRequest::default();
        r.id = new_id();
        r.intent_id = intent_id.to_owned();
        r.principal_id = req.principal_id.clone();
        r.principal_type = req.principal_type.clone().unwrap_or_default();
        r.requested_permission = req.requested_permission.clone().unwrap_or(Permission::Write);
        r.reason = req.reason.clone().unwrap_or_default();
        r.status = AccessRequestStatus::Pending;
        r.capabilities = req.capabilities.clone();
        r.created_at = now();
        query(&format!(
            "INSERT INTO access_requests ({REQUEST_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, NULL, NULL, $9)"
        ))
        .bind(&r.id)
        .bind(intent_id)
        .bind(&r.principal_id)
        .bind(r.principal_type.as_str())
        .bind(r.requested_permission.as_str())
        .bind(&r.reason)
        .bind(r.status.as_str())
        .bind(to_json(&r.capabilities))
        .bind(ts(&r.created_at))
        .execute(&mut *tx)
        .await?;
        let payload = as_obj(json!({
            "request_id": r.id, "principal_id": r.principal_id,
            "requested_permission": r.requested_permission.as_str(), "capabilities": r.capabilities,
        }));
        append_event(&mut tx, intent_id, EventType::AccessRequested, principal, payload).await?;
        tx.commit().await?;
        Ok(r)
    }

    /// Every request of the intent, in filing order, all statuses.
    pub(crate) async fn list_access_requests(&self, intent_id: &str) -> StoreResult<Vec<AccessRequest>> {
        let rows = query(&format!("SELECT {REQUEST_COLS} FROM access_requests WHERE intent_id = $1 ORDER BY seq"))
            .bind(intent_id)
            .fetch_all(&self.db.pool)
            .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Approves (adding an entry for the request's principal) or denies a pending request of
    /// this intent; 404 [`REQUEST_NOT_FOUND`] when the intent has no such pending request.
    pub(crate) async fn decide_access_request(
        &self,
        intent_id: &str,
        request_id: &str,
        decision: Decision,
        req: &DecideAccessRequest,
        principal: &str,
    ) -> StoreResult<AccessRequest> {
        let mut tx = self.db.begin().await?;
        require_intent(&mut tx, intent_id).await?;
        let row = query(&format!(
            "SELECT {REQUEST_COLS} FROM access_requests WHERE id = $1 AND intent_id = $2 AND status = 'pending'"
        ))
        .bind(request_id)
        .bind(intent_id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut r = request_from_row(&row.ok_or(StoreError::NotFound(REQUEST_NOT_FOUND))?)?;
        let t = now();
        r.status = match decision {
            Decision::Approve => AccessRequestStatus::Approved,
            Decision::Deny => AccessRequestStatus::Denied,
        };
        r.decided_by = Some(req.decided_by.clone());
        r.decided_at = Some(t);
        r.decision_reason = req.reason.clone();
        query(
            "UPDATE access_requests SET status = $1, decided_by = $2, decided_at = $3, decision_reason = $4 WHERE id = $5",
        )
        .bind(r.status.as_str())
        .bind(&req.decided_by)
        .bind(ts(&t))
        .bind(&r.decision_reason)
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        let (event_type, payload) = match decision {
            Decision::Approve => {
                let permission = req.permission.clone().unwrap_or_else(|| r.requested_permission.clone());
                let mut grant = GrantAccessRequest::new(r.principal_id.clone(), permission.clone());
                grant.principal_type = Some(r.principal_type.clone());
                grant.expires_at = req.expires_at;
                grant.reason = Some(format!("Approved access request: {}", req.reason.clone().unwrap_or_default()));
                insert_entry(&mut tx, intent_id, &grant, permission.clone(), &req.decided_by, t).await?;
                let payload =
                    json!({"request_id": r.id, "principal_id": r.principal_id, "permission": permission.as_str()});
                (EventType::AccessRequestApproved, payload)
            }
            Decision::Deny => (
                EventType::AccessRequestDenied,
                json!({"request_id": r.id, "principal_id": r.principal_id, "reason": r.decision_reason}),
            ),
        };
        append_event(&mut tx, intent_id, event_type, principal, as_obj(payload)).await?;
        tx.commit().await?;
        Ok(r)
    }
}

fn acl(intent_id: &str, default_policy: AccessPolicy, entries: Vec<AclEntry>) -> Acl {
    let mut a = Acl::default();
    a.intent_id = intent_id.to_owned();
    a.default_policy = default_policy;
    a.entries = entries;
    a
}

async fn insert_entry(
    tx: &mut WriteTx,
    intent_id: &str,
    req: &GrantAccessRequest,
    permission: Permission,
    granted_by: &str,
    at: DateTime<Utc>,
) -> StoreResult<AclEntry> {
    let mut e = AclEntry::default();
    e.id = new_id();
    e.intent_id = intent_id.to_owned();
    e.principal_id = req.principal_id.clone();
    e.principal_type = req.principal_type.clone().unwrap_or(PrincipalType::Agent);
    e.permission = permission;
    e.granted_by = granted_by.to_owned();
    e.granted_at = at;
    e.expires_at = req.expires_at;
    e.reason = req.reason.clone();
    query(&format!("INSERT INTO acl_entries ({ENTRY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&e.id)
        .bind(intent_id)
        .bind(&e.principal_id)
        .bind(e.principal_type.as_str())
        .bind(e.permission.as_str())
        .bind(&e.granted_by)
        .bind(ts(&e.granted_at))
        .bind(e.expires_at.as_ref().map(ts))
        .bind(&e.reason)
        .execute(&mut **tx)
        .await?;
    Ok(e)
}

fn entry_from_row(r: &Row) -> StoreResult<AclEntry> {
    let mut e = AclEntry::default();
    e.id = r.try_get("id")?;
    e.intent_id = r.try_get("intent_id")?;
    e.principal_id = r.try_get("principal_id")?;
    e.principal_type = PrincipalType::parse(&r.try_get::<String, _>("principal_type")?);
    e.permission = Permission::parse(&r.try_get::<String, _>("permission")?);
    e.granted_by = r.try_get("granted_by")?;
    e.granted_at = r.try_get("granted_at")?;
    e.expires_at = r.try_get("expires_at")?;
    e.reason = r.try_get("reason")?;
    Ok(e)
}

fn request_from_row(r: &Row) -> StoreResult<AccessRequest> {
    let mut a = AccessRequest::default();
    a.id = r.try_get("id")?;
    a.intent_id = r.try_get("intent_id")?;
    a.principal_id = r.try_get("principal_id")?;
    a.principal_type = PrincipalType::parse(&r.try_get::<String, _>("principal_type")?);
    a.requested_permission = Permission::parse(&r.try_get::<String, _>("requested_permission")?);
    a.reason = r.try_get("reason")?;
    a.status = AccessRequestStatus::parse(&r.try_get::<String, _>("status")?);
    a.capabilities = r.json("capabilities")?;
    a.decided_by = r.try_get("decided_by")?;
    a.decided_at = r.try_get("decided_at")?;
    a.decision_reason = r.try_get("decision_reason")?;
    a.created_at = r.try_get("created_at")?;
    Ok(a)
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::config::DatabaseLocation;
    use crate::rules::acl::allows;
    use crate::store::NewIntent;

    fn grant(principal: &str, permission: &str, expires_in: Option<i64>) -> GrantAccessRequest {
        let mut g = GrantAccessRequest::new(principal, Permission::parse(permission));
        g.expires_at = expires_in.map(|s| Utc::now() + Duration::seconds(s));
        g
    }

    /// The SQL form of the rule agrees with `allows` on every intent, principal and level of a
    /// table covering each way of holding (or not holding) a level, on a real SQLite database.
    #[tokio::test]
    async fn the_sql_form_of_the_rule_agrees_with_allows() {
        let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
        let entries = || {
            vec![
                grant("reader", "read", None),
                grant("writer", "write", None),
                grant("admin", "admin", Some(3600)),
                grant("gone", "admin", Some(-3600)),
                grant("odd", "owner", None),
            ]
        };
        let mut ids = Vec::new();
        for policy in [None, Some("open"), Some("closed"), Some("restricted"), Some("private"), Some("weird")] {
            let mut new = NewIntent::draft("t");
            new.created_by = "creator".into();
            let (intent, _) = store.create_intent(new).await.unwrap();
            if let Some(policy) = policy {
                let mut req = SetAclRequest::default();
                req.default_policy = Some(AccessPolicy::parse(policy));
                req.entries = entries();
                store.set_acl(&intent.id, &req, "creator").await.unwrap();
            }
            ids.push(intent.id);
        }
        // Entries without an ACL (granted before any PUT) do not restrict anything.
        let (bare, _) = store.create_intent(NewIntent::draft("bare")).await.unwrap();
        store.grant_access(&bare.id, &grant("reader", "read", None), "x").await.unwrap();
        ids.push(bare.id);

        let seen = compare_sql_with_allows(&store, &ids).await;
        assert!(seen.0 > 20 && seen.1 > 20, "the table covers both answers: {seen:?}");
        let all: Vec<&str> = ids.iter().map(String::as_str).chain(["unknown"]).collect();
        let readable = store.readable_ids("stranger", &all).await.unwrap();
        let expected: HashSet<String> = [&ids[0], &ids[1], &ids[6]].into_iter().cloned().collect();
        assert_eq!(readable, expected, "no ACL, open, and entries without an ACL");

        // Once no ACL restricts (every policy set to open), everyone holds every level.
        for id in &ids {
            let mut req = SetAclRequest::default();
            req.default_policy = Some(AccessPolicy::Open);
            store.set_acl(id, &req, "creator").await.unwrap();
        }
        let seen = compare_sql_with_allows(&store, &ids).await;
        assert_eq!(seen, (ids.len() * 8 * 4, 0), "open to all");
        assert_eq!(store.readable_ids("stranger", &all).await.unwrap().len(), ids.len());
    }

    /// Each grant's two renderings (`Grant::holds`, `Grant::sql`) and the whole rule agree on an
    /// exhaustive universe: no ACL or each policy, × no entry or one entry of each level (an
    /// unknown one included) × no expiry, expired or not yet expired × for the principal or
    /// another; each asked for by the creator, the entry's principal and a stranger, at each
    /// level. Then again on a database where no ACL restricts (the rule's shortcut).
    #[tokio::test]
    async fn every_grant_renders_the_same_in_rust_and_sql() {
        use crate::rules::acl::{Grant, RULE};

        let universe = |policies: &[Option<&'static str>]| {
            let mut cases = Vec::new();
            for &policy in policies {
                cases.push((policy, None));
                for level in ["read", "write", "admin", "owner"] {
                    for expiry in [None, Some(-3600), Some(3600)] {
                        for whom in ["p", "other"] {
                            cases.push((policy, Some(grant(whom, level, expiry))));
                        }
                    }
                }
            }
            cases
        };
        let restricted = [None, Some("open"), Some("closed"), Some("restricted"), Some("private")];
        for (policies, expect_restricted) in [(&restricted[..], true), (&restricted[..2], false)] {
            let store = Store::open(&DatabaseLocation::Memory).await.unwrap();
            let mut ids = Vec::new();
            for (policy, entry) in universe(policies) {
                let mut new = NewIntent::draft("t");
                new.created_by = "c".into();
                let (intent, _) = store.create_intent(new).await.unwrap();
                match (policy, entry) {
                    (Some(policy), entry) => {
                        let mut req = SetAclRequest::default();
                        req.default_policy = Some(AccessPolicy::parse(policy));
                        req.entries = entry.into_iter().collect();
                        store.set_acl(&intent.id, &req, "c").await.unwrap();
                    }
                    (None, Some(entry)) => {
                        store.grant_access(&intent.id, &entry, "c").await.unwrap();
                    }
                    (None, None) => {}
                }
                ids.push(intent.id);
            }
            let now = Utc::now();
            let at = SqlInputs { intent_id: "intents.id", created_by: "intents.created_by", principal: "$1", now: 2 };
            let mut seen = [(0, 0); 5];
            for id in &ids {
                let (creator, acl) = store.access_of(id).await.unwrap().unwrap();
                for principal in ["c", "p", "q"] {
                    for needed in [Permission::Read, Permission::Write, Permission::Admin, Permission::parse("owner")] {
                        let rules = RULE
                            .iter()
                            .map(|g| (g.holds(acl.as_ref(), &creator, principal, &needed, now), g.sql(&needed, at)));
                        let whole =
                            (allows(acl.as_ref(), &creator, principal, &needed, now), sql_predicate(&needed, at));
                        for (n, (rust, sql)) in rules.chain([whole]).enumerate() {
                            let grant = RULE.get(n).map_or("the rule".to_owned(), |g: &Grant| format!("{g:?}"));
                            let sql_holds = holds_in_sql(&store, &sql, principal, now, id).await;
                            assert_eq!(rust, sql_holds, "{grant}: {acl:?} {principal:?} {needed:?}");
                            if rust { seen[n].0 += 1 } else { seen[n].1 += 1 }
                        }
                    }
                }
            }
            // Each grant both holds and fails somewhere; the rule refuses only where some ACL restricts.
            for (n, (held, failed)) in seen.iter().enumerate().take(4) {
                assert!(*held > 0 && *failed > 0, "grant {n}: {seen:?}");
            }
            assert_eq!(seen[4].1 > 0, expect_restricted, "{seen:?}");
        }
    }

    /// Whether the SQL condition `predicate` (principal at `$1`, time at `$2`) holds for the
    /// intent `id`, evaluated by the database.
    async fn holds_in_sql(store: &Store, predicate: &str, principal: &str, now: DateTime<Utc>, id: &str) -> bool {
        let sql = format!("SELECT COUNT(*) FROM intents WHERE id = $3 AND {predicate}");
        let count: i64 = query_scalar(&sql).bind(principal).bind(now).bind(id).fetch_one(&store.db.pool).await.unwrap();
        count == 1
    }

    /// Compares the SQL form of the rule with `allows` for each intent of `ids`, principal and
    /// level; the numbers of (allowed, refused) cases.
    async fn compare_sql_with_allows(store: &Store, ids: &[String]) -> (usize, usize) {
        let now = Utc::now();
        let mut seen = (0, 0);
        for id in ids {
            let (creator, acl) = store.access_of(id).await.unwrap().unwrap();
            for principal in ["creator", "reader", "writer", "admin", "gone", "odd", "stranger", ""] {
                for needed in [Permission::Read, Permission::Write, Permission::Admin, Permission::parse("owner")] {
                    let rust = allows(acl.as_ref(), &creator, principal, &needed, now);
                    let predicate = sql_predicate(
                        &needed,
                        SqlInputs {
                            intent_id: "intents.id",
                            created_by: "intents.created_by",
                            principal: "$1",
                            now: 2,
                        },
                    );
                    let sql_holds = holds_in_sql(store, &predicate, principal, now, id).await;
                    assert_eq!(rust, sql_holds, "{id} {acl:?} {principal:?} {needed:?}");
                    if rust { seen.0 += 1 } else { seen.1 += 1 }
                }
            }
        }
        seen
    }
}
