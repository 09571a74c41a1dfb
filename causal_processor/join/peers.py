"""What application spans say about their connections.

Standard OTel instrumentation records the peer of a request, never a kernel thread:
a SERVER span names its client (`client.address`/`client.port`; older `net.peer.ip`/
`net.peer.port`; `network.peer.*`), a CLIENT span its server (`server.address`/
`server.port`, `net.peer.name`/`net.peer.port`, or the URL). The join matches those
against the 4-tuples of TCP events to find the thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from causal_processor.app_span import SERVER, AppSpan

_CLIENT_ADDR_KEYS = ("client.address", "net.peer.ip", "network.peer.address", "net.sock.peer.addr")
_CLIENT_PORT_KEYS = ("client.port", "net.peer.port", "network.peer.port", "net.sock.peer.port")
_SERVER_ADDR_KEYS = ("server.address", "net.peer.name", "network.peer.address", "net.peer.ip",
                     "net.sock.peer.addr")
_SERVER_PORT_KEYS = ("server.port", "net.peer.port", "network.peer.port", "net.sock.peer.port")
_URL_KEYS = ("url.full", "http.url")


def peer(span: AppSpan) -> tuple[str | None, int | None]:
    """(address, port) of the other end of the span's connection, when it says."""
    if span.kind == SERVER:
        return _first(span.attributes, _CLIENT_ADDR_KEYS), _port(span.attributes, _CLIENT_PORT_KEYS)
    addr = _first(span.attributes, _SERVER_ADDR_KEYS)
    port = _port(span.attributes, _SERVER_PORT_KEYS)
    url = _first(span.attributes, _URL_KEYS)
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
