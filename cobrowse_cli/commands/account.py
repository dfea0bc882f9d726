"""`cobrowse account`: the account the token belongs to (license key masked, features) and the
token's effective policy (role, permissions), each shown when the server answers for it."""

from __future__ import annotations

from typing import Annotated

import typer

from cobrowse_cli import exitcodes
from cobrowse_cli.commands._options import epilog
from cobrowse_cli.commands._output import OutputFlags, make_writer
from cobrowse_cli.commands._context import Context, get_context


def account_row(accounts: list, policy: dict | None, policy_error: str | None) -> dict:
    from cobrowse_cli.config.keys import mask

    account = next((a for a in accounts if isinstance(a, dict)), {})  # a JWT is scoped to one account
    features = account.get("features")
    license = account.get("license_key")
    row = {
        "id": account.get("id"),
        "name": account.get("name"),
        "license_key": mask(license) if isinstance(license, str) and license else None,
        "features": [str(f) for f in features] if isinstance(features, list) else None,
    }
    if policy is not None:
        row["role"] = policy.get("role")
        row["policy"] = policy.get("id") or policy.get("name")
        row["permissions"] = policy.get("permissions")
    else:
        row["policy"] = f"unavailable ({policy_error})"
    return row


def run_account(opts: OutputFlags, ctx: Context) -> int:
    from cobrowse_cli.client import errors
    from cobrowse_cli.output import Column

    client = ctx.client()
    accounts = client.accounts()
    policy, problem = None, None
    try:
        policy = client.current_policy()
    except (errors.NotFoundError, errors.ForbiddenError, errors.InvalidResponseError) as e:
        problem = str(e)  # an older or self-hosted server may not have it: show the account anyway
    row = account_row(accounts, policy, problem)
    columns = [Column(k, kind="json" if k in ("features", "permissions") else "text") for k in row]
    make_writer(ctx, opts, columns).write_item(row)
    return exitcodes.OK


def register(root: typer.Typer) -> None:
    @root.command("account", epilog=epilog("cobrowse account", "cobrowse account --json | jq .permissions"))
    def account(
        ctx: typer.Context,
        json: Annotated[bool, typer.Option("--json", help="One JSON object.", rich_help_panel="Output")] = False,
    ) -> None:
        """Show the account (license key masked, features) and your token's role and permissions."""
        raise typer.Exit(run_account(OutputFlags(json=json), get_context(ctx)))
