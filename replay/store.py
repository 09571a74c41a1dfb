"""Keep a recording in ClickHouse next to the incident's events, linked to its transaction.

Uses the processor's one client factory (causal_processor.storage.clickhouse.connect),
so the same DSN rules apply: `chdb:///dir` in-process or `http://host:8123/db`. The
recording is stored whole (it is already compressed and content-addressed) with the
metadata a listing needs; the owner-only rule of the file becomes ClickHouse's own
access control.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from replay.recording import Recording

TABLE = "replay_recordings"
_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
  recording_id String, transaction_id String, created_at DateTime64(3),
  argv String, exit_status Int32, events UInt64, size UInt64, content String
) ENGINE = ReplacingMergeTree ORDER BY (transaction_id, recording_id)"""


def _client(dsn: str | None):
    from causal_processor.storage.clickhouse import connect

    client = connect(dsn)
    client.command(_DDL)
    return client


def store_recording(path: str, transaction_id: str, dsn: str | None = None) -> str:
    """Store the recording file; returns its id (sha256 of the file)."""
    rec = Recording.load(path)  # only well-formed recordings are stored
    with open(path, "rb") as f:
        content = f.read()
    rid = hashlib.sha256(content).hexdigest()
    client = _client(dsn)
    client.insert(TABLE, [[rid, transaction_id, datetime.now(UTC), " ".join(rec.meta["argv"]),
                           int(rec.meta.get("exit_status") or 0), len(rec.events),
                           len(content), content]],
                  column_names=["recording_id", "transaction_id", "created_at", "argv",
                                "exit_status", "events", "size", "content"])
    return rid


def list_recordings(transaction_id: str, dsn: str | None = None) -> list[dict[str, Any]]:
    client = _client(dsn)
    rows = client.query(
        f"SELECT recording_id, created_at, argv, exit_status, events, size FROM {TABLE} FINAL "
        "WHERE transaction_id = {t:String} ORDER BY created_at", parameters={"t": transaction_id})
    names = ("recording_id", "created_at", "argv", "exit_status", "events", "size")
    return [dict(zip(names, r, strict=True)) for r in rows.result_rows]


def fetch_recording(transaction_id: str, output: str, dsn: str | None = None) -> str:
    """Write the transaction's latest recording to `output` (0600); returns its id."""
    client = _client(dsn)
    rows = client.query(
        f"SELECT recording_id, content FROM {TABLE} FINAL WHERE transaction_id = {{t:String}} "
        "ORDER BY created_at DESC LIMIT 1", parameters={"t": transaction_id},
        column_formats={"content": "bytes"}).result_rows
    if not rows:
        raise LookupError(f"no recording linked to transaction {transaction_id!r}")
    rid, content = rows[0]
    data = content if isinstance(content, bytes) else content.encode("latin-1")
    if hashlib.sha256(data).hexdigest() != rid:
        raise ValueError(f"stored recording {rid[:12]} does not match its id")
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return rid
