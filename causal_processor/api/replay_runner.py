"""The replay engine (replay/) as the API's ReplayRunner.

Recordings are looked up by name in one directory the server owns (never
an arbitrary path from a request): `recording` is a file name in it, and a
transaction's recording is `<transaction_id>.kpr`. The proto's injections
become the engine's strace-style rules; what the engine cannot do (match a
peer address, shift the clock, overlay files) is refused with
INVALID_ARGUMENT rather than silently ignored.
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

from kprobe.v1 import replay_pb2

from .errors import invalid_argument, not_found

SUFFIX = ".kpr"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,200}")


class _Cancelled(Exception):
    pass


def _when(nth: int, step: int) -> str | None:
    if nth == 0:
        return "1+" if step == 0 else f"1+{step}"  # every call
    return f"{nth}+{step}" if step else str(nth)


def rules(req: replay_pb2.CreateReplaySessionRequest) -> tuple[list[str], float]:
    """(injection rules, time scale) for the engine; INVALID_ARGUMENT on what it cannot do."""
    out: list[str] = []
    scale = 1.0
    for i, t in enumerate(req.timing):
        where = f"timing[{i}]"
        if t.peer or t.clock_offset_ns:
            raise invalid_argument(f"{where}: peer and clock_offset_ns are not supported by the replay engine")
        if t.time_scale:
            scale = t.time_scale
        acts = []
        if t.add_latency_ns:
            acts.append(f"delay_exit={t.add_latency_ns}ns")
        if t.HasField("set_latency_ns"):
            acts.append(f"duration={t.set_latency_ns}ns")
        if acts:
            if not t.syscall:
                raise invalid_argument(f"{where}: syscall is required for a latency change")
            out.append(":".join([t.syscall, *acts, *([f"fd={t.fd}"] if t.HasField("fd") else [])]))
    for i, f in enumerate(req.failures):
        where = f"failures[{i}]"
        if not f.syscall:
            raise invalid_argument(f"{where}: syscall is required")
        if f.peer:
            raise invalid_argument(f"{where}: peer is not supported by the replay engine")
        acts = []
        if f.error:
            if not hasattr(errno, f.error):
                raise invalid_argument(f"{where}: {f.error!r} is not an errno name")
            acts.append(f"error={f.error}")
        if f.HasField("retval"):
            acts.append(f"retval={f.retval}")
        if f.cut_connection:
            acts.append("cut")
        if f.HasField("truncate_bytes"):
            acts.append(f"truncate={f.truncate_bytes}")
        parts = [f.syscall, *acts, f"when={_when(f.nth, f.step)}"]
        if f.HasField("fd"):
            parts.append(f"fd={f.fd}")
        out.append(":".join(parts))
    return out, scale


class RecordingLibrary:
    """ReplayRunner over the recordings in one directory."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path_of(self, req: replay_pb2.CreateReplaySessionRequest) -> Path:
        which = req.WhichOneof("source")
        name = req.recording if which == "recording" else f"{req.transaction_id}{SUFFIX}"
        if not _NAME.fullmatch(name) or name.startswith("."):
            raise invalid_argument(f"{which} {name!r}: a recording is named by a plain file name "
                                   f"in the server's recordings directory")
        path = self.directory / name
        if not path.is_file():
            what = f"transaction {req.transaction_id!r}" if which == "transaction_id" else f"recording {name!r}"
            raise not_found(f"no recording for {what} in {self.directory}")
        return path

    def resolve(self, req: replay_pb2.CreateReplaySessionRequest) -> str:
        from replay.inject import InjectError, parse_rule
        from replay.recording import Recording, RecordingError

        path = self.path_of(req)
        texts, _ = rules(req)
        if req.config.files:
            raise invalid_argument("config.files is not supported by the replay engine")
        try:
            for t in texts:
                parse_rule(t)
        except InjectError as e:
            raise invalid_argument(str(e)) from None
        try:
            rec = Recording.load(str(path))
        except RecordingError as e:
            raise invalid_argument(str(e)) from None
        return f"{path.name}: {len(rec.events)} recorded events, {len(texts)} injection rule(s)"

    def run(self, req: replay_pb2.CreateReplaySessionRequest, progress: Callable[[int, int, str], None],
            cancelled: Callable[[], bool]) -> tuple[int, replay_pb2.ReplayOutcome | None, str]:
        from replay.recording import Recording
        from replay.session import build_options, replay_captured

        path = self.path_of(req)
        texts, scale = rules(req)
        rec = Recording.load(str(path))

        def on_progress(done: int, total: int) -> None:
            if cancelled():
                raise _Cancelled
            progress(done, total, "replaying")

        opts = build_options(inject=texts, env_changes=dict(req.config.env) or None,
                             argv=list(req.config.argv) or None, rec=rec,
                             fuzz_seed=req.fuzz_seed if req.HasField("fuzz_seed") else None,
                             time_scale=scale, progress=on_progress)
        try:
            res = replay_captured(rec, opts)
        except _Cancelled:
            return replay_pb2.REPLAY_STATE_CANCELLED, None, "cancelled"
        r = res.replay
        progress(r.events_served, r.events_total, "finished")
        out = replay_pb2.ReplayOutcome(
            exit_status=r.exit_status if r.exit_status is not None else -1,
            recorded_exit_status=res.recorded_exit if res.recorded_exit is not None else -1,
            matches_recording=res.matches_recording,
            duration_ns=int(r.elapsed_s * 1e9),
        )
        has_payload = bool(res.recorded_stdout or res.recorded_stderr)
        if has_payload:  # output is payload: only shown when the recording holds payload
            out.stdout_excerpt = res.stdout[:1024].decode("utf-8", "replace")
            out.stderr_excerpt = res.stderr[:1024].decode("utf-8", "replace")
        if r.divergence is not None:
            d = r.divergence
            out.divergence.CopyFrom(replay_pb2.Divergence(
                event_index=d.index if d.index is not None else r.events_total,
                syscall=d.reason, expected=d.expected, actual=d.actual))
            return replay_pb2.REPLAY_STATE_DIVERGED, out, str(d)
        summary = "matches the recording" if res.matches_recording else "outcome changed: " + ", ".join(
            w for w, c in (("exit status", res.exit_changed), ("output", res.output_changed)) if c)
        return replay_pb2.REPLAY_STATE_SUCCEEDED, out, summary
