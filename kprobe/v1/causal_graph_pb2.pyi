from kprobe.v1 import api_common_pb2 as _api_common_pb2
from kprobe.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TraversalDirection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAVERSAL_DIRECTION_UNSPECIFIED: _ClassVar[TraversalDirection]
    TRAVERSAL_DIRECTION_UPSTREAM: _ClassVar[TraversalDirection]
    TRAVERSAL_DIRECTION_DOWNSTREAM: _ClassVar[TraversalDirection]

class NodeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_KIND_UNSPECIFIED: _ClassVar[NodeKind]
    NODE_KIND_TRANSACTION: _ClassVar[NodeKind]
    NODE_KIND_SPAN: _ClassVar[NodeKind]
    NODE_KIND_KERNEL_EVENT: _ClassVar[NodeKind]
    NODE_KIND_PROCESS: _ClassVar[NodeKind]
TRAVERSAL_DIRECTION_UNSPECIFIED: TraversalDirection
TRAVERSAL_DIRECTION_UPSTREAM: TraversalDirection
TRAVERSAL_DIRECTION_DOWNSTREAM: TraversalDirection
NODE_KIND_UNSPECIFIED: NodeKind
NODE_KIND_TRANSACTION: NodeKind
NODE_KIND_SPAN: NodeKind
NODE_KIND_KERNEL_EVENT: NodeKind
NODE_KIND_PROCESS: NodeKind

class GetCausalGraphRequest(_message.Message):
    __slots__ = ("transaction_id", "include_events")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    include_events: bool
    def __init__(self, transaction_id: _Optional[str] = ..., include_events: _Optional[bool] = ...) -> None: ...

class GetRootCauseRequest(_message.Message):
    __slots__ = ("transaction_id",)
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    def __init__(self, transaction_id: _Optional[str] = ...) -> None: ...

class TraverseRequest(_message.Message):
    __slots__ = ("transaction_id", "node_id", "event_id", "direction", "max_depth", "include_events")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    MAX_DEPTH_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EVENTS_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    node_id: str
    event_id: int
    direction: TraversalDirection
    max_depth: int
    include_events: bool
    def __init__(self, transaction_id: _Optional[str] = ..., node_id: _Optional[str] = ..., event_id: _Optional[int] = ..., direction: _Optional[_Union[TraversalDirection, str]] = ..., max_depth: _Optional[int] = ..., include_events: _Optional[bool] = ...) -> None: ...

class CausalNode(_message.Message):
    __slots__ = ("id", "kind", "label", "start_ns", "duration_ns", "pid", "tid", "comm", "service", "event_type", "event_id", "span_id", "on_critical_path", "critical_path_ns", "event", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    START_NS_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    TID_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    ON_CRITICAL_PATH_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_PATH_NS_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: NodeKind
    label: str
    start_ns: int
    duration_ns: int
    pid: int
    tid: int
    comm: str
    service: str
    event_type: _events_pb2.EventType
    event_id: int
    span_id: str
    on_critical_path: bool
    critical_path_ns: int
    event: _events_pb2.KernelEvent
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[_Union[NodeKind, str]] = ..., label: _Optional[str] = ..., start_ns: _Optional[int] = ..., duration_ns: _Optional[int] = ..., pid: _Optional[int] = ..., tid: _Optional[int] = ..., comm: _Optional[str] = ..., service: _Optional[str] = ..., event_type: _Optional[_Union[_events_pb2.EventType, str]] = ..., event_id: _Optional[int] = ..., span_id: _Optional[str] = ..., on_critical_path: _Optional[bool] = ..., critical_path_ns: _Optional[int] = ..., event: _Optional[_Union[_events_pb2.KernelEvent, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CausalEdge(_message.Message):
    __slots__ = ("source", "target", "relation", "inferred", "confidence", "share", "latency_contribution_ns", "on_critical_path")
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    INFERRED_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SHARE_FIELD_NUMBER: _ClassVar[int]
    LATENCY_CONTRIBUTION_NS_FIELD_NUMBER: _ClassVar[int]
    ON_CRITICAL_PATH_FIELD_NUMBER: _ClassVar[int]
    source: str
    target: str
    relation: str
    inferred: bool
    confidence: float
    share: float
    latency_contribution_ns: int
    on_critical_path: bool
    def __init__(self, source: _Optional[str] = ..., target: _Optional[str] = ..., relation: _Optional[str] = ..., inferred: _Optional[bool] = ..., confidence: _Optional[float] = ..., share: _Optional[float] = ..., latency_contribution_ns: _Optional[int] = ..., on_critical_path: _Optional[bool] = ...) -> None: ...

class RootCause(_message.Message):
    __slots__ = ("mechanism", "culprit", "contribution_ns", "evidence", "summary", "confidence", "node_id")
    MECHANISM_FIELD_NUMBER: _ClassVar[int]
    CULPRIT_FIELD_NUMBER: _ClassVar[int]
    CONTRIBUTION_NS_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    mechanism: str
    culprit: _api_common_pb2.Culprit
    contribution_ns: int
    evidence: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    confidence: float
    node_id: str
    def __init__(self, mechanism: _Optional[str] = ..., culprit: _Optional[_Union[_api_common_pb2.Culprit, _Mapping]] = ..., contribution_ns: _Optional[int] = ..., evidence: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., confidence: _Optional[float] = ..., node_id: _Optional[str] = ...) -> None: ...

class ChainStep(_message.Message):
    __slots__ = ("node_id", "label", "relation", "latency_contribution_ns")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    LATENCY_CONTRIBUTION_NS_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    label: str
    relation: str
    latency_contribution_ns: int
    def __init__(self, node_id: _Optional[str] = ..., label: _Optional[str] = ..., relation: _Optional[str] = ..., latency_contribution_ns: _Optional[int] = ...) -> None: ...

class CausalGraph(_message.Message):
    __slots__ = ("transaction", "nodes", "edges", "root_cause", "chain", "end_to_end_latency_ns", "critical_path_ns", "story")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    ROOT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    END_TO_END_LATENCY_NS_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_PATH_NS_FIELD_NUMBER: _ClassVar[int]
    STORY_FIELD_NUMBER: _ClassVar[int]
    transaction: _api_common_pb2.TransactionSummary
    nodes: _containers.RepeatedCompositeFieldContainer[CausalNode]
    edges: _containers.RepeatedCompositeFieldContainer[CausalEdge]
    root_cause: RootCause
    chain: _containers.RepeatedCompositeFieldContainer[ChainStep]
    end_to_end_latency_ns: int
    critical_path_ns: int
    story: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, transaction: _Optional[_Union[_api_common_pb2.TransactionSummary, _Mapping]] = ..., nodes: _Optional[_Iterable[_Union[CausalNode, _Mapping]]] = ..., edges: _Optional[_Iterable[_Union[CausalEdge, _Mapping]]] = ..., root_cause: _Optional[_Union[RootCause, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[ChainStep, _Mapping]]] = ..., end_to_end_latency_ns: _Optional[int] = ..., critical_path_ns: _Optional[int] = ..., story: _Optional[_Iterable[str]] = ...) -> None: ...

class RootCauseResponse(_message.Message):
    __slots__ = ("transaction", "root_cause", "chain", "story")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ROOT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    STORY_FIELD_NUMBER: _ClassVar[int]
    transaction: _api_common_pb2.TransactionSummary
    root_cause: RootCause
    chain: _containers.RepeatedCompositeFieldContainer[ChainStep]
    story: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, transaction: _Optional[_Union[_api_common_pb2.TransactionSummary, _Mapping]] = ..., root_cause: _Optional[_Union[RootCause, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[ChainStep, _Mapping]]] = ..., story: _Optional[_Iterable[str]] = ...) -> None: ...
