/* TCPSend/TCPRecv from sock:sock_send_length/sock_recv_length (exact bytes for
 * any syscall that moved them); the 4-tuple is read from the start of struct
 * sock. A record borrows fd and start time from the thread's in-flight
 * syscall (syscalls.bpf.c), so a blocking recv spans its wait.
 * TCPRetransmit comes from softirq context: the socket's owner is the traced
 * thread that connected it or last moved bytes on it (kp_sk_owner). */
struct kp_owner {
    u64 cgroup;
    u32 tgid;
    u32 tid;
    char comm[16];
};

BPF_TABLE("lru_hash", u64, struct kp_owner, kp_sk_owner, 16384);

/* The local port comes from inet_sport, not skc_num: a reset processed while the
 * sender holds the socket lock (on loopback the peer's RST is handled before
 * sendmsg returns) closes the socket and puts its port back, zeroing skc_num,
 * and sock_send_length fires after that with the bytes already sent. inet_sport
 * keeps the port for the socket's life; skc_num covers a socket without it. */
static __always_inline void kp_read_tuple(struct kp_record *r, void *sk, u16 family)
{
    u16 sport = 0, dport = 0;
    bpf_probe_read_kernel(&sport, sizeof(sport), sk + KP_OFF_INET_SPORT);
    if (sport)
        sport = __builtin_bswap16(sport);
    else
        bpf_probe_read_kernel(&sport, sizeof(sport), sk + KP_OFF_SKC_NUM);
    bpf_probe_read_kernel(&dport, sizeof(dport), sk + KP_OFF_SKC_DPORT);
    r->family = family;
    r->sport = sport;
    r->dport = __builtin_bswap16(dport);
    if (family == KP_AF_INET) {
        bpf_probe_read_kernel(r->saddr, 4, sk + KP_OFF_SKC_RCV_SADDR);
        bpf_probe_read_kernel(r->daddr, 4, sk + KP_OFF_SKC_DADDR);
    } else {
        bpf_probe_read_kernel(r->saddr, 16, sk + KP_OFF_SKC_V6_RCV_SADDR);
        bpf_probe_read_kernel(r->daddr, 16, sk + KP_OFF_SKC_V6_DADDR);
    }
}

static __always_inline void kp_remember_owner(const void *sk, u64 id)
{
    u64 key = (u64)sk;
    struct kp_owner o = {};
    o.cgroup = bpf_get_current_cgroup_id();
    o.tgid = id >> 32;
    o.tid = id;
    bpf_get_current_comm(&o.comm, sizeof(o.comm));
    kp_sk_owner.update(&key, &o);
}

static __always_inline int kp_sock_io(void *sk, u16 family, u16 protocol, int ret, u32 type)
{
    if (protocol != KP_IPPROTO_TCP || (family != KP_AF_INET && family != KP_AF_INET6))
        return 0;
    u64 id;
    struct kp_config *c = kp_config_current(0, &id);
    if (!c)
        return 0;
    u32 tid = id;
    kp_remember_owner(sk, id);
    if (!kp_wants(c, type))
        return 0;
    u64 now = bpf_ktime_get_ns();
    u64 ts = now;
    s32 fd = -1;
    struct kp_call *call = kp_inflight.lookup(&tid);
    if (call) {
        ts = call->ts;
        fd = call->fd;
    }
    struct kp_batch *b;
    struct kp_record *r = kp_begin(&b, type, ts, id >> 32, tid);
    if (!r)
        return 0;
    r->dur = now - ts;
    r->fd = fd;
    r->ret = ret;
    kp_read_tuple(r, sk, family);
    kp_submit(b, c, now);
    return 0;
}

#ifdef KP_TP_sock__sock_send_length
TRACEPOINT_PROBE(sock, sock_send_length)
{
    return kp_sock_io(args->sk, args->family, args->protocol, args->ret, KP_TCPSend);
}
#endif
#ifdef KP_TP_sock__sock_recv_length
TRACEPOINT_PROBE(sock, sock_recv_length)
{
    return kp_sock_io(args->sk, args->family, args->protocol, args->ret, KP_TCPRecv);
}
#endif

/* connect() moves the socket to SYN_SENT in the caller's context: the owner is
 * known before the first send returns (a large send retransmits while blocked). */
#ifdef KP_TP_sock__inet_sock_set_state
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
    if (args->protocol != KP_IPPROTO_TCP || args->newstate != KP_TCP_SYN_SENT)
        return 0;
    u64 id;
    if (kp_config_current(KP_TCPRetransmit, &id))
        kp_remember_owner(args->skaddr, id);
    return 0;
}
#endif

#ifdef KP_TP_tcp__tcp_retransmit_skb
TRACEPOINT_PROBE(tcp, tcp_retransmit_skb)
{
    struct kp_config *c = kp_config();
    if (!c || !kp_wants(c, KP_TCPRetransmit))
        return 0;
    u64 key = (u64)args->skaddr;
    struct kp_owner *o = kp_sk_owner.lookup(&key);
    if (!o && c->mode != KP_MODE_ALL)
        return 0;
    u64 now = bpf_ktime_get_ns();
    struct kp_batch *b;
    struct kp_record *r = kp_begin(&b, KP_TCPRetransmit, now, o ? o->tgid : 0, o ? o->tid : 0);
    if (!r)
        return 0;
    if (o) {
        r->cgroup = o->cgroup;
        __builtin_memcpy(r->comm, o->comm, sizeof(r->comm));
    } else {
        r->cgroup = 0;
        __builtin_memset(r->comm, 0, sizeof(r->comm));
    }
    r->family = args->family;
    r->sport = args->sport;
    r->dport = args->dport;
    if (args->family == KP_AF_INET) {
        __builtin_memcpy(r->saddr, args->saddr, 4);
        __builtin_memcpy(r->daddr, args->daddr, 4);
    } else {
        __builtin_memcpy(r->saddr, args->saddr_v6, 16);
        __builtin_memcpy(r->daddr, args->daddr_v6, 16);
    }
    u16 segs = 0;
    bpf_probe_read_kernel(&segs, sizeof(segs),
                          (void *)args->skbaddr + KP_OFF_SKB_CB + KP_OFF_TCP_GSO_SEGS);
    r->aux = segs ? segs : 1;
    r->flags = args->state;
    r->ret = args->err;
    kp_submit(b, c, now);
    return 0;
}
#endif
