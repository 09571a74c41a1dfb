"""Thin ptrace layer: python-ptrace for the register layout and errors, plus what it lacks.

python-ptrace 0.9.9 has no constants for seccomp/exit-kill, polls with sleeps
and writes memory a word at a time, so the wait loop, the missing options and
memory access (/proc/PID/mem) live here. The calls a tracer makes at every stop
(registers, resume) go straight to libc's ptrace: its Python wrapper costs a few
microseconds a call, and there are two or three calls per stop.
"""

from __future__ import annotations

import ctypes
import os
import struct

from ptrace.binding import func as _pt

PTRACE_GETEVENTMSG = 0x4201
PTRACE_O_TRACESYSGOOD = 0x01
PTRACE_O_TRACEFORK = 0x02
PTRACE_O_TRACEVFORK = 0x04
PTRACE_O_TRACECLONE = 0x08
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACESECCOMP = 0x80
PTRACE_O_EXITKILL = 0x100000

EVENT_FORK = 1
EVENT_VFORK = 2
EVENT_CLONE = 3
EVENT_EXEC = 4
EVENT_VFORK_DONE = 5
EVENT_EXIT = 6
EVENT_SECCOMP = 7
EVENT_STOP = 128

WALL = 0x40000000
SYSCALL_STOP = 0x80 | 5  # SIGTRAP | 0x80 with PTRACE_O_TRACESYSGOOD

TRACE_OPTIONS = (
    PTRACE_O_TRACESYSGOOD
    | PTRACE_O_TRACEFORK
    | PTRACE_O_TRACEVFORK
    | PTRACE_O_TRACECLONE
    | PTRACE_O_TRACEEXEC
    | PTRACE_O_TRACESECCOMP
    | PTRACE_O_EXITKILL
)

PtraceError = _pt.PtraceError
Regs = _pt.ptrace_registers_t

traceme = _pt.ptrace_traceme

_PTRACE_CONT, _PTRACE_GETREGS, _PTRACE_SETREGS, _PTRACE_SYSCALL = 7, 12, 13, 24
_PTRACE_SETOPTIONS = 0x4200
_libc = ctypes.CDLL(None, use_errno=True)
_ptrace = _libc.ptrace
_ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong)
_ptrace.restype = ctypes.c_long


def _call(request: int, pid: int, addr: int, data: int) -> None:
    if _ptrace(request, pid, addr, data) == -1:
        err = ctypes.get_errno()
        raise PtraceError(f"ptrace({request}, {pid}): {os.strerror(err)}", errno=err, pid=pid)


def getregs(pid: int) -> Regs:
    regs = Regs()
    _call(_PTRACE_GETREGS, pid, 0, ctypes.addressof(regs))
    return regs


def setregs(pid: int, regs: Regs) -> None:
    _call(_PTRACE_SETREGS, pid, 0, ctypes.addressof(regs))


def setoptions(pid: int, options: int = TRACE_OPTIONS) -> None:
    _call(_PTRACE_SETOPTIONS, pid, 0, options)


def geteventmsg(pid: int) -> int:
    msg = ctypes.c_ulong()
    _call(PTRACE_GETEVENTMSG, pid, 0, ctypes.addressof(msg))
    return msg.value


def tgkill(tgid: int, tid: int, sig: int) -> None:
    """Send a signal to one thread (the tracer re-raises signals at syscall boundaries)."""
    _libc.syscall(234, tgid, tid, sig)  # SYS_tgkill


def cont(pid: int, sig: int = 0) -> None:
    _call(_PTRACE_CONT, pid, 0, sig)


def syscall(pid: int, sig: int = 0) -> None:
    _call(_PTRACE_SYSCALL, pid, 0, sig)


def siginfo_code_pid(pid: int) -> tuple[int, int]:
    """(si_code, si_pid) of the signal a tracee is stopped on."""
    info = _pt.ptrace_getsiginfo(pid)
    raw = ctypes.string_at(ctypes.addressof(info), 24)
    _signo, _errno, code, _pad, spid = struct.unpack("iiiii", raw[:20])
    return code, spid


class Memory:
    """Reads and writes a tracee's memory through /proc/PID/mem (one syscall per buffer)."""

    def __init__(self) -> None:
        self._fds: dict[int, int] = {}

    def _fd(self, tgid: int) -> int:
        fd = self._fds.get(tgid)
        if fd is None:
            fd = os.open(f"/proc/{tgid}/mem", os.O_RDWR | os.O_CLOEXEC)
            self._fds[tgid] = fd
        return fd

    def read(self, tgid: int, addr: int, size: int) -> bytes:
        if size <= 0 or addr == 0:
            return b""
        return os.pread(self._fd(tgid), size, addr)

    def write(self, tgid: int, addr: int, data: bytes) -> None:
        if data and addr:
            os.pwrite(self._fd(tgid), data, addr)

    def read_u64(self, tgid: int, addr: int) -> int:
        return struct.unpack("<Q", self.read(tgid, addr, 8))[0]

    def read_u32(self, tgid: int, addr: int) -> int:
        return struct.unpack("<I", self.read(tgid, addr, 4))[0]

    def read_cstr(self, tgid: int, addr: int, limit: int = 4096) -> bytes:
        out = b""
        while addr and len(out) < limit:
            chunk = self.read(tgid, addr + len(out), 256)
            if not chunk:
                break
            nul = chunk.find(b"\0")
            if nul >= 0:
                return out + chunk[:nul]
            out += chunk
        return out

    def forget(self, tgid: int) -> None:
        """Drop the cached fd (after exec the old one points at the dead address space)."""
        fd = self._fds.pop(tgid, None)
        if fd is not None:
            os.close(fd)

    def close(self) -> None:
        for tgid in list(self._fds):
            self.forget(tgid)


def syscall_args(regs: Regs) -> tuple[int, int, int, int, int, int]:
    return (regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9)


def signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def tgid_of(tid: int) -> int:
    """Thread group id of a live task, from /proc (threads share their leader's memory)."""
    try:
        with open(f"/proc/{tid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Tgid:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return tid
