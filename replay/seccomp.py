"""The seccomp-bpf filter: only syscalls that matter stop the tracer.

Everything in `syscalls.ALLOWED` and anonymous mmap run at native speed, and, when
recording, the calls the syscall buffer's library makes from its page (replay/sysbuf.py);
every other syscall (including ones this module has never heard of) returns
SECCOMP_RET_TRACE so the recorder sees it and the replayer can refuse it.
"""

from __future__ import annotations

import ctypes
import struct

from replay.sysbuf import PAGE_ADDR
from replay.syscalls import ALLOWED, NR

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_RET_K = 0x06
_BPF_AND_K = 0x54
_RET_ALLOW = 0x7FFF0000
_RET_TRACE = 0x7FF00000
_AUDIT_ARCH_X86_64 = 0xC000003E
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_OFF_NR, _OFF_ARCH, _OFF_IP_LO, _OFF_IP_HI = 0, 4, 8, 12
_OFF_ARG1_LO, _OFF_ARG4_LO = 16 + 8 * 1, 16 + 8 * 4
_FUTEX_CMD = 0x7F  # the op without FUTEX_PRIVATE_FLAG / FUTEX_CLOCK_REALTIME
FUTEX_WAKES = (1, 10)  # FUTEX_WAKE, FUTEX_WAKE_BITSET


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def build_filter(untraced: frozenset[int] = frozenset(), futex_wakes: bool = False) -> bytes:
    """BPF program: foreign arch -> trace; a call in `untraced` made from the syscall
    buffer's page -> allow (any other call from it -> trace); allowed nr -> allow;
    mmap(fd=-1) -> allow; with `futex_wakes`, futex(FUTEX_WAKE[_BITSET]) -> allow; else
    trace."""
    prog: list[tuple[int, str | int, str | int, int]] = [
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_BPF_JEQ_K, 0, "trace", _AUDIT_ARCH_X86_64),
    ]
    if untraced:
        prog += [
            (_BPF_LD_W_ABS, 0, 0, _OFF_IP_HI),
            (_BPF_JEQ_K, 0, "nr", PAGE_ADDR >> 32),
            (_BPF_LD_W_ABS, 0, 0, _OFF_IP_LO),
            (_BPF_AND_K, 0, 0, 0xFFFFF000),
            (_BPF_JEQ_K, 0, "nr", PAGE_ADDR & 0xFFFFF000),
            (_BPF_LD_W_ABS, 0, 0, _OFF_NR),
        ]
        prog += [(_BPF_JEQ_K, "allow", 0, nr) for nr in sorted(untraced)]
        prog.append((_BPF_JEQ_K, "trace", "trace", 0))
    labels = {"nr": len(prog)}
    prog.append((_BPF_LD_W_ABS, 0, 0, _OFF_NR))
    prog += [(_BPF_JEQ_K, "allow", 0, nr) for nr in sorted(ALLOWED)]
    if futex_wakes:
        prog += [
            (_BPF_JEQ_K, 0, "mmap", NR["futex"]),
            (_BPF_LD_W_ABS, 0, 0, _OFF_ARG1_LO),
            (_BPF_AND_K, 0, 0, _FUTEX_CMD),
            *[(_BPF_JEQ_K, "allow", 0, op) for op in FUTEX_WAKES],
            (_BPF_JEQ_K, "trace", "trace", 0),
        ]
    labels["mmap"] = len(prog)
    prog += [
        (_BPF_JEQ_K, 0, "trace", NR["mmap"]),
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARG4_LO),
        (_BPF_JEQ_K, "allow", "trace", 0xFFFFFFFF),
    ]
    labels["allow"] = len(prog)
    prog.append((_BPF_RET_K, 0, 0, _RET_ALLOW))
    labels["trace"] = len(prog)
    prog.append((_BPF_RET_K, 0, 0, _RET_TRACE))

    def jump(pc: int, to: str | int) -> int:
        return labels[to] - pc - 1 if isinstance(to, str) else to

    return b"".join(_insn(code, jump(pc, jt), jump(pc, jf), k) for pc, (code, jt, jf, k) in enumerate(prog))


def runs_untraced(nr: int, args: tuple[int, ...], futex_wakes: bool) -> bool:
    """The filter's decision for a call made outside the syscall buffer's page, for the tracer
    (which must know what the recording cannot have seen)."""
    if nr in ALLOWED:
        return True
    if nr == NR["mmap"]:
        return args[4] & 0xFFFFFFFF == 0xFFFFFFFF  # anonymous: fd -1
    return futex_wakes and nr == NR["futex"] and (args[1] & _FUTEX_CMD) in FUTEX_WAKES


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_filter(untraced: frozenset[int] = frozenset(), futex_wakes: bool = False) -> None:
    """Install the filter in the calling process (a forked child, right before exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = build_filter(untraced, futex_wakes)
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.addressof(buf))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
