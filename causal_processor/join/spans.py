"""Application spans as the join sees them, and what they say about connections.

Standard OTel instrumentation records the peer of a request, never a kernel thread:
a SERVER span names its client (`client.address`/`client.port`; older `net.peer.ip`/
`net.peer.port`; `network.peer.*`), a CLIENT span its server (`server.address`/
`server.port`, `net.peer.name`/`net.peer.port`, or the URL). The join matches those
against the 4-tuples of TCP events to find the thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from opentelemetry.proto.trace.v1 import trace_pb2

from causal_processor.storage.records import SPAN_KIND_NAMES, STATUS_NAMES, SpanRecord

SERVER = trace_pb2.Span.SPAN_KIND_SERVER
CLIENT = trace_pb2.Span.SPAN_KIND_CLIENT
_KIND_BY_NAME = {v: k for k, v in SPAN_KIND_NAMES.items()}
_STATUS_BY_NAME = {v: k for k, v in STATUS_NAMES.items()}

_CLIENT_ADDR_KEYS = ("client.address", "net.peer.ip", "network.peer.address", "net.sock.peer.addr")
_CLIENT_PORT_KEYS = ("client.port", "net.peer.port", "network.peer.port", "net.sock.peer.port")
_SERVER_ADDR_KEYS = ("server.address", "net.peer.name", "network.peer.address", "net.peer.ip",
                     "net.sock.peer.addr")
_SERVER_PORT_KEYS = ("server.port", "net.peer.port", "network.peer.port", "net.sock.peer.port")
_URL_KEYS = ("url.full", "http.url")


@dataclass
class AppSpan:
    """One application span: the fields the join, storage and transactions need."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: int
    service: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    resource: Mapping[str, Any] = field(default_factory=dict)
    status_code: int = 0
    status_message: str = ""
    error_detail: str = ""  # exception.type: exception.message from the span's events

    @property
    def pid(self) -> int | None:
        v = self.resource.get("process.pid")
        try:
            return int(v) if v not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def peer(self) -> tuple[str | None, int | None]:
        """(address, port) of the other end of this span's connection, when it says."""
        if self.kind == SERVER:
            return _first(self.attributes, _CLIENT_ADDR_KEYS), _port(self.attributes, _CLIENT_PORT_KEYS)
        addr = _first(self.attributes, _SERVER_ADDR_KEYS)
        port = _port(self.attributes, _SERVER_PORT_KEYS)
        url = _first(self.attributes, _URL_KEYS)
        if url and (addr is None or port is None):
            u = urlsplit(url)
            addr = addr or u.hostname
            port = port or u.port or {"http": 80, "https": 443}.get(u.scheme)
        return addr, port


def _first(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = attrs.get(k)
        if v not in (None, ""):
            return normalize_address(str(v))
    return None


def _port(attrs: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    for k in keys:
        v = attrs.get(k)
        if v not in (None, ""):
            try:
                return int(v)
            except (TypeError, ValueError):
                continue
    return None


def normalize_address(addr: str) -> str:
    """One spelling per address: IPv4-mapped IPv6 as IPv4, `localhost` as 127.0.0.1."""
    addr = addr.strip("[]").lower()
    if addr.startswith("::ffff:") and "." in addr:
        return addr[7:]
    return "127.0.0.1" if addr == "localhost" else addr


def from_proto(span: trace_pb2.Span, resource: Mapping[str, Any], attrs: Mapping[str, Any]) -> AppSpan:
    detail = ""
    for e in span.events:
        if e.name == "exception":
            ea = {a.key: a.value.string_value for a in e.attributes}
            detail = f"{ea.get('exception.type', '')}: {ea.get('exception.message', '')}".strip(": ")
            break
    return AppSpan(
        trace_id=span.trace_id.hex(),
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex(),
        name=span.name,
        kind=span.kind,
        service=str(resource.get("service.name", "")),
        start_ns=span.start_time_unix_nano,
        end_ns=max(span.end_time_unix_nano, span.start_time_unix_nano),
        attributes=attrs,
        resource=resource,
        status_code=span.status.code,
        status_message=span.status.message,
        error_detail=detail,
    )


def from_record(r: SpanRecord) -> AppSpan:
    """The AppSpan of a stored otel_traces row (to rebuild the join after a restart)."""
    return AppSpan(
        trace_id=r.trace_id, span_id=r.span_id, parent_span_id=r.parent_span_id, name=r.name,
        kind=_KIND_BY_NAME.get(r.kind, 0), service=r.service, start_ns=r.start_ns,
        end_ns=r.start_ns + r.duration_ns, attributes=r.attributes,
        resource=r.resource_attributes, status_code=_STATUS_BY_NAME.get(r.status_code, 0),
        status_message=r.status_message,
    )
