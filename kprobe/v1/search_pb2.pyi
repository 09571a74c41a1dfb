from kprobe.v1 import api_common_pb2 as _api_common_pb2
from kprobe.v1 import causal_graph_pb2 as _causal_graph_pb2
from kprobe.v1 import timeline_pb2 as _timeline_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SearchTransactionsRequest(_message.Message):
    __slots__ = ("transaction_id", "services", "status", "min_latency_ns", "max_latency_ns", "time_range", "page")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MIN_LATENCY_NS_FIELD_NUMBER: _ClassVar[int]
    MAX_LATENCY_NS_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    services: _containers.RepeatedScalarFieldContainer[str]
    status: _api_common_pb2.TransactionStatus
    min_latency_ns: int
    max_latency_ns: int
    time_range: _api_common_pb2.TimeRange
    page: _api_common_pb2.PageRequest
    def __init__(self, transaction_id: _Optional[str] = ..., services: _Optional[_Iterable[str]] = ..., status: _Optional[_Union[_api_common_pb2.TransactionStatus, str]] = ..., min_latency_ns: _Optional[int] = ..., max_latency_ns: _Optional[int] = ..., time_range: _Optional[_Union[_api_common_pb2.TimeRange, _Mapping]] = ..., page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchTransactionsResponse(_message.Message):
    __slots__ = ("transactions", "next_page_token")
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transactions: _containers.RepeatedCompositeFieldContainer[_api_common_pb2.TransactionSummary]
    next_page_token: str
    def __init__(self, transactions: _Optional[_Iterable[_Union[_api_common_pb2.TransactionSummary, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchEventsRequest(_message.Message):
    __slots__ = ("filter", "time_range", "page")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    filter: _api_common_pb2.EventFilter
    time_range: _api_common_pb2.TimeRange
    page: _api_common_pb2.PageRequest
    def __init__(self, filter: _Optional[_Union[_api_common_pb2.EventFilter, _Mapping]] = ..., time_range: _Optional[_Union[_api_common_pb2.TimeRange, _Mapping]] = ..., page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class SearchCausalChainsRequest(_message.Message):
    __slots__ = ("culprit", "mechanism", "time_range", "page")
    CULPRIT_FIELD_NUMBER: _ClassVar[int]
    MECHANISM_FIELD_NUMBER: _ClassVar[int]
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    culprit: _api_common_pb2.Culprit
    mechanism: str
    time_range: _api_common_pb2.TimeRange
    page: _api_common_pb2.PageRequest
    def __init__(self, culprit: _Optional[_Union[_api_common_pb2.Culprit, _Mapping]] = ..., mechanism: _Optional[str] = ..., time_range: _Optional[_Union[_api_common_pb2.TimeRange, _Mapping]] = ..., page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class CausalChainMatch(_message.Message):
    __slots__ = ("transaction", "root_cause", "chain")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    ROOT_CAUSE_FIELD_NUMBER: _ClassVar[int]
    CHAIN_FIELD_NUMBER: _ClassVar[int]
    transaction: _api_common_pb2.TransactionSummary
    root_cause: _causal_graph_pb2.RootCause
    chain: _containers.RepeatedCompositeFieldContainer[_causal_graph_pb2.ChainStep]
    def __init__(self, transaction: _Optional[_Union[_api_common_pb2.TransactionSummary, _Mapping]] = ..., root_cause: _Optional[_Union[_causal_graph_pb2.RootCause, _Mapping]] = ..., chain: _Optional[_Iterable[_Union[_causal_graph_pb2.ChainStep, _Mapping]]] = ...) -> None: ...

class SearchCausalChainsResponse(_message.Message):
    __slots__ = ("matches", "next_page_token")
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    matches: _containers.RepeatedCompositeFieldContainer[CausalChainMatch]
    next_page_token: str
    def __init__(self, matches: _Optional[_Iterable[_Union[CausalChainMatch, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class TopRootCausesRequest(_message.Message):
    __slots__ = ("time_range", "limit")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    time_range: _api_common_pb2.TimeRange
    limit: int
    def __init__(self, time_range: _Optional[_Union[_api_common_pb2.TimeRange, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class RootCauseCount(_message.Message):
    __slots__ = ("mechanism", "culprit", "transactions", "total_contribution_ns")
    MECHANISM_FIELD_NUMBER: _ClassVar[int]
    CULPRIT_FIELD_NUMBER: _ClassVar[int]
    TRANSACTIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_CONTRIBUTION_NS_FIELD_NUMBER: _ClassVar[int]
    mechanism: str
    culprit: _api_common_pb2.Culprit
    transactions: int
    total_contribution_ns: int
    def __init__(self, mechanism: _Optional[str] = ..., culprit: _Optional[_Union[_api_common_pb2.Culprit, _Mapping]] = ..., transactions: _Optional[int] = ..., total_contribution_ns: _Optional[int] = ...) -> None: ...

class TopRootCausesResponse(_message.Message):
    __slots__ = ("causes",)
    CAUSES_FIELD_NUMBER: _ClassVar[int]
    causes: _containers.RepeatedCompositeFieldContainer[RootCauseCount]
    def __init__(self, causes: _Optional[_Iterable[_Union[RootCauseCount, _Mapping]]] = ...) -> None: ...
