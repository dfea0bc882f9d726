"""Entry point (`cobrowse` and `python -m cobrowse_cli`).

`--version` answers before Typer is imported: a cron job or a shell prompt that asks for the version
should not pay for building the whole command tree.
"""

import sys


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from cobrowse_cli import __version__

        print(f"cobrowse {__version__}")
        sys.exit(0)
    from cobrowse_cli.app import run

    import gc

    gc.freeze()  # what start-up built lives until exit: the collector need not walk it again and again
    sys.exit(run(args))


if __name__ == "__main__":
    main()
