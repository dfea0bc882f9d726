"""Credentials for `auth login --sandbox --state-dir DIR`: the sandbox's key and license in its state dir.

Read as plain files (names as in cobrowse_cli/sandbox/auth.py) rather than importing the sandbox, so the
config layer works without the [sandbox] extra and stays independent of the server's code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cobrowse_cli.exitcodes import UsageError

PRIVATE_KEY_FILE = "sandbox-private-key.pem"
LICENSE_FILE = "sandbox-license"
DEFAULT_SUB = "agent@sandbox.test"


@dataclass
class SandboxCredentials:
    private_key: str
    license: str
    sub: str = DEFAULT_SUB
    name: str = "Sandbox Agent"
    role: str = "administrator"  # the sandbox is for trying everything, agent=all included


def sandbox_credentials(state_dir: Path) -> SandboxCredentials:
    state_dir = state_dir.expanduser().resolve()
    key = state_dir / PRIVATE_KEY_FILE
    try:
        license = (state_dir / LICENSE_FILE).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        license = ""
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"cannot read {state_dir / LICENSE_FILE}: {getattr(e, 'strerror', None) or e}") from None
    if not key.is_file() or not license:
        raise UsageError(
            f"{state_dir} is not a sandbox state directory (no {PRIVATE_KEY_FILE} / {LICENSE_FILE}); "
            "start one with `cobrowse sandbox serve --state-dir DIR` first"
        )
    return SandboxCredentials(private_key=str(key), license=license)
