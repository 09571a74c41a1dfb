"""`kprobe dashboards build`: regenerate the provisioned dashboard JSON."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboards", help="Grafana dashboards as code")
    dsub = p.add_subparsers(dest="dashboards_command", required=True, metavar="ACTION")
    b = dsub.add_parser("build", help="write the dashboards' JSON into provisioning/")
    b.add_argument("--out", type=Path, default=None, help="output directory")
    b.set_defaults(func=_build)


def _build(args: argparse.Namespace) -> int:
    from dashboards.build import OUT_DIR, build_all

    for path in build_all(args.out or OUT_DIR):
        print(path)
    return 0
