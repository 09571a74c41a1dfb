"""ReplayService on real ptrace recordings: sessions, injections, watch, limits, cleanup."""

from __future__ import annotations

import json
import os
import shutil
import time

import grpc
import pytest
import requests

from causal_processor.api.services.replay_sessions import SessionLimits
from kprobe.v1 import replay_pb2
from tests.api import dataset
from tests.api.clients import Stubs, rpc_error

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="ptrace replay of a recording needs root here")

FINAL = {replay_pb2.REPLAY_STATE_SUCCEEDED, replay_pb2.REPLAY_STATE_DIVERGED,
         replay_pb2.REPLAY_STATE_FAILED, replay_pb2.REPLAY_STATE_CANCELLED}


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> str:
    from replay.session import record

    d = tmp_path_factory.mktemp("recordings")
    status, _ = record(["/bin/echo", "hello-replay"], str(d / "echo.kpr"))
    assert status == 0
    shutil.copy(d / "echo.kpr", d / f"{dataset.FAILED}.kpr")  # the incident's recording, by transaction id
    return str(d)


@pytest.fixture(scope="module")
def api(env, recordings):
    a = env.start_api(recordings=recordings,
                      replay_limits=SessionLimits(max_sessions=4, max_running=1, default_ttl_s=60))
    yield a
    a.stop()


@pytest.fixture(scope="module")
def stubs(api):
    ch = grpc.insecure_channel(f"127.0.0.1:{api.port}")
    yield Stubs(ch)
    ch.close()


def _watch(stubs, sid: str) -> list[replay_pb2.ReplayProgress]:
    return list(stubs.replay.WatchSession(replay_pb2.WatchReplaySessionRequest(session_id=sid), timeout=120))


def _delete_all(stubs) -> None:
    for s in stubs.replay.ListSessions(replay_pb2.ListReplaySessionsRequest()).sessions:
        stubs.replay.DeleteSession(replay_pb2.DeleteReplaySessionRequest(session_id=s.session_id))


def test_replay_of_a_transaction_matches_its_recording(stubs):
    s = stubs.replay.CreateSession(replay_pb2.CreateReplaySessionRequest(transaction_id=dataset.FAILED, start=True))
    assert s.state == replay_pb2.REPLAY_STATE_RUNNING and s.session_id
    updates = _watch(stubs, s.session_id)
    last = updates[-1]
    assert last.state == replay_pb2.REPLAY_STATE_SUCCEEDED and all(u.state not in FINAL for u in updates[:-1])
    assert last.outcome.matches_recording and last.outcome.exit_status == 0
    assert last.outcome.stdout_excerpt == "hello-replay\n"
    assert 0 < last.events_replayed <= last.events_total  # the engine counts the events it served
    got = stubs.replay.GetSession(replay_pb2.GetReplaySessionRequest(session_id=s.session_id))
    assert got.state == replay_pb2.REPLAY_STATE_SUCCEEDED and got.finished_ns >= got.started_ns > 0
    assert got.expires_ns > got.finished_ns
    _delete_all(stubs)


def test_failure_injection_started_later_changes_the_outcome(stubs):
    req = replay_pb2.CreateReplaySessionRequest(recording="echo.kpr")
    req.failures.add(syscall="write", error="EIO", nth=1)
    s = stubs.replay.CreateSession(req)
    assert s.state == replay_pb2.REPLAY_STATE_CREATED
    started = stubs.replay.ControlSession(replay_pb2.ControlReplaySessionRequest(
        session_id=s.session_id, action=replay_pb2.REPLAY_ACTION_START))
    assert started.state == replay_pb2.REPLAY_STATE_RUNNING
    e = rpc_error(stubs.replay.ControlSession, replay_pb2.ControlReplaySessionRequest(
        session_id=s.session_id, action=replay_pb2.REPLAY_ACTION_START))
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    last = _watch(stubs, s.session_id)[-1]
    assert last.state == replay_pb2.REPLAY_STATE_DIVERGED
    assert not last.outcome.matches_recording and last.outcome.exit_status == 1
    assert last.outcome.divergence.expected.startswith("write(1,")
    # watching a finished session yields its final state at once
    assert [u.state for u in _watch(stubs, s.session_id)] == [replay_pb2.REPLAY_STATE_DIVERGED]
    _delete_all(stubs)


def test_limits_cancel_delete_and_expiry(stubs):
    sessions = [stubs.replay.CreateSession(replay_pb2.CreateReplaySessionRequest(recording="echo.kpr", ttl_seconds=1))
                for _ in range(4)]
    e = rpc_error(stubs.replay.CreateSession, replay_pb2.CreateReplaySessionRequest(recording="echo.kpr"))
    assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "limit 4" in e.details()
    cancelled = stubs.replay.ControlSession(replay_pb2.ControlReplaySessionRequest(
        session_id=sessions[0].session_id, action=replay_pb2.REPLAY_ACTION_CANCEL))
    assert cancelled.state == replay_pb2.REPLAY_STATE_CANCELLED
    gone = stubs.replay.DeleteSession(replay_pb2.DeleteReplaySessionRequest(session_id=sessions[1].session_id))
    assert gone.session_id == sessions[1].session_id
    e = rpc_error(stubs.replay.GetSession, replay_pb2.GetReplaySessionRequest(session_id=sessions[1].session_id))
    assert e.code() == grpc.StatusCode.NOT_FOUND
    page = stubs.replay.ListSessions(replay_pb2.ListReplaySessionsRequest(page={"page_size": 2}))
    rest = stubs.replay.ListSessions(replay_pb2.ListReplaySessionsRequest(
        page={"page_size": 2, "page_token": page.next_page_token}))
    assert [s.session_id for s in (*page.sessions, *rest.sessions)] == [
        sessions[0].session_id, sessions[2].session_id, sessions[3].session_id]
    time.sleep(1.2)  # ttl 1 s: never-started and finished sessions expire
    assert stubs.replay.ListSessions(replay_pb2.ListReplaySessionsRequest()).sessions == []


@pytest.mark.parametrize(("req", "code", "reason"), [
    (replay_pb2.CreateReplaySessionRequest(), grpc.StatusCode.INVALID_ARGUMENT, "source is required"),
    (replay_pb2.CreateReplaySessionRequest(recording="../../etc/passwd"), grpc.StatusCode.INVALID_ARGUMENT, "plain file name"),
    (replay_pb2.CreateReplaySessionRequest(recording="missing.kpr"), grpc.StatusCode.NOT_FOUND, "no recording"),
    (replay_pb2.CreateReplaySessionRequest(transaction_id="pay-unknown"), grpc.StatusCode.NOT_FOUND, "pay-unknown"),
    (replay_pb2.CreateReplaySessionRequest(recording="echo.kpr", failures=[{"syscall": "write"}]),
     grpc.StatusCode.INVALID_ARGUMENT, "injects nothing"),
    (replay_pb2.CreateReplaySessionRequest(recording="echo.kpr", failures=[{"syscall": "write", "error": "ENOPE"}]),
     grpc.StatusCode.INVALID_ARGUMENT, "not an errno"),
    (replay_pb2.CreateReplaySessionRequest(recording="echo.kpr", timing=[{"syscall": "write", "peer": "10.0.0.1:5432",
                                                                           "add_latency_ns": 1}]),
     grpc.StatusCode.INVALID_ARGUMENT, "peer"),
], ids=["no-source", "path", "missing", "unknown-txn", "no-action", "errno", "peer"])
def test_bad_sessions(stubs, req, code, reason):
    e = rpc_error(stubs.replay.CreateSession, req)
    assert e.code() == code and reason in e.details()


def test_json_routes_and_ndjson_watch(api, stubs):
    base = f"http://127.0.0.1:{api.port}/api/v1/replay/sessions"
    r = requests.post(base, json={"recording": "echo.kpr", "timing": [{"syscall": "write", "add_latency_ns": "50000000"}]},
                      timeout=30)
    assert r.status_code == 200 and r.json()["state"] == "REPLAY_STATE_CREATED"
    sid = r.json()["session_id"]
    r = requests.post(f"{base}/{sid}/control", json={"action": "REPLAY_ACTION_START"}, timeout=30)
    assert r.json()["state"] == "REPLAY_STATE_RUNNING"
    with requests.get(f"{base}/{sid}/watch", stream=True, timeout=120) as w:
        assert w.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(x) for x in w.iter_lines() if x]
    assert lines[-1]["state"] == "REPLAY_STATE_SUCCEEDED"
    assert lines[-1]["outcome"]["matches_recording"] is True  # a slower write does not change echo's output
    assert int(lines[-1]["outcome"]["duration_ns"]) >= 50_000_000
    assert requests.get(f"{base}/{sid}", timeout=10).json()["state"] == "REPLAY_STATE_SUCCEEDED"
    assert requests.delete(f"{base}/{sid}", timeout=30).status_code == 200
    assert requests.get(f"{base}/{sid}", timeout=10).status_code == 404
