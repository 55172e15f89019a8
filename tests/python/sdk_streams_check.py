"""By-hand check: the unmodified 0.17 SDK runtime (`Worker`, `@Agent`) gets its assignment
and state-change handlers called on an openintent-rs server (PROTOCOL-AGENTS.md §6.3).

    cargo build --release -p openintent-server
    target/release/openintent-server --port 8765 &
    .venv-ref/bin/python tests/python/sdk_streams_check.py http://127.0.0.1:8765

Prints one line per check and exits non-zero when a handler was not called in time. (On the
reference server nothing is called: it does not serve the SDK's stream paths.)
"""

import sys
import threading
import time

from openintent import OpenIntentClient
from openintent.agents import Agent, BaseAgent, Worker, on_assignment, on_state_change

URL = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8765"
KEY = "dev-user-key"
RUN = str(int(time.time()))
WORKER_ID = f"py-worker-{RUN}"
AGENT_ID = f"py-agent-{RUN}"

seen = {name: threading.Event() for name in ("worker", "assignment", "state_change")}
acl_seen = {}


def work(intent):
    seen["worker"].set()
    return {"worker_result": "done"}


@Agent(AGENT_ID)
class Watcher:
    @on_assignment
    async def assigned(self, intent):
        acl_seen["my_permission"] = getattr(intent.ctx, "my_permission", None)
        seen["assignment"].set()

    @on_state_change(["progress"])
    async def progressed(self, intent, old_state, new_state):
        if new_state.get("progress") == 50:
            seen["state_change"].set()


def run_in_thread(target):
    threading.Thread(target=target, daemon=True).start()


def main() -> int:
    client = OpenIntentClient(base_url=URL, api_key=KEY, agent_id="py-owner")
    run_in_thread(Worker(WORKER_ID, work, base_url=URL, api_key=KEY).run)
    watcher = Watcher(base_url=URL, api_key=KEY)
    # `@Agent` replaces `run` with a classmethod that recurses (a 0.17 SDK defect):
    # the runtime's own `BaseAgent.run` is what an agent runs.
    run_in_thread(lambda: BaseAgent.run(watcher))
    time.sleep(2)  # let both open their streams

    for_worker = client.create_intent(f"sdk stream check (worker) {RUN}")
    client.assign_agent(for_worker.id, agent_id=WORKER_ID)
    watched = client.create_intent(f"sdk stream check (agent) {RUN}")
    client.set_acl(watched.id, entries=[{"principal_id": AGENT_ID, "permission": "write"}])
    client.assign_agent(watched.id, agent_id=AGENT_ID)
    seen["assignment"].wait(10)
    current = client.get_intent(watched.id)
    client.update_state(watched.id, current.version, {"progress": 50})

    failed = 0
    for name, event in seen.items():
        ok = event.wait(10)
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {name} handler called")
    ok = acl_seen.get("my_permission") is not None
    failed += not ok
    print(f"{'PASS' if ok else 'FAIL'} ctx.my_permission from GET .../acl: {acl_seen.get('my_permission')}")
    state = client.get_intent(for_worker.id).state
    ok = state.get("worker_result") == "done"
    failed += not ok
    print(f"{'PASS' if ok else 'FAIL'} the worker's result was patched into state: {state}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
