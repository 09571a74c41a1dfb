/* Nondeterministic on purpose: wall time, monotonic time, urandom, getrandom, pid, addresses. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

int main(void) {
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    unsigned char u[8], g[8];
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, u, sizeof u) != sizeof u) return 2;
    close(fd);
    if (getrandom(g, sizeof g, 0) != sizeof g) return 3;
    void *heap = malloc(64);
    printf("time %ld.%09ld mono %ld.%09ld pid %d\n", (long)rt.tv_sec, rt.tv_nsec,
           (long)mono.tv_sec, mono.tv_nsec, getpid());
    printf("urandom %02x%02x%02x%02x getrandom %02x%02x%02x%02x\n", u[0], u[1], u[2], u[3],
           g[0], g[1], g[2], g[3]);
    printf("heap %p stack %p time() %ld\n", heap, (void *)&rt, (long)time(NULL));
    fprintf(stderr, "stderr pid %d\n", getpid());
    return 10 + (int)(g[0] & 3);  /* the exit status is random too */
}
