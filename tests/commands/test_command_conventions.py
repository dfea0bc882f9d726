"""The command conventions of CONTRIBUTING.md, checked: run functions return exit codes, nobody prints or
signs messages by hand, settings never start a server, config owns the JWT decoder."""

from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

from cobrowse_cli.commands._context import Context, Globals

COMMANDS = Path(__file__).resolve().parents[2] / "cobrowse_cli" / "commands"
# Not yet converted (files another branch was changing this session): the lead's merge note lists them.
PENDING: set[str] = set()
# _context.py holds the one "cobrowse: " prefix; count_plugin.py parses it back out of messages.


def _modules():
    return [p for p in sorted(COMMANDS.glob("*.py")) if p.name not in PENDING]


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_run_functions_take_options_and_context_and_return_an_exit_code(path):
    bad = []
    for node in ast.parse(path.read_text()).body:
        if (isinstance(node, ast.FunctionDef) and node.name.startswith("run") and node.name != "run_as_plugin"
                and not any(ast.unparse(d) == "contextmanager" for d in node.decorator_list)):  # e.g. run_lock
            args = [a.arg for a in node.args.args]
            if ast.unparse(node.returns) != "int" if node.returns else True:
                bad.append(f"{node.name} does not return int")
            if args[:2] != ["opts", "ctx"]:
                bad.append(f"{node.name}({', '.join(args)}) is not run(opts, ctx)")
    assert not bad, bad


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_no_command_prints_or_signs_a_message_by_hand(path):
    tree = ast.parse(path.read_text())
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"]
    signed = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
              and n.value.startswith("cobrowse: ") and path.name not in ("_context.py", "count_plugin.py")]
    assert not prints and not signed, (prints, signed)


def test_reading_settings_never_starts_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("COBROWSE_CONFIG", str(tmp_path / "config.toml"))
    for name in ("COBROWSE_API", "COBROWSE_TOKEN", "COBROWSE_PROFILE", "COBROWSE_REGION"):
        monkeypatch.delenv(name, raising=False)
    env = Context(Globals(sandbox=True), stdout=io.StringIO(), stderr=io.StringIO())
    try:
        assert env.settings().api == "https://cobrowse.io" and env._sandbox is None
        settings = env.connect()  # the explicit call
        assert env._sandbox is not None and settings.api == env._sandbox.url and settings.token()
    finally:
        env.close()


def test_sandbox_token_writes_through_the_context_and_config_decodes_it(tmp_path):
    from cobrowse_cli.commands.sandbox import TokenOptions, run_token
    from cobrowse_cli.config.jwt import inspect

    out = io.StringIO()
    code = run_token(TokenOptions(state_dir=str(tmp_path), sub="me@example.test", role="administrator"),
                     Context(stdout=out, stderr=io.StringIO()))
    claims = inspect(out.getvalue().strip())
    assert code == 0 and claims["sub"] == "me@example.test" and claims["role"] == "administrator"
    assert inspect("not.a-jwt") is None and inspect("a.b") is None


def test_messages_are_signed_in_one_place():
    err = io.StringIO()
    env = Context(stderr=err)
    env.say("plain")
    env.note("over --max")
    env.warn("the token expires in 2m")
    assert err.getvalue() == "plain\ncobrowse: over --max\ncobrowse: warning: the token expires in 2m\n"
