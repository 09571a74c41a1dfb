"""Fan-out of live events to subscribers, each behind a bounded buffer.

The processor calls `LiveHub.publish` from whatever thread ingests; it only
matches filters and appends to per-subscriber buffers, never waits on a
client. A subscriber that cannot keep up loses events from its own buffer
only, and the loss is announced in-band as a `Dropped` record covering the
exact sequence numbers lost, so nothing disappears silently.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kprobe import events as event_model
from kprobe.v1 import events_pb2

from .event_json import event_json
from .filters import CompiledFilter

DEFAULT_BUFFER = 4096


class LiveItem:
    """One published event; its proto and JSON forms are built once, on demand,
    and shared by every subscriber."""

    __slots__ = ("_json", "_proto", "event")

    def __init__(self, event: Mapping[str, Any]) -> None:
        self.event = event
        self._proto: events_pb2.KernelEvent | None = None
        self._json: str | None = None

    @property
    def proto(self) -> events_pb2.KernelEvent:
        if self._proto is None:
            self._proto = event_model.to_proto(self.event)
        return self._proto

    @property
    def json(self) -> str:
        if self._json is None:
            self._json = event_json(self.event)
        return self._json


@dataclass
class Dropped:
    """Matching events lost to a full buffer: sequences [first_sequence, +count)."""

    first_sequence: int
    count: int


@dataclass
class Subscription:
    """One subscriber's filter, sequence counter and bounded buffer."""

    filter: CompiledFilter
    capacity: int
    id: int = 0
    sequence: int = 0
    delivered: int = 0
    dropped: int = 0
    closed: bool = False
    _items: deque = field(default_factory=deque)
    _queued: int = 0
    _waiting: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, item: LiveItem, joined: bool) -> bool:
        """Take the item if it matches; True when the consumer must be woken.

        A filter on services or transaction ids needs the joined context, so it
        takes events from the join; any other filter takes them as stored.
        """
        if joined != self.filter.needs_context or not self.filter.matches(item.event):
            return False
        with self._lock:
            if self.closed:
                return False
            self.sequence += 1
            if self._queued >= self.capacity:
                self.dropped += 1
                tail = self._items[-1] if self._items else None
                if isinstance(tail, Dropped):
                    tail.count += 1
                else:
                    self._items.append(Dropped(self.sequence, 1))
            else:
                self._items.append((self.sequence, item))
                self._queued += 1
            wake, self._waiting = self._waiting, False
        return wake

    async def next_batch(self, limit: int = 256) -> list[tuple[int, LiveItem] | Dropped]:
        """Up to `limit` buffered records, waiting for one; [] once closed."""
        while True:
            with self._lock:
                if self._items:
                    out = []
                    while self._items and len(out) < limit:
                        rec = self._items.popleft()
                        if not isinstance(rec, Dropped):
                            self._queued -= 1
                            self.delivered += 1
                        out.append(rec)
                    return out
                if self.closed:
                    return []
                self._waiting = True
                self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        """Discard what is buffered and end next_batch (call in the loop)."""
        with self._lock:
            self.closed = True
            self._items.clear()
            self._queued = 0
        self._wakeup.set()


class LiveHub:
    """Where the processor's live events meet the API's subscribers."""

    def __init__(self, buffer: int = DEFAULT_BUFFER) -> None:
        """Create in the event loop that serves the subscribers."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._buffer = buffer
        self._subs: tuple[Subscription, ...] = ()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.published = 0

    def subscribe(self, flt: CompiledFilter, buffer: int | None = None) -> Subscription:
        sub = Subscription(flt, buffer or self._buffer, id=next(self._ids))
        with self._lock:
            self._subs = (*self._subs, sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs = tuple(s for s in self._subs if s is not sub)
        sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def stats(self) -> list[dict[str, int]]:
        """Per subscription: matched (sequence), delivered to its socket, dropped."""
        return [{"id": s.id, "sequence": s.sequence, "delivered": s.delivered, "dropped": s.dropped}
                for s in self._subs]

    def publish(self, events: Iterable[Mapping[str, Any]], joined: bool = False) -> None:
        """Offer events (dicts of the event model) to every subscriber; never blocks.

        The processor publishes each event twice: when stored (`joined=False`)
        and when the join has filled its financial_context (`joined=True`);
        each subscriber receives it once, in the phase its filter needs.
        """
        subs = self._subs
        if not subs:
            return
        to_wake: set[int] = set()
        n = 0
        for ev in events:
            item = LiveItem(ev)
            n += 1
            for i, s in enumerate(subs):
                if s.offer(item, joined):
                    to_wake.add(i)
        self.published += n
        in_loop = threading.get_ident() == self._loop_thread
        for i in to_wake:
            if in_loop:
                subs[i]._wakeup.set()
            else:
                self._loop.call_soon_threadsafe(subs[i]._wakeup.set)
