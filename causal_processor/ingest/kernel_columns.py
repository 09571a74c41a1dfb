"""The ingest fast path: a request of kernel spans -> kernel_events columns, in bulk.

Same result as `kernel_rows.kernel_row` span by span (a test holds them equal), but every
kernel_events column is built with vectorised operations on the Arrow arrays of
`otlp_arrow.decode_spans`, and the rows go to ClickHouse as one Arrow table; the join reads
them as an EventFrame, which makes event dicts only for the rows it needs. It covers the
receiver's traffic: requests whose every scope is the receiver's, without upstream join
context and with scalar resource attributes. Anything else returns None and the caller decodes with upb (`decode.decode`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from causal_processor.ingest.attr_pivot import field_columns
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

_CONTEXT_KEYS = frozenset(f.otel_key for f in events.CONTEXT_FIELDS if f.otel_key)


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
    """decode_kernel_requests of one request."""
    out = decode_kernel_requests([body])
    return out[0] if out is not None else None


def decode_kernel_requests(bodies: Sequence[bytes]) -> list[KernelBatch] | None:
    """Each request's kernel spans, decoded in bulk together, or None when this path does not
    cover every request exactly (the caller then decodes them one by one: upb also names what is
    malformed)."""
    try:
        s = decode_spans(bodies)
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
    span_res = np.asarray(s.scope_resource, dtype=np.int64)[s.span_scope] if n else np.zeros(0, np.int64)
    pid = np.asarray(res_pids, dtype=np.uint64)[span_res] if n else np.zeros(0, np.uint64)
    cols, et_names, et_codes = field_columns(s, keys.indices.to_numpy(zero_copy_only=False), key_names)
    trace_ok, _ = fixed_width_ids(s.trace_id, 16)
    span_ok, span_ids = fixed_width_ids(s.span_id, 8)
    reasons = _reject_reasons(s, span_ids, trace_ok, span_ok, pid, et_names, et_codes)
    cols["event_id"] = span_ids.view(">u8").reshape(-1).astype(np.uint64) if n else np.zeros(0, np.uint64)
    cols["timestamp_ns"] = s.start
    cols["pid"] = pid
    cols["duration_ns"] = np.where(s.end > s.start, s.end - s.start, 0).astype(np.uint64)
    cols["service_name"] = pa.array([m.get("service.name", "") for m in res_maps], pa.string()).take(span_res)
    cols["host_name"] = pa.array([m.get("host.name", "") for m in res_maps], pa.string()).take(span_res)
    table = pa.table([cols[f.name] if isinstance(cols[f.name], pa.Array)  # out-of-range ints wrap
                      else pa.array(cols[f.name]).cast(f.type, safe=False) for f in EVENT_SCHEMA],
                     schema=EVENT_SCHEMA)
    keep = np.ones(n, dtype=bool)
    keep[list(reasons)] = False
    if reasons:
        table = table.filter(pa.array(keep))
    span_req = np.asarray(s.resource_request, dtype=np.int64)[span_res] if n else np.zeros(0, np.int64)
    return _split(EventFrame.from_table(table), span_req, keep, span_res, reasons, (res_pids, res_maps),
                  len(bodies))


def _split(frame: EventFrame, span_req: np.ndarray, keep: np.ndarray, span_res: np.ndarray,
           reasons: dict[int, str], res: tuple[list[int], list[dict[str, str]]],
           n_requests: int) -> list[KernelBatch]:
    """One KernelBatch per request: its rows are a contiguous slice of the frame (ptars keeps
    the requests in order), its rejections those of its spans."""
    res_pids, res_maps = res
    kept_req, kept_res = span_req[keep], span_res[keep]
    ends = np.cumsum(np.bincount(kept_req, minlength=n_requests)).tolist()
    errors: list[list[str]] = [[] for _ in range(n_requests)]
    for i, why in reasons.items():  # span order
        errors[int(span_req[i])].append(why)
    out = []
    for k, end in enumerate(ends):
        start = ends[k - 1] if k else 0
        batch = KernelBatch(frame.slice(start, end), rejected=len(errors[k]), errors=errors[k])
        for r in np.unique(kept_res[start:end]).tolist():
            batch.resources.setdefault(res_pids[r], res_maps[r])
        out.append(batch)
    return out


def rows_table(rows: list[list[Any]]) -> pa.Table:
    """kernel_events rows (kernel_rows' form, the upb path) as an Arrow table of EVENT_SCHEMA."""
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(EVENT_SCHEMA)
    return pa.table([pa.array(c, f.type) for c, f in zip(columns, EVENT_SCHEMA, strict=True)],
                    schema=EVENT_SCHEMA)
