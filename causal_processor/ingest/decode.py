"""One OTLP export request -> what the processor stores and joins, plus what it rejects.

Both receivers (gRPC and HTTP) parse bytes here, so both give the same answers:
a body that is not an ExportTraceServiceRequest is refused as a whole (the client
must not retry it); single bad spans (ids of the wrong length, kernel spans that
kprobe.otlp cannot map) are dropped and counted as OTLP partial success. Unknown
fields are ignored, as OTLP requires of receivers.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from causal_processor.app_span import AppSpan, from_proto
from causal_processor.ingest.event_frame import EventFrame
from causal_processor.ingest.kernel_columns import (
    KernelBatch,
    decode_kernel_request,
    decode_kernel_requests,
    rows_table,
)
from causal_processor.ingest.kernel_rows import kernel_row
from causal_processor.storage.records import attr_map, span_row
from kprobe import otlp


class BadRequest(ValueError):
    """The whole request is unusable; the message is the reason sent back."""


@dataclass
class Decoded:
    span_rows: list[list[Any]] = field(default_factory=list)  # otel_traces rows (app spans)
    app_spans: list[AppSpan] = field(default_factory=list)
    events: EventFrame = field(default_factory=lambda: EventFrame.from_dicts([]))  # kernel events
    # (event, financial_context) of kernel events joined before they reached us (a processor upstream)
    upstream: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    resources: dict[int, dict[str, str]] = field(default_factory=dict)  # pid -> kernel resource
    forward: trace_service_pb2.ExportTraceServiceRequest | None = None  # app spans as received
    rejected: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str:
        if not self.errors:
            return ""
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        return "; ".join(self.errors[:3]) + more


def parse_protobuf(body: bytes, message: type[Message] = trace_service_pb2.ExportTraceServiceRequest) -> Any:
    req = message()
    try:
        req.ParseFromString(body)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise BadRequest(f"malformed OTLP protobuf {message.__name__}: {e}") from e
    return req


_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP/JSON carries ids as hex; protobuf's JSON mapping expects base64."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k in _ID_KEYS and isinstance(v, str) and v:
                try:
                    node[k] = base64.b64encode(bytes.fromhex(v)).decode()
                except ValueError as e:
                    raise BadRequest(f"{k} {v!r} is not hex") from e
            else:
                _hex_ids_to_base64(v)
    elif isinstance(node, list):
        for x in node:
            _hex_ids_to_base64(x)


def parse_json(body: bytes, message: type[Message] = trace_service_pb2.ExportTraceServiceRequest) -> Any:
    try:
        doc = json.loads(body)
        _hex_ids_to_base64(doc)
        return json_format.ParseDict(doc, message(), ignore_unknown_fields=True)
    except BadRequest:
        raise
    except (ValueError, json_format.ParseError, TypeError, AttributeError) as e:
        raise BadRequest(f"malformed OTLP/JSON {message.__name__}: {e}") from e


def decode_body(body: bytes, *, keep_forward: bool = False) -> Decoded:
    """An OTLP/protobuf body: the receiver's kernel spans in bulk, anything else through upb."""
    kb = decode_kernel_request(body)
    if kb is None:
        return decode(parse_protobuf(body), keep_forward=keep_forward)
    return _from_kernel_batch(kb)


def decode_bodies(bodies: Sequence[bytes], *, keep_forward: bool = False) -> list[Decoded | BadRequest]:
    """decode_body of each body (or the BadRequest it raises). Bodies that are all the
    receiver's are decoded in one bulk call, which pays its fixed cost once; otherwise one by one."""
    batches = decode_kernel_requests(bodies) if len(bodies) > 1 else None
    if batches is not None:
        return [_from_kernel_batch(kb) for kb in batches]
    out: list[Decoded | BadRequest] = []
    for body in bodies:
        try:
            out.append(decode_body(body, keep_forward=keep_forward))
        except BadRequest as e:
            out.append(e)
    return out


def _from_kernel_batch(kb: KernelBatch) -> Decoded:
    return Decoded(events=kb.frame, resources=kb.resources, rejected=kb.rejected, errors=kb.errors)


def decode(req: trace_service_pb2.ExportTraceServiceRequest, *, keep_forward: bool = False) -> Decoded:
    out = Decoded()
    rows: list[list[Any]] = []
    evs: list[dict[str, Any]] = []
    fwd = trace_service_pb2.ExportTraceServiceRequest() if keep_forward else None
    for rs in req.resource_spans:
        res = attr_map(rs.resource.attributes)
        pid = otlp.resource_pid(rs.resource) or 0
        service, host = res.get("service.name", ""), res.get("host.name", "")
        fwd_rs = None
        for ss in rs.scope_spans:
            fwd_ss = None
            from_receiver = ss.scope.name == otlp.SCOPE_NAME  # skips a scan of every span's attributes
            for span in ss.spans:
                if len(span.trace_id) != 16 or not any(span.trace_id):
                    out.rejected += 1
                    out.errors.append(f"span {span.span_id.hex()}: trace_id must be 16 non-zero bytes")
                    continue
                if len(span.span_id) != 8 or not any(span.span_id):
                    out.rejected += 1
                    out.errors.append(f"span of trace {span.trace_id.hex()}: span_id must be 8 non-zero bytes")
                    continue
                if from_receiver or otlp.is_kernel_span(span):
                    if not pid:
                        out.rejected += 1
                        out.errors.append(f"kernel span {span.span_id.hex()}: resource has no process.pid")
                        continue
                    try:
                        row, ev = kernel_row(span, pid, service, host)
                    except (ValueError, KeyError, TypeError) as e:
                        out.rejected += 1
                        out.errors.append(f"kernel span {span.span_id.hex()}: {e}")
                        continue
                    rows.append(row)
                    evs.append(ev)
                    out.resources.setdefault(pid, res)
                    continue
                attrs = attr_map(span.attributes)
                out.span_rows.append(span_row(span, res, ss.scope.name, ss.scope.version, attrs))
                out.app_spans.append(from_proto(span, res, attrs))
                if fwd is not None:
                    if fwd_rs is None:
                        fwd_rs = fwd.resource_spans.add(resource=rs.resource, schema_url=rs.schema_url)
                    if fwd_ss is None:
                        fwd_ss = fwd_rs.scope_spans.add(scope=ss.scope, schema_url=ss.schema_url)
                    fwd_ss.spans.append(span)
    out.forward = fwd if fwd is not None and fwd.resource_spans else None
    if evs:
        out.events = EventFrame.from_table(rows_table(rows), evs)
        out.upstream = [(e, e["financial_context"]) for e in evs if e["financial_context"].get("transaction_id")]
    return out
