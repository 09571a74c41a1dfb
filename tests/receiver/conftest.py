"""Receiver tests: real captures of real workloads; the programs compile once per session."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from collector_receiver import loader


@pytest.fixture(scope="session")
def loaded_programs() -> Iterator[None]:
    """Compile and load the BPF programs once; every Capture of the session reuses them."""
    if os.geteuid() != 0:
        pytest.skip("receiver tests need root (eBPF)")
    loader.release(loader.acquire())
    yield


@pytest.fixture
def make_cgroup() -> Iterator[Callable[[Path], Path]]:
    """Make a fresh cgroup directory under a hierarchy root; removed (once empty) after the test."""
    made: list[Path] = []

    def make(root: Path) -> Path:
        cg = root / f"kprobe-test-{uuid.uuid4().hex[:8]}"
        cg.mkdir()
        made.append(cg)
        return cg

    yield make
    for cg in made:
        for _ in range(50):  # the test's processes may take a moment to leave it
            try:
                cg.rmdir()
                break
            except OSError:
                time.sleep(0.1)
