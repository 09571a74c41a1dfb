"""Processor fixtures; the session's chdb directory and `dsn` come from tests/conftest.py."""

from __future__ import annotations

import pytest

from causal_processor import config, server
from causal_processor.storage.store import ClickHouseEventStore


@pytest.fixture
def store(dsn: str):
    s = ClickHouseEventStore(dsn)
    yield s
    s.close()


@pytest.fixture
def running(dsn: str):
    """A processor on free loopback ports with a 256 KiB request limit."""
    cfg = config.local(dsn)
    cfg.otlp.max_request_bytes = 256 * 1024
    r = server.start(cfg)
    yield r
    r.stop()
