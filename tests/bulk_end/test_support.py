"""The accounting helper itself: a run's output read after a few readline() calls keeps every line, however
many had already arrived together (communicate() dropped those: a flaky "299 of 300 ids" under load)."""

from __future__ import annotations

import subprocess
import sys

from .support import rest_of

BURST = "import sys\nfor i in range(300): print(i)\nsys.stdout.flush()\nprint('done', file=sys.stderr)"


def test_rest_of_keeps_the_lines_readline_already_buffered():
    proc = subprocess.Popen([sys.executable, "-c", BURST], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = [proc.stdout.readline() for _ in range(30)]  # the first read took in all 300 lines at once
    out, err = rest_of(proc)
    assert ("".join(first) + out).split() == [str(i) for i in range(300)]
    assert err == "done\n" and proc.returncode == 0
