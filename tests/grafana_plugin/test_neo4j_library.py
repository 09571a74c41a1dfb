"""The Neo4j data source's Cypher library goes through the same check as the processor's
statements: Neo4j's own parser (tests/cypher), with parameters of the right shape."""

from __future__ import annotations

import json
import re

from tests.causal.test_cypher_syntax import parse

from .conftest import PLUGIN

LIBRARY = json.loads((PLUGIN / "src/datasources/neo4j/queries.json").read_text())


def _example(value: object) -> object:
    # dashboard variables ($transaction) are replaced by Grafana before the query is sent
    return "pay-1" if isinstance(value, str) and value.startswith("$") else value


def test_every_library_query_parses() -> None:
    items = [(q["statement"], {k: _example(v) for k, v in q["parameters"].items()}) for q in LIBRARY]
    assert len(items) == 5
    errors = parse(items)
    assert [(q["name"], e) for q, e in zip(LIBRARY, errors, strict=True) if e] == []


def test_library_queries_use_the_processors_graph_model() -> None:
    """Labels and relationship types of causal_processor/graphstore/cypher.py, nothing invented."""
    from causal_processor.graphstore import cypher

    labels = {*cypher.LABELS.values(), "CausalNode"}
    for q in LIBRARY:
        for label in re.findall(r"\(\w*:(\w+)", q["statement"]):
            assert label in labels, (q["name"], label)
        for rel in re.findall(r"\[\w*:(\w+)", q["statement"]):
            assert rel in {*cypher.REL_TYPES.values(), "ROOT_CAUSE_OF"}, (q["name"], rel)
        assert q["format"] in ("table", "nodeGraph")
