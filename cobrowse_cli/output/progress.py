"""A rich progress indicator on stderr for long paging runs (imported only when shown)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def rich_progress(err: TextIO, description: str, total: int | None, *, color: bool) -> Iterator[Callable[[int], None]]:
    """Yields update(done): `done` is the running total so far (what the client's on_page passes)."""
    console = Console(file=err, force_terminal=True, color_system="auto" if color else None, highlight=False)
    columns = [SpinnerColumn(), TextColumn("{task.description}", markup=False)]
    if total is not None:
        columns += [BarColumn(), MofNCompleteColumn()]
    else:
        columns += [TextColumn("{task.completed}")]
    columns.append(TimeElapsedColumn())
    # transient: the bar disappears when done, leaving only the command's own output.
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=total)

        def update(done: int) -> None:
            progress.update(task, completed=done)

        yield update
