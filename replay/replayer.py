"""Replay a recording: re-execute the program and serve its inputs from the recording.

Decisions per syscall come from the recording itself (each event's `mode`, set by
the recorder, see syscalls.Policy) so record and replay cannot disagree:

- e: served from the recording in the single seccomp stop (result + buffers);
- c: program code (its .py/.so files): executed for real, read from disk;
- o: a write to the terminal/pipe the tree inherited: executed for real;
- p: an open/accept of an outside resource: a /dev/null placeholder is opened for
  real so the kernel hands out the same fd numbers as in the recording;
- r: fd-table and process syscalls (close, dup, pipe, clone, execve, kill):
  executed for real, with recorded pids swapped in and out.

Threads are serialised as they were while recording: one thread runs at a time,
and the thread whose event is next in the recorded order (the order of entries,
see recorder.py) is the one resumed. Every other thread is stopped, either at the
entry of its next call (held until its turn) or at the end of its last one (parked
with its result in place). Futex waits are served from the recording like any input,
so no thread ever waits in the kernel for another. A syscall the recording does not have at
that point is a divergence: strict replays stop there with a report; replays
that change the incident (injections, config changes, fuzzing) note the first
divergence and continue "off script" inside the sandbox.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from replay import buffers, futexes
from replay import ptrace_ops as pt
from replay.auxv import fix_auxv
from replay.futexes import FutexTable
from replay.inject import Rule
from replay.launch import spawn
from replay.netmodel import NetModel
from replay.recording import SIGNAL_NR, Event, Recording
from replay.sandbox import FreePolicy
from replay.sysbuf import program_nr
from replay.syscalls import (
    EXITS,
    FD_FIRST,
    FORKS,
    NR,
    PATH_ARG,
    READS,
    TIMEOUT_ARG,
    WRITES,
    Policy,
    gives_turn,
    name_of,
    policy_of,
)
from replay.waiter import wait_stop

log = logging.getLogger(__name__)

_SKIP = (1 << 64) - 1
_MASK = (1 << 64) - 1
_AT_FDCWD = -100 & _MASK
_O_RDWR, _O_CLOEXEC = 0o2, 0o2000000
_SOCK_CLOEXEC = 0o2000000
_CLOCKS = frozenset((NR["clock_gettime"], NR["gettimeofday"], NR["time"]))
_OPEN_CALLS = frozenset((NR["open"], NR["openat"], NR["creat"], NR["openat2"]))
_REALTIME = frozenset((0, 5, 8, 11))  # REALTIME, REALTIME_COARSE, REALTIME_ALARM, TAI
_CPU_CLOCKS = frozenset((2, 3))
# how often these run depends on the interleaving (a thread waiting for the GIL reads the
# clock): a fuzzed replay answers them apart from the thread's recorded stream
_REPRIORITISE = 0.02
_INTERLEAVING = _CLOCKS | frozenset((NR["futex"], NR["getpid"], NR["gettid"], NR["getppid"]))
_POLLS = frozenset((NR["poll"], NR["ppoll"]))
_POLLIN, _POLLOUT = 0x1, 0x4
_MONOTONIC = frozenset((1, 4, 6, 7))
_KILLS = frozenset((NR["kill"], NR["tgkill"], NR["tkill"]))
_REAL_SIGNALS = frozenset((signal.SIGKILL, signal.SIGSTOP, signal.SIGCONT))
_SYNC_SIGNALS = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGSYS,
                 signal.SIGCHLD, signal.SIGPIPE, signal.SIGABRT}


@dataclass
class Divergence:
    """Where the replayed execution first left the recording."""

    index: int | None  # recorded event index (None: past the end of the recording)
    tid: int  # recorded thread id
    expected: str
    actual: str
    reason: str

    def __str__(self) -> str:
        where = f"event {self.index}" if self.index is not None else "end of recording"
        return (f"diverged at {where} (thread {self.tid}): {self.reason}; "
                f"expected {self.expected}, got {self.actual}")


@dataclass
class ReplayOptions:
    inject: list[Rule] = field(default_factory=list)
    strict: bool = True  # stop at the first divergence
    env: dict[str, str] | None = None  # replaces the recorded environment (fix verification)
    argv: list[str] | None = None
    isolate_net: bool = True
    scratch: str | None = None  # writes allowed here once off script
    jitter_ms: float = 0.0  # random delays before serving (determinism check)
    fuzz_seed: int | None = None  # perturb the recorded thread order (race hunting)
    seed: int = 0
    stall_s: float = 0.1
    timeout_s: float = 120.0
    progress: Callable[[int, int], None] | None = None
    stdio: tuple[int | None, int | None, int | None] = (None, None, None)
    wait_scale: float = 1.0  # real seconds per recorded second for modelled waits off script
    time_scale: float = 1.0  # the program's clocks run this much slower (2.0) or faster (0.5)
    clock_offset_ns: int = 0  # shift of the wall-clock time the program sees
    files: dict[str, bytes] = field(default_factory=dict)  # path -> content (fix verification)


@dataclass
class ReplayOutcome:
    exit_status: int | None
    divergence: Divergence | None
    events_served: int
    events_total: int
    order_relaxed: int
    injected: int
    output_diffs: list[int]
    code_changed: list[str]
    elapsed_s: float
    stopped: bool  # killed at a divergence (strict) or on timeout
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["divergence"] = None if self.divergence is None else dict(self.divergence.__dict__)
        return d


class _Stop(Exception):
    pass


@dataclass
class _T:
    rtid: int
    tgid: int
    serving: int | None = None  # event index awaiting its exit stop
    saved: tuple[int, ...] | None = None  # argument registers to restore at exit
    on_exit: Callable[[int, pt.Regs], None] | None = None
    held: bool = False  # stopped at the entry of its next call, served in its turn
    parked: bool = False  # stopped after its last call (or new), resumed in its turn
    regs: Any = None
    free: bool = False
    calls: int = 0
    free_idx: int = 0  # where this thread left the recording
    seq: int = 0  # creation order (the fuzz scheduler's stable name for it)
    priority: float = 0.0  # fuzzing: the ready thread with the highest runs
    real_wait: bool = False  # fuzzing: off script, in a real call that may wait on others
    blocked: bool = False  # waiting on a futex the tracer keeps (fuzzing)
    clear_tid: int = 0  # address the kernel zeroes and wakes when the thread exits
    vt: int = 0  # its time on the changed timeline (ns since the recording started)


class Replayer:
    def __init__(self, rec: Recording, opts: ReplayOptions | None = None) -> None:
        self.cancelled = False
        self.threads: dict[int, _T] = {}
        self.rec = rec
        self.opts = opts or ReplayOptions()
        self.events = rec.events
        self.rng = random.Random(self.opts.seed)
        self.fuzz = self.opts.fuzz_seed is not None
        self.sched = random.Random(self.opts.fuzz_seed)
        self.futexes = FutexTable()
        self.thread_seq = 0

    # -- setup -------------------------------------------------------------------------------
    def _build_order(self) -> list[int]:
        # the recording is in the order the threads' entries happened, one thread at a time
        ordered = [i for i, e in enumerate(self.events)
                   if e.nr != SIGNAL_NR and not e.x.get("initial")]
        # fuzzing: no recorded order; a seeded scheduler picks who runs (see _dispatch_fuzz)
        return [] if self.fuzz else ordered

    def run(self) -> ReplayOutcome:
        meta = self.rec.meta
        self.mem = pt.Memory()
        self.order = self._build_order()
        self.turn = 0
        self.consumed = bytearray(len(self.events))
        self.queues: dict[int, deque[int]] = {}
        for i, e in enumerate(self.events):
            if not e.x.get("initial"):
                self.queues.setdefault(e.tid, deque()).append(i)
        self.threads: dict[int, _T] = {}
        self.pending_new: dict[int, int] = {}
        self._root_status: int | None = None
        self.timed_out = False
        self.own_signals: set[tuple[int, int]] = set()
        self.first_stop: set[int] = set()
        self.real_of: dict[int, int] = {}
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.divergence: Divergence | None = None
        self.free = False
        self.running: int | None = None
        self.served_ordered = 0
        self.served = 0
        self.relaxed = 0
        self.injected = 0
        self.output_diffs: list[int] = []
        self.code_changed: list[str] = []
        self.notes: list[str] = []
        self.free_policy = FreePolicy(self.opts.scratch)
        self.overlay = self._make_overlay()
        self.last_time: dict[int, int] = {}
        tgids = meta.get("tgids", {})
        self.rtgid_of = lambda rtid: int(tgids.get(str(rtid), rtid))
        self.net = NetModel(self.events, self.rtgid_of, self.rec.data)
        self.timing = self._timing_deltas()
        self.net.set_shifts(self.timing)
        self.conn_pos: dict[int, int] = {}
        self.file_content = self._recorded_files()
        self.free_files: dict[tuple[int, int], list] = {}
        self.ppids = {self.rtgid_of(e.tid): e.ret for e in self.events
                      if e.nr == NR["getppid"] and e.ret > 0}
        self.clock_base: dict[int, int] = {}
        self.free_conns: dict[tuple[int, int], int | None] = {}
        self.t_free = 0.0
        stopped = False
        t0 = time.monotonic()
        env = self.opts.env if self.opts.env is not None else meta["env"]
        argv = self.opts.argv or meta["argv"]
        # wakes the recording has no events for run untraced, as they did; a fuzzed replay
        # sees them all, for it plays the futexes itself
        root = spawn(argv, env, meta["cwd"], isolate_net=self.opts.isolate_net,
                     stdio=self.opts.stdio,
                     futex_wakes=bool(meta.get("futex_wakes_untraced")) and not self.fuzz)
        self.root = root
        self.started = False
        self._add_thread(root, meta["root_tid"], root)
        exit_status: int | None = None
        last_progress = time.monotonic()
        progress_mark = 0
        watchdog = threading.Timer(self.opts.timeout_s, self._time_out)
        watchdog.daemon = True
        watchdog.start()
        pt.cont(root)
        try:
            while self.threads:
                now = time.monotonic()
                if now - t0 > self.opts.timeout_s:
                    self.notes.append(f"timed out after {self.opts.timeout_s:.0f} s")
                    stopped = True
                    break
                # block in waitpid unless something is due: a timer, a held thread (stall
                # detection, the token's owner sleeping); the watchdog enforces timeout_s
                deadline: float | None = None
                if self.timers:
                    deadline = min(t for t, _, _ in self.timers)
                if self.running is None and self.turn < len(self.order):
                    stall = last_progress + self.opts.stall_s  # the next thread cannot move
                    deadline = stall if deadline is None else min(deadline, stall)
                try:
                    progress_mark, last_progress = self._step(deadline, progress_mark,
                                                              last_progress)
                except pt.PtraceError as e:  # a thread vanished under us (killed, exited)
                    if e.pid is not None:
                        self.threads.pop(e.pid, None)
                    if self.running == e.pid:
                        self.running = None
                    continue
                if self._root_status is not None:
                    exit_status = self._root_status
        except _Stop:
            stopped = True
        finally:
            watchdog.cancel()
            if self.timed_out:
                self.notes.append(f"timed out after {self.opts.timeout_s:.0f} s")
                stopped = True
            if self.cancelled:
                self.notes.append("cancelled")
                stopped = True
            for tid in list(self.threads):
                with contextlib.suppress(OSError):
                    os.kill(tid, signal.SIGKILL)
            _reap_all()
            self.mem.close()
        return ReplayOutcome(
            exit_status=None if stopped else exit_status, divergence=self.divergence,
            events_served=self.served, events_total=len(self.events),
            order_relaxed=self.relaxed, injected=self.injected,
            output_diffs=self.output_diffs, code_changed=self.code_changed,
            elapsed_s=time.monotonic() - t0, stopped=stopped, notes=self.notes,
        )

    def _timing_deltas(self) -> dict[int, int]:
        """Dry run of the timing rules over the recording: how much each event moves."""
        import copy

        rules = [copy.deepcopy(r) for r in self.opts.inject
                 if r.duration_ns is not None or r.delay_enter_ns or r.delay_exit_ns]
        delta: dict[int, int] = {}
        for i, ev in enumerate(self.events):
            if ev.nr < 0 or "kprobe" in ev.x:
                continue
            fd = ev.args[0] if ev.nr in FD_FIRST and ev.args else None
            nr = program_nr(ev.nr, ev.args)
            for r in rules:
                if r.hit(ev.tid, nr, fd, ev.x.get("path"), self._peer(i)):
                    d = (r.duration_ns - ev.d) if r.duration_ns is not None else 0
                    delta[i] = delta.get(i, 0) + d + r.delay_enter_ns + r.delay_exit_ns
        return delta

    def _step(self, deadline: float | None, progress_mark: int,
              last_progress: float) -> tuple[int, float]:
        """Wait for one stop (or a deadline) and act on it."""
        got = wait_stop(deadline)
        self._fire_timers()
        if self.served_ordered != progress_mark:
            progress_mark = self.served_ordered
            last_progress = time.monotonic()
        if got is None:
            if self.running is None and time.monotonic() - last_progress >= self.opts.stall_s:
                self._break_stall()
                last_progress = time.monotonic()
            self._dispatch()
            return progress_mark, last_progress
        tid, status = got
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            gone = self.threads.pop(tid, None)
            if self.fuzz and gone is not None:
                self._thread_gone(tid, gone)
            if tid == self.root:
                self._root_status = os.waitstatus_to_exitcode(status)
            if self.running == tid:
                self.running = None
            self._dispatch()
            return progress_mark, last_progress
        self._on_stop(tid, status)
        self._dispatch()
        return progress_mark, last_progress

    def cancel(self) -> None:
        """From any thread: stop the replay (the outcome says it was cancelled)."""
        self.cancelled = True
        self._kill_tree()

    def _time_out(self) -> None:
        """Watchdog (another thread): kill the tree, the tracer's waitpid then returns."""
        self.timed_out = True
        self._kill_tree()

    def _kill_tree(self) -> None:
        for tid in list(self.threads):
            with contextlib.suppress(OSError):
                os.kill(tid, signal.SIGKILL)

    def _add_thread(self, tid: int, rtid: int, tgid: int) -> _T:
        th = _T(rtid, tgid, seq=self.thread_seq, priority=self.sched.random())
        self.thread_seq += 1
        self.threads[tid] = th
        self.real_of[rtid] = tid
        return th

    # -- ordering ----------------------------------------------------------------------------
    def _advance_turn(self) -> None:
        while self.turn < len(self.order) and self.consumed[self.order[self.turn]]:
            self.turn += 1

    def _is_turn(self, idx: int) -> bool:
        """The event is next in the order (only the thread with the turn runs, so a thread
        stopping at an event that is not next got ahead: a fuzzed order)."""
        self._advance_turn()
        return self.turn < len(self.order) and self.order[self.turn] == idx

    def _owner(self, idx: int) -> tuple[int, _T] | None:
        tid = self.real_of.get(self.events[idx].tid)
        th = self.threads.get(tid) if tid is not None else None
        if th is None or th.free:
            return None
        q = self.queues.get(th.rtid)
        return (tid, th) if q and q[0] == idx else None

    def _dispatch(self) -> None:
        """Nobody has the turn: resume the thread whose event is next in the order."""
        if self.fuzz:
            self._dispatch_fuzz()
            return
        while self.running is None:
            self._advance_turn()
            if self.turn >= len(self.order):
                self._release_parked()
                return
            owner = self._owner(self.order[self.turn])
            if owner is None:
                return  # not created yet, or inside a vfork; else the stall breaker acts
            tid, th = owner
            if th.held:
                th.held = False
                self.running = tid
                self._serve(tid, th, self.order[self.turn], th.regs)
            elif th.parked:
                th.parked = False
                self.running = tid
                pt.cont(tid)
            else:
                return

    def _release_parked(self) -> None:
        """The recorded order is used up (a divergence freed threads): let the rest run."""
        for tid, th in list(self.threads.items()):
            if th.parked:
                th.parked = False
                with contextlib.suppress(pt.PtraceError):
                    pt.cont(tid)

    def _park(self, tid: int, th: _T) -> None:
        """The thread's call is done: it waits, stopped, until its next event's turn."""
        if (th.free and not self.fuzz) or not self.started:
            pt.cont(tid)
            return
        th.parked = True
        if self.running == tid:
            self.running = None

    def _break_stall(self) -> None:
        """The next thread in the order cannot get there (it left the script, or died):
        the earliest event whose thread is waiting is served out of order, and counted."""
        self._advance_turn()
        for pos in range(self.turn, len(self.order)):
            idx = self.order[pos]
            owner = self._owner(idx)
            if owner is None or not (owner[1].held or owner[1].parked):
                continue
            if pos == self.turn:
                return  # it can move: the dispatcher resumes it
            self.relaxed += 1
            self.notes.append(f"order relaxed: event {idx} served before event "
                              f"{self.order[self.turn]}")
            self.order.insert(self.turn, self.order.pop(pos))
            return

    def _fire_timers(self) -> None:
        now = time.monotonic()
        due = [t for t in self.timers if t[0] <= now]
        self.timers = [t for t in self.timers if t[0] > now]
        for _, _, action in sorted(due, key=lambda t: (t[0], t[1])):
            with contextlib.suppress(pt.PtraceError):
                action()

    def _later(self, ns: int, tid: int, action: Callable[[], None]) -> None:
        self.timers.append((time.monotonic() + ns / 1e9, tid, action))

    # -- fuzzing: a seeded scheduler and futexes kept by the tracer -----------------------
    def _dispatch_fuzz(self) -> None:
        """Nobody runs: the ready thread with the highest seeded priority runs, as in rr's
        chaos mode; priorities are redrawn now and then. Starving a thread for long
        stretches is what exposes order violations; the seed fixes every choice."""
        while self.running is None:
            if any(not (t.parked or t.held or t.blocked or t.real_wait)
                   for t in self.threads.values()):
                return  # choose only once every stop is in (a new thread's first one, say)
            ready = sorted((-t.priority, t.seq, tid) for tid, t in self.threads.items()
                           if (t.parked or t.held) and not t.blocked)
            if not ready:
                expired = self.futexes.expire()
                if expired is None:
                    return
                self._futex_return(*expired)
                continue
            if len(ready) > 1 and self.sched.random() < _REPRIORITISE:
                self.threads[ready[self.sched.randrange(len(ready))][2]].priority = \
                    self.sched.random()
                continue
            tid = ready[0][2]
            th = self.threads[tid]
            self.running = tid
            if th.held:
                th.held = False
                th.calls -= 1
                self._on_entry(tid, th, th.regs)
            else:
                th.parked = False
                pt.cont(tid)

    def _fuzz_entry(self, tid: int, th: _T, regs: pt.Regs) -> None:
        """A fuzzed replay matches each thread's calls against its own recorded stream only;
        futexes, clock and pid reads depend on the interleaving and are answered apart."""
        th.real_wait = False
        if self.running not in (None, tid):
            th.held, th.regs = True, regs  # back from a real call that waited: queue up
            return
        self.running = tid
        nr = regs.orig_rax
        if nr == NR["futex"]:
            self._model_futex(tid, th, regs)
            return
        if th.free:
            self._free_call(tid, th, regs)
            return
        q = self.queues.get(th.rtid)
        while q and (self.events[q[0]].nr == SIGNAL_NR or (self.events[q[0]].nr in _INTERLEAVING
                     and self.events[q[0]].nr != nr)):
            self._consume(q[0])
        if nr in _INTERLEAVING and not (q and not self._mismatch(th, regs, self.events[q[0]])
                                        and self._same_clock(regs, self.events[q[0]])):
            self._loose_answer(tid, th, regs)
            return
        if not q:
            self._diverge(tid, th, regs, None, "the recording has no more calls for this thread")
            return
        problem = self._mismatch(th, regs, self.events[q[0]])
        if problem:
            self._diverge(tid, th, regs, q[0], problem)
            return
        self._serve(tid, th, q[0], regs)

    @staticmethod
    def _same_clock(regs: pt.Regs, ev: Event) -> bool:
        return regs.orig_rax != NR["clock_gettime"] or regs.rdi == ev.args[0]

    def _loose_answer(self, tid: int, th: _T, regs: pt.Regs) -> None:
        """A clock or pid read the thread's stream does not have here: the recorded
        identity, or the clock's last value served (the first recorded one before that)."""
        nr, args = regs.orig_rax, list(pt.syscall_args(regs))
        rtgid = self.rtgid_of(th.rtid)
        if nr in (NR["gettid"], NR["getpid"], NR["getppid"]):
            ret = {NR["gettid"]: th.rtid, NR["getpid"]: rtgid}.get(nr, self.ppids.get(rtgid, 1))
            self._set_result(tid, regs, ret)
            return
        clock = args[0] if nr == NR["clock_gettime"] else 0
        ns = self.last_time.get(clock)
        if ns is None:
            first = next((e for e in self.events if e.nr == nr and e.outs
                          and (nr != NR["clock_gettime"] or e.args[0] == clock)), None)
            ns = _ts(self.rec.data(first.outs[0][2]), 1 if nr == NR["clock_gettime"] else 1000) \
                if first is not None else 0
        if nr == NR["clock_gettime"]:
            self.mem.write(th.tgid, args[1], _pack_ts(ns, 1_000_000_000))
        elif nr == NR["gettimeofday"] and args[0]:
            self.mem.write(th.tgid, args[0], _pack_ts(ns, 1_000_000))
        self._set_result(tid, regs, ns // 1_000_000_000 if nr == NR["time"] else 0)

    def _model_futex(self, tid: int, th: _T, regs: pt.Regs) -> None:
        args = pt.syscall_args(regs)
        op, key = args[1] & 0x7F, (th.tgid, args[0])
        if op not in futexes.MODELLED:
            pt.cont(tid)  # requeue, PI locks: the kernel's
            return
        bits = args[5] if op in (futexes.WAIT_BITSET, futexes.WAKE_BITSET) else futexes.ALL_BITS
        if op in (futexes.WAKE, futexes.WAKE_BITSET):
            woken = self.futexes.wake(key, args[2] & 0x7FFFFFFF, bits)
            for w in woken:
                self._futex_return(w, 0)
            self._set_result(tid, regs, len(woken))
        elif self.mem.read_u32(th.tgid, args[0]) != args[2] & 0xFFFFFFFF:
            self._set_result(tid, regs, -futexes.EAGAIN)
        else:
            self.futexes.wait(tid, key, bits, timed=bool(args[3]))
            th.blocked, th.regs = True, regs
            self.running = None

    def _futex_return(self, tid: int, ret: int) -> None:
        th = self.threads.get(tid)
        if th is None:
            return
        th.blocked, th.parked = False, True
        th.regs.orig_rax = _SKIP
        th.regs.rax = ret & _MASK
        pt.setregs(tid, th.regs)

    def _thread_gone(self, tid: int, th: _T) -> None:
        """The kernel zeroed the exited thread's clear-tid word and woke its joiners."""
        self.futexes.drop(tid)
        if th.clear_tid:
            for w in self.futexes.wake((th.tgid, th.clear_tid), 1 << 30):
                self._futex_return(w, 0)

    # -- stops -------------------------------------------------------------------------------
    def _on_stop(self, tid: int, status: int) -> None:
        sig = os.WSTOPSIG(status)
        event = status >> 16
        th = self.threads.get(tid)
        if th is None:
            self.pending_new[tid] = status
            return
        if sig == signal.SIGTRAP and event == pt.EVENT_SECCOMP:
            if not self.started:
                pt.cont(tid)
                return
            self._on_entry(tid, th)
        elif sig == pt.SYSCALL_STOP:
            self._on_exit(tid, th)
        elif sig == signal.SIGTRAP and event in (pt.EVENT_FORK, pt.EVENT_VFORK, pt.EVENT_CLONE):
            self._on_fork(tid, th)
        elif sig == signal.SIGTRAP and event == pt.EVENT_EXEC:
            self._on_exec(tid, th)
        elif sig == signal.SIGTRAP and event:
            self._resume(tid, th)
        elif sig == signal.SIGSTOP and tid in self.first_stop:
            self.first_stop.discard(tid)
            self._park(tid, th)  # a new thread's first stop: it runs in its turn
        else:
            code, spid = pt.siginfo_code_pid(tid)
            # forward what the tree caused itself (faults, child exits; an off-script thread's
            # own kills) and the recorded signals this replay delivers; a thread on script
            # gets other signals only where the recording has them; drop signals from outside
            forward = (sig in _SYNC_SIGNALS or (tid, sig) in self.own_signals or (th.free and (
                spid in self.threads or (code > 0 and sig != signal.SIGSTOP))))
            self.own_signals.discard((tid, sig))
            self._resume(tid, th, sig if forward else 0)

    def _resume(self, tid: int, th: _T, sig: int = 0) -> None:
        with contextlib.suppress(pt.PtraceError):
            (pt.syscall if th.serving is not None else pt.cont)(tid, sig)

    def _on_exec(self, tid: int, th: _T) -> None:
        self.mem.forget(th.tgid)
        regs = pt.getregs(tid)
        if not self.started:
            self.started = True
            self.running = tid
            first = self.events[0] if self.events else None
            rnd = first.x.get("at_random") if first is not None and first.x.get("initial") else None
            fix_auxv(self.mem, th.tgid, regs.rsp, bytes.fromhex(rnd) if rnd else None)
            if first is not None and first.x.get("initial"):
                self.consumed[0] = 1
        else:
            rnd = None
            if th.serving is not None:
                rnd = self.events[th.serving].x.get("at_random")
            fix_auxv(self.mem, th.tgid, regs.rsp, bytes.fromhex(rnd) if rnd else None)
        self._resume(tid, th)

    def _on_fork(self, tid: int, th: _T) -> None:
        child = pt.geteventmsg(tid)
        idx = th.serving
        ev = self.events[idx] if idx is not None else None
        rchild = ev.ret if ev is not None and ev.ret > 0 else child
        nth = self._add_thread(child, rchild, pt.tgid_of(child))
        nth.free = th.free
        nth.clear_tid = self._clear_tid(tid, th)
        if idx is not None:
            self._consume(idx)
        if child in self.pending_new:
            self.pending_new.pop(child)
            self._park(child, nth)
        else:
            self.first_stop.add(child)
        self._resume(tid, th)

    def _clear_tid(self, tid: int, th: _T) -> int:
        """The child's CLONE_CHILD_CLEARTID address, from the parent's clone arguments."""
        regs = pt.getregs(tid)
        if regs.orig_rax == NR["clone3"]:
            flags = self.mem.read_u64(th.tgid, regs.rdi)
            ctid = self.mem.read_u64(th.tgid, regs.rdi + 16)
        elif regs.orig_rax == NR["clone"]:
            flags, ctid = regs.rdi, regs.r10
        else:
            return 0
        return ctid if flags & futexes.CLONE_CHILD_CLEARTID else 0

    def _on_exit(self, tid: int, th: _T) -> None:
        self._finish_exit(tid, th, pt.getregs(tid))

    def _finish_exit(self, tid: int, th: _T, regs: pt.Regs) -> None:
        if th.saved is not None:
            regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 = th.saved
            th.saved = None
        action, th.on_exit = th.on_exit, None
        idx, th.serving = th.serving, None
        if action is not None:
            action(tid, regs)
        pt.setregs(tid, regs)
        if idx is not None:
            self._consume(idx)
        self._park(tid, th)

    def _consume(self, idx: int) -> None:
        if not self.consumed[idx]:
            self.consumed[idx] = 1
            self.served += 1
            if policy_of(self.events[idx].nr) is not Policy.QUERY:
                self.served_ordered += 1
            q = self.queues.get(self.events[idx].tid)
            if q and q[0] == idx:
                q.popleft()
                if q and self.events[q[0]].nr == SIGNAL_NR:
                    self._deliver_recorded_signals(self.events[idx].tid)
            if self.opts.progress and self.served % 256 == 0:
                self.opts.progress(self.served, len(self.events))

    # -- entry: match the recording ----------------------------------------------------------
    def _on_entry(self, tid: int, th: _T, regs: pt.Regs | None = None) -> None:
        th.calls += 1
        regs = regs if regs is not None else pt.getregs(tid)
        if self.fuzz:
            self._fuzz_entry(tid, th, regs)
            return
        if self.free or th.free:
            self._free_call(tid, th, regs)
            return
        q = self.queues.get(th.rtid)
        while q and self.events[q[0]].nr == SIGNAL_NR:
            self._consume(q[0])
        if q:
            self._skip_restarted(q)
        if not q:
            self._diverge(tid, th, regs, None, "the recording has no more calls for this thread")
            return
        idx = q[0]
        problem = self._mismatch(th, regs, self.events[idx])
        if problem:
            self._diverge(tid, th, regs, idx, problem)
        elif self._is_turn(idx):
            self._serve(tid, th, idx, regs)
        else:
            th.held, th.regs = True, regs
            if self.running == tid:
                self.running = None

    def _recorded_files(self) -> dict[str, bytes]:
        """What the program read from each outside file (first open, sequential reads): off
        script, a file the recording has is served from it, even if it is gone from disk."""
        out: dict[str, bytes] = {}
        open_: dict[tuple[int, int], tuple[str, list[bytes]]] = {}
        for ev in self.events:
            if ev.nr < 0:
                continue
            key = (self.rtgid_of(ev.tid), ev.args[0] if ev.args else -1)
            if ev.nr in _OPEN_CALLS and ev.mode == "p" and ev.ret >= 0 and "path" in ev.x:
                open_[(self.rtgid_of(ev.tid), ev.ret)] = (ev.x["path"], [])
            elif ev.nr == NR["close"] and key in open_:
                path, chunks = open_.pop(key)
                if chunks and path not in out:
                    out[path] = b"".join(chunks)
            elif ev.nr == NR["read"] and key in open_ and ev.ret > 0 and ev.outs:
                open_[key][1].append(self.rec.data(ev.outs[0][2]))
        for path, chunks in open_.values():
            if chunks and path not in out:
                out[path] = b"".join(chunks)
        return out

    def _free_file(self, tid: int, th: _T, regs: pt.Regs, nr: int, args: list[int]) -> bool:
        """Off script: serve an outside file the recording read (see _recorded_files)."""
        if nr in _OPEN_CALLS:
            arg = 1 if nr in (NR["openat"], NR["openat2"]) else 0
            flags = args[arg + 1] if nr != NR["creat"] else 1
            if flags & 0o3 or nr == NR["openat2"]:
                return False
            path = self.mem.read_cstr(th.tgid, args[arg]).decode("utf-8", "replace")
            content = self.file_content.get(path)
            if content is None:
                return False

            def opened(t: int, r: pt.Regs) -> None:
                fd = pt.signed(r.rax)
                if fd >= 0:
                    self.free_files[(th.tgid, fd)] = [content, 0]

            self._rewrite_path(tid, th, regs, args, arg, "/dev/null", opened)
            return True
        key = (th.tgid, args[0])
        f = self.free_files.get(key) if nr in FD_FIRST else None
        if f is None:
            return False
        content, pos = f
        if nr == NR["close"]:
            del self.free_files[key]
            return False
        if nr in (NR["read"], NR["pread64"]):
            at = args[3] if nr == NR["pread64"] else pos
            data = content[at:at + args[2]]
            self.mem.write(th.tgid, args[1], data)
            if nr == NR["read"]:
                f[1] = pos + len(data)
            self._set_result(tid, regs, len(data))
            return True
        if nr == NR["lseek"]:
            off, whence = pt.signed(args[1]), args[2]
            new = off if whence == 0 else pos + off if whence == 1 else len(content) + off
            f[1] = new
            self._set_result(tid, regs, new)
            return True
        return False

    def _skip_restarted(self, q: deque[int]) -> None:
        """A call the kernel restarted by itself (the signal went to another thread) never
        returned to the program: the recording's next event is that same call again."""
        while len(q) > 1:
            ev, nxt = self.events[q[0]], self.events[q[1]]
            if ev.ret not in _RESTARTS or nxt.nr == SIGNAL_NR or nxt.nr != ev.nr:
                return
            self._consume(q[0])

    def _mismatch(self, th: _T, regs: pt.Regs, ev: Event) -> str:
        nr = regs.orig_rax
        if nr != ev.nr:
            return "a different syscall"
        args = pt.syscall_args(regs)
        if nr in FD_FIRST and ev.args and (args[0] & 0xFFFFFFFF) != (ev.args[0] & 0xFFFFFFFF):
            return "a different file descriptor"
        if nr in TIMEOUT_ARG and args[TIMEOUT_ARG[nr]] != ev.args[TIMEOUT_ARG[nr]]:
            return "a different timeout"
        if nr in PATH_ARG and "path" in ev.x:
            path = self.mem.read_cstr(th.tgid, args[PATH_ARG[nr]]).decode("utf-8", "replace")
            if path != ev.x["path"]:
                return f"a different path ({path!r})"
        if nr in WRITES and nr in (NR["write"], NR["sendto"], NR["pwrite64"]) and args[2] != ev.args[2] \
                and ev.mode != "o":
            return "a write of a different length"
        return ""

    def _describe(self, th: _T, regs: pt.Regs | None, ev: Event | None) -> str:
        if ev is not None:
            return _fmt(ev.nr, ev.args, ev.x.get("path"))
        assert regs is not None
        nr = regs.orig_rax
        path = None
        if nr in PATH_ARG:
            path = self.mem.read_cstr(th.tgid, pt.syscall_args(regs)[PATH_ARG[nr]]).decode(
                "utf-8", "replace")
        return _fmt(nr, list(pt.syscall_args(regs)), path)

    def _diverge(self, tid: int, th: _T, regs: pt.Regs, idx: int | None, reason: str) -> None:
        if self.divergence is None:
            self.divergence = Divergence(
                index=idx, tid=th.rtid,
                expected=self._describe(th, None, self.events[idx]) if idx is not None else "exit",
                actual=self._describe(th, regs, None), reason=reason,
            )
            log.debug("%s", self.divergence)
        if self.opts.strict:
            raise _Stop
        self._go_free(th)
        self._free_call(tid, th, regs)

    def _go_free(self, th: _T) -> None:
        """This thread leaves the recording: its remaining events no longer hold others up."""
        th.free = True
        q = self.queues.get(th.rtid)
        th.free_idx = q[0] if q else len(self.events)
        th.vt = self.net.time_before(q[0]) if q else (self.events[-1].t if self.events else 0)
        while q:
            self.consumed[q.popleft()] = 1
        if not self.fuzz and self.running is not None and self.threads.get(self.running) is th:
            self.running = None

    # -- serving -----------------------------------------------------------------------------
    def _serve(self, tid: int, th: _T, idx: int, regs: pt.Regs) -> None:
        ev = self.events[idx]
        delay = 0
        if self.opts.jitter_ms and policy_of(ev.nr) is not Policy.QUERY:
            delay = int(self.rng.random() * self.opts.jitter_ms * 1e6)
        rule = self._rule_for(th, idx, ev)
        if rule is not None:
            delay += rule.delay_enter_ns + rule.delay_exit_ns
        if delay:
            self._later(delay, tid, lambda: self._serve_now(tid, th, idx, regs, rule))
            return
        self._serve_now(tid, th, idx, regs, rule)

    def _peer(self, idx: int) -> str | None:
        cid = self.net.conn_of_event.get(idx)
        return self.net.conns[cid].endpoints[1] if cid is not None else None

    def _rule_for(self, th: _T, idx: int, ev: Event) -> Rule | None:
        if "kprobe" in ev.x:  # the loader reading kprobe's preloaded library (replay/sysbuf.py)
            return None
        fd = ev.args[0] if ev.nr in FD_FIRST and ev.args else None
        nr = program_nr(ev.nr, ev.args)
        for rule in self.opts.inject:
            if rule.hit(th.rtid, nr, fd, ev.x.get("path"), self._peer(idx)):
                self.injected += 1
                return rule
        return None

    def _serve_now(self, tid: int, th: _T, idx: int, regs: pt.Regs, rule: Rule | None) -> None:
        if tid not in self.threads:
            return
        ev = self.events[idx]
        args = list(pt.syscall_args(regs))
        if rule is not None and rule.changes_result:
            self._serve_injected(tid, th, idx, ev, regs, args, rule)
            return
        mode = ev.mode
        if ev.nr in _OPEN_CALLS and ev.x.get("path") in self.opts.files:
            self._diverge(tid, th, regs, idx, f"{ev.x['path']} is replaced for this replay")
            return
        if self.timing and ev.nr in _POLLS and not self.opts.strict:
            why = self._timing_changes_poll(th, idx, ev, args)
            if why:
                self._diverge(tid, th, regs, idx, why)
                return
        if mode == "e":
            if ev.nr == NR["mmap"]:
                self._diverge(tid, th, regs, idx, "mmap of a file outside the program's code "
                              "cannot be replayed")
                return
            self._consume(idx)
            self._emulate(tid, th, regs, ev, args)
        elif mode == "c":
            self._consume(idx)
            if ev.nr in (NR["open"], NR["openat"]):
                self._check_code(ev)
                self._real(tid, th, idx, lambda t, r: self._expect_ret(ev, r))
                return
            pt.cont(tid)
        elif mode == "o":
            self._check_output(th, idx, ev, args)
            self._real(tid, th, idx, None)
        elif mode == "p":
            if ev.ret < 0:
                self._consume(idx)
                self._emulate(tid, th, regs, ev, args)
            else:
                self._placeholder(tid, th, idx, ev, regs, args)
        else:
            self._serve_real(tid, th, idx, ev, regs, args)

    def _serve_injected(self, tid: int, th: _T, idx: int, ev: Event, regs: pt.Regs,
                        args: list[int], rule: Rule) -> None:
        self._consume(idx)
        if self.divergence is None:
            self.divergence = Divergence(idx, th.rtid, self._describe(th, None, ev),
                                         f"injected {rule.text}", "fault injected here")
        if rule.error is not None or rule.retval is not None:
            ret = -rule.error if rule.error is not None else int(rule.retval or 0)
            self._go_free(th)  # the program now walks a path the recording never saw
            self._set_result(tid, regs, ret)
            return
        if rule.cut:
            ret = 0 if ev.nr in READS else -32  # EOF on reads, EPIPE on writes
            self._go_free(th)
            self._set_result(tid, regs, ret)
            return
        limit = min(rule.truncate or 0, max(ev.ret, 0))
        buffers.restore(self.mem, th.tgid, args, ev.outs, self.rec.data, limit=limit)
        self._go_free(th)
        self._set_result(tid, regs, limit)

    def _pollfds(self, th: _T, args: list[int]) -> list[tuple[int, int]]:
        raw = self.mem.read(th.tgid, args[0], 8 * min(args[1], 1024))
        return [(int.from_bytes(raw[i:i + 4], "little", signed=True),
                 int.from_bytes(raw[i + 4:i + 6], "little")) for i in range(0, len(raw), 8)]

    def _timing_changes_poll(self, th: _T, idx: int, ev: Event, args: list[int]) -> str:
        """Would the peer's data arrive within this poll's timeout on the changed timeline?"""
        rtgid = self.rtgid_of(th.rtid)
        timeout = pt.signed(ev.args[2]) if ev.nr == NR["poll"] else -1
        start = self.net.time_before(idx)
        for fd, events in self._pollfds(th, args):
            cid = self.net.conn_at(rtgid, fd, idx)
            if cid is None or not events & _POLLIN:
                continue
            at = self.net.ready_at(cid, self.net.consumed_before(cid, idx))
            ready = at is not None and (timeout < 0 or at <= start + timeout * 1_000_000)
            if ready != (ev.ret > 0):
                return ("timing changed: the peer's data now arrives "
                        + ("within" if ready else "after") + f" the {timeout} ms timeout")
        return ""

    def _interrupted(self, tid: int, th: _T, regs: pt.Regs, ev: Event, args: list[int]) -> None:
        """A call a signal interrupted returns EINTR (the signal follows, see _consume)."""
        self._set_result(tid, regs, -4)

    def _deliver_recorded_signals(self, rtid: int) -> None:
        """Signals are delivered for real at the syscall boundary where they were recorded:
        the thread is stopped here, so the signal is pending when it resumes."""
        q = self.queues.get(rtid)
        tid = self.real_of.get(rtid)
        while q and self.events[q[0]].nr == SIGNAL_NR:
            idx = q.popleft()
            self.consumed[idx] = 1
            th = self.threads.get(tid) if tid is not None else None
            if th is not None:
                sig = self.events[idx].args[0]
                self.own_signals.add((tid, sig))
                pt.tgkill(th.tgid, tid, sig)

    def _set_result(self, tid: int, regs: pt.Regs, ret: int) -> None:
        regs.orig_rax = _SKIP
        regs.rax = ret & _MASK
        pt.setregs(tid, regs)
        th = self.threads.get(tid)
        if th is None:
            pt.cont(tid)
        else:
            self._park(tid, th)

    def _emulate(self, tid: int, th: _T, regs: pt.Regs, ev: Event, args: list[int]) -> None:
        if ev.ret in _RESTARTS:
            self._interrupted(tid, th, regs, ev, args)
            return
        if ev.outs:
            get = self.rec.data
            if ev.nr in _CLOCKS and (self.opts.time_scale != 1.0 or self.opts.clock_offset_ns):
                get = lambda ref, ev=ev: self._virtual_clock(ev, self.rec.data(ref))  # noqa: E731
            buffers.restore(self.mem, th.tgid, args, ev.outs, get)
        if ev.nr == NR["time"] and (self.opts.time_scale != 1.0 or self.opts.clock_offset_ns):
            ev_ret = self._shift_ns(0, ev.ret * 1_000_000_000) // 1_000_000_000
            self._set_result(tid, regs, ev_ret)
            return
        if ev.nr == NR["clock_gettime"] and ev.outs:
            self.last_time[ev.args[0]] = _ts(self.rec.data(ev.outs[0][2]), 1)
        elif ev.nr == NR["gettimeofday"] and ev.outs:
            self.last_time[0] = _ts(self.rec.data(ev.outs[0][2]), 1000)
        self._set_result(tid, regs, ev.ret)

    def _shift_ns(self, clock: int, ns: int) -> int:
        """The virtual clock: recorded time scaled around the recording's start, then offset."""
        base = self.clock_base.setdefault(clock, ns)
        out = base + int((ns - base) * self.opts.time_scale)
        return out + (self.opts.clock_offset_ns if clock in _REALTIME else 0)

    def _virtual_clock(self, ev: Event, data: bytes) -> bytes:
        if ev.nr == NR["clock_gettime"]:
            if ev.args[0] in _CPU_CLOCKS or len(data) < 16:
                return data
            return _pack_ts(self._shift_ns(ev.args[0], _ts(data, 1)), 1_000_000_000)
        if ev.nr == NR["gettimeofday"] and len(data) >= 16:
            return _pack_ts(self._shift_ns(0, _ts(data, 1000)), 1_000_000) + data[16:]
        return data

    def _real(self, tid: int, th: _T, idx: int | None, on_exit: Callable[[int, pt.Regs], None] | None) -> None:
        th.serving = idx
        th.on_exit = on_exit
        pt.syscall(tid)

    def _expect_ret(self, ev: Event, regs: pt.Regs) -> None:
        got = pt.signed(regs.rax)
        if got != ev.ret:
            self.notes.append(f"{name_of(ev.nr)} returned {got}, recording has {ev.ret}")

    def _check_code(self, ev: Event) -> None:
        real = ev.x.get("real")
        info = self.rec.meta.get("code_files", {}).get(real) if real else None
        if not info or real in self.code_changed:
            return
        try:
            st = os.stat(real)
        except OSError:
            self.code_changed.append(real)
            return
        if st.st_size != info.get("size") or st.st_mtime_ns != info.get("mtime_ns"):
            self.code_changed.append(real)

    def _check_output(self, th: _T, idx: int, ev: Event, args: list[int]) -> None:
        if "crc" not in ev.x:
            return
        if ev.nr == NR["write"]:
            data = self.mem.read(th.tgid, args[1], args[2])
        elif ev.nr == NR["writev"]:
            data = buffers.gather(self.mem, th.tgid, args[1], args[2], 1 << 24)
        else:
            return
        if len(data) != ev.ret or zlib.crc32(data) != ev.x["crc"]:
            self.output_diffs.append(idx)

    def _placeholder(self, tid: int, th: _T, idx: int, ev: Event, regs: pt.Regs,
                     args: list[int]) -> None:
        """Open /dev/null for real in place of the outside file/connection: same fd number."""
        nr = ev.nr
        if nr in (NR["accept"], NR["accept4"]):
            cloexec = nr == NR["accept4"] and args[3] & _SOCK_CLOEXEC
        else:
            flags = args[1] if nr == NR["open"] else args[2] if nr != NR["creat"] else 0
            cloexec = flags & _O_CLOEXEC
        th.saved = tuple(args)
        addr = (regs.rsp - 256) & ~0xF
        self.mem.write(th.tgid, addr, b"/dev/null\0")
        regs.orig_rax = NR["openat"]
        regs.rdi, regs.rsi, regs.rdx, regs.r10 = _AT_FDCWD, addr, _O_RDWR | (_O_CLOEXEC if cloexec else 0), 0
        pt.setregs(tid, regs)

        def done(t: int, r: pt.Regs) -> None:
            got = pt.signed(r.rax)
            if got != ev.ret:
                self.notes.append(f"placeholder fd {got} != recorded {ev.ret} at event {idx}")
            r.rax = ev.ret & _MASK
            if ev.outs:
                buffers.restore(self.mem, th.tgid, args, ev.outs, self.rec.data)

        self._real(tid, th, idx, done)

    def _serve_real(self, tid: int, th: _T, idx: int, ev: Event, regs: pt.Regs,
                    args: list[int]) -> None:
        nr = ev.nr
        if ev.ret < 0 and nr not in (NR["execve"],):
            self._consume(idx)
            self._set_result(tid, regs, ev.ret)
            return
        if nr in FORKS:
            def forked(t: int, r: pt.Regs) -> None:
                r.rax = ev.ret & _MASK
            th.serving, th.on_exit = idx, forked
            pt.syscall(tid)  # consumed at the fork event, so the child may run
            flags = self.mem.read_u64(th.tgid, args[0]) if nr == NR["clone3"] else 0
            if gives_turn(nr, args, flags) and self.running == tid:
                self.running = None  # a vfork parent waits for its child's exec
            return
        if nr in EXITS:
            self._consume(idx)
            pt.cont(tid)  # it keeps the turn until it is gone
            return
        sig = args[2] if nr == NR["tgkill"] else args[1]
        if nr in _KILLS and sig not in _REAL_SIGNALS:
            # the signal is delivered where the recording has it (_deliver_recorded_signals)
            self._consume(idx)
            self._set_result(tid, regs, ev.ret)
            return
        if nr in _KILLS:
            self._translate_pids(regs, nr, args)
            th.saved = tuple(args)
            pt.setregs(tid, regs)

            def killed(t: int, r: pt.Regs) -> None:
                r.rax = ev.ret & _MASK
            self._consume(idx)
            th.on_exit = killed
            pt.syscall(tid)
            return
        if nr == NR["execve"]:
            if ev.ret < 0:
                self._consume(idx)
                self._set_result(tid, regs, ev.ret)
                return
            self._consume(idx)
            self._real(tid, th, idx, None)
            return

        def check(t: int, r: pt.Regs) -> None:
            got = pt.signed(r.rax)
            if got != ev.ret:
                self.notes.append(f"{name_of(nr)} returned {got}, recording has {ev.ret} "
                                  f"(event {idx})")
                r.rax = ev.ret & _MASK

        self._real(tid, th, idx, check)

    def _translate_pids(self, regs: pt.Regs, nr: int, args: list[int]) -> None:
        def real(rpid: int) -> int:
            s = pt.signed(rpid) if rpid >= 1 << 31 else rpid
            s = s - (1 << 32) if 1 << 31 <= s < 1 << 32 else s
            if s > 0:
                return self._real_tgid(s)
            if s < -1:
                return -self._real_tgid(-s)
            return s
        if nr == NR["kill"] or nr == NR["tkill"]:
            regs.rdi = real(args[0]) & _MASK
        else:
            regs.rdi = real(args[0]) & _MASK
            regs.rsi = real(args[1]) & _MASK

    def _real_tgid(self, rpid: int) -> int:
        return self.real_of.get(rpid, rpid)

    # -- off script ----------------------------------------------------------------------------
    def _free_call(self, tid: int, th: _T, regs: pt.Regs) -> None:
        """After a divergence: run the call under the sandbox policy (see sandbox.py)."""
        nr = regs.orig_rax
        args = list(pt.syscall_args(regs))
        q = self.queues.get(th.rtid)
        # a thread still on script (its next event matches) keeps being served
        if q and not th.free and not self._mismatch(th, regs, self.events[q[0]]) \
                and self.events[q[0]].mode in "ecp" and not self.free:
            self._serve(tid, th, q[0], regs)
            return
        for rule in self.opts.inject:
            fd = args[0] if nr in FD_FIRST else None
            if rule.changes_result and rule.hit(th.rtid, program_nr(nr, args), fd, None):
                self.injected += 1
                ret = -rule.error if rule.error is not None else int(rule.retval or 0)
                self._set_result(tid, regs, ret)
                return
        if self._free_net(tid, th, regs, nr, args):
            return
        if nr in _OPEN_CALLS and self.overlay:
            arg = 1 if nr in (NR["openat"], NR["openat2"]) else 0
            path = self.mem.read_cstr(th.tgid, args[arg]).decode("utf-8", "replace")
            if path in self.overlay:
                self._rewrite_path(tid, th, regs, args, arg, self.overlay[path])
                return
        if self._free_file(tid, th, regs, nr, args):
            return
        decision = self.free_policy.decide(nr, args, lambda a: self.mem.read_cstr(th.tgid, a))
        if decision.kind == "emulate":
            self._set_result(tid, regs, decision.ret)
        elif decision.kind == "time":
            self._virtual_time(tid, th, regs, nr, args)
        elif decision.kind == "pid":
            self._set_result(tid, regs, th.rtid if nr == NR["gettid"] else
                             next((r for r, t in self.real_of.items() if t == th.tgid), th.tgid))
        elif decision.kind == "fork":
            th.serving, th.on_exit = None, None
            pt.syscall(tid)
        else:
            if self.fuzz and self.running == tid and gives_turn(nr, args):
                self.running = None  # a real call that may wait: the others go on meanwhile
                th.real_wait = True
            pt.cont(tid)

    def _rewrite_path(self, tid: int, th: _T, regs: pt.Regs, args: list[int], arg: int,
                      path: str, on_exit: Callable[[int, pt.Regs], None] | None = None) -> None:
        """Run the call on another path (written below the stack's red zone), then put the
        argument registers back as the program left them."""
        addr = (regs.rsp - 4096) & ~0xF
        self.mem.write(th.tgid, addr, path.encode() + b"\0")
        th.saved = tuple(args)
        new = list(args)
        new[arg] = addr
        regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 = new
        pt.setregs(tid, regs)
        self._real(tid, th, None, on_exit)

    def _make_overlay(self) -> dict[str, str]:
        """Replacement files (fix verification) live in the scratch directory (0700)."""
        if not self.opts.files:
            return {}
        if self.opts.scratch is None:
            import tempfile

            self.opts.scratch = tempfile.mkdtemp(prefix="kprobe-replay-")
            self.free_policy = FreePolicy(self.opts.scratch)
        out = {}
        for i, (path, data) in enumerate(sorted(self.opts.files.items())):
            copy = os.path.join(self.opts.scratch, f"{i}-{os.path.basename(path)}")
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            out[path] = copy
        return out

    def _conn(self, th: _T, fd: int) -> int | None:
        key = (th.tgid, fd)
        if key not in self.free_conns:
            self.free_conns[key] = self.net.conn_at(self.rtgid_of(th.rtid), fd, th.free_idx)
        cid = self.free_conns[key]
        if cid is not None and cid not in self.conn_pos:
            self.conn_pos[cid] = self.net.consumed_before(cid, th.free_idx)
        return cid

    def _free_net(self, tid: int, th: _T, regs: pt.Regs, nr: int, args: list[int]) -> bool:
        """Off script, a recorded connection is served from the timing model."""
        if nr in _POLLS:
            fds = self._pollfds(th, args)
            conns = [(i, fd, ev, self._conn(th, fd)) for i, (fd, ev) in enumerate(fds)]
            if not any(c is not None for *_, c in conns):
                return False
            timeout = pt.signed(args[2]) if nr == NR["poll"] else -1
            ready, soonest = {}, None
            for i, _fd, events, cid in conns:
                if cid is None:
                    continue
                rev = events & _POLLOUT
                if events & _POLLIN:
                    at = self.net.ready_at(cid, self.conn_pos[cid])
                    if at is not None and at <= th.vt:
                        rev |= _POLLIN
                    elif at is not None:
                        soonest = at if soonest is None else min(soonest, at)
                if rev:
                    ready[i] = rev
            wait = 0
            if not ready:
                limit = None if timeout < 0 else timeout * 1_000_000
                if soonest is not None and (limit is None or soonest - th.vt <= limit):
                    wait = soonest - th.vt
                    for i, _fd, events, cid in conns:
                        if cid is not None and events & _POLLIN and \
                                self.net.ready_at(cid, self.conn_pos[cid]) == soonest:
                            ready[i] = _POLLIN
                elif limit is not None:
                    wait = limit
                else:
                    return False
            th.vt += wait

            def finish() -> None:
                raw = bytearray(self.mem.read(th.tgid, args[0], 8 * len(fds)))
                for i in range(len(fds)):
                    raw[8 * i + 6:8 * i + 8] = ready.get(i, 0).to_bytes(2, "little")
                self.mem.write(th.tgid, args[0], bytes(raw))
                self._set_result(tid, regs, len(ready))

            if wait > 0:
                self._later(int(wait * self.opts.wait_scale), tid, finish)
            else:
                finish()
            return True
        fd = args[0] if nr in FD_FIRST else None
        cid = self._conn(th, fd) if fd is not None else None
        if cid is None:
            return False
        if nr == NR["close"]:
            self.free_conns[(th.tgid, fd)] = None
            return False
        if nr in READS and nr in (NR["read"], NR["recvfrom"]):
            n = min(self.net.available(cid, self.conn_pos[cid], th.vt), args[2])
            if n > 0:
                pos = self.conn_pos[cid]
                self.mem.write(th.tgid, args[1], self.net.peer_bytes(cid)[pos:pos + n])
                self.conn_pos[cid] = pos + n
                self._set_result(tid, regs, n)
            else:
                more = self.net.ready_at(cid, self.conn_pos[cid]) is not None
                self._set_result(tid, regs, -11 if more else 0)  # EAGAIN, or end of stream
            return True
        if nr in WRITES:
            self._set_result(tid, regs, args[2] if nr in (NR["write"], NR["sendto"]) else 0)
            return True
        if nr == NR["getsockopt"] and args[3] and args[4]:
            # SO_ERROR after a non-blocking connect and the like: the modelled peer is fine
            size = min(self.mem.read_u32(th.tgid, args[4]), 64)
            self.mem.write(th.tgid, args[3], bytes(size))
        if nr in (NR["shutdown"], NR["setsockopt"], NR["getsockopt"], NR["getsockname"],
                  NR["getpeername"], NR["fcntl"], NR["ioctl"]):
            self._set_result(tid, regs, 0)
            return True
        return False

    def _virtual_time(self, tid: int, th: _T, regs: pt.Regs, nr: int, args: list[int]) -> None:
        """Off script the clock keeps going from the last recorded reading, at real speed."""
        if not self.t_free:
            self.t_free = time.monotonic()
        clock = args[0] if nr == NR["clock_gettime"] else 0
        base = self.last_time.get(clock)
        if base is None:
            base = time.clock_gettime_ns(clock if clock < 16 else 0)
            self.last_time[clock] = base
            self.t_free = time.monotonic()
        ns = base + int((time.monotonic() - self.t_free) * 1e9)
        if nr == NR["clock_gettime"]:
            self.mem.write(th.tgid, args[1], _pack_ts(ns, 1_000_000_000))
            self._set_result(tid, regs, 0)
        elif nr == NR["gettimeofday"]:
            if args[0]:
                self.mem.write(th.tgid, args[0], _pack_ts(ns, 1000))
            self._set_result(tid, regs, 0)
        else:
            if args[0]:
                self.mem.write(th.tgid, args[0], (ns // 1_000_000_000).to_bytes(8, "little"))
            self._set_result(tid, regs, ns // 1_000_000_000)


_RESTARTS = frozenset((-512, -513, -514, -516))  # ERESTARTSYS ... ERESTART_RESTARTBLOCK


def _reap_all() -> None:
    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            tid, _ = os.waitpid(-1, pt.WALL | os.WNOHANG)
        except ChildProcessError:
            return
        if not tid:
            time.sleep(0.001)


def _ts(data: bytes, scale: int) -> int:
    return int.from_bytes(data[:8], "little") * 1_000_000_000 + int.from_bytes(data[8:16], "little") * scale


def _pack_ts(ns: int, unit: int) -> bytes:
    sub = (ns % 1_000_000_000) // (1_000_000_000 // unit)
    return (ns // 1_000_000_000).to_bytes(8, "little") + sub.to_bytes(8, "little")


def _fmt(nr: int, args: list[int], path: str | None) -> str:
    shown = ", ".join(str(pt.signed(a)) if a >= 1 << 63 else (hex(a) if a > 1 << 20 else str(a))
                      for a in args[:3])
    text = f"{name_of(nr)}({shown})"
    return f"{text} path={path!r}" if path else text
