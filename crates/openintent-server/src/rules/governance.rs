//! Intent governance policies (PROTOCOL.md §4.5): validation on create, and the rules the
//! write routes enforce.
//!
//! The rules are pure functions of the policy and of facts the store reads inside the write's
//! own transaction (whether the caller is assigned, how many agents are, the running cost
//! total), so a check and the write it guards cannot be separated by another writer. A refusal
//! is a [`Violation`]: the store appends its `governance.violation` event (when the rule logs
//! one), commits that event alone, and refuses the write with it (a 403 at the HTTP edge).

use openintent_types::schema::{RequestSchema, check_schema};
use openintent_types::{FieldError, GovernancePolicy, JsonObject, Validate};
use serde_json::{Value, json};

const DEFAULT_QUORUM_THRESHOLD: f64 = 0.6;
/// The approval action that lifts or changes a completion gate.
pub(crate) const POLICY_CHANGE_ACTION: &str = "change_governance_policy";

/// How an intent may reach `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum CompletionMode {
    /// No gate.
    #[default]
    Auto,
    /// An approved approval request for action `complete` is needed.
    RequireApproval,
    /// A quorum of the assigned agents must approve (`complete` approvals decided by distinct
    /// assigned agents).
    Quorum,
}

/// An intent's policy as the rules read it. Missing or `null` keys take their defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Policy {
    pub completion_mode: CompletionMode,
    pub quorum_threshold: f64,
    pub assigned_only: bool,
    pub allowed_agents: Vec<String>,
    pub max_cost: Option<f64>,
    pub require_status_reason: bool,
    /// Whether the principal who requested an approval may decide it (`allow_self_approval`,
    /// default `false`).
    pub allow_self_approval: bool,
}

/// What the completion gate counts, read in the status write's transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CompletionFacts {
    /// Distinct agents assigned to the intent.
    pub assigned_agents: u64,
    /// `require_approval`: approved `complete` approvals. `quorum`: distinct assigned agents
    /// that approved a `complete` approval.
    pub approvals: u64,
}

/// A refusal by one rule.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violation {
    /// The rule's name (`write_scope`, `allowed_agents`, `max_cost`, ...).
    pub rule: &'static str,
    /// The human text of the 403.
    pub message: String,
    /// The completion mode, for `completion_mode` refusals (the reference adds it to the body).
    pub mode: Option<&'static str>,
    /// The `detail` of the `governance.violation` event; `None` when the rule logs no event.
    pub event_detail: Option<String>,
}

impl Violation {
    /// The `governance.violation` event payload, when the rule logs one.
    pub(crate) fn event_payload(&self) -> Option<JsonObject> {
        let detail = self.event_detail.as_ref()?;
        let mut payload = JsonObject::new();
        payload.insert("rule".into(), json!(self.rule));
        payload.insert("detail".into(), json!(detail));
        Some(payload)
    }
}

/// A float the way the reference prints it (`5.0`, `0.25`).
fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 { format!("{f:.1}") } else { format!("{f}") }
}

impl Policy {
    /// Reads a stored policy. Lenient: a value of the wrong type (only possible for policies
    /// stored before validation existed) counts as absent, except a non-empty
    /// `allowed_agents`, whose string entries still restrict.
    pub(crate) fn from_stored(policy: Option<&JsonObject>) -> Policy {
        let mut p = Policy { quorum_threshold: DEFAULT_QUORUM_THRESHOLD, ..Policy::default() };
        let Some(map) = policy else { return p };
        p.completion_mode = match map.get("completion_mode").and_then(Value::as_str) {
            Some("require_approval") => CompletionMode::RequireApproval,
            Some("quorum") => CompletionMode::Quorum,
            _ => CompletionMode::Auto,
        };
        if let Some(t) = map.get("quorum_threshold").and_then(Value::as_f64) {
            p.quorum_threshold = t;
        }
        p.assigned_only = map.get("write_scope").and_then(Value::as_str) == Some("assigned_only");
        if let Some(Value::Array(items)) = map.get("allowed_agents") {
            p.allowed_agents = items.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            if p.allowed_agents.is_empty() && !items.is_empty() {
                // Entries that are not strings admit nobody rather than everybody.
                p.allowed_agents.push(String::new());
            }
        }
        p.max_cost = map.get("max_cost").and_then(Value::as_f64);
        p.require_status_reason = map.get("require_status_reason").and_then(Value::as_bool) == Some(true);
        p.allow_self_approval = map.get("allow_self_approval").and_then(Value::as_bool) == Some(true);
        p
    }

    /// `write_scope` and `allowed_agents` for a write by `principal` (state, status, costs).
    pub(crate) fn check_writer(&self, principal: &str, assigned: bool) -> Result<(), Violation> {
        if self.assigned_only && !assigned {
            return Err(Violation {
                rule: "write_scope",
                message: format!(
                    "Governance policy requires write_scope='assigned_only'. \
                     Agent '{principal}' is not assigned to this intent."
                ),
                mode: None,
                event_detail: Some(format!("Agent '{principal}' is not assigned to this intent")),
            });
        }
        if !self.allowed_agents.is_empty() && !self.allowed_agents.iter().any(|a| a == principal) {
            return Err(Violation {
                rule: "allowed_agents",
                message: format!(
                    "Governance policy restricts writes to allowed agents. \
                     Agent '{principal}' is not in the allowed list."
                ),
                mode: None,
                event_detail: Some(format!("Agent '{principal}' is not in the allowed_agents list")),
            });
        }
        Ok(())
    }

    /// `allowed_agents` for assigning `agent_id`.
    pub(crate) fn check_assignment(&self, agent_id: &str) -> Result<(), Violation> {
        if !self.allowed_agents.is_empty() && !self.allowed_agents.iter().any(|a| a == agent_id) {
            return Err(Violation {
                rule: "allowed_agents",
                message: format!(
                    "Governance policy restricts assignment to allowed agents. Agent '{agent_id}' is not permitted."
                ),
                mode: None,
                event_detail: Some(format!("Agent '{agent_id}' is not in the allowed agents list for assignment")),
            });
        }
        Ok(())
    }

    /// `require_status_reason` (no event, as the reference).
    pub(crate) fn check_status_reason(&self, reason: Option<&str>) -> Result<(), Violation> {
        if self.require_status_reason && reason.is_none_or(|r| r.trim().is_empty()) {
            return Err(Violation {
                rule: "require_status_reason",
                message: "Governance policy requires a 'reason' field for all status transitions.".to_owned(),
                mode: None,
                event_detail: None,
            });
        }
        Ok(())
    }

    /// Whether the policy gates completion (`require_approval` or `quorum`).
    pub(crate) fn gates_completion(&self) -> bool {
        self.completion_mode != CompletionMode::Auto
    }

    /// The `completion_mode` gate of a transition to `completed`, given what the store counted
    /// ([`CompletionFacts`]).
    pub(crate) fn check_completion(&self, facts: CompletionFacts) -> Result<(), Violation> {
        match self.completion_mode {
            CompletionMode::Auto => Ok(()),
            CompletionMode::RequireApproval if facts.approvals >= 1 => Ok(()),
            CompletionMode::RequireApproval => Err(Violation {
                rule: "completion_mode",
                message: "Governance policy requires an approved approval request for action='complete' \
                          before this intent can be completed. Submit an approval request and have it approved first."
                    .to_owned(),
                mode: Some("require_approval"),
                event_detail: Some("No approved approval request for action='complete'".to_owned()),
            }),
            // As the reference: refused without an event when nobody could approve.
            CompletionMode::Quorum if facts.assigned_agents == 0 => Err(Violation {
                rule: "completion_mode",
                message: "Governance policy requires quorum approval, but no agents are assigned to this intent."
                    .to_owned(),
                mode: Some("quorum"),
                event_detail: None,
            }),
            CompletionMode::Quorum => {
                let (threshold, assigned, approved) = (self.quorum_threshold, facts.assigned_agents, facts.approvals);
                // The reference truncates: int(total * threshold), at least 1.
                let required = ((assigned as f64 * threshold) as u64).max(1);
                if approved >= required {
                    return Ok(());
                }
                Err(Violation {
                    rule: "completion_mode",
                    message: format!(
                        "Governance policy requires quorum approval. {approved} of {required} required approvals \
                         received (threshold={}, {assigned} assigned agents).",
                        py_float(threshold)
                    ),
                    mode: Some("quorum"),
                    event_detail: Some(format!(
                        "Quorum not met: {approved}/{required} approvals (threshold={})",
                        py_float(threshold)
                    )),
                })
            }
        }
    }

    /// Whether `approver` may decide an approval requested by `requested_by`: not their own
    /// request, unless the policy sets `allow_self_approval`.
    pub(crate) fn check_approver(&self, requested_by: &str, approver: &str) -> Result<(), Violation> {
        if self.allow_self_approval || requested_by.is_empty() || requested_by != approver {
            return Ok(());
        }
        Err(Violation {
            rule: "self_approval",
            message: format!(
                "Governance policy forbids deciding one's own approval request: '{approver}' requested it. \
                 Another principal must decide it (or set allow_self_approval in the policy)."
            ),
            mode: None,
            event_detail: Some(format!("Agent '{approver}' tried to decide its own approval request")),
        })
    }

    /// Replacing (`new` = the new policy) or removing (`new` = `None`) this policy: a policy that
    /// gates completion can only be lifted or changed in its gate (mode, threshold) once an
    /// approval for action [`POLICY_CHANGE_ACTION`] was approved (`approved_change`).
    pub(crate) fn check_policy_change(&self, new: Option<&Policy>, approved_change: bool) -> Result<(), Violation> {
        if !self.gates_completion() || approved_change {
            return Ok(());
        }
        if let Some(n) = new
            && n.completion_mode == self.completion_mode
            && (n.completion_mode != CompletionMode::Quorum || n.quorum_threshold >= self.quorum_threshold)
            && (n.allow_self_approval <= self.allow_self_approval)
        {
            // The gate stays (or tightens).
            return Ok(());
        }
        let what = if new.is_some() { "changing" } else { "removing" };
        Err(Violation {
            rule: "policy_change",
            message: format!(
                "Governance policy gates completion (completion_mode='{}'); {what} it needs an approved approval \
                 request for action='{POLICY_CHANGE_ACTION}' first.",
                self.mode_name()
            ),
            mode: Some(self.mode_name()),
            event_detail: Some(format!("No approved approval request for action='{POLICY_CHANGE_ACTION}'")),
        })
    }

    fn mode_name(&self) -> &'static str {
        match self.completion_mode {
            CompletionMode::Auto => "auto",
            CompletionMode::RequireApproval => "require_approval",
            CompletionMode::Quorum => "quorum",
        }
    }

    /// `max_cost`: refuses when `total + amount` exceeds the ceiling.
    pub(crate) fn check_cost(&self, total: f64, amount: f64) -> Result<(), Violation> {
        let Some(max) = self.max_cost else { return Ok(()) };
        if total + amount > max {
            let (max, total, amount) = (py_float(max), py_float(total), py_float(amount));
            return Err(Violation {
                rule: "max_cost",
                message: format!(
                    "Governance policy sets max_cost={max}. Current total is {total}; adding {amount} \
                     would exceed the ceiling."
                ),
                mode: None,
                event_detail: Some(format!("Cost ceiling exceeded: current={total}, new={amount}, max={max}")),
            });
        }
        Ok(())
    }
}

/// Checks a policy given as JSON on create, by the one declaration of its fields:
/// [`GovernancePolicy`]'s [`RequestSchema::FIELDS`] for the kinds ([`check_schema`]), then its
/// `Validate` for the rules. Unknown keys pass and `null` means "not set". Each error names its
/// field under `governance_policy` (`["body", "governance_policy", "write_scope"]`), as the
/// body of a 422; the policy itself is left as given.
pub(crate) fn validate(policy: &JsonObject) -> Result<(), Vec<FieldError>> {
    const AT: &str = "governance_policy";
    let under = |mut e: FieldError| {
        e.loc.insert(1.min(e.loc.len()), json!(AT));
        e
    };
    let mut value = Value::Object(policy.clone());
    check_schema(&mut value, GovernancePolicy::FIELDS)
        .map_err(|items| items.into_iter().map(under).collect::<Vec<_>>())?;
    let Value::Object(checked) = value else { unreachable!("check_schema keeps an object") };
    let refused = |field: &str, msg: String| {
        let mut e = FieldError::body(&format!("{AT}.{field}"), "value_error", msg);
        // Indexes of `allowed_agents` items are numbers in `loc`, as elsewhere.
        for part in &mut e.loc {
            if let Some(n) = part.as_str().and_then(|s| s.parse::<u64>().ok()) {
                *part = json!(n);
            }
        }
        vec![e]
    };
    let parsed = GovernancePolicy::from_map(&checked).map_err(|e| refused("", e.to_string()))?;
    parsed.validate().map_err(|e| refused(&e.field, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_allow_everything() {
        let p = Policy::from_stored(None);
        assert!(p.check_writer("a", false).is_ok());
        assert!(p.check_assignment("a").is_ok());
        assert!(p.check_status_reason(None).is_ok());
        assert!(p.check_completion(CompletionFacts::default()).is_ok());
        assert!(p.check_cost(1e9, 1e9).is_ok());
        assert_eq!(p.quorum_threshold, 0.6);
    }

    #[test]
    fn rules_refuse() {
        let p = Policy::from_stored(Some(&policy(json!({
            "write_scope": "assigned_only", "allowed_agents": ["a"], "max_cost": 5,
            "require_status_reason": true, "completion_mode": "quorum", "quorum_threshold": 0.5,
        }))));
        assert_eq!(p.check_writer("b", false).unwrap_err().rule, "write_scope");
        assert_eq!(p.check_writer("b", true).unwrap_err().rule, "allowed_agents");
        assert!(p.check_writer("a", true).is_ok());
        assert!(p.check_assignment("a").is_ok());
        assert_eq!(p.check_assignment("b").unwrap_err().rule, "allowed_agents");
        let v = p.check_status_reason(Some("  ")).unwrap_err();
        assert_eq!((v.rule, v.event_detail), ("require_status_reason", None));
        assert!(p.check_status_reason(Some("why")).is_ok());
        assert!(p.check_completion(CompletionFacts::default()).unwrap_err().event_detail.is_none());
        let v = p.check_completion(CompletionFacts { assigned_agents: 4, approvals: 1 }).unwrap_err();
        assert_eq!(v.event_detail.as_deref(), Some("Quorum not met: 1/2 approvals (threshold=0.5)"));
        assert!(p.check_completion(CompletionFacts { assigned_agents: 4, approvals: 2 }).is_ok());
        assert!(p.check_cost(4.0, 1.0).is_ok());
        let v = p.check_cost(4.0, 1.5).unwrap_err();
        assert_eq!(
            v.message,
            "Governance policy sets max_cost=5.0. Current total is 4.0; adding 1.5 would exceed the ceiling."
        );
    }

    #[test]
    fn validation_names_the_field() {
        assert!(validate(&policy(json!({"write_scope": "any", "custom": [1], "max_cost": null}))).is_ok());
        let items = validate(&policy(json!({"allowed_agents": ["a", 2]}))).unwrap_err();
        assert_eq!(items[0].loc, vec![json!("body"), json!("governance_policy"), json!("allowed_agents"), json!(1)]);
        let cases = [
            (json!({"write_scope": "sometimes"}), "governance_policy.write_scope"),
            (json!({"completion_mode": 3}), "governance_policy.completion_mode"),
            (json!({"max_cost": -1}), "governance_policy.max_cost"),
            (json!({"max_cost": "10"}), "governance_policy.max_cost"),
            (json!({"allowed_agents": "a"}), "governance_policy.allowed_agents"),
            (json!({"allowed_agents": ["a", 2]}), "governance_policy.allowed_agents.1"),
            (json!({"require_status_reason": "yes"}), "governance_policy.require_status_reason"),
            (json!({"quorum_threshold": 1.5}), "governance_policy.quorum_threshold"),
            // As `PUT …/governance` refuses it: the policy's one declaration decides both.
            (json!({"allowed_agents": ["a", " "]}), "governance_policy.allowed_agents.1"),
        ];
        for (input, field) in cases {
            match validate(&policy(input.clone())) {
                Err(items) => assert_eq!(items[0].field(), field, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn approvals_open_the_completion_gate() {
        let p = Policy::from_stored(Some(&policy(json!({"completion_mode": "require_approval"}))));
        let v = p.check_completion(CompletionFacts::default()).unwrap_err();
        assert_eq!((v.rule, v.mode), ("completion_mode", Some("require_approval")));
        assert!(p.check_completion(CompletionFacts { assigned_agents: 0, approvals: 1 }).is_ok());
        // Quorum: 3 assigned at 0.6 need 1 (truncated); 5 need 3.
        let q = Policy::from_stored(Some(&policy(json!({"completion_mode": "quorum"}))));
        assert!(q.check_completion(CompletionFacts { assigned_agents: 3, approvals: 1 }).is_ok());
        let v = q.check_completion(CompletionFacts { assigned_agents: 5, approvals: 2 }).unwrap_err();
        assert_eq!(
            v.message,
            "Governance policy requires quorum approval. 2 of 3 required approvals received \
             (threshold=0.6, 5 assigned agents)."
        );
    }

    #[test]
    fn nobody_decides_their_own_request_unless_allowed() {
        let p = Policy::from_stored(None);
        assert_eq!(p.check_approver("bot", "bot").unwrap_err().rule, "self_approval");
        assert!(p.check_approver("bot", "alice").is_ok());
        assert!(p.check_approver("", "alice").is_ok());
        let lax = Policy::from_stored(Some(&policy(json!({"allow_self_approval": true}))));
        assert!(lax.check_approver("bot", "bot").is_ok());
    }

    #[test]
    fn lifting_a_gate_needs_an_approval() {
        let gated = Policy::from_stored(Some(&policy(json!({"completion_mode": "quorum", "quorum_threshold": 0.5}))));
        let v = gated.check_policy_change(None, false).unwrap_err();
        assert_eq!((v.rule, v.mode), ("policy_change", Some("quorum")));
        assert!(gated.check_policy_change(None, true).is_ok());
        let auto = Policy::from_stored(None);
        assert!(gated.check_policy_change(Some(&auto), false).is_err());
        let lower = Policy::from_stored(Some(&policy(json!({"completion_mode": "quorum", "quorum_threshold": 0.2}))));
        assert!(gated.check_policy_change(Some(&lower), false).is_err());
        let higher = Policy::from_stored(Some(&policy(json!({"completion_mode": "quorum", "quorum_threshold": 0.9}))));
        assert!(gated.check_policy_change(Some(&higher), false).is_ok());
        // A policy without a gate changes freely.
        assert!(auto.check_policy_change(None, false).is_ok());
        assert!(
            validate(&policy(json!({"allow_self_approval": "yes"}))).unwrap_err()[0].field()
                == "governance_policy.allow_self_approval"
        );
    }
}
