"""`cobrowse sandbox`: placeholder until the sandbox server lands (issue 3)."""

import typer


def register(root: typer.Typer) -> None:
    app = typer.Typer(help="Run a local Cobrowse API sandbox (no account needed).", no_args_is_help=True)
    root.add_typer(app, name="sandbox")

    @app.command()
    def serve() -> None:
        """Serve the sandbox (not implemented yet)."""
        raise typer.Exit(1)
