/* SyscallRead/Write/Fsync: enter and exit joined per thread, so one syscall is
 * one record with its duration, fd and return value. The socket syscalls
 * (sendto/recvfrom/sendmsg/recvmsg) are joined too but emit nothing here: they
 * lend their fd and start time to the TCPSend/TCPRecv records (tcp.bpf.c). */
struct kp_call {
    u64 ts;
    s32 fd;
    u32 type; /* 0: only lends fd/ts to socket records */
};

BPF_HASH(kp_inflight, u32, struct kp_call, 65536);

static __always_inline int kp_call_enter(u32 type, s32 fd)
{
    struct kp_config *c = kp_config();
    if (!c)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    if (!kp_traced_current(c, id >> 32))
        return 0;
    u32 tid = id;
    u64 now = bpf_ktime_get_ns();
    kp_fault_resolve(c, tid, now);
    struct kp_call call = {};
    call.ts = now;
    call.fd = fd;
    call.type = type && kp_wants(c, type) ? type : 0;
    if (kp_inflight.update(&tid, &call) != 0)
        kp_stat(KP_STAT_INFLIGHT_FULL, 1);
    return 0;
}

static __always_inline int kp_call_exit(s64 ret)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    struct kp_call *p = kp_inflight.lookup(&tid);
    if (!p)
        return 0;
    struct kp_call call = *p;
    kp_inflight.delete(&tid);
    struct kp_config *c = kp_config();
    if (!c || call.type == 0)
        return 0;
    u64 now = bpf_ktime_get_ns();
    struct kp_batch *b;
    struct kp_record *r = kp_begin(&b, call.type, call.ts, id >> 32, tid);
    if (!r)
        return 0;
    r->dur = now - call.ts;
    r->fd = call.fd;
    r->ret = ret;
    kp_submit(b, c, now);
    return 0;
}

#ifdef KP_TP_syscalls__sys_enter_read
TRACEPOINT_PROBE(syscalls, sys_enter_read) { return kp_call_enter(KP_SyscallRead, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_read
TRACEPOINT_PROBE(syscalls, sys_exit_read) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_pread64
TRACEPOINT_PROBE(syscalls, sys_enter_pread64) { return kp_call_enter(KP_SyscallRead, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_pread64
TRACEPOINT_PROBE(syscalls, sys_exit_pread64) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_readv
TRACEPOINT_PROBE(syscalls, sys_enter_readv) { return kp_call_enter(KP_SyscallRead, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_readv
TRACEPOINT_PROBE(syscalls, sys_exit_readv) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_write
TRACEPOINT_PROBE(syscalls, sys_enter_write) { return kp_call_enter(KP_SyscallWrite, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_write
TRACEPOINT_PROBE(syscalls, sys_exit_write) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_pwrite64
TRACEPOINT_PROBE(syscalls, sys_enter_pwrite64) { return kp_call_enter(KP_SyscallWrite, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_pwrite64
TRACEPOINT_PROBE(syscalls, sys_exit_pwrite64) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_writev
TRACEPOINT_PROBE(syscalls, sys_enter_writev) { return kp_call_enter(KP_SyscallWrite, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_writev
TRACEPOINT_PROBE(syscalls, sys_exit_writev) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_fsync
TRACEPOINT_PROBE(syscalls, sys_enter_fsync) { return kp_call_enter(KP_SyscallFsync, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_fsync
TRACEPOINT_PROBE(syscalls, sys_exit_fsync) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_fdatasync
TRACEPOINT_PROBE(syscalls, sys_enter_fdatasync) { return kp_call_enter(KP_SyscallFsync, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_fdatasync
TRACEPOINT_PROBE(syscalls, sys_exit_fdatasync) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_sendto
TRACEPOINT_PROBE(syscalls, sys_enter_sendto) { return kp_call_enter(0, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_sendto
TRACEPOINT_PROBE(syscalls, sys_exit_sendto) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_sendmsg
TRACEPOINT_PROBE(syscalls, sys_enter_sendmsg) { return kp_call_enter(0, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_sendmsg
TRACEPOINT_PROBE(syscalls, sys_exit_sendmsg) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_recvfrom
TRACEPOINT_PROBE(syscalls, sys_enter_recvfrom) { return kp_call_enter(0, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_recvfrom
TRACEPOINT_PROBE(syscalls, sys_exit_recvfrom) { return kp_call_exit(args->ret); }
#endif
#ifdef KP_TP_syscalls__sys_enter_recvmsg
TRACEPOINT_PROBE(syscalls, sys_enter_recvmsg) { return kp_call_enter(0, args->fd); }
#endif
#ifdef KP_TP_syscalls__sys_exit_recvmsg
TRACEPOINT_PROBE(syscalls, sys_exit_recvmsg) { return kp_call_exit(args->ret); }
#endif
