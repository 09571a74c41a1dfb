"""Processor fixtures; the session's chdb directory and `dsn` come from tests/conftest.py."""

from __future__ import annotations

import pytest

from causal_processor.storage.store import ClickHouseEventStore


@pytest.fixture
def store(dsn: str):
    s = ClickHouseEventStore(dsn)
    yield s
    s.close()
