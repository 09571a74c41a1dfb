"""The plugin's npm steps, run once per session and shared by its tests.

Each step is its own test (tests/grafana_plugin/test_npm_checks.py) so a failing
build, typecheck, lint or Jest run shows in pytest's summary with its output.
"""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "grafana_plugin"
CHROMIUM = "/usr/bin/chromium"


def npm(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", *args], cwd=PLUGIN, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "CI": "1", **(env or {})},
    )


def require_ok(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-60:])
        pytest.fail(f"{what} failed (exit {proc.returncode}):\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
def plugin_installed() -> Path:
    """node_modules, installed only when missing or the lockfile changed."""
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "plugin.sh"), "install"], capture_output=True,
                          text=True, timeout=600)
    require_ok(proc, "scripts/plugin.sh install")
    return PLUGIN


@functools.cache
def _build(script: str) -> subprocess.CompletedProcess[str]:
    return npm("run", script, timeout=420)


@pytest.fixture(scope="session")
def console_built(plugin_installed: Path) -> Path:
    """The console bundle `kprobe serve` serves (grafana_plugin/console/dist)."""
    require_ok(_build("build:console"), "npm run build:console")
    return PLUGIN / "console" / "dist"


@pytest.fixture(scope="session")
def plugin_built(plugin_installed: Path) -> Path:
    require_ok(_build("build"), "npm run build")
    return PLUGIN / "dist"
