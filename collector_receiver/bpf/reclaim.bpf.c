/* MemoryReclaim: direct (global) and memcg (cgroup limit) reclaim intervals of
 * a traced task, begin..end joined per thread; pages = nr_reclaimed. */
struct kp_reclaim {
    u64 ts;
    u32 kind;
    u32 pad;
};

BPF_HASH(kp_reclaims, u32, struct kp_reclaim, 16384);

static __always_inline int kp_reclaim_begin(u32 kind)
{
    u64 id;
    struct kp_config *c = kp_config_current(KP_MemoryReclaim, &id);
    if (!c)
        return 0;
    u32 tid = id;
    struct kp_reclaim v = {};
    v.ts = bpf_ktime_get_ns();
    v.kind = kind;
    kp_reclaims.update(&tid, &v);
    return 0;
}

static __always_inline int kp_reclaim_end(u64 pages)
{
    u64 id = bpf_get_current_pid_tgid();
    u32 tid = id;
    struct kp_reclaim *p = kp_reclaims.lookup(&tid);
    if (!p)
        return 0;
    struct kp_reclaim v = *p;
    kp_reclaims.delete(&tid);
    struct kp_config *c = kp_config();
    if (!c)
        return 0;
    u64 now = bpf_ktime_get_ns();
    struct kp_batch *b;
    struct kp_record *r = kp_begin(&b, KP_MemoryReclaim, v.ts, id >> 32, tid);
    if (!r)
        return 0;
    r->dur = now - v.ts;
    r->aux = pages;
    r->flags = v.kind;
    kp_submit(b, c, now);
    return 0;
}

#ifdef KP_TP_vmscan__mm_vmscan_direct_reclaim_begin
TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_begin) { return kp_reclaim_begin(KP_DIRECT); }
#endif
#ifdef KP_TP_vmscan__mm_vmscan_direct_reclaim_end
TRACEPOINT_PROBE(vmscan, mm_vmscan_direct_reclaim_end) { return kp_reclaim_end(args->nr_reclaimed); }
#endif
#ifdef KP_TP_vmscan__mm_vmscan_memcg_reclaim_begin
TRACEPOINT_PROBE(vmscan, mm_vmscan_memcg_reclaim_begin) { return kp_reclaim_begin(KP_MEMCG); }
#endif
#ifdef KP_TP_vmscan__mm_vmscan_memcg_reclaim_end
TRACEPOINT_PROBE(vmscan, mm_vmscan_memcg_reclaim_end) { return kp_reclaim_end(args->nr_reclaimed); }
#endif
