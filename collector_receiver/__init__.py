"""The eBPF receiver: capture kernel events of chosen processes, emit them as OTLP spans."""

from collector_receiver.capture import Capture, CaptureStats
from collector_receiver.errors import CaptureError
from collector_receiver.policy import DROP, METRIC, SPAN, Policy

__all__ = ["DROP", "METRIC", "SPAN", "Capture", "CaptureError", "CaptureStats", "Policy"]
