"""The shared event model, read from proto/kprobe/v1/events.proto.

Every component works with events as plain dicts keyed by the proto's field
names (the JSONL form of `kprobe capture --output`): cheap to build, easy to
store, and checked against one schema. This module derives from the proto
descriptor what the others need: the type names, which fields belong to which
type, and each field's OTLP attribute key. It defines no field of its own.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from kprobe.v1 import events_pb2

_EVENT: Descriptor = events_pb2.KernelEvent.DESCRIPTOR
_CONTEXT: Descriptor = events_pb2.FinancialContext.DESCRIPTOR

EventType = enum.IntEnum(  # type: ignore[misc]
    "EventType",
    {v.name: v.number for v in events_pb2.EventType.DESCRIPTOR.values if v.number},
)
"""The ten event types (the seeds' six plus the four causality needs)."""

EVENT_TYPE_NAMES: tuple[str, ...] = tuple(t.name for t in EventType)


@dataclass(frozen=True)
class EventField:
    """One field of KernelEvent (or FinancialContext) as the other modules see it."""

    name: str
    otel_key: str | None  # OTLP attribute key; None when carried by the span itself
    kind: str  # "int", "uint", "float", "bool", "str" or "enum"
    enum_names: Mapping[int, str] | None  # number -> name for enum fields
    applies: frozenset[str]  # event type names; empty means every type
    proto_type: int  # FieldDescriptor.TYPE_*


def _kind(f: FieldDescriptor) -> str:
    t = f.type
    if t == FieldDescriptor.TYPE_ENUM:
        return "enum"
    if t == FieldDescriptor.TYPE_BOOL:
        return "bool"
    if t == FieldDescriptor.TYPE_STRING:
        return "str"
    if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return "float"
    if t in (
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
    ):
        return "uint"
    return "int"


def _fields(desc: Descriptor) -> tuple[EventField, ...]:
    out = []
    for f in desc.fields:
        if f.type == FieldDescriptor.TYPE_MESSAGE:
            continue
        opts = f.GetOptions()
        otel = opts.Extensions[events_pb2.otel] or None
        applies = frozenset(
            events_pb2.EventType.Name(t) for t in opts.Extensions[events_pb2.applies]
        )
        enum_desc: EnumDescriptor | None = f.enum_type
        names = {v.number: v.name for v in enum_desc.values} if enum_desc else None
        out.append(EventField(f.name, otel, _kind(f), names, applies, f.type))
    return tuple(out)


EVENT_FIELDS: tuple[EventField, ...] = _fields(_EVENT)
"""KernelEvent's scalar fields in proto order (financial_context is separate)."""

CONTEXT_FIELDS: tuple[EventField, ...] = _fields(_CONTEXT)
"""FinancialContext's fields, nested under "financial_context" in an event dict."""

FIELD_BY_NAME: dict[str, EventField] = {f.name: f for f in EVENT_FIELDS}

COMMON_FIELDS: tuple[str, ...] = tuple(f.name for f in EVENT_FIELDS if not f.applies)


def fields_for(event_type: str) -> tuple[EventField, ...]:
    """The fields an event of this type carries: the common ones plus its own."""
    return _FIELDS_FOR[event_type]


_FIELDS_FOR: dict[str, tuple[EventField, ...]] = {
    name: tuple(f for f in EVENT_FIELDS if not f.applies or name in f.applies)
    for name in EVENT_TYPE_NAMES
}


def event_id(pid: int, tid: int, timestamp_ns: int, event_type: int) -> int:
    """Stable 64-bit id of an event; also its OTLP span id (never zero).

    Derived from the event itself so a batch retried end to end lands on the
    same ids and storage can drop the duplicates.
    """
    digest = hashlib.blake2b(
        struct.pack("<IIQI", pid, tid, timestamp_ns, event_type), digest_size=8
    ).digest()
    return int.from_bytes(digest, "little") or 1


def empty_context() -> dict[str, Any]:
    """A FinancialContext with every field at its proto default (no join yet)."""
    return {f.name: _default(f) for f in CONTEXT_FIELDS}


def _default(f: EventField) -> Any:
    if f.kind == "str":
        return ""
    if f.kind == "bool":
        return False
    if f.kind == "float":
        return 0.0
    if f.kind == "enum":
        assert f.enum_names is not None
        return f.enum_names[0]
    return 0


def make_event(event_type: str, **values: Any) -> dict[str, Any]:
    """Build an event dict of this type: every field it carries, defaults filled.

    Unknown field names raise, so no component can invent a field.
    """
    if event_type not in _FIELDS_FOR:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPE_NAMES}")
    own = _FIELDS_FOR[event_type]
    names = {f.name for f in own}
    extra = set(values) - names - {"financial_context", "event_type"}
    if extra:
        raise ValueError(f"fields {sorted(extra)} do not belong to {event_type}")
    ev: dict[str, Any] = {f.name: values.get(f.name, _default(f)) for f in own}
    ev["event_type"] = event_type
    ctx = empty_context()
    ctx.update(values.get("financial_context") or {})
    ev["financial_context"] = ctx
    if not ev["event_id"]:
        ev["event_id"] = event_id(
            ev["pid"], ev["tid"], ev["timestamp_ns"], EventType[event_type].value
        )
    return ev


def validate_event(ev: Mapping[str, Any]) -> None:
    """Raise ValueError when an event dict does not match the schema."""
    et = ev.get("event_type")
    if et not in _FIELDS_FOR:
        raise ValueError(f"unknown event_type {et!r}")
    for f in _FIELDS_FOR[et]:
        if f.name not in ev:
            raise ValueError(f"{et} event lacks field {f.name!r}")
    allowed = {f.name for f in _FIELDS_FOR[et]} | {"financial_context"}
    extra = set(ev) - allowed
    if extra:
        raise ValueError(f"{et} event has fields outside the schema: {sorted(extra)}")


def to_proto(ev: Mapping[str, Any]) -> events_pb2.KernelEvent:
    """The protobuf form of an event dict (for the API and the recordings)."""
    msg = events_pb2.KernelEvent()
    for f in _FIELDS_FOR[ev["event_type"]]:
        v = ev[f.name]
        if f.kind == "enum" and isinstance(v, str):
            setattr(msg, f.name, _enum_number(f, v))
        else:
            setattr(msg, f.name, v)
    for f in CONTEXT_FIELDS:
        v = (ev.get("financial_context") or {}).get(f.name)
        if v:
            setattr(msg.financial_context, f.name, v)
    return msg


def from_proto(msg: events_pb2.KernelEvent) -> dict[str, Any]:
    """The dict form of a KernelEvent message."""
    et = events_pb2.EventType.Name(msg.event_type)
    values: dict[str, Any] = {}
    for f in _FIELDS_FOR[et]:
        if f.name != "event_type":
            v = getattr(msg, f.name)
            values[f.name] = f.enum_names[v] if f.enum_names is not None else v
    values["financial_context"] = {f.name: getattr(msg.financial_context, f.name) for f in CONTEXT_FIELDS}
    return make_event(et, **values)


def _enum_number(f: EventField, name: str) -> int:
    assert f.enum_names is not None
    for num, n in f.enum_names.items():
        if n == name:
            return num
    raise ValueError(f"{name!r} is not a value of {f.name}")


def by_type(events: Iterable[Mapping[str, Any]], event_type: str) -> list[Mapping[str, Any]]:
    """Events of one type, in input order."""
    return [e for e in events if e["event_type"] == event_type]
