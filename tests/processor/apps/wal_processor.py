"""A processor in a process of its own, for the crash tests (chdb: one process per directory).

`python wal_processor.py serve DSN` acknowledges requests but never inserts them (its batches
wait an hour): it prints its OTLP/gRPC port and serves until the test kills it.
`python wal_processor.py report DSN` starts a processor (which replays the write-ahead log),
prints as JSON what it stored and what storage holds, without deduplicating on read, and stops.
"""

from __future__ import annotations

import json
import sys
import time

from causal_processor import config, server


def main() -> None:
    mode, dsn = sys.argv[1], sys.argv[2]
    cfg = config.local(dsn, http=False)
    if mode == "serve":
        cfg.storage.batch_ms = 3_600_000
        cfg.storage.batch_rows = 10**9
    running = server.start(cfg)
    if mode == "serve":
        print(running.grpc_port, flush=True)
        time.sleep(3600)
        return
    p = running.processor
    client = p.store.client
    report = {
        "replayed_events": p.metrics.events_stored._value.get(),
        "event_ids": [r[0] for r in client.query("SELECT event_id FROM kernel_events ORDER BY event_id").result_rows],
        "span_names": [r[0] for r in client.query(
            "SELECT SpanName FROM otel_traces WHERE NOT mapContains(SpanAttributes, 'kprobe.event_type') "
            "ORDER BY SpanName").result_rows],
        "wal_state": [p.wal.state.committed, p.wal.state.inflight_end],  # type: ignore[union-attr]
        "wal_dir": p.wal.directory,  # type: ignore[union-attr]
    }
    running.stop()
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
