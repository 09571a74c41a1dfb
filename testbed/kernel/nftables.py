"""An nftables table of the testbed's own that drops a share of one port's packets.

The table matches only the settlement port (both directions, on loopback), so no
other flow on the machine is touched, and deleting the table removes every rule.
"""

from __future__ import annotations

import subprocess


def _nft(script: str) -> None:
    done = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    if done.returncode != 0:
        raise OSError(f"nft failed: {done.stderr.strip()}")


class PortLossTable:
    """`inet <name>`: drop `percent`% of the TCP segments of established flows to
    or from `port` as they arrive on lo (SYN, FIN and RST pass: connections form
    and close). Dropping on input, after the sender's transmit succeeded, is loss
    on the wire: the sender's RTO fires and retransmits. (A drop on output would
    fail the send locally, which TCP retries without a retransmit.)"""

    def __init__(self, name: str, port: int, percent: int) -> None:
        if not 0 < percent <= 100:
            raise ValueError(f"loss percent must be in 1..100, got {percent}")
        self.name = name
        rule = "counter drop" if percent == 100 else f"numgen random mod 100 < {percent} counter drop"
        _nft(
            f"table inet {name} {{\n"
            f"  chain input {{\n"
            f"    type filter hook input priority 0; policy accept;\n"
            f"    iifname \"lo\" tcp dport {port} tcp flags & (syn | fin | rst) == 0 {rule}\n"
            f"    iifname \"lo\" tcp sport {port} tcp flags & (syn | fin | rst) == 0 {rule}\n"
            f"  }}\n"
            f"}}\n"
        )
        self.present = True

    def dropped_packets(self) -> int:
        out = subprocess.run(["nft", "list", "table", "inet", self.name],
                             capture_output=True, text=True).stdout
        total = 0
        for line in out.splitlines():
            if "counter packets" in line:
                total += int(line.split("counter packets")[1].split()[0])
        return total

    def remove(self) -> None:
        if self.present:
            _nft(f"delete table inet {self.name}\n")
            self.present = False


def testbed_tables() -> list[str]:
    """Names of inet tables that belong to testbed runs."""
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return [
        line.split()[-1]
        for line in out.splitlines()
        if line.startswith("table inet kprobe_testbed_")
    ]


def delete_table(name: str) -> None:
    _nft(f"delete table inet {name}\n")
