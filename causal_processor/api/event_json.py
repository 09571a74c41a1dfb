"""Event dict -> the proto3 JSON mapping of KernelEvent, without building a message.

The live stream turns every event into JSON once for all subscribers; going
through json_format costs ~35 µs an event, this ~5 µs. The rules are the
canonical mapping's, applied with the field kinds read from events.proto
(default values omitted, 64-bit integers as strings, enums by name, proto
field names); tests/api/test_event_json.py checks it equals json_format's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from kprobe import events

_WIDE = frozenset({
    FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED64,
})
_PLAN = {
    t: tuple((f.name, f.proto_type in _WIDE, f.enum_names) for f in events.fields_for(t))
    for t in events.EVENT_TYPE_NAMES
}
_CONTEXT = tuple((f.name, f.proto_type in _WIDE) for f in events.CONTEXT_FIELDS)
_dumps = json.JSONEncoder(separators=(",", ":")).encode


def event_dict(ev: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, wide, enum_names in _PLAN[ev["event_type"]]:
        v = ev[name]
        if enum_names is not None:
            if not isinstance(v, str):
                v = enum_names[v]
            if v != enum_names[0]:
                out[name] = v
        elif v:
            out[name] = str(v) if wide else v
    ctx = ev.get("financial_context")
    if ctx:
        c = {name: (str(ctx[name]) if wide else ctx[name]) for name, wide in _CONTEXT if ctx.get(name)}
        if c:
            out["financial_context"] = c
    return out


def event_json(ev: Mapping[str, Any]) -> str:
    return _dumps(event_dict(ev))
