"""Start the traced root process: fork, PTRACE_TRACEME, sandbox, seccomp, exec.

Runs in the tracer thread (ptrace ties a tracee to the thread that forked it).
The child only calls async-signal-safe-enough primitives between fork and exec.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal

from replay import ptrace_ops as pt
from replay.seccomp import install_filter

_ADDR_NO_RANDOMIZE = 0x0040000
_CLONE_NEWNET = 0x40000000


class LaunchError(RuntimeError):
    """The command could not be started under the tracer."""


def resolve(argv: list[str], env: dict[str, str], cwd: str) -> str:
    prog = argv[0]
    if "/" in prog:
        path = prog if os.path.isabs(prog) else os.path.join(cwd, prog)
    else:
        path = shutil.which(prog, path=env.get("PATH", os.defpath)) or ""
    if not path or not os.access(path, os.X_OK):
        raise LaunchError(f"command not found or not executable: {prog}")
    return path


def _bring_up_loopback(libc: ctypes.CDLL) -> None:
    import fcntl
    import socket
    import struct

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifr = struct.pack("16sH14s", b"lo", 0x1 | 0x40, b"")  # IFF_UP | IFF_RUNNING
        fcntl.ioctl(s.fileno(), 0x8914, ifr)  # SIOCSIFFLAGS
    finally:
        s.close()


def spawn(argv: list[str], env: dict[str, str], cwd: str, *, isolate_net: bool,
          loopback: bool = False, stdio: tuple[int | None, int | None, int | None] = (None, None, None),
          untraced: frozenset[int] = frozenset(), futex_wakes: bool = False,
          cpu: int | None = None) -> int:
    """Fork the traced child; returns its pid once it is stopped with options set.
    `untraced`: the calls the syscall buffer's library makes from its page without a stop
    (recording only, replay/sysbuf.py); `futex_wakes`: futex wakes run without a stop;
    `cpu`: the one CPU the tree runs on (replay/cpus.py)."""
    path = resolve(argv, env, cwd)
    pid = os.fork()
    if pid == 0:  # child
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            try:
                pt.traceme()
            except pt.PtraceError:
                os._exit(125)
            libc.personality(_ADDR_NO_RANDOMIZE)
            if isolate_net:
                if libc.unshare(_CLONE_NEWNET) != 0:
                    os._exit(126)
                if loopback:
                    _bring_up_loopback(libc)
            for target, fd in enumerate(stdio):
                if fd is not None:
                    os.dup2(fd, target)
            # the tree starts with stdio only, in record and replay alike: an fd inherited
            # from whoever ran the tracer would shift every fd number the program gets
            os.closerange(3, os.sysconf("SC_OPEN_MAX"))
            os.chdir(cwd)
            if cpu is not None:
                os.sched_setaffinity(0, {cpu})
            os.kill(os.getpid(), signal.SIGSTOP)
            install_filter(untraced, futex_wakes)
            os.execve(path, argv, env)
        finally:
            os._exit(127)
    _, status = os.waitpid(pid, pt.WALL)
    if not os.WIFSTOPPED(status):
        code = os.waitstatus_to_exitcode(status)
        why = {
            126: "creating a network namespace needs CAP_SYS_ADMIN (run as root, or --no-netns)",
            125: "ptrace is not permitted (CAP_SYS_PTRACE, or kernel.yama.ptrace_scope < 3)",
        }.get(code, f"exit {code}")
        raise LaunchError(f"traced child failed before exec ({why})")
    pt.setoptions(pid)
    return pid
