"""Injection rules in strace's `--inject` syntax, plus kprobe's timing extras.

    SET:error=ERRNO|retval=N|delay_enter=T|delay_exit=T|truncate=N|cut|duration=T
       [:when=FIRST[..LAST][+[STEP]]][:fd=N][:path=GLOB][:peer=HOST:PORT]

SET is a comma-separated list of syscall names. T is microseconds as in strace, or
takes a unit (ns, us, ms, s). `when` counts matching calls per thread, exactly as
strace counts them, so `kprobe replay run --inject` and `strace --inject` agree.
`truncate=N` serves only N bytes of a recorded read; `cut` turns reads on the fd
into end-of-file and writes into EPIPE from then on; `duration=T` sets how long a
recorded syscall takes on the replay's timeline (slow write made fast).
"""

from __future__ import annotations

import errno
import fnmatch
import re
from dataclasses import dataclass, field

from replay.syscalls import NR

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}


class InjectError(ValueError):
    """An injection rule that does not parse."""


def parse_duration_ns(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ns|us|ms|s)?", text.strip())
    if not m:
        raise InjectError(f"bad duration {text!r} (e.g. 800ms, 1500us, 2s)")
    return int(float(m.group(1)) * _UNITS[m.group(2) or "us"])


@dataclass
class When:
    first: int = 1
    last: int | None = None
    step: int = 0  # 0: only `first` (unless last given: every call in range)

    @classmethod
    def parse(cls, text: str) -> When:
        m = re.fullmatch(r"(\d+)(?:\.\.(\d+))?(\+(\d*))?", text)
        if not m or int(m.group(1)) < 1:
            raise InjectError(f"bad when={text!r} (first[..last][+[step]])")
        first = int(m.group(1))
        last = int(m.group(2)) if m.group(2) else None
        if m.group(3):
            step = int(m.group(4)) if m.group(4) else 1
        else:
            step = 1 if last is not None else 0
            last = last if last is not None else first
        return cls(first, last, step)

    def matches(self, n: int) -> bool:
        if n < self.first or (self.last is not None and n > self.last):
            return False
        return n == self.first if self.step == 0 else (n - self.first) % self.step == 0


@dataclass
class Rule:
    nrs: frozenset[int]
    error: int | None = None
    retval: int | None = None
    delay_enter_ns: int = 0
    delay_exit_ns: int = 0
    truncate: int | None = None
    cut: bool = False
    duration_ns: int | None = None
    when: When = field(default_factory=When)
    fd: int | None = None
    path: str | None = None
    peer: str | None = None  # remote endpoint, /proc/net/tcp spelling (see proc_endpoint)
    counts: dict[int, int] = field(default_factory=dict)
    text: str = ""

    @property
    def changes_result(self) -> bool:
        return self.error is not None or self.retval is not None or self.truncate is not None or self.cut

    def hit(self, tid: int, nr: int, fd: int | None, path: str | None,
            peer: str | None = None) -> bool:
        """Count this call (per thread, as strace does) and say whether the rule fires."""
        if nr not in self.nrs:
            return False
        if self.peer is not None and peer != self.peer:
            return False
        if self.fd is not None and fd != self.fd:
            return False
        if self.path is not None and not (path and fnmatch.fnmatch(path, self.path)):
            return False
        n = self.counts.get(tid, 0) + 1
        self.counts[tid] = n
        return self.when.matches(n) if not self.cut else n >= self.when.first


def proc_endpoint(text: str) -> str:
    """"127.0.0.1:8080" -> "0100007F:1F90", as /proc/net/tcp writes an IPv4 endpoint."""
    import ipaddress

    host, _, port = text.rpartition(":")
    try:
        ip = ipaddress.IPv4Address(host)
        return f"{int.from_bytes(ip.packed, 'little'):08X}:{int(port):04X}"
    except ValueError:
        raise InjectError(f"bad peer {text!r} (IPv4 HOST:PORT)") from None


def parse_rule(text: str) -> Rule:
    parts = text.split(":")
    names = [p for p in parts[0].split(",") if p]
    if not names:
        raise InjectError(f"{text!r}: no syscall named")
    try:
        nrs = frozenset(NR[n] for n in names)
    except KeyError as e:
        raise InjectError(f"{text!r}: unknown syscall {e.args[0]}") from None
    rule = Rule(nrs=nrs, text=text)
    actions = 0
    for part in parts[1:]:
        key, _, value = part.partition("=")
        if key == "error":
            code = getattr(errno, value, None) if not value.isdigit() else int(value)
            if not isinstance(code, int):
                raise InjectError(f"{text!r}: unknown errno {value}")
            rule.error, actions = code, actions + 1
        elif key == "retval":
            rule.retval, actions = int(value), actions + 1
        elif key == "delay_enter":
            rule.delay_enter_ns, actions = parse_duration_ns(value), actions + 1
        elif key == "delay_exit":
            rule.delay_exit_ns, actions = parse_duration_ns(value), actions + 1
        elif key == "duration":
            rule.duration_ns, actions = parse_duration_ns(value), actions + 1
        elif key == "truncate":
            rule.truncate, actions = int(value), actions + 1
        elif key == "cut":
            rule.cut, actions = True, actions + 1
        elif key == "when":
            rule.when = When.parse(value)
        elif key == "fd":
            rule.fd = int(value)
        elif key == "path":
            rule.path = value
        elif key == "peer":
            rule.peer = proc_endpoint(value)
        else:
            raise InjectError(f"{text!r}: unknown key {key!r}")
    if not actions:
        raise InjectError(f"{text!r}: no action (error=, retval=, delay_enter=, ...)")
    return rule
