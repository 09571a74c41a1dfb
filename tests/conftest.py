"""Fixtures every component's tests share.

chdb hosts ONE data directory per process, so the whole pytest session uses one
directory and each test gets a database of its own inside it.
"""

from __future__ import annotations

import itertools

import pytest

import kprobe  # noqa: F401  (first: sets gRPC's fork policy before any test imports grpc)

_db_numbers = itertools.count()


@pytest.fixture(scope="session")
def chdb_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("chdb"))


@pytest.fixture
def dsn(chdb_dir: str) -> str:
    """A fresh database in the session's chdb directory."""
    return f"chdb://{chdb_dir}?database=t{next(_db_numbers)}"
