"""Receiver tests: real captures of real workloads; the programs compile once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from collector_receiver import loader


@pytest.fixture(scope="session", autouse=True)
def loaded_programs() -> Iterator[None]:
    """Compile and load the BPF programs once; every Capture of the session reuses them."""
    if os.geteuid() != 0:
        pytest.skip("receiver tests need root (eBPF)")
    loader.release(loader.acquire())
    yield
