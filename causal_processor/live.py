"""The live-event hook: every stored or joined event, pushed to subscribers.

The API's WebSocket subscribes here. Callbacks run on the processor's writer thread
right after a batch is stored, so they must be quick (put into a bounded queue and
return); a callback that raises is logged and stays subscribed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

STORED = "stored"  # the event is in kernel_events; financial_context may still be empty
JOINED = "joined"  # the join gave the event its financial_context

LiveCallback = Callable[[str, Sequence[dict[str, Any]]], None]


class LiveEvents:
    """A tiny pub-sub of event batches: `subscribe(cb)` returns the unsubscribe function."""

    def __init__(self) -> None:
        self._subs: dict[int, LiveCallback] = {}
        self._next = 0
        self._lock = threading.Lock()

    def subscribe(self, callback: LiveCallback) -> Callable[[], None]:
        with self._lock:
            key = self._next
            self._next += 1
            self._subs[key] = callback

        def unsubscribe() -> None:
            with self._lock:
                self._subs.pop(key, None)

        return unsubscribe

    def publish(self, kind: str, evs: Sequence[dict[str, Any]]) -> None:
        if not evs:
            return
        with self._lock:
            subs = list(self._subs.values())
        for cb in subs:
            try:
                cb(kind, evs)
            except Exception:
                log.exception("live-event subscriber failed")
