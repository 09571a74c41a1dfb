"""Rank the causes on the critical path and name the root cause (or `none`).

A candidate is a kernel mechanism (its time summed over the critical path,
the culprit being the process with the largest share of it), or a process's
own work (`downstream-latency`: application code), or a deadline that fired
(`timeout`). The top candidate must explain a real part of the latency,
otherwise the answer is `none`: an innocent process is never blamed for the
ordinary cost of doing its job.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from causal_processor.causal import model
from causal_processor.causal.attribution import SELF

# A candidate must contribute at least this much, absolutely and as a share
# of the end-to-end latency. Application code always costs something, so it
# needs a bigger, unusual amount of time to be called the cause.
MIN_CONTRIBUTION_NS = {model.DOWNSTREAM_LATENCY: 200_000_000}
DEFAULT_MIN_CONTRIBUTION_NS = 50_000_000
MIN_FRACTION = {model.DOWNSTREAM_LATENCY: 0.4}
DEFAULT_MIN_FRACTION = 0.2
NEEDS_CULPRIT = frozenset({model.MEMORY_RECLAIM_CAUSE, model.CPU_CONTENTION, model.DISK_IO_CAUSE,
                           model.LOCK_CONTENTION})


@dataclass
class Candidate:
    mechanism: str
    contribution_ns: int
    culprit: model.Culprit | None
    culprit_ns: int
    segments: list[model.Segment] = field(default_factory=list)

    @property
    def main_segment(self) -> model.Segment:
        return max(self.segments, key=lambda s: s.duration_ns)

    def evidence(self, limit: int = 6) -> list[str]:
        seen: list[str] = []
        for seg in sorted(self.segments, key=lambda s: -s.duration_ns):
            for e in seg.evidence:
                if e not in seen:
                    seen.append(e)
                if len(seen) >= limit:
                    return seen
        return seen


@dataclass
class RootCause:
    mechanism: str
    culprit: model.Culprit | None
    contribution_ns: int
    evidence: list[str]
    node_id: str
    confidence: float

    def to_dict(self) -> dict:
        c = self.culprit
        return {
            "mechanism": self.mechanism,
            "culprit": None if c is None else {"pid": c.pid, "comm": c.comm, "service": c.service},
            "contribution_ns": self.contribution_ns,
            "evidence": self.evidence,
            "node_id": self.node_id,
            "confidence": round(self.confidence, 3),
        }


def candidates(graph: model.CausalGraph) -> list[Candidate]:
    """Every candidate cause on the critical path, largest contribution first."""
    groups: dict[tuple, Candidate] = {}
    per_culprit: dict[tuple, dict[model.Culprit, float]] = defaultdict(lambda: defaultdict(float))
    for seg in graph.critical_path:
        mech = model.DOWNSTREAM_LATENCY if seg.mechanism == SELF else seg.mechanism
        if mech in (model.DOWNSTREAM_LATENCY, model.TIMEOUT_CAUSE):
            who = seg.culprits[0][0] if seg.culprits else None
            key: tuple = (mech, who.pid if who else 0, who.service if who else "")
        else:
            key = (mech,)
        cand = groups.get(key)
        if cand is None:
            cand = groups[key] = Candidate(mech, 0, None, 0)
        cand.contribution_ns += seg.duration_ns
        cand.segments.append(seg)
        for c, share in seg.culprits:
            per_culprit[key][c] += seg.duration_ns * share
    for key, cand in groups.items():
        if per_culprit[key]:
            per = per_culprit[key]
            # the culprit is the program that took the most (three `cpu-hog` processes are
            # one cause), named by its process with the largest part
            program = max(per, key=lambda c: (_same_program(per, c) or per[c], per[c]))
            cand.culprit = program
            cand.culprit_ns = int(max(per[program], _same_program(per, program)))
    return sorted(groups.values(), key=lambda c: -c.contribution_ns)


def explains(cand: Candidate, end_to_end_ns: int) -> bool:
    """Whether a candidate explains enough of the latency to be named: the culprit it
    would name must itself account for that much (time spread thin over many
    processes, like everyday CPU sharing, blames nobody)."""
    need = max(
        MIN_CONTRIBUTION_NS.get(cand.mechanism, DEFAULT_MIN_CONTRIBUTION_NS),
        MIN_FRACTION.get(cand.mechanism, DEFAULT_MIN_FRACTION) * end_to_end_ns,
    )
    if cand.culprit is None and cand.mechanism in NEEDS_CULPRIT:
        return False  # e.g. run-queue time behind processes that were not recorded
    named = cand.culprit_ns if cand.culprit is not None else cand.contribution_ns
    return cand.contribution_ns >= need and named >= need


def _same_program(per: dict[model.Culprit, float], top: model.Culprit) -> float:
    """Time of the top culprit's program: three `cpu-hog` processes are one cause."""
    return sum(ns for c, ns in per.items() if c.comm == top.comm and c.comm)


def root_cause(graph: model.CausalGraph) -> tuple[RootCause, list[Candidate]]:
    """The root cause and the ranked candidates it was chosen from."""
    ranked = candidates(graph)
    top = next((c for c in ranked if explains(c, graph.end_to_end_ns)), None)
    if top is None:
        return RootCause(model.NONE, None, 0, ["nothing on the critical path explains the latency"], "", 1.0), ranked
    if top.mechanism == model.DOWNSTREAM_LATENCY and top.culprit is not None:
        # "the time went in this service's own code": the smaller stalls inside its spans
        # (a GIL hand-off, a timer wakeup landing on a sibling) are part of that time
        top.contribution_ns += sum(s.duration_ns for s in graph.critical_path
                                   if s.span_pid == top.culprit.pid and s.mechanism not in (SELF, top.mechanism))
    seg = top.main_segment
    node = seg.node_id
    if top.culprit is not None and f"proc:{top.culprit.pid}" in graph.nodes and top.mechanism not in (
        model.DOWNSTREAM_LATENCY,
        model.TIMEOUT_CAUSE,
    ):
        node = f"proc:{top.culprit.pid}"
    share = top.culprit_ns / top.contribution_ns if top.culprit and top.contribution_ns else 1.0
    total = sum(c.contribution_ns for c in ranked) or 1
    confidence = min(1.0, share) * min(1.0, 2 * top.contribution_ns / total)
    return RootCause(top.mechanism, top.culprit, top.contribution_ns, top.evidence(), node, confidence), ranked
