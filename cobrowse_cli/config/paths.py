"""Where the config file and the minted-token cache live (both overridable for tests and CI)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "cobrowse-cli"


def config_path(env: "os._Environ[str] | dict[str, str] | None" = None) -> Path:
    """COBROWSE_CONFIG, else the platform's user config dir (e.g. ~/.config/cobrowse-cli/config.toml)."""
    env = os.environ if env is None else env
    override = env.get("COBROWSE_CONFIG")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def token_cache_dir() -> Path:
    """Minted tokens are cached per profile here, so a cron job running every minute mints once a TTL."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME)) / "tokens"


def state_dir(env: "os._Environ[str] | dict[str, str] | None" = None) -> Path:
    """COBROWSE_STATE_DIR, else the platform's user state dir (~/.local/state/cobrowse-cli): it exists for
    any user, cron included, where a runtime dir ($XDG_RUNTIME_DIR) often does not."""
    env = os.environ if env is None else env
    override = env.get("COBROWSE_STATE_DIR")
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_state_dir(APP_NAME))
