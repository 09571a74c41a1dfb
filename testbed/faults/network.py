"""packet-loss: drop a share of the packets of the target's TCP port.

An nftables table of this run drops `loss`% of the established-flow segments to
and from the port as they arrive on loopback, i.e. after the sender sent them
(SYN/FIN/RST pass: a dropped SYN would only show as a connect timeout, never as
a retransmit before the deadline). A dropped
segment is retransmitted after a tail-loss probe or the 200 ms minimum RTO,
doubling on each further loss: the retransmits are the mechanism, attributed to
the flow (the culprit is no process).
"""

from __future__ import annotations

import subprocess
import time

from testbed.faults.base import Fault
from testbed.kernel.naming import nft_table_name
from testbed.kernel.nftables import PortLossTable
from testbed.system import SETTLEMENT
from testbed.truth import ProcessInfo


class PacketLoss(Fault):
    kind = "packet-loss"
    mechanism = "tcp-retransmit"
    default_target = SETTLEMENT
    defaults = {"loss": 85}  # noqa: RUF012
    incident_after_s = 0.2
    removal_order = 0

    def inject(self) -> list[ProcessInfo]:
        port = self.system.child(self.target).port
        self._table = PortLossTable(nft_table_name(self.system.tag), port, int(self.params["loss"]))
        assert self.truth is not None
        self.truth.measured["port"] = port
        self.truth.measured["nft_table"] = self._table.name
        return []

    def remove(self) -> None:
        table = getattr(self, "_table", None)
        if table is not None and table.present:
            if self.truth is not None:
                self.truth.measured["dropped_packets"] = table.dropped_packets()
            table.remove()
            _wait_retransmits_settled(int(self.truth.measured["port"]) if self.truth else 0)

    def predicts_failure(self, timeout_ms: int) -> bool:
        return self.params["loss"] >= 50


def _wait_retransmits_settled(port: int, limit_s: float = 4.0) -> None:
    """Wait until no socket of the port has a retransmit timer armed.

    A segment dropped just before the table went away is retransmitted after
    a backed-off RTO (up to seconds later); waiting keeps that tail out of the
    next scenario's capture.
    """
    deadline = time.monotonic() + limit_s
    query = ["ss", "-tnoH", f"( sport = :{port} or dport = :{port} )"]
    while time.monotonic() < deadline:
        out = subprocess.run(query, capture_output=True, text=True).stdout
        if "timer:(on" not in out:
            return
        time.sleep(0.1)
