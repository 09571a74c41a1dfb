"""gRPC-Web framing (github.com/grpc/grpc/blob/master/doc/PROTOCOL-WEB.md).

Messages stay protobuf, serialized by the generated classes; this module
only adds the 5-byte length-prefixed frames and the trailers frame (flag
0x80) that carry grpc-status/grpc-message in the body, plus the base64
variant (`application/grpc-web-text`). Written here rather than taking
`sonora`, which targets WSGI/ASGI, not aiohttp.
"""

from __future__ import annotations

import base64
import struct
from urllib.parse import quote

import grpc

CONTENT_TYPES = ("application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text", "application/grpc-web-text+proto")
_DATA = 0x00
_TRAILERS = 0x80
_COMPRESSED = 0x01


class FramingError(ValueError):
    pass


def is_grpc_web(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() in CONTENT_TYPES


def is_text(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower().startswith("application/grpc-web-text")


def decode_request(body: bytes, text: bool) -> bytes:
    """The one message of a unary or server-streaming request."""
    if text:
        try:
            body = base64.b64decode(body, validate=False)
        except ValueError as e:
            raise FramingError(f"bad base64 body: {e}") from None
    if len(body) < 5:
        raise FramingError("request body shorter than a gRPC-Web frame header")
    flags, length = struct.unpack(">BI", body[:5])
    if flags & _COMPRESSED:
        raise FramingError("compressed gRPC-Web frames are not supported")
    if flags & _TRAILERS:
        raise FramingError("request starts with a trailers frame")
    if len(body) != 5 + length:
        raise FramingError(f"frame length {length} does not match body length {len(body) - 5}")
    return body[5:]


def message_frame(payload: bytes) -> bytes:
    return struct.pack(">BI", _DATA, len(payload)) + payload


def trailers_frame(code: grpc.StatusCode, message: str = "") -> bytes:
    lines = f"grpc-status:{code.value[0]}\r\n"
    if message:
        lines += f"grpc-message:{quote(message, safe=' ')}\r\n"
    raw = lines.encode()
    return struct.pack(">BI", _TRAILERS, len(raw)) + raw


def encode_for(text: bool, frame: bytes) -> bytes:
    """Frames of a text response are base64-encoded one by one (allowed by the spec)."""
    return base64.b64encode(frame) if text else frame


def parse_response(body: bytes, text: bool = False) -> tuple[list[bytes], dict[str, str]]:
    """Split a gRPC-Web response into its messages and trailers (for clients/tests)."""
    if text:
        body = _b64_chunks(body)
    messages: list[bytes] = []
    trailers: dict[str, str] = {}
    i = 0
    while i < len(body):
        flags, length = struct.unpack(">BI", body[i:i + 5])
        chunk = body[i + 5:i + 5 + length]
        i += 5 + length
        if flags & _TRAILERS:
            for line in chunk.decode().split("\r\n"):
                if line:
                    k, _, v = line.partition(":")
                    trailers[k.strip().lower()] = v.strip()
        else:
            messages.append(chunk)
    return messages, trailers


def _b64_chunks(body: bytes) -> bytes:
    out = b""
    rest = body
    while rest:
        # each encoded frame ends at its own padding; decode greedily
        end = rest.find(b"=") if b"=" in rest else len(rest)
        while end < len(rest) and rest[end:end + 1] == b"=":
            end += 1
        chunk, rest = rest[:end], rest[end:]
        out += base64.b64decode(chunk + b"=" * (-len(chunk) % 4))
    return out
