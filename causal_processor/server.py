"""A running processor: the pipeline plus its OTLP receivers (what `kprobe processor` starts).

Other in-process users (the API in chdb mode, tests) start it here and read
`running.processor.store` and `running.processor.live`.
"""

from __future__ import annotations

from dataclasses import dataclass

from causal_processor.config import ProcessorConfig
from causal_processor.ingest.grpc_server import GrpcReceiver
from causal_processor.ingest.http_server import HttpReceiver
from causal_processor.pipeline import Processor


def _host_port(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


@dataclass
class RunningProcessor:
    processor: Processor
    grpc: GrpcReceiver | None
    http: HttpReceiver | None

    @property
    def grpc_port(self) -> int:
        return self.grpc.port if self.grpc else 0

    @property
    def http_port(self) -> int:
        return self.http.port if self.http else 0

    def stop(self, *, flush: bool = True) -> None:
        """Stop taking requests, then finish (or, without flush, abandon) the join."""
        if self.grpc:
            self.grpc.stop()
        if self.http:
            self.http.stop()
        self.processor.stop(flush=flush)


def start(config: ProcessorConfig, processor: Processor | None = None) -> RunningProcessor:
    processor = (processor or Processor(config)).start()
    o = config.otlp
    grpc_rx = http_rx = None
    try:
        if o.grpc_endpoint:
            grpc_rx = GrpcReceiver(processor, o.grpc_endpoint, max_request_bytes=o.max_request_bytes,
                                   workers=o.workers).start()
        if o.http_endpoint:
            host, port = _host_port(o.http_endpoint)
            http_rx = HttpReceiver(processor, host, port, max_request_bytes=o.max_request_bytes).start()
    except Exception:
        if grpc_rx:
            grpc_rx.stop()
        processor.stop(flush=False)
        raise
    return RunningProcessor(processor, grpc_rx, http_rx)
