"""`kprobe api` (the API alone, against a store) and `kprobe serve` (processor + API)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from kprobe.cli import UserError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    api = sub.add_parser(
        "api",
        help="serve the kprobe API (gRPC, gRPC-Web, JSON, WebSocket) over stored data",
        description="The API alone, against a ClickHouse server (or a chdb directory no other "
        "process holds). `kprobe serve` runs it together with the processor.",
    )
    api.add_argument("--storage", metavar="DSN", help="chdb:///data/dir or http://host:8123/db "
                     "(default: $KPROBE_CLICKHOUSE_DSN or chdb under $KPROBE_DATA_DIR)")
    _api_flags(api)
    api.set_defaults(func=run_api)

    serve = sub.add_parser(
        "serve",
        help="processor + API in one process on embedded defaults",
        description="OTLP in (:4317/:4318), join, storage (chdb by default) and the kprobe API "
        "on :8080, in one process.",
    )
    serve.add_argument("--config", help="processor YAML configuration file")
    serve.add_argument("--storage", metavar="DSN", help="chdb:///data/dir or http://host:8123/db")
    serve.add_argument("--otlp-grpc", metavar="HOST:PORT", help="OTLP/gRPC listen address")
    serve.add_argument("--otlp-http", metavar="HOST:PORT", help="OTLP/HTTP + /metrics listen address")
    _api_flags(serve)
    serve.set_defaults(func=run_serve)


def _api_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("API")
    g.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    g.add_argument("--port", type=int, default=8080, help="gRPC + HTTP port (default 8080)")
    g.add_argument("--grpc-port", type=int, help="also serve gRPC alone on this port")
    g.add_argument("--tls-cert", help="TLS certificate (PEM); with --tls-key")
    g.add_argument("--tls-key", help="TLS private key (PEM)")
    g.add_argument("--auth", action="store_true", help="require bearer tokens on every call")
    g.add_argument("--token-file", help="tokens, one per line (also $KPROBE_API_TOKENS, comma-separated)")
    g.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                   help="browser origin allowed besides same-origin (repeatable; '*' for any)")
    g.add_argument("--ws-buffer", type=int, default=4096, help="events buffered per live subscriber")
    g.add_argument("--console-dir", type=Path, help="static console build to serve at /console/")
    g.add_argument("--graph-store", metavar="URL", help="bolt://host:7687, ladybug:///dir/graph.lbug or "
                   "memory:// (default: $KPROBE_GRAPH_STORE or Ladybug under $KPROBE_DATA_DIR)")
    g.add_argument("--no-index", action="store_true",
                   help="do not explain completed transactions in the background (chain search "
                   "then covers only graphs someone asked for)")
    g.add_argument("--index-min-latency-ms", type=float, default=100.0,
                   help="the background indexer explains failed transactions and those at least this slow")
    g.add_argument("--recordings-dir", metavar="DIR",
                   help="replay recordings the ReplayService may use (<transaction_id>.kpr or by name; "
                   "default $KPROBE_DATA_DIR/recordings)")
    g.add_argument("--graph-cache", type=float, default=5.0, metavar="SECONDS",
                   help="serve a transaction's graph from memory for this long (0: always rebuild)")
    g.add_argument("--max-replay-sessions", type=int, default=32)
    g.add_argument("--max-running-replays", type=int, default=2)


def api_config(args: argparse.Namespace):  # -> ApiConfig
    from .config import ApiConfig
    from .services.replay_sessions import SessionLimits

    if bool(args.tls_cert) != bool(args.tls_key):
        raise UserError("--tls-cert and --tls-key go together")
    return ApiConfig(
        host=args.host, port=args.port, grpc_port=args.grpc_port,
        tls_cert=args.tls_cert, tls_key=args.tls_key, auth=args.auth, token_file=args.token_file,
        allowed_origins=tuple(args.allow_origin), ws_buffer=args.ws_buffer, console_dir=args.console_dir,
        replay_limits=SessionLimits(max_sessions=args.max_replay_sessions, max_running=args.max_running_replays),
    )


def _open_graphs(args: argparse.Namespace):  # -> GraphStore
    from causal_processor.graphstore import GraphStoreError, open_graph_store

    try:
        return open_graph_store(args.graph_store)
    except GraphStoreError as e:
        raise UserError(str(e)) from e
    except Exception as e:  # driver errors name the server and the reason
        raise UserError(f"graph store: {e}") from e


def _serve(args: argparse.Namespace, store, live=None) -> None:
    """Run the API (and the graph indexer) over a store until SIGINT/SIGTERM."""
    from .graph_index import GraphIndexer
    from .server import ApiServer
    from .wiring import backends_for

    cfg = api_config(args)
    graphs = _open_graphs(args)
    recordings = args.recordings_dir or os.path.join(os.environ.get("KPROBE_DATA_DIR", "/var/lib/kprobe"), "recordings")
    backends = backends_for(store, graphs, recordings, args.graph_cache)
    indexer = None if args.no_index else GraphIndexer(
        store, backends.analyzer, min_latency_ms=args.index_min_latency_ms).start()
    try:
        asyncio.run(_serve_until_signalled(ApiServer(cfg, backends, live=live)))
    finally:
        if indexer:
            indexer.stop()
        graphs.close()


async def _serve_until_signalled(server) -> None:  # server: ApiServer
    from .auth import AuthConfigError

    try:
        await server.start()
    except AuthConfigError as e:
        raise UserError(str(e)) from e
    except OSError as e:
        raise UserError(f"cannot listen on {server.config.host}:{server.config.port}: {e.strerror}") from e
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    print(f"kprobe API listening on {server.config.host}:{server.port}", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()


def run_api(args: argparse.Namespace) -> int:
    from causal_processor.storage.clickhouse import StorageError
    from causal_processor.storage.store import ClickHouseEventStore

    api_config(args)  # flag errors before opening anything
    try:
        store = ClickHouseEventStore(args.storage or os.environ.get("KPROBE_CLICKHOUSE_DSN"))
    except StorageError as e:
        raise UserError(str(e)) from e
    try:
        _serve(args, store)
    finally:
        store.close()
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from causal_processor import config as processor_config
    from causal_processor import server as processor_server
    from causal_processor.storage.clickhouse import StorageError

    api_config(args)
    try:
        pcfg = processor_config.load(args.config)
    except processor_config.ConfigError as e:
        raise UserError(str(e)) from e
    if args.storage:
        pcfg.storage.dsn = args.storage
    if args.otlp_grpc is not None:
        pcfg.otlp.grpc_endpoint = args.otlp_grpc
    if args.otlp_http is not None:
        pcfg.otlp.http_endpoint = args.otlp_http
    try:
        running = processor_server.start(pcfg)
    except StorageError as e:
        raise UserError(str(e)) from e
    except OSError as e:
        raise UserError(f"processor: {e}") from e
    p = running.processor
    log.info("processor: OTLP gRPC :%s, HTTP :%s", running.grpc_port, running.http_port)
    print(f"kprobe processor: OTLP gRPC :{running.grpc_port}, HTTP :{running.http_port}", flush=True)
    try:
        _serve(args, p.store, live=p.live.subscribe)
    finally:
        with contextlib.suppress(Exception):
            running.stop(flush=True)
    return 0
