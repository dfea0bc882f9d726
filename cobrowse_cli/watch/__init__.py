"""The change feed behind `sessions watch` / `devices watch`: transports (socket, poll), diff/dedupe,
stop conditions. Import-light: the socket libraries load only when the socket transport runs."""

from __future__ import annotations

from cobrowse_cli.watch.runner import run

__all__ = ["run"]
