"""Exit codes: one table, shared by every command, README and --help.

Kept free of imports so the start-up path stays cheap.
"""

OK = 0
API_ERROR = 1  # API or network failure (5xx, connection refused, bad response)
USAGE = 2  # bad flags, arguments or input
AUTH = 3  # no token, expired/invalid token, forbidden
NOT_FOUND = 4  # unknown session/device id
PARTIAL = 5  # a bulk command where some items failed
THRESHOLD = 6  # count-active --max exceeded
WATCH_TIMEOUT = 7  # a watch --timeout passed before its --until/--count condition
OUTPUT_LOST = 8  # stdout (or --report) failed mid-run: closed pipe, full disk, I/O error
LOCKED = 9  # another run holds the lock (sessions end, same profile and API)
DECLINED = 10  # the user answered no to a confirmation: nothing was changed
HANGUP = 129  # SIGHUP (128 + 1)
INTERRUPTED = 130  # Ctrl-C, SIGINT (128 + 2)
TERMINATED = 143  # SIGTERM (128 + 15): timeout, systemd, a container stop

TABLE = [
    (OK, "success"),
    (API_ERROR, "API or network error"),
    (USAGE, "usage error (bad flag, argument or input)"),
    (AUTH, "authentication error (missing, expired or invalid JWT; forbidden)"),
    (NOT_FOUND, "not found"),
    (PARTIAL, "partial failure in a bulk command"),
    (THRESHOLD, "threshold exceeded (count-active --max)"),
    (WATCH_TIMEOUT, "watch timed out before its condition was met"),
    (OUTPUT_LOST, "output lost (stdout or --report closed or failing)"),
    (LOCKED, "another run holds the lock (sessions end)"),
    (DECLINED, "declined at a confirmation prompt (nothing was changed)"),
    (HANGUP, "hung up (SIGHUP)"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
    (TERMINATED, "terminated (SIGTERM)"),
]

EPILOG = "Exit codes: " + ", ".join(f"{code} {text.split(' (')[0]}" for code, text in TABLE) + "."


class CLIError(Exception):
    """A user-facing failure: one line on stderr and an exit code."""

    exit_code = API_ERROR

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CLIError):
    exit_code = USAGE


class AuthError(CLIError):
    exit_code = AUTH


class NotFound(CLIError):
    exit_code = NOT_FOUND


class Interrupted(CLIError):
    """A signal stopped the command; the exit code is 128 + the signal's number (129, 130, 143)."""


class Declined(CLIError):
    """The user answered no to a confirmation (commands._prompt.confirm raises it)."""

    exit_code = DECLINED

    def __init__(self, message: str = "declined: nothing was changed"):
        super().__init__(message)


class StdoutClosed(Exception):
    """The reader of stdout went away (`… | head -1`): stop quietly.

    Deliberately not an OSError, so no layer in between (Typer turns EPIPE into exit 1) mistakes it.
    """
