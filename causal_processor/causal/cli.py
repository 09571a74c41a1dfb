"""`kprobe explain TXN_ID [--json]`: why did this transaction fail or take so long."""

from __future__ import annotations

import argparse
import json
import sys

from kprobe.cli import UserError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain",
        help="causal chain and root cause of one transaction",
        description="Build the causal graph of a transaction from the stored kernel events and "
        "application spans, and print the chain from the payment down to the kernel cause.",
    )
    p.add_argument("transaction_id", metavar="TXN_ID")
    p.add_argument("--json", action="store_true", help="machine-readable output (with the graph)")
    p.add_argument("--no-graph", action="store_true", help="with --json: leave out the graph")
    p.add_argument("--store", metavar="DSN", default=None,
                   help="ClickHouse DSN (chdb:///dir or http://host:8123/db); default: $KPROBE_CLICKHOUSE_DSN "
                   "or chdb under $KPROBE_DATA_DIR")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from causal_processor.causal.explain import explain
    from causal_processor.causal.store_source import StoreSource
    from causal_processor.storage.clickhouse import StorageError

    dsn = args.store or os.environ.get("KPROBE_CLICKHOUSE_DSN")
    try:
        source = StoreSource.open(dsn)
    except StorageError as e:
        raise UserError(str(e)) from e
    try:
        x = explain(source, args.transaction_id)
    except LookupError as e:
        raise UserError(str(e).strip("'\"")) from e
    if args.json:
        json.dump(x.to_dict(with_graph=not args.no_graph), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(x.render())
    return 0
