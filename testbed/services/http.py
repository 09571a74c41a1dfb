"""A thread-pool WSGI server (waitress) with OTel's WSGI middleware on business routes.

Each service is a small route table. Business routes run inside the standard
OpenTelemetryMiddleware. The admin routes (the fault hooks the testbed drives)
live on a separate management port with its own thread, untraced, so they never
appear as payment traffic and still answer when every worker is stuck. Both
servers bind port 0 and the service prints `READY port=N admin=M`, so the runner
never races another test for a port.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import TracerProvider
from waitress.server import create_server

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]
_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 402: "Payment Required", 404: "Not Found",
            502: "Bad Gateway",
            504: "Gateway Timeout", 500: "Internal Server Error"}


def _json_app(routes: dict[str, Handler]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        handler = routes.get(environ.get("PATH_INFO", ""))
        if handler is None or environ.get("REQUEST_METHOD") != "POST":
            status, body = 404, {"error": "no such route"}
        else:
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                payload = json.loads(environ["wsgi.input"].read(length) or b"{}")
            except ValueError:
                status, body = 400, {"error": "request body is not JSON"}
            else:
                status, body = handler(payload)
        data = json.dumps(body).encode()
        start_response(
            f"{status} {_REASONS.get(status, 'Status')}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
        )
        return [data]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


def _admin_server(routes: dict[str, Handler]) -> WSGIServer:
    server = make_server("127.0.0.1", 0, _json_app(routes), handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="admin", daemon=True).start()
    return server


def serve(
    provider: TracerProvider,
    routes: dict[str, Handler],
    admin: dict[str, Handler] | None = None,
    threads: int = 8,
) -> None:
    """Serve until SIGTERM/SIGINT, then flush the spans and exit."""
    app = OpenTelemetryMiddleware(_json_app(routes), tracer_provider=provider)
    server = create_server(app, host="127.0.0.1", port=0, threads=threads, backlog=256)
    admin_server = _admin_server(admin or {})

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY port={server.effective_port} admin={admin_server.server_port}", flush=True)
    try:
        server.run()
    except SystemExit:
        pass
    finally:
        admin_server.shutdown()
        server.close()
        provider.shutdown()
        sys.stdout.flush()
