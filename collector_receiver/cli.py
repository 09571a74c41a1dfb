"""`kprobe capture`: record kernel events of a process, a command, a cgroup, or everything."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any

from collector_receiver.capture import Capture
from collector_receiver.errors import CaptureError
from collector_receiver.policy import MODES, Policy
from kprobe import events

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "capture",
        help="capture kernel events with eBPF (JSONL and/or OTLP spans)",
        description="Capture kernel events of the targets with eBPF tracepoints. "
        "Without a target, every process except kprobe itself is traced. "
        "`kprobe capture [options] -- COMMAND ARGS` starts COMMAND and follows it "
        "and its children until it exits.",
    )
    p.add_argument("--pid", type=int, action="append", default=[], help="trace this process (repeatable)")
    p.add_argument("--comm", action="append", default=[], help="trace threads with this name (repeatable)")
    p.add_argument("--cgroup", help="trace tasks in this cgroup directory")
    p.add_argument("--types", help=f"comma-separated event types (default all): {','.join(events.EVENT_TYPE_NAMES)}")
    p.add_argument("--output", "-o", help="write one JSON event per line to this file")
    p.add_argument("--otlp-endpoint", help="export spans over OTLP (default: OTEL_EXPORTER_OTLP_* variables)")
    p.add_argument("--otlp-protocol", choices=("grpc", "http/protobuf"), help="OTLP protocol")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--min-offcpu-us", type=int, default=100, help="shortest off-CPU interval recorded (µs)")
    p.add_argument("--policy", action="append", default=[], metavar="TYPE=MODE",
                   help=f"emission mode of a type, MODE one of {', '.join(MODES)} (repeatable)")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS to start and follow")
    p.set_defaults(func=run)


def _policy(args: argparse.Namespace) -> Policy:
    modes = {}
    for item in args.policy:
        t, _, m = item.partition("=")
        modes[t] = m
    try:
        return Policy(min_offcpu_ns=args.min_offcpu_us * 1000).with_modes(**modes)
    except ValueError as e:
        raise CaptureError(f"--policy: {e}") from e


def _exporter(args: argparse.Namespace) -> Any:
    from collector_receiver.exporter import OtlpExporter, endpoint_configured

    if args.otlp_endpoint or endpoint_configured():
        return OtlpExporter(endpoint=args.otlp_endpoint, protocol=args.otlp_protocol)
    return None


def run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    types = [t.strip() for t in args.types.split(",")] if args.types else None
    exporter = _exporter(args)
    if not args.output and exporter is None:
        log.debug("no --output or OTLP endpoint: printing a summary only")
    cap = Capture(
        pids=args.pid, comms=args.comm, cgroup=args.cgroup, command=command or None,
        types=types, policy=_policy(args), output=args.output, exporter=exporter,
        keep_events=False,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    rc = 0
    cap.start()
    try:
        if cap.process is not None:
            proc = cap.process

            def wait_command() -> None:
                proc.wait()
                done.set()

            threading.Thread(target=wait_command, daemon=True).start()
        done.wait(args.duration)
    except KeyboardInterrupt:
        pass
    finally:
        cap.stop()
        if exporter is not None:
            exporter.shutdown()
    if cap.process is not None and cap.process.returncode is not None:
        rc = cap.process.returncode
    s = cap.stats
    print(
        f"kprobe capture: {s.records} records, {s.spans} span events, {s.aggregated} aggregated, "
        f"{s.lost_events} lost", file=sys.stderr,
    )
    return rc
