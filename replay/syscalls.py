"""x86_64 syscall table and the replay policy for each syscall.

Three decisions live here, in one place, so they can be read and reviewed together:
- which syscalls the seccomp filter lets run untraced (ALLOWED: process-local,
  nothing from the outside world), everything else stops the tracer;
- how a recorded syscall is replayed (`Policy`): served from the recording,
  executed for real to keep the kernel's fd table in step, or process lifecycle;
- which memory a syscall writes (`out_buffers`), so the recorder can save it and
  the replayer can put it back.
"""

from __future__ import annotations

import enum

NR: dict[str, int] = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6,
    "poll": 7, "lseek": 8, "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12,
    "rt_sigaction": 13, "rt_sigprocmask": 14, "rt_sigreturn": 15, "ioctl": 16,
    "pread64": 17, "pwrite64": 18, "readv": 19, "writev": 20, "access": 21, "pipe": 22,
    "select": 23, "sched_yield": 24, "mremap": 25, "msync": 26, "mincore": 27,
    "madvise": 28, "dup": 32, "dup2": 33, "pause": 34, "nanosleep": 35, "getitimer": 36,
    "alarm": 37, "setitimer": 38, "getpid": 39, "sendfile": 40, "socket": 41,
    "connect": 42, "accept": 43, "sendto": 44, "recvfrom": 45, "sendmsg": 46,
    "recvmsg": 47, "shutdown": 48, "bind": 49, "listen": 50, "getsockname": 51,
    "getpeername": 52, "socketpair": 53, "setsockopt": 54, "getsockopt": 55,
    "clone": 56, "fork": 57, "vfork": 58, "execve": 59, "exit": 60, "wait4": 61,
    "kill": 62, "uname": 63, "fcntl": 72, "flock": 73, "fsync": 74, "fdatasync": 75,
    "truncate": 76, "ftruncate": 77, "getdents": 78, "getcwd": 79, "chdir": 80,
    "fchdir": 81, "rename": 82, "mkdir": 83, "rmdir": 84, "creat": 85, "link": 86,
    "unlink": 87, "symlink": 88, "readlink": 89, "chmod": 90, "fchmod": 91,
    "chown": 92, "fchown": 93, "lchown": 94, "umask": 95, "gettimeofday": 96,
    "getrlimit": 97, "getrusage": 98, "sysinfo": 99, "times": 100, "getuid": 102,
    "getgid": 104, "geteuid": 107, "getegid": 108, "setpgid": 109, "getppid": 110,
    "getpgrp": 111, "setsid": 112, "getgroups": 115, "getresuid": 118,
    "getresgid": 120, "getpgid": 121, "getsid": 124, "capget": 125,
    "rt_sigpending": 127, "rt_sigtimedwait": 128, "rt_sigsuspend": 130,
    "sigaltstack": 131, "statfs": 137, "fstatfs": 138, "getpriority": 140,
    "sched_getparam": 143, "sched_getscheduler": 145, "mlock": 149, "munlock": 150,
    "prctl": 157, "arch_prctl": 158, "setrlimit": 160, "sync": 162, "gettid": 186,
    "tkill": 200, "time": 201, "futex": 202, "sched_setaffinity": 203,
    "sched_getaffinity": 204, "epoll_create": 213, "getdents64": 217,
    "set_tid_address": 218, "fadvise64": 221, "timer_create": 222,
    "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230,
    "exit_group": 231, "epoll_wait": 232, "epoll_ctl": 233, "tgkill": 234,
    "utimes": 235, "waitid": 247, "inotify_init1": 294, "openat": 257, "mkdirat": 258,
    "fchownat": 260, "newfstatat": 262, "unlinkat": 263, "renameat": 264,
    "linkat": 265, "symlinkat": 266, "readlinkat": 267, "fchmodat": 268,
    "faccessat": 269, "pselect6": 270, "ppoll": 271, "set_robust_list": 273,
    "get_robust_list": 274, "splice": 275, "sync_file_range": 277, "utimensat": 280,
    "epoll_pwait": 281, "timerfd_create": 283, "eventfd": 284, "fallocate": 285,
    "timerfd_settime": 286, "timerfd_gettime": 287, "accept4": 288, "signalfd4": 289,
    "eventfd2": 290, "epoll_create1": 291, "dup3": 292, "pipe2": 293, "preadv": 295,
    "pwritev": 296, "recvmmsg": 299, "prlimit64": 302, "sendmmsg": 307, "getcpu": 309,
    "renameat2": 316, "getrandom": 318, "memfd_create": 319, "membarrier": 324,
    "copy_file_range": 326, "preadv2": 327, "pwritev2": 328, "statx": 332, "rseq": 334,
    "clone3": 435, "close_range": 436, "openat2": 437, "faccessat2": 439,
    "epoll_pwait2": 441, "ptrace": 101, "mount": 165, "umount2": 166, "reboot": 169,
    "kexec_load": 246, "unshare": 272, "setns": 308, "bpf": 321, "perf_event_open": 298,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "pivot_root": 155,
    "chroot": 161, "swapon": 167, "swapoff": 168,
}
NAME: dict[int, str] = {v: k for k, v in NR.items()}


def name_of(nr: int) -> str:
    return NAME.get(nr, f"syscall_{nr}")


# Process-local syscalls that see nothing of the outside world: the seccomp filter
# lets them run at native speed in record and in replay. mmap of a file is the one
# exception decided by argument (see seccomp.py): it is traced, anonymous mmap is not.
# futex and exit are traced: threads run one at a time, and a futex wait or a thread's
# exit is where the turn passes from one thread to another.
ALLOWED: frozenset[int] = frozenset(
    NR[n]
    for n in (
        "mprotect", "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
        "mremap", "msync", "mincore", "madvise", "sched_yield",
        "getuid", "getgid", "geteuid", "getegid", "getgroups", "getresuid", "getresgid",
        "capget", "rt_sigpending", "sigaltstack", "sched_getparam", "sched_getscheduler",
        "mlock", "munlock", "arch_prctl", "set_tid_address", "set_robust_list",
        "get_robust_list", "membarrier", "rseq", "umask", "prctl", "getpriority",
    )
)


class Policy(enum.Enum):
    """How replay treats a recorded syscall."""

    QUERY = "query"  # served from the thread's own stream, never held for the global order
    SERVE = "serve"  # served from the recording, in the recorded global order
    FD = "fd"  # executed for real (fd numbers must match); result checked
    OPEN = "open"  # real for program code; otherwise a /dev/null placeholder keeps the fd
    PROC = "proc"  # clone/fork/vfork/execve/kill: executed for real with pid translation


_QUERY = {
    "clock_gettime", "gettimeofday", "time", "clock_getres", "getpid", "gettid",
    "getppid", "getpgrp", "getpgid", "getsid", "uname", "sysinfo", "getrusage", "times",
    "sched_getaffinity", "getcpu", "getrandom", "getrlimit", "prlimit64",
}
_FD = {
    "close", "dup", "dup2", "dup3", "pipe", "pipe2", "socket", "socketpair", "eventfd",
    "eventfd2", "epoll_create", "epoll_create1", "timerfd_create", "signalfd4",
    "memfd_create", "close_range", "inotify_init1",
}
_OPEN = {"open", "openat", "creat", "openat2", "accept", "accept4"}
_PROC = {"clone", "fork", "vfork", "clone3", "execve", "kill", "tgkill", "tkill", "exit",
         "exit_group"}

POLICY: dict[int, Policy] = {}
for _n in _QUERY:
    POLICY[NR[_n]] = Policy.QUERY
for _n in _FD:
    POLICY[NR[_n]] = Policy.FD
for _n in _OPEN:
    POLICY[NR[_n]] = Policy.OPEN
for _n in _PROC:
    POLICY[NR[_n]] = Policy.PROC


def policy_of(nr: int) -> Policy:
    return POLICY.get(nr, Policy.SERVE)


# Syscalls whose first argument is an fd (for matching and for fd-kind decisions).
FD_FIRST: frozenset[int] = frozenset(
    NR[n]
    for n in (
        "read", "write", "close", "fstat", "lseek", "ioctl", "pread64", "pwrite64", "readv",
        "writev", "sendfile", "connect", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg",
        "shutdown", "bind", "listen", "getsockname", "getpeername", "setsockopt",
        "getsockopt", "fcntl", "flock", "fsync", "fdatasync", "ftruncate", "getdents",
        "fchdir", "fchmod", "fchown", "fstatfs", "getdents64", "fadvise64", "epoll_wait",
        "epoll_ctl", "sync_file_range", "epoll_pwait", "fallocate", "timerfd_settime",
        "timerfd_gettime", "accept4", "preadv", "pwritev", "recvmmsg", "sendmmsg",
        "copy_file_range", "preadv2", "pwritev2", "epoll_pwait2", "dup",
    )
)
READS: frozenset[int] = frozenset(
    NR[n] for n in ("read", "pread64", "readv", "preadv", "preadv2", "recvfrom", "recvmsg")
)
WRITES: frozenset[int] = frozenset(
    NR[n] for n in ("write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg")
)
# Waits whose timeout argument decides the result: compared in replay so that a
# changed timeout is seen as a divergence, not silently served the old result.
TIMEOUT_ARG: dict[int, int] = {NR["poll"]: 2, NR["epoll_wait"]: 3, NR["epoll_pwait"]: 3}
# Calls that take a path as their argument N (recorded for matching and reports).
PATH_ARG: dict[int, int] = {
    NR["open"]: 0, NR["openat"]: 1, NR["creat"]: 0, NR["openat2"]: 1, NR["stat"]: 0,
    NR["lstat"]: 0, NR["newfstatat"]: 1, NR["statx"]: 1, NR["access"]: 0,
    NR["faccessat"]: 1, NR["faccessat2"]: 1, NR["readlink"]: 0, NR["readlinkat"]: 1,
    NR["execve"]: 0, NR["unlink"]: 0, NR["unlinkat"]: 1, NR["mkdir"]: 0, NR["mkdirat"]: 1,
    NR["chdir"]: 0, NR["rename"]: 0, NR["renameat"]: 1, NR["renameat2"]: 1,
    NR["rmdir"]: 0, NR["truncate"]: 0, NR["statfs"]: 0,
}
FORKS: frozenset[int] = frozenset(NR[n] for n in ("clone", "fork", "vfork", "clone3"))
EXITS: frozenset[int] = frozenset((NR["exit"], NR["exit_group"]))

# Calls that may wait for another thread or the outside world. One thread of the tree runs
# at a time (record and replay); a thread entering one of these gives the turn to another,
# otherwise it keeps it through the call (see recorder.Scheduler).
_WAITS: frozenset[int] = frozenset(
    NR[n] for n in (
        "read", "readv", "recvfrom", "recvmsg", "recvmmsg", "write", "writev", "sendto",
        "sendmsg", "sendmmsg", "poll", "ppoll", "select", "pselect6", "epoll_wait",
        "epoll_pwait", "epoll_pwait2", "accept", "accept4", "connect", "nanosleep",
        "clock_nanosleep", "wait4", "waitid", "flock", "pause", "rt_sigsuspend",
        "rt_sigtimedwait", "vfork", "fsync", "fdatasync", "sync_file_range", "sendfile",
        "splice",
    )
)
_FUTEX_WAKES = frozenset((1, 3, 4, 5, 7, 10))  # WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, UNLOCK_PI, WAKE_BITSET
_F_SETLKW, _F_OFD_SETLKW = 7, 38
CLONE_VFORK = 0x4000


def gives_turn(nr: int, args: list[int] | tuple[int, ...], clone3_flags: int = 0) -> bool:
    """Whether the thread making this call lets another thread run while it is in the kernel."""
    if nr == NR["futex"]:
        return (args[1] & 0x7F) not in _FUTEX_WAKES
    if nr == NR["fcntl"]:
        return args[1] in (_F_SETLKW, _F_OFD_SETLKW)
    if nr == NR["clone"]:
        return bool(args[0] & CLONE_VFORK)
    if nr == NR["clone3"]:
        return bool(clone3_flags & CLONE_VFORK)
    return nr in _WAITS or nr == 449  # futex_waitv
SLEEPS: frozenset[int] = frozenset(NR[n] for n in ("nanosleep", "clock_nanosleep"))

# Calls that write no buffer of the caller's (out_buffers has nothing for them): the recorder
# skips the search for the many the syscall buffer makes per request.
NO_OUT_BUFFERS: frozenset[int] = frozenset(NR[n] for n in ("fcntl", "flock", "setsockopt", "fsync"))

STAT_SIZE = 144
IOCTL_OUT = {0x5401: 36, 0x541B: 4, 0x5413: 8}  # TCGETS, FIONREAD, TIOCGWINSZ


def out_buffers(nr: int, args: tuple[int, ...], ret: int, read_u32) -> list[tuple[int, int]]:
    """(arg index, size) of each plain buffer the kernel filled; iovec/msghdr handled apart.

    `read_u32(addr)` reads the tracee (for value-result lengths such as addrlen).
    """
    if ret < 0:
        return []
    n = NAME.get(nr, "")
    if n in ("read", "pread64", "getdents", "getdents64", "readlink"):
        return [(1, ret)]
    if n == "getcwd":
        return [(0, ret)]
    if n in ("readlinkat",):
        return [(2, ret)]
    if n == "getrandom":
        return [(0, ret)]
    if n in ("clock_gettime", "clock_getres"):
        return [(1, 16)] if args[1] else []
    if n == "gettimeofday":
        return [(i, 16 if i == 0 else 8) for i in (0, 1) if args[i]]
    if n == "time":
        return [(0, 8)] if args[0] else []
    if n in ("fstat", "stat", "lstat"):
        return [(1, STAT_SIZE)]
    if n == "newfstatat":
        return [(2, STAT_SIZE)]
    if n == "statx":
        return [(4, 256)]
    if n in ("statfs", "fstatfs"):
        return [(1, 120)]
    if n == "uname":
        return [(0, 390)]
    if n == "sysinfo":
        return [(0, 112)]
    if n == "getrusage":
        return [(1, 144)]
    if n == "times":
        return [(0, 32)] if args[0] else []
    if n == "sched_getaffinity":
        return [(2, ret)]
    if n == "getcpu":
        return [(i, 4) for i in (0, 1) if args[i]]
    if n == "getrlimit":
        return [(1, 16)]
    if n == "prlimit64":
        return [(3, 16)] if args[3] else []
    if n in ("poll", "ppoll"):
        return [(0, 8 * args[1])]
    if n in ("epoll_wait", "epoll_pwait", "epoll_pwait2"):
        return [(1, 12 * ret)]
    if n in ("select", "pselect6"):
        size = ((args[0] + 63) // 64) * 8
        outs = [(i, size) for i in (1, 2, 3) if args[i]]
        return outs + ([(4, 16)] if args[4] and n == "select" else [])
    if n in ("nanosleep",):
        return [(1, 16)] if args[1] else []
    if n == "clock_nanosleep":
        return [(3, 16)] if args[3] else []
    if n in ("recvfrom",):
        outs = [(1, ret)]
        if args[4] and args[5]:
            outs += [(5, 4), (4, min(read_u32(args[5]), 128))]
        return outs
    if n in ("getsockname", "getpeername", "accept", "accept4"):
        if args[1] and args[2]:
            return [(2, 4), (1, min(read_u32(args[2]), 128))]
        return []
    if n == "getsockopt":
        if args[3] and args[4]:
            return [(4, 4), (3, min(read_u32(args[4]), 256))]
        return []
    if n in ("pipe", "pipe2", "socketpair"):
        return [(3 if n == "socketpair" else 0, 8)]
    if n == "wait4":
        return [(i, 4 if i == 1 else 144) for i in (1, 3) if args[i]]
    if n == "waitid":
        return [(2, 128)] + ([(4, 144)] if args[4] else [])
    if n == "ioctl":
        size = IOCTL_OUT.get(args[1] & 0xFFFFFFFF)
        return [(2, size)] if size and args[2] else []
    if n == "timerfd_gettime":
        return [(1, 32)]
    if n == "timerfd_settime":
        return [(3, 32)] if args[3] else []
    if n in ("rt_sigtimedwait",):
        return [(1, 128)] if args[1] else []
    if n == "getitimer":
        return [(1, 32)]
    if n == "setitimer":
        return [(2, 32)] if args[2] else []
    return []
