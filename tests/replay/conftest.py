"""Fixtures for the replay tests (helpers live in replay_helpers.py)."""

from replay_helpers import cbin  # noqa: F401  (session fixture: the compiled C corpus)
