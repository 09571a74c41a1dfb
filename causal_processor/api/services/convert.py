"""Storage records -> API messages (events go through kprobe.events.to_proto)."""

from __future__ import annotations

import time

from causal_processor.app_span import AppSpan
from causal_processor.storage.records import Transaction
from kprobe.v1 import api_common_pb2

from ..errors import invalid_argument

_STATUS = {
    "ok": api_common_pb2.TRANSACTION_STATUS_OK,
    "unset": api_common_pb2.TRANSACTION_STATUS_OK,  # OTel: unset means not failed
    "error": api_common_pb2.TRANSACTION_STATUS_ERROR,
}
_SPAN_STATUS = {"Ok": "ok", "Unset": "unset", "Error": "error"}
_SPAN_KIND = {
    "Server": "SPAN_KIND_SERVER", "Client": "SPAN_KIND_CLIENT", "Internal": "SPAN_KIND_INTERNAL",
    "Producer": "SPAN_KIND_PRODUCER", "Consumer": "SPAN_KIND_CONSUMER",
}
TRANSACTION_ID_KEYS = ("kprobe.transaction.id", "transaction.id", "payment.id")


def store_statuses(status: int) -> tuple[str | None, ...]:
    """The stored status strings a TransactionStatus filter stands for (None: any)."""
    if status == api_common_pb2.TRANSACTION_STATUS_UNSPECIFIED:
        return (None,)
    if status == api_common_pb2.TRANSACTION_STATUS_OK:
        return ("ok", "unset")
    if status == api_common_pb2.TRANSACTION_STATUS_ERROR:
        return ("error",)
    raise invalid_argument(f"status {status} is not a TransactionStatus")


def transaction_summary(t: Transaction, kernel_event_count: int = 0, span_count: int = 0) -> api_common_pb2.TransactionSummary:
    return api_common_pb2.TransactionSummary(
        transaction_id=t.transaction_id,
        service=t.service,
        operation=t.operation,
        status=_STATUS.get(t.status, api_common_pb2.TRANSACTION_STATUS_UNSPECIFIED),
        status_message=t.error,
        start_ns=t.start_ns,
        duration_ns=t.duration_ns,
        trace_id=t.trace_id,
        kernel_event_count=kernel_event_count,
        span_count=span_count,
    )


def app_span(s: AppSpan) -> api_common_pb2.AppSpan:
    txn = next((s.attributes[k] for k in TRANSACTION_ID_KEYS if s.attributes.get(k)), "")
    return api_common_pb2.AppSpan(
        trace_id=s.trace_id,
        span_id=s.span_id,
        parent_span_id=s.parent_span_id,
        name=s.name,
        service=s.service,
        kind=_SPAN_KIND.get(s.kind, "SPAN_KIND_UNSPECIFIED"),
        start_ns=s.start_ns,
        duration_ns=s.duration_ns,
        status=_STATUS.get(_SPAN_STATUS.get(s.status_code, ""), api_common_pb2.TRANSACTION_STATUS_UNSPECIFIED),
        status_message=s.status_message,
        transaction_id=txn,
        attributes=s.attributes,
    )


def time_range(r: api_common_pb2.TimeRange) -> tuple[int, int]:
    """[start, end) with end 0 meaning now; INVALID_ARGUMENT when reversed."""
    end = r.end_ns or time.time_ns() + 1
    if r.start_ns >= end:
        raise invalid_argument(f"time_range: start_ns {r.start_ns} is not before end_ns {end}")
    return r.start_ns, end


def require_id(name: str, value: str) -> str:
    if not value.strip():
        raise invalid_argument(f"{name} is required")
    if len(value) > 256:
        raise invalid_argument(f"{name} is longer than 256 characters")
    return value
