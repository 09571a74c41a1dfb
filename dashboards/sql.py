"""SQL fragments for kprobe's ClickHouse tables, written with the ClickHouse data source's macros.

Kernel timestamps are UInt64 Unix nanoseconds; these fragments turn Grafana's
time range into that domain once, so every panel filters and buckets the same way.
"""

from __future__ import annotations


def ns_range(column: str = "timestamp_ns") -> str:
    """Rows whose ns timestamp lies in the dashboard's time range."""
    return (
        f"{column} >= toUnixTimestamp64Nano($__fromTime_ms) "
        f"AND {column} < toUnixTimestamp64Nano($__toTime_ms)"
    )


def ns_bucket(column: str = "timestamp_ns") -> str:
    """The panel-interval bucket of an ns timestamp, as a DateTime named `time`."""
    return (
        f"toStartOfInterval(fromUnixTimestamp64Nano(toInt64({column})), "
        "INTERVAL $__interval_s second) AS time"
    )


def per_second(expr: str) -> str:
    """A per-bucket sum expressed per second of wall time."""
    return f"{expr} / $__interval_s"
