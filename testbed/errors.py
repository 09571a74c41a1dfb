"""The testbed's one error type: a one-line message the CLI prints as is."""

from __future__ import annotations

import os

from kprobe.cli import UserError


class TestbedError(UserError):
    """The testbed could not set up or run (missing root, a tool failed, a child died)."""

    __test__ = False  # not a pytest test class despite the name


def require_root() -> None:
    if os.geteuid() != 0:
        raise TestbedError(
            "the testbed needs root: it creates memory cgroups, loop devices (losetup, mount), "
            "blkio throttles and nftables rules (CAP_SYS_ADMIN + CAP_NET_ADMIN); run as root"
        )
