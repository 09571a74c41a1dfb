"""Receiver speed and overhead, each beside a baseline measured in the same run.

    .venv/bin/python bench/receiver/bench_receiver.py [--syscalls 1000000] [--write BENCHMARKS.md]

Workload: `dd if=/dev/zero of=/dev/null bs=1 count=N` (one read + one write per
byte, C speed); dd reports its own elapsed time, so every variant is timed the
same way. Variants: no tracing; kprobe capture of dd's SyscallRead/SyscallWrite
(every syscall a record through the ring buffer, decoded with numpy, counted
exactly); bcc's `syscount-bpfcc` (in-kernel counting, nothing per event to user
space); `perf trace -e read,write` (per-event perf buffer, like strace).
Then the Python costs per event: records -> event dicts, and events -> OTLP
request (kprobe.otlp) beside the OTel SDK's own encoder on the same spans.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from collector_receiver import Capture, Policy, decode
from kprobe import otlp

DD_TIME = re.compile(r"copied, ([0-9.]+) s")
CPU_TIME = re.compile(r"^dd-cpu ([0-9.]+)$", re.M)
# Runs dd and reports dd's own CPU time (user + system, where the BPF programs run):
# unlike wall time it does not depend on how busy the shared machine is.
WRAP = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
        "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
        "print(f'dd-cpu {r.ru_utime + r.ru_stime:.6f}', file=sys.stderr)")


def dd_cmd(n: int) -> list[str]:
    return [sys.executable, "-c", WRAP, "dd", "if=/dev/zero", "of=/dev/null", "bs=1", f"count={n}"]


def dd_times(stderr: str) -> tuple[float, float]:
    """(wall, cpu) seconds of dd from the wrapper's stderr."""
    cpu = CPU_TIME.search(stderr)
    if not cpu:
        raise RuntimeError(f"dd did not report its time: {stderr!r}")
    return dd_seconds(stderr), float(cpu.group(1))


def dd_seconds(stderr: str) -> float:
    m = DD_TIME.search(stderr)
    if not m:
        raise RuntimeError(f"dd did not report its time: {stderr!r}")
    return float(m.group(1))


def run_plain(n: int) -> tuple[float, float]:
    r = subprocess.run(dd_cmd(n), capture_output=True, text=True, check=True)
    return dd_times(r.stderr)


def run_kprobe(command: list[str], keep: list[np.ndarray]) -> dict:
    """Capture dd's syscalls as aggregated records; time, count, loss and receiver CPU."""
    errf = Path(f"/tmp/kprobe-bench-dd-{os.getpid()}.err")
    policy = Policy().with_modes(SyscallRead="metric", SyscallWrite="metric")
    kept = 0
    span = [2**64, 0]

    def sample(recs: np.ndarray) -> None:
        nonlocal kept
        if len(recs):
            span[0] = min(span[0], int(recs["ts"].min()))
            span[1] = max(span[1], int(recs["ts"].max()))
        if kept < 200_000:
            keep.append(recs.copy())
            kept += len(recs)

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    with errf.open("w") as err, Capture(command=command, types=["SyscallRead", "SyscallWrite"],
                                       policy=policy, keep_events=False, on_records=sample,
                                       command_stderr=err) as cap:
        cap.wait(timeout=600)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    err_text = errf.read_text()
    secs = [float(x) for x in DD_TIME.findall(err_text)]
    cpu_dd = CPU_TIME.search(err_text)
    errf.unlink()
    counted = sum(c.count for c in cap.aggregates.counters.values())
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return {"seconds": max(secs, default=0.0),
            "dd_cpu": float(cpu_dd.group(1)) if cpu_dd else 0.0, "records": cap.stats.records, "dd_records": counted,
            "lost": cap.stats.lost_events, "window": (span[1] - span[0]) / 1e9,
            "cpu_ns_per_event": cpu / max(cap.stats.records, 1) * 1e9}


def run_syscount(n: int) -> tuple[float, float] | None:
    tool = shutil.which("syscount-bpfcc")
    if not tool:
        return None
    p = subprocess.Popen([tool], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert p.stdout is not None
    while "Tracing" not in (line := p.stdout.readline()):
        if not line:
            raise RuntimeError("syscount-bpfcc exited before tracing")
    try:
        return run_plain(n)
    finally:
        p.send_signal(signal.SIGINT)
        p.communicate(timeout=30)


def run_perf_trace(n: int) -> tuple[float, float] | None:
    if not shutil.which("perf"):
        return None
    r = subprocess.run(["perf", "trace", "-e", "read,write", "-o", "/dev/null", "--", *dd_cmd(n)],
                       capture_output=True, text=True)
    return dd_times(r.stderr)


def _best(runs: list[tuple[float, float] | None]) -> tuple[float, float] | None:
    """The run with the least dd CPU time (the least disturbed by other work)."""
    done = [r for r in runs if r is not None]
    return min(done, key=lambda r: r[1]) if done else None


def python_costs(recs: np.ndarray) -> dict:
    dec = decode.EventDecoder(0)
    t = time.perf_counter()
    evs = dec.events(recs)
    per_dict = (time.perf_counter() - t) / len(evs)
    evs = evs[:20_000]
    t = time.perf_counter()
    otlp.events_to_request(evs, {}).SerializeToString()
    per_ours = (time.perf_counter() - t) / len(evs)
    per_sdk = sdk_encode_cost(evs)
    return {"decode_us": per_dict * 1e6, "otlp_us": per_ours * 1e6, "sdk_us": per_sdk * 1e6}


def sdk_encode_cost(evs: list[dict]) -> float:
    """The OTel SDK path: a ReadableSpan per event, encoded by the official OTLP encoder."""
    from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import encode_spans
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, SpanKind

    resource = Resource.create({"process.pid": evs[0]["pid"]})
    t = time.perf_counter()
    spans = []
    for ev in evs:
        sid = ev["event_id"]
        attrs = {f"kprobe.{k}": v for k, v in ev.items()
                 if k not in ("financial_context", "timestamp_ns", "duration_ns", "event_id")}
        spans.append(ReadableSpan(
            name=ev["event_type"], context=SpanContext(sid, sid, False), kind=SpanKind.INTERNAL,
            resource=resource, attributes=attrs, start_time=ev["timestamp_ns"],
            end_time=ev["timestamp_ns"] + ev["duration_ns"],
        ))
    encode_spans(spans).SerializeToString()
    return (time.perf_counter() - t) / len(evs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--syscalls", type=int, default=1_000_000, help="dd iterations (2 syscalls each)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per variant (best kept)")
    ap.add_argument("--write", help="update the `## receiver` section of this BENCHMARKS.md")
    args = ap.parse_args()
    n = args.syscalls
    sampled: list[np.ndarray] = []
    run_kprobe(["true"], [])  # compile and load once, outside the measurements
    plain = _best([run_plain(n) for _ in range(args.repeat)])
    ours_runs = [run_kprobe(dd_cmd(n), sampled) for _ in range(args.repeat)]
    ours = _best([(r["seconds"], r["dd_cpu"]) for r in ours_runs])
    both = " & ".join(" ".join(dd_cmd(n)[3:]) for _ in range(2)) + "; wait"
    flood_runs = [run_kprobe(["sh", "-c", both], []) for _ in range(args.repeat)]
    flood = max(flood_runs, key=lambda r: r["records"] / r["window"])
    syscount = _best([run_syscount(n) for _ in range(args.repeat)])
    perf = _best([run_perf_trace(n) for _ in range(args.repeat)])
    costs = python_costs(np.concatenate(sampled)[:100_000])
    calls = 2 * n

    def row(name: str, t: tuple[float, float] | None) -> str:
        if t is None:
            return f"| {name} | n/a | n/a | n/a | n/a |"
        wall, cpu = t
        return (f"| {name} | {wall:.3f} s | {cpu:.3f} s | "
                f"**{cpu / plain[1]:.2f}x** | {(cpu - plain[1]) / calls * 1e9:.0f} ns |")

    one_lost = sum(r["lost"] for r in ours_runs)
    exact = all(r["dd_records"] >= calls for r in ours_runs)
    best_one = max(ours_runs, key=lambda r: r["records"] / r["window"])
    rate = best_one["records"] / best_one["window"]
    flood_rate = flood["records"] / flood["window"]
    flood_lost = flood["lost"] / (flood["records"] + flood["lost"])
    load = os.getloadavg()[0]
    lines = [
        "## receiver",
        "",
        f"Command: `.venv/bin/python bench/receiver/bench_receiver.py --syscalls {n}` "
        f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} shared vCPUs, "
        "load from other work on the machine; best of "
        f"{args.repeat}).",
        "",
        f"Workload: `dd bs=1 count={n}` = {calls:,} read/write syscalls. dd's CPU time (user + "
        "system, where the BPF programs run; from getrusage of its parent) is the overhead "
        "measure, because wall time on this shared machine mostly measures other people's work.",
        "",
        "| variant | dd wall time (noisy) | dd CPU time | CPU slowdown | CPU added per syscall |",
        "|---|---|---|---|---|",
        row("no tracing", plain),
        row("**kprobe capture** (every syscall a record to user space)", ours),
        row("bcc `syscount-bpfcc` (counts in kernel, nothing per event to user space)", syscount),
        row("`perf trace -e read,write` (per-event perf buffer, like strace)", perf),
        "",
        f"- One dd traced: **{rate / 1e3:.0f}k events/s** received ({best_one['records']:,} records "
        f"over {best_one['window']:.2f} s of kernel time), lost over the {args.repeat} runs: "
        f"**{one_lost}**, every dd syscall accounted for: **{exact}**; receiver CPU "
        f"{best_one['cpu_ns_per_event']:.0f} ns per event (ring-buffer poll + numpy decode + policy).",
        f"- Two dd at once (both vCPUs saturated, the consumer competing with them): "
        f"{flood_rate / 1e3:.0f}k events/s received, {flood['lost']:,} lost ({flood_lost:.2%}; "
        "counted, logged, and exported as `kprobe.receiver.lost_events`).",
        "- Why syscount is cheaper: it counts on `raw_syscalls` (one tracepoint for every syscall "
        "of every process, ~145 ns) and sends nothing out; kprobe joins enter/exit of only the "
        "traced syscalls on `syscalls:*` (the tracepoint pair alone costs ~300 ns on this kernel, "
        "see shared notes) so other syscalls pay nothing, and hands every event to user space.",
        f"- Machine load average during the run: {load:.1f} on {os.cpu_count()} vCPUs (shared); "
        "absolute times are inflated by it, the ratios are from the same run.",
        f"- Python per event: records → event dicts {costs['decode_us']:.2f} µs; event → OTLP "
        f"request (kprobe.otlp templates) {costs['otlp_us']:.2f} µs vs OTel SDK ReadableSpan + "
        f"official encoder {costs['sdk_us']:.2f} µs (**{costs['sdk_us'] / costs['otlp_us']:.1f}x faster**).",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.write:
        write_section(Path(args.write), text)
    return 0


def write_section(path: Path, section: str) -> None:
    """Replace (or append) our `## receiver` section, leaving the others untouched."""
    old = path.read_text() if path.exists() else "# kprobe benchmarks\n\n"
    start = old.find("## receiver\n")
    if start < 0:
        new = old.rstrip("\n") + "\n\n" + section
    else:
        nxt = old.find("\n## ", start + 1)
        new = old[:start] + section + ("" if nxt < 0 else old[nxt + 1:])
    path.write_text(new)


if __name__ == "__main__":
    sys.exit(main())
