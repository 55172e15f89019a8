#!/usr/bin/env python3
"""The agent-platform areas through the Python SDK ``openintent==0.17.0``.

Drives, with the unmodified 0.17 SDK against a live server: the agent registry
(RFC-0016), intent graphs (RFC-0002), human-in-the-loop suspension (RFC-0025),
governance policies and approvals (RFC-0013), access control (RFC-0011),
channels and messages (RFC-0021), tracing fields (RFC-0020), the SDK's event
streams (``/api/v1/{intents|agents|portfolios}/{id}/subscribe``) and, most of
all, the agent runtime: a ``Worker`` and an ``@Agent`` class, run in child
processes, whose handlers must fire and write state when an intent is assigned
to them or its state changes.

Each check prints one line: ``PASS``, ``FAIL``, ``XFAIL``, ``XPASS`` or
``SKIP``, the area and check name, and the reason. Expected failures carry
who is at fault:

* ``client bug``: the 0.17 SDK crashes or sends something wrong whatever the
  server (documented as [C017] BUG in PROTOCOL-AGENTS.md, or found here on
  both servers). Expected to fail with ``--server reference`` and
  ``--server rust`` alike.
* ``server bug``: the reference server has a defect or lacks the route
  (marked BUG or absent in PROTOCOL-AGENTS.md). Expected to fail with
  ``--server reference`` only; with ``--server rust`` the check must pass.

An expected failure must fail for the documented reason, or it is reported as
``FAIL``; one that passes is reported as ``XPASS`` and does not fail the run.
The last line reads ``N passed, M failed, K skipped`` (expected failures and
skips counted as skipped, unexpected passes as passed); the exit status is 1
when anything failed, 2 on a usage or environment error.

Usage (with the reference virtualenv's interpreter, which has the SDK)::

    scripts/reference-server.sh run -- \\
        .venv-ref/bin/python tests/python/agent_platform.py --server reference
    .venv-ref/bin/python tests/python/agent_platform.py --server rust \\
        --url http://127.0.0.1:PORT

The URL comes from ``--url``, else ``OPENINTENT_URL``, else (reference mode)
``OPENINTENT_REFERENCE_URL``. Section numbers (§) refer to PROTOCOL-AGENTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from queue import Empty, Queue
from typing import Any, Optional

os.environ["TZ"] = "UTC"  # the 0.17 SDK compares naive timestamps with local time
if hasattr(time, "tzset"):
    time.tzset()

CLIENT_VERSION = "0.17.0"

try:
    import importlib.metadata as _metadata

    import httpx
    from openintent import Agent, OpenIntentClient, Worker, on_assignment, on_state_change
    from openintent.agents import AgentConfig, BaseAgent
    from openintent.exceptions import OpenIntentError
    from openintent.models import IntentStatus, Permission
    from openintent.streaming import SSEEventType

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from platform_support import (
        CLIENT_BUG,
        MODES,
        REFERENCE,
        SERVER_BUG,
        Context,
        RequestLog,
        Runtime,
        Skip,
        StreamUnavailable,
        XFail,
        check,
        eq,
        raised,
        run_checks,
        stream_refused,
    )

    import platform_areas  # noqa: F401 - registers the checks of the other areas, first
except ImportError as _exc:  # pragma: no cover - environment problem
    print(
        f"error: cannot import the openintent client ({_exc}); run this script with "
        "the reference virtualenv's python (scripts/reference-server.sh install)",
        file=sys.stderr,
    )
    sys.exit(2)


# ==========================================================================
# The SDK's event streams (§6)
# ==========================================================================


def stream_events(ctx: Context, stream: Any, trigger: Any, wanted: Any) -> Any:
    """Iterate `stream` in a thread, run `trigger` until an event satisfies `wanted`.

    The SDK's streams are live only, so `trigger` (one write) repeats every
    second until a matching event arrives. A refused stream ends the check at
    once (the SDK itself would reconnect without pause, §6.3).
    """
    events: Queue = Queue()

    def pump() -> None:
        try:
            for event in stream:
                events.put(event)
                if event.type == SSEEventType.ERROR:
                    return
        except Exception as exc:  # noqa: BLE001 - the stream was stopped, or broke
            events.put(exc)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + ctx.timeout
        next_trigger = 0.0
        while time.monotonic() < deadline:
            if time.monotonic() >= next_trigger:
                trigger()
                next_trigger = time.monotonic() + 1.0
            try:
                event = events.get(timeout=0.2)
            except Empty:
                continue
            if isinstance(event, Exception):
                raise AssertionError(f"the stream broke: {type(event).__name__}: {event}")
            if event.type == SSEEventType.ERROR:
                path = httpx.URL(stream.url).path
                raise StreamUnavailable(f"GET {path} answered {event.data.get('error')}")
            seen.append(str(event.type))
            if wanted(event):
                return event
        raise AssertionError(f"no matching event within {ctx.timeout:.0f}s (saw {seen[:10]})")
    finally:
        stream.stop()
        thread.join(timeout=5)


STREAM_XFAIL = XFail(
    SERVER_BUG,
    "the reference serves its streams at /api/v1/subscribe/…, not the SDK's /api/v1/{kind}/{id}/subscribe: 404 (§6.1)",
    stream_refused,
)


@check("streams", "subscribe_sse (STATE_CHANGED on the intent stream)", STREAM_XFAIL)
def _subscribe_intent(ctx: Context) -> None:
    intent = ctx.new_intent("Streamed")
    counter = iter(range(1000))

    def patch() -> None:
        current = ctx.client.get_intent(intent.id)
        ctx.client.update_state(intent.id, current.version, {"tick": next(counter)})

    event = stream_events(
        ctx,
        ctx.client.subscribe_sse(intent.id),
        patch,
        lambda e: e.type == SSEEventType.STATE_CHANGED and e.data.get("intent_id") == intent.id,
    )
    assert "tick" in (event.data.get("new_state") or event.data.get("state") or {}), (
        f"STATE_CHANGED without the new state: {event.data!r}"
    )


@check("streams", "subscribe_agent (AGENT_ASSIGNED on the agent stream)", STREAM_XFAIL)
def _subscribe_agent(ctx: Context) -> None:
    agent_id = f"py-listener-{ctx.run}"
    assigned: list[str] = []

    def assign() -> None:
        intent = ctx.new_intent("Assigned to the listener")
        ctx.client.assign_agent(intent.id, agent_id)
        assigned.append(intent.id)

    stream_events(
        ctx,
        ctx.client.subscribe_agent(agent_id),
        assign,
        lambda e: e.type == SSEEventType.AGENT_ASSIGNED and e.data.get("intent_id") in assigned,
    )


@check("streams", "subscribe_portfolio (a member's STATE_CHANGED)", STREAM_XFAIL)
def _subscribe_portfolio(ctx: Context) -> None:
    portfolio = ctx.client.create_portfolio(name=f"Streamed portfolio {ctx.run}", description="")
    member = ctx.new_intent("Portfolio member")
    try:
        ctx.client.add_intent_to_portfolio(portfolio.id, member.id)
    except KeyError:
        pass  # the reference answers an acknowledgement 0.17 cannot parse; the member is added
    counter = iter(range(1000))

    def patch() -> None:
        current = ctx.client.get_intent(member.id)
        ctx.client.update_state(member.id, current.version, {"tick": next(counter)})

    stream_events(
        ctx,
        ctx.client.subscribe_portfolio(portfolio.id),
        patch,
        lambda e: e.type == SSEEventType.STATE_CHANGED and e.data.get("intent_id") == member.id,
    )


# ==========================================================================
# The agent runtime: Worker and @Agent in child processes (§1.9, §6.3)
# ==========================================================================

RUNTIME_LIFETIME = 120.0  # a child exits by itself after this many seconds


def start_runtime(ctx: Context, kind: str, agent_id: str) -> Runtime:
    runtime = Runtime(os.path.abspath(__file__), kind, ctx, agent_id, RUNTIME_LIFETIME)
    ctx.runtimes.append(runtime)
    return runtime


def wait_for_state(ctx: Context, runtime: Runtime, intent_id: str, key: str, what: str) -> Any:
    def probe() -> Any:
        if runtime.process.poll() is not None:
            raise AssertionError(f"the runtime exited ({runtime.process.returncode}): {runtime.tail()}")
        return ctx.client.get_intent(intent_id).state.get(key)

    try:
        return ctx.wait_until(what, probe)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; runtime log: {runtime.tail()}") from None


@check("runtime", "Worker on_assignment writes state", XFail(
    SERVER_BUG, "no assignment reaches the Worker: " + STREAM_XFAIL.reason, stream_refused))
def _worker(ctx: Context) -> None:
    agent_id = f"py-worker-{ctx.run}"
    runtime = start_runtime(ctx, "worker", agent_id)
    runtime.wait_connected(ctx.timeout)
    intent = ctx.new_intent("Work for the Worker")
    ctx.client.assign_agent(intent.id, agent_id)
    result = wait_for_state(ctx, runtime, intent.id, "worker_result", "the Worker's handler result")
    eq(result, f"handled {intent.title}", "state written by the Worker's handler")
    ctx.values["worker"] = (runtime, intent.id)


@check(
    "runtime",
    "Worker completes the intent",
    XFail(
        CLIENT_BUG,
        "Worker calls set_status(id, COMPLETED, version) against (id, version, status): "
        "AttributeError after the state write, the intent is never completed (agents.py Worker)",
        raised(AssertionError, "'int' object has no attribute 'value'"),
    ),
)
def _worker_completes(ctx: Context) -> None:
    if "worker" not in ctx.values:
        raise Skip("needs 'Worker on_assignment writes state' to pass first")
    runtime, intent_id = ctx.values["worker"]

    def probe() -> bool:
        if "Worker error" in runtime.output():
            raise AssertionError(f"the Worker failed: {runtime.tail(3)}")
        return ctx.client.get_intent(intent_id).status == IntentStatus.COMPLETED

    ctx.wait_until("the Worker completing its intent", probe)


@check(
    "runtime",
    "@Agent run() (as shipped)",
    XFail(
        CLIENT_BUG,
        "@Agent replaces run with a classmethod that builds an instance and calls its run(), "
        "i.e. itself: RecursionError before any request (agents.py Agent)",
        raised(AssertionError, "RecursionError"),
    ),
)
def _agent_shipped_run(ctx: Context) -> None:
    runtime = start_runtime(ctx, "agent-shipped-run", f"py-shipped-{ctx.run}")
    deadline = time.monotonic() + ctx.timeout
    while time.monotonic() < deadline and runtime.process.poll() is None:
        if runtime.subscriptions():
            return  # it got as far as subscribing: run() works
        time.sleep(0.1)
    if runtime.process.poll() is not None:
        output = runtime.output()
        cause = "RecursionError" if "RecursionError" in output else runtime.tail(3)
        raise AssertionError(f"run() ended ({runtime.process.returncode}): {cause}")
    raise AssertionError(f"run() made no request within {ctx.timeout:.0f}s")


AGENT_XFAIL = XFail(
    SERVER_BUG, "no event reaches the @Agent: " + STREAM_XFAIL.reason, stream_refused
)


@check("runtime", "@Agent on_assignment writes state", AGENT_XFAIL)
def _agent_assignment(ctx: Context) -> None:
    agent_id = f"py-agent-runtime-{ctx.run}"
    runtime = start_runtime(ctx, "agent", agent_id)
    runtime.wait_connected(ctx.timeout)
    intent = ctx.new_intent("Work for the @Agent")
    # The runtime reads the ACL on assignment (§9.5): give it something to find
    # (checked by the next check; a failure here is reported there).
    try:
        ctx.client.grant_access(intent.id, agent_id, permission=Permission.WRITE)
    except OpenIntentError as exc:
        ctx.values["agent_grant_error"] = (
            f"grant_access before the assignment failed: HTTP {exc.status_code} "
            f"{exc.response!r} ({ctx.requests.last_failure})"
        )
    ctx.client.assign_agent(intent.id, agent_id)
    result = wait_for_state(ctx, runtime, intent.id, "agent_result", "the @Agent's on_assignment")
    eq(result, f"assigned {intent.title}", "state written from on_assignment's return value")
    ctx.values["agent"] = (runtime, intent.id)


@check("runtime", "@Agent on_assignment context (ACL read on assignment)", AGENT_XFAIL)
def _agent_context(ctx: Context) -> None:
    if "agent" not in ctx.values:
        raise Skip("needs '@Agent on_assignment writes state' to pass first")
    _runtime, intent_id = ctx.values["agent"]
    if "agent_grant_error" in ctx.values:
        raise AssertionError(ctx.values["agent_grant_error"])
    state = ctx.client.get_intent(intent_id).state
    eq(state.get("agent_permission"), "write", "ctx.my_permission seen by the handler")


@check("runtime", "@Agent on_state_change fires and writes state", AGENT_XFAIL)
def _agent_state_change(ctx: Context) -> None:
    if "agent" not in ctx.values:
        raise Skip("needs '@Agent on_assignment writes state' to pass first")
    runtime, intent_id = ctx.values["agent"]
    current = ctx.client.get_intent(intent_id)
    ctx.client.update_state(intent_id, current.version, {"trigger": "t-1"})

    def probe() -> Any:
        return ctx.client.get_intent(intent_id).state.get("reaction") == "t-1"

    try:
        ctx.wait_until("the @Agent's on_state_change writing `reaction`", probe)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; runtime log: {runtime.tail()}") from None


# ==========================================================================
# Runtime child (`--runtime-child KIND`): runs one SDK runtime as shipped
# ==========================================================================


def runtime_child(kind: str, url: str, api_key: str, agent_id: str, lifetime: float) -> int:
    import logging

    logging.basicConfig(
        level=logging.INFO, stream=sys.stdout, format="%(name)s %(levelname)s %(message)s"
    )
    # Never outlive the parent's run, even if it was killed.
    timer = threading.Timer(lifetime, lambda: os._exit(0))
    timer.daemon = True
    timer.start()

    if kind == "worker":

        async def handle(intent: Any) -> dict:
            return {"worker_result": f"handled {intent.title}"}

        Worker(agent_id, handle, base_url=url, api_key=api_key).run()
        return 0

    config = AgentConfig(base_url=url, api_key=api_key, reconnect_delay=0.5)

    @Agent(agent_id, config=config)
    class PlatformAgent:
        @on_assignment
        async def work(self, intent: Any) -> dict:
            context = getattr(intent, "ctx", None)
            permission = getattr(context, "my_permission", None)
            return {
                "agent_result": f"assigned {intent.title}",
                "agent_permission": permission.value if permission else None,
            }

        @on_state_change(["trigger"])
        async def react(self, intent: Any, old_state: Any, new_state: Any) -> None:
            trigger = intent.state.get("trigger")
            if trigger is not None and intent.state.get("reaction") != trigger:
                await self.patch_state(intent.id, {"reaction": trigger})

    if kind == "agent-shipped-run":
        PlatformAgent.run(url, api_key)  # the documented entry point
    else:
        BaseAgent.run(PlatformAgent(url, api_key))  # the base class's run, which works
    return 0


# ==========================================================================
# Main
# ==========================================================================


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
    parser.add_argument("--server", choices=MODES, help="server under test (decides expected failures)")
    parser.add_argument("--url", help="server base URL (else $OPENINTENT_URL)")
    parser.add_argument("--api-key", default="dev-user-key")
    parser.add_argument("--agent-id", default="py-agent")
    parser.add_argument("--timeout", type=float, default=20.0, help="longest wait of one check (s)")
    parser.add_argument("--only", help="run the checks whose area or name contains this text")
    parser.add_argument("-v", "--verbose", action="store_true", help="tracebacks on failure")
    parser.add_argument("--runtime-child", help=argparse.SUPPRESS)
    parser.add_argument("--lifetime", type=float, default=RUNTIME_LIFETIME, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    url = args.url or os.environ.get("OPENINTENT_URL")
    if not url and args.server == REFERENCE:
        url = os.environ.get("OPENINTENT_REFERENCE_URL")
    if args.runtime_child:
        return runtime_child(args.runtime_child, url, args.api_key, args.agent_id, args.lifetime)
    if not args.server:
        parser.error("--server is required")
    if not url:
        parser.error("no server URL: pass --url or set OPENINTENT_URL")
    url = url.rstrip("/")

    installed = _metadata.version("openintent")
    if installed != CLIENT_VERSION:
        print(f"error: openintent {installed} installed, these checks need {CLIENT_VERSION}",
              file=sys.stderr)
        return 2

    print(f"agent platform: openintent {installed} client -> {url} (--server {args.server})")
    problem = server_reachable(url)
    if problem:
        print(f"FAIL   server reachable  {problem}")
        print("0 passed, 1 failed")
        return 1

    requests = RequestLog()
    client = OpenIntentClient(base_url=url, api_key=args.api_key, agent_id=args.agent_id)
    requests.attach(client._client)
    raw = httpx.Client(
        base_url=url, headers={"X-API-Key": args.api_key, "X-Agent-ID": args.agent_id}, timeout=30.0
    )
    ctx = Context(args.server, url, args.api_key, args.agent_id, uuid.uuid4().hex[:8],
                  args.timeout, client, raw, requests)
    started = time.monotonic()
    try:
        counts = run_checks(ctx, args.verbose, args.only)
    finally:
        for runtime in ctx.runtimes:
            runtime.stop()
        for other in ctx.clients:
            other.close()
        client.close()
        raw.close()
    print(
        f"summary: {counts.passed} passed, {counts.xfailed} expected failures, "
        f"{counts.xpassed} unexpected passes, {counts.skipped} skipped, {counts.failed} failed "
        f"in {time.monotonic() - started:.1f}s"
    )
    print(f"{counts.passed + counts.xpassed} passed, {counts.failed} failed, "
          f"{counts.xfailed + counts.skipped} skipped")
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
