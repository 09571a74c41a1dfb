"""API server settings: defaults for local use, every knob a CLI flag."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .services.replay_sessions import SessionLimits

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PORT = 8080
# Where the plugin's standalone console build lands, first existing wins.
CONSOLE_CANDIDATES = (ROOT / "grafana_plugin" / "console" / "dist", ROOT / "grafana_plugin" / "dist" / "console")


@dataclass
class ApiConfig:
    host: str = "127.0.0.1"  # local by default: auth is off by default
    port: int = DEFAULT_PORT
    grpc_port: int | None = None  # an extra direct gRPC listener (bypasses the front)
    tls_cert: str | None = None
    tls_key: str | None = None
    auth: bool = False
    token_file: str | None = None
    allowed_origins: tuple[str, ...] = ()
    ws_buffer: int = 4096
    console_dir: Path | None = None
    replay_limits: SessionLimits = field(default_factory=SessionLimits)

    def console(self) -> Path | None:
        if self.console_dir is not None:
            return self.console_dir if self.console_dir.is_dir() else None
        return next((p for p in CONSOLE_CANDIDATES if p.is_dir()), None)
