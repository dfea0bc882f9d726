"""What every command's run() receives: I/O streams, the client factory and the output factory.

Like gh's IOStreams + Factory: commands never reach for sys.stdout or build clients themselves,
so tests can hand in their own streams. Heavy modules are imported only when first needed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from cobrowse_cli.exitcodes import AuthError, StdoutClosed

if TYPE_CHECKING:
    from cobrowse_cli.client import Client


class GuardedStdout:
    """stdout whose closed-pipe error becomes StdoutClosed, so `| head -1` ends the command quietly."""

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise StdoutClosed() from None

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise StdoutClosed() from None

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


@dataclass
class Globals:
    """Root options (given before or after the subcommand)."""

    profile: str | None = None
    debug: bool = False
    no_color: bool = False
    sandbox: bool = False
    insecure: bool = False
    csv_raw: bool = False
    request_timeout: float | None = None  # --request-timeout / COBROWSE_REQUEST_TIMEOUT (seconds)
    wide: bool = False  # tables: every column, nothing shortened
    jq: str | None = None  # filter JSON output with this jq program


@dataclass
class Env:
    globals: Globals = field(default_factory=Globals)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: GuardedStdout(sys.stdout))
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _client: Any = None
    _sandbox: Any = None
    _closers: list = field(default_factory=list)

    def settings(self, **overrides: Any):
        """Resolved connection settings (flag > env > profile > default); see config.resolve."""
        from cobrowse_cli import config

        if self.globals.sandbox:
            if self._sandbox is None:  # one per command, however often settings are asked for
                from cobrowse_cli.sandbox.embedded import start_embedded

                self._sandbox = start_embedded()
                self._closers.append(self._sandbox.stop)
            overrides = {"api": self._sandbox.url, "token": self._sandbox.token, **overrides}
        overrides.setdefault("request_timeout", self.globals.request_timeout)
        return config.resolve(profile=self.globals.profile, **overrides)

    def client(self, **overrides: Any) -> "Client":
        if self._client is None:
            from cobrowse_cli.client import Client

            s = self.settings(**overrides)
            if s.token() is None:
                raise AuthError(
                    "not logged in: run `cobrowse auth login`, set COBROWSE_TOKEN, or try `cobrowse --sandbox ...`"
                )
            self._client = Client(
                api=s.api,
                token=s.token,
                license=s.license,
                debug=self.stderr if self.globals.debug else None,
                insecure=self.globals.insecure or s.insecure,
                **({"deadline": s.request_timeout} if s.request_timeout else {}),
                **({"concurrency": s.concurrency} if s.concurrency else {}),
            )
            self._closers.append(self._client.close)
        return self._client

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()
