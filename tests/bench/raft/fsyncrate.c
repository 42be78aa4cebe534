/* The disk's raw commit rate: append VALUE_BYTES and fdatasync, in a loop, for SECONDS.
 * This is the ceiling for a log that syncs once per write (no batching).
 *   fsyncrate FILE SECONDS [VALUE_BYTES]   prints "fdatasync_per_s=.. p50_us=.. p99_us=.." */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1u << 20)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: fsyncrate FILE SECONDS [VALUE_BYTES]\n");
        return 2;
    }
    double secs = strtod(argv[2], NULL);
    size_t vlen = argc == 4 ? strtoul(argv[3], NULL, 10) : 256;
    if (secs <= 0 || vlen == 0 || vlen > 65536) {
        fprintf(stderr, "fsyncrate: SECONDS > 0 and VALUE_BYTES 1..65536\n");
        return 2;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    char *buf = malloc(vlen);
    uint32_t *lat = malloc(MAX_SAMPLES * sizeof *lat);
    if (!buf || !lat)
        return 1;
    memset(buf, 'x', vlen);
    size_t n = 0;
    double t0 = now_s(), end = t0 + secs, t = t0;
    while (t < end && n < MAX_SAMPLES) {
        if (write(fd, buf, vlen) != (ssize_t)vlen || fdatasync(fd) != 0) {
            perror("fsyncrate: write/fdatasync");
            return 1;
        }
        double t1 = now_s();
        lat[n++] = (uint32_t)((t1 - t) * 1e6);
        t = t1;
    }
    close(fd);
    unlink(argv[1]);
    qsort(lat, n, sizeof *lat, cmp);
    printf("fdatasync_per_s=%.1f p50_us=%u p99_us=%u n=%zu\n", n / (t - t0), lat[n / 2],
           lat[(size_t)((n - 1) * 0.99)], n);
    return 0;
}
