"""Changing the incident: mutated/deleted events, injected faults, fuzzed thread orders."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from replay_helpers import CORPUS, KPROBE, PY, kprobe, needs_tracing

from replay.recording import Recording
from replay.replayer import ReplayOptions
from replay.session import build_options, record, replay_captured
from replay.syscalls import NR

pytestmark = needs_tracing


def _inputs(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("amount=100\n")
    b.write_text("beta\n")
    return [str(a), str(b), str(a)]


def test_mutating_one_recorded_byte_changes_the_output_where_predicted(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    status, _ = record([cbin["openfiles"], *files], path)
    assert status == 0
    rec = Recording.load(path)
    read = next(e for e in rec.events if e.nr == NR["read"] and e.mode == "e"
                and b"amount=100" in rec.data(e.outs[0][2]))
    data = bytearray(rec.data(read.outs[0][2]))
    data[data.index(b"1")] = ord("9")
    read.outs[0][2] = "x:" + bytes(data).hex()
    rec.save(path)
    for f in files:  # the inputs are gone: everything comes from the recording
        (tmp_path / f).unlink(missing_ok=True)
    got = replay_captured(Recording.load(path), ReplayOptions())
    lines = got.stdout.decode().splitlines()
    assert lines[0] == f"{files[0]}: 11 bytes: amount=900"  # the mutated read
    assert lines[2] == f"{files[2]}: 11 bytes: amount=100"  # the second read of a.txt is untouched
    assert got.replay.divergence is None and got.replay.exit_status == 0


def test_deleting_an_event_is_reported_at_that_event(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path)
    rec = Recording.load(path)
    idx = next(i for i, e in enumerate(rec.events)
               if e.nr == NR["openat"] and e.x.get("path") == files[1])
    deleted = rec.events.pop(idx)
    rec.save(path)
    got = kprobe("replay", "run", path, "--report", str(tmp_path / "r.json"))
    assert got.returncode == 3
    report = json.loads((tmp_path / "r.json").read_text())
    div = report["divergence"]
    assert div["index"] == idx
    assert div["actual"].startswith("openat(") and files[1] in div["actual"]
    assert not div["expected"].startswith("openat(") or deleted.x["path"] not in div["expected"]
    assert f"diverged at event {idx}" in got.stderr.decode()


def test_injected_errors_match_strace_inject(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path)
    # openat #1 and #2 are the loader's (ld.so.cache, libc); #4 is the program's b.txt
    for rule in ("openat:error=EACCES:when=4", "openat:error=ENOENT:when=3+2",
                 "read:error=EIO:when=2", "openat:retval=-1:when=3"):
        live = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", f"--inject={rule}",
                               cbin["openfiles"], *files], capture_output=True, timeout=30)
        got = kprobe("replay", "run", path, "--inject", rule)
        assert (got.returncode, got.stdout) == (live.returncode, live.stdout), rule
        assert got.stdout != b"" and live.returncode != 0


def test_truncated_read_and_cut_connection(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path)
    rec = Recording.load(path)
    got = replay_captured(rec, build_options(inject=["read:truncate=3:when=2"], rec=rec))
    assert got.stdout.decode().splitlines()[0] == f"{files[0]}: 3 bytes: amo"
    got = replay_captured(rec, build_options(inject=["read:cut:when=2"], rec=rec))
    assert got.stdout.decode().splitlines()[0] == f"{files[0]}: 0 bytes: "


def test_corrupt_and_hostile_recordings_get_one_line_errors(tmp_path):
    bad = tmp_path / "bad.kpr"
    bad.write_bytes(b"\x00garbage")
    got = kprobe("replay", "run", str(bad))
    assert got.returncode == 2 and got.stderr.decode().count("\n") == 1
    assert "not a kprobe recording" in got.stderr.decode()
    import zipfile
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("recording.json", json.dumps({"format": "kprobe-replay", "version": 99}))
        z.writestr("events.jsonl", "")
    got = kprobe("replay", "inspect", str(bad))
    assert got.returncode == 2 and "version 99" in got.stderr.decode()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("recording.json", json.dumps({
            "format": "kprobe-replay", "version": 1, "argv": ["/bin/true"], "env": {},
            "cwd": "/", "root_tid": 1}))
        z.writestr("events.jsonl", '{"i":1,"n":0,"a":[0,0,0],"r":3,"o":[["a",1,"b:00"]]}\n')
    got = kprobe("replay", "run", str(bad))
    assert got.returncode == 2 and "points at nothing" in got.stderr.decode()


def test_recordings_are_owner_only(cbin, tmp_path):
    path = tmp_path / "n.kpr"
    record([cbin["nondet"]], str(path))
    assert path.stat().st_mode & 0o777 == 0o600


def test_redaction_rule_removes_payload_bytes(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path, redact=[r"amount=\d+"])
    rec = Recording.load(path)
    blobs = b"".join(rec.data(o[2]) for e in rec.events for o in e.outs if o[0] == "a")
    assert b"amount=100" not in blobs and b"**********" in blobs
    assert rec.meta["redacted"] == [r"amount=\d+"]


def test_race_fails_for_some_fuzz_seed_and_that_seed_fails_ten_times(tmp_path):
    path = str(tmp_path / "race.kpr")
    status, _ = record([PY, str(CORPUS / "race.py")], path)
    rec = Recording.load(path)
    assert status == 0 and rec.data(rec.meta["output"]["1"]) == b"timeout 750\n"
    got = kprobe("replay", "fuzz", path, "--runs", "12", "--seed", "1",
                 "--report", str(tmp_path / "f.json"))
    report = json.loads((tmp_path / "f.json").read_text())
    assert got.returncode == 1 and report["failing"], got.stdout
    seed = report["failing"][0]["seed"]
    for _ in range(10):
        out = replay_captured(rec, build_options(rec=rec, fuzz_seed=seed))
        assert b"TypeError: 'NoneType' object is not subscriptable" in out.stderr
        assert out.stdout == b""


def test_sandbox_keeps_replays_from_writing(tmp_path):
    """On script a write-open is a /dev/null placeholder; off script (changed args) writes
    outside the scratch directory are refused. Either way nothing lands on disk."""
    target, other = tmp_path / "a.log", tmp_path / "b.log"
    path = str(tmp_path / "w.kpr")
    status, _ = record([PY, str(CORPUS / "write_file.py"), str(target)], path)
    assert status == 0 and target.read_text() == "ledger entry\n"
    target.unlink()
    rec = Recording.load(path)
    same = replay_captured(rec, ReplayOptions())
    assert same.stdout == f"wrote {target}\n".encode() and not target.exists()
    changed = replay_captured(rec, build_options(
        rec=rec, argv=[PY, str(CORPUS / "write_file.py"), str(other)]))
    assert changed.replay.divergence is not None
    assert changed.stdout == b"refused: Permission denied\n" and not other.exists()


def test_config_file_replaced_for_fix_verification(cbin, tmp_path):
    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path)
    fixed = tmp_path / "fixed.txt"
    fixed.write_text("amount=250\n")
    got = kprobe("replay", "verify", path, "--file", f"{files[1]}={fixed}",
                 "--report", str(tmp_path / "v.json"))
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["output_changed"] and report["stdout"].splitlines()[1] == \
        f"{files[1]}: 11 bytes: amount=250"
    assert f"{files[1]} is replaced" in report["replay"]["divergence"]["reason"]
    assert "output: changed" in got.stdout.decode()


def test_virtual_clock_offset_and_scale(cbin, tmp_path):
    path = str(tmp_path / "n.kpr")
    record([cbin["nondet"]], path)
    rec = Recording.load(path)
    base = replay_captured(rec, ReplayOptions()).stdout.decode().split()
    moved = replay_captured(rec, ReplayOptions(clock_offset_ns=3600 * 10**9, strict=False))
    moved_words = moved.stdout.decode().split()
    # "time S.NS mono S.NS pid ..." : the wall clock moved one hour, the monotonic did not
    assert float(moved_words[1]) - float(base[1]) == 3600.0
    assert moved_words[3] == base[3]


def test_session_api_lifetime_progress_outcome(cbin, tmp_path):
    from replay.session import SessionManager, State

    files = _inputs(tmp_path)
    path = str(tmp_path / "o.kpr")
    record([cbin["openfiles"], *files], path)
    manager = SessionManager()
    s = manager.create(path, transaction_id="pay-1",
                       inject=["openat:error=ENOENT:when=3"])
    assert s.state is State.CREATED and manager.get(s.id) is s
    s.start()
    assert s.wait(60)
    assert s.state is State.DONE and s.progress > 0
    out = s.as_dict()["outcome"]
    assert out["exit_changed"] and out["stdout"].startswith(f"open {files[0]}: No such file")
    assert out["replay"]["divergence"]["actual"].startswith("injected openat:error=ENOENT")
    cancelled = manager.create(path)
    cancelled.cancel()
    assert cancelled.state is State.CANCELLED and cancelled.wait(1)
    assert manager.delete(s.id) and manager.get(s.id) is None


def test_recording_stored_in_clickhouse_linked_to_transaction(cbin, tmp_path):
    path = str(tmp_path / "n.kpr")
    record([cbin["nondet"]], path)
    dsn = f"chdb://{tmp_path}/ch"
    got = kprobe("replay", "store", path, "--transaction", "pay-42", "--dsn", dsn)
    assert got.returncode == 0, got.stderr
    back = str(tmp_path / "back.kpr")
    got = kprobe("replay", "fetch", "--transaction", "pay-42", "-o", back, "--dsn", dsn)
    assert got.returncode == 0, got.stderr
    assert (tmp_path / "back.kpr").read_bytes() == (tmp_path / "n.kpr").read_bytes()
    assert (tmp_path / "back.kpr").stat().st_mode & 0o777 == 0o600
    missing = kprobe("replay", "fetch", "--transaction", "nope", "-o", back, "--dsn", dsn)
    assert missing.returncode == 2 and "no recording linked" in missing.stderr.decode()


def test_changed_program_against_recorded_inputs(tmp_path):
    """Fix verification with a changed program: the script is the program's own code (read
    from disk in replay), its inputs still come from the recording."""
    data = tmp_path / "amounts.txt"
    data.write_text("100\n250\n")
    script = tmp_path / "total.py"
    script.write_text(f"print('total', sum(int(x) for x in open({str(data)!r})))\n")
    path = str(tmp_path / "t.kpr")
    status, _ = record([PY, str(script)], path)
    assert status == 0
    data.unlink()  # the input is gone; the recording has it
    script.write_text(f"print('total', sum(int(x) for x in open({str(data)!r})) * 2)\n")
    rec = Recording.load(path)
    got = replay_captured(rec, build_options(rec=rec, strict=False))
    assert got.stdout == b"total 700\n" and got.recorded_stdout == b"total 350\n"
    assert str(script) in got.replay.code_changed


def test_missing_privileges_are_named(cbin, tmp_path):
    import shutil
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="kprobe-replay-test-"))  # reachable by nobody
    shared.chmod(0o755)
    try:
        _run_as_nobody(cbin, shared)
    finally:
        shutil.rmtree(shared)


def _run_as_nobody(cbin, where) -> None:
    import shutil

    exe = where / "nondet"
    shutil.copy(cbin["nondet"], exe)
    exe.chmod(0o755)
    path = where / "n.kpr"
    record([str(exe)], str(path))
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    got = subprocess.run([*nobody, *KPROBE, "run", str(path)], capture_output=True,
                         timeout=60, cwd="/")
    assert got.returncode == 2
    assert "recordings are owner-only" in got.stderr.decode()
    path.chmod(0o644)
    got = subprocess.run([*nobody, *KPROBE, "run", str(path)], capture_output=True,
                         timeout=60, cwd="/")
    assert got.returncode == 2 and got.stderr.decode().count("\n") == 1
    assert "CAP_SYS_ADMIN" in got.stderr.decode()
