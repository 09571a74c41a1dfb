"""The recording file: versioned, compact, owner-only, validated on load.

A recording is a zip archive (deflate) holding `recording.json` (format, version,
metadata), `events.jsonl` (one syscall or signal per line, in the recorded global
order) and `blobs/<sha256>` (content-addressed buffers larger than 64 bytes, stored
once however often they were read). Nothing in it is ever executed or unpickled:
a corrupt or hostile file fails with `RecordingError` and one line saying why.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from replay import RECORDING_VERSION

FORMAT = "kprobe-replay"
INLINE_MAX = 64
MAX_UNCOMPRESSED = 4 << 30
MAX_EVENTS = 50_000_000
SIGNAL_NR = -1


_COMPACT = json.JSONEncoder(separators=(",", ":"))  # one encoder: json.dumps with separators builds one per call


class RecordingError(ValueError):
    """The recording file is missing, corrupt, of another version, or hostile."""


@dataclass(slots=True)
class Event:
    """One syscall (or signal, nr == SIGNAL_NR) as the recorded program saw it.

    outs are ["a", arg, data-ref] (buffer at args[arg]), ["iov", arg, data-ref]
    (scattered into the iovec array at args[arg]) or ["msg", data-ref x3, flags]
    (recvmsg: iov data, name, control); data-refs are "x:HEX" inline or "b:SHA256".
    """

    tid: int
    nr: int
    args: list[int]
    ret: int = 0
    mode: str = "e"  # e emulate, c program code (real), o output (real), p placeholder, r real
    outs: list[list[Any]] = field(default_factory=list)
    t: int = 0  # ns since the recording started, at syscall entry
    d: int = 0  # ns the syscall took
    x: dict[str, Any] = field(default_factory=dict)  # path, crc, addr, at_random, ...

    def to_json(self) -> str:
        o: dict[str, Any] = {"i": self.tid, "n": self.nr, "a": self.args, "r": self.ret}
        if self.mode != "e":
            o["m"] = self.mode
        if self.outs:
            o["o"] = self.outs
        o["t"] = self.t
        if self.d:
            o["d"] = self.d
        if self.x:
            o["x"] = self.x
        return _COMPACT.encode(o)

    @classmethod
    def from_obj(cls, o: Any, where: str) -> Event:
        try:
            ev = cls(
                tid=_int(o["i"]), nr=_int(o["n"]), args=[_int(a) for a in o["a"]],
                ret=_int(o["r"]), mode=str(o.get("m", "e")), outs=list(o.get("o", [])),
                t=_int(o.get("t", 0)), d=_int(o.get("d", 0)), x=dict(o.get("x", {})),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise RecordingError(f"{where}: malformed event ({e})") from None
        if ev.mode not in "ecopr" or len(ev.mode) != 1 or len(ev.args) > 6:
            raise RecordingError(f"{where}: malformed event")
        for out in ev.outs:
            if not isinstance(out, list) or not out or out[0] not in ("a", "iov", "msg"):
                raise RecordingError(f"{where}: malformed output buffer")
        return ev


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError("expected an integer")
    return v


class BlobStore:
    """Content-addressed buffers: small ones inline, larger ones once per distinct content."""

    def __init__(self, redact: list[re.Pattern[bytes]] | None = None) -> None:
        self.blobs: dict[str, bytes] = {}
        self.redact = redact or []

    def put(self, data: bytes, redactable: bool = True) -> str:
        if redactable:
            for rule in self.redact:
                data = rule.sub(lambda m: b"*" * len(m.group(0)), data)
        if len(data) <= INLINE_MAX:
            return "x:" + data.hex()
        digest = hashlib.sha256(data).hexdigest()
        self.blobs.setdefault(digest, data)
        return "b:" + digest

    def get(self, ref: str) -> bytes:
        if not isinstance(ref, str) or len(ref) < 2:
            raise RecordingError("malformed data reference")
        kind, _, value = ref.partition(":")
        try:
            if kind == "x":
                return bytes.fromhex(value)
            if kind == "b":
                return self.blobs[value]
        except (ValueError, KeyError):
            pass
        raise RecordingError(f"data reference {ref[:20]}… points at nothing")


@dataclass
class Recording:
    meta: dict[str, Any]
    events: list[Event]
    blobs: BlobStore

    def data(self, ref: str) -> bytes:
        return self.blobs.get(ref)

    def save(self, path: str) -> None:
        """Write with owner-only permissions, whatever the umask."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
            meta = dict(self.meta, format=FORMAT, version=RECORDING_VERSION,
                        events=len(self.events))
            z.writestr("recording.json", json.dumps(meta, indent=1, sort_keys=True))
            z.writestr("events.jsonl", "\n".join(e.to_json() for e in self.events) + "\n")
            for digest, data in self.blobs.blobs.items():
                z.writestr(f"blobs/{digest}", data)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, buf.getvalue())
        finally:
            os.close(fd)

    @classmethod
    def load(cls, path: str) -> Recording:
        try:
            z = zipfile.ZipFile(path)
        except FileNotFoundError:
            raise RecordingError(f"{path}: no such recording") from None
        except PermissionError as e:
            raise RecordingError(f"{path}: cannot read the recording ({e.strerror}; "
                                 "recordings are owner-only)") from None
        except (zipfile.BadZipFile, OSError) as e:
            raise RecordingError(f"{path}: not a kprobe recording ({e})") from None
        with z:
            infos = z.infolist()
            if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
                raise RecordingError(f"{path}: recording expands beyond {MAX_UNCOMPRESSED} bytes")
            names = {i.filename for i in infos}
            if "recording.json" not in names or "events.jsonl" not in names:
                raise RecordingError(f"{path}: not a kprobe recording (members missing)")
            try:
                meta = json.loads(z.read("recording.json"))
            except (ValueError, zipfile.BadZipFile, OSError) as e:
                raise RecordingError(f"{path}: corrupt metadata ({e})") from None
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise RecordingError(f"{path}: not a kprobe recording")
            if meta.get("version") != RECORDING_VERSION:
                raise RecordingError(
                    f"{path}: recording version {meta.get('version')!r}, this kprobe reads "
                    f"version {RECORDING_VERSION}"
                )
            _check_meta(meta, path)
            blobs = BlobStore()
            for name in names:
                if not name.startswith("blobs/"):
                    continue
                digest = name[6:]
                try:
                    data = z.read(name)
                except (zipfile.BadZipFile, OSError) as e:
                    raise RecordingError(f"{path}: corrupt blob {digest[:12]} ({e})") from None
                if hashlib.sha256(data).hexdigest() != digest:
                    raise RecordingError(f"{path}: blob {digest[:12]} does not match its hash")
                blobs.blobs[digest] = data
            try:
                lines = z.read("events.jsonl").decode().splitlines()
            except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as e:
                raise RecordingError(f"{path}: corrupt event log ({e})") from None
        if len(lines) > MAX_EVENTS:
            raise RecordingError(f"{path}: more than {MAX_EVENTS} events")
        events = []
        for n, line in enumerate(lines):
            if not line:
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise RecordingError(f"{path}: event {n} is not valid JSON") from None
            events.append(Event.from_obj(obj, f"{path}: event {n}"))
        rec = cls(meta, events, blobs)
        for i, ev in enumerate(events):
            for out in ev.outs:
                for ref in out[1:]:
                    if isinstance(ref, str) and ref[:2] in ("x:", "b:"):
                        try:
                            rec.data(ref)
                        except RecordingError as e:
                            raise RecordingError(f"{path}: event {i}: {e}") from None
        return rec


def _check_meta(meta: dict[str, Any], path: str) -> None:
    argv = meta.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise RecordingError(f"{path}: metadata has no valid argv")
    env = meta.get("env")
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise RecordingError(f"{path}: metadata has no valid env")
    if not isinstance(meta.get("cwd"), str) or not isinstance(meta.get("root_tid"), int):
        raise RecordingError(f"{path}: metadata lacks cwd or root_tid")


def compile_redactions(patterns: Iterable[str]) -> list[re.Pattern[bytes]]:
    try:
        return [re.compile(p.encode()) for p in patterns]
    except re.error as e:
        raise ValueError(f"bad redaction pattern: {e}") from None
