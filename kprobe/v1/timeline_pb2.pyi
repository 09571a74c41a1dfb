from kprobe.v1 import api_common_pb2 as _api_common_pb2
from kprobe.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetTransactionTimelineRequest(_message.Message):
    __slots__ = ("transaction_id", "event_types", "page", "include_spans")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_SPANS_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    event_types: _containers.RepeatedScalarFieldContainer[_events_pb2.EventType]
    page: _api_common_pb2.PageRequest
    include_spans: bool
    def __init__(self, transaction_id: _Optional[str] = ..., event_types: _Optional[_Iterable[_Union[_events_pb2.EventType, str]]] = ..., page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ..., include_spans: _Optional[bool] = ...) -> None: ...

class TransactionTimeline(_message.Message):
    __slots__ = ("transaction", "events", "spans", "next_page_token")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    SPANS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    transaction: _api_common_pb2.TransactionSummary
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.KernelEvent]
    spans: _containers.RepeatedCompositeFieldContainer[_api_common_pb2.AppSpan]
    next_page_token: str
    def __init__(self, transaction: _Optional[_Union[_api_common_pb2.TransactionSummary, _Mapping]] = ..., events: _Optional[_Iterable[_Union[_events_pb2.KernelEvent, _Mapping]]] = ..., spans: _Optional[_Iterable[_Union[_api_common_pb2.AppSpan, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetEventsRequest(_message.Message):
    __slots__ = ("time_range", "filter", "page")
    TIME_RANGE_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    time_range: _api_common_pb2.TimeRange
    filter: _api_common_pb2.EventFilter
    page: _api_common_pb2.PageRequest
    def __init__(self, time_range: _Optional[_Union[_api_common_pb2.TimeRange, _Mapping]] = ..., filter: _Optional[_Union[_api_common_pb2.EventFilter, _Mapping]] = ..., page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class EventPage(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.KernelEvent]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.KernelEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("filter",)
    FILTER_FIELD_NUMBER: _ClassVar[int]
    filter: _api_common_pb2.EventFilter
    def __init__(self, filter: _Optional[_Union[_api_common_pb2.EventFilter, _Mapping]] = ...) -> None: ...

class DroppedEvents(_message.Message):
    __slots__ = ("count", "first_sequence")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    count: int
    first_sequence: int
    def __init__(self, count: _Optional[int] = ..., first_sequence: _Optional[int] = ...) -> None: ...

class LiveMessage(_message.Message):
    __slots__ = ("sequence", "event", "dropped")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    event: _events_pb2.KernelEvent
    dropped: DroppedEvents
    def __init__(self, sequence: _Optional[int] = ..., event: _Optional[_Union[_events_pb2.KernelEvent, _Mapping]] = ..., dropped: _Optional[_Union[DroppedEvents, _Mapping]] = ...) -> None: ...
