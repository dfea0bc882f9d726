"""`auth login` on a terminal: prompts (token input hidden), then the same validation as with flags."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")


def test_prompts_for_a_token_without_echoing_it(home, local_sandbox):
    token = local_sandbox.token(sub="tty@example.com", name="Tty User", role="agent")
    code, screen = home.run_tty("auth", "login", answers=[local_sandbox.url, "t", token])
    assert code == 0, screen
    assert "API base URL [https://cobrowse.io]:" in screen and "Agent JWT:" in screen
    assert token not in screen  # hidden input
    assert "Logged in to" in screen and "as Tty User (" in screen
    assert home.run("auth", "token").out.strip() == token


def test_prompts_for_minting_settings(home, local_sandbox):
    answers = [local_sandbox.url, "k", str(local_sandbox.private_key), local_sandbox.license, "kit@example.com", "Kit", "administrator"]
    code, screen = home.run_tty("auth", "login", answers=answers)
    assert code == 0, screen
    assert "as Kit (" in screen and "role administrator" in screen
    assert home.run("config", "get", "sub").out.strip() == "kit@example.com"
