/* kprobe's clock buffer: clock_gettime without a ptrace stop while recording.
 *
 * The recorder hides the vDSO, so every clock read is a syscall, and a traced one costs a
 * ptrace stop (~60 us in our Python tracer); a Python service reads the clock dozens of
 * times per request. Preloaded into the recorded program, this library answers
 * clock_gettime through a syscall instruction in a page at a fixed address, which the
 * recorder's seccomp filter lets through untraced (and only that syscall from that page),
 * and appends each answer to a ring at another fixed address. At the thread's next
 * traced syscall the recorder reads the ring through /proc/PID/mem and stores each read
 * as an ordinary clock_gettime event, just before that syscall: the recording is the one
 * a fully traced run would have made. On replay the same library runs the same
 * instruction, the replayer's filter traces it, and the replayer serves the recorded
 * value like any other clock read. The library behaves the same in both: it never
 * learns which one it is in.
 *
 * Every FLUSH_EVERY reads it makes one traced getpid, so a thread that reads the clock
 * in a loop without any syscall cannot outrun the recorder. Layout (shared with
 * replay/clockbuf.py): header {magic, written, capacity, entry size}, then entries
 * {clock, timespec pointer, seconds, nanoseconds, return value}, 8 bytes each field.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE_ADDR 0x70000000UL
#define RING_ADDR 0x70001000UL
#define MAGIC 0x6b70636c6f636b31ULL /* "kpclock1" */
#define CAPACITY 65536UL
#define FLUSH_EVERY (CAPACITY / 2)

struct entry { int64_t clock; uint64_t ptr; int64_t sec; int64_t nsec; int64_t ret; };
struct ring { uint64_t magic, written, capacity, entry_size; struct entry e[]; };

typedef long (*trampoline_fn)(long nr, long a, long b);
static trampoline_fn trampoline;
static struct ring *ring;

__attribute__((constructor)) static void kprobe_clock_init(void) {
    /* mov rax,rdi; mov rdi,rsi; mov rsi,rdx; syscall; ret */
    static const unsigned char code[] = {0x48, 0x89, 0xf8, 0x48, 0x89, 0xf7, 0x48, 0x89, 0xd6,
                                         0x0f, 0x05, 0xc3};
    void *page = mmap((void *)PAGE_ADDR, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (page != (void *)PAGE_ADDR)
        return;
    size_t size = sizeof(struct ring) + CAPACITY * sizeof(struct entry);
    void *r = mmap((void *)RING_ADDR, size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (r != (void *)RING_ADDR)
        return;
    memcpy(page, code, sizeof code);
    ring = r;
    ring->magic = MAGIC;
    ring->capacity = CAPACITY;
    ring->entry_size = sizeof(struct entry);
    trampoline = (trampoline_fn)page;
}

static int is_wall_or_monotonic(clockid_t clock) {
    /* the clocks the recorder answers as queries; CPU-time clocks stay traced syscalls */
    return clock >= 0 && clock < 16 && clock != CLOCK_PROCESS_CPUTIME_ID &&
           clock != CLOCK_THREAD_CPUTIME_ID;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    if (!trampoline || !is_wall_or_monotonic(clock))
        return (int)syscall(SYS_clock_gettime, clock, ts); /* what libc does without a vDSO */
    long ret = trampoline(SYS_clock_gettime, clock, (long)ts);
    uint64_t n = ring->written;
    struct entry *e = &ring->e[n % CAPACITY];
    e->clock = clock;
    e->ptr = (uint64_t)ts;
    e->ret = ret;
    e->sec = ret == 0 ? ts->tv_sec : 0;
    e->nsec = ret == 0 ? ts->tv_nsec : 0;
    __atomic_store_n(&ring->written, n + 1, __ATOMIC_RELEASE);
    if ((n + 1) % FLUSH_EVERY == 0)
        trampoline(SYS_getpid, 0, 0);
    if (ret < 0) {
        errno = (int)-ret;
        return -1;
    }
    return 0;
}
