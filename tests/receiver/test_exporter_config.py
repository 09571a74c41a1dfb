"""Exporter configuration follows the OTel SDK variables; the clock offset is measured tightly."""

from __future__ import annotations

import time

import pytest

from collector_receiver import clock
from collector_receiver.exporter import GRPC, HTTP, OtlpExporter, endpoint_configured
from collector_receiver.resources import service_name_from_environ


def test_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=payments,authorization=Bearer%20t")
    assert endpoint_configured()
    e = OtlpExporter()
    try:
        assert (e.endpoint, e.protocol) == ("http://collector:4318", HTTP)
        assert e.headers == {"x-tenant": "payments", "authorization": "Bearer t"}
    finally:
        e.shutdown(timeout_s=0)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
    e = OtlpExporter()
    try:
        assert e.protocol == GRPC
    finally:
        e.shutdown(timeout_s=0)
    with pytest.raises(ValueError, match="protocol"):
        OtlpExporter(protocol="thrift")


def test_service_name_from_the_process_environment() -> None:
    assert service_name_from_environ(b"A=1\0OTEL_SERVICE_NAME=ledger\0") == "ledger"
    assert service_name_from_environ(
        b"OTEL_RESOURCE_ATTRIBUTES=deployment.environment=prod,service.name=settle\0") == "settle"
    assert service_name_from_environ(b"PATH=/bin\0") is None


def test_monotonic_offset_is_bracketed() -> None:
    off = clock.measure()
    mono = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    real = time.clock_gettime_ns(time.CLOCK_REALTIME)
    assert abs(off.to_unix(mono) - real) < 1_000_000
    assert 0 <= off.uncertainty_ns < 100_000
