"""OTLP ExportTraceServiceRequest bytes -> flat Arrow arrays (spans, their attributes, resources).

Reading a span's attributes through Python protobuf costs a wrapper object per KeyValue and
AnyValue (~1 µs each here, ~15 µs per kernel span). ptars decodes the request in Rust into
Arrow, against a descriptor generated from opentelemetry-proto's own descriptors, pruned to the
fields the kernel fast path reads (fields it drops are skipped as unknown fields are, so nothing
is parsed for them). Nothing here knows the wire format: it is opentelemetry-proto's schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import ptars
import pyarrow as pa
import pyarrow.compute as pc
from google.protobuf import descriptor_pb2, descriptor_pool
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

_KEEP: dict[str, frozenset[str]] = {
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest": frozenset({"resource_spans"}),
    "opentelemetry.proto.trace.v1.ResourceSpans": frozenset({"resource", "scope_spans"}),
    "opentelemetry.proto.resource.v1.Resource": frozenset({"attributes"}),
    "opentelemetry.proto.trace.v1.ScopeSpans": frozenset({"scope", "spans"}),
    "opentelemetry.proto.common.v1.InstrumentationScope": frozenset({"name"}),
    "opentelemetry.proto.trace.v1.Span": frozenset({
        "trace_id", "span_id", "start_time_unix_nano", "end_time_unix_nano", "attributes"}),
    "opentelemetry.proto.common.v1.KeyValue": frozenset({"key", "value"}),
    # the scalar members of the oneof; an array/kvlist/bytes value reads as all-null
    "opentelemetry.proto.common.v1.AnyValue": frozenset({
        "string_value", "bool_value", "int_value", "double_value"}),
}
_REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"


def _pruned_request_descriptor() -> object:
    """ExportTraceServiceRequest's descriptor with only the _KEEP fields, in a pool of its own."""
    pool = descriptor_pool.DescriptorPool()

    def prune(messages: object, prefix: str) -> None:
        for m in messages:  # type: ignore[attr-defined]
            name = f"{prefix}.{m.name}"
            if name in _KEEP:
                keep = [f for f in m.field if f.name in _KEEP[name]]
                del m.field[:]
                m.field.extend(keep)  # AnyValue's oneof keeps index 0: presence stays visible
            prune(m.nested_type, name)

    for module in (common_pb2, resource_pb2, trace_pb2, trace_service_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        prune(fdp.message_type, fdp.package)
        pool.Add(fdp)
    return pool.FindMessageTypeByName(_REQUEST)


_DESCRIPTOR = _pruned_request_descriptor()
_HANDLER = ptars.HandlerPool([_DESCRIPTOR.file]).get_for_message(_DESCRIPTOR)  # type: ignore[attr-defined]


@dataclass
class SpanArrays:
    """The spans of one or more requests, flat: one entry per span, attributes flattened beside them."""

    n: int
    resource_attrs: list[list[dict]]  # per resource: [{"key", "value": {...}}] as Arrow gives them
    resource_request: np.ndarray  # per resource: the index of the request it came in
    scope_names: list[str | None]  # per ScopeSpans
    span_scope: np.ndarray  # per span: its ScopeSpans index
    scope_resource: np.ndarray  # per ScopeSpans: its resource index
    trace_id: pa.Array  # binary
    span_id: pa.Array  # binary
    start: np.ndarray  # uint64
    end: np.ndarray  # uint64
    attr_span: np.ndarray  # per attribute: its span index
    attr_key: pa.Array  # string
    string_value: pa.Array  # per attribute; null unless that member of the oneof is set
    bool_value: pa.Array
    int_value: pa.Array
    double_value: pa.Array


def _parents(lists: pa.ListArray) -> np.ndarray:
    """Each element's list index (the lists are never null: ptars' list_nullable is off)."""
    offsets = lists.offsets.to_numpy()
    return np.repeat(np.arange(len(lists), dtype=np.int64), np.diff(offsets))


def decode_spans(bodies: Sequence[bytes]) -> SpanArrays:
    """Decode requests together (ptars' cost per call is paid once); raises (ValueError/OSError
    from ptars) when any is not valid protobuf."""
    batch = _HANDLER.list_to_record_batch(list(bodies))
    rs_list = batch.column(0)
    rs = rs_list.flatten()
    resource_attrs = pc.struct_field(pc.struct_field(rs, "resource"), "attributes").to_pylist()
    ss_list = pc.struct_field(rs, "scope_spans")
    ss = ss_list.flatten()
    span_list = pc.struct_field(ss, "spans")
    spans = span_list.flatten()
    attr_list = pc.struct_field(spans, "attributes")
    attrs = attr_list.flatten()
    value = pc.struct_field(attrs, "value")
    return SpanArrays(
        n=len(spans),
        resource_attrs=[a or [] for a in resource_attrs],
        resource_request=_parents(rs_list),
        scope_names=pc.struct_field(pc.struct_field(ss, "scope"), "name").to_pylist(),
        span_scope=_parents(span_list),
        scope_resource=_parents(ss_list),
        trace_id=pc.struct_field(spans, "trace_id"),
        span_id=pc.struct_field(spans, "span_id"),
        start=pc.struct_field(spans, "start_time_unix_nano").to_numpy(zero_copy_only=False),
        end=pc.struct_field(spans, "end_time_unix_nano").to_numpy(zero_copy_only=False),
        attr_span=_parents(attr_list),
        attr_key=pc.struct_field(attrs, "key"),
        string_value=pc.struct_field(value, "string_value"),
        bool_value=pc.struct_field(value, "bool_value"),
        int_value=pc.struct_field(value, "int_value"),
        double_value=pc.struct_field(value, "double_value"),
    )


def fixed_width_ids(ids: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(ok, bytes): ok[i] when id i has exactly `width` bytes, not all zero; bytes is (n, width)."""
    ids = ids.cast(pa.binary())
    n = len(ids)
    lengths = pc.binary_length(ids).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=n + 1, offset=ids.offset * 4)
    data = ids.buffers()[2]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    ok = lengths == width
    if n and ok.all():  # every id well formed: they lie back to back
        out = raw[offsets[0]:offsets[0] + n * width].reshape(n, width)
    else:
        out = np.zeros((n, width), dtype=np.uint8)
        if ok.any():
            out[ok] = raw[offsets[:-1][ok, None] + np.arange(width)]
    ok &= out.any(axis=1)
    return ok, out
