"""Deterministic record/replay of a process tree with ptrace and seccomp-bpf.

`record` runs a command and stores what it received from the outside world;
`replay` re-executes it and serves those inputs back, optionally changed
(timing, failures, configuration). See docs/ARCHITECTURE.md, section replay.
"""

RECORDING_VERSION = 1
