from kprobe.v1 import api_common_pb2 as _api_common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReplayState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLAY_STATE_UNSPECIFIED: _ClassVar[ReplayState]
    REPLAY_STATE_CREATED: _ClassVar[ReplayState]
    REPLAY_STATE_RUNNING: _ClassVar[ReplayState]
    REPLAY_STATE_SUCCEEDED: _ClassVar[ReplayState]
    REPLAY_STATE_DIVERGED: _ClassVar[ReplayState]
    REPLAY_STATE_FAILED: _ClassVar[ReplayState]
    REPLAY_STATE_CANCELLED: _ClassVar[ReplayState]

class ReplayAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REPLAY_ACTION_UNSPECIFIED: _ClassVar[ReplayAction]
    REPLAY_ACTION_START: _ClassVar[ReplayAction]
    REPLAY_ACTION_CANCEL: _ClassVar[ReplayAction]
REPLAY_STATE_UNSPECIFIED: ReplayState
REPLAY_STATE_CREATED: ReplayState
REPLAY_STATE_RUNNING: ReplayState
REPLAY_STATE_SUCCEEDED: ReplayState
REPLAY_STATE_DIVERGED: ReplayState
REPLAY_STATE_FAILED: ReplayState
REPLAY_STATE_CANCELLED: ReplayState
REPLAY_ACTION_UNSPECIFIED: ReplayAction
REPLAY_ACTION_START: ReplayAction
REPLAY_ACTION_CANCEL: ReplayAction

class TimingInjection(_message.Message):
    __slots__ = ("syscall", "fd", "peer", "add_latency_ns", "set_latency_ns", "time_scale", "clock_offset_ns")
    SYSCALL_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    ADD_LATENCY_NS_FIELD_NUMBER: _ClassVar[int]
    SET_LATENCY_NS_FIELD_NUMBER: _ClassVar[int]
    TIME_SCALE_FIELD_NUMBER: _ClassVar[int]
    CLOCK_OFFSET_NS_FIELD_NUMBER: _ClassVar[int]
    syscall: str
    fd: int
    peer: str
    add_latency_ns: int
    set_latency_ns: int
    time_scale: float
    clock_offset_ns: int
    def __init__(self, syscall: _Optional[str] = ..., fd: _Optional[int] = ..., peer: _Optional[str] = ..., add_latency_ns: _Optional[int] = ..., set_latency_ns: _Optional[int] = ..., time_scale: _Optional[float] = ..., clock_offset_ns: _Optional[int] = ...) -> None: ...

class FailureInjection(_message.Message):
    __slots__ = ("syscall", "fd", "peer", "error", "retval", "nth", "step", "cut_connection", "truncate_bytes")
    SYSCALL_FIELD_NUMBER: _ClassVar[int]
    FD_FIELD_NUMBER: _ClassVar[int]
    PEER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RETVAL_FIELD_NUMBER: _ClassVar[int]
    NTH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    CUT_CONNECTION_FIELD_NUMBER: _ClassVar[int]
    TRUNCATE_BYTES_FIELD_NUMBER: _ClassVar[int]
    syscall: str
    fd: int
    peer: str
    error: str
    retval: int
    nth: int
    step: int
    cut_connection: bool
    truncate_bytes: int
    def __init__(self, syscall: _Optional[str] = ..., fd: _Optional[int] = ..., peer: _Optional[str] = ..., error: _Optional[str] = ..., retval: _Optional[int] = ..., nth: _Optional[int] = ..., step: _Optional[int] = ..., cut_connection: _Optional[bool] = ..., truncate_bytes: _Optional[int] = ...) -> None: ...

class ConfigChange(_message.Message):
    __slots__ = ("env", "argv", "files")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    ENV_FIELD_NUMBER: _ClassVar[int]
    ARGV_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    env: _containers.ScalarMap[str, str]
    argv: _containers.RepeatedScalarFieldContainer[str]
    files: _containers.ScalarMap[str, bytes]
    def __init__(self, env: _Optional[_Mapping[str, str]] = ..., argv: _Optional[_Iterable[str]] = ..., files: _Optional[_Mapping[str, bytes]] = ...) -> None: ...

class CreateReplaySessionRequest(_message.Message):
    __slots__ = ("transaction_id", "recording", "timing", "failures", "config", "start", "ttl_seconds", "fuzz_seed")
    TRANSACTION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDING_FIELD_NUMBER: _ClassVar[int]
    TIMING_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    TTL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    FUZZ_SEED_FIELD_NUMBER: _ClassVar[int]
    transaction_id: str
    recording: str
    timing: _containers.RepeatedCompositeFieldContainer[TimingInjection]
    failures: _containers.RepeatedCompositeFieldContainer[FailureInjection]
    config: ConfigChange
    start: bool
    ttl_seconds: int
    fuzz_seed: int
    def __init__(self, transaction_id: _Optional[str] = ..., recording: _Optional[str] = ..., timing: _Optional[_Iterable[_Union[TimingInjection, _Mapping]]] = ..., failures: _Optional[_Iterable[_Union[FailureInjection, _Mapping]]] = ..., config: _Optional[_Union[ConfigChange, _Mapping]] = ..., start: _Optional[bool] = ..., ttl_seconds: _Optional[int] = ..., fuzz_seed: _Optional[int] = ...) -> None: ...

class Divergence(_message.Message):
    __slots__ = ("event_index", "syscall", "expected", "actual")
    EVENT_INDEX_FIELD_NUMBER: _ClassVar[int]
    SYSCALL_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    event_index: int
    syscall: str
    expected: str
    actual: str
    def __init__(self, event_index: _Optional[int] = ..., syscall: _Optional[str] = ..., expected: _Optional[str] = ..., actual: _Optional[str] = ...) -> None: ...

class ReplayOutcome(_message.Message):
    __slots__ = ("exit_status", "recorded_exit_status", "matches_recording", "transaction_status", "recorded_transaction_status", "divergence", "duration_ns", "stdout_excerpt", "stderr_excerpt")
    EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_EXIT_STATUS_FIELD_NUMBER: _ClassVar[int]
    MATCHES_RECORDING_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    RECORDED_TRANSACTION_STATUS_FIELD_NUMBER: _ClassVar[int]
    DIVERGENCE_FIELD_NUMBER: _ClassVar[int]
    DURATION_NS_FIELD_NUMBER: _ClassVar[int]
    STDOUT_EXCERPT_FIELD_NUMBER: _ClassVar[int]
    STDERR_EXCERPT_FIELD_NUMBER: _ClassVar[int]
    exit_status: int
    recorded_exit_status: int
    matches_recording: bool
    transaction_status: _api_common_pb2.TransactionStatus
    recorded_transaction_status: _api_common_pb2.TransactionStatus
    divergence: Divergence
    duration_ns: int
    stdout_excerpt: str
    stderr_excerpt: str
    def __init__(self, exit_status: _Optional[int] = ..., recorded_exit_status: _Optional[int] = ..., matches_recording: _Optional[bool] = ..., transaction_status: _Optional[_Union[_api_common_pb2.TransactionStatus, str]] = ..., recorded_transaction_status: _Optional[_Union[_api_common_pb2.TransactionStatus, str]] = ..., divergence: _Optional[_Union[Divergence, _Mapping]] = ..., duration_ns: _Optional[int] = ..., stdout_excerpt: _Optional[str] = ..., stderr_excerpt: _Optional[str] = ...) -> None: ...

class ReplayProgress(_message.Message):
    __slots__ = ("session_id", "state", "events_total", "events_replayed", "message", "outcome")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EVENTS_TOTAL_FIELD_NUMBER: _ClassVar[int]
    EVENTS_REPLAYED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    state: ReplayState
    events_total: int
    events_replayed: int
    message: str
    outcome: ReplayOutcome
    def __init__(self, session_id: _Optional[str] = ..., state: _Optional[_Union[ReplayState, str]] = ..., events_total: _Optional[int] = ..., events_replayed: _Optional[int] = ..., message: _Optional[str] = ..., outcome: _Optional[_Union[ReplayOutcome, _Mapping]] = ...) -> None: ...

class ReplaySession(_message.Message):
    __slots__ = ("session_id", "state", "request", "created_ns", "started_ns", "finished_ns", "expires_ns", "progress")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    CREATED_NS_FIELD_NUMBER: _ClassVar[int]
    STARTED_NS_FIELD_NUMBER: _ClassVar[int]
    FINISHED_NS_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_NS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    state: ReplayState
    request: CreateReplaySessionRequest
    created_ns: int
    started_ns: int
    finished_ns: int
    expires_ns: int
    progress: ReplayProgress
    def __init__(self, session_id: _Optional[str] = ..., state: _Optional[_Union[ReplayState, str]] = ..., request: _Optional[_Union[CreateReplaySessionRequest, _Mapping]] = ..., created_ns: _Optional[int] = ..., started_ns: _Optional[int] = ..., finished_ns: _Optional[int] = ..., expires_ns: _Optional[int] = ..., progress: _Optional[_Union[ReplayProgress, _Mapping]] = ...) -> None: ...

class GetReplaySessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class WatchReplaySessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class DeleteReplaySessionRequest(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class ListReplaySessionsRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _api_common_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_api_common_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListReplaySessionsResponse(_message.Message):
    __slots__ = ("sessions", "next_page_token")
    SESSIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sessions: _containers.RepeatedCompositeFieldContainer[ReplaySession]
    next_page_token: str
    def __init__(self, sessions: _Optional[_Iterable[_Union[ReplaySession, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ControlReplaySessionRequest(_message.Message):
    __slots__ = ("session_id", "action")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    action: ReplayAction
    def __init__(self, session_id: _Optional[str] = ..., action: _Optional[_Union[ReplayAction, str]] = ...) -> None: ...
