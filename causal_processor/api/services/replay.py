"""ReplayService: sessions over the replay engine (see replay_sessions)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from kprobe.v1 import replay_pb2

from .. import paging
from ..backends import Backends
from ..errors import invalid_argument
from .convert import require_id
from .replay_sessions import SessionLimits, SessionManager

_ACTIONS = (replay_pb2.REPLAY_ACTION_START, replay_pb2.REPLAY_ACTION_CANCEL)


class ReplayApi:
    service = replay_pb2.DESCRIPTOR.services_by_name["ReplayService"]

    def __init__(self, backends: Backends, limits: SessionLimits | None = None) -> None:
        self._b = backends
        self._limits = limits
        self._manager: SessionManager | None = None

    def sessions(self) -> SessionManager:
        if self._manager is None:
            self._manager = SessionManager(self._b.need("replay"), self._limits)
            self._manager.start()
        return self._manager

    async def close(self) -> None:
        if self._manager is not None:
            await self._manager.close()

    async def CreateSession(self, req: replay_pb2.CreateReplaySessionRequest) -> replay_pb2.ReplaySession:
        which = req.WhichOneof("source")
        if which is None:
            raise invalid_argument("source is required: transaction_id or recording")
        require_id(which, getattr(req, which))
        for i, t in enumerate(req.timing):
            if t.time_scale < 0:
                raise invalid_argument(f"timing[{i}].time_scale must not be negative")
        for i, f in enumerate(req.failures):
            if not (f.error or f.HasField("retval") or f.cut_connection or f.HasField("truncate_bytes")):
                raise invalid_argument(f"failures[{i}] injects nothing: set error, retval, cut_connection or truncate_bytes")
        manager = self.sessions()
        description = await self._b.blocking(self._b.need("replay").resolve, req)
        return await manager.create(req, description)

    async def GetSession(self, req: replay_pb2.GetReplaySessionRequest) -> replay_pb2.ReplaySession:
        return self.sessions().get(require_id("session_id", req.session_id))

    async def ListSessions(self, req: replay_pb2.ListReplaySessionsRequest) -> replay_pb2.ListReplaySessionsResponse:
        size = paging.page_size(req.page)
        offset = paging.offset("sessions", req.page.page_token)
        all_sessions = self.sessions().list()
        out = replay_pb2.ListReplaySessionsResponse(sessions=all_sessions[offset:offset + size])
        if len(all_sessions) > offset + size:
            out.next_page_token = paging.offset_token("sessions", offset + size)
        return out

    async def ControlSession(self, req: replay_pb2.ControlReplaySessionRequest) -> replay_pb2.ReplaySession:
        if req.action not in _ACTIONS:
            raise invalid_argument("action must be REPLAY_ACTION_START or REPLAY_ACTION_CANCEL")
        return self.sessions().control(require_id("session_id", req.session_id), req.action)

    async def WatchSession(self, req: replay_pb2.WatchReplaySessionRequest) -> AsyncIterator[replay_pb2.ReplayProgress]:
        async for p in self.sessions().watch(require_id("session_id", req.session_id)):
            yield p

    async def DeleteSession(self, req: replay_pb2.DeleteReplaySessionRequest) -> replay_pb2.ReplaySession:
        return await self.sessions().delete(require_id("session_id", req.session_id))
