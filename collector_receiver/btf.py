"""Struct member offsets of the running kernel, read from its BTF in pure Python.

bcc compiles against whatever headers are installed; when they belong to
another kernel, struct layouts differ. The kernel's own BTF
(/sys/kernel/btf/vmlinux) is the truth, so every struct field the programs
read beyond tracepoint arguments is located here and passed as a -D constant.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

VMLINUX_BTF = Path("/sys/kernel/btf/vmlinux")

_MAGIC = 0xEB9F
_KIND_STRUCT, _KIND_UNION = 4, 5
_KIND_TYPEDEF, _KIND_VOLATILE, _KIND_CONST, _KIND_RESTRICT, _KIND_TYPE_TAG = 8, 9, 10, 11, 18
# Bytes following the common 12-byte type header: fixed part, per-vlen part.
_EXTRA = {
    1: (4, 0), 2: (0, 0), 3: (12, 0), 4: (0, 12), 5: (0, 12), 6: (0, 8), 7: (0, 0),
    8: (0, 0), 9: (0, 0), 10: (0, 0), 11: (0, 0), 12: (0, 0), 13: (0, 8), 14: (4, 0),
    15: (0, 12), 16: (0, 0), 17: (4, 0), 18: (0, 0), 19: (0, 12),
}


@dataclass(frozen=True)
class _Type:
    name: str
    kind: int
    kind_flag: bool
    ref: int  # size for structs, referenced type id for modifiers
    members: tuple[tuple[str, int, int], ...]  # (name, type id, bit offset)


class BTFError(RuntimeError):
    """The BTF blob is absent, malformed, or lacks a requested member."""


class KernelBTF:
    """The struct/union types of one BTF blob, indexed by name."""

    def __init__(self, data: bytes) -> None:
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from(
            "<HBBIIIII", data, 0
        )
        if magic != _MAGIC:
            raise BTFError("not a BTF blob (bad magic)")
        strings = data[hdr_len + str_off : hdr_len + str_off + str_len]
        self._types: list[_Type | None] = [None]  # type id 0 is void
        self._by_name: dict[str, int] = {}
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        while pos < end:
            name_off, info, ref = struct.unpack_from("<III", data, pos)
            pos += 12
            kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
            fixed, per = _EXTRA.get(kind, (None, None))
            if fixed is None:
                raise BTFError(f"unknown BTF kind {kind}")
            members: tuple[tuple[str, int, int], ...] = ()
            if kind in (_KIND_STRUCT, _KIND_UNION):
                ms = []
                for i in range(vlen):
                    m_name, m_type, m_off = struct.unpack_from("<III", data, pos + 12 * i)
                    ms.append((_cstr(strings, m_name), m_type, m_off & 0xFFFFFF if kflag else m_off))
                members = tuple(ms)
            pos += fixed + per * vlen
            name = _cstr(strings, name_off)
            self._types.append(_Type(name, kind, kflag, ref, members))
            if kind in (_KIND_STRUCT, _KIND_UNION) and name and name not in self._by_name:
                self._by_name[name] = len(self._types) - 1

    @classmethod
    def running_kernel(cls, path: Path = VMLINUX_BTF) -> KernelBTF:
        try:
            return cls(path.read_bytes())
        except OSError as e:
            raise BTFError(f"cannot read {path}: {e.strerror}") from e

    def offset(self, struct_name: str, member: str) -> int:
        """Byte offset of `member` in `struct_name`, looking into anonymous members."""
        tid = self._by_name.get(struct_name)
        if tid is None:
            raise BTFError(f"struct {struct_name} is not in the kernel's BTF")
        found = self._find(tid, member)
        if found is None:
            raise BTFError(f"struct {struct_name} has no member {member}")
        return found // 8

    def _find(self, tid: int, member: str) -> int | None:
        t = self._types[self._resolve(tid)]
        assert t is not None
        for name, mtype, bit_off in t.members:
            if name == member:
                return bit_off
            if not name:
                inner = self._types[self._resolve(mtype)]
                if inner is not None and inner.kind in (_KIND_STRUCT, _KIND_UNION):
                    sub = self._find(mtype, member)
                    if sub is not None:
                        return bit_off + sub
        return None

    def _resolve(self, tid: int) -> int:
        while True:
            t = self._types[tid]
            if t is None or t.kind not in (
                _KIND_TYPEDEF, _KIND_VOLATILE, _KIND_CONST, _KIND_RESTRICT, _KIND_TYPE_TAG
            ):
                return tid
            tid = t.ref


def _cstr(strings: bytes, off: int) -> str:
    return strings[off : strings.index(b"\0", off)].decode()
