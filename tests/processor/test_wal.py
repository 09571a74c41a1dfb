"""The write-ahead log on real files: records back in order, torn tails cut, segments forgotten."""

from __future__ import annotations

import os

import pytest

from causal_processor.storage.wal import WalError, WalState, WriteAheadLog


def test_records_survive_reopening_and_a_torn_tail_is_cut(tmp_path):
    wal = WriteAheadLog(str(tmp_path))
    positions = [wal.write(body) for body in (b"first", b"", b"x" * 1000)]
    wal.sync(positions[-1][1])
    assert positions == [(0, 13), (13, 21), (21, 1029)]
    wal.close()
    segment = tmp_path / f"{0:020d}.wal"
    with open(segment, "ab") as f:
        f.write(b"\x10\x00\x00\x00\x00\x00")  # a record cut short by a crash: never acknowledged
    wal = WriteAheadLog(str(tmp_path))
    assert wal.end == 1029 and os.path.getsize(segment) == 1029
    assert list(wal.records(0)) == [(0, 13, b"first"), (13, 21, b""), (21, 1029, b"x" * 1000)]
    assert list(wal.records(13)) == [(13, 21, b""), (21, 1029, b"x" * 1000)]
    assert wal.write(b"after") == (1029, 1042)
    wal.close()


def test_state_commits_and_forgets_whole_segments(tmp_path):
    wal = WriteAheadLog(str(tmp_path), segment_bytes=100)
    ends = [wal.write(bytes([i]) * 60)[1] for i in range(4)]  # one record per segment
    wal.sync(ends[-1])
    assert ends == [68, 136, 204, 272]
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["id", "lock", *(f"{s:020d}.wal" for s in (0, 68, 136, 204))])
    wal.begin(0, 136)
    assert wal.state == WalState(0, 136)
    wal.commit(136)
    assert wal.state == WalState(136, 136)
    assert sorted(n for n in os.listdir(tmp_path) if n.endswith(".wal")) == [f"{s:020d}.wal" for s in (136, 204)]
    log_id = wal.log_id
    wal.begin(136, 204)
    wal.close()
    wal = WriteAheadLog(str(tmp_path), segment_bytes=100)
    assert (wal.state, wal.log_id, wal.end) == (WalState(136, 204), log_id, 272)
    assert [(s, e, b[:1]) for s, e, b in wal.records(136)] == [(136, 204, b"\x02"), (204, 272, b"\x03")]
    with pytest.raises(WalError, match="in use"):
        WriteAheadLog(str(tmp_path))
    wal.close()


def test_the_log_is_readable_by_its_owner_only(tmp_path):
    directory = tmp_path / "wal"
    directory.mkdir(mode=0o755)
    wal = WriteAheadLog(str(directory))
    start, end = wal.write(b"payment attributes")
    wal.sync(end)
    wal.begin(start, end)
    wal.close()
    assert os.stat(directory).st_mode & 0o777 == 0o700
    assert {n: os.stat(directory / n).st_mode & 0o077 for n in os.listdir(directory)} == {
        n: 0 for n in ("id", "lock", "state", f"{0:020d}.wal")}
