/* PageFault: exceptions:page_fault_user fires at fault entry, before the kernel
 * knows whether the fault needs I/O. The fault is held per thread and emitted
 * at the thread's next fault, tracked syscall or exit; it was major when the
 * task's maj_flt counter (read through the BTF offset) grew in between. */
struct kp_fault {
    u64 ts;
    u64 addr;
    u64 majflt;
    u64 cgroup;
    u32 tgid;
    u32 cpu;
    char comm[16];
};

BPF_HASH(kp_faults, u32, struct kp_fault, 65536);

static __always_inline u64 kp_majflt(void)
{
    u64 v = 0;
    void *task = (void *)bpf_get_current_task();
    bpf_probe_read_kernel(&v, sizeof(v), task + KP_OFF_TASK_MAJ_FLT);
    return v;
}

static __always_inline void kp_fault_resolve(struct kp_config *c, u32 tid, u64 now)
{
    struct kp_fault *f = kp_faults.lookup(&tid);
    if (!f)
        return;
    struct kp_fault p = *f;
    kp_faults.delete(&tid);
    struct kp_batch *b;
    struct kp_record *r = kp_begin(&b, KP_PageFault, p.ts, p.tgid, tid);
    if (!r)
        return;
    r->aux = p.addr;
    r->flags = kp_majflt() != p.majflt;
    r->cpu = p.cpu;
    r->cgroup = p.cgroup;
    __builtin_memcpy(r->comm, p.comm, sizeof(r->comm));
    kp_submit(b, c, now);
}

#ifdef KP_TP_exceptions__page_fault_user
TRACEPOINT_PROBE(exceptions, page_fault_user)
{
    u64 id;
    struct kp_config *c = kp_config_current(KP_PageFault, &id);
    if (!c)
        return 0;
    u32 tid = id;
    u64 now = bpf_ktime_get_ns();
    kp_fault_resolve(c, tid, now);
    struct kp_fault f = {};
    f.ts = now;
    f.addr = args->address;
    f.majflt = kp_majflt();
    f.cgroup = bpf_get_current_cgroup_id();
    f.tgid = id >> 32;
    f.cpu = bpf_get_smp_processor_id();
    bpf_get_current_comm(&f.comm, sizeof(f.comm));
    kp_faults.update(&tid, &f);
    return 0;
}
#endif
