"""Names of per-run kernel objects: they carry the runner's pid for stale sweeps."""

from __future__ import annotations

import os
import re
import secrets

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


def owner_pid(name: str) -> int | None:
    """The runner pid a per-run name belongs to, or None for foreign names."""
    m = _NAME.match(name) or _NFT_NAME.match(name)
    return int(m.group(1)) if m else None


def owner_alive(name: str) -> bool:
    pid = owner_pid(name)
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
