"""kprobe: shared core (event model, OTLP mapping, clocks, CLI) used by every component.

gRPC's fork handlers are switched off before any component imports grpc: replay forks
its tracee from processes that serve gRPC (`kprobe serve`, tests), and with the handlers
on, gRPC restarts its pollers in the child, whose errors land in the replayed program's
stderr. Every fork kprobe makes is followed by exec, which is all gRPC then needs.
"""

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
