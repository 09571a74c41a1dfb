"""settlement-svc: writes one durable ledger entry per payment.

The write is what a ledger does: take the ledger lock shared, build the entry
as one page-aligned block (LEDGER_BLOCK_BYTES, default 256 KiB) in the worker's
reusable buffer, append it, fsync, release. Each entry needs fresh memory charged
to this service's memory cgroup only for its page cache, in write(2): that is
where memory pressure meets the ledger write (the buffer is the worker's own and
already resident, so no page fault under the GIL stalls the other workers).
The lock is flock(2) on a lock file: writers share it (O_APPEND keeps their
entries whole), the compactor takes it exclusive, so a writer blocked by the
compactor sleeps in the kernel until the compactor's unlock wakes it. Spans
`ledger.write` > `ledger.lock.wait` / `ledger.append` / `ledger.fsync` mark each
step. The admin hook starts the compactor (the lock-contention fault).
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import threading
import time
from typing import Any

from testbed.services.process import set_comm, setup_from_env

WORKERS = 32  # waitress worker threads, one block buffer each
SERVICE = "settlement-svc"
COMPACTOR_COMM = "ledger-compact"


class LedgerLock:
    """flock(2) on the ledger's lock file, one open file description per thread
    (flock locks belong to the description, so threads must not share one)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()

    def _fd(self) -> int:
        fd = getattr(self._local, "fd", None)
        if fd is None:
            fd = self._local.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        return int(fd)

    def acquire(self, exclusive: bool = False) -> None:
        fcntl.flock(self._fd(), fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)

    def try_exclusive(self, stop: threading.Event) -> bool:
        """Take the lock exclusively, polling so `stop` is honoured while writers
        (stuck in a slow fsync, say) still hold it shared."""
        while not stop.is_set():
            try:
                fcntl.flock(self._fd(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                stop.wait(0.002)
        return False

    def release(self) -> None:
        fcntl.flock(self._fd(), fcntl.LOCK_UN)


class LedgerCompactor:
    """A thread that holds the ledger lock exclusively for hold_ms every every_ms."""

    def __init__(self, lock: LedgerLock) -> None:
        self._lock = lock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.tid = 0

    def start(self, hold_ms: float, every_ms: float) -> int:
        """Start holding; return the holder's tid once its first hold has begun, so a
        payment sent right after is sure to meet it."""
        self.stop()
        self._stop.clear()
        holding = threading.Event()

        def run() -> None:
            set_comm(COMPACTOR_COMM)
            self.tid = threading.get_native_id()
            while not self._stop.is_set():
                started = time.monotonic()
                if not self._lock.try_exclusive(self._stop):
                    break
                holding.set()
                try:
                    self._stop.wait(hold_ms / 1000)
                finally:
                    self._lock.release()
                rest = every_ms / 1000 - (time.monotonic() - started)
                if rest > 0:
                    self._stop.wait(rest)
            holding.set()

        self._thread = threading.Thread(target=run, name=COMPACTOR_COMM, daemon=True)
        self._thread.start()
        holding.wait(10)
        return self.tid

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None


def main() -> None:
    setup_from_env(SERVICE)
    from opentelemetry import trace

    from testbed.services.http import serve
    from testbed.services.telemetry import init_tracing

    provider = init_tracing(SERVICE)
    tracer = trace.get_tracer(SERVICE)
    block = int(os.environ.get("LEDGER_BLOCK_BYTES", str(256 * 1024)))
    fd = os.open(os.environ["LEDGER_PATH"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    ledger_lock = LedgerLock(os.environ["LEDGER_PATH"] + ".lock")
    compactor = LedgerCompactor(ledger_lock)
    sequence = iter(range(1, 1 << 62))
    buffers: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    for _ in range(WORKERS):  # written now: resident before any pressure
        buffers.put(bytearray(b" " * (block - 1) + b"\n"))

    def settle(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        payment_id = str(body.get("payment_id", ""))
        trace.get_current_span().set_attributes(
            {"payment.id": payment_id, "transaction.id": payment_id}
        )
        attrs: dict[str, str | int] = {"payment.id": payment_id, "ledger.block_bytes": block}
        with tracer.start_as_current_span("ledger.write", attributes=attrs) as span:
            with tracer.start_as_current_span("ledger.lock.wait"):
                ledger_lock.acquire()
            try:
                entry_id = next(sequence)
                span.set_attribute("ledger.entry.id", entry_id)
                record = json.dumps(
                    {"entry": entry_id, "payment_id": payment_id, "amount": body.get("amount")}
                ).encode()
                buf = buffers.get()  # spaces and a final newline, between entries
                try:
                    buf[:len(record)] = record
                    with tracer.start_as_current_span("ledger.append"):
                        os.write(fd, buf)
                finally:  # only the record's bytes change: nothing block-sized is allocated
                    buf[:len(record)] = b" " * len(record)
                    buffers.put(buf)
                with tracer.start_as_current_span("ledger.fsync"):
                    os.fsync(fd)
            finally:
                ledger_lock.release()
        return 201, {"settled": True, "entry": entry_id}

    def hold_lock(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        hold_ms = float(body.get("hold_ms", 0))
        if hold_ms <= 0:
            compactor.stop()
            return 200, {"tid": 0}
        tid = compactor.start(hold_ms, float(body.get("every_ms", hold_ms * 1.5)))
        return 200, {"tid": tid, "comm": COMPACTOR_COMM}

    try:
        serve(provider, {"/settlements": settle}, admin={"/admin/ledger-lock": hold_lock},
              threads=WORKERS)
    finally:
        compactor.stop()
        os.close(fd)


if __name__ == "__main__":
    main()
