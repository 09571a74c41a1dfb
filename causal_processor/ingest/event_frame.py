"""A batch of kernel events as columns; an event's dict is made only when something reads it.

Most kernel events are never looked at one by one: they are stored, and the join needs only
their thread, time and type (plus a few fields of TCP events and wake-ups) to place spans on
threads. Making a kprobe.events dict for every event cost more than decoding the request
(BENCHMARKS.md, processor), so a frame keeps the columns and makes dicts in bulk, once, for the
rows the join assigns, the live stream shows or the forwarder sends.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa

from kprobe import events

TYPE_CODE: dict[str, int] = {name: i for i, name in enumerate(events.EVENT_TYPE_NAMES)}
"""event_type -> the small integer the frame's `types` column holds (-1: not an event type)."""

OWN_FIELDS: dict[str, tuple[str, ...]] = {t: tuple(f.name for f in events.fields_for(t))
                                          for t in events.EVENT_TYPE_NAMES}
"""event_type -> the fields its events carry (kprobe.events.fields_for), the dicts' keys."""
_EMPTY_CONTEXT = events.empty_context()


class EventFrame:
    """Kernel events of one request (or one reload): the join's columns as numpy arrays,
    the kernel_events rows as Arrow (`table`, None when built from dicts), dicts on demand."""

    __slots__ = ("_dicts", "pid", "table", "tid", "ts", "types")

    def __init__(self, table: pa.Table | None, pid: np.ndarray, tid: np.ndarray, ts: np.ndarray,
                 types: np.ndarray, dicts: list[dict[str, Any] | None] | None = None) -> None:
        self.table = table
        self.pid, self.tid, self.ts, self.types = pid, tid, ts, types
        self._dicts: list[dict[str, Any] | None] = dicts if dicts is not None else [None] * len(ts)

    @classmethod
    def from_table(cls, table: pa.Table, dicts: list[dict[str, Any]] | None = None) -> EventFrame:
        """Rows of kernel_events (storage.schema's columns); `dicts`, when the caller has them."""
        et = table.column("event_type").combine_chunks().dictionary_encode()
        names = np.array([TYPE_CODE.get(t, -1) for t in et.dictionary.to_pylist()], dtype=np.int16)
        codes = et.indices.to_numpy(zero_copy_only=False)
        return cls(table, _int64(table, "pid"), _int64(table, "tid"), _int64(table, "timestamp_ns"),
                   names[codes] if len(codes) else np.zeros(0, np.int16), list(dicts) if dicts else None)

    @classmethod
    def from_dicts(cls, evs: Sequence[dict[str, Any]]) -> EventFrame:
        """Events that are already dicts (reloaded from storage, tests); they are kept as given."""
        return cls(None, np.fromiter((e["pid"] for e in evs), np.int64, len(evs)),
                   np.fromiter((e["tid"] for e in evs), np.int64, len(evs)),
                   np.fromiter((e["timestamp_ns"] for e in evs), np.int64, len(evs)),
                   np.fromiter((TYPE_CODE.get(e["event_type"], -1) for e in evs), np.int16, len(evs)),
                   list(evs))

    def __len__(self) -> int:
        return len(self.ts)

    @classmethod
    def concat(cls, frames: Sequence[EventFrame]) -> EventFrame:
        """Frames as one, its table in one chunk: the store thread's batch, inserted and joined
        once (ClickHouse takes one 50k-row Arrow batch for less CPU per row than 25 of 2,000,
        and the join's buffering costs per thread and frame, not per event)."""
        frames = [f for f in frames if len(f)]
        if not frames:
            return cls.from_dicts([])
        assert all(f.table is not None for f in frames), "decoded frames carry their table"
        table = pa.concat_tables([f.table for f in frames]).combine_chunks()  # type: ignore[misc]
        return cls(table, *(np.concatenate([getattr(f, a) for f in frames]) for a in ("pid", "tid", "ts", "types")),
                   [d for f in frames for d in f._dicts])

    def slice(self, start: int, stop: int) -> EventFrame:
        """Rows [start, stop) without copying (the requests decoded together share one frame)."""
        table = self.table.slice(start, stop - start) if self.table is not None else None
        return EventFrame(table, self.pid[start:stop], self.tid[start:stop], self.ts[start:stop],
                          self.types[start:stop], self._dicts[start:stop])

    def events(self, rows: Sequence[int] | np.ndarray) -> list[dict[str, Any]]:
        """The dicts of these rows, in this order (made together, then kept)."""
        rows = [int(r) for r in rows]
        missing = sorted({r for r in rows if self._dicts[r] is None})
        if missing:
            assert self.table is not None, "a frame without a table holds every dict"
            for r, d in zip(missing, _event_dicts(self.table.take(pa.array(missing, pa.int64()))), strict=True):
                self._dicts[r] = d
        return [self._dicts[r] for r in rows]  # type: ignore[misc]

    def all(self) -> list[dict[str, Any]]:
        return self.events(range(len(self)))

    def fields(self, rows: np.ndarray, names: Sequence[str]) -> list[tuple[Any, ...]]:
        """(name0, name1, ...) of each row, without making the rows' dicts."""
        if not len(rows):
            return []
        if self.table is None:
            pick = itemgetter(*names)
            return [pick(self._dicts[r]) if len(names) > 1 else (pick(self._dicts[r]),)  # type: ignore[index]
                    for r in rows.tolist()]
        sub = self.table.select(list(names)).take(pa.array(rows, pa.int64()))
        return list(zip(*(sub.column(n).to_pylist() for n in names), strict=True))


class FrameEvents(Sequence[dict[str, Any]]):
    """The events of several frames as one sequence, made into dicts only when iterated."""

    def __init__(self, frames: Sequence[EventFrame]) -> None:
        self._frames = frames

    def __len__(self) -> int:
        return sum(len(f) for f in self._frames)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for f in self._frames:
            yield from f.all()

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        if i < 0:
            i += len(self)
        for f in self._frames:
            if i < len(f):
                return f.events([i])[0]
            i -= len(f)
        raise IndexError(i)


def _int64(table: pa.Table, name: str) -> np.ndarray:
    return table.column(name).to_numpy().astype(np.int64, copy=False)


def _event_dicts(table: pa.Table) -> list[dict[str, Any]]:
    """kprobe.events dicts of the rows: each holds its type's own fields, then an empty context."""
    n = table.num_rows
    types = table.column("event_type").to_pylist()
    by_type: dict[str, list[int]] = {}
    for i, t in enumerate(types):
        by_type.setdefault(t, []).append(i)
    wanted = {name for t in by_type for name in OWN_FIELDS[t]}
    values = {name: table.column(name).to_pylist() for name in wanted}
    out: list[dict[str, Any]] = [{}] * n
    for t, rows in by_type.items():
        names = (*OWN_FIELDS[t], "financial_context")
        contexts = [dict(_EMPTY_CONTEXT) for _ in rows]
        if len(rows) == n:
            return [dict(zip(names, v, strict=True))
                    for v in zip(*(values[k] for k in OWN_FIELDS[t]), contexts, strict=True)]
        pick = itemgetter(*rows) if len(rows) > 1 else lambda c, r=rows[0]: (c[r],)
        for i, v in zip(rows, zip(*(pick(values[k]) for k in OWN_FIELDS[t]), contexts, strict=True),
                        strict=True):
            out[i] = dict(zip(names, v, strict=True))
    return out
