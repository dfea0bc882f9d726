"""What every command's run() receives: I/O streams, the client factory and the output factory.

Like gh's IOStreams + Factory: commands never reach for sys.stdout or build clients themselves,
so tests can hand in their own streams. Heavy modules are imported only when first needed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from cobrowse_cli.exitcodes import API_ERROR, AuthError, CLIError, StdoutClosed
from cobrowse_cli.messages import signed


def say_prefixed(stream: TextIO, text: str) -> None:
    """`cobrowse: TEXT` on one stream: every message the CLI itself signs goes through here."""
    stream.write(signed(text) + "\n")
    stream.flush()


def explain(error: Exception, prefix: str, suffix: str = "") -> Exception:
    """`error`, to be reported as `PREFIX<error>SUFFIX`: context for the user while the exit code stays
    the one app.py maps (client errors are mapped there only)."""
    error.explained = (prefix, suffix)  # type: ignore[attr-defined]
    return error


@contextmanager
def explained(prefix: str, suffix: str = ""):
    """explain() every error raised inside."""
    try:
        yield
    except Exception as e:
        raise explain(e, prefix, suffix)

if TYPE_CHECKING:
    import typer

    from cobrowse_cli.client import Client
    from cobrowse_cli.config import Settings


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
    region: str | None = None


@dataclass
class Context:
    globals: Globals = field(default_factory=Globals)
    stdin: TextIO = field(default_factory=lambda: sys.stdin)
    stdout: TextIO = field(default_factory=lambda: GuardedStdout(sys.stdout))
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _client: Any = None
    _sandbox: Any = None
    _closers: list = field(default_factory=list)

    # --- the one way a command talks to the user on stderr (hatch's display_* / abort) ---------------

    def say(self, text: str) -> None:
        """A plain line for the person at the terminal (progress, confirmations): no prefix."""
        self.stderr.write(text + "\n")
        self.stderr.flush()

    def note(self, text: str) -> None:
        """`cobrowse: TEXT`: a notice about the run that is not a failure (e.g. --max exceeded)."""
        say_prefixed(self.stderr, text)

    def warn(self, text: str) -> None:
        """`cobrowse: warning: TEXT`."""
        say_prefixed(self.stderr, "warning: " + text)

    @staticmethod
    def abort(text: str, code: int = API_ERROR) -> NoReturn:
        """Stop the command: app.py prints `cobrowse: TEXT` (made inert) and exits with `code`."""
        raise CLIError(text, code)

    def start_sandbox(self) -> None:
        """With --sandbox: start the embedded sandbox (once per command). Explicit, so reading settings
        never starts a server; connect() and client() call it."""
        if self.globals.sandbox and self._sandbox is None:
            from cobrowse_cli.sandbox.embedded import start_embedded

            self._sandbox = start_embedded()
            self._closers.append(self._sandbox.stop)

    def settings(self, **overrides: Any) -> "Settings":
        """Resolved settings (flag > env > profile > default; see config.resolve); the sandbox's URL and
        token once start_sandbox() ran. Never starts anything."""
        from cobrowse_cli import config

        if self._sandbox is not None:
            overrides = {"api": self._sandbox.url, "token": self._sandbox.token, **overrides}
        overrides.setdefault("request_timeout", self.globals.request_timeout)
        if self.globals.region and "region" not in overrides:
            overrides["region"] = self.globals.region
        return config.resolve(profile=self.globals.profile, **overrides)

    def connect(self, **overrides: Any) -> "Settings":
        """The settings of the API this command talks to: starts the sandbox first under --sandbox."""
        self.start_sandbox()
        return self.settings(**overrides)

    def client(self, **overrides: Any) -> "Client":
        """The command's one Client (built on first use, closed with the command)."""
        if self._client is None:
            s = self.connect(**overrides)
            if s.token() is None:
                raise AuthError(
                    "not logged in: run `cobrowse auth login`, set COBROWSE_TOKEN, or try `cobrowse --sandbox ...`"
                )
            self._client = self.make_client(s)
            self._closers.append(self._client.close)
        return self._client

    def make_client(self, s: "Settings", **options: Any) -> "Client":
        """The one place a Client is built from settings (--debug, --insecure, the request timeout);
        `options` go to Client as they are (login's check passes retries=1). The caller closes it."""
        from cobrowse_cli.client import Client

        if s.request_timeout:
            options.setdefault("deadline", s.request_timeout)
        if s.concurrency:
            options.setdefault("concurrency", s.concurrency)
        return Client(
            api=s.api,
            token=s.token,
            license=s.license,
            debug=self.stderr if self.globals.debug else None,
            insecure=self.globals.insecure or s.insecure,
            **options,
        )

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()


def get_context(ctx: "typer.Context") -> Context:
    root = ctx.find_root()
    if not isinstance(root.obj, Context):  # only when a command is invoked without the root app (tests)
        root.obj = Context()
    return root.obj
