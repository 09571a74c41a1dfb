from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class EventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EVENT_TYPE_UNSPECIFIED: _ClassVar[EventType]
    TCPSend: _ClassVar[EventType]
    TCPRecv: _ClassVar[EventType]
    SyscallRead: _ClassVar[EventType]
    SyscallWrite: _ClassVar[EventType]
    SchedSwitch: _ClassVar[EventType]
    PageFault: _ClassVar[EventType]
    SchedWakeup: _ClassVar[EventType]
    MemoryReclaim: _ClassVar[EventType]
    TCPRetransmit: _ClassVar[EventType]
    SyscallFsync: _ClassVar[EventType]

class OffCpuReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OFF_CPU_REASON_UNSPECIFIED: _ClassVar[OffCpuReason]
    BLOCKED: _ClassVar[OffCpuReason]
    PREEMPTED: _ClassVar[OffCpuReason]

class ReclaimKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RECLAIM_KIND_UNSPECIFIED: _ClassVar[ReclaimKind]
    DIRECT: _ClassVar[ReclaimKind]
    MEMCG: _ClassVar[ReclaimKind]
EVENT_TYPE_UNSPECIFIED: EventType
TCPSend: EventType
TCPRecv: EventType
SyscallRead: EventType
SyscallWrite: EventType
SchedSwitch: EventType
PageFault: EventType
SchedWakeup: EventType
MemoryReclaim: EventType
TCPRetransmit: EventType
SyscallFsync: EventType
OFF_CPU_REASON_UNSPECIFIED: OffCpuReason
BLOCKED: OffCpuReason
PREEMPTED: OffCpuReason
RECLAIM_KIND_UNSPECIFIED: ReclaimKind
DIRECT: ReclaimKind
MEMCG: ReclaimKind
OTEL_FIELD_NUMBER: _ClassVar[int]
otel: _descriptor.FieldDescriptor
APPLIES_FIELD_NUMBER: _ClassVar[int]
applies: _descriptor.FieldDescriptor

class FinancialContext(_message.Message):
    __slots__ = ("transaction_id", "service", "operation", "trace_id", "span_id", "join_method", "join_confidence")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    SPAN_ID_FIELD_NUMBER: _ClassVar[int]
    JOIN_METHOD_FIELD_NUMBER: _ClassVar[int]
    JOIN_CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    service: str
    operation: str
    trace_id: str
    span_id: str
    join_method: str
    join_confidence: float
    def __init__(self, transaction_id: _Optional[str] = ..., service: _Optional[str] = ..., operation: _Optional[str] = ..., trace_id: _Optional[str] = ..., span_id: _Optional[str] = ..., join_method: _Optional[str] = ..., join_confidence: _Optional[float] = ...) -> None: ...

class KernelEvent(_message.Message):
    __slots__ = ("event_id", "timestamp_ns", "pid", "tid", "cpu", "event_type", "duration_ns", "financial_context", "comm", "cgroup_id", "fd", "bytes", "ret", "errno", "saddr", "sport", "daddr", "dport", "segments", "tcp_state", "off_cpu_reason", "runq_wait_ns", "waker_pid", "waker_tid", "waker_comm", "prev_state", "target_pid", "target_tid", "target_comm", "address", "major", "pages_reclaimed", "reclaim_kind")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_NS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    TID_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    FINANCIAL_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    COMM_FIELD_NUMBER: _ClassVar[int]
    CGROUP_ID_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    RET_FIELD_NUMBER: _ClassVar[int]
    ERRNO_FIELD_NUMBER: _ClassVar[int]
    SADDR_FIELD_NUMBER: _ClassVar[int]
    SPORT_FIELD_NUMBER: _ClassVar[int]
    DADDR_FIELD_NUMBER: _ClassVar[int]
    DPORT_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_FIELD_NUMBER: _ClassVar[int]
    TCP_STATE_FIELD_NUMBER: _ClassVar[int]
    OFF_CPU_REASON_FIELD_NUMBER: _ClassVar[int]
    RUNQ_WAIT_NS_FIELD_NUMBER: _ClassVar[int]
    WAKER_PID_FIELD_NUMBER: _ClassVar[int]
    WAKER_TID_FIELD_NUMBER: _ClassVar[int]
    WAKER_COMM_FIELD_NUMBER: _ClassVar[int]
    PREV_STATE_FIELD_NUMBER: _ClassVar[int]
    TARGET_PID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TID_FIELD_NUMBER: _ClassVar[int]
    TARGET_COMM_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    MAJOR_FIELD_NUMBER: _ClassVar[int]
    PAGES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    RECLAIM_KIND_FIELD_NUMBER: _ClassVar[int]
    event_id: int
    timestamp_ns: int
    pid: int
    tid: int
    cpu: int
    event_type: EventType
    duration_ns: int
    financial_context: FinancialContext
    comm: str
    cgroup_id: int
    fd: int
    bytes: int
    ret: int
    errno: int
    saddr: str
    sport: int
    daddr: str
    dport: int
    segments: int
    tcp_state: int
    off_cpu_reason: OffCpuReason
    runq_wait_ns: int
    waker_pid: int
    waker_tid: int
    waker_comm: str
    prev_state: int
    target_pid: int
    target_tid: int
    target_comm: str
    address: int
    major: bool
    pages_reclaimed: int
    reclaim_kind: ReclaimKind
    def __init__(self, event_id: _Optional[int] = ..., timestamp_ns: _Optional[int] = ..., pid: _Optional[int] = ..., tid: _Optional[int] = ..., cpu: _Optional[int] = ..., event_type: _Optional[_Union[EventType, str]] = ..., duration_ns: _Optional[int] = ..., financial_context: _Optional[_Union[FinancialContext, _Mapping]] = ..., comm: _Optional[str] = ..., cgroup_id: _Optional[int] = ..., fd: _Optional[int] = ..., bytes: _Optional[int] = ..., ret: _Optional[int] = ..., errno: _Optional[int] = ..., saddr: _Optional[str] = ..., sport: _Optional[int] = ..., daddr: _Optional[str] = ..., dport: _Optional[int] = ..., segments: _Optional[int] = ..., tcp_state: _Optional[int] = ..., off_cpu_reason: _Optional[_Union[OffCpuReason, str]] = ..., runq_wait_ns: _Optional[int] = ..., waker_pid: _Optional[int] = ..., waker_tid: _Optional[int] = ..., waker_comm: _Optional[str] = ..., prev_state: _Optional[int] = ..., target_pid: _Optional[int] = ..., target_tid: _Optional[int] = ..., target_comm: _Optional[str] = ..., address: _Optional[int] = ..., major: _Optional[bool] = ..., pages_reclaimed: _Optional[int] = ..., reclaim_kind: _Optional[_Union[ReclaimKind, str]] = ...) -> None: ...
