/* Query sender for the instruction counts (work.sh): sends the first N queries of a dnsperf query
 * file ("name type" lines) one at a time, each only after the previous one's answer (or a 2 s
 * timeout), at most RATE a second. One query in flight means every wakeup of the server finds
 * exactly one datagram, whatever the server's speed under valgrind, so no server's count is
 * lowered by batching. (dnsperf -q 1 does the same in principle, but paced knot at 24 queries/s
 * while its answers took 0.4 ms.)
 *
 *   onebyone IP PORT FILE N RATE     prints "sent N answered A qps Q"; exit 0 when A == N */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int qtype_of(const char *t)
{
    static const struct {
        const char *name;
        int type;
    } types[] = {{"A", 1}, {"NS", 2}, {"SOA", 6}, {"PTR", 12}, {"AAAA", 28}, {"SRV", 33}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(t, types[i].name) == 0)
            return types[i].type;
    return -1;
}

/* A query with RD set and no EDNS, as dnsperf sends by default; returns its length, or -1. */
static int build_query(uint8_t *q, size_t cap, uint16_t id, const char *name, int type)
{
    size_t n = 12;
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8), q[1] = (uint8_t)id;
    q[2] = 0x01; /* RD */
    q[5] = 1;    /* QDCOUNT */
    for (const char *p = name; *p;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || len > 63 || n + len + 1 + 5 > cap)
            return -1;
        q[n++] = (uint8_t)len;
        memcpy(q + n, p, len);
        n += len;
        p += len + (dot ? 1 : 0);
    }
    q[n++] = 0;
    q[n++] = (uint8_t)(type >> 8), q[n++] = (uint8_t)type;
    q[n++] = 0, q[n++] = 1; /* IN */
    return (int)n;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: onebyone IP PORT FILE N RATE\n");
        return 2;
    }
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    long want = atol(argv[4]);
    double rate = atof(argv[5]);
    FILE *f = fopen(argv[3], "r");
    if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || want <= 0 || rate <= 0 || !f) {
        fprintf(stderr, "onebyone: bad address, count, rate or file\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof to) != 0) {
        perror("onebyone: socket");
        return 1;
    }
    char line[512], name[300], type[16];
    uint8_t q[512], r[4096];
    long sent = 0, answered = 0;
    uint16_t id = (uint16_t)getpid();
    double t0 = now_s();
    while (sent < want) {
        if (!fgets(line, sizeof line, f)) {
            if (sent == 0)
                break;
            rewind(f); /* loop over the file, as dnsperf does */
            continue;
        }
        int type_code;
        if (sscanf(line, "%299s %15s", name, type) != 2 || (type_code = qtype_of(type)) < 0)
            continue;
        int len = build_query(q, sizeof q, ++id, name, type_code);
        if (len < 0)
            continue;
        double due = t0 + (double)sent / rate; /* pacing: at most RATE a second */
        double wait = due - now_s();
        if (wait > 0)
            usleep((useconds_t)(wait * 1e6));
        if (send(fd, q, (size_t)len, 0) != len) {
            perror("onebyone: send");
            return 1;
        }
        sent++;
        double deadline = now_s() + 2.0;
        for (;;) { /* wait for this query's answer; late answers to earlier ones are skipped */
            int ms = (int)((deadline - now_s()) * 1000);
            struct pollfd pfd = {.fd = fd, .events = POLLIN};
            if (ms <= 0 || poll(&pfd, 1, ms) <= 0)
                break;
            ssize_t k = recv(fd, r, sizeof r, 0);
            if (k >= 12 && r[0] == (uint8_t)(id >> 8) && r[1] == (uint8_t)id && (r[2] & 0x80)) {
                answered++;
                break;
            }
            if (k < 0 && errno != EINTR && errno != EAGAIN)
                break;
        }
    }
    double took = now_s() - t0;
    printf("sent %ld answered %ld qps %.0f\n", sent, answered, took > 0 ? (double)answered / took : 0);
    return sent == want && answered == want ? 0 : 1;
}
