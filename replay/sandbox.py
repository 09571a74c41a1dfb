"""The sandbox policy for a replay once it has left the recording ("off script").

On script, nothing the program does reaches the outside world: inputs come from
the recording, opens of outside files are /dev/null placeholders, and the replay
runs in a new network namespace with no interfaces. Off script (after an
injected fault, a changed config, a fuzzed order) calls run for real only if
they are harmless: reading files, memory and process bookkeeping. Anything that
would change the file system outside the scratch directory is answered with
success and not executed; opens for writing outside the scratch directory get
/dev/null; time and pids stay virtual.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from replay.syscalls import NR

_FS_MUTATIONS = {
    NR[n] for n in (
        "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir", "mkdirat", "rmdir",
        "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "chown",
        "fchown", "lchown", "fchownat", "truncate", "ftruncate", "utimensat", "utimes",
        "fallocate", "fsync", "fdatasync", "sync", "sync_file_range", "flock",
    )
}
_TIME = {NR["clock_gettime"], NR["gettimeofday"], NR["time"]}
_PIDS = {NR["getpid"], NR["gettid"]}
_FORKS = {NR["clone"], NR["fork"], NR["vfork"], NR["clone3"]}
_OPENS = {NR["open"]: 1, NR["openat"]: 2, NR["creat"]: -1, NR["openat2"]: -1}
_DENY = {NR[n] for n in (
    "ptrace", "mount", "umount2", "reboot", "kexec_load", "setns", "unshare", "bpf",
    "perf_event_open", "init_module", "finit_module", "delete_module", "pivot_root", "chroot",
    "swapon", "swapoff")}
_EPERM = 1


@dataclass(frozen=True)
class Decision:
    kind: str  # "real", "emulate", "time", "pid", "fork"
    ret: int = 0


class FreePolicy:
    def __init__(self, scratch: str | None) -> None:
        self.scratch = os.path.realpath(scratch) + "/" if scratch else None

    def _in_scratch(self, path: bytes) -> bool:
        if not self.scratch or not path:
            return False
        return os.path.realpath(os.fsdecode(path)).startswith(self.scratch)

    def decide(self, nr: int, args: list[int], read_path: Callable[[int], bytes]) -> Decision:
        if nr in _TIME:
            return Decision("time")
        if nr in _PIDS:
            return Decision("pid")
        if nr in _FORKS:
            return Decision("fork")
        if nr in _DENY:
            return Decision("emulate", -_EPERM)
        if nr in _FS_MUTATIONS:
            path_arg = 1 if nr in (NR["unlinkat"], NR["mkdirat"], NR["renameat"],
                                   NR["renameat2"], NR["linkat"], NR["symlinkat"],
                                   NR["fchmodat"], NR["fchownat"], NR["utimensat"]) else 0
            if nr not in (NR["fchmod"], NR["fchown"], NR["ftruncate"], NR["fallocate"],
                          NR["fsync"], NR["fdatasync"], NR["sync"], NR["sync_file_range"],
                          NR["flock"]) and self._in_scratch(read_path(args[path_arg])):
                return Decision("real")
            return Decision("emulate", 0)
        if nr in _OPENS:
            flag_arg = _OPENS[nr]
            flags = args[flag_arg] if flag_arg >= 0 else 0o1101
            writes = flags & 0o3 or flags & 0o1100
            path = read_path(args[1 if nr in (NR["openat"], NR["openat2"]) else 0])
            if writes and not self._in_scratch(path):
                return Decision("emulate", -13)  # EACCES: writes stay inside the scratch dir
        return Decision("real")
