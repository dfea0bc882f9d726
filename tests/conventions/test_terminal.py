"""Points 6-10 and 13 where a terminal, a pipe or a shell is the point: the default-scope hint, the piped
count-active --watch breakdown, prompts that re-ask, exit 10 on a decline, completion, profiles, give-up."""

from __future__ import annotations

import io
import subprocess

import pytest

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._prompt import ask, confirm
from cobrowse_cli.exitcodes import Declined, UsageError
from tests.helpers import COBROWSE, isolated_env, run_in_process

# ---- 6. the default `me` scope is said when a list comes back small ------------------------------


def test_small_list_with_the_default_scope_hints_at_agent_all(tty, sandbox):
    code, screen = tty("sessions", "list", token=sandbox.token(sub="nobody-here@example.com"))
    assert code == 0 and "0 of your own sessions; --agent all lists every agent's" in screen


def test_no_hint_for_scripts_or_an_explicit_scope(cli, tty, sandbox):
    result = cli("sessions", "list", token=sandbox.token(sub="nobody-here@example.com"))
    assert result.code == 0 and result.err == "" and result.out == ""
    code, screen = tty("sessions", "list", "--agent", "all", "--limit", "2")
    assert code == 0 and "your own sessions" not in screen


# ---- 7. count-active --watch --by, piped ----------------------------------------------------------


def test_piped_watch_prints_the_breakdown(sandbox, tmp_path):
    env = isolated_env(tmp_path, COBROWSE_API=sandbox.url, COBROWSE_TOKEN=sandbox.admin_token())
    proc = subprocess.Popen([COBROWSE, "count-active", "--watch", "1", "--by", "agent"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        first = proc.stdout.readline()
        rows = [first]
        stamp = first.split("\t")[0]
        while True:  # the rest of the first tick (the next tick is a second away)
            line = proc.stdout.readline()
            if not line.startswith(stamp + "\t"):
                break
            rows.append(line)
    finally:
        proc.terminate()
        proc.wait(10)
    fields = [row.rstrip("\n").split("\t") for row in rows]
    assert len(fields) > 1 and all(len(f) == 3 and f[2].isdigit() for f in fields), rows
    total = run_in_process(env, "count-active").out
    assert sum(int(f[2]) for f in fields) == int(total)


# ---- 8. prompts -----------------------------------------------------------------------------------


def test_confirm_re_asks_and_a_no_is_exit_10(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stdin", io.StringIO("maybe\nn\n"))
    with pytest.raises(Declined) as caught:
        confirm("End 6 session(s)?", stderr=err)
    assert caught.value.exit_code == exitcodes.DECLINED == 10
    assert "answer y or n; try again" in err.getvalue() and str(caught.value) == "declined: nothing was changed"
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    confirm("Sure?", stderr=err)  # returns


def test_ask_gives_up_after_a_few_bad_answers(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("x\n" * 10))

    def never(answer):
        raise UsageError("no")

    with pytest.raises(UsageError, match="no valid answer"):
        ask("Q", check=never, stderr=io.StringIO())


def test_declined_delete_exits_10_and_changes_nothing(tty, tmp_path):
    config = tmp_path / "cfg.toml"
    config.write_text('[profiles.eu]\napi = "https://eu.cobrowse.io"\n')
    code, screen = tty("config", "delete", "eu", answers=[("[y/N]:", "n")], env={"COBROWSE_CONFIG": str(config)})
    assert code == 10 and "declined: nothing was changed" in screen
    assert "[profiles.eu]" in config.read_text()


def test_login_prompts_check_each_answer(tty, tmp_path, sandbox):
    token = sandbox.token(sub="prompt@example.com", name="Prompt User")
    answers = [("]:", "not a url"), ("]:", sandbox.url), ("(k)? [t]:", "x"), ("(k)? [t]:", "t"), ("JWT:", token)]
    code, screen = tty("auth", "login", answers=answers, env={"COBROWSE_CONFIG": str(tmp_path / "c.toml")}, token="")
    assert code == 0, screen
    assert "invalid api 'not a url'" in screen and "answer t or k; try again" in screen
    assert screen.count("Authenticate with a static token") == 2 and "Logged in to" in screen


def test_a_missing_key_file_is_said_at_its_prompt(tty, tmp_path, sandbox):
    answers = [("]:", sandbox.url), ("(k)? [t]:", "k"), *[("(PEM):", str(tmp_path / "nope.pem"))] * 5]
    code, screen = tty("auth", "login", answers=answers, env={"COBROWSE_CONFIG": str(tmp_path / "c.toml")}, token="")
    after_key_prompt = screen.split("Private key file (PEM):", 1)[1]
    assert "nope.pem does not exist" in after_key_prompt.splitlines()[0] + after_key_prompt.splitlines()[1]
    assert "License key" not in screen  # asked again, never past it with a bad file
    assert code == 2 and "no valid answer to 'Private key file (PEM)' after 5 tries" in screen


# ---- 9. completion ----------------------------------------------------------------------------------


def _complete(words: str, tmp_path) -> list[str]:
    env = isolated_env(tmp_path, _COBROWSE_COMPLETE="complete_bash", COMP_WORDS=words,
                       COMP_CWORD=str(len(words.split()) - (0 if words.endswith(" ") else 1)))
    return run_in_process(env).out.split()  # the shell's side is tested for real in tests/test_completions.py


def test_config_keys_and_by_values_complete(tmp_path):
    assert _complete("cobrowse config get to", tmp_path) == ["token", "token_ttl"]
    assert _complete("cobrowse config unset license", tmp_path) == ["license_key"]
    assert _complete("cobrowse count-active --by ", tmp_path) == ["agent", "custom_data."]
    assert "version" in _complete("cobrowse ", tmp_path)


# ---- 10. profiles -----------------------------------------------------------------------------------


def test_profiles_list_use_rename_delete(cli, home):
    config = home / "config.toml"
    assert cli("--profile", "eu", "config", "set", "api", "https://eu.cobrowse.io").code == 0
    assert cli("config", "set", "api", "https://cobrowse.io").code == 0
    assert cli("config", "profiles").out == "  eu\n* default\n"
    assert cli("config", "profiles", env={"COBROWSE_PROFILE": "eu"}).out == "* eu\n  default\n"
    assert cli("config", "use", "eu").code == 0 and cli("config", "profiles").out == "* eu\n  default\n"
    assert cli("config", "rename", "eu", "europe").code == 0
    assert 'default_profile = "europe"' in config.read_text()
    assert cli("config", "rename", "europe", "default").code == 2  # taken
    assert cli("config", "delete", "europe").code == 2  # not a terminal and no --yes
    assert cli("config", "delete", "europ", "--yes").err.startswith('cobrowse: unknown profile "europ" (did you mean')
    assert cli("config", "delete", "europe", "--yes").code == 0
    assert "europe" not in config.read_text()
    assert cli("config", "unset", "api").code == 0
    assert "[profiles" not in config.read_text()  # the emptied profile is gone, not left as [profiles.default]


def test_auth_status_names_the_env_as_the_profile_source(cli, sandbox):
    assert cli("--profile", "eu", "config", "set", "api", sandbox.url).code == 0
    status = cli("auth", "status", env={"COBROWSE_PROFILE": "eu"})
    assert "Profile: eu (env)" in status.out, status
    assert "Profile: eu (flag)" in cli("auth", "status", "--profile", "eu").out


# ---- 13. a give-up is short and says one line per attempt ------------------------------------------


def test_socket_give_up_is_bounded_and_has_no_nested_retries():
    import socket as socketlib

    from cobrowse_cli.client import Client
    from cobrowse_cli.watch.conditions import Conditions
    from cobrowse_cli.watch.feed import Feed
    from cobrowse_cli.watch.socket import SocketSettings, SocketWatch
    from cobrowse_cli.watch.source import Source

    with socketlib.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    notices: list[str] = []
    with Client(api=dead, token="t", retries=5) as client:
        watch = SocketWatch(Feed(Source("session", client, {}), Conditions(), lambda row: None),
                            SocketSettings(min_delay=0.05, max_delay=0.2, max_attempts=1000, give_up_after=1.0),
                            notices.append)
        with pytest.raises(exitcodes.CLIError, match=r"reconnect attempts failed in \ds") as caught:
            watch._reconnect("closed")
        assert client.retries == 5  # restored after the reconnect loop
    attempts = [n for n in notices if n.startswith("reconnect attempt")]
    assert len(notices) == len(attempts) + 1 and len(attempts) > 1
    assert not any("attempts)" in n or "after" in n for n in attempts), attempts  # one request per attempt
    assert caught.value.exit_code == exitcodes.API_ERROR
