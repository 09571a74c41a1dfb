"""A thread-per-connection WSGI payment service with standard OpenTelemetry setup.

Run as a subprocess by the end-to-end tests: `python threaded_payments.py` prints its
port, serves until stdin closes, then flushes its spans. Each GET /pay?id=P&writes=N
writes N records (sizes 1000+k) to /dev/null, sleeps a little so that payments
overlap on several threads, and answers with its ground truth (kernel thread id,
client port) as JSON — the test compares the join against it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=100))
trace.set_tracer_provider(provider)
tracer = trace.get_tracer("payments")
SINK = os.open("/dev/null", os.O_WRONLY)


def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    pid, writes = q["id"][0], int(q["writes"][0])
    trace.get_current_span().set_attribute("payment.id", pid)
    start = time.time_ns()
    write_ns = []
    with tracer.start_as_current_span("ledger.write"):
        for k in range(writes):
            before = time.time_ns()
            os.write(SINK, b"x" * (1000 + k))
            write_ns.append((before, time.time_ns()))
            time.sleep(0.002)
    body = json.dumps({"payment": pid, "tid": threading.get_native_id(), "start_ns": start, "write_ns": write_ns,
                       "client_port": int(environ["REMOTE_PORT"])}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class Handler(WSGIRequestHandler):
    """wsgiref leaves out the CGI REMOTE_PORT variable; servers like waitress set it."""

    def get_environ(self):
        env = super().get_environ()
        env["REMOTE_PORT"] = str(self.client_address[1])
        return env

    def log_message(self, *args):
        pass


def main() -> None:
    httpd = make_server("127.0.0.1", 0, OpenTelemetryMiddleware(app),
                        server_class=ThreadingWSGIServer, handler_class=Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(httpd.server_address[1], flush=True)
    sys.stdin.read()
    httpd.shutdown()
    provider.shutdown()


if __name__ == "__main__":
    main()
