"""Kernel primitives in the financial story: which write was the ledger write,
which timeout fired, which step of the payment a span is.

The domain is read from span names and attributes only (what standard OTel
instrumentation of a payment service carries), by keyword rules kept here in
one table so they are easy to extend.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from causal_processor.app_span import AppSpan
from causal_processor.causal import model

# keyword in a span's name/service -> the financial concept it stands for
DOMAIN_RULES: tuple[tuple[str, str], ...] = (
    ("ledger", "ledger write"),
    ("settle", "settlement"),
    ("risk", "risk check"),
    ("fraud", "risk check"),
    ("clearing", "clearing"),
    ("order", "order book operation"),
    ("payment", "payment"),
    ("pay", "payment"),
)
_TIMEOUT_KEYS = ("timeout_ms", "payment.timeout_ms", "deadline_ms", "kprobe.timeout_ms", "timeout.ms")
_TIMEOUT_WORDS = re.compile(r"time(d)?[ _-]?out|deadline", re.I)


def concept(span: AppSpan) -> str:
    text = f"{span.name} {span.service}".lower()
    for word, name in DOMAIN_RULES:
        if word in text:
            return name
    return span.name


def io_concept(span: AppSpan, event_type: str) -> str:
    """What a syscall inside a span means for the business: the ledger write, ..."""
    c = concept(span)
    if event_type in ("SyscallWrite", "SyscallFsync") and c in ("ledger write", "settlement"):
        return "ledger write" + (" (fsync)" if event_type == "SyscallFsync" else "")
    return f"{c}: {event_type}"


@dataclass
class FiredTimeout:
    span: AppSpan
    threshold_ms: float
    service: str


def fired_timeout(spans: list[AppSpan], graph: model.CausalGraph) -> FiredTimeout | None:
    """The deadline that failed the transaction: a failed span whose status or
    attributes speak of a timeout, or whose wait ended by a timer at its end."""
    timer_spans = {seg.span_index for seg in graph.critical_path if seg.mechanism == model.TIMEOUT_CAUSE}
    best = None
    for i, s in enumerate(spans):
        if s.status != "ERROR":
            continue
        hinted = bool(_TIMEOUT_WORDS.search(s.status_message or "")) or any(
            _TIMEOUT_WORDS.search(str(v)) for v in s.attributes.values() if isinstance(v, str)
        )
        timed = hinted or i in timer_spans or any(k in s.attributes for k in _TIMEOUT_KEYS)
        if timed and (best is None or s.start_ns < best.start_ns):
            best = s
    if best is None:
        return None
    threshold = next((float(best.attributes[k]) for k in _TIMEOUT_KEYS if k in best.attributes), None)
    if threshold is None:
        threshold = round(best.duration_ns / 1e6)
    return FiredTimeout(best, threshold, best.service)
