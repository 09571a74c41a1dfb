"""What capture needs from the machine, checked before bcc is touched.

Each failure is one line naming what is missing and how to fix it; the CLI
prints it as is (CaptureError is a kprobe.cli.UserError).
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

from kprobe.cli import UserError

CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF = 21, 38, 39
TRACEFS_ROOTS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))


class CaptureError(UserError):
    """Capture cannot start: the message says what is missing and how to fix it."""


def effective_capabilities(status: Path = Path("/proc/self/status")) -> int:
    for line in status.read_text().splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def check_privileges() -> None:
    caps = effective_capabilities()
    has = {c: bool(caps >> c & 1) for c in (CAP_SYS_ADMIN, CAP_PERFMON, CAP_BPF)}
    if has[CAP_SYS_ADMIN] or (has[CAP_BPF] and has[CAP_PERFMON]):
        return
    missing = [n for c, n in ((CAP_BPF, "CAP_BPF"), (CAP_PERFMON, "CAP_PERFMON")) if not has[c]]
    raise CaptureError(
        f"capture needs {' and '.join(missing)} (uid {os.geteuid()} lacks them): "
        "run as root, e.g. `sudo kprobe capture ...`"
    )


def tracefs_root(roots: tuple[Path, ...] = TRACEFS_ROOTS) -> Path:
    for root in roots:
        if (root / "events").is_dir():
            return root
    raise CaptureError(
        "tracefs is not mounted (no /sys/kernel/tracing/events): "
        "run `mount -t tracefs nodev /sys/kernel/tracing` or `make setup`"
    )


def check_headers() -> None:
    release = platform.release()
    build = Path("/lib/modules") / release / "build"
    if not build.exists():
        raise CaptureError(
            f"kernel headers missing ({build} does not exist): "
            f"install linux-headers-{release} (or linux-headers-amd64) and run `make setup`"
        )
    source = Path("/lib/modules") / release / "source"
    if not (build / "include/linux/kconfig.h").exists() and not (
        source / "include/linux/kconfig.h"
    ).exists():
        raise CaptureError(
            f"kernel headers incomplete (no include/linux/kconfig.h under {build} or {source}): "
            "run `make setup` to link the -common headers"
        )
