"""The agent-platform areas other than the runtime, for ``agent_platform.py``.

Registry, graphs, human in the loop, governance, access control, channels and
tracing, each through the 0.17 SDK's client methods (raw HTTP only where the
SDK has no method). Importing this module registers its checks, in order.
Section numbers (§) refer to PROTOCOL-AGENTS.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from typing import Any

import httpx
from openintent import Agent
from openintent.exceptions import NotFoundError, OpenIntentError
from openintent.models import (
    AccessPolicy,
    AgentStatus,
    DecisionType,
    EventType,
    IntentStatus,
    Permission,
    SuspensionChoice,
    SuspensionRecord,
)

from platform_support import (
    CLIENT_BUG,
    SERVER_BUG,
    Context,
    XFail,
    check,
    eq,
    expect_client_error,
    expect_raises,
    expect_status,
    raised,
    server_error,
)

OPERATOR_KEY = "agent-research-key"  # a second principal: approver, respondent
INTRUDER_KEY = "agent-synth-key"  # a third: outside every ACL

# ==========================================================================
# Agent registry (RFC-0016, §1)
# ==========================================================================


@check("registry", "register_agent")
def _register_agent(ctx: Context) -> None:
    agent_id = f"py-registry-{ctx.run}"
    record = ctx.client.register_agent(
        agent_id,
        capabilities=["summarize", "translate"],
        name="Registry check agent",
        role_id=f"analyst-{ctx.run}",
        capacity={"max_concurrent_tasks": 4},
        heartbeat_config={"interval_seconds": 30},
    )
    ctx.values["registered"] = agent_id
    eq(record.agent_id, agent_id, "agent_id")
    eq(record.status, AgentStatus.ACTIVE, "status of a new agent")
    eq(record.capabilities, ["summarize", "translate"], "capabilities")
    eq(record.name, "Registry check agent", "name")
    eq(record.role_id, f"analyst-{ctx.run}", "role_id")
    assert record.registered_at is not None, "registered_at missing"


@check(
    "registry",
    "register_agent (metadata read back)",
    XFail(
        SERVER_BUG,
        "the reference echoes `metadata` as `agent_metadata`, which 0.17 AgentRecord never reads (§1.2)",
        raised(AssertionError, "metadata"),
    ),
)
def _register_agent_metadata(ctx: Context) -> None:
    agent_id = f"py-registry-meta-{ctx.run}"
    record = ctx.client.register_agent(agent_id, metadata={"team": "interop"})
    eq(record.metadata, {"team": "interop"}, "metadata")
    eq(ctx.client.get_agent_record(agent_id).metadata, {"team": "interop"}, "stored metadata")


@check(
    "registry",
    "register_agent (same id again)",
    XFail(
        SERVER_BUG,
        "re-registering an agent_id is a unique-key violation: 500 (§1.3 BUG)",
        server_error,
    ),
)
def _register_agent_again(ctx: Context) -> None:
    agent_id = ctx.need("registered")
    scratch = ctx.scratch_client()
    record = ctx.sdk_call(
        lambda: scratch.register_agent(agent_id, capabilities=["summarize", "review"])
    )
    eq(record.agent_id, agent_id, "agent_id")
    eq(record.capabilities, ["summarize", "review"], "capabilities after re-registering")
    eq(ctx.client.get_agent_record(agent_id).capabilities, ["summarize", "review"], "stored")


@check("registry", "get_agent_record")
def _get_agent_record(ctx: Context) -> None:
    agent_id = ctx.need("registered")
    record = ctx.client.get_agent_record(agent_id)
    eq(record.agent_id, agent_id, "agent_id")
    eq(record.name, "Registry check agent", "name")
    eq(record.status, AgentStatus.ACTIVE, "status")
    exc = expect_raises(
        NotFoundError, lambda: ctx.client.get_agent_record(f"py-nobody-{ctx.run}"), "unknown agent"
    )
    assert getattr(exc, "response", {}).get("detail") != "Not Found", (
        "an unknown agent must not look like a missing route"
    )


@check("registry", "list_agents (status and role filters)")
def _list_agents(ctx: Context) -> None:
    agent_id = ctx.need("registered")
    everyone = [a.agent_id for a in ctx.client.list_agents()]
    assert agent_id in everyone, f"{agent_id} not among {len(everyone)} listed agents"
    by_role = ctx.client.list_agents(role_id=f"analyst-{ctx.run}")
    eq([a.agent_id for a in by_role], [agent_id], "agents with the run's role_id")
    active = ctx.client.list_agents(status="active")
    assert agent_id in [a.agent_id for a in active], "status=active filter lost the agent"
    assert all(a.status == AgentStatus.ACTIVE for a in active), "status filter ignored"


@check("registry", "agent_heartbeat")
def _agent_heartbeat(ctx: Context) -> None:
    agent_id = ctx.need("registered")
    before = ctx.client.get_agent_record(agent_id).last_heartbeat_at
    answer = ctx.client.agent_heartbeat(agent_id, current_load=2, tasks_in_progress=["t-1"])
    assert isinstance(answer, dict), f"heartbeat answered {answer!r}"
    record = ctx.client.get_agent_record(agent_id)
    assert record.last_heartbeat_at is not None, "last_heartbeat_at not set by the heartbeat"
    assert before is None or record.last_heartbeat_at > before, (
        f"last_heartbeat_at did not advance ({before} -> {record.last_heartbeat_at})"
    )
    expect_raises(
        NotFoundError,
        lambda: ctx.client.agent_heartbeat(f"py-nobody-{ctx.run}"),
        "heartbeat of an unknown agent",
    )


@check("registry", "update_agent_status (drain)")
def _drain_agent(ctx: Context) -> None:
    agent_id = ctx.need("registered")
    answer = ctx.client.update_agent_status(agent_id, "draining")
    eq(answer.get("status"), "draining", "status in the answer")
    eq(ctx.client.get_agent_record(agent_id).status, AgentStatus.DRAINING, "stored status")
    draining = [a.agent_id for a in ctx.client.list_agents(status="draining")]
    assert agent_id in draining, "status=draining filter lost the agent"
    # A heartbeat does not undo a drain (§1.7).
    ctx.client.agent_heartbeat(agent_id)
    eq(ctx.client.get_agent_record(agent_id).status, AgentStatus.DRAINING, "after a heartbeat")
    expect_raises(
        NotFoundError,
        lambda: ctx.client.update_agent_status(f"py-nobody-{ctx.run}", "draining"),
        "status of an unknown agent",
    )


@check(
    "registry",
    "update_agent_status (unknown status refused)",
    XFail(
        SERVER_BUG,
        "the reference stores any status string, `bogus` included (§1.7)",
        raised(AssertionError, "accepted"),
    ),
)
def _bogus_agent_status(ctx: Context) -> None:
    agent_id = f"py-registry-bogus-{ctx.run}"
    ctx.client.register_agent(agent_id)
    try:
        answer = ctx.client.update_agent_status(agent_id, "bogus")
    except OpenIntentError as exc:
        eq(exc.status_code, 422, "status of an unknown agent status")
        assert "status" in repr(exc.response), f"422 does not name `status`: {exc.response!r}"
        return
    # Stored: put a valid status back, or the 0.17 AgentRecord (an enum) cannot
    # read this agent in any later listing.
    ctx.client.update_agent_status(agent_id, "active")
    raise AssertionError(f"status 'bogus' accepted: {answer!r}")


# ==========================================================================
# Intent graphs (RFC-0002, §2)
# ==========================================================================


@check("graph", "create_child_intent, get_children, get_ancestors, get_descendants")
def _graph_children(ctx: Context) -> None:
    root = ctx.new_intent("Graph root")
    first = ctx.client.create_child_intent(root.id, title="First child")
    second = ctx.client.create_child_intent(root.id, title="Second child", depends_on=[first.id])
    grandchild = ctx.client.create_child_intent(second.id, title="Grandchild")
    ctx.values["graph"] = (root, first, second, grandchild)
    eq(second.depends_on, [first.id], "depends_on of a child created with one")
    eq([c.id for c in ctx.client.get_children(root.id)], [first.id, second.id], "children")
    eq([a.id for a in ctx.client.get_ancestors(grandchild.id)], [second.id, root.id], "ancestors")
    descendants = {d.id for d in ctx.client.get_descendants(root.id)}
    eq(descendants, {first.id, second.id, grandchild.id}, "descendants")


@check(
    "graph",
    "create_child_intent (parent read back)",
    XFail(
        SERVER_BUG,
        "direct intent responses name the parent `parent_id`; 0.17 reads only `parent_intent_id` (§2.1)",
        raised(AssertionError, "parent_intent_id"),
    ),
)
def _graph_parent_key(ctx: Context) -> None:
    root, first, _second, _grandchild = ctx.need("graph")
    eq(first.parent_intent_id, root.id, "parent_intent_id of the created child")
    eq(ctx.client.get_intent(first.id).parent_intent_id, root.id, "parent_intent_id on GET")


@check(
    "graph",
    "create_intent with depends_on",
    XFail(
        SERVER_BUG,
        "POST /api/v1/intents drops `depends_on` (§2.2)",
        raised(AssertionError, "depends_on"),
    ),
)
def _graph_create_depends_on(ctx: Context) -> None:
    upstream = ctx.new_intent("Upstream")
    downstream = ctx.new_intent("Downstream", depends_on=[upstream.id])
    eq(downstream.depends_on, [upstream.id], "depends_on in the create answer")
    eq(ctx.client.get_intent(downstream.id).depends_on, [upstream.id], "stored depends_on")
    eq([d.id for d in ctx.client.get_dependents(upstream.id)], [downstream.id], "dependents")


@check("graph", "add_dependency, get_dependencies, get_dependents, remove_dependency")
def _graph_dependencies(ctx: Context) -> None:
    a = ctx.new_intent("Dependency A")
    b = ctx.new_intent("Dependency B")
    updated = ctx.client.add_dependency(b.id, a.id, b.version)
    eq(updated.depends_on, [a.id], "depends_on after add_dependency")
    eq(updated.version, b.version + 1, "version after add_dependency")
    eq([d.id for d in ctx.client.get_dependencies(b.id)], [a.id], "dependencies")
    eq([d.id for d in ctx.client.get_dependents(a.id)], [b.id], "dependents")
    # A cycle is refused as the caller's mistake and changes nothing.
    expect_client_error(
        lambda: ctx.client.add_dependency(a.id, b.id, a.version), "dependency closing a cycle"
    )
    eq(ctx.client.get_intent(a.id).depends_on, [], "depends_on of A after the refused cycle")
    removed = ctx.client.remove_dependency(b.id, a.id, updated.version)
    eq(removed.depends_on, [], "depends_on after remove_dependency")
    eq(ctx.client.get_dependents(a.id), [], "dependents after remove_dependency")


@check("graph", "get_ready_intents, get_blocked_intents (completing a dependency)")
def _graph_ready(ctx: Context) -> None:
    root, first, second, _grandchild = ctx.need("graph")
    ready = {i.id for i in ctx.client.get_ready_intents(root.id)}
    blocked = {i.id for i in ctx.client.get_blocked_intents(root.id)}
    assert first.id in ready, "the child without dependencies is not ready"
    eq(second.id in blocked, True, "the child waiting for its sibling is blocked")
    assert second.id not in ready, "the child waiting for its sibling is listed ready"
    current = ctx.client.get_intent(first.id)
    ctx.client.set_status(first.id, current.version, IntentStatus.COMPLETED)
    ready = {i.id for i in ctx.client.get_ready_intents(root.id)}
    blocked = {i.id for i in ctx.client.get_blocked_intents(root.id)}
    assert second.id in ready, "completing its dependency did not make the child ready"
    assert second.id not in blocked, "the child is still blocked after its dependency completed"
    ctx.values["dependency_completed"] = True


@check("graph", "get_events of a dependent (after its dependency completed)")
def _graph_dependent_events(ctx: Context) -> None:
    _root, _first, second, _grandchild = ctx.need("graph")
    ctx.need("dependency_completed")
    # Whatever events the completion wrote on the dependent, 0.17 must parse them
    # (IntentEvent.from_dict raises ValueError on a type its EventType lacks).
    types = {e.event_type for e in ctx.client.get_events(second.id)}
    assert EventType.INTENT_CREATED in types, f"events of the dependent: {types}"


@check("graph", "get_intent_graph")
def _graph_graph(ctx: Context) -> None:
    root, first, second, grandchild = ctx.need("graph")
    graph = ctx.client.get_intent_graph(root.id)
    node_ids = {node["id"] for node in graph.get("nodes", [])}
    assert {root.id, first.id, second.id, grandchild.id} <= node_ids, f"nodes: {node_ids}"
    edges = {(e.get("from"), e.get("to"), e.get("type")) for e in graph.get("edges", [])}
    assert (root.id, first.id, "parent") in edges, f"no parent edge root -> first in {edges}"
    assert (first.id, second.id, "dependency") in edges, (
        f"no dependency edge first -> second in {edges}"
    )


# ==========================================================================
# Human in the loop (RFC-0025, §3)
# ==========================================================================

CHOICES = [
    {"value": "approve", "label": "Approve", "description": "Go ahead"},
    {"value": "reject", "label": "Reject"},
]


@Agent("py-hitl-agent")
class HitlAgent:
    """An @Agent used only for its request_input() (no stream)."""


@check(
    "hitl",
    "request_input (as shipped)",
    XFail(
        CLIENT_BUG,
        "request_input() calls set_status(id, status, version) against (id, version, status): "
        "AttributeError before anything is suspended (§3.2 BUG)",
        raised(AttributeError, "'int' object has no attribute 'value'"),
    ),
)
def _request_input_shipped(ctx: Context) -> None:
    intent = ctx.new_intent("Suspended by request_input")
    agent = HitlAgent(ctx.url, ctx.api_key)

    async def ask() -> Any:
        try:
            return await asyncio.wait_for(
                agent.request_input(
                    intent.id, "Proceed?", response_type="confirm", timeout_seconds=5
                ),
                timeout=ctx.timeout,
            )
        finally:
            await agent.async_client.close()

    try:
        asyncio.run(ask())
    finally:
        agent.client.close()
    eq(ctx.client.get_intent(intent.id).status, IntentStatus.SUSPENDED_AWAITING_INPUT, "status")


@check("hitl", "suspend (the writes request_input makes)")
def _suspend(ctx: Context) -> None:
    # The sequence of §3.2 with the argument order fixed: status, then the
    # _suspension record in state, then the intent.suspended event.
    intent = ctx.new_intent("Awaiting an operator")
    intent = ctx.client.set_status(intent.id, intent.version, IntentStatus.ACTIVE)
    suspension = SuspensionRecord(
        id=str(uuid.uuid4()),
        question="Ship the release?",
        response_type="choice",
        choices=[SuspensionChoice.from_dict(c) for c in CHOICES],
        context={"release": "1.2.0"},
        timeout_seconds=3600,
    )
    intent = ctx.client.set_status(intent.id, intent.version, IntentStatus.SUSPENDED_AWAITING_INPUT)
    eq(intent.status, IntentStatus.SUSPENDED_AWAITING_INPUT, "status after suspending")
    intent = ctx.client.update_state(intent.id, intent.version, {"_suspension": suspension.to_dict()})
    ctx.client.log_event(
        intent.id,
        EventType.INTENT_SUSPENDED,
        {"suspension_id": suspension.id, "question": suspension.question, "response_type": "choice"},
    )
    eq(intent.state.get("_suspension", {}).get("id"), suspension.id, "_suspension.id in state")
    ctx.values["suspended"] = (intent.id, suspension.id)


def respond(ctx: Context, intent_id: str, body: Any) -> httpx.Response:
    """POST …/suspend/respond as the operator (the 0.17 client has no method for it)."""
    return ctx.raw.post(
        f"/api/v1/intents/{intent_id}/suspend/respond",
        json=body,
        headers={"X-API-Key": OPERATOR_KEY, "X-Agent-ID": "py-operator"},
    )


@check("hitl", "respond (invalid choice, wrong suspension, not suspended)")
def _respond_refusals(ctx: Context) -> None:
    intent_id, suspension_id = ctx.need("suspended")
    invalid = respond(ctx, intent_id, {"suspension_id": suspension_id, "value": "maybe"})
    eq(invalid.status_code, 422, f"invalid choice ({invalid.text[:200]})")
    wrong = respond(ctx, intent_id, {"suspension_id": str(uuid.uuid4()), "value": "approve"})
    eq(wrong.status_code, 409, f"another suspension's id ({wrong.text[:200]})")
    fresh = ctx.new_intent("Never suspended")
    idle = respond(ctx, fresh.id, {"suspension_id": suspension_id, "value": "approve"})
    eq(idle.status_code, 409, f"respond to an intent that is not suspended ({idle.text[:200]})")
    eq(ctx.client.get_intent(intent_id).status, IntentStatus.SUSPENDED_AWAITING_INPUT, "still")


@check(
    "hitl",
    "respond (empty body refused)",
    XFail(
        SERVER_BUG,
        "the respond handler parses the body by hand: an empty body is a 500 (§3.3 BUG)",
        raised(AssertionError, "HTTP 500"),
    ),
)
def _respond_empty(ctx: Context) -> None:
    intent_id, _ = ctx.need("suspended")
    # Its own connection: the reference closes it after a 500.
    with httpx.Client(base_url=ctx.url, timeout=30.0) as fresh:
        answer = fresh.post(
            f"/api/v1/intents/{intent_id}/suspend/respond",
            content=b"",
            headers={"Content-Type": "application/json", "X-API-Key": ctx.api_key},
        )
    assert answer.status_code in (400, 422), (
        f"empty body: HTTP {answer.status_code} {answer.text[:200]} (expected 400 or 422)"
    )


@check("hitl", "respond (the intent resumes)")
def _respond(ctx: Context) -> None:
    intent_id, suspension_id = ctx.need("suspended")
    before = ctx.client.get_intent(intent_id)
    answer = respond(
        ctx, intent_id, {"suspension_id": suspension_id, "value": "approve", "responded_by": "py-operator"}
    )
    eq(answer.status_code, 200, f"respond ({answer.text[:200]})")
    body = answer.json()
    eq(body.get("resolution"), "responded", "resolution")
    eq(body.get("value"), "approve", "value")
    eq(body.get("suspension_id"), suspension_id, "suspension_id")
    eq(body.get("choice_label"), "Approve", "choice_label")
    after = ctx.client.get_intent(intent_id)
    eq(after.status, IntentStatus.ACTIVE, "status after the response")
    assert after.version > before.version, "version did not advance"
    resumed = [e for e in ctx.client.get_events(intent_id) if e.event_type == EventType.INTENT_RESUMED]
    eq(len(resumed), 1, "intent.resumed events")
    eq(resumed[0].payload.get("suspension_id"), suspension_id, "intent.resumed suspension_id")
    again = respond(ctx, intent_id, {"suspension_id": suspension_id, "value": "reject"})
    eq(again.status_code, 409, "a second response")
    ctx.values["responded"] = (intent_id, suspension_id, before.version)


@check(
    "hitl",
    "resume (the agent's poll reads the answer)",
    XFail(
        SERVER_BUG,
        "the answer written into _suspension is lost (in-place mutation the ORM ignores), "
        "so request_input() would poll until its deadline (§3.3 BUG)",
        raised(AssertionError, "_suspension"),
    ),
)
def _resume_answer(ctx: Context) -> None:
    intent_id, suspension_id, _ = ctx.need("responded")
    stored = ctx.client.get_intent(intent_id).state.get("_suspension", {})
    eq(stored.get("id"), suspension_id, "_suspension.id")
    eq(stored.get("resolution"), "responded", "_suspension.resolution")
    eq(stored.get("response"), "approve", "_suspension.response")


@check(
    "hitl",
    "resume (status_changed event)",
    XFail(
        SERVER_BUG,
        "the resume to `active` writes only intent.resumed, no status_changed event (§3.3)",
        raised(AssertionError, "status_changed"),
    ),
)
def _resume_event(ctx: Context) -> None:
    intent_id, _, _ = ctx.need("responded")
    events = ctx.client.get_events(intent_id)  # newest first
    types = [e.event_type for e in events]
    resumed_at = types.index(EventType.INTENT_RESUMED)
    suspended_at = types.index(EventType.INTENT_SUSPENDED)
    between = types[: suspended_at]
    assert EventType.STATUS_CHANGED in between, (
        f"no status_changed after the suspension (newest first: {[t.value for t in types[:6]]}, "
        f"intent.resumed at {resumed_at})"
    )


# ==========================================================================
# Governance (RFC-0013, §4)
# ==========================================================================


@check("governance", "set_governance_policy, get_governance_policy")
def _governance_set(ctx: Context) -> None:
    intent = ctx.new_intent("Needs approval to complete")
    updated = ctx.client.set_governance_policy(
        intent.id, intent.version, {"completion_mode": "require_approval"}
    )
    eq(updated.version, intent.version + 1, "version after set_governance_policy")
    policy = ctx.client.get_governance_policy(intent.id)
    eq(policy.get("governance_policy"), {"completion_mode": "require_approval"}, "stored policy")
    eq(policy.get("effective_policy", {}).get("completion_mode"), "require_approval", "effective")
    expect_client_error(
        lambda: ctx.client.set_governance_policy(
            intent.id, updated.version, {"completion_mode": "whenever"}
        ),
        "unknown completion_mode",
    )
    ctx.values["gated"] = intent.id


@check("governance", "completion gated until approve_approval")
def _governance_approve(ctx: Context) -> None:
    intent_id = ctx.need("gated")
    current = ctx.client.get_intent(intent_id)
    expect_status(
        403,
        lambda: ctx.client.set_status(intent_id, current.version, IntentStatus.COMPLETED),
        "completing without an approval",
    )
    request = ctx.client.request_approval(intent_id, "complete", reason="ready to ship")
    eq(request.status, "pending", "status of a new approval request")
    eq(request.action, "complete", "action")
    eq(request.requested_by, ctx.agent_id, "requested_by")
    eq(ctx.client.get_approval_status(intent_id, request.id).status, "pending", "get status")
    operator = ctx.other_client(OPERATOR_KEY, "py-operator")
    decided = operator.approve_approval(intent_id, request.id)
    eq(decided.get("status"), "approved", "status after approve_approval")
    assert decided.get("decided_by") in ("py-operator", OPERATOR_KEY), f"decided_by {decided!r}"
    eq(ctx.client.get_approval_status(intent_id, request.id).status, "approved", "stored")
    current = ctx.client.get_intent(intent_id)
    done = ctx.client.set_status(intent_id, current.version, IntentStatus.COMPLETED)
    eq(done.status, IntentStatus.COMPLETED, "status after the approval")


@check("governance", "deny_approval")
def _governance_deny(ctx: Context) -> None:
    intent_id = ctx.new_intent("Approval to deny").id
    request = ctx.client.request_approval(intent_id, "reopen", reason="second thoughts")
    operator = ctx.other_client(OPERATOR_KEY, "py-operator")
    denied = operator.deny_approval(intent_id, request.id)
    eq(denied.get("status"), "denied", "status after deny_approval")
    eq(ctx.client.get_approval_status(intent_id, request.id).status, "denied", "stored")
    expect_status(409, lambda: operator.approve_approval(intent_id, request.id), "approve a denied")
    expect_raises(
        NotFoundError,
        lambda: ctx.client.get_approval_status(intent_id, str(uuid.uuid4())),
        "unknown approval",
    )


@check("governance", "remove_governance_policy")
def _governance_remove(ctx: Context) -> None:
    intent = ctx.new_intent("Policy to remove")
    intent = ctx.client.set_governance_policy(
        intent.id, intent.version, {"completion_mode": "auto", "require_status_reason": False}
    )
    removed = ctx.client.remove_governance_policy(intent.id, intent.version)
    eq(removed.version, intent.version + 1, "version after remove_governance_policy")
    policy = ctx.client.get_governance_policy(intent.id)
    assert not policy.get("governance_policy"), f"policy still stored: {policy!r}"
    eq(policy.get("effective_policy", {}).get("completion_mode"), "auto", "effective mode")


@check("governance", "escalate_to_human, list_escalations, resolve_escalation")
def _governance_escalations(ctx: Context) -> None:
    intent = ctx.new_intent("Escalated")
    escalation = ctx.client.escalate_to_human(
        intent.id, "budget exceeded", priority="high", context={"spent": 120}
    )
    eq(escalation.status, "pending", "status")
    eq(escalation.escalated_by, ctx.agent_id, "escalated_by")
    listed = [e.id for e in ctx.client.list_escalations(intent_id=intent.id)]
    eq(listed, [escalation.id], "escalations of the intent")
    operator = ctx.other_client(OPERATOR_KEY, "py-operator")
    resolved = operator.resolve_escalation(escalation.id, "raise the budget", notes="approved")
    eq(resolved.status, "resolved", "status after resolve_escalation")
    eq(resolved.resolution, "raise the budget", "resolution")
    ctx.values["escalated"] = intent.id


@check(
    "governance",
    "get_events (after an escalation)",
    XFail(
        CLIENT_BUG,
        "0.17 EventType lacks escalation_initiated/escalation_resolved: get_events raises ValueError (§4.9 BUG)",
        raised(ValueError, "escalation_"),
    ),
)
def _governance_escalation_events(ctx: Context) -> None:
    intent_id = ctx.need("escalated")
    types = [e.event_type.value for e in ctx.client.get_events(intent_id)]
    assert types, "no events"


@check("governance", "create_coordinator_lease, create_decision_record")
def _decision_record_create(ctx: Context) -> None:
    intent = ctx.new_intent("Coordinated")
    lease = ctx.client.create_coordinator_lease(ctx.agent_id, intent.id)
    record = ctx.client.create_decision_record(
        lease.id,
        intent.id,
        DecisionType.TASK_ASSIGNED,
        "Assign research",
        "it has the capacity",
        alternatives_considered=[{"option": "another agent"}],
        confidence=0.7,
    )
    eq(record["decision_type"], "task_assigned", "decision_type")
    eq((record["coordinator_id"], record["confidence"]), (lease.id, 0.7), "coordinator_id, confidence")
    ctx.values["decided"] = (intent.id, record["id"])


@check(
    "governance",
    "list_decision_records",
    XFail(
        SERVER_BUG,
        "the reference lists decision records at …/decisions; the SDK's …/coordinator-decisions is 404 (§4.8)",
        raised(NotFoundError),
    ),
)
def _decision_record_list(ctx: Context) -> None:
    intent_id, record_id = ctx.need("decided")
    eq([r["id"] for r in ctx.client.list_decision_records(intent_id)], [record_id], "records of the intent")
    if ctx.rust:
        types = [e.event_type for e in ctx.client.get_events(intent_id)]
        assert EventType.COORDINATOR_DECISION in types, f"no coordinator.decision event: {types!r}"


# ==========================================================================
# Access control (RFC-0011, §9)
# ==========================================================================


@check("acl", "get_acl (default), set_acl")
def _acl_set(ctx: Context) -> None:
    intent = ctx.new_intent("Access controlled")
    acl = ctx.client.get_acl(intent.id)
    eq(acl.default_policy, AccessPolicy.OPEN, "default policy of an intent without an ACL")
    eq(acl.entries, [], "entries of an intent without an ACL")
    reader = f"py-reader-{ctx.run}"
    acl = ctx.client.set_acl(
        intent.id,
        default_policy=AccessPolicy.CLOSED,
        entries=[
            {"principal_id": ctx.agent_id, "principal_type": "agent", "permission": "admin"},
            {"principal_id": reader, "principal_type": "agent", "permission": "read"},
        ],
    )
    eq(acl.default_policy, AccessPolicy.CLOSED, "default policy")
    eq(
        [(e.principal_id, e.permission) for e in acl.entries],
        [(ctx.agent_id, Permission.ADMIN), (reader, Permission.READ)],
        "entries",
    )
    stored = ctx.client.get_acl(intent.id)
    eq(len(stored.entries), 2, "stored entries")
    ctx.values["acl"] = (intent.id, reader)


@check("acl", "grant_access, revoke_access")
def _acl_grant(ctx: Context) -> None:
    intent_id, _ = ctx.need("acl")
    writer = f"py-writer-{ctx.run}"
    entry = ctx.client.grant_access(intent_id, writer, permission=Permission.WRITE, reason="helps")
    assert entry.id, "entry has no id"
    eq((entry.principal_id, entry.permission), (writer, Permission.WRITE), "granted entry")
    assert writer in [e.principal_id for e in ctx.client.get_acl(intent_id).entries], "not listed"
    eq(ctx.client.revoke_access(intent_id, entry.id), None, "revoke_access result")
    assert writer not in [e.principal_id for e in ctx.client.get_acl(intent_id).entries], "kept"
    expect_raises(
        NotFoundError, lambda: ctx.client.revoke_access(intent_id, entry.id), "second revoke"
    )


@check("acl", "request_access, list_access_requests, approve/deny_access_request")
def _acl_requests(ctx: Context) -> None:
    intent_id, _ = ctx.need("acl")
    asker = f"py-asker-{ctx.run}"
    request = ctx.client.request_access(
        intent_id, asker, permission=Permission.WRITE, reason="need to edit", capabilities=["edit"]
    )
    eq(request.status.value, "pending", "status of a new request")
    eq(request.requested_permission, Permission.WRITE, "requested_permission")
    listed = [r.id for r in ctx.client.list_access_requests(intent_id)]
    assert request.id in listed, "request not listed"
    approved = ctx.client.approve_access_request(intent_id, request.id, reason="ok")
    eq(approved.status.value, "approved", "status after approval")
    eq(approved.decided_by, ctx.agent_id, "decided_by")
    entries = [(e.principal_id, e.permission) for e in ctx.client.get_acl(intent_id).entries]
    assert (asker, Permission.WRITE) in entries, f"approval added no entry: {entries}"
    expect_client_error(
        lambda: ctx.client.approve_access_request(intent_id, request.id), "approve twice"
    )
    second = ctx.client.request_access(intent_id, f"py-denied-{ctx.run}", permission=Permission.ADMIN)
    denied = ctx.client.deny_access_request(intent_id, second.id, reason="too much")
    eq(denied.status.value, "denied", "status after deny")


@check(
    "acl",
    "approve_access_request (request of another intent)",
    XFail(
        SERVER_BUG,
        "approve ignores the path intent: a request of intent A is approved through /intents/B (§9.2 BUG)",
        raised(AssertionError, "approved through another intent"),
    ),
)
def _acl_wrong_intent(ctx: Context) -> None:
    intent_id, _ = ctx.need("acl")
    other = ctx.new_intent("Unrelated")
    request = ctx.client.request_access(intent_id, f"py-sneaky-{ctx.run}")
    try:
        ctx.client.approve_access_request(other.id, request.id)
    except NotFoundError:
        return
    raise AssertionError("a request was approved through another intent's path")


@check(
    "acl",
    "set_acl (entry without principal_id refused)",
    XFail(
        SERVER_BUG,
        "an entry without principal_id crashes PUT …/acl: 500 (§9.2 BUG)",
        server_error,
    ),
)
def _acl_bad_entry(ctx: Context) -> None:
    intent = ctx.new_intent("Malformed ACL")
    scratch = ctx.scratch_client()
    try:
        acl = ctx.sdk_call(lambda: scratch.set_acl(intent.id, entries=[{"permission": "read"}]))
    except OpenIntentError as exc:
        eq(exc.status_code, 422, "status of an entry without principal_id")
        assert "principal_id" in repr(exc.response), f"422 does not name principal_id: {exc.response!r}"
        eq(ctx.client.get_acl(intent.id).entries, [], "entries after the refused PUT")
        return
    raise AssertionError(f"an entry without principal_id was accepted: {acl!r}")


@check(
    "acl",
    "enforcement (read-only and unlisted principals)",
    XFail(
        SERVER_BUG,
        "the reference checks no ACL on any route (§9.4)",
        raised(AssertionError, "served"),
    ),
)
def _acl_enforced(ctx: Context) -> None:
    intent_id, reader = ctx.need("acl")
    reading = ctx.other_client(INTRUDER_KEY, reader)
    intent = reading.get_intent(intent_id)  # `read` may read
    try:
        reading.update_state(intent_id, intent.version, {"tampered": True})
    except OpenIntentError as exc:
        eq(exc.status_code, 403, "status of a write by a read-only principal")
    else:
        raise AssertionError("a state write by a read-only principal was served")
    intruder = ctx.other_client(INTRUDER_KEY, f"py-intruder-{ctx.run}")
    try:
        intruder.get_intent(intent_id)
    except OpenIntentError as exc:
        eq(exc.status_code, 403, "status of a read by a principal outside a closed ACL")
    else:
        raise AssertionError("a read by a principal outside a closed ACL was served")
    # The principals named with admin keep their access.
    eq(ctx.client.get_intent(intent_id).id, intent_id, "read by the ACL's admin")


# ==========================================================================
# Channels and messages (RFC-0021, §5.2)
# ==========================================================================


@check("channels", "create_channel, list_channels, get_channel")
def _channels(ctx: Context) -> None:
    intent = ctx.new_intent("Channel host")
    channel = ctx.client.create_channel(intent.id, "coordination", members=[ctx.agent_id, "py-peer"])
    assert channel.get("id"), f"channel has no id: {channel!r}"
    eq(channel.get("name"), "coordination", "name")
    eq(channel.get("intent_id"), intent.id, "intent_id")
    eq(channel.get("status"), "open", "status")
    listed = ctx.client.list_channels(intent.id)
    assert channel["id"] in [c.get("id") for c in listed], f"not listed: {listed!r}"
    eq(ctx.client.get_channel(channel["id"]).get("name"), "coordination", "get_channel name")
    ctx.values["channel"] = channel["id"]


@check("channels", "send_message, list_messages, get_message, reply_to, mark_read")
def _messages(ctx: Context) -> None:
    channel_id = ctx.need("channel")
    sent = ctx.client.send_message(
        channel_id, ctx.agent_id, to="py-peer", message_type="request", payload={"q": "status?"}
    )
    assert sent.get("id"), f"message has no id: {sent!r}"
    eq(sent.get("payload"), {"q": "status?"}, "payload")
    eq(sent.get("sender"), ctx.agent_id, "sender")
    reply = ctx.client.reply_to(channel_id, sent["id"], "py-peer", payload={"a": "green"})
    eq(reply.get("correlation_id"), sent["id"], "correlation_id of the reply")
    eq(reply.get("message_type"), "response", "message_type of the reply")
    eq(reply.get("to"), ctx.agent_id, "a reply goes to the original sender")
    ids = [m.get("id") for m in ctx.client.list_messages(channel_id)]
    eq(ids, [sent["id"], reply["id"]], "messages in order")
    eq([m.get("id") for m in ctx.client.list_messages(channel_id, since=sent["id"])],
       [reply["id"]], "messages after the first")
    eq(ctx.client.get_message(channel_id, sent["id"]).get("payload"), {"q": "status?"}, "get")
    read = ctx.client.mark_read(channel_id, reply["id"])
    eq(read.get("status"), "read", "status after mark_read")
    assert read.get("read_at"), "read_at not set"


@check("channels", "ask (answered from another thread)")
def _ask(ctx: Context) -> None:
    channel_id = ctx.need("channel")
    peer = ctx.other_client(OPERATOR_KEY, "py-peer")
    stop = threading.Event()

    def answer() -> None:
        deadline = time.monotonic() + ctx.timeout
        while not stop.is_set() and time.monotonic() < deadline:
            for m in peer.list_messages(channel_id):
                if m.get("message_type") == "request" and m.get("payload") == {"q": "ping"}:
                    peer.reply_to(channel_id, m["id"], "py-peer", payload={"a": "pong"})
                    return
            time.sleep(0.2)

    helper = threading.Thread(target=answer, daemon=True)
    helper.start()
    try:
        response = ctx.client.ask(channel_id, ctx.agent_id, "py-peer", {"q": "ping"},
                                  timeout=int(ctx.timeout))
    finally:
        stop.set()
        helper.join(timeout=5)
    eq(response.get("payload"), {"a": "pong"}, "payload of the answer")


@check("channels", "close_channel")
def _close_channel(ctx: Context) -> None:
    channel_id = ctx.need("channel")
    eq(ctx.client.close_channel(channel_id), None, "close_channel result")
    try:
        channel = ctx.client.get_channel(channel_id)
    except NotFoundError:
        return  # the reference deletes a closed channel
    eq(channel.get("status"), "closed", "status of a closed channel")


# ==========================================================================
# Tracing (RFC-0020, §5.1)
# ==========================================================================

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@check(
    "tracing",
    "log_event with trace_id and parent_event_id",
    XFail(
        SERVER_BUG,
        "the reference accepts trace_id/parent_event_id and drops them (§5.1)",
        raised(AssertionError, "trace_id"),
    ),
)
def _tracing(ctx: Context) -> None:
    intent = ctx.new_intent("Traced")
    parent = ctx.client.log_event(intent.id, EventType.COMMENT, {"step": 1}, trace_id=TRACE_ID)
    child = ctx.client.log_event(
        intent.id, EventType.COMMENT, {"step": 2}, trace_id=TRACE_ID, parent_event_id=parent.id
    )
    eq(parent.trace_id, TRACE_ID, "trace_id in the answer")
    eq(child.parent_event_id, parent.id, "parent_event_id in the answer")
    logged = {e.id: e for e in ctx.client.get_events(intent.id)}
    eq(logged[child.id].trace_id, TRACE_ID, "trace_id in the log")
    eq(logged[child.id].parent_event_id, parent.id, "parent_event_id in the log")
