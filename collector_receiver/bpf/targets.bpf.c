/* Target bookkeeping: follow children of traced processes, forget exited
 * threads (and flush their pending fault), and flush partial batches on a
 * per-CPU timer so a quiet CPU does not hold records back. */
#ifdef KP_TP_sched__sched_process_fork
TRACEPOINT_PROBE(sched, sched_process_fork)
{
    struct kp_config *c = kp_config();
    if (!c || !c->follow || c->mode != KP_MODE_PIDS)
        return 0;
    u32 parent = bpf_get_current_pid_tgid() >> 32;
    if (!kp_tgids.lookup(&parent))
        return 0;
    u32 child = args->child_pid;
    u8 one = 1;
    kp_tgids.update(&child, &one);
    return 0;
}
#endif

#ifdef KP_TP_sched__sched_process_exit
TRACEPOINT_PROBE(sched, sched_process_exit)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    struct kp_config *c = kp_config();
    if (c)
        kp_fault_resolve(c, tid, bpf_ktime_get_ns());
    kp_inflight.delete(&tid);
    kp_offcpu.delete(&tid);
    kp_reclaims.delete(&tid);
    /* A followed clone is keyed by its tid; a process leaves the set when its last
     * thread exits, so a reused pid is not traced by mistake. */
    u32 tgid = id >> 32;
    if (tid != tgid)
        kp_tgids.delete(&tid);
    if (args->group_dead)
        kp_tgids.delete(&tgid);
    return 0;
}
#endif

int kp_timer_flush(struct bpf_perf_event_data *ctx)
{
    u32 zero = 0;
    if (!kp_config())
        return 0; /* idle or stopping: the receiver drains partial batches itself */
    struct kp_batch *b = kp_batches.lookup(&zero);
    if (b)
        kp_flush(b);
    return 0;
}
