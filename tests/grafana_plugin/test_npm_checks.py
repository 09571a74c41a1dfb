"""The plugin builds, typechecks, lints and passes its Jest tests (run from `make test`)."""

from __future__ import annotations

import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

from .conftest import PLUGIN, ROOT, npm, require_ok


def test_plugin_bundle_has_the_app_and_every_nested_plugin(plugin_built: Path) -> None:
    for folder in ("", "panels/causal-graph/", "panels/timeline/", "panels/replay/",
                   "datasources/kprobe/", "datasources/neo4j/"):
        assert (plugin_built / f"{folder}module.js").is_file(), folder
        meta = json.loads((plugin_built / f"{folder}plugin.json").read_text())
        assert "%VERSION%" not in json.dumps(meta)  # the build fills in version and date


def test_console_bundle(console_built: Path) -> None:
    for name in ("index.html", "console.js", "harness.html", "harness.js"):
        assert (console_built / name).is_file(), name
    # Grafana's icons ship with the console (the page has no Grafana server behind it)
    assert (console_built / "public/build/img/icons/unicons/play.svg").is_file()


def test_typecheck(plugin_installed: Path) -> None:
    require_ok(npm("run", "typecheck"), "npm run typecheck")


def test_lint(plugin_installed: Path) -> None:
    require_ok(npm("run", "lint"), "npm run lint")


def test_jest(plugin_installed: Path) -> None:
    require_ok(npm("run", "test:ci", timeout=420), "npm run test:ci (Jest)")


def test_typescript_api_types_are_generated_from_the_current_protos(plugin_installed: Path, tmp_path: Path) -> None:
    """src/api/gen is protoc + ts-proto output for proto/kprobe/v1 (`npm run proto`), never hand-edited."""
    proc = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc",
         f"--plugin=protoc-gen-ts_proto={PLUGIN / 'node_modules/.bin/protoc-gen-ts_proto'}",
         f"--ts_proto_out={tmp_path}", f"--ts_proto_opt={_ts_proto_options()}",
         f"-I{ROOT / 'proto'}", *sorted(str(p) for p in (ROOT / "proto/kprobe/v1").glob("*.proto"))],
        capture_output=True, text=True, timeout=120, env={**os.environ},
    )
    require_ok(proc, "protoc")
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.ts"))
    committed = sorted(p.relative_to(PLUGIN / "src/api/gen") for p in (PLUGIN / "src/api/gen").rglob("*.ts"))
    assert generated == committed, "run `npm run proto` in grafana_plugin/"
    stale = [str(p) for p in generated if not filecmp.cmp(tmp_path / p, PLUGIN / "src/api/gen" / p, shallow=False)]
    assert stale == [], "run `npm run proto` in grafana_plugin/"


def _ts_proto_options() -> str:
    script = json.loads((PLUGIN / "package.json").read_text())["scripts"]["proto"]
    return next(a for a in script.split() if a.startswith("--ts_proto_opt=")).split("=", 1)[1]
