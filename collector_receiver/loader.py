"""Compile, load and attach the programs in bpf/: once per process, reused by every capture.

The programs are compiled together into one bcc module (they share the ring
buffer, the per-CPU batches and the target filter). Each event type names the
tracepoints it needs; a capture attaches only those, and a tracepoint absent
from this kernel is compiled out with a warning naming what will be missing.
Compiling takes seconds, so loaded modules are pooled: a stopped capture
returns its module to the pool, tracepoints still attached but idle.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from collector_receiver import errors, record, targets
from collector_receiver.btf import BTFError, KernelBTF
from kprobe import events

log = logging.getLogger(__name__)

BPF_DIR = Path(__file__).with_name("bpf")
HEADER = "kprobe.bpf.h"
# Order matters: later files call helpers defined by earlier ones.
PROGRAM_FILES = (
    "faults.bpf.c", "syscalls.bpf.c", "tcp.bpf.c", "sched.bpf.c", "reclaim.bpf.c", "targets.bpf.c",
)
RINGBUF_PAGES = 8192  # 32 MiB: absorbs ~1 s of a starved consumer at 200k events/s
TIMER_FLUSH_PERIOD_NS = 50_000_000

# Each traced syscall and the event its enter..exit becomes; None: joined only to
# lend its fd and start time to the TCP records of the same thread.
SYSCALLS: dict[str, str | None] = {
    "read": "SyscallRead", "pread64": "SyscallRead", "readv": "SyscallRead",
    "write": "SyscallWrite", "pwrite64": "SyscallWrite", "writev": "SyscallWrite",
    "fsync": "SyscallFsync", "fdatasync": "SyscallFsync",
    "sendto": None, "sendmsg": None, "recvfrom": None, "recvmsg": None,
}
_SOCKET_OUT, _SOCKET_IN = ("sendto", "sendmsg"), ("recvfrom", "recvmsg")


def _syscalls(*names: str) -> tuple[str, ...]:
    return tuple(f"syscalls:sys_{d}_{n}" for n in names for d in ("enter", "exit"))


def _of(event_type: str) -> tuple[str, ...]:
    return tuple(n for n, t in SYSCALLS.items() if t == event_type)


# A wakeup inside a timer callback is the timer's, not the interrupted task's. The exits
# are attached first: an entry seen without its exit would leave the CPU's depth stuck
# above 0 (every later wakeup there taken for a timer's); an exit without its entry is
# clamped at 0.
_TIMER_EXPIRY = ("timer:hrtimer_expire_exit", "timer:timer_expire_exit",
                 "timer:hrtimer_expire_entry", "timer:timer_expire_entry")

TYPE_TRACEPOINTS: dict[str, tuple[str, ...]] = {
    "SyscallRead": _syscalls(*_of("SyscallRead")),
    "SyscallWrite": _syscalls(*_of("SyscallWrite")),
    "SyscallFsync": _syscalls(*_of("SyscallFsync")),
    # The socket layer gives bytes and 4-tuple; the syscalls give fd and start time.
    "TCPSend": ("sock:sock_send_length", *_syscalls(*_SOCKET_OUT, *_of("SyscallWrite"))),
    "TCPRecv": ("sock:sock_recv_length", *_syscalls(*_SOCKET_IN, *_of("SyscallRead"))),
    # Retransmits are attributed to the traced thread that connected or last used the socket.
    "TCPRetransmit": ("tcp:tcp_retransmit_skb", "sock:inet_sock_set_state",
                      "sock:sock_send_length", "sock:sock_recv_length"),
    "SchedSwitch": ("sched:sched_switch", "sched:sched_waking", *_TIMER_EXPIRY),
    "SchedWakeup": ("sched:sched_switch", "sched:sched_waking", *_TIMER_EXPIRY),
    "PageFault": ("exceptions:page_fault_user",),
    "MemoryReclaim": (
        "vmscan:mm_vmscan_direct_reclaim_begin", "vmscan:mm_vmscan_direct_reclaim_end",
        "vmscan:mm_vmscan_memcg_reclaim_begin", "vmscan:mm_vmscan_memcg_reclaim_end",
    ),
}
ALWAYS_TRACEPOINTS = ("sched:sched_process_fork", "sched:sched_process_exit")

# -D name -> (struct, member) read through the running kernel's BTF.
BTF_OFFSETS = {
    "KP_OFF_TASK_MAJ_FLT": ("task_struct", "maj_flt"),
    "KP_OFF_SKC_DADDR": ("sock_common", "skc_daddr"),
    "KP_OFF_SKC_RCV_SADDR": ("sock_common", "skc_rcv_saddr"),
    "KP_OFF_SKC_DPORT": ("sock_common", "skc_dport"),
    "KP_OFF_SKC_NUM": ("sock_common", "skc_num"),
    "KP_OFF_INET_SPORT": ("inet_sock", "inet_sport"),
    "KP_OFF_SKC_V6_DADDR": ("sock_common", "skc_v6_daddr"),
    "KP_OFF_SKC_V6_RCV_SADDR": ("sock_common", "skc_v6_rcv_saddr"),
    "KP_OFF_SKB_CB": ("sk_buff", "cb"),
    "KP_OFF_TCP_GSO_SEGS": ("tcp_skb_cb", "tcp_gso_segs"),
}

_PROBE_RE = re.compile(r"TRACEPOINT_PROBE\((\w+),\s*(\w+)\)")


def program_text() -> str:
    """The programs as one bcc source, with the generated definitions and syscall probes."""
    header = (BPF_DIR / HEADER).read_text().replace(
        "KP_GENERATED_DEFINITIONS", record.c_definitions() + targets.c_definitions()
    )
    parts = [header]
    for f in PROGRAM_FILES:
        parts.append((BPF_DIR / f).read_text())
        if f == "syscalls.bpf.c":
            parts.append(syscall_probes())
    return "\n".join(parts)


def syscall_probes() -> str:
    """One enter and one exit TRACEPOINT_PROBE per entry of SYSCALLS."""
    out = []
    for name, event_type in SYSCALLS.items():
        kind = f"KP_{event_type}" if event_type else "0"
        for direction, body in (("enter", f"kp_call_enter({kind}, args->fd)"),
                                ("exit", "kp_call_exit(args->ret)")):
            tp = f"sys_{direction}_{name}"
            out.append(f"#ifdef KP_TP_syscalls__{tp}\n"
                       f"TRACEPOINT_PROBE(syscalls, {tp}) {{ return {body}; }}\n#endif")
    return "\n".join(out) + "\n"


def program_tracepoints(text: str) -> tuple[str, ...]:
    return tuple(f"{c}:{e}" for c, e in _PROBE_RE.findall(text))


@cache
def btf_offsets() -> dict[str, int] | None:
    """-D offsets from the running kernel's BTF, or None (then headers must match)."""
    try:
        btf = KernelBTF.running_kernel()
        return {name: btf.offset(s, m) for name, (s, m) in BTF_OFFSETS.items()}
    except BTFError as e:
        log.warning("no usable kernel BTF (%s): struct offsets come from the installed headers", e)
        return None


def missing_tracepoints(tracepoints: Iterable[str], tracefs: Path) -> list[str]:
    return [
        tp for tp in tracepoints
        if not (tracefs / "events" / tp.replace(":", "/") / "format").exists()
    ]


def affected_types(missing: Iterable[str]) -> list[str]:
    gone = set(missing)
    return [t for t, tps in TYPE_TRACEPOINTS.items() if gone & set(tps)]


class LoadedPrograms:
    """One compiled and loaded module: attach a set of types, detach, reuse."""

    def __init__(self, tracefs: Path | None = None, use_btf: bool = True) -> None:
        errors.check_privileges()
        root = tracefs or errors.tracefs_root()
        errors.check_headers()
        from bcc import BPF  # Debian's python3-bpfcc; imported late so errors above come first

        text = program_text()
        present = program_tracepoints(text)
        self.missing = missing_tracepoints(present, root)
        for tp in self.missing:
            types = [t for t, tps in TYPE_TRACEPOINTS.items() if tp in tps]
            log.warning(
                "tracepoint %s is missing on this kernel: %s will not be captured",
                tp, ", ".join(types) or "nothing",
            )
        self.available = tuple(tp for tp in present if tp not in self.missing)
        cflags = [f"-DKP_RINGBUF_PAGES={RINGBUF_PAGES}", "-Wno-unused-function"]
        cflags += [f"-DKP_TP_{tp.replace(':', '__')}=1" for tp in self.available]
        offsets = btf_offsets() if use_btf else None
        if offsets:
            cflags += [f"-D{k}={v}" for k, v in offsets.items()]
        try:
            self.bpf = _on_demand_bpf(BPF)(text=text.encode(), cflags=cflags)
        except Exception as e:
            raise errors.CaptureError(f"the BPF programs did not load: {e}") from e
        self._attached: list[str] = []
        self._timer = False
        self._chunks: list[bytes] = []
        self.table("kp_events").open_ring_buffer(self._on_batch)

    def table(self, name: str) -> Any:
        """A map of the loaded programs (bcc table)."""
        return self.bpf[name.encode()]

    def _on_batch(self, _ctx: object, data: int, size: int) -> int:
        self._chunks.append(ctypes.string_at(data, size))
        return 0

    def poll(self, timeout_ms: int) -> list[bytes]:
        """Wait up to timeout_ms for batches; return those received so far."""
        self.bpf.ring_buffer_poll(timeout_ms)
        return self.take()

    def take(self) -> list[bytes]:
        """Batches already in the ring buffer, without waiting."""
        self.bpf.ring_buffer_consume()
        chunks, self._chunks = self._chunks, []
        return chunks

    def partial_batches(self) -> list[bytes]:
        """The per-CPU batches not yet flushed, emptied (call only once the config says stop)."""
        table = self.table("kp_batches")
        key = ctypes.c_int(0)
        out = []
        values = table[key]
        for v in values:
            raw = ctypes.string_at(ctypes.addressof(v), ctypes.sizeof(v))
            if int.from_bytes(raw[:4], "little"):
                out.append(raw)
        table[key] = _zeroed(table, len(values))
        return out

    def pending_faults(self) -> np.ndarray:
        """Faults still held per thread (call once stopped), as records; the map is emptied.

        A fault is resolved in the kernel at the thread's next fault, syscall or
        exit; for the ones still waiting, major is decided here from the thread's
        majflt counter in /proc against the value the program saved.
        """
        table = self.table("kp_faults")
        items = list(table.items())
        table.clear()
        recs = np.zeros(len(items), record.record_dtype())
        for i, (k, v) in enumerate(items):
            r = recs[i]
            r["type"], r["ts"], r["aux"], r["pid"], r["tid"] = (
                events.EventType["PageFault"].value, v.ts, v.addr, v.tgid, k.value)
            r["cpu"], r["cgroup"], r["comm"], r["fd"] = v.cpu, v.cgroup, bytes(v.comm), -1
            r["flags"] = _thread_majflt(v.tgid, k.value, v.majflt) > v.majflt
        return recs

    def attach(self, types: Iterable[str]) -> list[str]:
        """Attach the tracepoints these types need; return the types that cannot be captured.

        Tracepoints stay attached after a capture (idle: the programs return at
        once while the config says OFF), because detaching one costs an RCU
        grace period (~50 ms); the next capture reuses them. Types a capture
        did not ask for are masked in the kernel config.
        """
        types = list(types)
        wanted: list[str] = list(ALWAYS_TRACEPOINTS)
        for t in types:
            wanted.extend(TYPE_TRACEPOINTS[t])
        for tp in dict.fromkeys(wanted):
            if tp in self.available and tp not in self._attached:
                fn = "tracepoint__" + tp.replace(":", "__")
                self.bpf.attach_tracepoint(tp=tp.encode(), fn_name=fn.encode())
                self._attached.append(tp)
        if not self._timer:
            from bcc import PerfSWConfig, PerfType

            self.bpf.attach_perf_event(
                ev_type=PerfType.SOFTWARE, ev_config=PerfSWConfig.CPU_CLOCK,
                fn_name=b"kp_timer_flush", sample_period=TIMER_FLUSH_PERIOD_NS,
            )
            self._timer = True
        return [t for t in types if t in affected_types(self.missing)]

    def close(self) -> None:
        """Detach everything and free the module (slow: one RCU grace period per tracepoint)."""
        self.bpf.cleanup()
        self._attached.clear()
        self._timer = False


def _thread_majflt(tgid: int, tid: int, default: int) -> int:
    """The thread's major fault count (field 12 of /proc/PID/task/TID/stat)."""
    try:
        stat = Path(f"/proc/{tgid}/task/{tid}/stat").read_text()
    except OSError:
        return default
    return int(stat.rsplit(")", 1)[1].split()[9])


def _on_demand_bpf(bpf_class: type) -> type:
    """bcc's BPF without its attach-every-TRACEPOINT_PROBE-on-load: captures attach what they need."""

    class OnDemandBPF(bpf_class):  # type: ignore[misc, valid-type]
        def _trace_autoload(self) -> None:
            pass

    return OnDemandBPF


def _zeroed(table: object, ncpu: int) -> object:
    leaf = table.Leaf  # type: ignore[attr-defined]
    return (leaf * ncpu)()


_pool: list[LoadedPrograms] = []
_pool_lock = threading.Lock()


def acquire() -> LoadedPrograms:
    """A loaded module nobody uses: from the pool, or freshly compiled."""
    with _pool_lock:
        if _pool:
            return _pool.pop()
    return LoadedPrograms()


def release(programs: LoadedPrograms) -> None:
    """Return an idle module (config OFF) to the pool, tracepoints still attached."""
    with _pool_lock:
        _pool.append(programs)


def unload_all() -> None:
    """Detach and free every pooled module (for long-lived processes done capturing)."""
    with _pool_lock:
        idle = list(_pool)
        _pool.clear()
    for programs in idle:
        programs.close()
