"""Requests that wait while another is decoded are then decoded together, by one thread.

Decoding is GIL-bound: four gRPC handler threads decoding at once cost 12 µs of CPU per span
against 8 in turn, and the bulk decoder pays a fixed cost per call (ptars' setup, ~40 Arrow and
numpy calls) that several requests share: 5.9 µs per span one 2,000-span request at a time,
3.6 to 4.3 with four to eight together (BENCHMARKS.md, processor). So a handler queues its body;
whichever handler holds the decode lock takes everything queued, and the others find their
result done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from causal_processor.ingest.decode import BadRequest, Decoded


class DecodeBatcher:
    def __init__(self, decode_many: Callable[[Sequence[bytes]], list[Decoded | BadRequest]],
                 max_bodies: int = 8) -> None:
        self._decode_many = decode_many
        self._max_bodies = max_bodies
        self._decode_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[tuple[bytes, Future[Decoded]]] = []

    def decode(self, body: bytes) -> Decoded:
        """This body decoded (with whatever else is queued); raises its BadRequest."""
        fut: Future[Decoded] = Future()
        with self._queue_lock:
            self._queue.append((body, fut))
        while not fut.done():
            with self._decode_lock:
                if fut.done():
                    break
                with self._queue_lock:
                    batch = self._queue[:self._max_bodies]
                    del self._queue[:self._max_bodies]
                self._run(batch)
        return fut.result()

    def _run(self, batch: list[tuple[bytes, Future[Decoded]]]) -> None:
        try:
            results = self._decode_many([body for body, _ in batch])
        except BaseException as e:  # every waiter gets it, none hangs
            for _, fut in batch:
                fut.set_exception(e)
            raise
        for (_, fut), r in zip(batch, results, strict=True):
            if isinstance(r, BadRequest):
                fut.set_exception(r)
            else:
                fut.set_result(r)
