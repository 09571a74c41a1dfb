"""Moving syscall output buffers between a tracee and the recording.

The same three shapes appear in record and replay: a plain buffer at an argument,
an iovec array (readv/preadv) and a msghdr (recvmsg).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

from replay.ptrace_ops import Memory
from replay.syscalls import NAME, out_buffers


class Reader(Protocol):
    """Where a call's output is read from: the tracee (`Memory`), or a buffered call's copy
    of it (`sysbuf.Entry`)."""

    def read(self, tgid: int, addr: int, size: int) -> bytes: ...

    def read_u32(self, tgid: int, addr: int) -> int: ...

_MSG_FMT = "<QI4xQQQQi"  # name, namelen, iov, iovlen, control, controllen, flags


def _iovecs(mem: Reader, tgid: int, addr: int, count: int) -> list[tuple[int, int]]:
    count = min(count, 1024)
    raw = mem.read(tgid, addr, 16 * count)
    return [struct.unpack_from("<QQ", raw, 16 * i) for i in range(len(raw) // 16)]


def gather(mem: Reader, tgid: int, iov: int, count: int, total: int) -> bytes:
    out = []
    for base, length in _iovecs(mem, tgid, iov, count):
        take = min(length, total)
        if take:
            out.append(mem.read(tgid, base, take))
        total -= take
        if total <= 0:
            break
    return b"".join(out)


def scatter(mem: Memory, tgid: int, iov: int, count: int, data: bytes) -> None:
    for base, length in _iovecs(mem, tgid, iov, count):
        if not data:
            break
        mem.write(tgid, base, data[:length])
        data = data[length:]


def capture(mem: Reader, tgid: int, nr: int, args: list[int], ret: int,
            put: Callable[[bytes], str]) -> list[list]:
    """Read every buffer the kernel filled for this syscall into recording form."""
    if ret < 0:
        return []
    name = NAME.get(nr, "")
    if name in ("readv", "preadv", "preadv2"):
        return [["iov", 1, put(gather(mem, tgid, args[1], args[2], ret))]]
    if name == "recvmsg":
        hdr = mem.read(tgid, args[1], 56)
        name_p, namelen, iov, iovlen, ctl, ctllen, flags = struct.unpack(_MSG_FMT, hdr)
        return [["msg", put(gather(mem, tgid, iov, iovlen, ret)),
                 put(mem.read(tgid, name_p, min(namelen, 128)) if name_p else b""),
                 put(mem.read(tgid, ctl, min(ctllen, 4096)) if ctl else b""), flags]]
    outs = []
    for arg, size in out_buffers(nr, tuple(args), ret, lambda a: mem.read_u32(tgid, a)):
        if size > 0 and args[arg]:
            outs.append(["a", arg, put(mem.read(tgid, args[arg], size))])
    return outs


def restore(mem: Memory, tgid: int, args: list[int], outs: list[list],
            get: Callable[[str], bytes], limit: int | None = None) -> None:
    """Write recorded buffers into the tracee at the addresses of the current call.

    `limit` truncates the main data buffer (failure injection: a short read).
    """
    for out in outs:
        kind = out[0]
        if kind == "a":
            data = get(out[2])
            if limit is not None and out[1] in (0, 1):
                data = data[:limit]
            mem.write(tgid, args[out[1]], data)
        elif kind == "iov":
            data = get(out[2])
            scatter(mem, tgid, args[out[1]], args[out[1] + 1], data[:limit] if limit is not None else data)
        elif kind == "msg":
            hdr = mem.read(tgid, args[1], 56)
            name_p, namelen, iov, iovlen, ctl, ctllen, _ = struct.unpack(_MSG_FMT, hdr)
            data, name, control = get(out[1]), get(out[2]), get(out[3])
            scatter(mem, tgid, iov, iovlen, data[:limit] if limit is not None else data)
            if name_p and name:
                mem.write(tgid, name_p, name[:namelen])
            if ctl and control:
                mem.write(tgid, ctl, control[:ctllen])
            new = struct.pack(_MSG_FMT, name_p, len(name), iov, iovlen, ctl, len(control), out[4])
            mem.write(tgid, args[1], new)
