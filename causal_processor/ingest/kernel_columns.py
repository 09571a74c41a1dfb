"""The ingest fast path: a request of kernel spans -> kernel_events columns, in bulk.

Same result as `kernel_rows.kernel_row` span by span (a test holds them equal), but every
kernel_events column is built with vectorised operations on the Arrow arrays of
`otlp_arrow.decode_spans`, and the rows go to ClickHouse as one Arrow table; the join reads
them as an EventFrame, which makes event dicts only for the rows it needs. It covers the
receiver's traffic: requests whose every scope is the receiver's, without upstream join
context and with scalar resource attributes. Anything else returns None and the caller decodes with upb (`decode.decode`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from causal_processor.ingest.event_frame import OWN_FIELDS as _OWN
from causal_processor.ingest.event_frame import EventFrame
from causal_processor.ingest.otlp_arrow import SpanArrays, decode_spans, fixed_width_ids
from causal_processor.storage import schema
from kprobe import events, otlp

_ARROW_TYPE = {"UInt32": pa.uint32(), "UInt64": pa.uint64(), "Int32": pa.int32(), "Int64": pa.int64(),
               "Float64": pa.float64(), "Float32": pa.float32(), "Bool": pa.bool_(),
               "String": pa.string(), "LowCardinality(String)": pa.string()}
EVENT_SCHEMA = pa.schema([(n, _ARROW_TYPE[t]) for n, t in schema.EVENT_COLUMNS])
"""kernel_events as an Arrow schema (the column types of schema.EVENT_COLUMNS)."""

_ZERO = {"int": 0, "uint": 0, "float": 0.0, "bool": False, "str": "", "enum": ""}
_BY_KEY = {f.otel_key: f for f in events.EVENT_FIELDS if f.otel_key}
_CONTEXT_KEYS = frozenset(f.otel_key for f in events.CONTEXT_FIELDS if f.otel_key)
_TYPES = tuple(events.EVENT_TYPE_NAMES)


@dataclass
class KernelBatch:
    """What the fast path made of one request."""

    frame: EventFrame  # the accepted spans' kernel_events rows (frame.table, EVENT_SCHEMA)
    resources: dict[int, dict[str, str]] = field(default_factory=dict)  # pid -> resource attributes
    rejected: int = 0
    errors: list[str] = field(default_factory=list)


def _value_string(v: dict[str, Any] | None) -> str | None:
    """records.value_string of a scalar AnyValue; None for kinds this path leaves to upb."""
    if v is None:
        return None
    if v["string_value"] is not None:
        return v["string_value"]
    if v["bool_value"] is not None:
        return "true" if v["bool_value"] else "false"
    if v["int_value"] is not None:
        return str(v["int_value"])
    if v["double_value"] is not None:
        return repr(v["double_value"])
    return None


def _resources(s: SpanArrays) -> tuple[list[int], list[dict[str, str]]] | None:
    pids, maps = [], []
    for attrs in s.resource_attrs:
        pid = next(((a["value"] or {}).get("int_value") or 0 for a in attrs if a["key"] == "process.pid"), 0)
        m: dict[str, str] = {}
        for a in attrs:
            v = _value_string(a["value"])
            if v is None:
                return None
            m[a["key"]] = v
        pids.append(pid)
        maps.append(m)
    return pids, maps


def _scatter(n: int, span_idx: np.ndarray, values: np.ndarray, dtype: Any, zero: Any) -> np.ndarray:
    out = np.full(n, zero, dtype=dtype)
    out[span_idx] = values  # a key given twice: the later one wins, as in kernel_row
    return out


def _column(f: events.EventField, s: SpanArrays, n: int, span_idx: np.ndarray,
            attr_idx: np.ndarray) -> pa.Array | np.ndarray:
    """One field's column over all spans: its attribute's value where present, else the zero."""
    if f.kind in ("str", "enum"):
        pos = np.full(n, -1, dtype=np.int64)
        pos[span_idx] = attr_idx
        taken = s.string_value.take(pa.array(pos, mask=pos < 0))
        return pc.fill_null(taken, "").cast(pa.string())
    if f.kind == "bool":
        vals = pc.fill_null(s.bool_value.take(attr_idx), False).to_numpy(zero_copy_only=False)
        return _scatter(n, span_idx, vals, np.bool_, False)
    ints = pc.fill_null(s.int_value.take(attr_idx), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    if f.kind == "float":
        dbl = s.double_value.take(attr_idx)
        vals = np.where(pc.is_valid(dbl).to_numpy(zero_copy_only=False),
                        pc.fill_null(dbl, 0.0).to_numpy(zero_copy_only=False), ints.astype(np.float64))
        return _scatter(n, span_idx, vals, np.float64, 0.0)
    if f.kind == "uint":
        return _scatter(n, span_idx, ints.view(np.uint64), np.uint64, 0)
    return _scatter(n, span_idx, ints, np.int64, 0)


def _reject_reasons(s: SpanArrays, span_ids: np.ndarray, trace_ok: np.ndarray, span_ok: np.ndarray,
                    pid: np.ndarray, et_names: list[str], et_codes: np.ndarray) -> dict[int, str]:
    """span index -> the message decode.decode gives for it (the checks in its order)."""
    out = {}
    bad = np.flatnonzero(~(trace_ok & span_ok & (pid != 0)))
    for i in bad.tolist():
        sid = s.span_id[i].as_py().hex()
        if not trace_ok[i]:
            out[i] = f"span {sid}: trace_id must be 16 non-zero bytes"
        elif not span_ok[i]:
            out[i] = f"span of trace {s.trace_id[i].as_py().hex()}: span_id must be 8 non-zero bytes"
        else:
            out[i] = f"kernel span {sid}: resource has no process.pid"
    invalid = np.array([t not in _OWN for t in et_names], dtype=bool)
    for i in np.flatnonzero(invalid[et_codes] if len(et_names) else np.zeros(0, bool)).tolist():
        if i not in out:
            sid = bytes(span_ids[i]).hex()
            out[i] = (f"kernel span {sid}: span {sid} has no valid {otlp.EVENT_TYPE_KEY} "
                      f"({et_names[et_codes[i]]!r})")
    return dict(sorted(out.items()))


def decode_kernel_request(body: bytes) -> KernelBatch | None:
    """The request's kernel spans in bulk, or None when this path does not cover the request
    exactly (the caller then decodes it with upb, which also names what is malformed)."""
    try:
        s = decode_spans(body)
    except (ValueError, OSError, pa.ArrowException):
        return None
    if any(name != otlp.SCOPE_NAME for name in s.scope_names):
        return None
    res = _resources(s)
    if res is None:
        return None
    res_pids, res_maps = res
    keys = s.attr_key.dictionary_encode()
    key_names = keys.dictionary.to_pylist()
    if any(k in _CONTEXT_KEYS for k in key_names):
        return None  # joined upstream: rare, and the generic decoder reads any value kind
    n = s.n
    codes = keys.indices.to_numpy(zero_copy_only=False)
    span_res = np.asarray(s.scope_resource, dtype=np.int64)[s.span_scope] if n else np.zeros(0, np.int64)
    pid = np.asarray(res_pids, dtype=np.uint64)[span_res] if n else np.zeros(0, np.uint64)
    cols: dict[str, Any] = {}
    for code, key in enumerate(key_names):
        f = _BY_KEY.get(key)
        if f is None:
            continue
        attr_idx = np.flatnonzero(codes == code)
        cols[f.name] = _column(f, s, n, s.attr_span[attr_idx], attr_idx)
    for f in events.EVENT_FIELDS:
        if f.name not in cols:
            cols[f.name] = (pa.array([""] * n, pa.string()) if f.kind in ("str", "enum")
                            else np.full(n, _ZERO[f.kind], dtype=EVENT_SCHEMA.field(f.name).type.to_pandas_dtype()))
    et = cols["event_type"].dictionary_encode()
    et_names = et.dictionary.to_pylist()
    et_codes = et.indices.to_numpy(zero_copy_only=False)
    trace_ok, _ = fixed_width_ids(s.trace_id, 16)
    span_ok, span_ids = fixed_width_ids(s.span_id, 8)
    reasons = _reject_reasons(s, span_ids, trace_ok, span_ok, pid, et_names, et_codes)
    for f in events.EVENT_FIELDS:
        if f.applies:  # a field of other event types keeps its zero, as make_event leaves it
            foreign = np.array([t not in f.applies for t in et_names], dtype=bool)[et_codes]
            cols[f.name] = _zero_where(cols[f.name], foreign, _ZERO[f.kind])
        if f.enum_names is not None and f.name != "event_type":
            own = np.array([t in _OWN and f.name in _OWN[t] for t in et_names], dtype=bool)[et_codes]
            empty = (pc.equal(cols[f.name], "").to_numpy(zero_copy_only=False)) & own
            cols[f.name] = _set_where(cols[f.name], empty, f.enum_names[0])
    cols["event_id"] = span_ids.view(">u8").reshape(-1).astype(np.uint64) if n else np.zeros(0, np.uint64)
    cols["timestamp_ns"] = s.start
    cols["pid"] = pid
    cols["duration_ns"] = np.where(s.end > s.start, s.end - s.start, 0).astype(np.uint64)
    res_service = [m.get("service.name", "") for m in res_maps]
    res_host = [m.get("host.name", "") for m in res_maps]
    cols["service_name"] = pa.array([res_service[i] for i in span_res.tolist()], pa.string())
    cols["host_name"] = pa.array([res_host[i] for i in span_res.tolist()], pa.string())
    table = pa.table([cols[f.name] if isinstance(cols[f.name], pa.Array)  # out-of-range ints wrap
                      else pa.array(cols[f.name]).cast(f.type, safe=False) for f in EVENT_SCHEMA],
                     schema=EVENT_SCHEMA)
    kept_res = span_res
    if reasons:
        keep = np.ones(n, dtype=bool)
        keep[list(reasons)] = False
        table = table.filter(pa.array(keep))
        kept_res = span_res[keep]
    out = KernelBatch(EventFrame.from_table(table), rejected=len(reasons),
                      errors=[reasons[i] for i in sorted(reasons)])
    for r in np.unique(kept_res).tolist():
        out.resources.setdefault(res_pids[r], res_maps[r])
    return out


def _zero_where(col: pa.Array | np.ndarray, mask: np.ndarray, zero: Any) -> pa.Array | np.ndarray:
    if not mask.any():
        return col
    if isinstance(col, np.ndarray):
        col = col.copy()
        col[mask] = zero
        return col
    return _set_where(col, mask, zero)


def _set_where(col: pa.Array, mask: np.ndarray, value: str) -> pa.Array:
    if not mask.any():
        return col
    return pc.if_else(pa.array(mask), pa.scalar(value, pa.string()), col)


def rows_table(rows: list[list[Any]]) -> pa.Table:
    """kernel_events rows (kernel_rows' form, the upb path) as an Arrow table of EVENT_SCHEMA."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(EVENT_SCHEMA)
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
                    schema=EVENT_SCHEMA)
