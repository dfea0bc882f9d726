"""Run the README's ```console examples against the embedded sandbox, so the docs cannot drift.

Each `$ cobrowse --sandbox …` line in a ```console block is run in a pseudo-terminal (110 columns,
NO_COLOR) like a person at a desk would; pipes to jq run through bash. The output shown under it must
match, after relative times ("3m ago") and timestamps are normalised.

    python tests/test_readme.py --update   # rewrite README.md's outputs from real runs
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `python tests/test_readme.py --update` too
from tests.support.pty import run_on_pty  # noqa: E402

WIDTH = 110
README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"```console\n(.*?)```", re.S)
VOLATILE = [
    (re.compile(r"\b(\d+(\.\d+)?[smhdw] ago|in \d+[smhdw]|just now)\b"), "<ago>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z"), "<time>"),
    (re.compile(r"\b\d+\.\d+s\b"), "<secs>"),
]


@dataclass
class Example:
    command: str
    expected: str


def examples(text: str) -> list[Example]:
    found = []
    for block in BLOCK.findall(text):
        current: list[str] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = []
                found.append(Example(line[2:], ""))
            elif current is not None:
                found[-1].expected += line + "\n"
    return found


def normalise(text: str) -> str:
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def run_in_pty(command: str, env: dict, width: int = WIDTH) -> tuple[str, str]:
    """Run `command` with stdout on a pseudo-terminal, as a person sees it; returns (stdout, stderr).

    stderr is a pipe, so no progress bar is drawn. The two arrive on different channels, so their
    relative order is not observable: `interleaves` checks the README against any order that keeps
    each stream's own order.
    """
    screen = run_on_pty(["bash", "-c", command], env, tty="stdout", width=width, timeout=120)
    return screen.out, screen.err


def interleaves(expected: list[str], out: list[str], err: list[str]) -> bool:
    """Is `expected` the lines of `out` and `err` merged, each keeping its own order?"""
    if len(expected) != len(out) + len(err):
        return False
    ok = {(0, 0)}  # how many lines of out and err can account for the expected lines so far
    for line in expected:
        ok = {(i + 1, j) for i, j in ok if i < len(out) and out[i] == line} | {
            (i, j + 1) for i, j in ok if j < len(err) and err[j] == line}
        if not ok:
            return False
    return True


def example_env() -> dict:
    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBROWSE_")}
    env.update(NO_COLOR="1", PATH=f"{bindir}:{env.get('PATH', '')}", COLUMNS=str(WIDTH), TERM="xterm",
               COBROWSE_CONFIG="/nonexistent/cobrowse-readme.toml")
    return env


def runnable(example: Example) -> bool:
    return example.command.startswith("cobrowse --sandbox") and ("| jq" not in example.command or bool(shutil.which("jq")))


def _arrival_order(command: str, env: dict) -> str:
    """For --update: stdout, then stderr (every example's stderr is a closing notice), then a trailing
    `echo "exit $?"` line, which bash prints after the command has finished."""
    out, err = run_in_pty(command, env)
    lines = out.splitlines(keepends=True)
    tail = [lines.pop()] if lines and lines[-1].startswith("exit ") else []
    return "".join(lines) + err + "".join(tail)


def update() -> None:
    text = README.read_text()
    env = example_env()

    def fill(match: re.Match) -> str:
        out = []
        for ex in examples(match.group(0)):
            out.append(f"$ {ex.command}\n")
            out.append(_arrival_order(ex.command, env) if runnable(ex) else ex.expected)
        body = "".join(out)
        return "```console\n" + body + ("" if body.endswith("\n") else "\n") + "```"

    README.write_text(BLOCK.sub(fill, text))


def _ids():
    return [ex.command[len("cobrowse --sandbox "):][:60] for ex in examples(README.read_text())]


try:
    import pytest
except ImportError:  # running as a script
    pytest = None

if pytest is not None:

    @pytest.mark.parametrize("example", examples(README.read_text()), ids=_ids())
    def test_readme_example_output_is_real(example: Example):
        if not runnable(example):
            pytest.skip("not runnable here (needs jq, or not a --sandbox example)")
        out, err = (normalise(text).splitlines() for text in run_in_pty(example.command, example_env()))
        expected = normalise(example.expected).splitlines()
        assert interleaves(expected, out, err), "\n".join(["expected:", *expected, "stdout:", *out, "stderr:", *err])

    def test_readme_has_examples_for_every_user_story():
        commands = " ".join(ex.command for ex in examples(README.read_text()))
        for needed in ("count-active", "sessions end", "sessions list", "| jq", "watch"):
            assert needed in commands, needed


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        update()
    else:
        for ex in examples(README.read_text()):
            print(("RUN  " if runnable(ex) else "SKIP ") + ex.command)
