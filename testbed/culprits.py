"""Culprit processes the faults start: CPU hogs and a heavy disk writer.

Standard library only, so they start in milliseconds, and each names itself
(`cpu-hog`, `disk-writer`) so the ground truth and the kernel agree on comm.
Run as `python -m testbed.culprits cpu-hog|disk-writer ...`.
"""

from __future__ import annotations

import argparse
import os

from testbed.services.process import die_with_parent, set_comm


def cpu_hog(nice: int) -> None:
    """Spin (on the CPU main() pinned it to) at the given niceness until killed.

    With autogroup scheduling on (Debian's default) niceness only orders tasks
    inside their session's group, so the hog's session group gets it too.
    """
    os.setpriority(os.PRIO_PROCESS, 0, nice)
    if os.path.exists("/proc/self/autogroup"):
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(nice))
    print("READY port=0", flush=True)
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0xFFFFFFFF


def disk_writer(directory: str, chunk_kb: int, file_mb: int, fsync_mb: int) -> None:
    """Stream buffered writes into one file, fsyncing now and then, until killed."""
    chunk = b"w" * (chunk_kb * 1024)
    fd = os.open(os.path.join(directory, f"disk-writer-{os.getpid()}.dat"),
                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    print("READY port=0", flush=True)
    written = since_sync = 0
    while True:
        os.write(fd, chunk)
        written += len(chunk)
        since_sync += len(chunk)
        if since_sync >= fsync_mb << 20:
            os.fsync(fd)
            since_sync = 0
        if written >= file_mb << 20:
            os.lseek(fd, 0, os.SEEK_SET)
            written = 0


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m testbed.culprits")
    sub = parser.add_subparsers(dest="kind", required=True)
    hog = sub.add_parser("cpu-hog")
    hog.add_argument("--cpu", type=int, required=True)
    hog.add_argument("--nice", type=int, default=0)
    writer = sub.add_parser("disk-writer")
    writer.add_argument("--dir", required=True)
    writer.add_argument("--chunk-kb", type=int, default=1024)
    writer.add_argument("--file-mb", type=int, default=256)
    writer.add_argument("--fsync-mb", type=int, default=16)
    args = parser.parse_args()
    if args.kind == "cpu-hog":  # pinned before it is named: every cpu-hog event is on its CPU
        os.sched_setaffinity(0, {args.cpu})
    set_comm(args.kind)
    die_with_parent()
    if args.kind == "cpu-hog":
        cpu_hog(args.nice)
    else:
        disk_writer(args.dir, args.chunk_kb, args.file_mb, args.fsync_mb)


if __name__ == "__main__":
    main()
