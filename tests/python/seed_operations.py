#!/usr/bin/env python3
"""Interoperability checks: the seed README's operations through the Python client.

Runs every operation of the seed README (the API surface openintent-rs offers)
through the official Python client, ``openintent==0.17.0``, against a live
server, and asserts on what comes back. It proves two things:

* ``--server reference``: what the Python reference server (the same PyPI
  package, ``openintent[server]==0.17.0``) does and does not serve to that
  client. Operations the reference is documented not to serve, and operations
  the 0.17 client sends or reads in a shape the reference rejects, are expected
  failures (XFAIL): they must fail, and fail for the documented reason.
* ``--server rust``: the openintent-rs server serves every route and accepts
  the Python clients' body shapes (DIVERGENCES.md S3/S5), so every operation
  the 0.17 client can express correctly must pass there. Defects inside the
  client itself, which no server can fix, stay XFAIL in both modes.

Each check prints one line: ``PASS``, ``FAIL``, ``XFAIL`` or ``SKIP``, the
check name and the reason. A check listed as an expected failure that passes
is reported as ``FAIL`` (unexpected pass), and so is an expected failure that
fails for another reason than the documented one. The last line reads
``N passed, M failed, K skipped``; expected failures are counted as skipped,
because the operation did not work. The exit status is 1 when anything
failed, 2 on a usage or environment error.

Usage (with the interpreter of the reference virtualenv, where the client is
installed by ``scripts/reference-server.sh install``)::

    .venv-ref/bin/python tests/python/seed_operations.py --server reference \\
        --url http://127.0.0.1:8000
    scripts/reference-server.sh run -- \\
        .venv-ref/bin/python tests/python/seed_operations.py --server reference

The server URL comes from ``--url``, else ``OPENINTENT_URL``, else (reference
mode only) ``OPENINTENT_REFERENCE_URL``, which ``reference-server.sh run`` sets.

Section and D-numbers in comments refer to ``PROTOCOL.md`` and
``DIVERGENCES.md`` in the protocol notes.
"""

from __future__ import annotations

import argparse
import base64
import os
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Optional

# The 0.17 client derives a lease's status by comparing the server's naive UTC
# `expires_at` with the naive *local* time (`datetime.now()`), so on a machine
# whose zone is east of UTC every fresh lease looks expired. That is a client
# defect unrelated to the server; pin the process to UTC so that the outcome
# of these checks does not depend on the machine's zone.
os.environ["TZ"] = "UTC"
if hasattr(time, "tzset"):
    time.tzset()

CLIENT_VERSION = "0.17.0"

try:
    import importlib.metadata as _metadata

    import httpx
    from openintent import OpenIntentClient
    from openintent.exceptions import (
        ConflictError,
        LeaseConflictError,
        NotFoundError,
        OpenIntentError,
    )
    from openintent.models import (
        EventType,
        IntentStatus,
        LeaseStatus,
        MembershipRole,
        PortfolioStatus,
        RetryStrategy,
    )
except ImportError as _exc:  # pragma: no cover - environment problem
    print(
        f"error: cannot import the openintent client ({_exc}); run this script with "
        "the reference virtualenv's python (scripts/reference-server.sh install)",
        file=sys.stderr,
    )
    sys.exit(2)

REFERENCE = "reference"
RUST = "rust"
MODES = (REFERENCE, RUST)


# --------------------------------------------------------------------------
# Small check framework
# --------------------------------------------------------------------------


class Skip(Exception):
    """Raised by a check that cannot run in this configuration."""


class MissingPrerequisite(Exception):
    """A value an earlier check should have produced is missing."""


@dataclass(frozen=True)
class XFail:
    """An expected failure: in `modes`, the check must fail and `matches` the error."""

    reason: str
    matches: Callable[[BaseException], bool]
    modes: frozenset[str] = frozenset(MODES)


@dataclass
class Check:
    name: str
    func: Callable[["Context"], None]
    xfail: Optional[XFail] = None


CHECKS: list[Check] = []


def check(name: str, xfail: Optional[XFail] = None) -> Callable:
    """Register a check; checks run in declaration order and share a Context."""

    def register(func: Callable[["Context"], None]) -> Callable[["Context"], None]:
        CHECKS.append(Check(name, func, xfail))
        return func

    return register


@dataclass
class Context:
    mode: str
    url: str
    api_key: str
    agent_id: str
    client: OpenIntentClient
    raw: httpx.Client
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def rust(self) -> bool:
        return self.mode == RUST

    def need(self, key: str) -> Any:
        """A value stored by an earlier check (fails the check if it is absent)."""
        if key not in self.values:
            raise MissingPrerequisite(f"needs '{key}' from an earlier check that failed")
        return self.values[key]

    def new_intent(self, title: str) -> Any:
        intent = self.client.create_intent(title=title)
        assert intent.id, "helper create_intent returned no id"
        return intent


# ----- error matchers for expected failures --------------------------------


def _detail(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return response.get("detail") if isinstance(response, dict) else None


def http_status(status: int) -> Callable[[BaseException], bool]:
    """The client raised OpenIntentError for this HTTP status."""
    return lambda exc: isinstance(exc, OpenIntentError) and exc.status_code == status


def missing_route(exc: BaseException) -> bool:
    """404 with the bare `Not Found` text: the route does not exist (D11)."""
    return (
        isinstance(exc, NotFoundError)
        and exc.status_code == 404
        and _detail(exc) == "Not Found"
    )


def rejected_field(name: str) -> Callable[[BaseException], bool]:
    """422 whose FastAPI error list names `name` (missing or wrong type)."""

    def matches(exc: BaseException) -> bool:
        if not (isinstance(exc, OpenIntentError) and exc.status_code == 422):
            return False
        detail = _detail(exc)
        return isinstance(detail, list) and any(
            isinstance(item, dict) and name in item.get("loc", []) for item in detail
        )

    return matches


def raised(kind: type, text: str) -> Callable[[BaseException], bool]:
    """The client raised `kind` whose message contains `text`."""
    return lambda exc: isinstance(exc, kind) and text in str(exc)


# ----- assertion helpers --------------------------------------------------


def expect_raises(kind: type, func: Callable[[], Any], what: str) -> BaseException:
    try:
        func()
    except kind as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - report what was raised instead
        raise AssertionError(
            f"{what}: expected {kind.__name__}, got {type(exc).__name__}: {exc}"
        ) from exc
    raise AssertionError(f"{what}: expected {kind.__name__}, nothing was raised")


def eq(actual: Any, expected: Any, what: str) -> None:
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def seconds_until(moment: datetime) -> float:
    """Seconds from now until `moment` (naive timestamps are UTC, §1.4)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - datetime.now(timezone.utc)).total_seconds()


# --------------------------------------------------------------------------
# The checks, in the order of the seed README
# --------------------------------------------------------------------------


@check("discover")
def _discover(ctx: Context) -> None:
    meta = ctx.client.discover()
    assert isinstance(meta, dict), f"discover returned {type(meta).__name__}"
    assert meta.get("protocol"), f"no 'protocol' in discovery document: {meta}"
    assert isinstance(meta.get("version"), str), f"no string 'version': {meta}"
    caps = meta.get("capabilities")
    assert isinstance(caps, list) and "intents" in caps, f"capabilities: {caps!r}"


@check("create_intent")
def _create_intent(ctx: Context) -> None:
    constraints = {"max_cost": 50.0, "deadline": "2024-01-15", "quality_threshold": 0.95}
    intent = ctx.client.create_intent(
        title="Analyze customer feedback",
        description="Process and categorize all Q4 customer feedback",
        constraints=constraints,
    )
    ctx.values["intent_id"] = intent.id
    ctx.values["intent_version"] = intent.version
    eq(intent.title, "Analyze customer feedback", "title")
    eq(intent.description, "Process and categorize all Q4 customer feedback", "description")
    eq(intent.constraints, constraints, "constraints")
    eq(intent.version, 1, "version of a new intent")
    eq(intent.status, IntentStatus.DRAFT, "status of a new intent")
    eq(intent.state.to_dict(), {}, "state of a new intent")
    # The client sends created_by = its agent id; the server keeps a body value.
    eq(intent.created_by, ctx.agent_id, "created_by")
    assert intent.created_at is not None, "created_at missing"


@check("get_intent")
def _get_intent(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    intent = ctx.client.get_intent(intent_id)
    eq(intent.id, intent_id, "id")
    eq(intent.title, "Analyze customer feedback", "title")
    eq(intent.version, ctx.need("intent_version"), "version")
    missing = "00000000-0000-4000-8000-000000000000"
    exc = expect_raises(NotFoundError, lambda: ctx.client.get_intent(missing), "unknown id")
    assert _detail(exc) != "Not Found", "a missing intent must not look like a missing route"


@check(
    "list_intents",
    XFail(
        "the reference has no intent listing: GET /api/v1/intents answers 405 (D20)",
        http_status(405),
        frozenset({REFERENCE}),
    ),
)
def _list_intents(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    intents = ctx.client.list_intents()
    ids = [intent.id for intent in intents]
    assert intent_id in ids, f"created intent {intent_id} not among the {len(ids)} listed"
    drafts = ctx.client.list_intents(status=IntentStatus.DRAFT)
    assert drafts, "status=draft filter returned nothing"
    assert all(i.status == IntentStatus.DRAFT for i in drafts), "status filter ignored"


@check("update_state")
def _update_state(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    version = ctx.need("intent_version")
    patch = {"progress": 0.5, "current_phase": "analysis"}
    intent = ctx.client.update_state(intent_id, version, patch)
    ctx.values["intent_version"] = intent.version
    eq(intent.version, version + 1, "version after update_state")
    for key, value in patch.items():
        eq(intent.state.get(key), value, f"state[{key!r}]")
    # Optimistic concurrency: the old version is now stale.
    exc = expect_raises(
        ConflictError,
        lambda: ctx.client.update_state(intent_id, version, {"progress": 0.9}),
        "update_state with a stale version",
    )
    eq(exc.status_code, 409, "status of a version conflict")
    eq(ctx.client.get_intent(intent_id).state.get("progress"), 0.5, "state after conflict")


@check("set_status")
def _set_status(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    version = ctx.need("intent_version")
    intent = ctx.client.set_status(intent_id, version, IntentStatus.ACTIVE)
    ctx.values["intent_version"] = intent.version
    eq(intent.status, IntentStatus.ACTIVE, "status")
    eq(intent.version, version + 1, "version after set_status")
    expect_raises(
        ConflictError,
        lambda: ctx.client.set_status(intent_id, version, IntentStatus.BLOCKED),
        "set_status with a stale version",
    )


@check("log_event")
def _log_event(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    payload = {"message": "Starting analysis phase"}
    event = ctx.client.log_event(intent_id, EventType.COMMENT, payload)
    assert event.id, "event has no id"
    ctx.values["comment_event_id"] = event.id
    eq(event.intent_id, intent_id, "intent_id")
    eq(event.event_type, EventType.COMMENT, "event_type")
    eq(event.payload, payload, "payload")
    # The client sends actor = its agent id (D25); the server stores it.
    eq(event.actor, ctx.agent_id, "actor")


@check("get_events")
def _get_events(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    comment_id = ctx.need("comment_event_id")
    events = ctx.client.get_events(intent_id)
    types = [event.event_type for event in events]
    for expected in (
        EventType.INTENT_CREATED,
        EventType.STATE_PATCHED,
        EventType.STATUS_CHANGED,
        EventType.COMMENT,
    ):
        assert expected in types, f"{expected.value} missing from {[t.value for t in types]}"
    # Newest first (D30): the comment was the last write.
    eq(events[0].id, comment_id, "first (newest) event id")
    eq(types.count(EventType.STATE_PATCHED), 1, "state_patched events (conflict must not log)")


@check("assign_agent")
def _assign_agent(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    assignment = ctx.client.assign_agent(intent_id)
    assert isinstance(assignment, dict), f"assign_agent returned {assignment!r}"
    assert assignment.get("id"), f"assignment has no id: {assignment}"
    eq(assignment.get("intent_id"), intent_id, "intent_id")
    eq(assignment.get("agent_id"), ctx.agent_id, "agent_id (defaults to the client's)")
    eq(assignment.get("role"), "worker", "default role")
    other = ctx.client.assign_agent(intent_id, "agent-research")
    eq(other.get("agent_id"), "agent-research", "explicit agent_id")


@check("acquire_lease")
def _acquire_lease(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    lease = ctx.client.acquire_lease(intent_id, scope="content.draft", duration_seconds=300)
    assert lease.id, "lease has no id"
    ctx.values["lease"] = lease
    eq(lease.intent_id, intent_id, "intent_id")
    eq(lease.scope, "content.draft", "scope")
    eq(lease.status, LeaseStatus.ACTIVE, "derived status")
    remaining = seconds_until(lease.expires_at)
    assert 240 <= remaining <= 310, f"expires in {remaining:.0f}s, expected about 300s"
    # The owner is the caller: the reference uses the API key (it ignores
    # X-Agent-ID, D08); the Rust server prefers X-Agent-ID.
    owner = ctx.agent_id if ctx.rust else ctx.api_key
    eq(lease.agent_id, owner, "lease owner")
    exc = expect_raises(
        LeaseConflictError,
        lambda: ctx.client.acquire_lease(intent_id, scope="content.draft"),
        "second acquire of a held scope",
    )
    eq(exc.status_code, 409, "status of a lease conflict")


@check(
    "get_leases",
    # Client defect, no server can fix it: get_leases() does
    # `data.get("leases", data)` on the body, which crashes on the bare array
    # both the reference and (mirroring it, S1/D34) the Rust server return.
    XFail(
        "0.17 get_leases() calls .get() on the bare lease array every server returns (D34)",
        raised(AttributeError, "'list' object has no attribute 'get'"),
    ),
)
def _get_leases(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    leases = ctx.client.get_leases(intent_id)
    lease = ctx.need("lease")
    active = [item for item in leases if item.status == LeaseStatus.ACTIVE]
    eq([item.id for item in active], [lease.id], "active leases")


@check("renew_lease")
def _renew_lease(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    lease = ctx.need("lease")
    renewed = ctx.client.renew_lease(intent_id, lease_id=lease.id, duration_seconds=600)
    ctx.values["renewed"] = True
    eq(renewed.id, lease.id, "renewed lease id")
    eq(renewed.scope, lease.scope, "scope")
    eq(renewed.status, LeaseStatus.ACTIVE, "status")
    remaining = seconds_until(renewed.expires_at)
    assert 540 <= remaining <= 610, f"renewed lease expires in {remaining:.0f}s, expected ~600s"
    assert renewed.expires_at > lease.expires_at, "expiry did not move forward"
    ctx.values["lease"] = renewed


@check("release_lease")
def _release_lease(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    lease = ctx.need("lease")
    eq(ctx.client.release_lease(intent_id, lease.id), None, "release_lease result")
    # Released: the scope can be acquired again.
    again = ctx.client.acquire_lease(intent_id, scope=lease.scope, duration_seconds=30)
    assert again.id != lease.id, "re-acquire returned the released lease"
    ctx.client.release_lease(intent_id, again.id)
    missing = str(uuid.uuid4())
    expect_raises(
        NotFoundError,
        lambda: ctx.client.release_lease(intent_id, missing),
        "release of an unknown lease",
    )


@check("lease (context manager)")
def _lease_context(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    with ctx.client.lease(intent_id, "analysis", duration_seconds=60) as held:
        eq(held.scope, "analysis", "scope")
        eq(held.status, LeaseStatus.ACTIVE, "status inside the block")
        expect_raises(
            LeaseConflictError,
            lambda: ctx.client.acquire_lease(intent_id, "analysis"),
            "acquire inside the with block",
        )
    # Released on exit: acquiring the scope works again.
    after = ctx.client.acquire_lease(intent_id, "analysis", duration_seconds=30)
    assert after.id != held.id, "lease not released by the context manager"
    ctx.client.release_lease(intent_id, after.id)


@check(
    "get_events (after lease renewal)",
    # Client defect, no server can fix it: IntentEvent.from_dict() does
    # EventType(value) and the 0.17 enum has no `lease_renewed`, which both
    # servers write on PATCH .../leases/{id} (§4.3, D27).
    XFail(
        "0.17 EventType lacks 'lease_renewed'; parsing the log raises ValueError (D27)",
        raised(ValueError, "lease_renewed"),
    ),
)
def _get_events_after_renewal(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    ctx.need("renewed")
    events = ctx.client.get_events(intent_id)
    types = {event.event_type for event in events}
    for expected in (EventType.LEASE_ACQUIRED, EventType.LEASE_RELEASED):
        assert expected in types, f"{expected.value} missing"


@check(
    "request_arbitration",
    XFail(
        "0.17 client omits `requested_by`, which the reference requires: 422 (D42)",
        rejected_field("requested_by"),
        frozenset({REFERENCE}),
    ),
)
def _request_arbitration(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    reason = "Conflicting interpretations of requirements"
    request = ctx.client.request_arbitration(intent_id, reason=reason, context={"round": 1})
    assert request.id, "arbitration request has no id"
    eq(request.intent_id, intent_id, "intent_id")
    eq(request.reason, reason, "reason")
    eq(request.status, "pending", "status")
    eq(request.requester_id, ctx.agent_id, "requester_id (defaults to the caller)")
    eq(request.context, {"round": 1}, "context")


@check(
    "record_decision",
    XFail(
        "0.17 client sends `reasoning` and no `decided_by`; the reference requires decided_by: 422 (D45)",
        rejected_field("decided_by"),
        frozenset({REFERENCE}),
    ),
)
def _record_decision(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    rationale = "Option A better aligns with business objectives"
    decision = ctx.client.record_decision(
        intent_id,
        decision_type="arbitration",
        outcome="proceed_with_option_a",
        reasoning=rationale,
    )
    assert decision.id, "decision has no id"
    eq(decision.intent_id, intent_id, "intent_id")
    eq(decision.decision_type, "arbitration", "decision_type")
    eq(decision.outcome, "proceed_with_option_a", "outcome")
    eq(decision.reasoning, rationale, "reasoning")
    eq(decision.decision_maker_id, ctx.agent_id, "decision_maker_id (defaults to the caller)")


ATTACHMENT_BYTES = b"%PDF-1.4\n% quarterly analysis\n"


@check("add_attachment")
def _add_attachment(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # Seed signature (filename, content_type, content_base64, description)
    # mapped onto the wire fields (§6.7, D48).
    content_base64 = base64.b64encode(ATTACHMENT_BYTES).decode()
    storage_url = f"data:application/pdf;base64,{content_base64}"
    metadata = {"description": "Q4 financial analysis report"}
    attachment = ctx.client.add_attachment(
        intent_id,
        filename="quarterly_analysis.pdf",
        mime_type="application/pdf",
        size=len(ATTACHMENT_BYTES),
        storage_url=storage_url,
        metadata=metadata,
    )
    assert attachment.id, "attachment has no id"
    ctx.values["attachment_id"] = attachment.id
    eq(attachment.intent_id, intent_id, "intent_id")
    eq(attachment.filename, "quarterly_analysis.pdf", "filename")
    eq(attachment.mime_type, "application/pdf", "mime_type")
    eq(attachment.size, len(ATTACHMENT_BYTES), "size")
    eq(attachment.storage_url, storage_url, "storage_url")
    if ctx.rust:
        # The reference drops `metadata` and names the uploader `created_by`
        # (D48, D49); the Rust server keeps metadata and emits `uploaded_by`.
        eq(attachment.metadata, metadata, "metadata")
        eq(attachment.uploaded_by, ctx.agent_id, "uploaded_by")


@check("get_attachments")
def _get_attachments(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    attachment_id = ctx.need("attachment_id")
    attachments = ctx.client.get_attachments(intent_id)
    match = [a for a in attachments if a.id == attachment_id]
    eq(len(match), 1, f"attachments with id {attachment_id}")
    eq(match[0].filename, "quarterly_analysis.pdf", "filename")
    eq(match[0].size, len(ATTACHMENT_BYTES), "size")


@check("delete_attachment")
def _delete_attachment(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    attachment_id = ctx.need("attachment_id")
    eq(ctx.client.delete_attachment(intent_id, attachment_id), None, "delete result")
    remaining = [a.id for a in ctx.client.get_attachments(intent_id)]
    assert attachment_id not in remaining, "attachment still listed after delete"
    expect_raises(
        NotFoundError,
        lambda: ctx.client.delete_attachment(intent_id, attachment_id),
        "second delete of the same attachment",
    )


# Loopback discard port: nothing listens, so no webhook is ever delivered anywhere.
WEBHOOK_URL = "http://127.0.0.1:9/openintent-webhook"


@check(
    "subscribe",
    XFail(
        "the reference has no webhook subscriptions: POST /api/v1/subscriptions is 404 Not Found (D52)",
        missing_route,
        frozenset({REFERENCE}),
    ),
)
def _subscribe(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # Seed: subscribe(intent_id, subscriber_id, callback_url, event_types);
    # 0.17 sends subscriber_id = its agent id and calls the URL webhook_url (D53).
    events = ["state_patched", "status_changed"]
    subscription = ctx.client.subscribe(
        intent_id=intent_id, event_types=events, webhook_url=WEBHOOK_URL
    )
    assert subscription.id, "subscription has no id"
    ctx.values["subscription_id"] = subscription.id
    eq(subscription.intent_id, intent_id, "intent_id")
    eq(subscription.subscriber_id, ctx.agent_id, "subscriber_id")
    eq(subscription.event_types, events, "event_types")
    eq(subscription.webhook_url, WEBHOOK_URL, "webhook_url")
    eq(subscription.active, True, "active")


@check(
    "get_subscriptions",
    XFail(
        "the reference has no webhook subscriptions: GET /api/v1/subscriptions is 404 Not Found (D52)",
        missing_route,
        frozenset({REFERENCE}),
    ),
)
def _get_subscriptions(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    subscriptions = ctx.client.get_subscriptions(intent_id=intent_id)
    subscription_id = ctx.need("subscription_id")
    eq([s.id for s in subscriptions], [subscription_id], "subscriptions of the intent")


@check(
    "unsubscribe",
    XFail(
        "the reference has no webhook subscriptions: DELETE /api/v1/subscriptions/{id} is 404 Not Found (D52)",
        missing_route,
        frozenset({REFERENCE}),
    ),
)
def _unsubscribe(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # Without a subscription (reference) this still sends the DELETE, so the
    # expected failure is the missing route, not a missing prerequisite.
    subscription_id = ctx.values.get("subscription_id") or str(uuid.uuid4())
    eq(ctx.client.unsubscribe(subscription_id), None, "unsubscribe result")
    remaining = [s.id for s in ctx.client.get_subscriptions(intent_id=intent_id)]
    assert subscription_id not in remaining, "subscription still listed"
    ctx.need("subscription_id")


COST_METADATA = {"model": "gpt-4", "tokens": 1500}


@check("record_cost")
def _record_cost(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    cost = ctx.client.record_cost(
        intent_id,
        cost_type="api_call",
        amount=0.05,
        unit="USD",
        provider="openai",
        metadata=COST_METADATA,
    )
    assert cost.id, "cost has no id"
    ctx.values["cost_id"] = cost.id
    eq(cost.intent_id, intent_id, "intent_id")
    eq(cost.agent_id, ctx.agent_id, "agent_id")
    eq(cost.cost_type, "api_call", "cost_type")
    eq(cost.amount, 0.05, "amount")
    eq(cost.unit, "USD", "unit")
    eq(cost.provider, "openai", "provider")
    if ctx.rust:
        # The reference stores metadata only under `cost_metadata` and drops
        # the clients' `metadata` key (D58); the Rust server accepts and emits both.
        eq(cost.metadata, COST_METADATA, "metadata")


@check("get_costs")
def _get_costs(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    cost_id = ctx.need("cost_id")
    ctx.client.record_cost(intent_id, cost_type="tokens", amount=1500, unit="tokens")
    costs, _summary = ctx.client.get_costs(intent_id)
    eq(len(costs), 2, "number of cost records")
    match = [c for c in costs if c.id == cost_id]
    eq(len(match), 1, f"cost records with id {cost_id}")
    eq(match[0].amount, 0.05, "amount")
    eq(sorted(c.cost_type for c in costs), ["api_call", "tokens"], "cost types")


@check(
    "get_cost_summary",
    # The 0.17 client has no get_cost_summary(); its only summary is the one
    # get_costs() reads from a {"costs", "summary"} envelope. Both servers
    # return a bare array (REF, and S1/D61 for the Rust server), so the client
    # reports an all-zero summary. A client gap no server can fill.
    XFail(
        "0.17 has no get_cost_summary(); get_costs() summary stays empty on a bare array (D61)",
        raised(AssertionError, "summary"),
    ),
)
def _get_cost_summary(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    costs, summary = ctx.client.get_costs(intent_id)
    assert costs, "no costs recorded"
    by_type: dict[str, float] = {}
    for cost in costs:
        by_type[cost.cost_type] = by_type.get(cost.cost_type, 0) + cost.amount
    total = sum(by_type.values())
    assert abs(summary.total - total) < 1e-9, f"summary total {summary.total}, expected {total}"
    eq(summary.by_type, by_type, "summary by_type")


@check("set_retry_policy")
def _set_retry_policy(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # Seed: max_attempts=5, base_delay_seconds=1.0, max_delay_seconds=60.0,
    # backoff_multiplier=2.0 -> strategy/max_retries/*_ms (D63). The 0.17
    # client cannot send retryable_errors.
    policy = ctx.client.set_retry_policy(
        intent_id,
        strategy=RetryStrategy.EXPONENTIAL,
        max_retries=5,
        base_delay_ms=1000,
        max_delay_ms=60000,
    )
    assert policy.id, "retry policy has no id"
    ctx.values["retry_policy_id"] = policy.id
    eq(policy.intent_id, intent_id, "intent_id")
    eq(policy.strategy, RetryStrategy.EXPONENTIAL, "strategy")
    eq(policy.max_retries, 5, "max_retries")
    eq(policy.base_delay_ms, 1000, "base_delay_ms")
    eq(policy.max_delay_ms, 60000, "max_delay_ms")
    # PUT replaces the whole policy and keeps its id (D64).
    replaced = ctx.client.set_retry_policy(
        intent_id, strategy=RetryStrategy.FIXED, max_retries=2, base_delay_ms=500
    )
    eq(replaced.id, policy.id, "policy id after replacement")
    eq(replaced.strategy, RetryStrategy.FIXED, "replaced strategy")
    eq(replaced.max_retries, 2, "replaced max_retries")
    eq(replaced.max_delay_ms, 60000, "max_delay_ms back at its default")
    ctx.values["retry_policy_replaced"] = True


@check("get_retry_policy")
def _get_retry_policy(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    policy_id = ctx.need("retry_policy_id")
    ctx.need("retry_policy_replaced")
    policy = ctx.client.get_retry_policy(intent_id)
    assert policy is not None, "get_retry_policy returned None after set_retry_policy"
    eq(policy.id, policy_id, "id")
    eq(policy.strategy, RetryStrategy.FIXED, "strategy")
    eq(policy.max_retries, 2, "max_retries")
    eq(policy.base_delay_ms, 500, "base_delay_ms")
    fresh = ctx.new_intent("Intent without a retry policy")
    eq(ctx.client.get_retry_policy(fresh.id), None, "policy of an intent without one")


@check(
    "record_failure",
    XFail(
        "0.17 client sends `error_code`, the reference requires `error_type`: 422 (D66)",
        rejected_field("error_type"),
        frozenset({REFERENCE}),
    ),
)
def _record_failure(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # Seed: error_type, error_message, attempt, will_retry (the 0.17 client
    # has no will_retry; it goes into metadata).
    failure = ctx.client.record_failure(
        intent_id,
        attempt_number=1,
        error_code="rate_limit",
        error_message="API rate limit exceeded",
        metadata={"will_retry": True},
    )
    assert failure.id, "failure has no id"
    ctx.values["failure_id"] = failure.id
    eq(failure.intent_id, intent_id, "intent_id")
    eq(failure.agent_id, ctx.agent_id, "agent_id")
    eq(failure.attempt_number, 1, "attempt_number")
    eq(failure.error_code, "rate_limit", "error_code")
    eq(failure.error_message, "API rate limit exceeded", "error_message")


@check(
    "get_failures",
    XFail(
        "0.17 reads `error_code`; the reference's failure records carry only `error_type` (D67)",
        raised(AssertionError, "error_code"),
        frozenset({REFERENCE}),
    ),
)
def _get_failures(ctx: Context) -> None:
    intent_id = ctx.need("intent_id")
    # A failure in the reference's own body shape, so the listing has content
    # even where the client's record_failure is rejected.
    response = ctx.raw.post(
        f"/api/v1/intents/{intent_id}/failures",
        json={
            "error_type": "timeout",
            "error_message": "upstream timed out",
            "attempt_number": 2,
            "agent_id": ctx.agent_id,
        },
    )
    assert response.status_code == 200, (
        f"raw POST failures: HTTP {response.status_code} {response.text[:200]}"
    )
    seeded_id = response.json()["id"]
    failures = {f.id: f for f in ctx.client.get_failures(intent_id)}
    assert seeded_id in failures, f"failure {seeded_id} not listed"
    seeded = failures[seeded_id]
    eq(seeded.attempt_number, 2, "attempt_number")
    eq(seeded.error_message, "upstream timed out", "error_message")
    eq(seeded.error_code, "timeout", "error_code (sent as error_type)")
    if "failure_id" in ctx.values:
        recorded = failures.get(ctx.values["failure_id"])
        assert recorded is not None, "failure from record_failure not listed"
        eq(recorded.error_code, "rate_limit", "error_code of the recorded failure")


GOVERNANCE = {"require_all_completed": True, "shared_constraints": {"budget": 5000}}


@check("create_portfolio")
def _create_portfolio(ctx: Context) -> None:
    portfolio = ctx.client.create_portfolio(
        name="Paris Trip 2024",
        description="Complete vacation planning",
        governance_policy=GOVERNANCE,
    )
    assert portfolio.id, "portfolio has no id"
    ctx.values["portfolio_id"] = portfolio.id
    eq(portfolio.name, "Paris Trip 2024", "name")
    eq(portfolio.description, "Complete vacation planning", "description")
    eq(portfolio.status, PortfolioStatus.ACTIVE, "status")
    eq(portfolio.governance_policy, GOVERNANCE, "governance_policy")
    eq(portfolio.created_by, ctx.agent_id, "created_by")


@check(
    "create_portfolio (description omitted)",
    XFail(
        "0.17 client sends `description: null` when omitted; the reference rejects null: 422 (D10, D68)",
        rejected_field("description"),
        frozenset({REFERENCE}),
    ),
)
def _create_portfolio_minimal(ctx: Context) -> None:
    portfolio = ctx.client.create_portfolio(name="Portfolio without description")
    assert portfolio.id, "portfolio has no id"
    eq(portfolio.name, "Portfolio without description", "name")
    assert portfolio.description in ("", None), f"description {portfolio.description!r}"
    eq(portfolio.status, PortfolioStatus.ACTIVE, "status")


@check("get_portfolio")
def _get_portfolio(ctx: Context) -> None:
    portfolio_id = ctx.need("portfolio_id")
    portfolio = ctx.client.get_portfolio(portfolio_id)
    eq(portfolio.id, portfolio_id, "id")
    eq(portfolio.name, "Paris Trip 2024", "name")
    eq(portfolio.description, "Complete vacation planning", "description")
    eq(portfolio.governance_policy, GOVERNANCE, "governance_policy")
    eq(portfolio.status, PortfolioStatus.ACTIVE, "status")
    expect_raises(
        NotFoundError,
        lambda: ctx.client.get_portfolio(str(uuid.uuid4())),
        "get_portfolio of an unknown id",
    )


@check(
    "add_intent_to_portfolio",
    XFail(
        "the reference answers {message, membership_id}; 0.17 PortfolioMembership.from_dict needs `id`: KeyError (D70)",
        lambda exc: isinstance(exc, KeyError) and exc.args == ("id",),
        frozenset({REFERENCE}),
    ),
)
def _add_intent_to_portfolio(ctx: Context) -> None:
    portfolio_id = ctx.need("portfolio_id")
    flight = ctx.new_intent("Book flights to Paris")
    hotel = ctx.new_intent("Book hotel in Paris")
    ctx.values["member_ids"] = {flight.id, hotel.id}
    ctx.values["flight_intent"] = flight
    membership = ctx.client.add_intent_to_portfolio(
        portfolio_id, flight.id, role=MembershipRole.PRIMARY, priority=100
    )
    assert membership.id, "membership has no id"
    eq(membership.portfolio_id, portfolio_id, "portfolio_id")
    eq(membership.intent_id, flight.id, "intent_id")
    eq(membership.role, MembershipRole.PRIMARY, "role")
    eq(membership.priority, 100, "priority")
    second = ctx.client.add_intent_to_portfolio(
        portfolio_id, hotel.id, role=MembershipRole.MEMBER, priority=90
    )
    eq(second.intent_id, hotel.id, "intent_id of the second membership")
    eq(second.role, MembershipRole.MEMBER, "role of the second membership")
    eq(second.priority, 90, "priority of the second membership")


@check(
    "get_portfolio (aggregate status)",
    XFail(
        "the reference's GET /portfolios/{id} has no intents or aggregate_status (D69)",
        raised(AssertionError, "aggregate_status"),
        frozenset({REFERENCE}),
    ),
)
def _get_portfolio_aggregate(ctx: Context) -> None:
    portfolio_id = ctx.need("portfolio_id")
    flight = ctx.need("flight_intent")
    member_ids = ctx.need("member_ids")
    ctx.client.set_status(flight.id, flight.version, IntentStatus.COMPLETED)
    portfolio = ctx.client.get_portfolio(portfolio_id)
    aggregate = portfolio.aggregate_status
    assert aggregate is not None, "get_portfolio returned no aggregate_status"
    eq(aggregate.total, 2, "aggregate_status total")
    by_status = {k: v for k, v in aggregate.by_status.items() if v}
    eq(by_status, {"completed": 1, "draft": 1}, "aggregate_status by_status")
    eq(aggregate.completion_percentage, 50, "aggregate_status completion_percentage")
    eq({i.id for i in portfolio.intents}, member_ids, "aggregate_status member intents")


@check("update_portfolio_status")
def _update_portfolio_status(ctx: Context) -> None:
    portfolio_id = ctx.need("portfolio_id")
    updated = ctx.client.update_portfolio_status(portfolio_id, PortfolioStatus.COMPLETED)
    eq(updated.id, portfolio_id, "id")
    eq(updated.status, PortfolioStatus.COMPLETED, "status")
    eq(updated.name, "Paris Trip 2024", "name unchanged")
    eq(ctx.client.get_portfolio(portfolio_id).status, PortfolioStatus.COMPLETED, "stored status")


# --------------------------------------------------------------------------
# Runner
# --------------------------------------------------------------------------


def describe(exc: BaseException) -> str:
    """One line naming an exception, with the HTTP body for client errors."""
    if isinstance(exc, (AssertionError, MissingPrerequisite)):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OpenIntentError):
        text += f" (HTTP {exc.status_code}, body {exc.response!r})"
    return text[:600]


def run_checks(ctx: Context, verbose: bool) -> tuple[int, int, int, int]:
    passed = failed = xfailed = skipped = 0
    width = max(len(c.name) for c in CHECKS)
    for item in CHECKS:
        expected = item.xfail if item.xfail and ctx.mode in item.xfail.modes else None
        started = time.monotonic()
        error: Optional[BaseException] = None
        try:
            item.func(ctx)
        except Skip as exc:
            print(f"SKIP   {item.name:<{width}}  {exc}")
            skipped += 1
            continue
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            error = exc
        took = f"({(time.monotonic() - started) * 1000:.0f} ms)"
        if expected is None:
            if error is None:
                print(f"PASS   {item.name:<{width}}  {took}")
                passed += 1
            else:
                print(f"FAIL   {item.name:<{width}}  {describe(error)}")
                failed += 1
        elif error is None:
            print(f"FAIL   {item.name:<{width}}  unexpected pass; expected to fail: {expected.reason}")
            failed += 1
        elif expected.matches(error):
            print(f"XFAIL  {item.name:<{width}}  {expected.reason} [observed: {describe(error)[:200]}]")
            xfailed += 1
            error = None
        else:
            print(
                f"FAIL   {item.name:<{width}}  failed, but not as expected "
                f"({expected.reason}): {describe(error)}"
            )
            failed += 1
        if error is not None and verbose:
            traceback.print_exception(error, file=sys.stdout)
    return passed, failed, xfailed, skipped


def server_reachable(url: str) -> Optional[str]:
    try:
        response = httpx.get(f"{url}/.well-known/openintent.json", timeout=5.0)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if response.status_code != 200:
        return f"HTTP {response.status_code} from /.well-known/openintent.json"
    return None


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        choices=MODES,
        required=True,
        help="which server is under test; decides the expected failures",
    )
    parser.add_argument("--url", help="server base URL (else $OPENINTENT_URL)")
    parser.add_argument("--api-key", default="dev-user-key")
    parser.add_argument("--agent-id", default="py-agent")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failure")
    args = parser.parse_args(argv)

    url = args.url or os.environ.get("OPENINTENT_URL")
    if not url and args.server == REFERENCE:
        url = os.environ.get("OPENINTENT_REFERENCE_URL")
    if not url:
        parser.error("no server URL: pass --url or set OPENINTENT_URL")
    url = url.rstrip("/")

    installed = _metadata.version("openintent")
    if installed != CLIENT_VERSION:
        print(f"error: openintent {installed} installed, these checks need {CLIENT_VERSION}",
              file=sys.stderr)
        return 2

    print(f"seed operations: openintent {installed} client -> {url} (--server {args.server})")
    problem = server_reachable(url)
    if problem:
        print(f"FAIL   server reachable  {problem}")
        print("0 passed, 1 failed")
        return 1

    client = OpenIntentClient(base_url=url, api_key=args.api_key, agent_id=args.agent_id)
    raw = httpx.Client(
        base_url=url,
        headers={"X-API-Key": args.api_key, "X-Agent-ID": args.agent_id},
        timeout=30.0,
    )
    ctx = Context(args.server, url, args.api_key, args.agent_id, client, raw)
    started = time.monotonic()
    try:
        passed, failed, xfailed, skipped = run_checks(ctx, args.verbose)
    finally:
        client.close()
        raw.close()
    print(
        f"summary: {passed} passed, {xfailed} expected failures, {skipped} skipped, "
        f"{failed} failed in {time.monotonic() - started:.1f}s"
    )
    print(f"{passed} passed, {failed} failed, {xfailed + skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
