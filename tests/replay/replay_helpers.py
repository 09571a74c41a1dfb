"""Helpers for the replay tests: real ptrace, real programs, real network namespaces."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
ROOT = HERE.parent.parent
KPROBE = [sys.executable, "-m", "replay"]
PY = "/usr/bin/python3"  # a real interpreter binary (pyenv shims are shell scripts)


def _can_trace() -> str:
    if os.geteuid() != 0:
        return "replay tests need root (ptrace of the tree, network namespaces)"
    if not shutil.which("gcc"):
        return "gcc is needed to build the C corpus"
    return ""


needs_tracing = pytest.mark.skipif(bool(_can_trace()), reason=_can_trace() or "ok")


@pytest.fixture(scope="session")
def cbin(tmp_path_factory) -> dict[str, str]:
    """The C corpus, compiled once per session."""
    out = tmp_path_factory.mktemp("cbin")
    built = {}
    for src in CORPUS.glob("*.c"):
        exe = out / src.stem
        subprocess.run(["gcc", "-O1", "-o", str(exe), str(src)], check=True)
        built[src.stem] = str(exe)
    return built


def kprobe(*args: str, check: bool = False, cwd: str | None = None,
           netns: bool = False) -> subprocess.CompletedProcess:
    cmd = [*KPROBE, *args[1:]] if args[:1] == ("replay",) else [*KPROBE, *args]
    if netns:
        cmd = ["unshare", "-n", *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(cmd, capture_output=True, cwd=cwd or str(ROOT), env=env,
                          check=check, timeout=120)
