"""Render every dashboard to JSON in the plugin's provisioning/dashboards/ (`kprobe dashboards build`)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import kernel_health, overview, transaction

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "grafana_plugin" / "provisioning" / "dashboards"

DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "kprobe-overview.json": overview.build,
    "kprobe-transaction.json": transaction.build,
    "kprobe-kernel-health.json": kernel_health.build,
}


def render(make: Callable[[], dashboard.Dashboard]) -> dict[str, Any]:
    """One dashboard as the JSON Grafana provisions, with stable panel ids."""
    with warnings.catch_warnings():
        # The SDK steers new code to the v2 schema; file provisioning still reads v1.
        warnings.simplefilter("ignore", DeprecationWarning)
        model = json.loads(json.dumps(make().build(), cls=JSONEncoder))
    for number, panel in enumerate(_walk(model["panels"]), start=1):
        panel["id"] = number
    return model


def _walk(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _walk(p.get("panels", []))


def to_text(model: dict[str, Any]) -> str:
    return json.dumps(model, indent=2, sort_keys=True) + "\n"


def build_all(out_dir: Path = OUT_DIR) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in DASHBOARDS.items():
        path = out_dir / name
        path.write_text(to_text(render(make)))
        written.append(path)
    return written
