//! Access-control rules (RFC-0011): which level each intent route needs, and whether a
//! principal holds it under an intent's ACL.
//!
//! - An intent without an ACL, or whose `default_policy` is `open`, lets every holder of a valid
//!   API key do everything (as before access control existed); its entries only document.
//! - Under `closed`, `restricted` or `private`, a principal needs an unexpired entry of at least
//!   the route's level (levels are cumulative: `read` < `write` < `admin`). The intent's creator
//!   (`created_by`) always has `admin`, so that a closed ACL without entries cannot lock its
//!   owner out.
//! - Filing an access request needs no level (that is how a principal without access asks).
//!
//! The levels of the routes ([`required_level`]): reads (`GET`, streams) need `read`; writes
//! need `write`; the status, the ACL and its entries, deciding access requests (and listing
//! them), the retry policy, the governance policy and child creation need `admin`.

use chrono::{DateTime, Utc};
use openintent_types::{AccessPolicy, Acl, Permission};

/// What the `{id}` of a checked route names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// An intent (`/api/v1/intents/{id}/...`, `/api/v1/subscribe/intents/{id}`).
    Intent,
    /// A messaging channel, checked under its intent's ACL (`/api/v1/channels/{id}/...`,
    /// `/api/v1/subscribe/channels/{id}`).
    Channel,
}

/// The level a request needs and what its `{id}` names: `None` when the path is not a
/// per-intent route (see [`Scope`]) or needs no level (filing an access request). `path` is the
/// request's path (only routed requests are checked).
pub(crate) fn required_level(method: &str, path: &str) -> Option<(Permission, Scope)> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let read = matches!(method, "GET" | "HEAD" | "OPTIONS");
    let rest: &[&str] = match segments.as_slice() {
        ["api", "v1", "subscribe", "intents", _] => return Some((Permission::Read, Scope::Intent)),
        ["api", "v1", "subscribe", "channels", _] => return Some((Permission::Read, Scope::Channel)),
        ["api", "v1", "channels", id, ..] if !id.is_empty() => {
            return Some((if read { Permission::Read } else { Permission::Write }, Scope::Channel));
        }
        ["api", "v1", "intents", id, rest @ ..] if !id.is_empty() => rest,
        _ => return None,
    };
    intent_level(read, rest).map(|p| (p, Scope::Intent))
}

fn intent_level(read: bool, rest: &[&str]) -> Option<Permission> {
    match rest {
        ["access-requests"] if !read => None,
        ["access-requests", ..] => Some(Permission::Admin),
        [first, ..] if !read && matches!(*first, "acl" | "status" | "retry-policy" | "governance" | "children") => {
            Some(Permission::Admin)
        }
        _ if read => Some(Permission::Read),
        _ => Some(Permission::Write),
    }
}

/// One way of holding a level on an intent. The access rule is their disjunction, [`RULE`],
/// declared once: [`allows`] evaluates it in Rust and [`sql_predicate`] renders it as SQL (for
/// the queries that filter lists before their `LIMIT`), so the two cannot drift apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The intent never got an ACL.
    NoAcl,
    /// Its ACL's default policy is `open`.
    OpenPolicy,
    /// The principal created the intent (`created_by`).
    Creator,
    /// The principal holds an unexpired entry of a known level that includes the level needed,
    /// in the intent's ACL (entries granted to an intent without one count only once it gets one).
    Entry,
}

/// The access rule: a principal holds a level on an intent when any of these grants it.
pub(crate) const RULE: [Grant; 4] = [Grant::NoAcl, Grant::OpenPolicy, Grant::Creator, Grant::Entry];

/// Where [`sql_predicate`] finds its inputs: SQL expressions for the intent's id, its creator
/// and the principal (for example `intents.id`, `i.created_by`, `$1` or
/// `subscriptions.subscriber_id`), and the placeholder number (`$n`) bound to the time the
/// entries' expiry is compared with (a timestamp).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlInputs<'a> {
    /// The intent's id.
    pub(crate) intent_id: &'a str,
    /// The intent's `created_by`.
    pub(crate) created_by: &'a str,
    /// The principal (text): a placeholder such as `$1`, or a column of the query.
    pub(crate) principal: &'a str,
    /// The placeholder of the time.
    pub(crate) now: usize,
}

impl Grant {
    /// Whether this grant holds (the Rust form).
    pub(crate) fn holds(
        self,
        acl: Option<&Acl>,
        created_by: &str,
        principal: &str,
        needed: &Permission,
        now: DateTime<Utc>,
    ) -> bool {
        match self {
            Grant::NoAcl => acl.is_none(),
            Grant::OpenPolicy => acl.is_some_and(|a| a.default_policy == AccessPolicy::Open),
            Grant::Creator => principal == created_by,
            Grant::Entry => {
                acl.is_some_and(|a| a.permission_of(principal, now).is_some_and(|held| held.includes(needed)))
            }
        }
    }

    /// The same condition as SQL over `intent_acls` and `acl_entries` (one text for SQLite and
    /// PostgreSQL: the levels and the policy are stored as their wire strings, times as
    /// timestamps that compare in time order on both).
    pub(crate) fn sql(self, needed: &Permission, at: SqlInputs<'_>) -> String {
        let SqlInputs { intent_id, created_by, principal, now } = at;
        match self {
            Grant::NoAcl => format!("NOT EXISTS (SELECT 1 FROM intent_acls a WHERE a.intent_id = {intent_id})"),
            Grant::OpenPolicy => format!(
                "EXISTS (SELECT 1 FROM intent_acls a WHERE a.intent_id = {intent_id} AND a.default_policy = '{}')",
                AccessPolicy::Open.as_str()
            ),
            Grant::Creator => format!("{created_by} = {principal}"),
            Grant::Entry => {
                let levels: Vec<String> = [Permission::Read, Permission::Write, Permission::Admin]
                    .into_iter()
                    .filter(|held| held.includes(needed))
                    .map(|held| format!("'{}'", held.as_str()))
                    .collect();
                if levels.is_empty() {
                    return "FALSE".to_owned();
                }
                // Entries count under a stored ACL only, as in the Rust form (an intent's entries
                // are read with its ACL); without one, `NoAcl` holds anyway.
                format!(
                    "EXISTS (SELECT 1 FROM intent_acls a JOIN acl_entries e ON e.intent_id = a.intent_id \
                     WHERE a.intent_id = {intent_id} AND e.principal_id = {principal} AND e.permission IN ({}) \
                     AND (e.expires_at IS NULL OR e.expires_at > ${now}))",
                    levels.join(", ")
                )
            }
        }
    }
}

/// Whether `principal` may act at `needed` on an intent created by `created_by` whose ACL is
/// `acl` (`None`: the intent never got one), at `now`: [`RULE`] evaluated.
pub(crate) fn allows(
    acl: Option<&Acl>,
    created_by: &str,
    principal: &str,
    needed: &Permission,
    now: DateTime<Utc>,
) -> bool {
    RULE.iter().any(|g| g.holds(acl, created_by, principal, needed, now))
}

/// [`RULE`] as an SQL condition, true for the intents on which the principal `at.principal`
/// holds `needed` at the time bound at `at.now` (the SQL form of [`allows`]).
///
/// It starts with [`sql_nothing_restricted`], a condition on the whole database implied by the
/// rule (when no ACL restricts, [`Grant::NoAcl`] or [`Grant::OpenPolicy`] holds for every intent):
/// evaluated once per statement, it spares the per-row clauses (and their columns) to callers of
/// a database where no intent is restricted.
pub(crate) fn sql_predicate(needed: &Permission, at: SqlInputs<'_>) -> String {
    let clauses: Vec<String> =
        std::iter::once(sql_nothing_restricted()).chain(RULE.iter().map(|g| g.sql(needed, at))).collect();
    format!("({})", clauses.join(" OR "))
}

/// True when no intent has an ACL whose default policy is other than `open`: then every intent
/// is open to every principal at every level ([`Grant::NoAcl`] or [`Grant::OpenPolicy`] holds for
/// each). Refers to no row of the query, so a database evaluates it once per statement.
pub(crate) fn sql_nothing_restricted() -> String {
    format!("NOT EXISTS (SELECT 1 FROM intent_acls r WHERE r.default_policy <> '{}')", AccessPolicy::Open.as_str())
}

/// The text of a refusal: who lacks which level.
pub(crate) fn refusal(principal: &str, needed: &Permission) -> String {
    format!("Access denied: {principal:?} lacks {} access to this intent", needed.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(policy: &str, entries: serde_json::Value) -> Acl {
        serde_json::from_value(serde_json::json!({"default_policy": policy, "entries": entries})).unwrap()
    }

    #[test]
    fn routes_need_their_levels() {
        let r = |m, p| {
            required_level(m, p).map(|(level, scope)| {
                assert_eq!(scope, Scope::Intent, "{p}");
                level
            })
        };
        assert_eq!(r("GET", "/api/v1/intents/i1"), Some(Permission::Read));
        assert_eq!(r("GET", "/api/v1/intents/i1/events"), Some(Permission::Read));
        assert_eq!(r("GET", "/api/v1/intents/i1/subscribe"), Some(Permission::Read));
        assert_eq!(r("GET", "/api/v1/subscribe/intents/i1"), Some(Permission::Read));
        assert_eq!(r("GET", "/api/v1/intents/i1/acl"), Some(Permission::Read));
        assert_eq!(r("POST", "/api/v1/intents/i1/state"), Some(Permission::Write));
        assert_eq!(r("POST", "/api/v1/intents/i1/leases"), Some(Permission::Write));
        assert_eq!(r("DELETE", "/api/v1/intents/i1/leases/l1"), Some(Permission::Write));
        assert_eq!(r("POST", "/api/v1/intents/i1/status"), Some(Permission::Admin));
        assert_eq!(r("PUT", "/api/v1/intents/i1/acl"), Some(Permission::Admin));
        assert_eq!(r("DELETE", "/api/v1/intents/i1/acl/entries/e1"), Some(Permission::Admin));
        assert_eq!(r("GET", "/api/v1/intents/i1/access-requests"), Some(Permission::Admin));
        assert_eq!(r("POST", "/api/v1/intents/i1/access-requests/r1/approve"), Some(Permission::Admin));
        assert_eq!(r("POST", "/api/v1/intents/i1/access-requests"), None);
        assert_eq!(r("POST", "/api/v1/intents"), None);
        assert_eq!(r("GET", "/api/v1/portfolios/p1"), None);
        assert_eq!(r("GET", "/api/v1/intentsx/i1"), None);
        let c = |m, p| required_level(m, p);
        assert_eq!(c("GET", "/api/v1/channels/c1/messages"), Some((Permission::Read, Scope::Channel)));
        assert_eq!(c("GET", "/api/v1/subscribe/channels/c1"), Some((Permission::Read, Scope::Channel)));
        assert_eq!(c("POST", "/api/v1/channels/c1/messages/m1/reply"), Some((Permission::Write, Scope::Channel)));
        assert_eq!(c("DELETE", "/api/v1/channels/c1"), Some((Permission::Write, Scope::Channel)));
    }

    #[test]
    fn open_or_missing_acls_let_everyone_in() {
        let now = Utc::now();
        assert!(allows(None, "owner", "anyone", &Permission::Admin, now));
        let open = acl("open", serde_json::json!([]));
        assert!(allows(Some(&open), "owner", "anyone", &Permission::Admin, now));
    }

    #[test]
    fn closed_acls_need_an_unexpired_entry_of_the_level() {
        let now = Utc::now();
        let closed = acl(
            "closed",
            serde_json::json!([
                {"id": "1", "principal_id": "reader", "permission": "read"},
                {"id": "2", "principal_id": "writer", "permission": "write"},
                {"id": "3", "principal_id": "gone", "permission": "admin", "expires_at": "2020-01-01T00:00:00"},
                {"id": "4", "principal_id": "odd", "permission": "owner"},
            ]),
        );
        let a = |who: &str, level: Permission| allows(Some(&closed), "creator", who, &level, now);
        assert!(a("reader", Permission::Read));
        assert!(!a("reader", Permission::Write));
        assert!(a("writer", Permission::Write));
        assert!(!a("writer", Permission::Admin));
        assert!(!a("gone", Permission::Read), "an expired entry grants nothing");
        assert!(!a("odd", Permission::Read), "an unknown level grants nothing");
        assert!(!a("stranger", Permission::Read));
        assert!(a("creator", Permission::Admin), "the creator is never locked out");
        for policy in ["restricted", "private"] {
            let acl = acl(policy, serde_json::json!([]));
            assert!(!allows(Some(&acl), "creator", "stranger", &Permission::Read, now), "{policy}");
        }
    }
}
