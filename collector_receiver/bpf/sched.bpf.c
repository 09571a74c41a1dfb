/* SchedSwitch: one off-CPU interval per thread, from its switch-out (current
 * is the thread, so the filter applies there) to its switch-in. The waker is
 * taken from sched:sched_waking, which runs in the waker's context; the
 * run-queue wait is waking..switch-in (the whole interval when preempted).
 * SchedWakeup is emitted with its SchedSwitch, for intervals that pass the
 * min_offcpu_ns threshold, so each recorded wait has its cause. */
struct kp_offcpu {
    u64 ts;
    u64 waking_ts;
    u64 cgroup;
    u64 waker_cgroup;
    s64 state;
    u32 tgid;
    u32 waker_pid;
    u32 waker_tid;
    u32 waker_cpu;
    char comm[16];
    char waker_comm[16];
};

BPF_HASH(kp_offcpu, u32, struct kp_offcpu, 65536);

static __always_inline void kp_switch_in(struct kp_config *c, u32 tid, u64 now)
{
    struct kp_offcpu *p = kp_offcpu.lookup(&tid);
    if (!p)
        return;
    struct kp_offcpu o = *p;
    kp_offcpu.delete(&tid);
    u64 dur = now - o.ts;
    if (dur < c->min_offcpu_ns)
        return;
    int preempted = (o.state & 0xff) == 0;
    struct kp_batch *b;
    struct kp_record *r;
    if (kp_wants(c, KP_SchedSwitch)) {
        r = kp_begin(&b, KP_SchedSwitch, o.ts, o.tgid, tid);
        if (!r)
            return;
        r->dur = dur;
        r->cgroup = o.cgroup;
        __builtin_memcpy(r->comm, o.comm, sizeof(r->comm));
        r->ret = o.state;
        r->flags = preempted ? KP_PREEMPTED : KP_BLOCKED;
        r->aux = o.waking_ts ? now - o.waking_ts : (preempted ? dur : 0);
        r->pid2 = o.waker_pid;
        r->tid2 = o.waker_tid;
        __builtin_memcpy(r->comm2, o.waker_comm, sizeof(r->comm2));
        kp_submit(b, c, now);
    }
    if (o.waking_ts && kp_wants(c, KP_SchedWakeup)) {
        r = kp_begin(&b, KP_SchedWakeup, o.waking_ts, o.waker_pid, o.waker_tid);
        if (!r)
            return;
        r->dur = now - o.waking_ts;
        r->cpu = o.waker_cpu;
        r->cgroup = o.waker_cgroup;
        __builtin_memcpy(r->comm, o.waker_comm, sizeof(r->comm));
        r->pid2 = o.tgid;
        r->tid2 = tid;
        __builtin_memcpy(r->comm2, o.comm, sizeof(r->comm2));
        kp_submit(b, c, now);
    }
}

#ifdef KP_TP_sched__sched_switch
TRACEPOINT_PROBE(sched, sched_switch)
{
    struct kp_config *c = kp_config();
    if (!c)
        return 0;
    u64 now = bpf_ktime_get_ns();
    u32 prev = args->prev_pid;
    u64 id = bpf_get_current_pid_tgid();
    if (prev != 0 && kp_traced_current(c, id >> 32)) {
        struct kp_offcpu o = {};
        o.ts = now;
        o.state = args->prev_state;
        o.tgid = id >> 32;
        o.cgroup = bpf_get_current_cgroup_id();
        __builtin_memcpy(o.comm, args->prev_comm, sizeof(o.comm));
        kp_offcpu.update(&prev, &o);
    }
    kp_switch_in(c, args->next_pid, now);
    return 0;
}
#endif

#ifdef KP_TP_sched__sched_waking
TRACEPOINT_PROBE(sched, sched_waking)
{
    u32 tid = args->pid;
    struct kp_offcpu *o = kp_offcpu.lookup(&tid);
    if (!o || o->waking_ts)
        return 0;
    u64 id = bpf_get_current_pid_tgid();
    o->waking_ts = bpf_ktime_get_ns();
    o->waker_pid = id >> 32;
    o->waker_tid = id;
    o->waker_cpu = bpf_get_smp_processor_id();
    o->waker_cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(&o->waker_comm, sizeof(o->waker_comm));
    return 0;
}
#endif
