"""Fill a request message from URL path and query parameters.

Parameter names are field paths (`time_range.start_ns`); repeated fields take
the parameter several times or a comma list; enums take their full name or
the suffix after the enum's prefix (`status=ERROR`, `direction=UPSTREAM`).
Unknown names and unparsable values are INVALID_ARGUMENT, never ignored.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from .errors import invalid_argument

_INT_TYPES = {
    FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64, FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED32, FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SINT64, FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}


def fill(msg: Message, params: Iterable[tuple[str, str]]) -> Message:
    for name, raw in params:
        target, field = _resolve(msg, name)
        values = [v for v in raw.split(",")] if field.is_repeated else [raw]
        for v in values:
            value = _convert(name, field, v)
            if field.is_repeated:
                getattr(target, field.name).append(value)
            else:
                setattr(target, field.name, value)
    return msg


def _resolve(msg: Message, path: str) -> tuple[Message, FieldDescriptor]:
    parts = path.split(".")
    target = msg
    for i, part in enumerate(parts):
        field = target.DESCRIPTOR.fields_by_name.get(part)
        if field is None:
            raise invalid_argument(f"unknown query parameter {path!r}")
        if i == len(parts) - 1:
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                raise invalid_argument(f"query parameter {path!r} names a message; use its fields")
            return target, field
        if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
            raise invalid_argument(f"unknown query parameter {path!r}")
        target = getattr(target, part)
    raise invalid_argument(f"unknown query parameter {path!r}")  # pragma: no cover


def _convert(name: str, field: FieldDescriptor, raw: str) -> object:
    t = field.type
    try:
        if t in _INT_TYPES:
            return int(raw)
        if t in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return float(raw)
    except ValueError:
        raise invalid_argument(f"query parameter {name!r}: {raw!r} is not a number") from None
    if t == FieldDescriptor.TYPE_BOOL:
        if raw.lower() in ("true", "1", "yes"):
            return True
        if raw.lower() in ("false", "0", "no"):
            return False
        raise invalid_argument(f"query parameter {name!r}: {raw!r} is not a boolean")
    if t == FieldDescriptor.TYPE_ENUM:
        return _enum_value(name, field.enum_type, raw)
    if t == FieldDescriptor.TYPE_BYTES:
        return raw.encode()
    return raw


def _enum_value(name: str, enum: EnumDescriptor, raw: str) -> int:
    by_name = enum.values_by_name
    if raw in by_name:
        return by_name[raw].number
    for v in enum.values:
        if v.number and v.name.endswith("_" + raw.upper()):
            return v.number
    choices = ", ".join(v.name for v in enum.values if v.number)
    raise invalid_argument(f"query parameter {name!r}: {raw!r} is not one of {choices}")
