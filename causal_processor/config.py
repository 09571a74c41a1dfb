"""Processor configuration: defaults, then a YAML file, then KPROBE_PROCESSOR_* variables.

    storage: {dsn: "chdb:///var/lib/kprobe/clickhouse", retention_days: 30, wal_dir: ""}
    otlp: {grpc_endpoint: "0.0.0.0:4317", http_endpoint: "0.0.0.0:4318", max_request_bytes: 16777216}
    join: {transaction_keys: [transaction.id, payment.id], window_s: 5, retention_s: 30}
    forward: {endpoint: "tempo:4317", insecure: true, queue_size: 10000, app_spans: true}

Environment variables name a key path: KPROBE_PROCESSOR_STORAGE__DSN,
KPROBE_PROCESSOR_JOIN__WINDOW_S, KPROBE_PROCESSOR_JOIN__TRANSACTION_KEYS=a,b.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from causal_processor.join.joiner import DEFAULT_TRANSACTION_KEYS, JoinConfig
from causal_processor.storage.clickhouse import default_dsn, wal_dir

ENV_PREFIX = "KPROBE_PROCESSOR_"


class ConfigError(ValueError):
    """A configuration value is wrong; the message names it."""


@dataclass
class StorageConfig:
    dsn: str = field(default_factory=default_dsn)
    retention_days: int = 30
    batch_rows: int = 50_000  # insert when this many acknowledged rows wait...
    batch_ms: int = 1000  # ...or the oldest has waited this long
    wal_dir: str = ""  # write-ahead log; "" = storage.clickhouse.wal_dir(dsn), beside the data
    max_pending_rows: int = 1_000_000  # acknowledged rows waiting for storage before OTLP answers UNAVAILABLE

    def wal_path(self) -> str:
        return self.wal_dir or wal_dir(self.dsn)


@dataclass
class OtlpConfig:
    grpc_endpoint: str = "0.0.0.0:4317"  # "" disables
    http_endpoint: str = "0.0.0.0:4318"  # "" disables; also serves /metrics
    max_request_bytes: int = 16 * 1024 * 1024
    workers: int = 8


@dataclass
class JoinSettings:
    transaction_keys: list[str] = field(default_factory=lambda: list(DEFAULT_TRANSACTION_KEYS))
    window_s: float = 5.0
    retention_s: float = 30.0
    clock_tolerance_ms: float = 1.0
    idle_flush_s: float = 2.0
    tick_ms: int = 200
    max_buffered_events: int = 1_000_000

    def join_config(self) -> JoinConfig:
        return JoinConfig(
            transaction_keys=tuple(self.transaction_keys),
            window_ns=int(self.window_s * 1e9),
            retention_ns=int(self.retention_s * 1e9),
            clock_tolerance_ns=int(self.clock_tolerance_ms * 1e6),
            idle_flush_s=self.idle_flush_s,
            max_buffered_events=self.max_buffered_events,
        )


@dataclass
class ForwardConfig:
    endpoint: str = ""  # host:port of an OTLP/gRPC backend; "" disables forwarding
    insecure: bool = True
    queue_size: int = 10_000  # export requests held while the backend is slow or down
    max_retries: int = 5
    timeout_s: float = 10.0
    app_spans: bool = True  # also pass the application spans through
    headers: str = ""  # "key=value,key2=value2" sent as gRPC metadata (e.g. authorization)

    def metadata(self) -> list[tuple[str, str]]:
        out = []
        for item in self.headers.split(","):
            k, sep, v = item.partition("=")
            if k.strip():
                if not sep:
                    raise ConfigError(f"forward.headers: {item.strip()!r} is not key=value")
                out.append((k.strip().lower(), v.strip()))
        return out


@dataclass
class ProcessorConfig:
    storage: StorageConfig = field(default_factory=StorageConfig)
    otlp: OtlpConfig = field(default_factory=OtlpConfig)
    join: JoinSettings = field(default_factory=JoinSettings)
    forward: ForwardConfig = field(default_factory=ForwardConfig)


def _coerce(value: Any, current: Any, where: str) -> Any:
    try:
        if isinstance(current, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(current, int):
            return int(value)
        if isinstance(current, float):
            return float(value)
        if isinstance(current, list):
            return [s.strip() for s in value.split(",") if s.strip()] if isinstance(value, str) else list(value)
        return str(value)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{where}: {value!r} is not a valid {type(current).__name__}") from e


def _apply(obj: Any, values: Mapping[str, Any], where: str) -> None:
    names = {f.name for f in dataclasses.fields(obj)}
    for k, v in values.items():
        if k not in names:
            raise ConfigError(f"{where}{k}: unknown setting (known: {', '.join(sorted(names))})")
        cur = getattr(obj, k)
        if dataclasses.is_dataclass(cur):
            if not isinstance(v, Mapping):
                raise ConfigError(f"{where}{k}: expected a mapping")
            _apply(cur, v, f"{where}{k}.")
        else:
            setattr(obj, k, _coerce(v, cur, f"{where}{k}"))


def load(path: str | None = None, env: Mapping[str, str] | None = None) -> ProcessorConfig:
    cfg = ProcessorConfig()
    if path:
        try:
            with open(path) as f:
                doc = yaml.safe_load(f) or {}
        except OSError as e:
            raise ConfigError(f"cannot read config {path}: {e.strerror}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"config {path} is not valid YAML: {e}") from e
        if not isinstance(doc, Mapping):
            raise ConfigError(f"config {path}: expected a mapping at the top")
        _apply(cfg, doc, "")
    env = os.environ if env is None else env
    for key, value in env.items():
        if key.startswith(ENV_PREFIX):
            parts = key[len(ENV_PREFIX):].lower().split("__")
            nested: dict[str, Any] = {}
            cur = nested
            for p in parts[:-1]:
                cur = cur.setdefault(p, {})
            cur[parts[-1]] = value
            _apply(cfg, nested, f"${ENV_PREFIX}")
    return cfg


def local(dsn: str, *, window_s: float = 0.05, idle_flush_s: float = 0.2, http: bool = True,
          forward: str = "") -> ProcessorConfig:
    """An in-process processor on free loopback ports that joins within a tick or two.

    For tests, benchmarks and embedding (the API, the testbed): batches flush after 5 ms
    and the join runs every 50 ms with a short lateness window.
    """
    cfg = ProcessorConfig()
    cfg.storage.dsn = dsn
    cfg.storage.batch_ms = 5
    cfg.otlp.grpc_endpoint = "127.0.0.1:0"
    cfg.otlp.http_endpoint = "127.0.0.1:0" if http else ""
    cfg.join.window_s = window_s
    cfg.join.idle_flush_s = idle_flush_s
    cfg.join.tick_ms = 50
    cfg.forward.endpoint = forward
    return cfg
