"""Capture: the receiver's Python API (the CLI, the testbed and the tests use it).

    with Capture(command=["python3", "app.py"], types=["SyscallWrite"]) as cap:
        cap.wait()                 # until the command exits
    cap.events                     # list of event dicts (kprobe/events.py form)

A consumer thread polls the ring buffer, decodes whole batches with numpy,
applies the policy (span / metric / drop), and hands the span events to the
sinks: the in-memory list, an `on_events` callback, a JSONL file, an OTLP
exporter. Stopping drains everything the kernel recorded before the stop.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np

from collector_receiver import clock, loader, record
from collector_receiver.decode import EventDecoder, records_from_batches
from collector_receiver.errors import CaptureError
from collector_receiver.policy import Aggregates, Policy
from collector_receiver.resources import ProcessResources
from collector_receiver.targets import MODE_OFF, Target, make_target
from kprobe import events

log = logging.getLogger(__name__)

FLUSH_NS = 100_000_000  # a partial batch is flushed once its first record is this old
CONSUMER_NICE = -5  # the consumer thread's nice value (needs CAP_SYS_NICE; kept as is without)
METRICS_PERIOD_S = 10.0  # cumulative metrics go to the exporter this often, and at stop
STOP_GRACE_S = 0.01  # a BPF program runs for microseconds; after this none still writes

EventBatch = list[dict[str, Any]]

# Runs in the child: wait for the parent to register the pid, then exec the command.
_GATE = "import os, sys; fd = int(sys.argv[1]); os.read(fd, 1); os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])"


class Exporter(Protocol):
    """What a capture hands its output to (collector_receiver.exporter.OtlpExporter)."""

    def export_events(self, evs: EventBatch, resources: ProcessResources) -> None: ...

    def export_metrics(self, capture: Capture) -> None: ...

    def flush(self, timeout_s: float | None = None) -> bool: ...


@dataclass
class CaptureStats:
    records: int = 0  # decoded from the kernel
    spans: int = 0  # became event dicts
    aggregated: int = 0  # counted into metrics
    lost_events: int = 0  # the ring buffer was full: never recorded
    inflight_full: int = 0  # syscalls not joined because the per-thread map was full


class Capture:
    """Capture kernel events of the chosen targets until stopped (or the command exits)."""

    def __init__(
        self,
        *,
        pids: Sequence[int] = (),
        comms: Sequence[str] = (),
        cgroup: str | None = None,
        command: Sequence[str] | None = None,
        types: Iterable[str] | None = None,
        policy: Policy | None = None,
        on_events: Callable[[EventBatch], None] | None = None,
        on_records: Callable[[np.ndarray], None] | None = None,
        exporter: Exporter | None = None,
        output: str | Path | IO[str] | None = None,
        keep_events: bool = True,
        follow_children: bool = True,
        poll_ms: int = 50,
        command_env: dict[str, str] | None = None,
        command_stdout: int | IO[Any] | None = None,
        command_stderr: int | IO[Any] | None = None,
        consumer_nice: int | None = CONSUMER_NICE,
    ) -> None:
        self.types = list(types or events.EVENT_TYPE_NAMES)
        for t in self.types:
            if t not in events.EVENT_TYPE_NAMES:
                raise CaptureError(f"unknown event type {t!r}; choose from {', '.join(events.EVENT_TYPE_NAMES)}")
        self.policy = policy or Policy()
        self.target: Target = make_target(pids, comms, cgroup, command, follow_children)
        self.command = list(command) if command else None
        self.command_env = command_env
        self.command_stdout = command_stdout
        self.command_stderr = command_stderr
        self.consumer_nice = consumer_nice
        self.on_events = on_events
        self.on_records = on_records
        self.exporter = exporter
        self.keep_events = keep_events
        self.poll_ms = poll_ms
        self.events: EventBatch = []
        self.stats = CaptureStats()
        self.aggregates = Aggregates()
        self.resources = ProcessResources()
        self.clock = clock.measure()
        self.decoder = EventDecoder(self.clock.offset_ns)
        self.process: subprocess.Popen[bytes] | None = None
        self.uncaptured_types: list[str] = []
        self._output_arg = output
        self._output: IO[str] | None = None
        self._owns_output = False
        self._programs: loader.LoadedPrograms | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    # -- lifecycle ---------------------------------------------------------
    def __enter__(self) -> Capture:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Capture:
        if self._programs is not None:
            raise CaptureError("this capture is already running")
        programs = loader.acquire()
        self._programs = programs
        try:
            if isinstance(self._output_arg, (str, Path)):
                self._output = open(self._output_arg, "w", encoding="utf-8")  # noqa: SIM115
                self._owns_output = True
            elif self._output_arg is not None:
                self._output = self._output_arg
            self._configure(programs)
            kernel_types = self.policy.kernel_types(self.types)
            self.uncaptured_types = programs.attach(kernel_types)
            self._write_config(programs, stop=0)
            if self.command:
                self.process = self._start_command(programs)
        except BaseException:
            self._release()
            raise
        self._running.set()
        self._thread = threading.Thread(target=self._consume, name="kprobe-capture", daemon=True)
        self._thread.start()
        return self

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the command to exit (if any), then stop; return its exit status."""
        rc = None
        if self.process is not None:
            rc = self.process.wait(timeout)
        self.stop()
        return rc

    def stop(self) -> None:
        """Stop recording, deliver every record taken so far, release the programs."""
        programs = self._programs
        if programs is None:
            return
        try:
            self._write_config(programs, stop=1)
            self._running.clear()
            if self._thread is not None:
                self._thread.join()
            time.sleep(STOP_GRACE_S)  # programs that saw stop=0 finish their record
            self._handle(programs.take())
            self._handle(programs.partial_batches())
            self._handle_records(programs.pending_faults())
            self._read_stats(programs)
            if self.exporter is not None:
                self.exporter.export_metrics(self)
        finally:
            self._release()
        if self._error is not None:
            raise CaptureError(f"capture failed while running: {self._error}") from self._error

    @property
    def running(self) -> bool:
        return self._programs is not None

    def events_of(self, event_type: str, pid: int | None = None) -> EventBatch:
        """Captured events of one type (and pid), in time order."""
        return [e for e in self.events
                if e["event_type"] == event_type and (pid is None or e["pid"] == pid)]

    # -- kernel side ---------------------------------------------------------
    def _configure(self, programs: loader.LoadedPrograms) -> None:
        for name in ("kp_tgids", "kp_comms", "kp_inflight", "kp_offcpu", "kp_faults",
                     "kp_reclaims", "kp_sk_owner"):
            programs.table(name).clear()
        programs.table("kp_stats").clear()
        tgids = programs.table("kp_tgids")
        for pid in self.target.pids:
            tgids[ctypes.c_uint32(pid)] = ctypes.c_uint8(1)
        comms = programs.table("kp_comms")
        for c in self.target.comms:
            key = comms.Key()
            key.c = c.encode()[:15]
            comms[key] = ctypes.c_uint8(1)

    def _write_config(self, programs: loader.LoadedPrograms, stop: int) -> None:
        table = programs.table("kp_cfg")
        cfg = table.Leaf()
        cfg.min_offcpu_ns = self.policy.min_offcpu_ns
        cfg.flush_ns = FLUSH_NS
        cfg.cgroup_id = self.target.cgroup_id
        cfg.self_tgid = os.getpid()
        cfg.mode = self.target.mode
        cfg.cgroup_level = self.target.cgroup_level
        cfg.follow = int(self.target.follow)
        cfg.types = sum(1 << events.EventType[t].value for t in self.policy.kernel_types(self.types))
        cfg.stop = stop
        table[ctypes.c_int(0)] = cfg

    def _start_command(self, programs: loader.LoadedPrograms) -> subprocess.Popen[bytes]:
        """Start the command held at a gate until its pid is in the traced set.

        A small Python waits on the gate pipe, then execs the command in place, so the
        command's pid is traced from its first instruction.
        """
        assert self.command is not None
        if shutil.which(self.command[0]) is None:
            raise CaptureError(f"command not found: {self.command[0]} (give a path or a name on PATH)")
        gate_r, gate_w = os.pipe()
        env = None if self.command_env is None else {**os.environ, **self.command_env}
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _GATE, str(gate_r),
                 *self.command],
                pass_fds=(gate_r,), env=env, stdout=self.command_stdout,
                stderr=self.command_stderr,
            )
        finally:
            os.close(gate_r)
        programs.table("kp_tgids")[ctypes.c_uint32(proc.pid)] = ctypes.c_uint8(1)
        os.write(gate_w, b"\n")
        os.close(gate_w)
        return proc

    def _read_stats(self, programs: loader.LoadedPrograms) -> None:
        table = programs.table("kp_stats")
        lost = table.sum(ctypes.c_int(record.STATS.index("lost_events"))).value
        full = table.sum(ctypes.c_int(record.STATS.index("inflight_full"))).value
        if lost > self.stats.lost_events:
            log.warning("ring buffer full: %d events lost so far (consumer too slow for the rate)",
                        lost)
        self.stats.lost_events, self.stats.inflight_full = lost, full

    def _release(self) -> None:
        programs, self._programs = self._programs, None
        if programs is not None:
            try:
                self._write_config_off(programs)
            finally:
                loader.release(programs)
        if self._owns_output and self._output is not None:
            self._output.close()
        self._output = None

    @staticmethod
    def _write_config_off(programs: loader.LoadedPrograms) -> None:
        table = programs.table("kp_cfg")
        cfg = table.Leaf()
        cfg.mode = MODE_OFF
        table[ctypes.c_int(0)] = cfg

    # -- user side -----------------------------------------------------------
    def _consume(self) -> None:
        programs = self._programs
        assert programs is not None
        self._raise_priority()
        polls = 0
        last_metrics = time.monotonic()
        try:
            while self._running.is_set():
                self._handle(programs.poll(self.poll_ms))
                polls += 1
                if polls % 20 == 0:
                    self._read_stats(programs)
                if self.exporter is not None and time.monotonic() - last_metrics > METRICS_PERIOD_S:
                    last_metrics = time.monotonic()
                    with self._lock:
                        self.exporter.export_metrics(self)
        except BaseException as e:  # surfaced by stop()
            log.exception("capture consumer failed")
            self._error = e

    def _raise_priority(self) -> None:
        """Run the consumer above the workloads it traces, so a busy host does not starve it."""
        if self.consumer_nice is None:
            return
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.consumer_nice)
        except OSError as e:
            log.debug("consumer priority unchanged (%s)", e)

    def _handle(self, chunks: list[bytes]) -> None:
        if chunks:
            self._handle_records(records_from_batches(chunks))

    def _handle_records(self, recs: np.ndarray) -> None:
        if not len(recs):
            return
        with self._lock:
            self.stats.records += len(recs)
            if self.on_records is not None:
                self.on_records(recs)
            spans, metric = self.policy.split(recs)
            if metric.any():
                self.aggregates.add(recs[metric])
                self.stats.aggregated += int(metric.sum())
            chosen = recs[spans]
            chosen = chosen[np.argsort(chosen["ts"], kind="stable")]
            self._observe_processes(chosen)
            evs = self.decoder.events(chosen)
            self.stats.spans += len(evs)
            if self.keep_events:
                self.events.extend(evs)
            if self._output is not None:
                self._output.write("".join(json.dumps(e) + "\n" for e in evs))
            if self.on_events is not None and evs:
                self.on_events(evs)
            if self.exporter is not None and evs:
                self.exporter.export_events(evs, self.resources)

    def _observe_processes(self, recs: np.ndarray) -> None:
        if not len(recs):
            return
        pids, first = np.unique(recs["pid"], return_index=True)
        comms = recs["comm"][first]
        for pid, comm in zip(pids.tolist(), comms.tolist(), strict=True):
            self.resources.observe(pid, self.decoder.comm(comm))
