"""The live hub's bounded buffers and the JSON it sends, exactly."""

from __future__ import annotations

import asyncio
import json
import random

from google.protobuf import json_format

from causal_processor.api.event_json import event_json
from causal_processor.api.filters import CompiledFilter
from causal_processor.api.hub import Dropped, LiveHub
from kprobe import events


def _writes(n: int, start: int = 0) -> list[dict]:
    return [events.make_event("SyscallWrite", pid=1, tid=2, timestamp_ns=start + i, fd=1, bytes=i, ret=i)
            for i in range(n)]


def test_full_buffer_drops_newest_and_says_exactly_which():
    async def run() -> None:
        hub = LiveHub(buffer=10)
        sub = hub.subscribe(CompiledFilter(event_types=frozenset({"SyscallWrite"})))
        other = hub.subscribe(CompiledFilter(event_types=frozenset({"PageFault"})))
        hub.publish([*_writes(25), events.make_event("PageFault", pid=1, tid=2, timestamp_ns=99)])
        batch = await sub.next_batch(limit=100)
        assert [r[0] for r in batch[:10]] == list(range(1, 11))
        assert batch[10] == Dropped(first_sequence=11, count=15) and len(batch) == 11
        hub.publish(_writes(3, start=100))
        assert [r[0] for r in await sub.next_batch()] == [26, 27, 28]
        assert (sub.delivered, sub.dropped) == (13, 15)
        assert [r[0] for r in await other.next_batch()] == [1]  # its own sequence, nothing dropped
        hub.unsubscribe(sub)
        assert await sub.next_batch() == [] and hub.subscribers == 1

    asyncio.run(run())


def test_context_filters_take_joined_events_others_stored_ones():
    async def run() -> None:
        hub = LiveHub()
        by_service = hub.subscribe(CompiledFilter(services=frozenset({"settlement-svc"})))
        by_type = hub.subscribe(CompiledFilter(event_types=frozenset({"SyscallWrite"})))
        raw = _writes(2)
        joined = [dict(e, financial_context={**e["financial_context"], "service": s, "transaction_id": "t"})
                  for e, s in zip(raw, ("settlement-svc", "payment-handler"), strict=True)]
        hub.publish(raw)
        hub.publish(joined, joined=True)
        assert [r[1].event for r in await by_service.next_batch()] == [joined[0]]
        assert [r[1].event for r in await by_type.next_batch()] == raw

    asyncio.run(run())


def test_event_json_is_the_proto3_json_mapping():
    rng = random.Random(3)
    samples = []
    for t in events.EVENT_TYPE_NAMES:
        for _ in range(20):
            vals = {}
            for f in events.fields_for(t):
                if f.name in ("event_type", "event_id"):
                    continue
                if f.kind == "enum":
                    vals[f.name] = rng.choice(list(f.enum_names.values()))
                elif f.kind == "str":
                    vals[f.name] = rng.choice(["", "payment-handler", "ünïcode \"q\""])
                elif f.kind == "bool":
                    vals[f.name] = rng.random() < 0.5
                elif f.kind == "uint":
                    vals[f.name] = rng.choice([0, 1, 2**31, 2**64 - 1]) if f.proto_type in (4, 6) else rng.choice([0, 7, 2**32 - 1])
                else:
                    vals[f.name] = rng.choice([0, -5, 2**40]) if f.proto_type == 3 else rng.choice([0, -5, 11])
            ctx = rng.choice([{}, {"transaction_id": "pay-1", "service": "s", "join_confidence": 0.95, "trace_id": "ab" * 16}])
            samples.append(events.make_event(t, financial_context=ctx, **vals))
    for ev in samples:
        want = json.loads(json_format.MessageToJson(events.to_proto(ev), preserving_proto_field_name=True))
        assert json.loads(event_json(ev)) == want, ev
