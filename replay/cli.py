"""`kprobe replay`: record, run, verify, fuzz and inspect recordings."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from typing import Any

from kprobe.cli import UserError
from replay.inject import InjectError
from replay.launch import LaunchError
from replay.recording import Recording, RecordingError
from replay.replayer import Replayer
from replay.session import build_options, record, replay_captured
from replay.syscalls import name_of

DIVERGED_EXIT = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="deterministic record/replay with ptrace")
    rs = p.add_subparsers(dest="replay_command", required=True, metavar="ACTION")

    r = rs.add_parser("record", help="run a command and record its inputs")
    r.add_argument("-o", "--output", required=True, help="recording file to write (0600)")
    r.add_argument("--redact", action="append", default=[], metavar="REGEX",
                   help="replace matching payload bytes with '*' (repeatable)")
    r.add_argument("--inject", action="append", default=[], metavar="RULE",
                   help="strace-style fault/delay injection while recording")
    r.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    r.add_argument("--no-syscall-buffer", "--no-clock-buffer", dest="no_syscall_buffer",
                   action="store_true",
                   help="trace every clock read and socket query (no preloaded library; slower)")
    r.add_argument("--cpu-unbound", action="store_true",
                   help="let the recorded tree run on any CPU (default: one CPU, the tracer on "
                        "the others, as rr does; the tree runs one thread at a time anyway)")
    r.add_argument("cmd", nargs=argparse.REMAINDER, help="command and arguments")
    r.set_defaults(func=_record)

    for name, helptext in (("run", "replay a recording"),
                           ("verify", "replay with changes and report what changed")):
        x = rs.add_parser(name, help=helptext)
        x.add_argument("file")
        _changes(x)
        x.add_argument("--report", metavar="FILE", help="write the outcome as JSON")
        x.set_defaults(func=_run if name == "run" else _verify)

    f = rs.add_parser("fuzz", help="replay with perturbed thread orders; report failing seeds")
    f.add_argument("file")
    f.add_argument("--runs", type=int, default=20)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--report", metavar="FILE")
    f.set_defaults(func=_fuzz)

    st = rs.add_parser("store", help="store a recording in ClickHouse, linked to a transaction")
    st.add_argument("file")
    st.add_argument("--transaction", required=True, metavar="ID")
    st.add_argument("--dsn", help="chdb:///dir or http://host:8123/db (default: the processor's)")
    st.set_defaults(func=_store)
    fe = rs.add_parser("fetch", help="write a transaction's stored recording to a file")
    fe.add_argument("--transaction", required=True, metavar="ID")
    fe.add_argument("-o", "--output", required=True)
    fe.add_argument("--dsn")
    fe.set_defaults(func=_fetch)

    i = rs.add_parser("inspect", help="summarise a recording")
    i.add_argument("file")
    i.add_argument("--events", type=int, default=0, metavar="N", help="also list N events")
    i.set_defaults(func=_inspect)


def _changes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--inject", action="append", default=[], metavar="RULE",
                   help="SET:error=E|retval=N|delay_enter=T|delay_exit=T|truncate=N|cut"
                        "[:when=..][:fd=N][:path=GLOB] (strace --inject syntax)")
    p.add_argument("--env", action="append", default=[], metavar="K=V",
                   help="change an environment variable (fix verification)")
    p.add_argument("--file", dest="replace_files", action="append", default=[], metavar="PATH=LOCAL",
                   help="the program reads LOCAL where the recording has PATH (fix verification)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="the program's clocks run this many times slower (0.5: faster)")
    p.add_argument("--clock-offset", type=float, default=0.0, metavar="SECONDS",
                   help="shift the wall-clock time the program sees")
    p.add_argument("--args", nargs=argparse.REMAINDER, help="replace the recorded argv")
    p.add_argument("--jitter-ms", type=float, default=0.0,
                   help="random tracer delays before each served call (determinism check)")
    p.add_argument("--fuzz-seed", type=int, help="replay one fuzzed thread order")
    p.add_argument("--continue", dest="strict", action="store_false", default=None,
                   help="do not stop at the first divergence")
    p.add_argument("--no-netns", dest="netns", action="store_false",
                   help="do not isolate the replay in a new network namespace")


def _load(path: str) -> Recording:
    try:
        return Recording.load(path)
    except RecordingError as e:
        raise UserError(str(e)) from None


def _options(args: argparse.Namespace, rec: Recording):
    env_changes = {}
    for item in args.env:
        k, sep, v = item.partition("=")
        if not sep:
            raise UserError(f"--env wants K=V, got {item!r}")
        env_changes[k] = v
    files = {}
    for item in args.replace_files:
        path, sep, local = item.partition("=")
        if not sep:
            raise UserError(f"--file wants PATH=LOCAL, got {item!r}")
        try:
            with open(local, "rb") as f:
                files[path] = f.read()
        except OSError as e:
            raise UserError(f"--file {item}: {e.strerror}") from None
    kw: dict[str, Any] = {"jitter_ms": args.jitter_ms, "fuzz_seed": args.fuzz_seed,
                          "isolate_net": args.netns, "files": files,
                          "time_scale": args.time_scale,
                          "clock_offset_ns": int(args.clock_offset * 1e9)}
    if args.strict is not None:
        kw["strict"] = args.strict
    try:
        return build_options(inject=args.inject, env_changes=env_changes or None,
                             argv=args.args or None, rec=rec, **kw)
    except InjectError as e:
        raise UserError(str(e)) from None


def _record(args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        raise UserError("nothing to record: give a command after --")
    try:
        status, summary = record(cmd, args.output, redact=args.redact, inject=args.inject,
                                 syscall_buffer=not args.no_syscall_buffer,
                                 bind_cpu=not args.cpu_unbound)
    except (LaunchError, InjectError, ValueError) as e:
        raise UserError(str(e)) from None
    if not args.quiet:
        print(f"kprobe: recorded {summary['events']} events to {args.output} "
              f"({summary['bytes']} bytes), exit {status}", file=sys.stderr)
    return status


def _write_report(path: str | None, data: dict[str, Any]) -> None:
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, default=str)


def _run(args: argparse.Namespace) -> int:
    rec = _load(args.file)
    opts = _options(args, rec)
    try:
        outcome = Replayer(rec, opts).run()
    except LaunchError as e:
        raise UserError(str(e)) from None
    _write_report(args.report, outcome.as_dict())
    if outcome.divergence is not None and opts.strict:
        print(f"kprobe: replay {outcome.divergence}", file=sys.stderr)
        return DIVERGED_EXIT
    return outcome.exit_status if outcome.exit_status is not None else DIVERGED_EXIT


def _verify(args: argparse.Namespace) -> int:
    rec = _load(args.file)
    opts = _options(args, rec)
    opts.strict = False
    try:
        result = replay_captured(rec, opts)
    except LaunchError as e:
        raise UserError(str(e)) from None
    data = result.as_dict()
    _write_report(args.report, data)
    div = result.replay.divergence
    print(f"exit status: recorded {result.recorded_exit}, replayed {result.replay.exit_status}"
          f" ({'changed' if result.exit_changed else 'unchanged'})")
    print(f"output: {'changed' if result.output_changed else 'unchanged'}")
    print(f"first divergence: {div if div else 'none'}")
    if result.output_changed:
        sys.stdout.write("--- replayed stdout ---\n" + data["stdout"])
        sys.stdout.write("--- replayed stderr ---\n" + data["stderr"])
    return 0


def _fuzz(args: argparse.Namespace) -> int:
    rec = _load(args.file)
    failing = []
    for i in range(args.runs):
        seed = args.seed + i
        opts = build_options(rec=rec, fuzz_seed=seed)
        result = replay_captured(rec, opts)
        bad = result.exit_changed or result.output_changed
        print(f"seed {seed}: {'FAIL' if bad else 'ok'} (exit {result.replay.exit_status})")
        if bad:
            failing.append({"seed": seed, "exit_status": result.replay.exit_status,
                            "stderr": result.stderr.decode("utf-8", "replace")[-400:]})
    _write_report(args.report, {"runs": args.runs, "seed": args.seed, "failing": failing})
    if failing:
        print(f"{len(failing)} failing seed(s); reproduce with: kprobe replay run {args.file} "
              f"--fuzz-seed {failing[0]['seed']}")
        return 1
    return 0


def _store(args: argparse.Namespace) -> int:
    from causal_processor.storage.clickhouse import StorageError
    from replay.store import store_recording

    _load(args.file)
    try:
        rid = store_recording(args.file, args.transaction, args.dsn)
    except StorageError as e:
        raise UserError(str(e)) from None
    print(f"stored recording {rid} for transaction {args.transaction}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from causal_processor.storage.clickhouse import StorageError
    from replay.store import fetch_recording

    try:
        rid = fetch_recording(args.transaction, args.output, args.dsn)
    except (StorageError, LookupError, ValueError) as e:
        raise UserError(str(e)) from None
    print(f"wrote recording {rid} to {args.output}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    rec = _load(args.file)
    m = rec.meta
    counts = Counter(name_of(e.nr) if e.nr >= 0 else "signal" for e in rec.events)
    threads = sorted({e.tid for e in rec.events})
    print(f"recording {args.file}: version {m['version']}, {len(rec.events)} events, "
          f"{len(rec.blobs.blobs)} blobs, {len(threads)} threads")
    print(f"argv: {m['argv']}\ncwd: {m['cwd']}\nkernel: {m.get('kernel')}\n"
          f"exit status: {m.get('exit_status')}\nredacted: {m.get('redacted') or 'nothing'}")
    for path, digest in sorted(m.get("binaries", {}).items()):
        print(f"binary {path} sha256:{digest}")
    print("syscalls: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
    for i, e in enumerate(rec.events[: args.events]):
        print(f"{i:6d} tid {e.tid} {name_of(e.nr)}{tuple(e.args[:3])} = {e.ret} [{e.mode}]"
              + (f" {e.x['path']}" if "path" in e.x else ""))
    return 0
