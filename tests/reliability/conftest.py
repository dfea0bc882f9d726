"""Helpers for the reliability suite: the installed `cobrowse` run as a subprocess with an isolated HOME.

The sandbox and `cli`/`home` fixtures come from tests/conftest.py; the helpers from tests/helpers.py,
because several tests here point the CLI at servers other than the sandbox, or need a Popen to SIGKILL.
"""

from __future__ import annotations

from tests.helpers import COBROWSE, Result, assert_one_line_error, isolated_env, run_cli  # noqa: F401 - for this folder

DOCUMENTED_CODES = {0, 1, 2, 3, 4, 5}  # the exit codes a non-watch, non-threshold command may end with
