"""Security: no token, key or Authorization header in any output or --debug log; private files stay 0600
(whatever the umask); a token is never sent over plain http to a non-loopback host, and the refusal
happens before any connection or DNS lookup (checked in-process with a socket guard, so a regression
cannot send traffic anywhere either)."""

from __future__ import annotations

import base64
import ipaddress
import json
import os
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import no_backoff, run_in_process
from tests.support.stub import Quiet, StubServer

from .conftest import COBROWSE, Result, isolated_env


def _secret_forms(token: str) -> set[str]:
    """The token, its payload and signature, and the base64 form the realtime socket's subprotocol carries."""
    _, payload, signature = token.split(".")
    return {token, payload, signature, base64.b64encode(token.encode()).decode().rstrip("=")}


def _assert_no_secrets(label: str, result: Result, secrets: set[str]) -> None:
    text = result.out + result.err
    for secret in secrets:
        assert secret not in text, f"{label}: a secret ({secret[:10]}…) is in the output:\n{text[-3000:]}"
    assert "PRIVATE KEY" not in text, label
    for line in text.splitlines():  # an Authorization header may appear only with its value redacted
        if "Bearer " in line:
            assert "[redacted]" in line, f"{label}: {line}"


def test_no_secret_in_any_output_or_debug_log(sandbox, home, capfd):
    """In-process (26 interpreter starts saved); capfd also catches anything written to fd 1/2 directly."""
    session = sandbox.control("POST", "/_sandbox/sessions", {"count": 1, "state": "active",
                                                              "agent": "admin@sandbox.test"})["sessions"][0]
    admin, agent, expired = sandbox.admin_token(), sandbox.token(), sandbox.token(ttl=-60)
    pem = (sandbox.state_dir / "sandbox-private-key.pem").read_text()
    secrets = set().union(*map(_secret_forms, (admin, agent, expired)))
    secrets |= {line for line in pem.splitlines() if len(line) > 20 and "-----" not in line}
    base = isolated_env(home, COBROWSE_API=sandbox.url)
    with_token = {**base, "COBROWSE_TOKEN": admin}
    runs = [  # (label, env, argv, stdin, expected exit code)
        ("auth status", with_token, ["auth", "status"], "", 0),
        ("auth status json", with_token, ["auth", "status", "--json"], "", 0),
        ("sessions list", with_token, ["sessions", "list", "--agent", "all", "--limit", "3"], "", 0),
        ("sessions list json", with_token, ["sessions", "list", "--agent", "all", "--limit", "3", "--json"], "", 0),
        ("sessions get", with_token, ["sessions", "get", session["id"], "--ndjson", "--fields", "id,state"], "", 0),
        ("sessions open", with_token, ["sessions", "open", session["id"]], "", 0),
        ("404", with_token, ["sessions", "get", "no-such-session"], "", 4),
        ("401 expired", {**base, "COBROWSE_TOKEN": expired}, ["sessions", "list"], "", 3),
        ("401 garbage", {**base, "COBROWSE_TOKEN": admin[:-6] + "AAAAAA"}, ["auth", "status"], "", 3),
        ("403", {**base, "COBROWSE_TOKEN": agent}, ["sessions", "list", "--agent", "all"], "", 3),
        ("count-active", with_token, ["count-active", "--json"], "", 0),
        ("end dry-run", with_token, ["sessions", "end", "--agent", "all", "--state", "active", "--dry-run"], "", 0),
        ("devices list", with_token, ["devices", "list", "--limit", "2"], "", 0),
        ("watch socket", with_token, ["sessions", "watch", session["id"], "--transport", "socket", "--timeout", "1s",
                                      "--ndjson"], "", 7),
        ("COBROWSE_DEBUG", {**with_token, "COBROWSE_DEBUG": "1"}, ["sessions", "list", "--limit", "1"], "", 0),
        ("login bad token", base, ["--profile", "bad", "auth", "login", "--api", sandbox.url, "--token-stdin"],
         expired, 3),
        ("login token", base, ["auth", "login", "--api", sandbox.url, "--token-stdin"], admin, 0),
        ("config list", base, ["config", "list"], "", 0),
        ("config list all", base, ["config", "list", "--all"], "", 0),
        ("config list json", base, ["config", "list", "--json"], "", 0),
        ("config get token", base, ["config", "get", "token"], "", 0),
        ("from profile", base, ["sessions", "list", "--agent", "all", "--limit", "1"], "", 0),
        ("login minting", base, ["--profile", "mint", "auth", "login", "--sandbox", "--api", sandbox.url,
                                 "--state-dir", str(sandbox.state_dir)], "", 0),
        ("minted status", base, ["--profile", "mint", "auth", "status"], "", 0),
        ("minted list", base, ["--profile", "mint", "sessions", "list", "--agent", "all", "--limit", "1"], "", 0),
        ("minted config list", base, ["--profile", "mint", "config", "list", "--all"], "", 0),
    ]
    results = []
    capfd.readouterr()
    for label, env, argv, stdin, code in runs:
        with no_backoff():
            result = run_in_process(env, "--debug", *argv, input=stdin)
        raw = capfd.readouterr()  # what bypassed sys.stdout/sys.stderr, straight to the file descriptors
        result = Result(result.code, result.out + raw.out, result.err + raw.err)
        assert result.code == code, (label, result.code, result.err[-2000:])
        results.append((label, result))
    assert "> GET" in dict(results)["sessions list"].err  # --debug really logged requests: the scan means something
    # Minted tokens appear only now (in the cache), so scan for them too.
    cache = Path(base["XDG_CACHE_HOME"]) / "cobrowse-cli" / "tokens"
    minted = [line for f in cache.iterdir() for line in f.read_text().splitlines() if line.startswith("eyJ")]
    assert minted, "no minted token was cached"
    secrets |= set().union(*map(_secret_forms, minted))
    for label, result in results:
        _assert_no_secrets(label, result, secrets)
    # The scan itself catches a token where one is printed on purpose (`auth token`).
    with pytest.raises(AssertionError):
        _assert_no_secrets("auth token", run_in_process(with_token, "auth", "token"), secrets)
    print(f"{len(results)} commands with --debug scanned for {len(secrets)} secret strings")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_files_are_0600_whatever_the_umask(sandbox, home, tmp_path):
    env = isolated_env(home, COBROWSE_API=sandbox.url)
    del env["COBROWSE_CONFIG"]  # the default location, so the CLI creates its own directory
    umask0 = lambda: os.umask(0)  # noqa: E731 - the most permissive umask a user could have
    r = subprocess.run([COBROWSE, "--profile", "mint", "auth", "login", "--sandbox", "--api", sandbox.url,
                        "--state-dir", str(sandbox.state_dir)], capture_output=True, text=True, env=env,
                       preexec_fn=umask0, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([COBROWSE, "config", "set", "token", sandbox.admin_token()], capture_output=True, text=True,
                       env=env, preexec_fn=umask0, timeout=60)
    assert r.returncode == 0, r.stderr
    config = home / ".config" / "cobrowse-cli" / "config.toml"
    cache = home / ".cache" / "cobrowse-cli" / "tokens"
    assert _mode(config) == 0o600 and _mode(config.parent) == 0o700
    cached = list(cache.iterdir())
    assert cached and all(_mode(f) == 0o600 for f in cached) and _mode(cache) == 0o700
    # The sandbox's own state dir: a fresh one, created by `sandbox serve` itself under umask 0.
    state = tmp_path / "fresh-state"
    proc = subprocess.Popen([COBROWSE, "sandbox", "serve", "--port", "0", "--state-dir", str(state), "--sessions", "1",
                             "--active", "0", "--devices", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, env=env, preexec_fn=umask0)
    try:
        assert proc.stdout.readline().startswith("Sandbox listening on ")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert _mode(state) == 0o700, oct(_mode(state))
    for f in state.iterdir():
        assert _mode(f) == 0o600, (f.name, oct(_mode(f)))


# ---- plain http to a non-loopback host ---------------------------------------------------------------

def _is_loopback(host) -> bool:
    host = str(host).strip("[]")
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_remote_network(monkeypatch):
    """Blocks (and records) every non-loopback connect and DNS lookup in this process."""
    attempts: list = []
    real_connect, real_connect_ex, real_gai = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def guard(real):
        def connect(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
                attempts.append(address)
                raise OSError("blocked by the test: non-loopback connect")
            return real(self, address)
        return connect

    def getaddrinfo(host, *args, **kw):
        if host is not None and not _is_loopback(host if isinstance(host, str) else host.decode()):
            attempts.append(host)
            raise socket.gaierror(socket.EAI_NONAME, "blocked by the test: non-loopback lookup")
        return real_gai(host, *args, **kw)

    monkeypatch.setattr(socket.socket, "connect", guard(real_connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guard(real_connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return attempts


@pytest.fixture
def in_process(tmp_path, monkeypatch):
    for name in [n for n in os.environ if n.startswith("COBROWSE_")]:
        monkeypatch.delenv(name)

    def go(*argv: str) -> tuple[Result, list[float]]:
        """The result, and the retry waits the client asked for (none: refused before trying). COBROWSE_*
        variables the test set (monkeypatch) reach the run."""
        test_set = {k: v for k, v in os.environ.items() if k.startswith("COBROWSE_")}
        env = isolated_env(tmp_path, COBROWSE_TOKEN="eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", **test_set)
        with no_backoff() as waits:
            result = run_in_process(env, *argv)
        return result, waits

    return go


REMOTE_APIS = ["http://192.0.2.10", "http://10.1.2.3:8080", "http://[2001:db8::1]", "http://example.invalid",
               "http://localhost.example.invalid", "http://127.0.0.1.example.invalid"]
COMMANDS = [["sessions", "list"], ["count-active"], ["auth", "status"], ["sessions", "end", "abc", "--yes"],
            ["devices", "list"], ["sessions", "get", "abc"]]


@pytest.mark.parametrize("api", REMOTE_APIS)
def test_plain_http_to_a_remote_host_is_refused_before_any_connection(in_process, no_remote_network, monkeypatch, api):
    monkeypatch.setenv("COBROWSE_API", api)
    for argv in COMMANDS:
        result, waits = in_process(*argv)
        assert result.code == 2 and result.out == "", (argv, result)  # auth status too: a usage error like the rest
        assert result.err.strip().count("\n") == 0, (argv, result)
        assert "plain http" in result.err and "Traceback" not in result.err, (argv, result.err)
        assert waits == [], (argv, waits)
    assert no_remote_network == [], f"connection or lookup attempted: {no_remote_network}"


def test_plain_http_refusal_also_for_an_api_from_the_config_profile(in_process, no_remote_network, tmp_path):
    (tmp_path / "config.toml").write_text('[profiles.default]\napi = "http://192.0.2.10"\n')
    result, waits = in_process("sessions", "list")
    assert (result.code, result.out) == (2, "") and "plain http" in result.err and waits == []
    assert no_remote_network == []


def test_the_network_guard_itself_catches_a_connection(in_process, no_remote_network, monkeypatch):
    """Proves the guard above works: with --insecure the CLI does try, the guard records and blocks it."""
    monkeypatch.setenv("COBROWSE_API", "http://192.0.2.10")
    result, _ = in_process("--insecure", "sessions", "list")
    assert result.code == 1 and no_remote_network, result


class _RemoteSocketAPI(Quiet):
    """A loopback API whose /users/me points the realtime socket at a plain-http, non-loopback host."""

    session = {"id": "s1", "state": "active", "control_token": "ctl", "custom_data": {},
               "created": "2026-01-01T00:00:00.000Z", "activated": "2026-01-01T00:00:00.000Z",
               "updated": "2026-01-01T00:00:00.000Z"}

    def do_GET(self):  # noqa: N802 - http.server naming
        path = self.path.split("?")[0]
        if path == "/api/1/users/me":
            body = {"id": "me", "notification_url": "http://192.0.2.10/", "notification_token": "notification-secret"}
        else:
            body = [self.session] if path == "/api/1/sessions" else self.session
        self.answer(200, "application/json", json.dumps(body))


def test_realtime_socket_is_refused_over_plain_ws_to_a_remote_host(in_process, no_remote_network, monkeypatch):
    with StubServer(_RemoteSocketAPI) as server:
        monkeypatch.setenv("COBROWSE_API", server.url)
        result, _ = in_process("sessions", "watch", "s1", "--transport", "socket", "--timeout", "2s", "--ndjson")
    assert no_remote_network == [], f"the socket tried {no_remote_network} (guard blocked it)"
    assert result.code == 2 and "plain" in result.err, result
