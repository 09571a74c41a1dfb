"""Write-ahead log of accepted export requests: what lets the processor acknowledge before inserting.

An acknowledged request must survive a crash. Inserting before the ack made every insert as
small as what the waiting clients held (≈ 8,000 rows from four clients), and ClickHouse costs
twice as much CPU per row at that size as at 50,000 (BENCHMARKS.md, processor). So a request's
body is appended here and fsynced (one fsync for the requests that arrive together), the client
is acknowledged, and the store thread inserts big batches later.

Records are `[u32 length][u32 crc32][body]` in segment files named by their first byte's
position in the whole log. A batch is inserted between `begin(start, end)` and `commit(end)`,
both kept in the `state` file; the insert's deduplication tokens are made from (start, end). A
restart replays from the committed position, and its first batch is exactly the one in flight
at the crash, so when that insert had gone through, ClickHouse drops the repeat by its token.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

_HEADER = struct.Struct("<II")
_STATE = "state"


class WalError(RuntimeError):
    """The log cannot be opened (another processor holds it, or the disk refuses)."""


@dataclass(frozen=True)
class WalState:
    committed: int  # every record ending at or before this is in storage
    inflight_end: int  # the batch being inserted is [committed, inflight_end); == committed when none


class WriteAheadLog:
    def __init__(self, directory: str, *, segment_bytes: int = 64 * 1024 * 1024) -> None:
        # owner-only: the records are the requests as received, payment attributes included
        os.makedirs(directory, mode=0o700, exist_ok=True)
        os.chmod(directory, 0o700)
        self.directory = directory
        self._segment_bytes = segment_bytes
        self._lock_fd = os.open(os.path.join(directory, "lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(self._lock_fd)
            raise WalError(f"write-ahead log {directory} is in use by another processor") from e
        self.state = self._read_state()
        self.log_id = self._log_id()
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._end = self._recover()
        self._synced = self._end
        self._fd = self._open_segment(self._end) if not self._segment_starts() else self._open_last()

    # ---- appending (any thread) ---------------------------------------------

    @property
    def end(self) -> int:
        return self._end

    def write(self, body: bytes) -> tuple[int, int]:
        """Append a record (not yet durable: call sync); returns its (start, end) position.
        Callers that need records in log order hold their own lock around this."""
        with self._write_lock:
            start = self._end
            if start > self._segment_start and start - self._segment_start + len(body) > self._segment_bytes:
                os.fsync(self._fd)
                os.close(self._fd)
                self._fd = self._open_segment(start)
            record = _HEADER.size + len(body)
            if os.writev(self._fd, [_HEADER.pack(len(body), zlib.crc32(body)), body]) != record:
                raise OSError(f"short write to the write-ahead log {self.directory}")
            self._end = start + record
            return start, self._end

    def sync(self, upto: int) -> None:
        """Make every record ending at or before `upto` durable; concurrent callers share an fsync."""
        with self._sync_lock:
            if self._synced >= upto:
                return
            with self._write_lock:  # a duplicate: a rotation may close the original meanwhile
                fd, end = os.dup(self._fd), self._end
            try:
                os.fdatasync(fd)  # a rotation fsynced the earlier segments
            finally:
                os.close(fd)
            self._synced = end

    # ---- the store thread -----------------------------------------------------

    def begin(self, start: int, end: int) -> None:
        """The batch [start, end) is about to be inserted (start is the committed position)."""
        self._save_state(WalState(start, end))

    def commit(self, end: int) -> None:
        """Records up to `end` are in storage: forget them."""
        self._save_state(WalState(end, end))
        starts = self._segment_starts()
        for seg_start, next_start in pairwise(starts):
            if next_start <= end:
                os.unlink(self._segment_path(seg_start))

    def records(self, start: int) -> Iterator[tuple[int, int, bytes]]:
        """(start, end, body) of every record from position `start` (a committed position)."""
        for seg_start in self._segment_starts():
            with open(self._segment_path(seg_start), "rb") as f:
                data = f.read()
            pos = seg_start
            for body, length in _parse(data):
                if pos >= start:
                    yield pos, pos + length, body
                pos += length

    def close(self) -> None:
        os.close(self._fd)
        os.close(self._lock_fd)

    # ---- files ------------------------------------------------------------------

    def _segment_path(self, start: int) -> str:
        return os.path.join(self.directory, f"{start:020d}.wal")

    def _segment_starts(self) -> list[int]:
        return sorted(int(n[:-4]) for n in os.listdir(self.directory) if n.endswith(".wal"))

    def _open_segment(self, start: int) -> int:
        self._segment_start = start
        fd = os.open(self._segment_path(start), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the new file's name is durable before records in it are acknowledged
        finally:
            os.close(dir_fd)
        return fd

    def _open_last(self) -> int:
        self._segment_start = self._segment_starts()[-1]
        return os.open(self._segment_path(self._segment_start), os.O_WRONLY | os.O_APPEND)

    def _recover(self) -> int:
        """The log's end: a record torn by a crash (never acknowledged) is cut off."""
        starts = self._segment_starts()
        if not starts:
            return self.state.committed
        last = self._segment_path(starts[-1])
        with open(last, "rb") as f:
            data = f.read()
        good = sum(length for _, length in _parse(data))
        if good < len(data):
            os.truncate(last, good)
        return starts[-1] + good

    def _log_id(self) -> str:
        """This log's random name: positions restart at 0 in a new log, the tokens made from
        them must not match an old log's (ClickHouse would drop the new rows as repeats)."""
        path = os.path.join(self.directory, "id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            pass
        log_id = uuid.uuid4().hex
        _replace_durably(path, log_id + "\n")
        return log_id

    def _read_state(self) -> WalState:
        try:
            with open(os.path.join(self.directory, _STATE)) as f:
                committed, inflight = (int(x) for x in f.read().split())
        except FileNotFoundError:
            return WalState(0, 0)
        return WalState(committed, inflight)

    def _save_state(self, state: WalState) -> None:
        _replace_durably(os.path.join(self.directory, _STATE), f"{state.committed} {state.inflight_end}\n")
        self.state = state


def _replace_durably(path: str, text: str) -> None:
    """Write a small file whole (owner-only, fsynced) and rename it over `path`."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(path + ".tmp", path)


def _parse(data: bytes) -> Iterator[tuple[bytes, int]]:
    """(body, record length) of each whole, intact record, stopping at the first that is not."""
    pos = 0
    while pos + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, pos)
        body = data[pos + _HEADER.size:pos + _HEADER.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            return
        yield body, _HEADER.size + length
        pos += _HEADER.size + length
