"""The committed *_pb2 modules are exactly what protoc makes of proto/."""

from __future__ import annotations

from pathlib import Path

from kprobe import protogen


def test_generated_code_is_current(tmp_path: Path) -> None:
    protogen.generate(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.py*"))
    assert generated, "protoc produced nothing"
    for rel in generated:
        committed = protogen.ROOT / rel
        assert committed.exists(), f"{rel} is generated but not committed: run `make proto`"
        assert committed.read_bytes() == (tmp_path / rel).read_bytes(), f"{rel} is stale: run `make proto`"
