"""Tables, generated DDL and versioned, idempotent migrations.

`otel_traces` (+ `otel_traces_trace_id_ts` and its view) has exactly the columns of the
OpenTelemetry Collector ClickHouse exporter, so Grafana's ClickHouse data source shows
app and kernel spans as traces. The engine is ReplacingMergeTree and the sort key ends
with TraceId/SpanId, so a span re-sent by a retrying client collapses into one row.

`kernel_events` columns are generated from events.proto (kprobe.events.EVENT_FIELDS);
nothing here names an event field. The join's result lives in `event_context`, one row
per joined event, so events are stored as soon as they arrive (an acknowledged request
is durable) and get their context whenever the join completes, without rewriting them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from clickhouse_connect.driver.client import Client
from google.protobuf.descriptor import FieldDescriptor

from kprobe import events

_PROTO_TO_CH = {
    FieldDescriptor.TYPE_UINT32: "UInt32",
    FieldDescriptor.TYPE_FIXED32: "UInt32",
    FieldDescriptor.TYPE_UINT64: "UInt64",
    FieldDescriptor.TYPE_FIXED64: "UInt64",
    FieldDescriptor.TYPE_INT32: "Int32",
    FieldDescriptor.TYPE_SINT32: "Int32",
    FieldDescriptor.TYPE_SFIXED32: "Int32",
    FieldDescriptor.TYPE_INT64: "Int64",
    FieldDescriptor.TYPE_SINT64: "Int64",
    FieldDescriptor.TYPE_SFIXED64: "Int64",
    FieldDescriptor.TYPE_DOUBLE: "Float64",
    FieldDescriptor.TYPE_FLOAT: "Float32",
    FieldDescriptor.TYPE_BOOL: "Bool",
    FieldDescriptor.TYPE_STRING: "String",
    FieldDescriptor.TYPE_ENUM: "LowCardinality(String)",
}

EVENT_COLUMNS: tuple[tuple[str, str], ...] = (
    *((f.name, _PROTO_TO_CH[f.proto_type]) for f in events.EVENT_FIELDS),
    ("service_name", "LowCardinality(String)"),  # the process's resource service.name
    ("host_name", "LowCardinality(String)"),
)
"""kernel_events columns: every KernelEvent scalar field, then the process resource."""

CONTEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_id", "UInt64"),
    ("timestamp_ns", "UInt64"),
    ("pid", "UInt32"),
    ("tid", "UInt32"),
    ("event_type", "LowCardinality(String)"),
    *((f.name, "LowCardinality(String)" if f.name in ("service", "operation", "join_method")
       else _PROTO_TO_CH[f.proto_type]) for f in events.CONTEXT_FIELDS),
    ("joined_at_ns", "UInt64"),
)
"""event_context columns: the event's key, then FinancialContext's fields."""

TRANSACTION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("transaction_id", "String"),
    ("trace_id", "String"),
    ("span_id", "String"),
    ("service", "LowCardinality(String)"),
    ("operation", "LowCardinality(String)"),
    ("status", "LowCardinality(String)"),  # ok | error | unset
    ("start_ns", "UInt64"),
    ("duration_ns", "UInt64"),
    ("error", "String"),
    ("version_ns", "UInt64"),
)

OTEL_TRACES_COLUMNS: tuple[str, ...] = (
    "Timestamp", "TraceId", "SpanId", "ParentSpanId", "TraceState", "SpanName", "SpanKind",
    "ServiceName", "ResourceAttributes", "ScopeName", "ScopeVersion", "SpanAttributes",
    "Duration", "StatusCode", "StatusMessage", "Events.Timestamp", "Events.Name",
    "Events.Attributes", "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes",
)


def _cols(cols: Sequence[tuple[str, str]]) -> str:
    return ",\n  ".join(f"`{n}` {t}" for n, t in cols)


_DAY_OF_NS = "toDate(toDateTime(intDiv({c}, 1000000000)))"
_TTL_NS = "toDateTime(intDiv({c}, 1000000000)) + toIntervalDay({days})"


def _kernel_events(days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS kernel_events (
  {_cols(EVENT_COLUMNS)},
  INDEX idx_ts timestamp_ns TYPE minmax GRANULARITY 1,
  INDEX idx_type event_type TYPE set(16) GRANULARITY 4,
  INDEX idx_service service_name TYPE set(64) GRANULARITY 4
) ENGINE = ReplacingMergeTree
PARTITION BY {_DAY_OF_NS.format(c="timestamp_ns")}
ORDER BY (pid, timestamp_ns, event_id)
TTL {_TTL_NS.format(c="timestamp_ns", days=days)}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


def _event_context(days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS event_context (
  {_cols(CONTEXT_COLUMNS)},
  INDEX idx_ts timestamp_ns TYPE minmax GRANULARITY 1,
  INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_event event_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplacingMergeTree(joined_at_ns)
PARTITION BY {_DAY_OF_NS.format(c="timestamp_ns")}
ORDER BY (transaction_id, timestamp_ns, event_id)
TTL {_TTL_NS.format(c="timestamp_ns", days=days)}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


def _transactions(days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS transactions (
  {_cols(TRANSACTION_COLUMNS)},
  INDEX idx_start start_ns TYPE minmax GRANULARITY 1,
  INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1,
  INDEX idx_trace trace_id TYPE bloom_filter(0.001) GRANULARITY 1
) ENGINE = ReplacingMergeTree(version_ns)
PARTITION BY {_DAY_OF_NS.format(c="start_ns")}
ORDER BY transaction_id
TTL {_TTL_NS.format(c="start_ns", days=days)}
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


def _otel_traces(days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS otel_traces (
  Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
  TraceId String CODEC(ZSTD(1)),
  SpanId String CODEC(ZSTD(1)),
  ParentSpanId String CODEC(ZSTD(1)),
  TraceState String CODEC(ZSTD(1)),
  SpanName LowCardinality(String) CODEC(ZSTD(1)),
  SpanKind LowCardinality(String) CODEC(ZSTD(1)),
  ServiceName LowCardinality(String) CODEC(ZSTD(1)),
  ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  ScopeName String CODEC(ZSTD(1)),
  ScopeVersion String CODEC(ZSTD(1)),
  SpanAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  Duration UInt64 CODEC(ZSTD(1)),
  StatusCode LowCardinality(String) CODEC(ZSTD(1)),
  StatusMessage String CODEC(ZSTD(1)),
  Events Nested (
    Timestamp DateTime64(9),
    Name LowCardinality(String),
    Attributes Map(LowCardinality(String), String)
  ) CODEC(ZSTD(1)),
  Links Nested (
    TraceId String,
    SpanId String,
    TraceState String,
    Attributes Map(LowCardinality(String), String)
  ) CODEC(ZSTD(1)),
  INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
  INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_span_attr_key mapKeys(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_span_attr_value mapValues(SpanAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_duration Duration TYPE minmax GRANULARITY 1
) ENGINE = ReplacingMergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (ServiceName, SpanName, toDateTime(Timestamp), TraceId, SpanId)
TTL toDateTime(Timestamp) + toIntervalDay({days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


def _trace_id_ts(days: int) -> str:
    return f"""CREATE TABLE IF NOT EXISTS otel_traces_trace_id_ts (
  TraceId String CODEC(ZSTD(1)),
  Start DateTime CODEC(Delta, ZSTD(1)),
  End DateTime CODEC(Delta, ZSTD(1)),
  INDEX idx_trace_id TraceId TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Start)
ORDER BY (TraceId, Start)
TTL toDateTime(Start) + toIntervalDay({days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1"""


_TRACE_ID_TS_MV = """CREATE MATERIALIZED VIEW IF NOT EXISTS otel_traces_trace_id_ts_mv
TO otel_traces_trace_id_ts
AS SELECT TraceId, min(Timestamp) AS Start, max(Timestamp) AS End
FROM otel_traces WHERE TraceId != '' GROUP BY TraceId"""

def _otel_metrics(kind: str, days: int) -> str:
    """otel_metrics_sum / otel_metrics_gauge as the Collector ClickHouse exporter makes them."""
    sum_only = ("  AggregationTemporality Int32 CODEC(ZSTD(1)),\n"
                "  IsMonotonic Boolean CODEC(Delta, ZSTD(1)),\n") if kind == "sum" else ""
    return f"""CREATE TABLE IF NOT EXISTS otel_metrics_{kind} (
  ResourceAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  ResourceSchemaUrl String CODEC(ZSTD(1)),
  ScopeName String CODEC(ZSTD(1)),
  ScopeVersion String CODEC(ZSTD(1)),
  ScopeAttributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  ScopeDroppedAttrCount UInt32 CODEC(ZSTD(1)),
  ScopeSchemaUrl String CODEC(ZSTD(1)),
  ServiceName LowCardinality(String) CODEC(ZSTD(1)),
  MetricName String CODEC(ZSTD(1)),
  MetricDescription String CODEC(ZSTD(1)),
  MetricUnit String CODEC(ZSTD(1)),
  Attributes Map(LowCardinality(String), String) CODEC(ZSTD(1)),
  StartTimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
  TimeUnix DateTime64(9) CODEC(Delta, ZSTD(1)),
  Value Float64 CODEC(ZSTD(1)),
  Flags UInt32 CODEC(ZSTD(1)),
  Exemplars Nested (
    FilteredAttributes Map(LowCardinality(String), String),
    TimeUnix DateTime64(9),
    Value Float64,
    SpanId String,
    TraceId String
  ) CODEC(ZSTD(1)),
{sum_only}  INDEX idx_res_attr_key mapKeys(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_res_attr_value mapValues(ResourceAttributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_attr_key mapKeys(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1,
  INDEX idx_attr_value mapValues(Attributes) TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = ReplacingMergeTree
PARTITION BY toDate(TimeUnix)
ORDER BY (ServiceName, MetricName, Attributes, toUnixTimestamp64Nano(TimeUnix))
TTL toDateTime(TimeUnix) + toIntervalDay({days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 1000"""


OTEL_METRICS_COLUMNS: tuple[str, ...] = (
    "ResourceAttributes", "ResourceSchemaUrl", "ScopeName", "ScopeVersion", "ScopeAttributes",
    "ScopeDroppedAttrCount", "ScopeSchemaUrl", "ServiceName", "MetricName", "MetricDescription",
    "MetricUnit", "Attributes", "StartTimeUnix", "TimeUnix", "Value", "Flags",
    "Exemplars.FilteredAttributes", "Exemplars.TimeUnix", "Exemplars.Value", "Exemplars.SpanId",
    "Exemplars.TraceId",
)
"""otel_metrics_gauge columns; otel_metrics_sum adds AggregationTemporality, IsMonotonic."""

_PROCESSOR_STATE = """CREATE TABLE IF NOT EXISTS processor_state (
  key String, value UInt64, updated_ns UInt64
) ENGINE = ReplacingMergeTree(updated_ns) ORDER BY key"""


# event_context's copy of the joined event, as the kprobe.events JSON that transaction_events
# returns (fields of its type + financial_context): a transaction's events are then one
# primary-key range of one table, read as 4 columns instead of a lookup per event into
# kernel_events' 34. Rows written before this column existed hold '' and are read the old way.
_CONTEXT_EVENT = "ALTER TABLE event_context ADD COLUMN IF NOT EXISTS `event` String CODEC(ZSTD(1))"

_TIME_PROJECTION = (
    # a time window over every process would otherwise read a granule per pid (ORDER BY pid first)
    "ALTER TABLE kernel_events MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'",
    "ALTER TABLE kernel_events ADD PROJECTION IF NOT EXISTS by_time (SELECT * ORDER BY timestamp_ns, event_id)",
)
_FILL_TIME_PROJECTION = "ALTER TABLE kernel_events MATERIALIZE PROJECTION by_time"

# the contexts of a time window (the causal engine's and events_in_range's reads) without the
# event copy: event_context is ordered by transaction id, unrelated to time
_CONTEXT_TIME_PROJECTION = (
    "ALTER TABLE event_context MODIFY SETTING deduplicate_merge_projection_mode = 'rebuild'",
    "ALTER TABLE event_context ADD PROJECTION IF NOT EXISTS by_time (SELECT event_id, timestamp_ns, "
    f"joined_at_ns, {', '.join(f.name for f in events.CONTEXT_FIELDS)} ORDER BY timestamp_ns, event_id)",
)
_FILL_CONTEXT_TIME_PROJECTION = "ALTER TABLE event_context MATERIALIZE PROJECTION by_time"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    fills: tuple[str, ...] = ()  # move existing data: skipped when this run created the tables


def migrations(retention_days: int) -> tuple[Migration, ...]:
    """Every schema version, oldest first. Append new ones; never edit an applied one."""
    return (
        Migration(1, "otel_traces (collector exporter schema)", (
            _otel_traces(retention_days), _trace_id_ts(retention_days), _TRACE_ID_TS_MV)),
        Migration(2, "kernel_events, event_context, transactions, processor_state", (
            _kernel_events(retention_days), _event_context(retention_days),
            _transactions(retention_days), _PROCESSOR_STATE)),
        Migration(3, "otel_metrics_sum, otel_metrics_gauge (collector exporter schema)", (
            _otel_metrics("sum", retention_days), _otel_metrics("gauge", retention_days))),
        Migration(4, "event_context carries its event; kernel_events time-ordered projection",
                  (_CONTEXT_EVENT, *_TIME_PROJECTION), (_FILL_TIME_PROJECTION,)),
        Migration(5, "event_context time-ordered projection (contexts of a window)",
                  _CONTEXT_TIME_PROJECTION, (_FILL_CONTEXT_TIME_PROJECTION,)),
    )


_MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32, name String, applied_at DateTime
) ENGINE = ReplacingMergeTree ORDER BY version"""


def migrate(client: Client, retention_days: int = 30) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied.

    Every statement is IF NOT EXISTS, so a run cut short and repeated is harmless.
    """
    client.command(_MIGRATIONS_TABLE)
    done = {r[0] for r in client.query("SELECT version FROM schema_migrations").result_rows}
    applied = []
    for m in migrations(retention_days):
        if m.version in done:
            continue
        for stmt in (*m.statements, *(m.fills if done else ())):
            client.command(stmt)
        client.insert("schema_migrations", [[m.version, m.name, int(time.time())]],
                      column_names=["version", "name", "applied_at"])
        applied.append(m.version)
    return applied
