"""The recorder's side of the syscall buffer (replay/preload/kprobe_sysbuf.c).

The preloaded library makes clock reads and the calls that cannot wait (socket names and
options, FIONBIO/FIONREAD, unlocking or non-blocking flock, close, send/recv/read/write on
non-blocking descriptors, accept on a non-blocking listener, a select that finds something
ready, stat and isatty) without a ptrace stop, through a page the seccomp filter lets
through, and appends each call, with the bytes the kernel wrote or the socket moved, to
rings in the program's memory. It also makes the calls that may wait long but never for the
tree (a file write, fsync, fdatasync), the thread keeping the turn unless the recorder takes
it back (REJOIN). The recorder takes the new entries at the thread's next stop, through
/proc/PID/mem (only their call numbers at the stop; clock reads and the bytes of sends and
receives once the threads run again), and stores them as the events a fully traced
run would have had (the out-buffers cut by the same `buffers.capture` code, reading the
entry's copy instead of the tracee), so replay needs nothing new. Per process it remembers
how many entries it has taken: a forked child starts where its parent was, an exec'd image
from zero, and a vfork child shares its parent's ring (and count) until it execs.
"""

from __future__ import annotations

import struct
from pathlib import Path

from replay.ptrace_ops import Memory
from replay.syscalls import NR

PAGE_ADDR = 0x70000000  # the library's syscall page: the filter's exemption (seccomp.py)
RING_ADDR = 0x70001000
PAYLOAD_ADDR = 0x71000000  # the bytes of buffered sends and receives
MAGIC = 0x6B70737973627536  # "kpsysbu6"
# What the library makes from its page; the record filter lets exactly these through there.
BUFFERED: frozenset[int] = frozenset(NR[n] for n in (
    "clock_gettime", "getsockname", "getpeername", "getsockopt", "setsockopt", "ioctl", "flock",
    "close", "sendto", "recvfrom", "fcntl", "read", "write", "accept4", "pselect6", "pwritev2",
    "newfstatat", "fsync", "fdatasync",
))
# Of those, the calls that may wait long, but not for the tree (a file write the kernel cannot
# promise not to wait for, fsync, fdatasync): the thread keeps the turn in them unless the
# recorder takes it back (`Recorder._take_turn_back`); it then asks for it again with a getpid
# marked so.
REJOIN = 0x6B7072656A6F696E  # "kprejoin", in getpid's first argument (ignored by the kernel)
# The calls an injection rule names, which the library then leaves to the kernel (traced), so
# that the rule meets them as `strace --inject` would: kept in the recorded environment.
TRACED_ENV = "KPROBE_SYSBUF_TRACED"
# Its own question, not the program's: is this socket non-blocking (F_GETFL before send/recv)?
OWN_QUERY = NR["fcntl"]
# The mark its own calls and tries carry in an argument the kernel ignores for them. A flock
# that may wait is tried (flock's third argument): when another holder has the lock
# (EWOULDBLOCK), the program's call is the traced one that follows. A socket it accepted is
# asked its name (getsockname's fourth): the connection's local end.
MARK = 0x6B70
# Its own try at a select (a zero timeout at this address in its page): when nothing is ready
# and the caller would wait, the program's call is the traced one that follows.
SELECT_ATTEMPT = PAGE_ADDR + 2048
# Its try at a write that may wait: pwritev2(RWF_NOWAIT), marked in the high offset word (ignored
# on 64-bit). Made, it is the program's write; refused, the program's traced write follows.
_WRITE_REFUSED = frozenset((-11, -22, -95))  # EAGAIN, EINVAL, EOPNOTSUPP
_EWOULDBLOCK = -11
_PAYLOAD_CALLS = frozenset(NR[n] for n in ("sendto", "recvfrom", "read", "write", "pwritev2"))
_HEADER = struct.Struct("<QQQQ")  # magic, written, capacity, entry size (payload ring: turn offset)
# nr, args, ret, (address, length) x3, payload position, the regions' bytes (if not payload)
REGIONS = 3
# raw tuple fields: region i's address and length at RAW_ADDR0 + 2i, RAW_LEN0 + 2i
RAW_NR, RAW_RET, RAW_ADDR0, RAW_LEN0, RAW_PAYLOAD_POS, RAW_DATA = 0, 7, 8, 9, 14, 15
ENTRY_DATA = 400
_ENTRY = struct.Struct(f"<q6Qq6QQ{ENTRY_DATA}s")
_NR_ONLY = struct.Struct(f"<q{_ENTRY.size - 8}x")
# a clock read: its arguments, result, region 0's length and the timespec (16 bytes)
_CLOCK = struct.Struct("<8x6Qq8xQ40x16s")
CLOCK_RET, CLOCK_LEN, CLOCK_DATA = 6, 7, 8  # its fields after the six arguments


class SyscallBufferError(RuntimeError):
    """The ring lost calls the recorder had not taken (it cannot happen with the library's
    periodic flush; if it does, the recording would not replay)."""


class Entry:
    """One buffered call: what a traced call's entry and exit stops would have read."""

    __slots__ = ("_raw", "args", "nr", "payload", "ret")

    def __init__(self, raw: tuple) -> None:
        self.nr, self.args, self.ret = raw[RAW_NR], list(raw[1:7]), raw[RAW_RET]
        self._raw = raw
        self.payload: bytes | None = None  # a send's or receive's bytes (Rings.entry fills it)

    def own(self) -> bool:
        return own_call(self.nr, self.args, self.ret)

    def region(self, i: int) -> bytes:
        """The bytes of region i as the library copied them (region 0 of a send or receive:
        in the payload ring, see `payload`)."""
        raw, at = self._raw, 0
        for k in range(i):
            if not (k == 0 and self.payload is not None):
                at += raw[RAW_LEN0 + 2 * k]
        return raw[RAW_DATA][at:at + raw[RAW_LEN0 + 2 * i]]

    def payload_span(self) -> tuple[int, int] | None:
        """(position, length) of the bytes in the payload ring, for a send or receive."""
        raw = self._raw
        return (raw[RAW_PAYLOAD_POS], raw[RAW_LEN0]) if raw[RAW_LEN0] else None

    def read(self, _tgid: int, addr: int, size: int) -> bytes:
        """The tracee's memory as the call left it (only what the library copied)."""
        raw = self._raw
        if addr == raw[RAW_ADDR0] and self.payload is not None:
            return self.payload[:size]
        for i in range(REGIONS):
            if addr == raw[RAW_ADDR0 + 2 * i] and raw[RAW_LEN0 + 2 * i]:
                return self.region(i)[:size]
        return b""

    def read_u32(self, tgid: int, addr: int) -> int:
        raw = self.read(tgid, addr, 4)
        return int.from_bytes(raw, "little") if len(raw) == 4 else 0


def own_call(nr: int, args: list[int], ret: int) -> bool:
    """The library's own call, not the program's: its F_GETFL, a flock, select or write try
    that found it would have to wait, the name of a socket it accepted."""
    return nr == OWN_QUERY or (nr == NR["flock"] and args[2] == MARK and ret == _EWOULDBLOCK) or (
        nr == NR["getsockname"] and args[3] == MARK) or (
        nr == NR["pselect6"] and args[4] == SELECT_ATTEMPT and ret == 0) or (
        nr == NR["pwritev2"] and args[4] == MARK and ret in _WRITE_REFUSED)


def program_nr(nr: int, args: list[int]) -> int:
    """The call the program made, for injection rules: the library's write made without
    waiting is the program's write."""
    return NR["write"] if nr == NR["pwritev2"] and args[4] == MARK else nr


def from_page(rip: int) -> bool:
    """The call was made from the library's syscall page."""
    return rip & ~0xFFF == PAGE_ADDR


def library_path() -> str | None:
    """The built library (`make setup` compiles it), or None: record without it."""
    path = Path(__file__).parent / "preload" / "libkprobe_sysbuf.so"
    return str(path) if path.is_file() else None


class Taken:
    """A process's new entries as the ring held them: their numbers at once (most are clock
    reads, and only what a stop depends on is read at the stop), an entry's fields when asked."""

    __slots__ = ("block", "nrs")

    def __init__(self, block: bytes) -> None:
        self.block = block
        self.nrs = [t[0] for t in _NR_ONLY.iter_unpack(block)]

    def entry(self, i: int) -> Entry:
        """Entry i, without its payload (`Rings.fill_payloads`)."""
        return Entry(_ENTRY.unpack_from(self.block, i * _ENTRY.size))

    def clock(self, i: int) -> tuple:
        """Entry i, a clock read: (six arguments, result, bytes written, the timespec)."""
        return _CLOCK.unpack_from(self.block, i * _ENTRY.size)


class Rings:
    """Takes each process's new ring entries, in order, exactly once."""

    def __init__(self, mem: Memory) -> None:
        self.mem = mem
        self.taken: dict[int, int] = {}
        self.shares: dict[int, int] = {}  # vfork child -> the process whose memory it runs in

    def take(self, tgid: int) -> Taken | None:
        """The process's new entries (None: none, or no ring: the library is not loaded)."""
        try:
            magic, written, capacity, size = _HEADER.unpack(self.mem.read(tgid, RING_ADDR, _HEADER.size))
        except (OSError, struct.error):
            return None
        owner = self.shares.get(tgid, tgid)
        taken = self.taken.get(owner, 0)
        if magic != MAGIC or size != _ENTRY.size or written <= taken:
            return None
        if written - taken > capacity:
            raise SyscallBufferError(f"process {tgid}: {written - taken - capacity} buffered calls lost")
        first, n = taken % capacity, written - taken
        k = min(n, capacity - first)
        block = self.mem.read(tgid, RING_ADDR + _HEADER.size + first * size, k * size)
        if n > k:  # wrapped around
            block += self.mem.read(tgid, RING_ADDR + _HEADER.size, (n - k) * size)
        self.taken[owner] = written
        return Taken(block)

    def fill_payloads(self, tgid: int, entries: list[Entry]) -> None:
        """The bytes the sends and receives among `entries` moved, in one read of the payload
        ring. The ring is reused only a half-ring after the library's flush stop, so they are
        still there a moment after the stop they were taken at."""
        spans = [(e, span) for e in entries
                 if e.nr in _PAYLOAD_CALLS and (span := e.payload_span()) is not None]
        if not spans:
            return
        start = spans[0][1][0]
        end = max(pos + length for _, (pos, length) in spans)
        magic, written, capacity, _ = _HEADER.unpack(self.mem.read(tgid, PAYLOAD_ADDR, _HEADER.size))
        if magic != MAGIC or written - start > capacity:
            raise SyscallBufferError(f"process {tgid}: the bytes of a buffered call were lost")
        data = self._payload(tgid, start, end - start, capacity)
        for e, (pos, length) in spans:
            e.payload = data[pos - start:pos - start + length]

    def _payload(self, tgid: int, pos: int, length: int, capacity: int) -> bytes:
        at = pos % capacity
        head = self.mem.read(tgid, PAYLOAD_ADDR + _HEADER.size + at, min(length, capacity - at))
        rest = length - len(head)
        return head + (self.mem.read(tgid, PAYLOAD_ADDR + _HEADER.size, rest) if rest else b"")

    def turn_offset(self, tgid: int) -> int | None:
        """Where each thread's turn flags are, from its thread pointer (None: no library)."""
        try:
            magic, _, _, offset = _HEADER.unpack(self.mem.read(tgid, PAYLOAD_ADDR, _HEADER.size))
        except (OSError, struct.error):
            return None
        if magic != MAGIC:
            return None
        return offset - (1 << 64) if offset >= 1 << 63 else offset  # below the pointer (x86-64 TLS)

    def forked(self, parent: int, child: int) -> None:
        self.taken[child] = self.taken.get(parent, 0)

    def vforked(self, parent: int, child: int) -> None:
        """The child writes its calls into the parent's ring: what it takes, the parent has."""
        self.shares[child] = self.shares.get(parent, parent)

    def exec(self, tgid: int) -> None:
        self.shares.pop(tgid, None)
        self.taken[tgid] = 0
