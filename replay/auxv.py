"""Exec-time fixes to the new program's auxiliary vector.

At the PTRACE_EVENT_EXEC stop the kernel has laid out argc/argv/envp/auxv on the
new stack and the program has not run one instruction: the moment to hide the
vDSO (so clock_gettime becomes a real, recordable syscall) and to read or
overwrite the 16 AT_RANDOM bytes (stack canary, pointer guard, hash seeds).
"""

from __future__ import annotations

import struct

from replay.ptrace_ops import Memory

AT_NULL = 0
AT_IGNORE = 1
AT_RANDOM = 25
AT_SYSINFO_EHDR = 33


class _Words:
    def __init__(self, mem: Memory, tgid: int, base: int) -> None:
        self.mem, self.tgid, self.base = mem, tgid, base
        self.buf = b""

    def word(self, i: int) -> int:
        while (i + 1) * 8 > len(self.buf):
            self.buf += self.mem.read(self.tgid, self.base + len(self.buf), 1024)
        return struct.unpack_from("<Q", self.buf, i * 8)[0]


def fix_auxv(mem: Memory, tgid: int, rsp: int, random_bytes: bytes | None) -> bytes:
    """Hide the vDSO; return the AT_RANDOM bytes (after writing `random_bytes` if given)."""
    w = _Words(mem, tgid, rsp)
    i = 1 + w.word(0) + 1  # argc, argv..., NULL
    while w.word(i):
        i += 1
    i += 1
    found = b""
    while True:
        key, val = w.word(i), w.word(i + 1)
        if key == AT_NULL:
            break
        if key == AT_SYSINFO_EHDR:
            mem.write(tgid, rsp + i * 8, struct.pack("<Q", AT_IGNORE))
        elif key == AT_RANDOM:
            if random_bytes is not None and len(random_bytes) == 16:
                mem.write(tgid, val, random_bytes)
            found = mem.read(tgid, val, 16)
        i += 2
    return found
