"""The official agent SDK (npm cobrowse-agent-sdk 2.16.2, unmodified) against the sandbox.

node runs the ES-module scripts in tests/conformance/ (install: `npm ci --prefix tests/conformance`);
each prints JSON lines. We assert on what the SDK saw AND on the sandbox's own view (REST as another
client, and the control surface's counters).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.conformance

SCRIPTS = Path(__file__).parent / "conformance"
SDK = SCRIPTS / "node_modules" / "cobrowse-agent-sdk" / "package.json"
LINE_TIMEOUT_S = 10.0


def _node_command() -> list[str]:
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "node is not installed"
    elif not SDK.exists():
        problem = "the SDK is not installed: run `npm ci --prefix tests/conformance`"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"conformance tests must run in CI: {problem}")
        pytest.skip(problem)
    major = int(subprocess.run([node, "--version"], capture_output=True, text=True, check=True).stdout.strip()[1:].split(".")[0])
    # node 20/21 have WebSocket (which the SDK's socket needs) only behind this flag; 22+ by default.
    return [node, "--experimental-websocket"] if major < 22 else [node]


class NodeScript:
    """One conformance script as a child process, read line by line (each line one JSON object)."""

    def __init__(self, name: str, env: dict[str, str]):
        self.name = name
        self.proc = subprocess.Popen(
            [*_node_command(), "--no-warnings", str(SCRIPTS / name)],
            cwd=SCRIPTS,
            env={**os.environ, "NODE_NO_WARNINGS": "1", **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def read(self, timeout: float = LINE_TIMEOUT_S) -> dict:
        result = self.poll(timeout)
        if result is None:
            self.proc.kill()
            raise AssertionError(f"{self.name}: no output within {timeout}s; stderr:\n{self._stderr()}")
        return result

    def poll(self, timeout: float) -> dict | None:
        """The next line, or None if none came within `timeout` (the script keeps running)."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            raise AssertionError(f"{self.name} exited ({self.proc.wait()}) early; stderr:\n{self._stderr()}")
        result = json.loads(line)
        assert "failed" not in result, f"{self.name} failed: {result}\nstderr:\n{self._stderr()}"
        return result

    def finish(self, timeout: float = LINE_TIMEOUT_S) -> None:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"{self.name} did not exit; stderr:\n{self._stderr()}") from None
        assert code == 0, f"{self.name} exited {code}; stderr:\n{self._stderr()}"

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.stderr.read()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def node_script(sandbox):
    started: list[NodeScript] = []

    def start(name: str, **env: str) -> NodeScript:
        script = NodeScript(name, {"COBROWSE_API": sandbox.url, **env})
        started.append(script)
        return script

    yield start
    for script in started:
        script.close()


def rest(sandbox, method: str, path: str, token: str, body: dict | None = None) -> Any:
    """The sandbox's view through plain urllib: not the SDK, not our client."""
    request = urllib.request.Request(
        sandbox.url.rstrip("/") + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def demo_token(sandbox, demo_id: str) -> str:
    with urllib.request.urlopen(f"{sandbox.url}/api/1/demo/token?demo_id={demo_id}", timeout=5) as response:
        return json.loads(response.read())["token"]


def end_counts(sandbox) -> dict[str, int]:
    return sandbox.control("GET", "/_sandbox/stats")["ends"]["by_session"]


# -- REST ----------------------------------------------------------------------------------------


def test_sdk_rest_calls_work_against_the_sandbox(sandbox, node_script):
    demo_id = "conf-" + uuid.uuid4().hex[:8]
    script = node_script("rest.mjs", DEMO_ID=demo_id)  # token from /api/1/demo/token, as the SDK's tests do
    out = script.read()
    script.finish()
    token = demo_token(sandbox, demo_id)

    me = rest(sandbox, "GET", "/api/1/users/me", token)
    assert out["user"]["id"] == me["id"]

    created = out["created"]
    assert created["state"] == "pending"
    assert created["code"].isdigit() and len(created["code"]) == 6
    assert created["custom_data"] == {"demo_id": demo_id, "ticket": "T-1"}
    assert out["by_id"]["id"] == created["id"]
    assert out["by_code"] == {"id": created["id"], "code": created["code"]}

    # filter_demo_id + state as an array (sent as state[]=pending&state[]=active)
    assert created["id"] in [s["id"] for s in out["listed"]]
    assert all(s["custom_data"]["demo_id"] == demo_id and s["state"] in ("pending", "active") for s in out["listed"])
    assert out["listed_ended_before"] == []
    assert out["listed_ended_after"] == [out["ended"]["id"]]

    # update merges custom_data; the sandbox holds what the SDK reported
    merged = {"demo_id": demo_id, "ticket": "T-2", "note": "updated by the SDK"}
    assert out["updated"]["custom_data"] == merged
    assert rest(sandbox, "GET", f"/api/1/sessions/{created['id']}", token)["custom_data"] == merged

    # end(): the SDK's `ended` event fired, and the sandbox counted exactly one end
    assert out["ended"] == {"id": out["ended"]["id"], "state": "ended", "ended_reason": "agent_ended", "ended_event": True}
    assert rest(sandbox, "GET", f"/api/1/sessions/{out['ended']['id']}", token)["state"] == "ended"
    assert end_counts(sandbox)[out["ended"]["id"]] == 1

    served = rest(sandbox, "GET", "/api/1/devices", token)
    assert served, "the reset sandbox should have devices"
    assert [d["id"] for d in out["devices"]] == [d["id"] for d in served]
    assert all(set(d) >= {"id", "custom_data", "device", "connectable", "online", "last_active"} for d in out["devices"])


def test_sdk_raises_token_expired_error_for_an_expired_jwt(sandbox, node_script):
    script = node_script("token_expired.mjs", COBROWSE_TOKEN=sandbox.token(ttl=-60))
    out = script.read()
    script.finish()
    assert out["rejected"] is True
    error = out["error"]
    assert error["name"] == "TokenExpiredError"
    assert error["is_token_expired"] and error["is_api_error"]
    # The SDK's TokenExpiredError swaps its constructor arguments, so status and message trade places.
    assert {str(error["status"]), str(error["message"])} == {"401", "jwt expired"}


# -- realtime subscriptions ------------------------------------------------------------------------


def test_sdk_session_subscription_receives_updates_and_ended(sandbox, node_script):
    token = sandbox.token()
    session = rest(sandbox, "POST", "/api/1/sessions", token, {"custom_data": {"ticket": "T-9"}})
    script = node_script(
        "subscribe_session.mjs", COBROWSE_TOKEN=token, SESSION_ID=session["id"], STEPS="rest,after-drop", WAIT_ENDED="1"
    )
    assert script.read() == {"ready": True, "id": session["id"], "state": "pending"}
    assert sandbox.control("GET", "/_sandbox/sockets")["open"] == 1

    # another client changes the session through REST; the SDK hears it over the socket
    put(sandbox, token, session["id"], {"step": "rest"})
    updated = script.read()["updated"]
    assert updated["id"] == session["id"]
    assert updated["custom_data"] == {"ticket": "T-9", "step": "rest"}

    # the socket server drops every socket: the SDK reconnects (1-2 s backoff) and re-subscribes.
    # The sandbox counts a socket as open before the SDK's subscribe frame arrives, so change the
    # session until the SDK reports it (each change differs, so each one is pushed).
    assert sandbox.control("POST", "/_sandbox/sockets/drop") == {"dropped": 1}
    wait_until(lambda: sandbox.control("GET", "/_sandbox/sockets")["open"] == 1, timeout=8)
    after = None
    for attempt in range(20):
        put(sandbox, token, session["id"], {"step": "after-drop", "attempt": attempt})
        after = script.poll(0.25)
        if after is not None:
            break
    assert after is not None, "the SDK got no update after the socket was dropped"
    assert after["updated"]["custom_data"]["step"] == "after-drop"

    # the device ends it (control surface): the SDK's `ended` event fires from the socket push
    sandbox.control("POST", f"/_sandbox/sessions/{session['id']}/end")
    assert script.read()["ended"] == {"id": session["id"], "state": "ended", "ended_reason": "device_ended"}
    script.finish()
    assert end_counts(sandbox)[session["id"]] == 1


def put(sandbox, token: str, session_id: str, custom_data: dict) -> dict:
    return rest(sandbox, "PUT", f"/api/1/sessions/{session_id}", token, {"id": session_id, "custom_data": custom_data})


def wait_until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_sdk_device_subscription_receives_presence_updates(sandbox, node_script):
    token = sandbox.token()
    device = rest(sandbox, "GET", "/api/1/devices?limit=1", token)[0]
    sandbox.control("POST", f"/_sandbox/devices/{device['id']}/offline")

    script = node_script("subscribe_device.mjs", COBROWSE_TOKEN=token, DEVICE_ID=device["id"])
    ready = script.read()  # after the SDK's own sync-presence round trip
    assert ready["ready"] is True and ready["id"] == device["id"] and ready["online"] is False

    presence = sandbox.control("POST", f"/_sandbox/devices/{device['id']}/online")
    assert presence["present"] is True
    updated = script.read()
    assert updated["updated"] is True and updated["online"] is True
    assert updated["last_active"] >= ready["last_active"]
    script.finish()
