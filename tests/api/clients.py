"""Client helpers shared by the API tests (real grpcio channels, JSON over HTTP)."""

from __future__ import annotations

import grpc
from google.protobuf import json_format

from kprobe.v1 import (
    causal_graph_pb2_grpc,
    replay_pb2_grpc,
    search_pb2_grpc,
    timeline_pb2_grpc,
)


class Stubs:
    def __init__(self, channel: grpc.Channel) -> None:
        self.graph = causal_graph_pb2_grpc.CausalGraphServiceStub(channel)
        self.timeline = timeline_pb2_grpc.TimelineServiceStub(channel)
        self.replay = replay_pb2_grpc.ReplayServiceStub(channel)
        self.search = search_pb2_grpc.SearchServiceStub(channel)


def as_dict(msg) -> dict:
    return json_format.MessageToDict(msg, preserving_proto_field_name=True)


def rpc_error(call, *args, **kwargs) -> grpc.RpcError:
    try:
        call(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    raise AssertionError("the call succeeded")
