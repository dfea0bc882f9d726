"""These tests check what windows do, so they always use them: on a loopback sandbox a page's round trip
may wait less than it takes to parse, and the default would then page one page after another
(test_adaptive_choice.py checks that choice with injected clocks)."""

import pytest

from cobrowse_cli.client import windows


@pytest.fixture(autouse=True)
def always_windows(monkeypatch):
    monkeypatch.setattr(windows, "ADAPTIVE", False)
