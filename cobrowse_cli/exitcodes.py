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
DECLINED = 10  # the user answered no to a confirmation: nothing was changed
INTERRUPTED = 130  # Ctrl-C

TABLE = [
    (OK, "success"),
    (API_ERROR, "API or network error"),
    (USAGE, "usage error (bad flag, argument or input)"),
    (AUTH, "authentication error (missing, expired or invalid JWT; forbidden)"),
    (NOT_FOUND, "not found"),
    (PARTIAL, "partial failure in a bulk command"),
    (THRESHOLD, "threshold exceeded (count-active --max)"),
    (WATCH_TIMEOUT, "watch timed out before its condition was met"),
    (DECLINED, "declined at a confirmation prompt (nothing was changed)"),
    (INTERRUPTED, "interrupted (Ctrl-C)"),
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


class Declined(CLIError):
    """The user answered no to a confirmation (commands._prompt.confirm raises it)."""

    exit_code = DECLINED

    def __init__(self, message: str = "declined: nothing was changed"):
        super().__init__(message)


class StdoutClosed(Exception):
    """The reader of stdout went away (`… | head -1`): stop quietly.

    Deliberately not an OSError, so no layer in between (Typer turns EPIPE into exit 1) mistakes it.
    """
