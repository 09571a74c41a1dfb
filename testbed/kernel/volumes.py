"""Loop-device ext4 volumes with a write-bandwidth throttle: the testbed's disks.

The ledger and the batch export each get their own small volume, so the disk a
fault slows is ours alone and its speed is a known number: the throttle (blkio
write_bps on cgroup v1, io.max wbps on v2) is the device's bandwidth. The loop
device uses direct I/O on its backing file, so its own page cache does not blur
memory accounting. Everything needs root.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

V1_BLKIO = Path("/sys/fs/cgroup/blkio")


def _run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"{' '.join(cmd)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


class LoopVolume:
    """A sparse file, attached to a loop device, formatted ext4 and mounted."""

    def __init__(self, backing: Path, mountpoint: Path, size_mb: int) -> None:
        self.backing = backing
        self.mountpoint = mountpoint
        self.device = ""
        self._throttled_cgroups: list[Path] = []
        with open(backing, "wb") as f:
            f.truncate(size_mb << 20)
        try:
            self.device = _run("losetup", "--find", "--show", "--direct-io=on", str(backing))
            _run("mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", self.device)
            mountpoint.mkdir(parents=True, exist_ok=True)
            _run("mount", "-o", "data=ordered", self.device, str(mountpoint))
        except BaseException:
            self.remove()
            raise

    @property
    def dev_numbers(self) -> str:
        """"major:minor" of the loop device."""
        st = os.stat(self.device)
        return f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"

    def throttle_writes(self, bytes_per_s: int | None, cgroup_dir: Path | None = None) -> None:
        """Cap the device's write bandwidth (None lifts the cap).

        v1: a rule in the root blkio cgroup, where writeback is issued; it names
        only this loop device. v2: io.max in `cgroup_dir`, since v2 charges
        writeback to the cgroup that dirtied the pages.
        """
        if (V1_BLKIO / "blkio.throttle.write_bps_device").exists():
            rule = f"{self.dev_numbers} {bytes_per_s or 0}"
            (V1_BLKIO / "blkio.throttle.write_bps_device").write_text(rule)
            target = V1_BLKIO
        else:
            if cgroup_dir is None:
                raise OSError("cgroup v2 needs the cgroup to throttle (io.max)")
            value = "max" if not bytes_per_s else str(bytes_per_s)
            (cgroup_dir / "io.max").write_text(f"{self.dev_numbers} wbps={value}")
            target = cgroup_dir
        if bytes_per_s and target not in self._throttled_cgroups:
            self._throttled_cgroups.append(target)

    def remove(self) -> None:
        """Lift throttles, unmount, detach, delete the backing file. Idempotent."""
        if self.device:
            numbers = self.dev_numbers
            for target in self._throttled_cgroups:
                with contextlib.suppress(OSError):
                    self.throttle_writes(None, target)
            self._throttled_cgroups.clear()
            if os.path.ismount(self.mountpoint):
                _run("umount", str(self.mountpoint))
            _run("losetup", "--detach", self.device)
            self.device = ""
            drop_throttle_rule(numbers)
        if self.mountpoint.exists() and not os.path.ismount(self.mountpoint):
            self.mountpoint.rmdir()
        self.backing.unlink(missing_ok=True)


def loop_devices_backed_by(prefix: str) -> list[tuple[str, str]]:
    """(device, backing file) of attached loop devices whose backing path starts with prefix."""
    out = _run("losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE")
    found = []
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[1].strip().startswith(prefix):
            found.append((parts[0], parts[1].strip()))
    return found


def throttle_rules() -> dict[str, int]:
    """"major:minor" -> bytes/s of the root blkio write throttles (cgroup v1; {} on v2)."""
    path = V1_BLKIO / "blkio.throttle.write_bps_device"
    if not path.exists():
        return {}
    rules = {}
    for line in path.read_text().splitlines():
        dev, _, bps = line.partition(" ")
        rules[dev] = int(bps)
    return rules


def drop_throttle_rule(numbers: str) -> None:
    """Remove a root blkio rule if one is left for this device (a rule would
    otherwise slow down the next user of the loop device number)."""
    if numbers in throttle_rules():
        with contextlib.suppress(OSError):
            (V1_BLKIO / "blkio.throttle.write_bps_device").write_text(f"{numbers} 0")
