"""Observed links between kernel events: program order and send -> recv.

Program order: consecutive events of one thread. Send -> recv: the bytes a
TCPSend put on a connection are the bytes a TCPRecv on the other end took;
both ends count bytes per direction, so the receive whose byte range overlaps
a send's range read what that send wrote.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from causal_processor.causal.table import T_RECV, T_SEND, EventTable


def program_order(table: EventTable, rows: np.ndarray) -> Iterable[tuple[int, int]]:
    """(earlier, later) row pairs of consecutive events per thread (rows sorted by tid, ts)."""
    rows = np.sort(rows)
    if len(rows) < 2:
        return []
    same = table.tid[rows[1:]] == table.tid[rows[:-1]]
    return zip(rows[:-1][same].tolist(), rows[1:][same].tolist(), strict=True)


def send_recv(table: EventTable, rows: np.ndarray | None = None) -> list[tuple[int, int]]:
    """(send row, recv row) pairs matched by connection and byte order, on the
    connections used by `rows` (all connections when None)."""
    t = table
    tcp = np.flatnonzero(((t.etype == T_SEND) | (t.etype == T_RECV)) & (t.nbytes > 0))
    if rows is not None:
        wanted = {t.flow_key(int(i)) for i in rows if t.etype[i] in (T_SEND, T_RECV)}
        ports = {p for key in wanted for (_, p) in key}
        near = tcp[np.isin(t.sport[tcp], list(ports)) | np.isin(t.dport[tcp], list(ports))]
        tcp = np.array([i for i in near if t.flow_key(int(i)) in wanted], dtype=np.int64)
    groups: dict[tuple, tuple[list[int], list[int]]] = {}
    for i in tcp.tolist():
        if t.etype[i] == T_SEND:
            key = (t.saddr[i], int(t.sport[i]), t.daddr[i], int(t.dport[i]))
            groups.setdefault(key, ([], []))[0].append(i)
        else:
            key = (t.daddr[i], int(t.dport[i]), t.saddr[i], int(t.sport[i]))
            groups.setdefault(key, ([], []))[1].append(i)
    out: list[tuple[int, int]] = []
    for sends, recvs in groups.values():
        if not sends or not recvs:
            continue
        s = np.array(sorted(sends, key=lambda i: t.ts[i]))
        r = np.array(sorted(recvs, key=lambda i: t.ts[i]))
        s_hi = np.cumsum(t.nbytes[s])
        r_hi = np.cumsum(t.nbytes[r])
        r_lo = r_hi - t.nbytes[r]
        # each receive reads bytes [r_lo, r_hi): the sends covering byte r_lo .. r_hi-1
        first = np.searchsorted(s_hi, r_lo, side="right")
        last = np.searchsorted(s_hi, r_hi - 1, side="right")
        for k in range(len(r)):
            for j in range(first[k], min(last[k] + 1, len(s))):
                if t.ts[s[j]] <= t.end[r[k]]:
                    out.append((int(s[j]), int(r[k])))
    return out
