"""`kprobe processor`: OTLP in (gRPC :4317, HTTP :4318), join, ClickHouse, OTLP out, /metrics."""

from __future__ import annotations

import argparse
import logging
import signal
import threading

from kprobe.cli import UserError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "processor",
        help="receive OTLP spans, join kernel events to transactions, store and forward them",
        description="Configuration: defaults < --config YAML < KPROBE_PROCESSOR_* variables < flags.",
    )
    p.add_argument("--config", help="YAML configuration file")
    p.add_argument("--storage", metavar="DSN", help="chdb:///data/dir or http://host:8123/db")
    p.add_argument("--grpc", metavar="HOST:PORT", help="OTLP/gRPC listen address ('' disables)")
    p.add_argument("--http", metavar="HOST:PORT", help="OTLP/HTTP + /metrics listen address")
    p.add_argument("--forward", metavar="HOST:PORT", help="OTLP/gRPC backend to forward spans to")
    p.add_argument("--transaction-key", action="append", dest="transaction_keys",
                   help="span attribute holding a transaction id (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from causal_processor import config as config_mod
    from causal_processor import server
    from causal_processor.storage.clickhouse import StorageError

    try:
        cfg = config_mod.load(args.config)
    except config_mod.ConfigError as e:
        raise UserError(str(e)) from e
    if args.storage:
        cfg.storage.dsn = args.storage
    if args.grpc is not None:
        cfg.otlp.grpc_endpoint = args.grpc
    if args.http is not None:
        cfg.otlp.http_endpoint = args.http
    if args.forward:
        cfg.forward.endpoint = args.forward
    if args.transaction_keys:
        cfg.join.transaction_keys = args.transaction_keys
    try:
        running = server.start(cfg)
    except (StorageError, config_mod.ConfigError) as e:
        raise UserError(str(e)) from e
    except OSError as e:
        raise UserError(f"{e} (is another processor running?)") from e
    log.info("processor: OTLP gRPC :%s, HTTP :%s (/metrics), storage %s, forwarding %s",
             running.grpc_port, running.http_port, cfg.storage.dsn, cfg.forward.endpoint or "off")
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    log.info("processor: stopping (joining what is buffered)")
    running.stop(flush=True)
    return 0
