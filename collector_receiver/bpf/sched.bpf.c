/* SchedSwitch: one off-CPU interval per thread, from its switch-out (current
 * is the thread, so the filter applies there) to its switch-in. The waker is
 * taken from sched:sched_waking, which runs in the waker's context; the
 * run-queue wait is waking..switch-in (the whole interval when preempted).
 * SchedWakeup is emitted with its SchedSwitch, for intervals that pass the
 * min_offcpu_ns threshold, so each recorded wait has its cause.
 * A timer's wakeup (a sleep, a poll or futex timeout) runs in the interrupt, in
 * whatever task it landed on: while a timer callback runs on this CPU the waker
 * is the timer (pid 0, comm "timer"), never the task it interrupted. */
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
BPF_PERCPU_ARRAY(kp_in_timer, u32, 1); /* timer callbacks running on this CPU (they nest) */

static __always_inline void kp_timer_depth(int delta)
{
    u32 k = 0;
    u32 *d = kp_in_timer.lookup(&k);
    if (d && (delta > 0 || *d > 0))
        *d += delta;
}

#ifdef KP_TP_timer__hrtimer_expire_entry
TRACEPOINT_PROBE(timer, hrtimer_expire_entry)
{
    kp_timer_depth(1);
    return 0;
}
#endif

#ifdef KP_TP_timer__hrtimer_expire_exit
TRACEPOINT_PROBE(timer, hrtimer_expire_exit)
{
    kp_timer_depth(-1);
    return 0;
}
#endif

#ifdef KP_TP_timer__timer_expire_entry
TRACEPOINT_PROBE(timer, timer_expire_entry)
{
    kp_timer_depth(1);
    return 0;
}
#endif

#ifdef KP_TP_timer__timer_expire_exit
TRACEPOINT_PROBE(timer, timer_expire_exit)
{
    kp_timer_depth(-1);
    return 0;
}
#endif

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
    u32 k = 0;
    u32 *timer = kp_in_timer.lookup(&k);
    o->waking_ts = bpf_ktime_get_ns();
    o->waker_cpu = bpf_get_smp_processor_id();
    if (timer && *timer) {
        o->waker_pid = 0;
        o->waker_tid = 0;
        o->waker_cgroup = 0;
        __builtin_memcpy(o->waker_comm, "timer", 6);
        return 0;
    }
    o->waker_pid = id >> 32;
    o->waker_tid = id;
    o->waker_cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(&o->waker_comm, sizeof(o->waker_comm));
    return 0;
}
#endif
