"""`kprobe demo` and `kprobe testbed`: the payment incident end to end, or one scenario.

`kprobe testbed --scenario NAME` runs the payment system with its faults and prints
the ground truth only; `kprobe demo` adds the receiver, the processor and the
causal engine (testbed.demo).
"""

from __future__ import annotations

import argparse
import json
import signal
from typing import Any

from testbed.faults import check_spec
from testbed.faults.spec import parse_fault
from testbed.scenarios import SCENARIOS, ScenarioSpec, scenario


def register(sub: Any) -> None:
    demo = sub.add_parser(
        "demo",
        help="run the payment incident (memory pressure by default) and explain the failed payment",
        description="Start the eBPF receiver, the processor and the payment testbed on embedded "
        "defaults, inject the scenario's faults, and explain the failed (or slowest) payment.",
    )
    _scenario_args(demo)
    demo.add_argument("--json", action="store_true", help="print a machine-readable report")
    demo.add_argument("--data-dir", default=None,
                      help="where the processor stores events (default: a temporary directory)")
    demo.set_defaults(func=_demo)

    tb = sub.add_parser(
        "testbed",
        help="run one testbed scenario and print its ground truth (no capture)",
        description="Run the payment system with real faults and print the ground truth as JSON.",
    )
    _scenario_args(tb)
    tb.add_argument("--otlp-endpoint", default=None,
                    help="where the services export their spans (default: the OTEL_* env, else nowhere)")
    tb.set_defaults(func=_testbed)


def _scenario_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scenario", default=None, choices=(*SCENARIOS, "custom"),
                   help="named scenario (default: memory-pressure, the seeds' story, or only "
                   "the --fault ones when given)")
    p.add_argument("--fault", action="append", default=[], metavar="KIND:key=value,...",
                   help="add a fault, e.g. cpu-contention:cpu=0,hogs=1 (repeatable)")
    p.add_argument("--timeout-ms", type=int, default=750,
                   help="payment-handler's deadline per payment (default 750)")
    p.add_argument("--duration", type=float, default=3.0, help="seconds of load (default 3)")
    p.add_argument("--rate", type=float, default=None,
                   help="payments per second (default 8; 2 in the memory-pressure scenarios)")


def spec_from_args(args: argparse.Namespace) -> ScenarioSpec:
    """The scenario the flags name; every fault option checked before anything starts."""
    extra = tuple(parse_fault(f) for f in args.fault)
    for f in extra:
        check_spec(f)
    name = args.scenario or ("custom" if extra else "memory-pressure")
    overrides: dict[str, float] = {"duration_s": args.duration}
    if args.rate is not None:
        overrides["rate_per_s"] = args.rate
    return scenario(name, extra, **overrides)


def _terminate_as_interrupt() -> None:
    """SIGTERM cleans up like Ctrl-C does."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, handler)


def _testbed(args: argparse.Namespace) -> int:
    from testbed.runner import run_scenario
    from testbed.system import SystemConfig

    _terminate_as_interrupt()
    truth = run_scenario(spec_from_args(args),
                         SystemConfig(timeout_ms=args.timeout_ms, otlp_endpoint=args.otlp_endpoint))
    print(json.dumps(truth.to_dict(), indent=2))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from testbed.demo import run_demo

    _terminate_as_interrupt()
    return run_demo(spec_from_args(args), timeout_ms=args.timeout_ms, as_json=args.json,
                    data_dir=args.data_dir)
