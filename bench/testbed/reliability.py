"""How reliably each scenario produces the outcome it predicts, over repeated runs.

    sudo .venv/bin/python -m bench.testbed.reliability --runs 10 [--scenario NAME ...]

One Testbed (services up once), every scenario run `--runs` times in rotation.
Per scenario: how often the named payment ended as predicted, the share of all
payments that failed, the named payment's latency (median, max), and the time a
run takes. No capture: this measures the testbed itself; the causal engine's
accuracy over the same runs is bench/causal.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict

from testbed import SCENARIOS, Testbed, scenario


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--scenario", action="append", default=None, choices=SCENARIOS)
    args = parser.parse_args()
    names = args.scenario or list(SCENARIOS)
    rows: dict[str, list[tuple[bool, float, float, float]]] = defaultdict(list)
    predicted: dict[str, str] = {}
    with Testbed() as tb:
        for _ in range(args.runs):
            for name in names:
                started = time.monotonic()
                truth = tb.run(scenario(name))
                named = truth.named
                assert named is not None
                predicted[name] = truth.expected_named_status
                rows[name].append((
                    named.status == truth.expected_named_status,
                    len(truth.failed) / len(truth.payments),
                    named.latency_ms,
                    time.monotonic() - started,
                ))
    # the baseline, measured in the same run: the named payment with no fault
    base = statistics.median(x[2] for x in rows["none"]) if "none" in rows else None
    print("| scenario | predicted named outcome | named as predicted | payments failed "
          "| named latency median / max | median vs `none` | run time |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        r = rows[name]
        ok = sum(x[0] for x in r)
        lat = [x[2] for x in r]
        ratio = f"{statistics.median(lat) / base:.1f}x" if base else "n/a"
        print(f"| {name} | {predicted[name]} | {ok}/{len(r)} | {statistics.mean(x[1] for x in r):.0%} "
              f"| {statistics.median(lat):.0f} / {max(lat):.0f} ms | {ratio} "
              f"| {statistics.mean(x[3] for x in r):.1f} s |")


if __name__ == "__main__":
    main()
