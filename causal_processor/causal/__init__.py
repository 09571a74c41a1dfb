"""The causal engine: from a transaction id to its causal graph and root cause.

`explain(source, txn_id) -> Explanation` is the one call other components use
(`kprobe explain`, `kprobe demo --json`, the API); see docs/ARCHITECTURE.md.
"""

from causal_processor.causal.build import TransactionData, build_graph
from causal_processor.causal.explain import Explanation, explain, explain_data
from causal_processor.causal.source import MemorySource, TransactionSource, load_transaction

__all__ = [
    "Explanation",
    "MemorySource",
    "TransactionData",
    "TransactionSource",
    "build_graph",
    "explain",
    "explain_data",
    "load_transaction",
]
