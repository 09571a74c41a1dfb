"""batch-job: the reconciliation export that shares settlement's memory cgroup.

Idle until told (one JSON command per stdin line). `pressure` makes it do what a
careless export does: pin `anon_mb` of heap, then stream an export file from
`writers` threads on the batch volume. In a memory cgroup near its limit the
cgroup fills with dirty and under-writeback pages, so any charge in the cgroup
(settlement's ledger append) has to wait in reclaim for that writeback. It marks
itself the preferred OOM victim, as batch jobs are.
"""

from __future__ import annotations

import json
import mmap
import os
import sys
import threading

from testbed.services.process import setup_from_env

SERVICE = "batch-job"
_PAGE = 4096


class Export:
    """Anonymous memory plus writer threads streaming into files.

    The writers wait for `start()`: once they run, the cgroup is full within
    ~0.1 s, and anything this process still allocated (a thread's stack, the reply
    to the runner) would wait in reclaim with them, up to the first writeback
    completion, delaying the fault's start and the named payment with it.
    """

    def __init__(self, anon_mb: int, writers: int, directory: str, file_mb: int) -> None:
        self._stop = threading.Event()
        self._go = threading.Event()
        self._heap = mmap.mmap(-1, max(anon_mb, 1) << 20)
        for off in range(0, len(self._heap), _PAGE):
            self._heap[off] = 1
        self._threads = [
            threading.Thread(
                target=self._write, args=(os.path.join(directory, f"export-{i}.dat"), file_mb),
                daemon=True,
            )
            for i in range(writers)
        ]
        for t in self._threads:
            t.start()

    def _write(self, path: str, file_mb: int) -> None:
        chunk = b"r" * (256 * 1024)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self._go.wait()
            written = 0
            while not self._stop.is_set():
                os.write(fd, chunk)
                written += len(chunk)
                if written >= file_mb << 20:
                    os.lseek(fd, 0, os.SEEK_SET)
                    written = 0
        finally:
            os.close(fd)

    def start(self) -> None:
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()
        for t in self._threads:
            t.join()
        self._heap.close()


def main() -> None:
    setup_from_env(SERVICE)
    with open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    export: Export | None = None
    print("READY port=0", flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if export is not None:
            export.stop()
            export = None
        if cmd.get("cmd") == "pressure":
            export = Export(
                int(cmd["anon_mb"]), int(cmd["writers"]), cmd["dir"], int(cmd.get("file_mb", 256))
            )
        print(json.dumps({"ok": cmd.get("cmd")}), flush=True)
        if export is not None:
            export.start()
    if export is not None:
        export.stop()


if __name__ == "__main__":
    main()
