"""Bearer-token authentication and the browser origin check.

Tokens come from a file (one per line, `#` comments) and/or the
KPROBE_API_TOKENS environment variable (comma-separated). Every comparison
runs hmac.compare_digest against every configured token, so timing reveals
neither a token's prefix nor which token matched. Failures are logged with
the peer and the route, never the presented token.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

TOKENS_ENV = "KPROBE_API_TOKENS"
WS_TOKEN_PREFIX = "bearer."  # Sec-WebSocket-Protocol entry carrying the token
WS_PROTOCOL = "kprobe.v1"    # the subprotocol the server selects


class AuthConfigError(ValueError):
    """Auth was asked for but cannot be set up (no tokens, unreadable file)."""


def load_tokens(token_file: str | None, environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    tokens: list[str] = []
    if token_file:
        path = Path(token_file)
        try:
            text = path.read_text()
        except OSError as e:
            raise AuthConfigError(f"cannot read token file {path}: {e.strerror}") from None
        tokens += [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    tokens += [t.strip() for t in env.get(TOKENS_ENV, "").split(",") if t.strip()]
    return tokens


@dataclass(frozen=True)
class Authenticator:
    """Decides whether a request may proceed; `enabled=False` lets all through."""

    tokens: tuple[bytes, ...] = ()
    enabled: bool = False

    @classmethod
    def from_tokens(cls, tokens: Iterable[str]) -> Authenticator:
        toks = tuple(t.encode() for t in tokens)
        if not toks:
            raise AuthConfigError(
                f"authentication is on but no token is configured (--token-file or {TOKENS_ENV})"
            )
        return cls(toks, True)

    def token_ok(self, presented: str | None) -> bool:
        if not self.enabled:
            return True
        if not presented:
            return False
        p = presented.encode()
        ok = False
        for t in self.tokens:
            ok |= hmac.compare_digest(p, t)
        return ok

    def header_ok(self, authorization: str | None) -> bool:
        """Check an `Authorization: Bearer <token>` header value."""
        if not self.enabled:
            return True
        return self.token_ok(bearer_token(authorization))


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def ws_protocol_token(header: str | None) -> str | None:
    """The token a browser put in Sec-WebSocket-Protocol as `bearer.<token>`."""
    for proto in (header or "").split(","):
        proto = proto.strip()
        if proto.startswith(WS_TOKEN_PREFIX):
            return proto[len(WS_TOKEN_PREFIX):]
    return None


def log_rejection(route: str, peer: str | None, reason: str) -> None:
    log.warning("unauthenticated request to %s from %s: %s", route, peer or "?", reason)


@dataclass(frozen=True)
class OriginPolicy:
    """Which browser origins may call the API (CSRF / cross-site WebSocket guard).

    A request without an Origin header is not from a browser page and passes.
    Same-origin requests pass. Others pass only when listed ("*" allows any).
    """

    allowed: frozenset[str] = frozenset()

    def allows(self, origin: str | None, host: str | None) -> bool:
        if not origin:
            return True
        if "*" in self.allowed or origin in self.allowed:
            return True
        return bool(host) and urlsplit(origin).netloc.lower() == host.lower()
