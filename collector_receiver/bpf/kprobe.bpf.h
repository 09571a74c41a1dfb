/* Shared by every kprobe program: the record (generated from record.py),
 * configuration, target filtering and the per-CPU batching into the ring buffer.
 * Programs are libbpf-tools style, one file per concern, compiled together. */
#include <uapi/linux/ptrace.h>
#include <linux/sched.h>

KP_GENERATED_DEFINITIONS

/* KP_MODE_OFF (idle: every program returns at once), KP_MODE_ALL (every process
 * but the receiver), KP_MODE_PIDS (tgids in kp_tgids, optionally following
 * forks), KP_MODE_COMM (threads whose comm is in kp_comms), KP_MODE_CGROUP
 * (tasks under a cgroup v2 directory): generated from targets.py. */

#define KP_AF_INET 2
#define KP_AF_INET6 10
#define KP_IPPROTO_TCP 6
#define KP_TCP_SYN_SENT 2

#ifndef KP_OFF_TASK_MAJ_FLT
/* No BTF offsets given: the installed headers match the running kernel. */
#include <net/sock.h>
#include <net/tcp.h>
#define KP_OFF_TASK_MAJ_FLT offsetof(struct task_struct, maj_flt)
#define KP_OFF_SKC_DADDR offsetof(struct sock_common, skc_daddr)
#define KP_OFF_SKC_RCV_SADDR offsetof(struct sock_common, skc_rcv_saddr)
#define KP_OFF_SKC_DPORT offsetof(struct sock_common, skc_dport)
#define KP_OFF_SKC_NUM offsetof(struct sock_common, skc_num)
#define KP_OFF_INET_SPORT offsetof(struct inet_sock, inet_sport)
#define KP_OFF_SKC_V6_DADDR offsetof(struct sock_common, skc_v6_daddr)
#define KP_OFF_SKC_V6_RCV_SADDR offsetof(struct sock_common, skc_v6_rcv_saddr)
#define KP_OFF_SKB_CB offsetof(struct sk_buff, cb)
#define KP_OFF_TCP_GSO_SEGS offsetof(struct tcp_skb_cb, tcp_gso_segs)
#endif

struct kp_config {
    u64 min_offcpu_ns; /* shorter off-CPU intervals are not recorded */
    u64 flush_ns;      /* a partial batch older than this is flushed */
    u64 cgroup_id;
    u32 self_tgid;     /* the receiver: never traced */
    u32 mode;
    u32 cgroup_level;
    u32 follow;        /* PIDS mode: add children forked by traced tgids */
    u32 types;         /* bit (1 << EventType) per wanted type */
    u32 stop;
};

struct kp_comm {
    char c[16];
};

BPF_ARRAY(kp_cfg, struct kp_config, 1);
BPF_HASH(kp_tgids, u32, u8, 65536);
BPF_HASH(kp_comms, struct kp_comm, u8, 256);
BPF_PERCPU_ARRAY(kp_batches, struct kp_batch, 1);
BPF_PERCPU_ARRAY(kp_stats, u64, KP_NSTATS);
BPF_RINGBUF_OUTPUT(kp_events, KP_RINGBUF_PAGES);

static __always_inline struct kp_config *kp_config(void)
{
    u32 zero = 0;
    struct kp_config *c = kp_cfg.lookup(&zero);
    if (!c || c->mode == KP_MODE_OFF || c->stop)
        return 0;
    return c;
}

static __always_inline int kp_wants(struct kp_config *c, u32 type)
{
    return (c->types >> (type & 31)) & 1;
}

static __always_inline void kp_stat(u32 slot, u64 n)
{
    u64 *v = kp_stats.lookup(&slot);
    if (v)
        *v += n;
}

/* Is the current task a target? (Only meaningful in the task's own context.) */
static __always_inline int kp_traced_current(struct kp_config *c, u32 tgid)
{
    if (tgid == 0 || tgid == c->self_tgid)
        return 0;
    if (c->mode == KP_MODE_ALL)
        return 1;
    if (c->mode == KP_MODE_PIDS)
        return kp_tgids.lookup(&tgid) != 0;
    if (c->mode == KP_MODE_COMM) {
        struct kp_comm k = {};
        bpf_get_current_comm(&k.c, sizeof(k.c));
        return kp_comms.lookup(&k) != 0;
    }
    if (c->mode == KP_MODE_CGROUP)
        return bpf_get_current_ancestor_cgroup_id(c->cgroup_level) == c->cgroup_id;
    return 0;
}

/* The config when the current task is a target and `type` (0: any) is wanted; else 0. */
static __always_inline struct kp_config *kp_config_current(u32 type, u64 *id)
{
    struct kp_config *c = kp_config();
    if (!c || (type && !kp_wants(c, type)))
        return 0;
    *id = bpf_get_current_pid_tgid();
    return kp_traced_current(c, *id >> 32) ? c : 0;
}

static __always_inline void kp_flush(struct kp_batch *b)
{
    if (b->n == 0)
        return;
    b->cpu = bpf_get_smp_processor_id();
    if (kp_events.ringbuf_output(b, sizeof(*b), 0) != 0)
        kp_stat(KP_STAT_LOST_EVENTS, b->n);
    b->n = 0;
}

/* A zeroed record slot in this CPU's batch, with the common fields set from
 * the current task; the caller fills the rest and calls kp_submit. */
static __always_inline struct kp_record *kp_begin(struct kp_batch **out, u32 type, u64 ts,
                                                  u32 tgid, u32 tid)
{
    u32 zero = 0;
    struct kp_batch *b = kp_batches.lookup(&zero);
    if (!b)
        return 0;
    if (b->n >= KP_BATCH)
        kp_flush(b);
    struct kp_record *r = &b->rec[b->n & (KP_BATCH - 1)];
    __builtin_memset(r, 0, sizeof(*r));
    r->type = type;
    r->ts = ts;
    r->pid = tgid;
    r->tid = tid;
    r->fd = -1;
    r->cpu = bpf_get_smp_processor_id();
    r->cgroup = bpf_get_current_cgroup_id();
    bpf_get_current_comm(&r->comm, sizeof(r->comm));
    *out = b;
    return r;
}

static __always_inline void kp_submit(struct kp_batch *b, struct kp_config *c, u64 now)
{
    if (b->n == 0)
        b->first_ts = now;
    b->n++;
    if (b->n >= KP_BATCH || now - b->first_ts >= c->flush_ns)
        kp_flush(b);
}
