"""Running the installed `cobrowse` as a subprocess, isolated from the real user's HOME and config.

Kept as an alias of tests/support/cli.py (the one CLI runner) for the tests that import it from here.
"""

from tests.support.cli import (  # noqa: F401 - the names this module has always offered
    COBROWSE,
    Result,
    assert_one_line_error,
    isolated_env,
    run_cli,
    run_in_process,
)
