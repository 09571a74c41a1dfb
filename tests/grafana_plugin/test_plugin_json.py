"""plugin.json files, checked as Grafana's plugin validator would (it cannot run offline:
it downloads a Go binary): ids, types, nested includes, routes, dependencies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "grafana_plugin" / "src"
APP = json.loads((SRC / "plugin.json").read_text())
NESTED = {p: json.loads(p.read_text()) for p in SRC.rglob("plugin.json") if p.parent != SRC}
ALL = [APP, *NESTED.values()]
# <org>-<name>-<type>, lower case (Grafana's naming convention for plugin ids)
ID = re.compile(r"^([a-z0-9]+)-([a-z0-9]+)-(app|panel|datasource)$")


def test_ids_follow_the_naming_convention_and_are_unique() -> None:
    ids = [p["id"] for p in ALL]
    assert len(ids) == len(set(ids))
    for p in ALL:
        m = ID.match(p["id"])
        assert m, p["id"]
        assert m.group(1) == "kprobe", p["id"]
        assert m.group(3) == p["type"], p["id"]
    assert APP["id"] == "kprobe-kprobe-app"
    assert sorted(ids) == [
        "kprobe-causalgraph-panel", "kprobe-kprobe-app", "kprobe-kprobe-datasource",
        "kprobe-neo4j-datasource", "kprobe-replay-panel", "kprobe-timeline-panel",
    ]


def test_every_nested_plugin_is_included_by_the_app_and_nothing_else() -> None:
    included = {(i["type"], i["name"]) for i in APP["includes"] if i["type"] in ("panel", "datasource")}
    nested = {(p["type"], p["name"]) for p in NESTED.values()}
    assert included == nested
    for path in NESTED:
        assert any(path.parent.glob("module.ts*")), f"{path.parent} has no module.ts(x) entry"


@pytest.mark.parametrize("plugin", ALL, ids=lambda p: p["id"])
def test_required_metadata(plugin: dict) -> None:
    for key in ("id", "name", "type", "info", "dependencies"):
        assert key in plugin
    info = plugin["info"]
    for key in ("keywords", "logos", "version", "updated"):
        assert key in info
    for logo in info["logos"].values():
        assert logo.endswith(".svg")
    dep = plugin["dependencies"]["grafanaDependency"]
    assert re.fullmatch(r">=\d+\.\d+\.\d+", dep), dep
    # nested plugins cannot ask for more than the app that carries them
    assert dep == APP["dependencies"]["grafanaDependency"]


def test_logos_exist() -> None:
    for path, plugin in [(SRC / "plugin.json", APP), *NESTED.items()]:
        for logo in plugin["info"]["logos"].values():
            assert (path.parent / logo).is_file(), f"{path}: {logo}"


def test_app_pages_and_clickhouse_dependency() -> None:
    pages = [i for i in APP["includes"] if i["type"] == "page"]
    assert [p["name"] for p in pages if p.get("defaultNav")] == ["Transactions"]
    assert all(p["path"].startswith(("/a/%PLUGIN_ID%/", "/plugins/%PLUGIN_ID%")) for p in pages)
    deps = {d["id"]: d for d in APP["dependencies"]["plugins"]}
    assert deps["grafana-clickhouse-datasource"]["type"] == "datasource"


@pytest.mark.parametrize("plugin", [APP, *[p for p in NESTED.values() if p["type"] == "datasource"]],
                         ids=lambda p: p["id"])
def test_secrets_only_travel_in_proxy_routes(plugin: dict) -> None:
    """Tokens and passwords are read from secureJsonData by Grafana's proxy, never sent to browsers."""
    for route in plugin["routes"]:
        assert route["url"].startswith("{{ .JsonData.")
        for header in route.get("headers", []):
            assert ".SecureJsonData." in header["content"]
        assert ".SecureJsonData." not in route["url"]
