"""packet-loss: drop a share of the packets of the target's TCP port.

An nftables table of this run drops `loss`% of segments to and from the port on
loopback. Each connection to settlement is new, so a dropped SYN costs the 1 s
initial RTO and a dropped data segment at least the 200 ms minimum RTO: the
retransmits are the mechanism, attributed to the flow (the culprit is no process).
"""

from __future__ import annotations

from testbed.faults.base import Fault
from testbed.kernel.naming import nft_table_name
from testbed.kernel.nftables import PortLossTable
from testbed.system import SETTLEMENT
from testbed.truth import ProcessInfo


class PacketLoss(Fault):
    kind = "packet-loss"
    mechanism = "tcp-retransmit"
    default_target = SETTLEMENT
    defaults = {"loss": 60}  # noqa: RUF012
    incident_after_s = 0.2

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

    def predicts_failure(self, timeout_ms: int) -> bool:
        return self.params["loss"] >= 50
