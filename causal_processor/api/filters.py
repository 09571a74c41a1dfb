"""EventFilter: validated once, then matched against event dicts.

The same compiled filter serves stored-event queries, the gRPC live stream
and the WebSocket, so "filters honoured exactly" means one piece of code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kprobe.v1 import api_common_pb2, events_pb2

from .errors import invalid_argument


@dataclass(frozen=True)
class CompiledFilter:
    """AND across the non-empty sets, OR within one; empty matches everything."""

    event_types: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    pids: frozenset[int] = frozenset()
    transaction_ids: frozenset[str] = frozenset()
    comms: frozenset[str] = frozenset()

    def matches(self, ev: Mapping[str, Any]) -> bool:
        if self.event_types and ev["event_type"] not in self.event_types:
            return False
        if self.pids and ev["pid"] not in self.pids:
            return False
        if self.comms and ev.get("comm", "") not in self.comms:
            return False
        if self.services or self.transaction_ids:
            ctx = ev.get("financial_context") or {}
            if self.services and ctx.get("service", "") not in self.services:
                return False
            if self.transaction_ids and ctx.get("transaction_id", "") not in self.transaction_ids:
                return False
        return True

    @property
    def needs_context(self) -> bool:
        """Whether matching needs the join's financial_context."""
        return bool(self.services or self.transaction_ids)

    @property
    def is_empty(self) -> bool:
        return not (self.event_types or self.services or self.pids or self.transaction_ids or self.comms)


def compile_filter(msg: api_common_pb2.EventFilter) -> CompiledFilter:
    """Validate an EventFilter message; INVALID_ARGUMENT names the bad entry."""
    types = set()
    for t in msg.event_types:
        if t == events_pb2.EVENT_TYPE_UNSPECIFIED or t not in events_pb2.EventType.values():
            raise invalid_argument(f"filter.event_types: {t} is not an event type")
        types.add(events_pb2.EventType.Name(t))
    for name, values in (("services", msg.services), ("transaction_ids", msg.transaction_ids), ("comms", msg.comms)):
        if any(not v for v in values):
            raise invalid_argument(f"filter.{name}: empty string")
    return CompiledFilter(
        event_types=frozenset(types),
        services=frozenset(msg.services),
        pids=frozenset(msg.pids),
        transaction_ids=frozenset(msg.transaction_ids),
        comms=frozenset(msg.comms),
    )
