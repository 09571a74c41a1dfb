"""The seccomp-bpf filter: only syscalls that matter stop the tracer.

Everything in `syscalls.ALLOWED` and anonymous mmap run at native speed; every
other syscall (including ones this module has never heard of) returns
SECCOMP_RET_TRACE so the recorder sees it and the replayer can refuse it.
"""

from __future__ import annotations

import ctypes
import struct

from replay.syscalls import ALLOWED, NR

_BPF_LD_W_ABS = 0x20
_BPF_JEQ_K = 0x15
_BPF_RET_K = 0x06
_RET_ALLOW = 0x7FFF0000
_RET_TRACE = 0x7FF00000
_AUDIT_ARCH_X86_64 = 0xC000003E
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_OFF_NR, _OFF_ARCH, _OFF_ARG4_LO = 0, 4, 16 + 8 * 4


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def build_filter() -> bytes:
    """BPF program: foreign arch -> trace; allowed nr -> allow; mmap(fd=-1) -> allow; else trace."""
    allowed = sorted(ALLOWED)
    prog: list[bytes] = []
    n_checks = len(allowed)
    # Layout: 0 ld arch; 1 jeq arch; 2 ld nr; 3.. jeq allowed; mmap check (3 insns); ALLOW; TRACE
    allow_at = 3 + n_checks + 3
    trace_at = allow_at + 1
    prog.append(_insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARCH))
    prog.append(_insn(_BPF_JEQ_K, 0, trace_at - 2, _AUDIT_ARCH_X86_64))
    prog.append(_insn(_BPF_LD_W_ABS, 0, 0, _OFF_NR))
    for i, nr in enumerate(allowed):
        pc = 3 + i
        prog.append(_insn(_BPF_JEQ_K, allow_at - pc - 1, 0, nr))
    pc = 3 + n_checks
    prog.append(_insn(_BPF_JEQ_K, 0, trace_at - pc - 1, NR["mmap"]))
    prog.append(_insn(_BPF_LD_W_ABS, 0, 0, _OFF_ARG4_LO))
    prog.append(_insn(_BPF_JEQ_K, allow_at - (pc + 2) - 1, trace_at - (pc + 2) - 1, 0xFFFFFFFF))
    prog.append(_insn(_BPF_RET_K, 0, 0, _RET_ALLOW))
    prog.append(_insn(_BPF_RET_K, 0, 0, _RET_TRACE))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def install_filter() -> None:
    """Install the filter in the calling process (a forked child, right before exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    code = build_filter()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = _SockFprog(len(code) // 8, ctypes.addressof(buf))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
