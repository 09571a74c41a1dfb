/* Opens the files named on the command line and reports each result (injection target). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int failures = 0;
    for (int i = 1; i < argc; i++) {
        int fd = open(argv[i], O_RDONLY);
        if (fd < 0) {
            printf("open %s: %s\n", argv[i], strerror(errno));
            failures++;
            continue;
        }
        char buf[64];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        if (n < 0) {
            printf("read %s: %s\n", argv[i], strerror(errno));
            failures++;
        } else {
            buf[n] = 0;
            buf[strcspn(buf, "\n")] = 0;
            printf("%s: %zd bytes: %s\n", argv[i], n, buf);
        }
        close(fd);
    }
    return failures;
}
