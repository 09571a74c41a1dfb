"""The method table every transport serves, derived from the service protos.

Each entry pairs a method descriptor with the coroutine implementing it, so
gRPC, gRPC-Web and the JSON routes call the very same code and cannot drift.
A method whose implementation is missing is a bug caught at startup.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from kprobe.v1 import causal_graph_pb2, replay_pb2, search_pb2, timeline_pb2

SERVICES: tuple[ServiceDescriptor, ...] = (
    causal_graph_pb2.DESCRIPTOR.services_by_name["CausalGraphService"],
    timeline_pb2.DESCRIPTOR.services_by_name["TimelineService"],
    replay_pb2.DESCRIPTOR.services_by_name["ReplayService"],
    search_pb2.DESCRIPTOR.services_by_name["SearchService"],
)

UnaryHandler = Callable[[Any], Awaitable[Message]]
StreamHandler = Callable[[Any], AsyncIterator[Message]]


@dataclass(frozen=True)
class Method:
    """One RPC: its path, message classes and implementation."""

    descriptor: MethodDescriptor
    request_type: type[Message]
    response_type: type[Message]
    handler: Callable[[Any], Any]

    @property
    def path(self) -> str:
        """The gRPC path, `/kprobe.v1.Service/Method`."""
        return f"/{self.descriptor.containing_service.full_name}/{self.descriptor.name}"

    @property
    def server_streaming(self) -> bool:
        return self.descriptor.server_streaming


def build(implementations: Iterable[object]) -> dict[str, Method]:
    """Map each gRPC path to its Method, taking handlers from objects whose
    `service` attribute names the ServiceDescriptor they implement."""
    by_service = {impl.service.full_name: impl for impl in implementations}  # type: ignore[attr-defined]
    table: dict[str, Method] = {}
    for service in SERVICES:
        impl = by_service.get(service.full_name)
        if impl is None:
            raise RuntimeError(f"no implementation for {service.full_name}")
        for md in service.methods:
            handler = getattr(impl, md.name, None)
            if handler is None:
                raise RuntimeError(f"{type(impl).__name__} lacks {md.name}")
            m = Method(
                md,
                message_factory.GetMessageClass(md.input_type),
                message_factory.GetMessageClass(md.output_type),
                handler,
            )
            table[m.path] = m
    return table
