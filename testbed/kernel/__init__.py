"""The kernel objects the testbed creates (cgroups, loop volumes, nftables tables).

Each one is named after its run (`kprobe-testbed-<runner pid>-<tag>`) so a later run
can find and remove what a killed runner left behind (see `stale`).
"""
