"""Scrub secrets from text before it reaches a log: JWTs, bearer headers, token query params and fields.

Stdlib only, so any layer (output, watch, commands) can reuse it cheaply.
"""

from __future__ import annotations

import re

MARK = "[redacted]"

# One pass over alternatives, so a secret matched by one rule is never re-matched by another.
_SECRET = re.compile(
    r"""
      (?P<jwt>eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)   # a JWT: header always encodes '{"' as eyJ
    | (?P<bearer_k>(?i:\bbearer)[ .]+)(?P<bearer_v>[A-Za-z0-9+/=._~-]+) # Authorization header, socket subprotocol
    | (?P<query_k>[?&;]\w*(?i:token)=)(?P<query_v>[^&#\s"']+)          # ?token=... in agent URLs
    | (?P<json_k>"\w*(?i:token)"\s*:\s*")(?P<json_v>[^"]+)            # "notification_token": "..."
    """,
    re.VERBOSE,
)


def redact(text: str) -> str:
    """Return `text` with anything that looks like a credential replaced (JWTs keep a 7-char prefix)."""
    return _SECRET.sub(_replace, text)


def _replace(m: re.Match[str]) -> str:
    if m.group("jwt"):
        return _short(m.group("jwt"))
    for kind in ("bearer", "query", "json"):
        if m.group(f"{kind}_k") is not None:
            return m.group(f"{kind}_k") + _short(m.group(f"{kind}_v"))
    return m.group(0)


def _short(secret: str) -> str:
    # The first 7 chars of a JWT are its public header ("eyJhbGc" = '{"alg'): safe, and tell tokens apart.
    if secret.startswith("eyJ"):
        return secret[:7] + "…" + MARK
    return MARK
