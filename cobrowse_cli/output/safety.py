"""The one terminal-safety function: data from the API (customer-controlled custom_data, server
messages) never reaches a terminal or a line-oriented output as raw control characters.

Escaped, visibly: C0/C1 controls and DEL (so ESC sequences, OSC 8 links, `\\x1b[2J`), Unicode format
characters (Cf: bidi overrides such as U+202E, zero-width U+200B), line/paragraph separators (Zl, Zp)
and lone surrogates (which cannot even be encoded). Everything else, including any script, passes.
Stdlib only and cheap: a printable string (the usual case) is returned as is after one C-level check.
"""

from __future__ import annotations

import unicodedata

_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHORT = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}
_SECRET_SUFFIX = "_token"
REDACTED = "…(redacted)"


def _escape_char(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def terminal_safe(text: str) -> str:
    """`text` with every character a terminal could act on, or that hides or reorders text, shown as an
    escape (`\\x1b`, `\\u202e`, `\\n`). Backslashes are kept: use tsv_escape where reversibility matters."""
    if text.isprintable():  # printable => no Cc/Cf/Cs/Zl/Zp (isprintable is stricter, never looser)
        return text
    return "".join(_escape_char(c) if unicodedata.category(c) in _UNSAFE else c for c in text)


def is_secret_key(path: str) -> bool:
    """`control_token`, `notification_token`, `device.push_token`, `token`: fields that hold credentials."""
    last = path.rsplit(".", 1)[-1].lower()
    return last == "token" or last.endswith(_SECRET_SUFFIX)


def looks_like_jwt(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and value.startswith("eyJ") and all(p and _B64URL.issuperset(p) for p in parts[:2])


_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def mask_secret(value: str) -> str:
    """`ILxDY…(redacted)`: enough to tell two tokens apart, never enough to use one."""
    return (value[:5] if len(value) > 12 else "") + REDACTED
