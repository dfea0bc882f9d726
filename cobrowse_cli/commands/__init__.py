"""CLI command groups: one module per group, each exposing register(root).

Each command parses its options into a small options object and hands it to a plain
run(opts, ctx) function, so it can be tested without a terminal.
"""
