"""Replay sessions: the Python API behind `kprobe replay` and the kprobe API's ReplayService.

A session is created from a recording plus the changes to apply (injections, env,
args, fuzz seed), runs in its own worker thread (ptrace binds a tracee to the
thread that started it), reports progress while it runs and ends with an outcome
that says whether the replay matched the recording and, if not, where it left it.

    manager = SessionManager()
    s = manager.create("incident.kpr", inject=["fsync:duration=100ms"])
    s.start(); s.wait(); s.outcome  # -> SessionOutcome
"""

from __future__ import annotations

import enum
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from replay.inject import parse_rule
from replay.recorder import Recorder
from replay.recording import Recording, compile_redactions
from replay.replayer import Replayer, ReplayOptions, ReplayOutcome


class State(enum.Enum):
    CREATED = "created"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class SessionOutcome:
    """What the replay did, compared with what was recorded."""

    replay: ReplayOutcome
    stdout: bytes
    stderr: bytes
    recorded_exit: int | None
    recorded_stdout: bytes
    recorded_stderr: bytes

    @property
    def exit_changed(self) -> bool:
        return self.replay.exit_status != self.recorded_exit

    @property
    def output_changed(self) -> bool:
        return self.stdout != self.recorded_stdout or self.stderr != self.recorded_stderr

    @property
    def matches_recording(self) -> bool:
        return not self.exit_changed and not self.output_changed and self.replay.divergence is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "exit_status": self.replay.exit_status, "recorded_exit_status": self.recorded_exit,
            "exit_changed": self.exit_changed, "output_changed": self.output_changed,
            "matches_recording": self.matches_recording,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "replay": self.replay.as_dict(),
        }


def injection_rules(timing: list[dict[str, Any]] = (), failures: list[dict[str, Any]] = ()
                    ) -> list[str]:
    """The ReplayService's TimingInjection/FailureInjection messages (as dicts keyed by the
    proto's field names) in replay.inject's strace-style rule syntax."""
    rules = []
    for t in timing:
        where = _where(t)
        if t.get("set_latency_ns") is not None:
            rules.append(f"{t.get('syscall') or 'write'}:duration={int(t['set_latency_ns'])}ns{where}")
        if t.get("add_latency_ns"):
            rules.append(f"{t.get('syscall') or 'write'}:delay_exit={int(t['add_latency_ns'])}ns{where}")
    for f in failures:
        nth, step = int(f.get("nth") or 0), int(f.get("step") or 0)
        when = "1+" if nth == 0 else f"{nth}+{step}" if step else f"{nth}"
        if f.get("cut_connection"):
            action = "cut"
        elif f.get("truncate_bytes") is not None:
            action = f"truncate={int(f['truncate_bytes'])}"
        elif f.get("error"):
            action = f"error={f['error']}"
        else:
            action = f"retval={int(f.get('retval') or 0)}"
        rules.append(f"{f['syscall']}:{action}:when={when}{_where(f)}")
    return rules


def _where(m: dict[str, Any]) -> str:
    out = f":fd={int(m['fd'])}" if m.get("fd") is not None else ""
    return out + (f":peer={m['peer']}" if m.get("peer") else "")


def recorded_output(rec: Recording) -> tuple[bytes, bytes]:
    out = rec.meta.get("output", {})
    return (rec.data(out["1"]) if "1" in out else b"", rec.data(out["2"]) if "2" in out else b"")


def replay_captured(rec: Recording, opts: ReplayOptions,
                    on_start: Callable[[Replayer], None] | None = None) -> SessionOutcome:
    """Replay with stdout/stderr captured to files, and compare with the recording."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        opts.stdio = (None, out.fileno(), err.fileno())
        replayer = Replayer(rec, opts)
        if on_start is not None:
            on_start(replayer)
        result = replayer.run()
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    rout, rerr = recorded_output(rec)
    return SessionOutcome(result, stdout, stderr, rec.meta.get("exit_status"), rout, rerr)


def build_options(*, inject: list[str] | None = None, env: dict[str, str] | None = None,
                  env_changes: dict[str, str] | None = None, argv: list[str] | None = None,
                  rec: Recording | None = None, **kw: Any) -> ReplayOptions:
    """ReplayOptions from user-level changes; any change to the incident implies non-strict."""
    rules = [parse_rule(r) for r in inject or []]
    if env_changes:
        base = dict(rec.meta["env"]) if rec is not None and env is None else dict(env or {})
        base.update(env_changes)
        env = base
    changed = bool(rules or env is not None or argv or kw.get("fuzz_seed") is not None
                   or kw.get("files") or kw.get("time_scale", 1.0) != 1.0
                   or kw.get("clock_offset_ns"))
    kw.setdefault("strict", not changed)
    return ReplayOptions(inject=rules, env=env, argv=argv, **kw)


@dataclass
class ReplaySession:
    recording_path: str
    options: ReplayOptions
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    transaction_id: str | None = None
    state: State = State.CREATED
    served: int = 0
    total: int = 0
    error: str | None = None
    outcome: SessionOutcome | None = None
    created_at: float = field(default_factory=time.time)
    _thread: threading.Thread | None = None
    _done: threading.Event = field(default_factory=threading.Event)
    _replayer: Replayer | None = None
    _cancelled: bool = False

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("session already started")
        self._thread = threading.Thread(target=self._run, name=f"replay-{self.id}", daemon=True)
        self.state = State.RUNNING
        self._thread.start()

    def _progress(self, served: int, total: int) -> None:
        self.served, self.total = served, total

    def _run(self) -> None:
        try:
            rec = Recording.load(self.recording_path)
            self.total = len(rec.events)
            self.options.progress = self._progress
            self.outcome = replay_captured(rec, self.options, on_start=self._started)
            self.served = self.outcome.replay.events_served
            self.state = State.CANCELLED if self._cancelled else State.DONE
        except Exception as e:  # reported through the session, never lost
            self.error = f"{type(e).__name__}: {e}"
            self.state = State.FAILED
        finally:
            self._done.set()

    def _started(self, replayer: Replayer) -> None:
        self._replayer = replayer
        if self._cancelled:
            replayer.cancel()

    def cancel(self) -> None:
        """Stop a running replay (its tree is killed); a created one never starts."""
        self._cancelled = True
        if self._replayer is not None:
            self._replayer.cancel()
        elif self._thread is None:
            self.state = State.CANCELLED
            self._done.set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def progress(self) -> float:
        return self.served / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "recording": self.recording_path, "state": self.state.value,
            "transaction_id": self.transaction_id, "progress": self.progress,
            "error": self.error, "outcome": self.outcome.as_dict() if self.outcome else None,
        }


class SessionManager:
    """Sessions by id, each with its own lifetime (the API keeps one manager)."""

    def __init__(self) -> None:
        self._sessions: dict[str, ReplaySession] = {}
        self._lock = threading.Lock()

    def create(self, recording_path: str, *, transaction_id: str | None = None,
               inject: list[str] | None = None, env_changes: dict[str, str] | None = None,
               argv: list[str] | None = None, files: dict[str, bytes] | None = None,
               fuzz_seed: int | None = None, time_scale: float = 1.0,
               clock_offset_ns: int = 0, strict: bool | None = None) -> ReplaySession:
        """A session in state CREATED; `inject` takes strace-style rules (replay.inject),
        e.g. the proto's TimingInjection(syscall="fsync", set_latency_ns=1e8) is
        "fsync:duration=100ms" and FailureInjection(error="ECONNRESET", nth=2, step=0)
        is "recvfrom:error=ECONNRESET:when=2"."""
        rec = Recording.load(recording_path)  # fail early, with the recording's own error
        kw: dict[str, Any] = {"fuzz_seed": fuzz_seed, "files": dict(files or {}),
                              "time_scale": time_scale, "clock_offset_ns": clock_offset_ns}
        if strict is not None:
            kw["strict"] = strict
        opts = build_options(inject=inject, env_changes=env_changes, argv=argv, rec=rec, **kw)
        s = ReplaySession(recording_path, opts, transaction_id=transaction_id)
        with self._lock:
            self._sessions[s.id] = s
        return s

    def get(self, session_id: str) -> ReplaySession | None:
        return self._sessions.get(session_id)

    def list(self) -> list[ReplaySession]:
        return list(self._sessions.values())

    def delete(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None


def record(argv: list[str], output: str, *, redact: list[str] | None = None,
           inject: list[str] | None = None, env: dict[str, str] | None = None,
           cwd: str | None = None, syscall_buffer: bool = True,
           bind_cpu: bool = True) -> tuple[int, dict[str, Any]]:
    """Record `argv` into `output`; returns (exit status, summary)."""
    rec = Recorder(list(argv), env=dict(env if env is not None else os.environ),
                   cwd=cwd or os.getcwd(), redact=compile_redactions(redact or []),
                   inject=[parse_rule(r) for r in inject or []],
                   syscall_buffer=syscall_buffer, bind_cpu=bind_cpu)
    result = rec.run()
    result.recording.save(output)
    return result.exit_status, {
        "events": len(result.recording.events), "stops": result.stops,
        "blobs": len(result.recording.blobs.blobs), "seconds": round(result.elapsed_s, 3),
        "bytes": os.path.getsize(output),
    }
