/* Open-loop DNS latency client for the DNS benchmark: what the server takes to answer, with the
 * client's own scheduling taken out.
 *
 * dnsperf -v stamps an answer when its receive thread gets to it, and that thread shares one CPU
 * with the sending thread: every pause of it lands in the latencies (the null echo server shows a
 * p99 of 2-4 ms that way, the same as real servers'). Here one thread sends each query on a fixed
 * schedule (RATE per second), stamps it just before send(), and reads the answer's arrival time
 * from the kernel (SO_TIMESTAMPNS: taken when the server's reply is handed to loopback, inside the
 * server's send call), so a late read costs nothing. The thread busy-polls: it is meant to have a
 * CPU of its own. A send that falls more than 100 µs behind its schedule is counted as late (the
 * client was held up); the queries still go out, at once, and their latency counts from the
 * moment they went out.
 *
 *   latency IP PORT QUERYFILE RATE SECONDS [WARMUP_S [SOCKETS [RAW_FILE]]]
 *
 * QUERYFILE: dnsperf's format ("name TYPE" per line, A AAAA SRV PTR TXT NS SOA MX), used in order
 * and from the top again. Queries sent in the first WARMUP_S seconds (default 0.5) are sent but
 * not counted; an answer not back within 2 s is lost. RAW_FILE: every counted latency (µs, one a
 * line) is appended to it, so that short runs can be pooled. Prints one line:
 *   sent N counted N answered N lost N late_sends N p50_us X p90_us X p99_us X p999_us X max_us X */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { QMAX = 300, SOCKS_MAX = 16, RBATCH = 64, RBUF = 1500, LOST_AFTER_NS = 2000000000, LATE_NS = 100000 };

struct query {
    uint8_t wire[QMAX];
    unsigned len;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the clock SO_TIMESTAMPNS stamps with */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int qtype_of(const char *t)
{
    static const struct { const char *name; int code; } types[] = {
        {"A", 1}, {"NS", 2}, {"SOA", 6}, {"PTR", 12}, {"MX", 15}, {"TXT", 16}, {"AAAA", 28}, {"SRV", 33}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcasecmp(t, types[i].name) == 0)
            return types[i].code;
    return -1;
}

/* "name TYPE" -> a query with id 0 and RD set (dnsperf's default); 0 on a line it cannot use. */
static int build_query(const char *line, struct query *q)
{
    char name[256], type[16];
    if (sscanf(line, "%255s %15s", name, type) != 2)
        return 0;
    int code = qtype_of(type);
    if (code < 0)
        return 0;
    uint8_t *p = q->wire;
    memset(p, 0, 12);
    p[2] = 0x01; /* RD */
    p[5] = 1;    /* QDCOUNT */
    unsigned off = 12;
    for (char *label = name; *label;) {
        char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        if (n == 0 || n > 63 || off + 1 + n + 5 > QMAX)
            return 0;
        p[off++] = (uint8_t)n;
        memcpy(p + off, label, n);
        off += (unsigned)n;
        label += n + (dot ? 1 : 0);
    }
    p[off++] = 0;
    p[off++] = (uint8_t)(code >> 8);
    p[off++] = (uint8_t)code;
    p[off++] = 0;
    p[off++] = 1; /* IN */
    q->len = off;
    return 1;
}

static struct query *load_queries(const char *path, size_t *n_out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1024, n = 0;
    struct query *qs = malloc(cap * sizeof *qs);
    char line[512];
    while (qs && fgets(line, sizeof line, f)) {
        if (n == cap) {
            struct query *bigger = realloc(qs, 2 * cap * sizeof *qs);
            if (!bigger) {
                free(qs);
                qs = NULL;
                break;
            }
            qs = bigger;
            cap *= 2;
        }
        n += (size_t)build_query(line, &qs[n]);
    }
    fclose(f);
    *n_out = n;
    return qs;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Per socket: the send time of each outstanding id (0 = none), and whether it is counted. */
struct sock {
    int fd;
    uint16_t next_id;
    int64_t sent_ns[65536];
    uint8_t counted[65536];
};

struct run {
    struct sock *socks;
    unsigned nsocks;
    uint32_t *lat_100ns; /* counted answers' latencies, 100 ns units */
    size_t nlat, cap_lat;
    uint64_t answered, lost, outstanding;
};

static void take_answer(struct run *r, struct sock *s, const uint8_t *msg, unsigned len, int64_t rx_ns)
{
    if (len < 12 || !(msg[2] & 0x80))
        return;
    uint16_t id = (uint16_t)(msg[0] << 8 | msg[1]);
    int64_t sent = s->sent_ns[id];
    if (sent == 0)
        return; /* late (already counted lost) or not ours */
    s->sent_ns[id] = 0;
    r->outstanding--;
    r->answered++;
    if (!s->counted[id])
        return;
    int64_t d = rx_ns - sent;
    if (d < 0)
        d = 0;
    if (r->nlat < r->cap_lat)
        r->lat_100ns[r->nlat++] = d / 100 > UINT32_MAX ? UINT32_MAX : (uint32_t)(d / 100);
}

static void drain(struct run *r, struct sock *s)
{
    static uint8_t bufs[RBATCH][RBUF];
    static char ctl[RBATCH][CMSG_SPACE(sizeof(struct timespec))];
    struct mmsghdr m[RBATCH];
    struct iovec iov[RBATCH];
    for (;;) {
        for (unsigned i = 0; i < RBATCH; i++) {
            iov[i] = (struct iovec){bufs[i], RBUF};
            m[i].msg_hdr = (struct msghdr){.msg_iov = &iov[i], .msg_iovlen = 1,
                                           .msg_control = ctl[i], .msg_controllen = sizeof ctl[i]};
        }
        int n = recvmmsg(s->fd, m, RBATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int64_t fallback = now_ns();
        for (int i = 0; i < n; i++) {
            int64_t rx = fallback;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&m[i].msg_hdr); c; c = CMSG_NXTHDR(&m[i].msg_hdr, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(c), sizeof ts);
                    rx = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
                }
            take_answer(r, s, bufs[i], m[i].msg_len, rx);
        }
        if (n < RBATCH)
            return;
    }
}

/* Outstanding queries older than 2 s are lost; ids are reused only after that. */
static void expire(struct run *r, int64_t now)
{
    for (unsigned k = 0; k < r->nsocks; k++)
        for (unsigned id = 0; id < 65536; id++) {
            int64_t t = r->socks[k].sent_ns[id];
            if (t && now - t > LOST_AFTER_NS) {
                r->socks[k].sent_ns[id] = 0;
                r->outstanding--;
                r->lost += r->socks[k].counted[id];
            }
        }
}

static int open_socket(const struct sockaddr_in *server)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, buf = 8 << 20;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof buf) != 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof buf);
    if (connect(fd, (const struct sockaddr *)server, sizeof *server) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static double pct_us(const uint32_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(p * (double)n);
    if (i >= n)
        i = n - 1;
    return v[i] / 10.0;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 9) {
        fprintf(stderr, "usage: latency IP PORT QUERYFILE RATE SECONDS [WARMUP_S [SOCKETS [RAW_FILE]]]\n");
        return 2;
    }
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    double rate = atof(argv[4]), secs = atof(argv[5]);
    double warmup = argc > 6 ? atof(argv[6]) : 0.5;
    unsigned nsocks = argc > 7 ? (unsigned)atoi(argv[7]) : 4;
    if (inet_pton(AF_INET, argv[1], &server.sin_addr) != 1 || rate <= 0 || rate > 1e7 || secs <= 0 ||
        warmup < 0 || warmup >= secs || nsocks < 1 || nsocks > SOCKS_MAX) {
        fprintf(stderr, "latency: bad arguments\n");
        return 2;
    }
    size_t nq;
    struct query *qs = load_queries(argv[3], &nq);
    if (!qs || nq == 0) {
        fprintf(stderr, "latency: no usable queries in %s\n", argv[3]);
        return 1;
    }
    struct run r = {.nsocks = nsocks, .cap_lat = (size_t)(rate * secs) + 16};
    r.socks = calloc(nsocks, sizeof *r.socks);
    r.lat_100ns = malloc(r.cap_lat * sizeof *r.lat_100ns);
    if (!r.socks || !r.lat_100ns) {
        fprintf(stderr, "latency: out of memory\n");
        return 1;
    }
    for (unsigned k = 0; k < nsocks; k++)
        if ((r.socks[k].fd = open_socket(&server)) < 0) {
            perror("latency: socket");
            return 1;
        }
    uint64_t total = (uint64_t)(rate * secs), sent = 0, late = 0, counted = 0;
    uint64_t first_counted = (uint64_t)(rate * warmup);
    int64_t start = now_ns() + 1000000, last_expire = start;
    double interval_ns = 1e9 / rate;
    for (;;) {
        int64_t now = now_ns();
        /* Every query due by now goes out, each stamped just before its own send. */
        for (unsigned burst = 0; sent < total && burst < 64; burst++) {
            int64_t due = start + (int64_t)((double)sent * interval_ns);
            if (due > now)
                break;
            struct sock *s = &r.socks[sent % nsocks];
            struct query *q = &qs[sent % nq];
            uint16_t id = s->next_id++;
            if (s->sent_ns[id]) { /* still outstanding after 65,536 sends on this socket: lost */
                s->sent_ns[id] = 0; /* so a failed send below cannot count it twice */
                r.outstanding--;
                r.lost += s->counted[id];
            }
            q->wire[0] = (uint8_t)(id >> 8);
            q->wire[1] = (uint8_t)id;
            int64_t t = now_ns();
            if (t - due > LATE_NS)
                late++;
            if (send(s->fd, q->wire, q->len, 0) != (ssize_t)q->len) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    break; /* try this one again on the next turn */
                perror("latency: send");
                return 1;
            }
            s->sent_ns[id] = t;
            s->counted[id] = sent >= first_counted;
            counted += s->counted[id];
            r.outstanding++;
            sent++;
            now = t;
        }
        for (unsigned k = 0; k < nsocks; k++)
            drain(&r, &r.socks[k]);
        if (now - last_expire > 500000000) {
            expire(&r, now);
            last_expire = now;
        }
        if (sent == total && r.outstanding == 0)
            break;
    }
    if (argc > 8) {
        FILE *raw = fopen(argv[8], "a");
        if (!raw) {
            perror("latency: raw file");
            return 1;
        }
        for (size_t i = 0; i < r.nlat; i++)
            fprintf(raw, "%.1f\n", r.lat_100ns[i] / 10.0);
        if (fclose(raw) != 0) {
            perror("latency: raw file");
            return 1;
        }
    }
    qsort(r.lat_100ns, r.nlat, sizeof *r.lat_100ns, cmp_u32);
    printf("sent %llu counted %llu answered %llu lost %llu late_sends %llu p50_us %.1f p90_us %.1f "
           "p99_us %.1f p999_us %.1f max_us %.1f\n",
           (unsigned long long)sent, (unsigned long long)counted, (unsigned long long)r.answered,
           (unsigned long long)r.lost, (unsigned long long)late, pct_us(r.lat_100ns, r.nlat, 0.50),
           pct_us(r.lat_100ns, r.nlat, 0.90), pct_us(r.lat_100ns, r.nlat, 0.99),
           pct_us(r.lat_100ns, r.nlat, 0.999), r.nlat ? r.lat_100ns[r.nlat - 1] / 10.0 : 0.0);
    for (unsigned k = 0; k < nsocks; k++)
        close(r.socks[k].fd);
    free(r.socks);
    free(r.lat_100ns);
    free(qs);
    return 0;
}
