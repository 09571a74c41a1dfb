"""Opaque page tokens: a keyset position, tagged with what it pages over.

Events page by (timestamp_ns, event_id) so a page stays correct while new
events arrive; other lists page by offset. A token from one query kind
handed to another is rejected with INVALID_ARGUMENT instead of silently
returning a wrong page.
"""

from __future__ import annotations

import base64
import json

from kprobe.v1 import api_common_pb2

from .errors import invalid_argument

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 10_000


def page_size(page: api_common_pb2.PageRequest) -> int:
    if page.page_size > MAX_PAGE_SIZE:
        raise invalid_argument(f"page.page_size {page.page_size} exceeds the maximum {MAX_PAGE_SIZE}")
    return page.page_size or DEFAULT_PAGE_SIZE


def encode(kind: str, position: list[int | str]) -> str:
    raw = json.dumps([kind, *position], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(kind: str, token: str, arity: int) -> list | None:
    """The position in a token of this kind, or None for an empty token."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = json.loads(raw)
    except (ValueError, TypeError):
        raise invalid_argument("page.page_token is malformed (pass next_page_token back verbatim)") from None
    if not isinstance(value, list) or len(value) != arity + 1 or value[0] != kind:
        raise invalid_argument(f"page.page_token does not belong to a {kind} query")
    return value[1:]


def event_cursor(token: str) -> tuple[int, int] | None:
    pos = decode("events", token, 2)
    if pos is None:
        return None
    ts, eid = pos
    if not (isinstance(ts, int) and isinstance(eid, int)):
        raise invalid_argument("page.page_token is malformed")
    return ts, eid


def event_token(last_event: dict) -> str:
    return encode("events", [last_event["timestamp_ns"], last_event["event_id"]])


def offset(kind: str, token: str) -> int:
    pos = decode(kind, token, 1)
    if pos is None:
        return 0
    if not isinstance(pos[0], int) or pos[0] < 0:
        raise invalid_argument("page.page_token is malformed")
    return pos[0]


def offset_token(kind: str, next_offset: int) -> str:
    return encode(kind, [next_offset])
