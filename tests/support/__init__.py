"""Test support, one of each: `cli` (run the CLI in-process or as a real process), `stub` (a tiny HTTP
server answering what a test says), `pty` (run a process on a pseudo-terminal), `sandbox` (start the
sandbox as a process or in a thread, and talk to it with stdlib urllib only).

tests/helpers.py and the fixtures in tests/conftest.py are thin aliases over these.
"""
