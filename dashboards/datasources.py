"""Data source references shared by every dashboard; their uids match provisioning/datasources.

kprobe's own plugin ids are read from the plugin's plugin.json files, the one
place they are defined.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from grafana_foundation_sdk.models import common

PLUGIN_SRC = Path(__file__).resolve().parent.parent / "grafana_plugin" / "src"

CLICKHOUSE = common.DataSourceRef(type_val="grafana-clickhouse-datasource", uid="kprobe-clickhouse")
PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid="kprobe-prometheus")
KPROBE_UID = "kprobe-api"


@cache
def plugin_id(folder: str) -> str:
    """The id in grafana_plugin/src/<folder>/plugin.json (e.g. "panels/timeline")."""
    path = PLUGIN_SRC / folder / "plugin.json"
    try:
        return str(json.loads(path.read_text())["id"])
    except (OSError, KeyError, ValueError) as e:
        raise RuntimeError(f"cannot read the plugin id from {path}: {e}") from e


def kprobe() -> common.DataSourceRef:
    return common.DataSourceRef(type_val=plugin_id("datasources/kprobe"), uid=KPROBE_UID)
