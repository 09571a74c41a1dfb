"""A payment service with standard OpenTelemetry setup, on one of two kinds of server.

Run as a subprocess by the end-to-end tests: `python threaded_payments.py [threading|waitress]`
prints its port, serves until stdin closes, then flushes its spans.
  threading: wsgiref + ThreadingMixIn, a thread per connection that receives its request.
  waitress: an event loop receives every request and hands it to a pool of worker threads.
GET /pay?id=P&writes=N[&ledger=1] writes N records (sizes 1000+k) to /dev/null, sleeps a
little so payments overlap on several threads, optionally calls GET /ledger on itself
(OTel requests instrumentation), and answers with its ground truth (kernel thread ids,
client port, the time around each write) as JSON.
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

import requests
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(), schedule_delay_millis=100))
trace.set_tracer_provider(provider)
RequestsInstrumentor().instrument()
tracer = trace.get_tracer("payments")
SINK = os.open("/dev/null", os.O_WRONLY)
PORT = 0


def app(environ, start_response):
    q = parse_qs(environ.get("QUERY_STRING", ""))
    truth: dict = {"tid": threading.get_native_id(), "client_port": int(environ["REMOTE_PORT"])}
    if environ["PATH_INFO"] == "/ledger":
        os.write(SINK, b"L" * 777)
    else:
        pid, writes = q["id"][0], int(q["writes"][0])
        trace.get_current_span().set_attribute("payment.id", pid)
        write_ns = []
        with tracer.start_as_current_span("ledger.write"):
            for k in range(writes):
                before = time.time_ns()
                os.write(SINK, b"x" * (1000 + k))
                write_ns.append((before, time.time_ns()))
                time.sleep(0.002)
        truth.update(payment=pid, write_ns=write_ns)
        if q.get("ledger"):
            truth["ledger"] = requests.get(f"http://127.0.0.1:{PORT}/ledger", timeout=30).json()
    body = json.dumps(truth).encode()
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
    global PORT
    wsgi = OpenTelemetryMiddleware(app)
    if sys.argv[1:] == ["waitress"]:
        from waitress.server import create_server

        server = create_server(wsgi, host="127.0.0.1", port=0, threads=16)
        PORT = server.effective_port
        threading.Thread(target=server.run, daemon=True).start()
    else:
        httpd = make_server("127.0.0.1", 0, wsgi, server_class=ThreadingWSGIServer, handler_class=Handler)
        PORT = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    print(PORT, flush=True)
    sys.stdin.read()
    provider.shutdown()


if __name__ == "__main__":
    main()
