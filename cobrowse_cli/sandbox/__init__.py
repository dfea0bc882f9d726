"""The emulated Cobrowse agent API: REST app, JWT verification, data store, seeding, faults, control surface.

Shares no code with the client (cobrowse_cli.client): a bug shared by both would pass every test.
Nothing here is imported on the CLI's start-up path; `cobrowse sandbox ...` imports it lazily.
"""
