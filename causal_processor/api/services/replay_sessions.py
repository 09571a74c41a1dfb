"""Replay sessions: lifetime, limits and cleanup, independent of any one RPC.

A session is created (optionally started), runs in a worker thread of its
own through the ReplayRunner, and is watched by any number of streams. The
manager caps how many sessions exist and how many run at once, and removes
finished sessions once their ttl passes (and, at shutdown, cancels the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from kprobe.v1 import replay_pb2

from ..backends import ReplayRunner
from ..errors import failed_precondition, not_found, resource_exhausted

log = logging.getLogger(__name__)

FINAL = frozenset({
    replay_pb2.REPLAY_STATE_SUCCEEDED, replay_pb2.REPLAY_STATE_DIVERGED,
    replay_pb2.REPLAY_STATE_FAILED, replay_pb2.REPLAY_STATE_CANCELLED,
})


@dataclass(frozen=True)
class SessionLimits:
    max_sessions: int = 32       # kept at once, finished ones included
    max_running: int = 2         # ptrace replays are CPU-heavy
    default_ttl_s: int = 600     # how long a finished (or never started) session stays
    max_ttl_s: int = 86_400
    sweep_interval_s: float = 5.0


@dataclass
class _Session:
    msg: replay_pb2.ReplaySession
    ttl_ns: int
    cancel: threading.Event = field(default_factory=threading.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()


class SessionManager:
    def __init__(self, runner: ReplayRunner, limits: SessionLimits | None = None) -> None:
        self._runner = runner
        self.limits = limits or SessionLimits()
        self._sessions: dict[str, _Session] = {}
        self._ids = itertools.count(1)
        self._sweeper: asyncio.Task | None = None

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper:
            self._sweeper.cancel()
        for s in list(self._sessions.values()):
            s.cancel.set()
        tasks = [s.task for s in self._sessions.values() if s.task]
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(t), timeout=5)
        self._sessions.clear()

    def _get(self, session_id: str) -> _Session:
        s = self._sessions.get(session_id)
        if s is None:
            raise not_found(f"unknown replay session {session_id!r} (finished sessions expire after their ttl)")
        return s

    @property
    def running(self) -> int:
        return sum(1 for s in self._sessions.values() if s.msg.state == replay_pb2.REPLAY_STATE_RUNNING)

    async def create(self, req: replay_pb2.CreateReplaySessionRequest, description: str) -> replay_pb2.ReplaySession:
        self.sweep()
        if len(self._sessions) >= self.limits.max_sessions:
            raise resource_exhausted(
                f"{len(self._sessions)} replay sessions exist (limit {self.limits.max_sessions}); delete some")
        ttl = min(req.ttl_seconds or self.limits.default_ttl_s, self.limits.max_ttl_s)
        sid = f"rs-{next(self._ids)}-{secrets.token_hex(4)}"
        now = time.time_ns()
        msg = replay_pb2.ReplaySession(
            session_id=sid, state=replay_pb2.REPLAY_STATE_CREATED, request=req, created_ns=now,
            expires_ns=now + ttl * 1_000_000_000,
            progress=replay_pb2.ReplayProgress(session_id=sid, state=replay_pb2.REPLAY_STATE_CREATED, message=description),
        )
        self._sessions[sid] = _Session(msg, ttl * 1_000_000_000)
        if req.start:
            self._start(self._sessions[sid])
        return msg

    def get(self, session_id: str) -> replay_pb2.ReplaySession:
        return self._get(session_id).msg

    def list(self) -> list[replay_pb2.ReplaySession]:
        self.sweep()
        return [s.msg for s in sorted(self._sessions.values(), key=lambda s: s.msg.created_ns)]

    def control(self, session_id: str, action: int) -> replay_pb2.ReplaySession:
        s = self._get(session_id)
        if action == replay_pb2.REPLAY_ACTION_START:
            if s.msg.state != replay_pb2.REPLAY_STATE_CREATED:
                raise failed_precondition(
                    f"session {session_id} is {replay_pb2.ReplayState.Name(s.msg.state)}; only a CREATED session starts")
            self._start(s)
        elif action == replay_pb2.REPLAY_ACTION_CANCEL:
            if s.msg.state in FINAL:
                raise failed_precondition(f"session {session_id} already finished")
            s.cancel.set()
            if s.msg.state == replay_pb2.REPLAY_STATE_CREATED:
                self._finish(s, replay_pb2.REPLAY_STATE_CANCELLED, None, "cancelled before start")
        return s.msg

    async def delete(self, session_id: str) -> replay_pb2.ReplaySession:
        s = self._get(session_id)
        s.cancel.set()
        if s.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(s.task), timeout=10)
        if s.msg.state not in FINAL:
            self._finish(s, replay_pb2.REPLAY_STATE_CANCELLED, None, "deleted")
        self._sessions.pop(session_id, None)
        return s.msg

    async def watch(self, session_id: str) -> AsyncIterator[replay_pb2.ReplayProgress]:
        s = self._get(session_id)
        while True:
            changed = s.changed
            progress = replay_pb2.ReplayProgress()
            progress.CopyFrom(s.msg.progress)
            yield progress
            if progress.state in FINAL:  # decided on what was sent, not on what changed since
                return
            await changed.wait()

    def _start(self, s: _Session) -> None:
        if self.running >= self.limits.max_running:
            raise resource_exhausted(f"{self.running} replays are running (limit {self.limits.max_running}); retry later")
        s.msg.state = replay_pb2.REPLAY_STATE_RUNNING
        s.msg.started_ns = time.time_ns()
        s.msg.progress.state = replay_pb2.REPLAY_STATE_RUNNING
        s.notify()
        s.task = asyncio.get_running_loop().create_task(self._run(s))

    async def _run(self, s: _Session) -> None:
        loop = asyncio.get_running_loop()
        req = s.msg.request

        def progress(done: int, total: int, message: str) -> None:
            loop.call_soon_threadsafe(self._progress, s, done, total, message)

        try:
            state, outcome, message = await asyncio.to_thread(self._runner.run, req, progress, s.cancel.is_set)
        except Exception as e:
            log.exception("replay session %s failed", s.msg.session_id)
            state, outcome, message = replay_pb2.REPLAY_STATE_FAILED, None, f"replay failed: {e}"
        self._finish(s, state, outcome, message)

    def _progress(self, s: _Session, done: int, total: int, message: str) -> None:
        if s.msg.state in FINAL:
            return
        s.msg.progress.events_replayed = done
        s.msg.progress.events_total = total
        s.msg.progress.message = message
        s.notify()

    def _finish(self, s: _Session, state: int, outcome: replay_pb2.ReplayOutcome | None, message: str) -> None:
        now = time.time_ns()
        s.msg.state = state
        s.msg.finished_ns = now
        s.msg.expires_ns = now + s.ttl_ns
        s.msg.progress.state = state
        s.msg.progress.message = message
        if outcome is not None:
            s.msg.progress.outcome.CopyFrom(outcome)
        s.notify()

    def sweep(self) -> int:
        """Remove sessions past their expiry that are not running; returns how many."""
        now = time.time_ns()
        dead = [sid for sid, s in self._sessions.items()
                if s.msg.state != replay_pb2.REPLAY_STATE_RUNNING and s.msg.expires_ns <= now]
        for sid in dead:
            del self._sessions[sid]
        return len(dead)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.limits.sweep_interval_s)
            self.sweep()
