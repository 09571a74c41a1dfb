"""Query models the foundation SDK has no builder for: ClickHouse SQL and kprobe API queries.

Each is a `Dataquery` variant serialised with the SDK's own JSON encoder, so a
panel holds it like any built-in query.
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common

from dashboards import datasources


class ClickHouseSql(cogvariants.Dataquery):
    """A raw-SQL query of the official grafana-clickhouse-datasource (its CHSqlQuery model)."""

    def __init__(self, ref_id: str, sql: str, query_type: str) -> None:
        self.ref_id = ref_id
        self.sql = sql
        self.query_type = query_type  # "table", "timeSeries" or "traces"

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": datasources.CLICKHOUSE.to_json(),
            "editorType": "sql",
            "queryType": self.query_type,
            "format": _CH_FORMAT[self.query_type],
            "rawSql": self.sql,
        }


# The plugin backend still reads the older numeric `format` beside `queryType`.
_CH_FORMAT = {"timeSeries": 0, "table": 1, "traces": 3}


class KprobeQuery(cogvariants.Dataquery):
    """A query of kprobe's own data source (the app plugin's nested data source)."""

    def __init__(self, ref_id: str, query_type: str, **params: Any) -> None:
        self.ref_id = ref_id
        self.query_type = query_type
        self.params = params

    def to_json(self) -> dict[str, Any]:
        return {
            "refId": self.ref_id,
            "datasource": datasources.kprobe().to_json(),
            "queryType": self.query_type,
            **self.params,
        }


class Query(cogbuilder.Builder[cogvariants.Dataquery]):
    """Builder wrapper so panels' `with_target` accepts the variants above."""

    def __init__(self, query: cogvariants.Dataquery) -> None:
        self._query = query

    def build(self) -> cogvariants.Dataquery:
        return self._query


def sql(ref_id: str, text: str, query_type: str = "timeSeries") -> Query:
    return Query(ClickHouseSql(ref_id, text, query_type))


def kprobe(ref_id: str, query_type: str, **params: Any) -> Query:
    return Query(KprobeQuery(ref_id, query_type, **params))


def promql(ref_id: str, expr: str, legend: str) -> Any:
    from grafana_foundation_sdk.builders import prometheus

    return (
        prometheus.Dataquery()
        .ref_id(ref_id)
        .expr(expr)
        .legend_format(legend)
        .datasource(common.DataSourceRef(type_val="prometheus", uid=datasources.PROMETHEUS.uid))
    )
