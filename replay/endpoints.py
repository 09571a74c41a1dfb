"""The [local, remote] endpoints of a tracee's TCP socket, spelled as /proc/net/tcp spells them.

netmodel.py pairs the two ends of a connection of the tree by these strings. Reading
/proc/PID/net/tcp costs the kernel a walk of every socket in the namespace (~2 ms per
accept with waitress's listener, a fifth of the recorder's time while a service answered
payments), so the socket is borrowed instead (pidfd_getfd, Linux 5.6) and asked for its
names; the table is read only when that cannot answer (older kernel, a connect still in
SYN_SENT, which has no peer name yet).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket

_SYS_PIDFD_GETFD = 438
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def tcp_endpoints(tgid: int, fd: int) -> list[str]:
    """[local, remote] of a TCP socket (hex addr:port), [] for any other fd."""
    got = _from_socket(tgid, fd)
    return got if got is not None else _from_proc(tgid, fd)


def _from_socket(tgid: int, fd: int) -> list[str] | None:
    """The names of the borrowed socket; [] if it is no TCP socket; None: ask /proc."""
    try:
        pidfd = os.pidfd_open(tgid)
    except OSError:
        return None
    try:
        own = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
    finally:
        os.close(pidfd)
    if own < 0:
        return None
    try:
        sock = socket.socket(fileno=own)
    except OSError:
        os.close(own)
        return []  # not a socket
    with contextlib.closing(sock):
        if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
            return []
        try:
            local, remote = sock.getsockname(), sock.getpeername()
        except OSError:
            return None
        return [_spell(sock.family, local), _spell(sock.family, remote)]


def spell_sockaddr(raw: bytes) -> str | None:
    """A struct sockaddr as the kernel wrote it (an IPv4/IPv6 address), spelled; else None."""
    if len(raw) < 2:
        return None
    family = int.from_bytes(raw[:2], "little")
    if family == socket.AF_INET and len(raw) >= 8:
        addr, port = socket.inet_ntop(family, raw[4:8]), int.from_bytes(raw[2:4], "big")
    elif family == socket.AF_INET6 and len(raw) >= 24:
        addr, port = socket.inet_ntop(family, raw[8:24]), int.from_bytes(raw[2:4], "big")
    else:
        return None
    return _spell(family, (addr, port))


def _spell(family: int, name: tuple) -> str:
    """/proc/net/tcp's spelling: the address's 32-bit words as the (little-endian) host reads
    them, in hex, then the port."""
    raw = socket.inet_pton(family, name[0])
    words = "".join(f"{int.from_bytes(raw[i:i + 4], 'little'):08X}" for i in range(0, len(raw), 4))
    return f"{words}:{name[1]:04X}"


def _from_proc(tgid: int, fd: int) -> list[str]:
    try:
        inode = os.stat(f"/proc/{tgid}/fd/{fd}").st_ino
    except OSError:
        return []
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{tgid}/net/{table}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if len(cols) > 9 and cols[9] == str(inode):
                        return [cols[1], cols[2]]
        except OSError:
            continue
    return []
