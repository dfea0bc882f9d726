"""`count-active --warning RANGE --critical RANGE`: a check for Nagios, Icinga, Naemon, Sensu, Zabbix.

Follows the Monitoring Plugins development guidelines: one status line on stdout,
`COBROWSE ACTIVE OK - 1500 active sessions | active=1500;800;1000;0;`, and exit 0 OK, 1 WARNING,
2 CRITICAL, 3 UNKNOWN. In this mode the CLI's own codes would lie (1 reads as WARNING), so every
failure, option-parser errors included, becomes UNKNOWN: app.run hands the whole run to
`run_as_plugin` when `is_plugin_run(argv)` says so.
"""

from __future__ import annotations

import io
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from cobrowse_cli.exitcodes import UsageError
from cobrowse_cli.messages import PREFIX as MESSAGE_PREFIX

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATUS = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
PREFIX = "COBROWSE ACTIVE"
PLUGIN_OPTIONS = ("--warning", "--critical", "-w", "-c")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_RANGE = re.compile(rf"^(@)?(?:(~|{_NUMBER})?:)?({_NUMBER})?$")

# The status line this run printed, if any: anything else that ends the run is UNKNOWN.
_printed: list[int] = []


@dataclass(frozen=True)
class Range:
    """A guidelines threshold range: alert when the value is outside [start, end] (inside with `@`)."""

    text: str
    start: float
    end: float
    inside: bool

    def alerts(self, value: float) -> bool:
        within = self.start <= value <= self.end
        return within if self.inside else not within


def parse_range(text: str, option: str) -> Range:
    """`10` (0..10), `10:` (10..inf), `~:10` (-inf..10), `10:20`, `@10:20` (alert inside)."""
    match = _RANGE.match(text.strip()) if text else None
    if not match or (match.group(2) is None and match.group(3) is None) or text.strip() in ("@", ":"):
        raise UsageError(f"invalid {option} {text!r}: expected a range such as 10, 10:, ~:10, 10:20 or @10:20")
    at, start_text, end_text = match.groups()
    has_colon = ":" in text
    if not has_colon:
        start, end = 0.0, float(end_text)
    else:
        start = -math.inf if start_text == "~" else float(start_text or 0)
        end = math.inf if end_text is None else float(end_text)
    if start > end:
        raise UsageError(f"invalid {option} {text!r}: the start is greater than the end")
    return Range(text.strip(), start, end, bool(at))


def status_for(total: int, warning: Range | None, critical: Range | None) -> int:
    if critical is not None and critical.alerts(total):
        return CRITICAL
    if warning is not None and warning.alerts(total):
        return WARNING
    return OK


def perf_label(text: str) -> str:
    """A perfdata label per the guidelines: no `=` or `'`, single-quoted when it holds a space.
    Control characters and `|` (which would end the perfdata) go too: custom_data is not trusted."""
    clean = "".join(c if c.isprintable() and c not in "='|" else "_" for c in text)[:100] or "_"
    return f"'{clean}'" if " " in clean else clean


def status_line(code: int, text: str, perfdata: list[str]) -> str:
    text = "".join(c if c.isprintable() and c != "|" else " " for c in text)  # one line, no early perfdata
    line = f"{PREFIX} {STATUS[code]} - {text}"
    return f"{line} | {' '.join(perfdata)}" if perfdata else line


def perfdata(total: int, warning: Range | None, critical: Range | None, by: str | None, groups: Counter) -> list[str]:
    thresholds = f"{warning.text if warning else ''};{critical.text if critical else ''}"
    items = [f"active={total};{thresholds};0;"]
    if by:
        prefix = "agent" if by == "agent" else by.split(".", 1)[1]
        items += [f"{perf_label(f'{prefix}:{key}')}={n};;;0;" for key, n in groups.most_common()]
    return items


def run(opts, ctx) -> int:
    """count-active in plugin mode (opts: count.CountOptions with warning/critical set)."""
    from cobrowse_cli.commands import count

    warning = parse_range(opts.warning, "--warning") if opts.warning is not None else None
    critical = parse_range(opts.critical, "--critical") if opts.critical is not None else None
    for name, given in (("--max", opts.max is not None), ("--watch", opts.watch), ("--json", opts.json)):
        if given:
            raise UsageError(f"{name} does not combine with --warning/--critical (the status line is the output)")
    query = count._validate(opts)
    total, groups = count.count(ctx.client(), query, opts.by)
    code = status_for(total, warning, critical)
    noun = "session" if total == 1 else "sessions"
    ctx.stdout.write(status_line(code, f"{total} active {noun}", perfdata(total, warning, critical, opts.by, groups)) + "\n")
    ctx.stdout.flush()
    _printed.append(code)
    return code


def is_plugin_run(args: list[str]) -> bool:
    """`count-active` with --warning/--critical anywhere in argv (decided before any parsing can fail)."""
    if "count-active" not in args:
        return False
    after = args[args.index("count-active") + 1:]
    return any(a in PLUGIN_OPTIONS or a.startswith(("--warning=", "--critical=")) for a in after)


def run_as_plugin(args: list[str], run_cli: Callable[[list[str]], int]) -> int:
    """Run the CLI; unless it printed a status line, print UNKNOWN with the one-line reason it gave."""
    _printed.clear()
    real_stderr, captured = sys.stderr, io.StringIO()
    sys.stderr = captured
    try:
        code = run_cli(args)
    except BaseException as e:  # noqa: BLE001 - even SystemExit must not leave with a code that means something else
        code, captured_error = UNKNOWN, f"{type(e).__name__}: {e}"
    else:
        captured_error = None
    finally:
        sys.stderr = real_stderr
    text = captured.getvalue()
    if "--debug" in args and text:
        real_stderr.write(text)
    if _printed and code == _printed[-1]:
        return code
    if code == 0 and not _printed:  # --help / --version: their output is the answer
        return OK
    reason = captured_error or _last_line(text) or f"exited with code {code}"
    sys.stdout.write(status_line(UNKNOWN, reason, []) + "\n")
    sys.stdout.flush()
    return UNKNOWN


def _last_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix(MESSAGE_PREFIX).strip() if lines else ""
