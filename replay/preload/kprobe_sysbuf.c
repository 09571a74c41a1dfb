/* kprobe's syscall buffer: clock reads and a few calls that never wait, without a ptrace
 * stop while recording (rr's syscallbuf, for the calls a service makes per request).
 *
 * The recorder hides the vDSO, so every clock read is a syscall, and a traced one costs a
 * ptrace stop (~60 us in our Python tracer); a Python service reads the clock dozens of
 * times per request, and asks a socket for its names and options and closes it on every
 * connection.
 * Preloaded into the recorded program, this library makes those calls through a syscall
 * instruction in a page at a fixed address, which the recorder's seccomp filter lets
 * through untraced (any syscall from that page, and only from it), and appends each one,
 * with the bytes the kernel wrote for it, to a ring at another fixed address. At the
 * thread's next traced syscall the recorder reads the ring through /proc/PID/mem and
 * stores each entry as the ordinary event a traced call would have made, just before
 * that syscall: the recording is the one a fully traced run would have made. On replay
 * the same library runs the same instruction, the replayer's filter traces it, and the
 * replayer serves the recorded result like any other. The library behaves the same in
 * both: it never learns which one it is in.
 *
 * Only calls that cannot wait for another thread (or process) of the tree are buffered:
 * a thread that made one keeps running, and one thread runs at a time while recording. Calls
 * that may wait long but never for the tree (a write to a file, fsync, fdatasync) are made
 * too, keeping the turn; the recorder takes it back should another thread be ready meanwhile
 * (the turn handshake below).
 * ioctl only for FIONBIO, FIONREAD and isatty's TCGETS; close always (the recorder follows
 * the fd table from the entry); stat and its kin (the path copied too); send, recv, read and
 * write only on a descriptor that is non-blocking, their bytes copied to a payload ring;
 * accept only on a non-blocking listener. Calls that may wait are tried first where the
 * kernel can be asked not to: a flock with LOCK_NB, a select with a zero timeout, a write
 * to a blocking descriptor with RWF_NOWAIT; only if the try finds it would wait is the call
 * made again, traced. A call whose output does not fit is made as a traced syscall, and so
 * is every call of a kind an injection rule names (KPROBE_SYSBUF_TRACED).
 *
 * Every FLUSH_EVERY entries it makes one traced getpid, so a thread that reads the clock
 * in a loop without any syscall cannot outrun the recorder. It takes no timestamps of its
 * own: in replay they would be clock reads the recording does not have. Layout (shared
 * with replay/sysbuf.py): header {magic, written, capacity, entry size}, then fixed-size
 * entries {nr, args[6], ret, three (address, length) regions of tracee memory the call
 * wrote (or, for a path, read), payload position, their bytes}.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE_ADDR 0x70000000UL
#define RING_ADDR 0x70001000UL
#define MAGIC 0x6b70737973627536ULL /* "kpsysbu6" */
#define CAPACITY 16384UL
#define FLUSH_EVERY (CAPACITY / 2)
#define DATA_BYTES 400 /* a struct stat and the path it was asked for */
#define PAYLOAD_ADDR 0x71000000UL
#define PAYLOAD_CAPACITY (4UL << 20)
#define PAYLOAD_MAX (PAYLOAD_CAPACITY / 8) /* a larger send/recv stays traced */

struct region { uint64_t addr, len; };
struct entry {
    int64_t nr;
    uint64_t args[6];
    int64_t ret;
    struct region mem[3];
    uint64_t payload_pos; /* send/recv: region 0's bytes are in the payload ring from here */
    unsigned char data[DATA_BYTES];
};
struct ring { uint64_t magic, written, capacity, entry_size; struct entry e[]; };
struct payload { uint64_t magic, written, capacity, turn_offset; unsigned char b[]; };

/* A call that may wait long but never for the tree (a file write, fsync) is made from the page
 * too, and the thread keeps the turn while it waits: no stop when it is quick, as it mostly is.
 * Should another thread of the tree be ready to run meanwhile, the recorder takes the turn
 * back: it sets `revoked` in the thread's flags (found at turn_offset from the thread pointer,
 * published in the payload header) and, if `in_call` is still set, gives the turn away. The
 * thread, its call returned, clears in_call, then reads revoked (each side writes, then reads
 * the other's flag: Dekker's handshake, so one of them sees the other), and if revoked asks
 * for the turn again with a traced getpid marked REJOIN before it rings the call or goes on. */
struct turn_flags { uint8_t in_call, revoked; };
static __thread struct turn_flags turn __attribute__((tls_model("initial-exec")));
#define REJOIN 0x6b7072656a6f696eULL /* "kprejoin", in getpid's ignored first argument */

typedef long (*trampoline_fn)(long nr, const long args[6]);
static trampoline_fn trampoline;
/* Calls an injection rule names (KPROBE_SYSBUF_TRACED, syscall numbers set by the recorder and
 * kept in the recorded environment): the library makes none of its own, so the rule meets
 * the program's calls exactly as `strace --inject` would, in record and replay alike. */
#define NR_MAX 512
static unsigned char leave_traced[NR_MAX / 8];

static void read_traced_list(void) {
    const char *s = getenv("KPROBE_SYSBUF_TRACED");
    while (s && *s) {
        char *end;
        long nr = strtol(s, &end, 10);
        if (end == s)
            break;
        if (nr >= 0 && nr < NR_MAX)
            leave_traced[nr / 8] |= (unsigned char)(1 << (nr % 8));
        s = *end == ',' ? end + 1 : end;
    }
}

/* The library makes this call itself (buffered), rather than leaving it to the kernel. */
static int use(long nr) {
    return trampoline && !(nr >= 0 && nr < NR_MAX && leave_traced[nr / 8] & (1 << (nr % 8)));
}
static struct ring *ring;
static struct payload *payload;

__attribute__((constructor)) static void kprobe_buffer_init(void) {
    /* mov rax,rdi; mov rdi,[rsi]; mov rdx,[rsi+16]; mov r10,[rsi+24]; mov r8,[rsi+32];
     * mov r9,[rsi+40]; mov rsi,[rsi+8]; syscall; ret: the six arguments from an array */
    static const unsigned char code[] = {0x48, 0x89, 0xf8, 0x48, 0x8b, 0x3e, 0x48, 0x8b, 0x56,
                                         0x10, 0x4c, 0x8b, 0x56, 0x18, 0x4c, 0x8b, 0x46, 0x20,
                                         0x4c, 0x8b, 0x4e, 0x28, 0x48, 0x8b, 0x76, 0x08, 0x0f,
                                         0x05, 0xc3};
    void *page = mmap((void *)PAGE_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page != (void *)PAGE_ADDR)
        return;
    size_t size = sizeof(struct ring) + CAPACITY * sizeof(struct entry);
    void *r = mmap((void *)RING_ADDR, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != (void *)RING_ADDR)
        return;
    void *pl = mmap((void *)PAYLOAD_ADDR, sizeof(struct payload) + PAYLOAD_CAPACITY,
                    PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (pl != (void *)PAYLOAD_ADDR)
        return;
    payload = pl;
    payload->magic = MAGIC;
    payload->capacity = PAYLOAD_CAPACITY;
    /* static TLS (a preloaded library): the same offset in every thread */
    payload->turn_offset = (uint64_t)((char *)&turn - (char *)pthread_self());
    memcpy(page, code, sizeof code);
    ring = r;
    ring->magic = MAGIC;
    ring->capacity = CAPACITY;
    ring->entry_size = sizeof(struct entry);
    read_traced_list();
    trampoline = (trampoline_fn)page;
}

static long set_errno(long ret) {
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return ret;
}

/* Make the call untraced and ring it with the (at most three) buffers it filled or sent;
 * `out` names each by argument index (or address), with its length: `len` bytes, or what the call left in the
 * value-result length at argument len_arg (>= 0), at most `len`; or (len_arg == PAYLOAD,
 * first buffer only) as many as the call returned, copied to the payload ring. */
/* The library's own calls and tries carry this in an argument the kernel ignores for them
 * (flock's third, getsockname's fourth, pwritev2's high offset word on 64-bit), so the
 * recorder tells them from the program's (replay/sysbuf.py own_call). */
#define MARK 0x6b70 /* "kp" */

#define PAYLOAD (-2)
#define INPUT (-3) /* bytes the call read (a path): copied whatever the result */
struct out { int arg, len_arg; size_t len; const void *at; /* else argument `arg` */ };

static int put_payload(struct entry *e, const void *src, size_t len) {
    uint64_t pos = payload->written, at = pos % PAYLOAD_CAPACITY;
    size_t first = len < PAYLOAD_CAPACITY - at ? len : PAYLOAD_CAPACITY - at;
    memcpy(payload->b + at, src, first);
    memcpy(payload->b, (const unsigned char *)src + first, len - first);
    e->payload_pos = pos;
    __atomic_store_n(&payload->written, pos + len, __ATOMIC_RELEASE);
    return (pos + len) / (PAYLOAD_CAPACITY / 2) != pos / (PAYLOAD_CAPACITY / 2);
}

/* Ring a call made with result `ret`, with the buffers named in `outs`. */
static long ring_call(long nr, const long a[6], long ret, const struct out *outs, int nouts) {
    uint64_t n = ring->written;
    struct entry *e = &ring->e[n % CAPACITY];
    e->nr = nr;
    for (int i = 0; i < 6; i++)
        e->args[i] = (uint64_t)a[i];
    e->ret = ret;
    memset(e->mem, 0, sizeof e->mem);
    e->payload_pos = 0;
    size_t used = 0;
    int flush = 0;
    for (int i = 0; i < nouts; i++) {
        const struct out *o = &outs[i];
        if (ret < 0 && o->len_arg != INPUT)
            continue; /* a failed call wrote nothing */
        void *addr = o->at ? (void *)o->at : (void *)a[o->arg];
        size_t len = o->len;
        if (o->len_arg >= 0 && *(const uint32_t *)a[o->len_arg] < len)
            len = *(const uint32_t *)a[o->len_arg];
        if (o->len_arg == PAYLOAD && (size_t)ret < len)
            len = (size_t)ret;
        if (o->len_arg == PAYLOAD && i == 0 && addr) {
            flush = put_payload(e, addr, len);
        } else {
            if (!addr || len > DATA_BYTES - used)
                len = 0;
            if (len)
                memcpy(e->data + used, addr, len);
            used += len;
        }
        e->mem[i].addr = (uint64_t)addr;
        e->mem[i].len = len;
    }
    __atomic_store_n(&ring->written, n + 1, __ATOMIC_RELEASE);
    if ((n + 1) % FLUSH_EVERY == 0 || flush)
        syscall(SYS_getpid); /* traced: the recorder takes the rings there */
    return ret;
}

static long buffered(long nr, const long a[6], const struct out *outs, int nouts) {
    return ring_call(nr, a, trampoline(nr, a), outs, nouts);
}

/* A call that may wait, made keeping the turn unless the recorder takes it back (above). */
static long may_wait(long nr, const long a[6], const struct out *outs, int nouts) {
    __atomic_store_n(&turn.in_call, 1, __ATOMIC_SEQ_CST);
    long ret = trampoline(nr, a);
    __atomic_store_n(&turn.in_call, 0, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&turn.revoked, __ATOMIC_SEQ_CST)) {
        __atomic_store_n(&turn.revoked, 0, __ATOMIC_SEQ_CST);
        syscall(SYS_getpid, REJOIN); /* traced: it waits there for the turn */
    }
    return ring_call(nr, a, ret, outs, nouts);
}

static int is_wall_or_monotonic(clockid_t clock) {
    /* the clocks the recorder answers as queries; CPU-time clocks stay traced syscalls */
    return clock >= 0 && clock < 16 && clock != CLOCK_PROCESS_CPUTIME_ID &&
           clock != CLOCK_THREAD_CPUTIME_ID;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (!use(SYS_clock_gettime) || !is_wall_or_monotonic(clock))
        return (int)syscall(SYS_clock_gettime, clock, ts); /* what libc does without a vDSO */
    static const struct out outs[] = {{1, -1, sizeof(struct timespec), NULL}};
    long a[6] = {clock, (long)ts};
    return (int)set_errno(buffered(SYS_clock_gettime, a, outs, 1));
}

/* getsockname/getpeername/getsockopt: a value-result length, then the buffer it sizes (a
 * buffer that could not fit an entry is left to a traced call). */
static int sockname(long nr, int fd, struct sockaddr *addr, socklen_t *len) {
    if (!use(nr) || !addr || !len || *len > DATA_BYTES - sizeof(uint32_t))
        return (int)syscall(nr, fd, addr, len);
    const struct out outs[] = {{2, -1, sizeof(uint32_t), NULL}, {1, 2, *len, NULL}};
    long a[6] = {fd, (long)addr, (long)len};
    return (int)set_errno(buffered(nr, a, outs, 2));
}

int getsockname(int fd, struct sockaddr *addr, socklen_t *len) {
    return sockname(SYS_getsockname, fd, addr, len);
}

int getpeername(int fd, struct sockaddr *addr, socklen_t *len) {
    return sockname(SYS_getpeername, fd, addr, len);
}

int getsockopt(int fd, int level, int name, void *val, socklen_t *len) {
    if (!use(SYS_getsockopt) || !val || !len || *len > DATA_BYTES - sizeof(uint32_t))
        return (int)syscall(SYS_getsockopt, fd, level, name, val, len);
    const struct out outs[] = {{4, -1, sizeof(uint32_t), NULL}, {3, 4, *len, NULL}};
    long a[6] = {fd, level, name, (long)val, (long)len};
    return (int)set_errno(buffered(SYS_getsockopt, a, outs, 2));
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len) {
    if (!use(SYS_setsockopt))
        return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
    long a[6] = {fd, level, name, (long)val, len};
    return (int)set_errno(buffered(SYS_setsockopt, a, NULL, 0));
}

int ioctl(int fd, unsigned long request, ...) {
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!use(SYS_ioctl) || (request != FIONBIO && request != FIONREAD))
        return (int)syscall(SYS_ioctl, fd, request, arg);
    static const struct out outs[] = {{2, -1, sizeof(int), NULL}};
    long a[6] = {fd, (long)request, (long)arg};
    return (int)set_errno(buffered(SYS_ioctl, a, outs, request == FIONREAD));
}

int close(int fd) {
    if (!use(SYS_close))
        return (int)syscall(SYS_close, fd);
    long a[6] = {fd};
    return (int)set_errno(buffered(SYS_close, a, NULL, 0));
}

/* A socket send or receive cannot wait only if the socket is non-blocking: the library asks
 * (F_GETFL, itself buffered, so replay serves the same answer and takes the same branch). */
static int cannot_wait(int fd, int flags) {
    if (fd <= 2) /* inherited stdio: the recorder tells the tree's output apart at its stop */
        return 0;
    if (flags & MSG_DONTWAIT)
        return 1;
    if (!use(SYS_fcntl)) /* a rule names fcntl: no question of the library's own */
        return 0;
    long a[6] = {fd, F_GETFL};
    long fl = buffered(SYS_fcntl, a, NULL, 0);
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* read and write on a non-blocking descriptor (a pipe the program polls, a socket it uses
 * through os.read/os.write): the same bytes as recv/send, the same payload ring. */
ssize_t read(int fd, void *buf, size_t len) {
    if (!use(SYS_read) || len > PAYLOAD_MAX || !cannot_wait(fd, 0))
        return syscall(SYS_read, fd, buf, len);
    const struct out outs[] = {{1, PAYLOAD, len, NULL}};
    long a[6] = {fd, (long)buf, (long)len};
    return set_errno(buffered(SYS_read, a, outs, 1));
}

/* A write that may wait (a blocking descriptor) is tried first with RWF_NOWAIT: the kernel
 * makes it only where it need not wait (room in a pipe or a socket's buffer); where it would
 * wait (EAGAIN), the program's write is made, traced, for whatever is left; where it cannot
 * promise not to (EOPNOTSUPP: a file on ext4, say), the library makes the write keeping the
 * turn (may_wait). The try is marked in pwritev2's high offset word, which the kernel ignores
 * on 64-bit. */

static ssize_t write_nowait(int fd, const void *buf, size_t len) {
    struct iovec iov = {(void *)buf, len};
    const struct out outs[] = {{1, PAYLOAD, len, buf}, {1, -1, sizeof iov, NULL}};
    long a[6] = {fd, (long)&iov, 1, -1, MARK, RWF_NOWAIT};
    return buffered(SYS_pwritev2, a, outs, 2);
}

ssize_t write(int fd, const void *buf, size_t len) {
    if (!use(SYS_write) || len > PAYLOAD_MAX || fd <= 2)
        return syscall(SYS_write, fd, buf, len);
    if (cannot_wait(fd, 0)) {
        const struct out outs[] = {{1, PAYLOAD, len, NULL}};
        long a[6] = {fd, (long)buf, (long)len};
        return set_errno(buffered(SYS_write, a, outs, 1));
    }
    if (!use(SYS_pwritev2) || len == 0)
        return syscall(SYS_write, fd, buf, len);
    long done = write_nowait(fd, buf, len);
    if (done == -EOPNOTSUPP) { /* a file: it may wait, but not for the tree */
        const struct out outs[] = {{1, PAYLOAD, len, NULL}};
        long a[6] = {fd, (long)buf, (long)len};
        return set_errno(may_wait(SYS_write, a, outs, 1));
    }
    if (done == -EAGAIN || done == -EINVAL)
        return syscall(SYS_write, fd, buf, len); /* it would wait: traced */
    if (done < 0 || (size_t)done == len)
        return set_errno(done);
    long rest = syscall(SYS_write, fd, (const char *)buf + done, len - done); /* traced */
    return rest < 0 ? done : done + rest;
}

/* fsync and fdatasync wait for the disk, never for the tree. */
int fsync(int fd) {
    if (!use(SYS_fsync))
        return (int)syscall(SYS_fsync, fd);
    long a[6] = {fd};
    return (int)set_errno(may_wait(SYS_fsync, a, NULL, 0));
}

int fdatasync(int fd) {
    if (!use(SYS_fdatasync))
        return (int)syscall(SYS_fdatasync, fd);
    long a[6] = {fd};
    return (int)set_errno(may_wait(SYS_fdatasync, a, NULL, 0));
}

/* accept on a non-blocking listener cannot wait. The recorder must know the connection's
 * endpoints when it takes the entry, by which time the fd may be closed or reused, so the
 * library asks the new socket its name at once (its own call, marked in an argument the
 * kernel ignores); the peer's name is accept's own output. */

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    if (!use(SYS_accept4) || !addr || !len || *len > DATA_BYTES - sizeof(uint32_t) ||
        !cannot_wait(fd, 0))
        return (int)syscall(SYS_accept4, fd, addr, len, flags);
    const struct out outs[] = {{2, -1, sizeof(uint32_t), NULL}, {1, 2, *len, NULL}};
    long a[6] = {fd, (long)addr, (long)len, flags};
    long ret = buffered(SYS_accept4, a, outs, 2);
    if (ret >= 0) {
        struct sockaddr_storage local;
        socklen_t local_len = sizeof local < DATA_BYTES - sizeof(uint32_t)
                                  ? sizeof local : DATA_BYTES - sizeof(uint32_t);
        const struct out name_outs[] = {{2, -1, sizeof(uint32_t), NULL}, {1, 2, local_len, NULL}};
        long n[6] = {ret, (long)&local, (long)&local_len, MARK};
        buffered(SYS_getsockname, n, name_outs, 2);
    }
    return (int)set_errno(ret);
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    if (!use(SYS_sendto) || len > PAYLOAD_MAX || !cannot_wait(fd, flags))
        return syscall(SYS_sendto, fd, buf, len, flags, NULL, 0);
    const struct out outs[] = {{1, PAYLOAD, len, NULL}};
    long a[6] = {fd, (long)buf, (long)len, flags};
    return set_errno(buffered(SYS_sendto, a, outs, 1));
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    if (!use(SYS_recvfrom) || len > PAYLOAD_MAX || !cannot_wait(fd, flags))
        return syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    const struct out outs[] = {{1, PAYLOAD, len, NULL}};
    long a[6] = {fd, (long)buf, (long)len, flags};
    return set_errno(buffered(SYS_recvfrom, a, outs, 1));
}

/* A flock that may wait is tried without waiting first (marked in an argument the kernel
 * ignores); only if another holder has the lock is the call made again, traced, to wait. */

int flock(int fd, int op) {
    if (!use(SYS_flock))
        return (int)syscall(SYS_flock, fd, op);
    int attempt = !(op & (LOCK_UN | LOCK_NB));
    long a[6] = {fd, attempt ? op | LOCK_NB : op, attempt ? MARK : 0};
    long ret = buffered(SYS_flock, a, NULL, 0);
    if (attempt && ret == -EWOULDBLOCK)
        return (int)syscall(SYS_flock, fd, op); /* another holder: wait, traced */
    return (int)set_errno(ret);
}

/* A select is tried first without waiting (a zero timeout at a fixed address, which marks the
 * try as the library's own when it finds nothing ready); only when nothing is ready and the
 * caller would wait is the call made again, by libc, traced, with the sets as they were. */
#define ZERO_TIMEOUT (PAGE_ADDR + 2048)       /* zeroes in the syscall page: the try */
#define ZERO_TIMEOUT_ASKED (PAGE_ADDR + 2064) /* the caller's own zero timeout */

typedef int (*select_fn)(int, fd_set *, fd_set *, fd_set *, struct timeval *);

int select(int nfds, fd_set *r, fd_set *w, fd_set *e, struct timeval *tv) {
    static select_fn libc_select;
    if (!libc_select)
        libc_select = (select_fn)dlsym(RTLD_NEXT, "select");
    fd_set *sets[3] = {r, w, e};
    size_t size = nfds > 0 ? ((size_t)nfds + 63) / 64 * 8 : 0, n = 0;
    for (int i = 0; i < 3; i++)
        n += sets[i] != NULL;
    if (!use(SYS_pselect6) || nfds <= 0 || n * size > DATA_BYTES)
        return libc_select(nfds, r, w, e, tv);
    int asked_zero = tv && tv->tv_sec == 0 && tv->tv_usec == 0;
    unsigned char saved[DATA_BYTES];
    struct out outs[3];
    int nouts = 0;
    for (int i = 0; i < 3; i++) {
        if (!sets[i])
            continue;
        memcpy(saved + nouts * size, sets[i], size);
        outs[nouts++] = (struct out){1 + i, -1, size, NULL};
    }
    long a[6] = {nfds, (long)r, (long)w, (long)e, asked_zero ? ZERO_TIMEOUT_ASKED : ZERO_TIMEOUT};
    long ret = buffered(SYS_pselect6, a, outs, nouts);
    if (ret != 0 || asked_zero)
        return (int)set_errno(ret);
    for (int i = 0, k = 0; i < 3; i++)
        if (sets[i])
            memcpy(sets[i], saved + k++ * size, size);
    return libc_select(nfds, r, w, e, tv);
}

/* stat and its kin (glibc makes them all newfstatat, fstat with AT_EMPTY_PATH): an import
 * system asks thousands while a program starts. The path goes into the entry too (an input:
 * replay compares it), so a longer one than fits is left to a traced call. */
#define PATH_BYTES (DATA_BYTES - sizeof(struct stat))

static int stat_at(int dirfd, const char *path, struct stat *st, int flags) {
    size_t len = path ? strnlen(path, PATH_BYTES) : PATH_BYTES;
    if (!use(SYS_newfstatat) || !st || len >= PATH_BYTES)
        return (int)syscall(SYS_newfstatat, dirfd, path, st, flags);
    const struct out outs[] = {{2, -1, sizeof(struct stat), NULL}, {1, INPUT, len + 1, NULL}};
    long a[6] = {dirfd, (long)path, (long)st, flags};
    return (int)set_errno(buffered(SYS_newfstatat, a, outs, 2));
}

int stat(const char *path, struct stat *st) { return stat_at(AT_FDCWD, path, st, 0); }
int lstat(const char *path, struct stat *st) { return stat_at(AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW); }
int fstat(int fd, struct stat *st) { return stat_at(fd, "", st, AT_EMPTY_PATH); }
int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
    return stat_at(dirfd, path, st, flags);
}
/* the large-file names (the same struct on x86_64), which programs built with LFS call */
int stat64(const char *path, struct stat64 *st) { return stat_at(AT_FDCWD, path, (struct stat *)st, 0); }
int lstat64(const char *path, struct stat64 *st) {
    return stat_at(AT_FDCWD, path, (struct stat *)st, AT_SYMLINK_NOFOLLOW);
}
int fstat64(int fd, struct stat64 *st) { return stat_at(fd, "", (struct stat *)st, AT_EMPTY_PATH); }
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
    return stat_at(dirfd, path, (struct stat *)st, flags);
}

/* isatty: glibc asks TCGETS inside tcgetattr, beyond the ioctl above; Python asks it of every
 * file it opens. The same ioctl, buffered. */
#define KERNEL_TERMIOS_BYTES 36

int isatty(int fd) {
    unsigned char termios[64];
    if (!use(SYS_ioctl)) {
        long r = syscall(SYS_ioctl, fd, TCGETS, termios);
        return r == 0;
    }
    static const struct out outs[] = {{2, -1, KERNEL_TERMIOS_BYTES, NULL}};
    long a[6] = {fd, TCGETS, (long)termios};
    return set_errno(buffered(SYS_ioctl, a, outs, 1)) == 0;
}
