"""AC@1 of the causal engine on the testbed: every scenario, repeated.

    sudo .venv/bin/python -m bench.causal.evaluate --reps 5 [--scenarios a,b] [--json out.json]

Each run is the whole product: the testbed's real fault, real eBPF capture,
the processor (OTLP, join, chdb) and `explain` on the focus payment (the named
payment when it failed, else the slowest failure). A run counts for AC@1 when
the top-ranked cause has the injected mechanism and culprit (docs/EVALUATION.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict

from bench.causal.pipeline import Pipeline, Verdict
from testbed.scenarios import SCENARIOS


def evaluate(scenarios: list[str], reps: int, dsn: str) -> list[Verdict]:
    out = []
    with Pipeline(dsn) as p:
        for rep in range(reps):
            for name in scenarios:
                t0 = time.monotonic()
                v = p.run_reproduced(name)
                out.append(v)
                d = v.to_dict()
                print(f"rep {rep + 1} {name:34} -> {d['mechanism']:18} "
                      f"{(d['culprit'] or {}).get('comm', '-'):16} ok={all(v.checks.values())} "
                      f"reproduced={v.truth.reproduced} in {v.attempts} "
                      f"({time.monotonic() - t0:.1f} s)", file=sys.stderr, flush=True)
    return out


def table(verdicts: list[Verdict]) -> str:
    rows: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        rows[v.scenario].append(v)
    lines = ["| scenario | expected | runs | AC@1 | mechanism | culprit | contribution (ms, median) "
             "| testbed runs (incident happened) |",
             "|---|---|---|---|---|---|---|---|"]
    for name, vs in rows.items():
        n = len(vs)
        exp = vs[0].to_dict()["expected"]
        ok = sum(all(v.checks.values()) for v in vs)
        mech = sum(v.checks.get("mechanism", False) for v in vs)
        cul = sum(v.checks.get("culprit", False) for v in vs)
        contrib = sorted(v.explanation.root_cause.contribution_ns / 1e6 for v in vs if v.explanation)
        med = f"{contrib[len(contrib) // 2]:.0f}" if contrib else "-"
        who = ", ".join(sorted({c["comm"] for c in exp["culprits"]})) or exp.get("service") or "-"
        tries = sum(v.attempts for v in vs)
        happened = sum(v.truth.reproduced for v in vs)
        lines.append(f"| {name} | {exp['mechanism']} ({who}) | {n} | {ok / n:.2f} | {mech}/{n} | {cul}/{n} | {med} "
                     f"| {tries} ({happened}) |")
    total = len(verdicts)
    ok = sum(all(v.checks.values()) for v in verdicts)
    lines.append(f"| **all** | | {total} | {ok / total:.2f} | | | | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.causal.evaluate")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="kprobe-eval-", ignore_cleanup_errors=True) as d:
        verdicts = evaluate(args.scenarios.split(","), args.reps, f"chdb://{d}/ch?database=eval")
        print(table(verdicts))
        if args.json:
            with open(args.json, "w") as f:
                json.dump([v.to_dict() for v in verdicts], f, indent=1)


if __name__ == "__main__":
    main()
