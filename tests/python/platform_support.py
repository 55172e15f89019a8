"""Check framework and agent-runtime processes for ``agent_platform.py``.

Kept apart from the checks themselves so that each file stays readable. Nothing
here changes the 0.17 SDK: the runtime processes run its ``Worker`` and
``@Agent`` classes as shipped and only turn on its (and httpx's) logging, from
which the parent learns which requests the runtime made and what it was told.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import httpx
from openintent import OpenIntentClient
from openintent.exceptions import NotFoundError, OpenIntentError

REFERENCE = "reference"
RUST = "rust"
MODES = (REFERENCE, RUST)

# Who is at fault when a check is expected to fail.
CLIENT_BUG = "client bug"  # the 0.17 SDK itself: expected to fail on every server
SERVER_BUG = "server bug"  # the reference (a defect or a missing route): ours must pass


class Skip(Exception):
    """Raised by a check that cannot run in this configuration."""


class MissingPrerequisite(Exception):
    """A value an earlier check should have produced is missing."""


class StreamUnavailable(AssertionError):
    """An SDK event stream was refused: the route answered something other than 200."""


class UnreadableError(AssertionError):
    """The server failed with a body that is not JSON, which the 0.17 SDK cannot read."""


@dataclass(frozen=True)
class XFail:
    """An expected failure: where it applies, the check must fail and `matches` the error.

    A client bug applies to both servers; a server bug only to the reference.
    """

    kind: str
    reason: str
    matches: Callable[[BaseException], bool]

    def applies(self, mode: str) -> bool:
        return self.kind == CLIENT_BUG or mode == REFERENCE


@dataclass
class Check:
    area: str
    name: str
    func: Callable[["Context"], None]
    xfail: Optional[XFail] = None


CHECKS: list[Check] = []


def check(area: str, name: str, xfail: Optional[XFail] = None) -> Callable:
    """Register a check; checks run in declaration order and share a Context."""

    def register(func: Callable[["Context"], None]) -> Callable[["Context"], None]:
        CHECKS.append(Check(area, name, func, xfail))
        return func

    return register


# ----- request log: which request a failure came from ------------------------


class RequestLog:
    """Remembers the last failed request of every client it is attached to."""

    def __init__(self) -> None:
        self.last_failure: Optional[str] = None

    def attach(self, http: httpx.Client) -> None:
        hooks = http.event_hooks
        hooks["response"] = list(hooks.get("response", [])) + [self._record]
        http.event_hooks = hooks

    def _record(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            request = response.request
            self.last_failure = (
                f"{request.method} {request.url.path} -> {response.status_code}"
            )


@dataclass
class Context:
    mode: str
    url: str
    api_key: str
    agent_id: str
    run: str  # a token unique to this run, for agent ids and names
    timeout: float  # the longest a single wait may take
    client: OpenIntentClient
    raw: httpx.Client
    requests: RequestLog
    values: dict[str, Any] = field(default_factory=dict)
    clients: list[OpenIntentClient] = field(default_factory=list)
    runtimes: list["Runtime"] = field(default_factory=list)

    @property
    def rust(self) -> bool:
        return self.mode == RUST

    def need(self, key: str) -> Any:
        if key not in self.values:
            raise MissingPrerequisite(f"needs '{key}' from an earlier check that failed")
        return self.values[key]

    def other_client(self, api_key: str, agent_id: str) -> OpenIntentClient:
        """A second SDK client (another principal), closed at the end of the run."""
        other = OpenIntentClient(base_url=self.url, api_key=api_key, agent_id=agent_id)
        self.requests.attach(other._client)
        self.clients.append(other)
        return other

    def scratch_client(self) -> OpenIntentClient:
        """A client of the main principal with its own connections.

        For requests that may make the reference fail with a 500: it closes the
        connection afterwards, which a pooled connection would only notice on
        its next request, in another check.
        """
        return self.other_client(self.api_key, self.agent_id)

    def sdk_call(self, func: Callable[[], Any]) -> Any:
        """Call the SDK; a non-JSON error body becomes UnreadableError naming the request."""
        try:
            return func()
        except json.JSONDecodeError as exc:
            raise UnreadableError(
                f"{self.requests.last_failure or 'a request'} with a body that is not JSON "
                f"(the 0.17 SDK raises JSONDecodeError reading it)"
            ) from exc

    def new_intent(self, title: str, **kwargs: Any) -> Any:
        intent = self.client.create_intent(title=f"{title} [{self.run}]", **kwargs)
        assert intent.id, "create_intent returned no id"
        return intent

    def wait_until(self, what: str, probe: Callable[[], Any], limit: Optional[float] = None) -> Any:
        """Poll `probe` until it returns a truthy value; AssertionError after the limit."""
        deadline = time.monotonic() + (limit or self.timeout)
        last: Any = None
        while time.monotonic() < deadline:
            last = probe()
            if last:
                return last
            time.sleep(0.2)
        raise AssertionError(f"{what}: not within {limit or self.timeout:.0f}s")


# ----- error matchers ----------------------------------------------------------


def detail(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    return response.get("detail") if isinstance(response, dict) else None


def http_status(status: int) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, OpenIntentError) and exc.status_code == status


def server_error(exc: BaseException) -> bool:
    """A 500 (as an SDK error, or as the text body the SDK cannot read)."""
    if isinstance(exc, UnreadableError):
        return "-> 500" in str(exc)
    return isinstance(exc, OpenIntentError) and exc.status_code == 500


def missing_route(exc: BaseException) -> bool:
    """404 with the bare `Not Found` text, or 405: the route does not exist."""
    if isinstance(exc, OpenIntentError) and exc.status_code == 405:
        return True
    return isinstance(exc, NotFoundError) and detail(exc) == "Not Found"


def raised(kind: type, text: str = "") -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, kind) and text in str(exc)


def stream_refused(exc: BaseException) -> bool:
    """The SDK's subscription path answered 404 (the reference serves other paths)."""
    return isinstance(exc, StreamUnavailable) and " 404" in str(exc)


def either(*matchers: Callable[[BaseException], bool]) -> Callable[[BaseException], bool]:
    return lambda exc: any(m(exc) for m in matchers)


# ----- assertions ------------------------------------------------------------------


def eq(actual: Any, expected: Any, what: str) -> None:
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


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


def expect_status(status: int, func: Callable[[], Any], what: str) -> OpenIntentError:
    exc = expect_raises(OpenIntentError, func, what)
    assert isinstance(exc, OpenIntentError)
    assert exc.status_code == status, (
        f"{what}: expected HTTP {status}, got {exc.status_code} {exc.response!r}"
    )
    return exc


def expect_client_error(func: Callable[[], Any], what: str) -> OpenIntentError:
    """Any 4xx (the server refused the request as the caller's mistake)."""
    exc = expect_raises(OpenIntentError, func, what)
    assert isinstance(exc, OpenIntentError)
    assert exc.status_code is not None and 400 <= exc.status_code < 500, (
        f"{what}: expected a 4xx, got {exc.status_code} {exc.response!r}"
    )
    return exc


# ----- agent runtime processes -----------------------------------------------

SUBSCRIBE_LINE = re.compile(r'HTTP Request: GET (\S+/subscribe) "HTTP/[\d.]+ (\d+) ?([^"]*)"')


class Runtime:
    """One 0.17 agent runtime (`Worker` or `@Agent`) in a child process.

    The child is this script started with ``--runtime-child KIND``; its output
    (the SDK's and httpx's log lines) goes to a temporary file the parent reads.
    The child also exits by itself after `lifetime` seconds, so that nothing
    outlives a parent that was killed.
    """

    def __init__(self, script: str, kind: str, ctx: Context, agent_id: str, lifetime: float):
        self.kind = kind
        self.agent_id = agent_id
        self._log = tempfile.NamedTemporaryFile(
            prefix=f"agent-platform-{kind}-", suffix=".log", delete=False
        )
        command = [
            sys.executable, script, "--runtime-child", kind, "--url", ctx.url,
            "--api-key", ctx.api_key, "--agent-id", agent_id, "--lifetime", str(lifetime),
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )

    def output(self) -> str:
        with open(self._log.name, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def tail(self, lines: int = 8) -> str:
        wanted = [
            line for line in self.output().splitlines()
            if "Traceback" in line or "Error" in line or "error" in line or "HTTP Request" in line
        ]
        return " | ".join(wanted[-lines:])[:900]

    def subscriptions(self) -> list[tuple[str, int, str]]:
        return [
            (m.group(1), int(m.group(2)), m.group(3))
            for m in SUBSCRIBE_LINE.finditer(self.output())
        ]

    def wait_connected(self, limit: float) -> str:
        """Wait until the runtime's stream answered 200; StreamUnavailable on a refusal."""
        deadline = time.monotonic() + limit
        refused_since: Optional[float] = None
        while time.monotonic() < deadline:
            seen = self.subscriptions()
            ok = [s for s in seen if s[1] == 200]
            if ok:
                return ok[0][0]
            if seen:
                refused_since = refused_since or time.monotonic()
                # The SDK reconnects at once after a refusal; a moment is enough
                # to be sure that no attempt succeeds.
                if time.monotonic() - refused_since > 1.5:
                    url, status, reason = seen[-1]
                    path = httpx.URL(url).path
                    raise StreamUnavailable(
                        f"the {self.kind} runtime's GET {path} answered {status} {reason} "
                        f"({len(seen)} attempts, none 200)"
                    )
            if self.process.poll() is not None:
                raise AssertionError(
                    f"the {self.kind} runtime exited with {self.process.returncode}: {self.tail()}"
                )
            time.sleep(0.1)
        raise AssertionError(
            f"the {self.kind} runtime made no successful subscription within {limit:.0f}s: "
            f"{self.tail()}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()
        try:
            os.unlink(self._log.name)
        except OSError:
            pass


# ----- runner -------------------------------------------------------------------


def describe(exc: BaseException, requests: RequestLog) -> str:
    """One line naming an exception, with the HTTP exchange for client errors."""
    if isinstance(exc, (AssertionError, MissingPrerequisite)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OpenIntentError):
        text += f" (HTTP {exc.status_code}, body {exc.response!r}"
        if requests.last_failure:
            text += f", request {requests.last_failure}"
        text += ")"
    return text[:700]


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    xfailed: int = 0
    xpassed: int = 0
    skipped: int = 0
    xfail_reasons: list[str] = field(default_factory=list)


def run_checks(ctx: Context, verbose: bool, only: Optional[str]) -> Counts:
    counts = Counts()
    selected = [c for c in CHECKS if not only or only in c.area or only in c.name]
    width = max(len(f"{c.area}: {c.name}") for c in selected) if selected else 10
    for item in selected:
        label = f"{item.area}: {item.name}"
        expected = item.xfail if item.xfail and item.xfail.applies(ctx.mode) else None
        started = time.monotonic()
        ctx.requests.last_failure = None
        error: Optional[BaseException] = None
        try:
            item.func(ctx)
        except Skip as exc:
            print(f"SKIP   {label:<{width}}  {exc}", flush=True)
            counts.skipped += 1
            continue
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            error = exc
        took = f"({time.monotonic() - started:.1f}s)"
        if expected is None:
            if error is None:
                print(f"PASS   {label:<{width}}  {took}", flush=True)
                counts.passed += 1
            else:
                print(f"FAIL   {label:<{width}}  {describe(error, ctx.requests)}", flush=True)
                counts.failed += 1
        elif error is None:
            print(
                f"XPASS  {label:<{width}}  expected to fail ({expected.kind}: {expected.reason}) "
                f"but passed {took}",
                flush=True,
            )
            counts.xpassed += 1
        elif expected.matches(error):
            observed = describe(error, ctx.requests)[:240]
            print(
                f"XFAIL  {label:<{width}}  ({expected.kind}) {expected.reason} [observed: {observed}]",
                flush=True,
            )
            counts.xfailed += 1
            counts.xfail_reasons.append(f"{expected.kind}: {label}")
            error = None
        else:
            print(
                f"FAIL   {label:<{width}}  failed, but not as expected ({expected.kind}: "
                f"{expected.reason}): {describe(error, ctx.requests)}",
                flush=True,
            )
            counts.failed += 1
        if error is not None and verbose:
            traceback.print_exception(error, file=sys.stdout)
    return counts
