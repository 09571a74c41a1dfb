"""One payment system per test module (starting it costs seconds).

Module scope, not session: a testbed shared across modules would still be up while
later modules run, and test_testbed_cleanup.py must see only the objects of the
testbeds it starts itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from testbed import SystemConfig, Testbed
from tests.testbed.otlp_sink import SpanSink

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the testbed needs root")


@pytest.fixture(scope="session")
def span_sink() -> Iterator[SpanSink]:
    sink = SpanSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def testbed(span_sink: SpanSink) -> Iterator[Testbed]:
    if os.geteuid() != 0:
        pytest.skip("the testbed needs root (cgroups, loop devices, nftables)")
    with Testbed(SystemConfig(otlp_endpoint=span_sink.endpoint)) as tb:
        yield tb
