"""How the CLI signs what it says on stderr: `cobrowse: TEXT`.

A leaf with no imports, so every layer that talks to the user (commands, app, config's token warning,
watch's socket log lines) spells the prefix one way.
"""

PREFIX = "cobrowse: "


def signed(text: str) -> str:
    """`cobrowse: TEXT`."""
    return PREFIX + text
