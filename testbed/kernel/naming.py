"""Names of per-run kernel objects: they carry the runner's pid for stale sweeps.

A pid alone can be reused after the runner dies, so each run also records its
runner's pid and start time in `<tmp>/kprobe-testbed-<tag>/owner`; an object is
stale when that process is gone or is another process under the same pid.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path

PREFIX = "kprobe-testbed"
_NAME = re.compile(rf"^{PREFIX}-(\d+)-([0-9a-f]+)$")
_NFT_NAME = re.compile(r"^kprobe_testbed_(\d+)_([0-9a-f]+)$")


def new_run_tag() -> str:
    """`<pid>-<random>`: unique among concurrent runs on this machine."""
    return f"{os.getpid()}-{secrets.token_hex(3)}"


def run_name(tag: str) -> str:
    return f"{PREFIX}-{tag}"


def nft_table_name(tag: str) -> str:
    """nft identifiers cannot contain '-'."""
    return "kprobe_testbed_" + tag.replace("-", "_")


def _parse(name: str) -> tuple[int, str] | None:
    m = _NAME.match(name) or _NFT_NAME.match(name)
    return (int(m.group(1)), f"{m.group(1)}-{m.group(2)}") if m else None


def owner_pid(name: str) -> int | None:
    """The runner pid a per-run name belongs to, or None for foreign names."""
    parsed = _parse(name)
    return parsed[0] if parsed else None


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (None if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError):
        return None


def write_owner(workdir: Path) -> None:
    """Record this runner's identity in its work directory."""
    (workdir / "owner").write_text(f"{os.getpid()} {start_time(os.getpid())}\n")


def owner_alive(name: str) -> bool:
    """False when the runner that created `name` is gone (foreign names count as alive)."""
    parsed = _parse(name)
    if parsed is None:
        return True
    pid, tag = parsed
    started = start_time(pid)
    if started is None:
        return False
    owner = Path(tempfile.gettempdir()) / run_name(tag) / "owner"
    try:
        recorded = int(owner.read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return True  # no record (yet): trust the pid
    return recorded == started
