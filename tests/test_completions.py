"""Shell completion: the committed scripts are current, and completing really works.

Completion runs the CLI's entry point (`app.run`, in-process: tests/support/cli.py) with the variables the
generated scripts set, as a shell does on Tab; bash (always present here) also sources the committed script
and calls the installed `cobrowse` itself, end to end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cobrowse_cli.commands.completion import completion_script
from cobrowse_cli.config import profile_names

REPO = Path(__file__).resolve().parent.parent
COBROWSE = str(Path(sys.executable).with_name("cobrowse"))
SCRIPTS = {"bash": "cobrowse.bash", "zsh": "_cobrowse", "fish": "cobrowse.fish"}
CONFIG = """
default_profile = "prod"
[profiles.prod]
api = "https://cobrowse.io"
[profiles.staging]
api = "https://staging.example.test"
[profiles.eu]
api = "https://eu.cobrowse.io"
"""


def run_cobrowse(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    from tests.support.cli import run_in_process

    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COBROWSE_", "_COBROWSE", "_TYPER", "COMP_"))}
    environ.update(env or {})
    result = run_in_process(environ, *args, timeout=60)
    return subprocess.CompletedProcess([COBROWSE, *args], result.code, result.out, result.err)


def bash_complete(words: str, config: Path | None = None) -> list[str]:
    """What `cobrowse` offers for the last word of `words` (bash protocol)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    env = {"_COBROWSE_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    if config:
        env["COBROWSE_CONFIG"] = str(config)
    result = run_cobrowse(env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.split()


@pytest.fixture
def config_file(tmp_path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


# ---- the committed scripts ------------------------------------------------------------------------


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_committed_script_is_current(shell):
    printed = run_cobrowse("completion", shell)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == completion_script(shell)
    committed = (REPO / "completions" / SCRIPTS[shell]).read_text()
    assert committed == printed.stdout, (
        f"completions/{SCRIPTS[shell]} is stale; regenerate it with: "
        f"cobrowse completion {shell} > completions/{SCRIPTS[shell]}"
    )


def test_scripts_call_cobrowse_with_its_completion_variable():
    for shell, name in SCRIPTS.items():
        text = (REPO / "completions" / name).read_text()
        assert "_COBROWSE_COMPLETE=complete_" + shell in text, shell
    assert (REPO / "completions" / "_cobrowse").read_text().startswith("#compdef cobrowse\n")


def test_completion_without_a_shell_uses_SHELL_or_fails_clearly():
    assert run_cobrowse("completion", env={"SHELL": "/usr/bin/zsh"}).stdout == completion_script("zsh")
    result = run_cobrowse("completion", env={"SHELL": "/bin/tcsh"})
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == "cobrowse: cannot tell your shell ($SHELL is 'tcsh'): give one of bash, zsh, fish"
    bad = run_cobrowse("completion", "powershell")
    assert bad.returncode == 2 and "powershell" in bad.stderr and "Traceback" not in bad.stderr


# ---- completing -------------------------------------------------------------------------------------


def test_commands_and_subcommands_complete():
    assert bash_complete("cobrowse ses") == ["sessions"]
    assert {"api", "completion", "count-active", "devices"} <= set(bash_complete("cobrowse "))
    assert bash_complete("cobrowse sessions l") == ["list"]


def test_state_values_complete():
    assert bash_complete("cobrowse sessions list --state a") == ["authorizing", "active"]
    assert bash_complete("cobrowse sessions list --state ") == ["pending", "authorizing", "active", "ended"]
    assert bash_complete("cobrowse sessions end -s e") == ["ended"]
    assert bash_complete("cobrowse sessions list --state active,p") == ["active,pending"]


def test_state_values_complete_in_zsh_and_fish():
    zsh = run_cobrowse(env={"_COBROWSE_COMPLETE": "complete_zsh",
                            "_TYPER_COMPLETE_ARGS": "cobrowse sessions list --state a"})
    assert zsh.returncode == 0 and '"authorizing"' in zsh.stdout and '"active"' in zsh.stdout
    assert "pending" not in zsh.stdout
    fish = run_cobrowse(env={"_COBROWSE_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args",
                             "_TYPER_COMPLETE_ARGS": "cobrowse sessions list --state a"})
    assert fish.returncode == 0 and fish.stdout.split() == ["authorizing", "active"]


def test_profile_names_complete_from_the_config_file(config_file):
    assert bash_complete("cobrowse --profile ", config_file) == ["eu", "prod", "staging"]
    assert bash_complete("cobrowse -p s", config_file) == ["staging"]


def test_profile_completion_with_a_missing_or_broken_config_offers_nothing(tmp_path):
    assert bash_complete("cobrowse --profile ", tmp_path / "absent.toml") == []
    broken = tmp_path / "broken.toml"
    broken.write_text("[profiles.prod\napi = ")
    assert bash_complete("cobrowse --profile ", broken) == []


def test_profile_names_reads_only_profiles(tmp_path, config_file):
    assert profile_names({"COBROWSE_CONFIG": str(config_file)}) == ["eu", "prod", "staging"]
    odd = tmp_path / "odd.toml"
    odd.write_text('profiles = "not a table"\n')
    assert profile_names({"COBROWSE_CONFIG": str(odd)}) == []
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    assert profile_names({"COBROWSE_CONFIG": str(binary)}) == []


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not installed")
def test_bash_sources_the_committed_script_and_completes(config_file):
    """The real thing: bash loads completions/cobrowse.bash, and its function fills COMPREPLY."""
    script = REPO / "completions" / "cobrowse.bash"
    program = (
        f"source {script}\n"
        "complete -p cobrowse\n"
        "COMP_WORDS=(cobrowse sessions list --state a); COMP_CWORD=4\n"
        "_cobrowse_completion cobrowse; printf 'state:%s\\n' \"${COMPREPLY[@]}\"\n"
        "COMP_WORDS=(cobrowse --profile ''); COMP_CWORD=2\n"
        "_cobrowse_completion cobrowse; printf 'profile:%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("COBROWSE_", "_COBROWSE", "COMP_"))}
    environ["PATH"] = f"{Path(COBROWSE).parent}{os.pathsep}{environ.get('PATH', '')}"
    environ["COBROWSE_CONFIG"] = str(config_file)
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                            env=environ, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "complete -o default -F _cobrowse_completion cobrowse"
    assert [line for line in lines if line.startswith("state:")] == ["state:authorizing", "state:active"]
    assert [line for line in lines if line.startswith("profile:")] == ["profile:eu", "profile:prod", "profile:staging"]
