"""Shared fixtures: one chdb data directory per test session (chdb hosts one per process)."""

from __future__ import annotations

import itertools

import pytest

from causal_processor.storage.store import ClickHouseEventStore

_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("chdb"))


@pytest.fixture
def dsn(chdb_dir: str) -> str:
    """A fresh database in the session's chdb directory."""
    return f"chdb://{chdb_dir}?database=t{next(_db_numbers)}"


@pytest.fixture
def store(dsn: str):
    s = ClickHouseEventStore(dsn)
    yield s
    s.close()
