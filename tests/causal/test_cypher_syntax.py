"""Every Cypher statement the Neo4j store can send parses with Neo4j's own parser
(@neo4j-cypher/language-support, installed by scripts/setup.sh into tests/cypher/)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from causal_processor.graphstore import cypher

CHECKER = Path(__file__).resolve().parents[1] / "cypher" / "check.mjs"


def parse(items: list[tuple[str, dict]]) -> list[list[str]]:
    if not (CHECKER.parent / "node_modules" / "@neo4j-cypher" / "language-support").is_dir():
        pytest.fail("tests/cypher/node_modules missing: run `make setup` (npm ci --prefix tests/cypher)")
    payload = json.dumps([{"statement": s, "parameters": p} for s, p in items])
    out = subprocess.run(["node", str(CHECKER)], input=payload, capture_output=True, text=True, timeout=120,
                         check=True)
    return json.loads(out.stdout)


def test_every_statement_parses() -> None:
    items = cypher.all_statements()
    # the library is closed: the store refuses statements outside it
    assert {s for s, _ in items} == cypher.STATEMENTS
    assert len(items) >= 30
    errors = parse(items)
    bad = [(s, e) for (s, _), e in zip(items, errors, strict=True) if e]
    assert bad == []


def test_the_parser_rejects_broken_cypher() -> None:
    """A control: the checker is a real parser, not a pass-through."""
    errors = parse([
        ("MATCH (n:CausalNode {id: $id) RETURN n", {"id": "x"}),
        ("UNWIND $rows AS r MERGE (n:CausalNode {id: r.id}) SETT n += r", {"rows": []}),
        ("MATCH (n) RETURN n", {}),
    ])
    assert errors[0] and errors[1] and not errors[2]


def test_the_store_refuses_statements_outside_the_library() -> None:
    from causal_processor.graphstore.neo4j_store import _run

    with pytest.raises(AssertionError, match="not in the checked Cypher library"):
        _run(None, "MATCH (n) DETACH DELETE n")
